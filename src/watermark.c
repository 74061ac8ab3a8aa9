/* Advances each configured Shift Type's last_sync_of_checkin (HRMS marks attendance, and
 * Absent, only up to it) to the latest time T for which every terminal has delivered:
 * T = the oldest last_activity among the terminals, no later than the start of the
 * caught-up read that delivered their punches. Never moved back; shift types that HRMS
 * updates itself (auto_update_last_sync) are left alone, and named once at notice level. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bts/sync_internal.h"
#include "bts/timeconv.h"

#define WATERMARK_EVERY_S 300 /* terminals change slowly; keep idle polls cheap */

/* The Shift Types last named as left to HRMS: process-wide, so the notice comes once per
 * run and again only when the list changes (a reload builds a new bts_sync). */
static char watermark_told[1024];


/* The oldest last_activity of the selected terminals (BioTime's zone) and who has it. */
static int oldest_activity(bts_sync *s, char out[BTS_TIME_LEN], char *who, size_t n)
{
    cJSON *rows = NULL;
    const cJSON *row;
    int r = bts_biotime_terminals(s->bt, &rows);
    if (r < 0)
        return r;
    out[0] = '\0';
    cJSON_ArrayForEach(row, rows) {
        char sn[64], seen[BTS_TIME_LEN];
        struct tm tm;
        bts_json_text(row, "sn", sn, sizeof(sn));
        if (!*sn || !bts_config_terminal_selected(s->cfg, sn))
            continue;
        if (bts_json_text(row, "last_activity", seen, sizeof(seen)) <= 0 ||
            bts_time_parse(seen, false, &tm) < 0)
            bts_strlcpy(seen, "0000-00-00 00:00:00", sizeof(seen));
        if (!*out || strcmp(seen, out) < 0) {
            bts_strlcpy(out, seen, BTS_TIME_LEN);
            bts_strlcpy(who, sn, n);
        }
    }
    cJSON_Delete(rows);
    return *out ? 0 : BTS_EINVAL;
}

/* 1 when the shift's watermark moved, 0 when it stays, negative on failure; *ret_auto
 * says HRMS moves it itself. */
static int advance_shift(bts_sync *s, const char *shift, const char *t, bool *ret_auto)
{
    cJSON *doc = NULL, *fields = NULL;
    bts_frappe_error err;
    bts_http_fields f;
    const char *dt = "Shift Type";
    int r = bts_erpnext_get(s->erp, dt, shift, &doc, &err);
    if (r < 0) {
        bts_log_fields(LOG_WARNING, bts_erpnext_fields(r, &err, &f), "Shift Type %s: %s", shift,
                       err.message);
        return r;
    }
    const cJSON *auto_upd = cJSON_GetObjectItemCaseSensitive(doc, "auto_update_last_sync");
    const cJSON *last = cJSON_GetObjectItemCaseSensitive(doc, "last_sync_of_checkin");
    if (cJSON_IsNumber(auto_upd) && auto_upd->valuedouble != 0) {
        *ret_auto = true;
    } else if (!cJSON_IsString(last) || strncmp(last->valuestring, t, 19) < 0) {
        fields = cJSON_CreateObject();
        if (fields && cJSON_AddStringToObject(fields, "last_sync_of_checkin", t) &&
            (r = bts_erpnext_update(s->erp, dt, shift, fields, NULL, &err)) == 0) {
            bts_info("Shift Type %s: last_sync_of_checkin advanced to %s", shift, t);
            r = 1;
        } else if (r < 0)
            bts_log_fields(LOG_WARNING, bts_erpnext_fields(r, &err, &f), "Shift Type %s: could "
                           "not advance last_sync_of_checkin: %s", shift, err.message);
    }
    cJSON_Delete(doc);
    cJSON_Delete(fields);
    return r;
}

/* Tells the operator, at notice level, which of the n listed Shift Types never move
 * because HRMS updates them itself; list is "" when none does. */
static void tell_auto_updated(const char *list, size_t n)
{
    bool one = n == 1;
    if (strcmp(list, watermark_told) == 0)
        return;
    bts_strlcpy(watermark_told, list, sizeof(watermark_told));
    if (*list)
        bts_notice("Shift Type%s %s ha%s auto_update_last_sync on: HRMS moves %s "
                   "last_sync_of_checkin itself, so biotime-syncd leaves %s alone and "
                   "attendance may be marked before late terminals deliver; turn "
                   "auto_update_last_sync off, or remove %s from erpnext.shift_types",
                   one ? "" : "s", list, one ? "s" : "ve", one ? "its" : "their",
                   one ? "it" : "them", one ? "it" : "them");
}

/* Advances every listed Shift Type to site; names the ones HRMS updates itself. */
static void advance_all(bts_sync *s, bts_cycle *c, const char *site)
{
    const bts_erpnext_config *e = &s->cfg->erpnext;
    char autos[sizeof(watermark_told)] = "";
    bool complete = true;
    size_t n = 0;
    for (size_t i = 0; i < e->n_shift_types; i++) {
        bool is_auto = false;
        int r = advance_shift(s, e->shift_types[i], site, &is_auto);
        if (r > 0)
            bts_strlcpy(c->watermark, site, sizeof(c->watermark));
        complete = complete && r >= 0;
        if (is_auto && strlen(autos) + strlen(e->shift_types[i]) + 3 < sizeof(autos)) {
            if (*autos)
                strcat(autos, ", ");
            strcat(autos, e->shift_types[i]);
            n++;
        }
    }
    if (complete) /* a partial list would only repeat the notice */
        tell_auto_updated(autos, n);
}

int bts_sync_watermark(bts_sync *s, bts_cycle *c)
{
    const bts_erpnext_config *e = &s->cfg->erpnext;
    char oldest[BTS_TIME_LEN], read_at[BTS_TIME_LEN], site[BTS_TIME_LEN];
    if (e->n_shift_types == 0 || !c->caught_up || c->error ||
        (s->watermark_at && time(NULL) - s->watermark_at < WATERMARK_EVERY_S))
        return 0;
    s->watermark_at = time(NULL);
    if (bts_time_from_epoch(s->cycle_started, s->cfg->biotime.timezone, read_at) < 0 ||
        oldest_activity(s, oldest, c->watermark_holder, sizeof(c->watermark_holder)) < 0)
        return 0; /* next time; the watermark only ever waits */
    const char *t = strcmp(oldest, read_at) < 0 ? oldest : read_at;
    if (bts_time_convert(t, s->cfg->biotime.timezone, e->timezone, site) < 0)
        return 0;
    if (t == read_at)
        c->watermark_holder[0] = '\0'; /* every terminal is ahead of our read */
    else if (*c->watermark_holder)
        bts_debug("attendance watermark held at %s by terminal %s", t, c->watermark_holder);
    advance_all(s, c, site);
    return 0;
}

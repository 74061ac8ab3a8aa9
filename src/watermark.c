/* Advances each configured Shift Type's last_sync_of_checkin (HRMS marks attendance, and
 * Absent, only up to it) to the latest time T for which every terminal has delivered:
 * T = the oldest last_activity among the terminals, no later than the start of the
 * caught-up read that delivered their punches. Never moved back; shift types that HRMS
 * updates itself (auto_update_last_sync) are left alone. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bts/sync_internal.h"
#include "bts/timeconv.h"

#define WATERMARK_EVERY_S 300 /* terminals change slowly; keep idle polls cheap */


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

/* 1 when the shift's watermark moved, 0 when it stays, negative on failure. */
static int advance_shift(bts_sync *s, const char *shift, const char *t)
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
        bts_debug("Shift Type %s has auto_update_last_sync on: HRMS moves it, we do not", shift);
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
    for (size_t i = 0; i < e->n_shift_types; i++)
        if (advance_shift(s, e->shift_types[i], site) > 0)
            bts_strlcpy(c->watermark, site, sizeof(c->watermark));
    return 0;
}

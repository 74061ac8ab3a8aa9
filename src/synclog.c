/* One Sync Logs entry per cycle that read records or met an error. The same error cycle
 * after cycle is written once, then summarised when it changes or clears (or hourly). */
#include <stdio.h>
#include <string.h>

#include "bts/sync_internal.h"

#define REPEAT_SUMMARY_MS (60 * 60 * 1000)

static cJSON *response_of(const bts_sync *s, const bts_cycle *c, unsigned repeats)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "read", (double)c->read);
    cJSON_AddNumberToObject(o, "checkins", (double)c->checkins);
    cJSON_AddNumberToObject(o, "device_logs", (double)c->device_logs);
    cJSON_AddNumberToObject(o, "duplicates", (double)c->duplicates);
    cJSON_AddNumberToObject(o, "parked", (double)c->parked);
    cJSON_AddNumberToObject(o, "unparked", (double)c->unparked);
    cJSON_AddNumberToObject(o, "skipped", (double)c->skipped);
    cJSON_AddNumberToObject(o, "rejected", (double)c->rejected);
    cJSON_AddNumberToObject(o, "parked_waiting", (double)s->st.parked_waiting);
    cJSON *codes = cJSON_AddArrayToObject(o, "unknown_emp_codes");
    for (size_t i = 0; codes && i < s->st.n_unknown_codes; i++)
        cJSON_AddItemToArray(codes, cJSON_CreateString(s->st.unknown_codes[i]));
    cJSON_AddNumberToObject(o, "cursor", (double)s->st.last_id);
    if (*c->watermark)
        cJSON_AddStringToObject(o, "last_sync_of_checkin", c->watermark);
    if (*c->watermark_holder)
        cJSON_AddStringToObject(o, "watermark_held_by_terminal", c->watermark_holder);
    if (c->pushed) {
        cJSON *p = cJSON_AddObjectToObject(o, "employees_push");
        cJSON_AddNumberToObject(p, "created", (double)c->push_created);
        cJSON_AddNumberToObject(p, "renamed", (double)c->push_renamed);
        cJSON_AddNumberToObject(p, "resigned", (double)c->push_resigned);
        cJSON_AddNumberToObject(p, "refused", (double)c->push_refused);
    }
    if (c->error)
        cJSON_AddStringToObject(o, "error", c->error_text);
    if (repeats)
        cJSON_AddNumberToObject(o, "error_repeated", repeats);
    return o;
}

static void post(bts_sync *s, const bts_cycle *c, unsigned repeats)
{
    char title[200];
    bts_frappe_error err;
    if (c->error)
        snprintf(title, sizeof(title), "BioTime sync error: %.150s", c->error_text);
    else
        snprintf(title, sizeof(title), "BioTime sync: %llu read, %llu checkins, %llu parked",
                 (unsigned long long)c->read, (unsigned long long)c->checkins,
                 (unsigned long long)c->parked);
    cJSON *resp = response_of(s, c, repeats), *doc = cJSON_CreateObject();
    char *text = resp ? cJSON_PrintUnformatted(resp) : NULL;
    if (doc && text) {
        cJSON_AddStringToObject(doc, "doctype", s->cfg->erpnext.sync_log_doctype);
        cJSON_AddStringToObject(doc, "title", title);
        cJSON_AddStringToObject(doc, "response", text);
        bts_http_fields f;
        int r = bts_erpnext_insert(s->erp, doc, NULL, &err);
        if (r < 0)
            bts_log_fields(LOG_DEBUG, bts_erpnext_fields(r, &err, &f),
                           "could not write the Sync Logs entry: %s", err.message);
    }
    cJSON_free(text);
    cJSON_Delete(resp);
    cJSON_Delete(doc);
}

/* True when this error is the one already written and not yet due for a summary. */
static bool repeated(bts_sync *s, const bts_cycle *c)
{
    int64_t now = bts_now_ms();
    if (strcmp(s->synclog_error, c->error_text) == 0 &&
        now - s->synclog_error_ms < REPEAT_SUMMARY_MS) {
        s->synclog_repeats++;
        return true;
    }
    return false;
}

void bts_sync_log_entry(bts_sync *s, const bts_cycle *c)
{
    if (c->error == BTS_ESTOP)
        return;
    if (c->error) {
        if (repeated(s, c))
            return;
        post(s, c, s->synclog_repeats);
        bts_strlcpy(s->synclog_error, c->error_text, sizeof(s->synclog_error));
        s->synclog_error_ms = bts_now_ms();
        s->synclog_repeats = 0;
        return;
    }
    if (c->read == 0 && c->unparked == 0 && !*c->watermark && s->synclog_repeats == 0 &&
        !*s->synclog_error && !(c->push_created + c->push_renamed + c->push_resigned +
                                c->push_refused))
        return;
    post(s, c, s->synclog_repeats);
    s->synclog_error[0] = '\0';
    s->synclog_repeats = 0;
}

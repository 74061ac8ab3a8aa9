/* What is written to ERPNext for mapped transactions (DESIGN.md §2): checkin first, then
 * the Device Log that names it, so a crash between the two is repaired by the duplicate
 * rule. flow.c decides when each batch travels; this file builds them and reads answers. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bts/log.h"
#include "bts/timeconv.h"
#include "bts/writer.h"

#define MAX_REUSE_ROUNDS 8 /* "<id>-r1", "-r2"...: more means something else is wrong */
#define PARK_REASON_MAX 300

void bts_item_clear(bts_item *it)
{
    if (!it)
        return;
    bts_txn_clear(&it->txn);
    cJSON_Delete(it->checkin);
    free(it->park_reason);
    memset(it, 0, sizeof(*it));
}

void bts_item_park(bts_item *it, const char *fmt, ...)
{
    char reason[PARK_REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    free(it->park_reason);
    it->park_reason = strdup(reason); /* only the explanation is lost without memory */
}

/* "<id>" or "<biotime.name>-<id>", and "-r<n>" when BioTime reused the id. */
static void device_log_name(const bts_writer *w, const bts_item *it, char *out, size_t n)
{
    char base[140];
    bts_map_device_log_id(w->cfg->biotime.name, it->txn.id, base, sizeof(base));
    if (it->reuse == 0)
        bts_strlcpy(out, base, n);
    else
        snprintf(out, n, "%s-r%u", base, (unsigned)it->reuse);
}

static const char *str_of(const cJSON *doc, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* One journal entry about one punch, with fields to search by (journalctl EMP_CODE=1001);
 * refused: the answer that refused it (its HTTP_STATUS), or NULL. */
static void log_item(int prio, const bts_item *it, const char *what, const char *why,
                     const bts_frappe_error *refused)
{
    char id[48], code[96], status[40] = "";
    snprintf(id, sizeof(id), "BIOTIME_TXN_ID=%lld", (long long)it->txn.id);
    snprintf(code, sizeof(code), "EMP_CODE=%s", it->txn.emp_code);
    if (refused)
        snprintf(status, sizeof(status), "HTTP_STATUS=%ld", refused->status);
    const char *fields[] = {"SERVER=erpnext", id, code, refused ? status : NULL, NULL};
    bts_log_fields(prio, fields, "BioTime transaction %lld (emp_code %s, %s) %s: %s",
                   (long long)it->txn.id, it->txn.emp_code, it->txn.punch_time, what, why);
}

/* Records why writing stopped; returns rc (a refusal of a lookup or an update is not a
 * record's fault, so it is reported as an answer we cannot use). */
static int stop_error(bts_writer *w, const char *what, int rc, const bts_frappe_error *err)
{
    char line[600];
    bts_frappe_error_format(err, line, sizeof(line));
    snprintf(w->error, sizeof(w->error), "writing %s to ERPNext: %.400s", what, line);
    bts_erpnext_failure(rc, err, &w->failure);
    return rc == BTS_EPERM ? BTS_EPROTO : rc;
}

/* A field of the raw BioTime row as text ("" when missing). */
static void raw_text(const bts_item *it, const char *key, char *out, size_t n)
{
    cJSON *raw = it->txn.raw ? cJSON_Parse(it->txn.raw) : NULL;
    out[0] = '\0';
    bts_json_text(raw, key, out, n);
    cJSON_Delete(raw);
}

/* --- lookups ------------------------------------------------------------------- */

static const char *const lookup_fields[] = {"emp_code", "punch_time", NULL};

/* get_list arguments for the documents named in names: fields and filters. */
static int names_query(const char *const *field_names, const cJSON *names, cJSON **ret_fields,
                       cJSON **ret_filters)
{
    cJSON *fields = cJSON_CreateArray(), *filters = cJSON_CreateArray();
    cJSON *cond = cJSON_CreateArray();
    bool ok = fields && filters && cond && cJSON_AddItemToArray(filters, cond);
    if (!ok)
        cJSON_Delete(cond); /* not yet owned by filters */
    ok = ok && cJSON_AddItemToArray(fields, cJSON_CreateString("name"));
    for (size_t i = 0; ok && field_names[i]; i++)
        ok = cJSON_AddItemToArray(fields, cJSON_CreateString(field_names[i]));
    ok = ok && cJSON_AddItemToArray(cond, cJSON_CreateString("name")) &&
         cJSON_AddItemToArray(cond, cJSON_CreateString("in")) &&
         cJSON_AddItemToArray(cond, cJSON_Duplicate(names, 1));
    if (!ok) {
        cJSON_Delete(fields);
        cJSON_Delete(filters);
        return BTS_ENOMEM;
    }
    *ret_fields = fields;
    *ret_filters = filters;
    return 0;
}

static int list_names(bts_writer *w, const cJSON *names, cJSON **ret_rows, bts_frappe_error *err)
{
    cJSON *fields, *filters;
    int r = names_query(lookup_fields, names, &fields, &filters);
    if (r < 0)
        return r;
    r = bts_erpnext_get_list(w->erp, w->cfg->erpnext.device_log_doctype, fields, filters, 0,
                             ret_rows, err);
    cJSON_Delete(fields);
    cJSON_Delete(filters);
    return r;
}

static const cJSON *find_row(const cJSON *rows, const char *name)
{
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) {
        if (strcmp(str_of(row, "name"), name) == 0)
            return row;
    }
    return NULL;
}

/* Does this existing Device Log hold this punch? After a BioTime database restore ids are
 * reused, and a Device Log of the same name can hold a different punch. */
static bool same_punch(const cJSON *row, const bts_item *it)
{
    char t[64], code[64];
    raw_text(it, "punch_time", t, sizeof(t));
    raw_text(it, "emp_code", code, sizeof(code));
    return strcmp(str_of(row, "punch_time"), t) == 0 && strcmp(str_of(row, "emp_code"), code) == 0;
}

static cJSON *names_of(const bts_writer *w, bts_item *const *items, size_t n)
{
    cJSON *names = cJSON_CreateArray();
    for (size_t i = 0; names && i < n; i++) {
        char name[160];
        device_log_name(w, items[i], name, sizeof(name));
        if (!cJSON_AddItemToArray(names, cJSON_CreateString(name))) {
            cJSON_Delete(names);
            return NULL;
        }
    }
    return names;
}

/* Marks the items ERPNext has; those whose name holds another punch get the next "-r<n>"
 * name and are moved to the front of pending. Returns how many were renamed. */
static size_t settle_lookup(bts_writer *w, bts_item **pending, size_t n, unsigned round,
                            const cJSON *rows, bts_write_counts *c)
{
    size_t again = 0;
    for (size_t i = 0; i < n; i++) {
        char name[160];
        device_log_name(w, pending[i], name, sizeof(name));
        const cJSON *row = find_row(rows, name);
        if (row && same_punch(row, pending[i])) {
            pending[i]->done_before = true;
            c->device_log_duplicates++;
        } else if (row) {
            bts_warn("Device Log %s already holds another punch (BioTime ids were reused): "
                     "writing BioTime transaction %lld as %s-r%u", name,
                     (long long)pending[i]->txn.id, name, round + 1);
            pending[i]->reuse = (uint8_t)(round + 1);
            pending[again++] = pending[i];
        }
    }
    return again;
}

/* Further lookup rounds for renamed items (rare: only after a BioTime restore). */
static int lookup_reused(bts_writer *w, bts_item **pending, size_t n, bts_write_counts *c)
{
    for (unsigned round = 1; n > 0; round++) {
        cJSON *names = names_of(w, pending, n), *rows = NULL;
        bts_frappe_error err = {0};
        if (round >= MAX_REUSE_ROUNDS) {
            cJSON_Delete(names);
            snprintf(w->error, sizeof(w->error), "too many Device Logs reuse BioTime id %lld",
                     (long long)pending[0]->txn.id);
            return BTS_EPROTO;
        }
        int r = names ? list_names(w, names, &rows, &err) : BTS_ENOMEM;
        cJSON_Delete(names);
        if (r < 0)
            return stop_error(w, "a Device Log lookup", r, &err);
        n = settle_lookup(w, pending, n, round, rows, c);
        cJSON_Delete(rows);
    }
    return 0;
}

int bts_writer_lookup_start(bts_writer *w, bts_item *items, size_t n, bts_erpnext_done_fn fn,
                            void *ud)
{
    bts_item **all = calloc(n ? n : 1, sizeof(*all));
    cJSON *names = NULL, *fields = NULL, *filters = NULL;
    for (size_t i = 0; all && i < n; i++)
        all[i] = &items[i];
    int r = all && (names = names_of(w, all, n)) ? 0 : BTS_ENOMEM;
    free(all);
    if (r == 0 && (r = names_query(lookup_fields, names, &fields, &filters)) == 0)
        r = bts_erpnext_get_list_start(w->erp, w->loop, w->cfg->erpnext.device_log_doctype,
                                       fields, filters, 0, fn, ud);
    cJSON_Delete(names);
    cJSON_Delete(fields);
    cJSON_Delete(filters);
    return r;
}

int bts_writer_lookup_answer(bts_writer *w, bts_item *items, size_t n, int rc,
                             const cJSON *rows, const bts_frappe_error *err,
                             bts_write_counts *counts)
{
    if (rc < 0)
        return stop_error(w, "a Device Log lookup", rc, err);
    bts_item **pending = calloc(n ? n : 1, sizeof(*pending));
    if (!pending)
        return BTS_ENOMEM;
    for (size_t i = 0; i < n; i++)
        pending[i] = &items[i];
    size_t again = settle_lookup(w, pending, n, 0, rows, counts);
    int r = again ? lookup_reused(w, pending, again, counts) : 0;
    free(pending);
    return r;
}

/* --- phases ----------------------------------------------------------------------- */

void bts_phase_free(bts_phase *p)
{
    free(p->items);
    memset(p, 0, sizeof(*p));
}

static int phase_init(bts_phase *p, const bts_phase *kind, size_t n)
{
    *p = *kind;
    p->n = 0;
    p->items = calloc(n ? n : 1, sizeof(*p->items));
    return p->items ? 0 : BTS_ENOMEM;
}

/* --- resent batches ---------------------------------------------------------------- */

/* A batch sent again after its first answer was lost (a connection dropped after the
 * commit, say) and refused as a duplicate was written by that first try. One list request
 * confirms it, record by record, instead of splitting it down to single records. */

/* [field, "in", values] appended to filters; values are taken, even on failure. */
static bool add_in(cJSON *filters, const char *field, cJSON *values)
{
    cJSON *cond = cJSON_CreateArray();
    if (!cond || !cJSON_AddItemToArray(cond, cJSON_CreateString(field)) ||
        !cJSON_AddItemToArray(cond, cJSON_CreateString("in")) ||
        !cJSON_AddItemToArray(cond, values)) {
        cJSON_Delete(cond);
        cJSON_Delete(values); /* not in cond: the last add is the one that failed */
        return false;
    }
    if (!cJSON_AddItemToArray(filters, cond)) {
        cJSON_Delete(cond); /* values with it */
        return false;
    }
    return true;
}

/* The rows of doctype whose fields match the filters; NULL when the list failed (the
 * caller then splits the batch: slower, but it needs no answer to this). */
static cJSON *confirm_rows(bts_writer *w, const char *doctype, const char *const *field_names,
                           cJSON *filters)
{
    cJSON *fields = cJSON_CreateArray(), *rows = NULL;
    bts_frappe_error err;
    bool ok = fields && filters;
    for (size_t i = 0; ok && field_names[i]; i++)
        ok = cJSON_AddItemToArray(fields, cJSON_CreateString(field_names[i]));
    if (ok && bts_erpnext_get_list(w->erp, doctype, fields, filters, 0, &rows, &err) < 0)
        rows = NULL;
    cJSON_Delete(fields);
    cJSON_Delete(filters);
    return rows;
}

/* --- checkins ------------------------------------------------------------------- */

static cJSON *checkin_doc(bts_writer *w, bts_item *it)
{
    (void)w;
    return cJSON_Duplicate(it->checkin, 1);
}

static int checkins_accepted(bts_writer *w, bts_phase *p, size_t start, size_t len,
                             const cJSON *names)
{
    (void)w;
    for (size_t i = 0; i < len; i++) {
        bts_item *it = p->items[start + i];
        bts_strlcpy(it->checkin_name, cJSON_GetArrayItem(names, (int)i)->valuestring,
                    sizeof(it->checkin_name));
        p->counts->checkins++;
    }
    return 0;
}

static const char *const checkin_key_fields[] = {"name", "employee", "time", "log_type", NULL};

static const cJSON *find_checkin(const cJSON *rows, const cJSON *doc)
{
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) {
        if (strcmp(str_of(row, "employee"), str_of(doc, "employee")) == 0 &&
            strncmp(str_of(row, "time"), str_of(doc, "time"), 19) == 0 &&
            strcmp(str_of(row, "log_type"), str_of(doc, "log_type")) == 0)
            return row;
    }
    return NULL;
}

/* [["employee", "in", ...], ["time", "in", ...]] for the batch's checkins, or NULL. */
static cJSON *checkin_filters(const bts_phase *p, size_t start, size_t len)
{
    cJSON *emps = cJSON_CreateArray(), *times = cJSON_CreateArray();
    cJSON *filters = cJSON_CreateArray();
    bool ok = emps && times && filters;
    for (size_t i = 0; ok && i < len; i++) {
        const cJSON *doc = p->items[start + i]->checkin;
        ok = cJSON_AddItemToArray(emps, cJSON_CreateString(str_of(doc, "employee"))) &&
             cJSON_AddItemToArray(times, cJSON_CreateString(str_of(doc, "time")));
    }
    if (!ok) {
        cJSON_Delete(emps);
        cJSON_Delete(times);
        cJSON_Delete(filters);
        return NULL;
    }
    if (!add_in(filters, "employee", emps)) { /* add_in takes what it is given */
        cJSON_Delete(times);
        cJSON_Delete(filters);
        return NULL;
    }
    if (!add_in(filters, "time", times)) {
        cJSON_Delete(filters);
        return NULL;
    }
    return filters;
}

/* 1 when ERPNext holds every checkin of the batch (their names taken), else 0. */
static int checkins_confirm(bts_writer *w, bts_phase *p, size_t start, size_t len)
{
    cJSON *filters = checkin_filters(p, start, len);
    if (!filters)
        return BTS_ENOMEM;
    cJSON *rows = confirm_rows(w, "Employee Checkin", checkin_key_fields, filters);
    bool ok = rows != NULL;
    for (size_t i = 0; ok && i < len; i++)
        ok = find_checkin(rows, p->items[start + i]->checkin) != NULL;
    for (size_t i = 0; ok && i < len; i++) {
        bts_item *it = p->items[start + i];
        bts_strlcpy(it->checkin_name, str_of(find_checkin(rows, it->checkin), "name"),
                    sizeof(it->checkin_name));
        p->counts->checkins++;
    }
    cJSON_Delete(rows);
    return ok ? 1 : 0;
}

/* A duplicate whose message had no link: find the existing checkin by HRMS's key. */
static int find_existing_checkin(bts_writer *w, const cJSON *doc, char *out, size_t n)
{
    cJSON *filters = cJSON_CreateObject(), *rows = NULL;
    bts_frappe_error err;
    char *f = NULL;
    int r = BTS_ENOMEM;
    if (!filters)
        return r;
    cJSON_AddStringToObject(filters, "employee", str_of(doc, "employee"));
    cJSON_AddStringToObject(filters, "time", str_of(doc, "time"));
    cJSON_AddStringToObject(filters, "log_type", str_of(doc, "log_type"));
    if ((f = cJSON_PrintUnformatted(filters)))
        r = bts_erpnext_list(w->erp, "Employee Checkin", "[\"name\"]", f, 1, NULL, &rows, &err);
    if (r == 0 && cJSON_GetArraySize(rows) == 1)
        bts_strlcpy(out, str_of(cJSON_GetArrayItem(rows, 0), "name"), n);
    else if (r == 0)
        r = BTS_EPROTO;
    cJSON_Delete(filters);
    cJSON_Delete(rows);
    free(f);
    return r;
}


static int checkin_refused(bts_writer *w, bts_item *it, const bts_frappe_error *err)
{
    char line[600];
    bts_frappe_error_format(err, line, sizeof(line));
    switch (err->cls) {
    case BTS_FE_DUPLICATE_LOG:
        it->checkin_existed = true;
        if (*err->checkin_name) {
            bts_strlcpy(it->checkin_name, err->checkin_name, sizeof(it->checkin_name));
            return 0;
        }
        if (find_existing_checkin(w, it->checkin, it->checkin_name, sizeof(it->checkin_name)) == 0)
            return 0;
        it->checkin_existed = false;
        bts_item_park(it, "ERPNext says the checkin exists but it could not be found: %.200s",
                      line);
        return 0;
    case BTS_FE_GEOLOCATION:
        w->geolocation_refused = true; /* the next pages park such punches without asking */
        bts_item_park(it, "geolocation tracking is on and terminal %s has no erpnext.locations "
                      "entry (ERPNext: %.120s)", *it->txn.terminal_sn ? it->txn.terminal_sn :
                      "(none named)", line);
        return 0;
    case BTS_FE_INACTIVE:
        bts_item_park(it, "ERPNext says the employee is Inactive: %.250s", line);
        return 0;
    default:
        bts_item_park(it, "ERPNext refused the checkin: %.250s", line);
        return 0;
    }
}

/* The first checkin of a run goes alone through a single insert, whose answer carries the
 * stored time: if the API user lacks the role, one checkin has a wrong time, not a batch. */
static int probe_time_rights(bts_writer *w, bts_phase *p)
{
    bts_item *it = p->items[0];
    cJSON *doc = NULL;
    bts_frappe_error err;
    int r = bts_erpnext_insert(w->erp, it->checkin, &doc, &err);
    if (r == BTS_EPERM && err.cls != BTS_FE_WRONG_SITE)
        r = checkin_refused(w, it, &err);
    else if (r < 0)
        r = stop_error(w, p->what, r, &err);
    else if (strncmp(str_of(doc, "time"), str_of(it->checkin, "time"), 19) != 0) {
        snprintf(w->error, sizeof(w->error),
                 "ERPNext stored checkin %.140s at %.20s instead of the punch time %.20s: give "
                 "the API user the HR User or HR Manager role, then delete that checkin",
                 str_of(doc, "name"), str_of(doc, "time"), str_of(it->checkin, "time"));
        r = BTS_EROLE;
    } else {
        bts_strlcpy(it->checkin_name, str_of(doc, "name"), sizeof(it->checkin_name));
        p->counts->checkins++;
        w->time_rights_checked = true;
    }
    cJSON_Delete(doc);
    if (r == 0) {
        memmove(p->items, p->items + 1, (p->n - 1) * sizeof(*p->items));
        p->n--;
    }
    return r;
}

static const bts_phase checkins_kind = {
    .what = "Employee Checkins", .doc = checkin_doc, .accepted = checkins_accepted,
    .refused = checkin_refused, .confirm = checkins_confirm,
};

int bts_writer_checkins(bts_writer *w, bts_item *items, size_t n, bts_write_counts *counts,
                        bts_phase *p)
{
    int r = phase_init(p, &checkins_kind, n);
    p->counts = counts;
    for (size_t i = 0; r == 0 && i < n; i++)
        if (items[i].checkin && !items[i].done_before)
            p->items[p->n++] = &items[i];
    if (r == 0 && p->n > 0 && !w->time_rights_checked)
        r = probe_time_rights(w, p);
    return r;
}

void bts_writer_checkins_done(bts_item *items, size_t n, bts_write_counts *c)
{
    for (size_t i = 0; i < n; i++)
        if (!items[i].checkin || items[i].done_before)
            continue;
        else if (items[i].checkin_existed)
            c->checkin_duplicates++;
        else if (items[i].park_reason)
            log_item(LOG_WARNING, &items[i], "parked", items[i].park_reason, NULL);
}

/* --- Device Logs -------------------------------------------------------------- */

static cJSON *device_log_doc(bts_writer *w, bts_item *it)
{
    char name[160];
    cJSON *doc = bts_map_device_log(w->cfg, &it->txn, *it->checkin_name ? it->checkin_name : NULL,
                                    *it->employee ? it->employee : NULL);
    device_log_name(w, it, name, sizeof(name));
    if (doc && (!cJSON_ReplaceItemInObjectCaseSensitive(doc, "id", cJSON_CreateString(name)) ||
                (it->park_reason && !cJSON_AddStringToObject(doc, "sync_error", it->park_reason)))) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

static int device_logs_accepted(bts_writer *w, bts_phase *p, size_t start, size_t len,
                                const cJSON *names)
{
    (void)w, (void)start, (void)names;
    p->counts->device_logs += len;
    return 0;
}

static const char *const device_log_link_fields[] = {"name", "employee_check_in", NULL};

/* 1 when ERPNext holds every Device Log of the batch, naming our checkins, else 0. */
static int device_logs_confirm(bts_writer *w, bts_phase *p, size_t start, size_t len)
{
    cJSON *names = names_of(w, p->items + start, len), *filters = cJSON_CreateArray();
    if (!names || !filters || !add_in(filters, "name", names)) { /* add_in takes names */
        if (!filters)
            cJSON_Delete(names);
        cJSON_Delete(filters);
        return BTS_ENOMEM;
    }
    cJSON *rows = confirm_rows(w, w->cfg->erpnext.device_log_doctype, device_log_link_fields,
                               filters);
    bool ok = rows != NULL;
    for (size_t i = 0; ok && i < len; i++) {
        const bts_item *it = p->items[start + i];
        char name[160];
        device_log_name(w, it, name, sizeof(name));
        const cJSON *row = find_row(rows, name);
        ok = row && strcmp(str_of(row, "employee_check_in"), it->checkin_name) == 0;
    }
    if (ok)
        p->counts->device_logs += len;
    cJSON_Delete(rows);
    return ok ? 1 : 0;
}

/* The Device Log exists already: make sure it names the checkin we now have. */
static int link_existing(bts_writer *w, bts_item *it, const char *device_log)
{
    bts_frappe_error err;
    cJSON *fields = cJSON_CreateObject();
    int r = BTS_ENOMEM;
    if (fields && cJSON_AddNumberToObject(fields, "synced", 1) &&
        cJSON_AddStringToObject(fields, "employee_check_in", it->checkin_name) &&
        cJSON_AddStringToObject(fields, "employee_id_on_system", it->employee) &&
        cJSON_AddStringToObject(fields, "sync_error", "")) {
        r = bts_erpnext_update(w->erp, w->cfg->erpnext.device_log_doctype, device_log, fields,
                               NULL, &err);
        if (r < 0)
            r = stop_error(w, "a Device Log update", r, &err);
    }
    cJSON_Delete(fields);
    return r;
}

/* Printable ASCII only: the raw row may hold bytes ERPNext would refuse once more. */
static void ascii_only(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 32 || (unsigned char)*s > 126)
            *s = '?';
}

/* What is left of a Device Log when ERPNext refuses the full record (a site whose
 * doctype types a field as Datetime or Int, a value it chokes on): the id, the fields
 * that are surely valid, the links, and the raw row in sync_error so nothing is lost. */
static cJSON *minimal_device_log(const bts_writer *w, const bts_item *it, const char *why)
{
    static const char *const keep[] = {"emp_code", "terminal_sn", "punch_state"};
    char text[BTS_TXN_FIELD_MAX + 1], reason[700], name[160];
    struct tm tm;
    cJSON *doc = cJSON_CreateObject();
    if (!doc)
        return NULL;
    device_log_name(w, it, name, sizeof(name));
    cJSON_AddStringToObject(doc, "doctype", w->cfg->erpnext.device_log_doctype);
    cJSON_AddStringToObject(doc, "id", name);
    for (size_t i = 0; i < BTS_ARRAY_SIZE(keep); i++) {
        raw_text(it, keep[i], text, sizeof(text));
        ascii_only(text);
        cJSON_AddStringToObject(doc, keep[i], text);
    }
    if (bts_time_parse(it->txn.punch_time, false, &tm) == 0 && tm.tm_year >= 0)
        cJSON_AddStringToObject(doc, "punch_time", it->txn.punch_time); /* 1900 and later */
    cJSON_AddNumberToObject(doc, "synced", *it->checkin_name ? 1 : 0);
    cJSON_AddStringToObject(doc, "employee_check_in", it->checkin_name);
    cJSON_AddStringToObject(doc, "employee_id_on_system", it->employee);
    snprintf(reason, sizeof(reason), "ERPNext refused the full record (%.200s); %.150s; raw: "
             "%.300s", why, it->park_reason ? it->park_reason : "checkin written",
             it->txn.raw ? it->txn.raw : "");
    ascii_only(reason);
    cJSON_AddStringToObject(doc, "sync_error", reason);
    return doc;
}

static int device_log_refused(bts_writer *w, bts_item *it, const bts_frappe_error *err)
{
    char line[600];
    bts_frappe_error again;
    if (err->cls == BTS_FE_DUPLICATE_ENTRY) {
        char name[160];
        device_log_name(w, it, name, sizeof(name));
        it->device_log_existed = true;
        return *it->checkin_name ? link_existing(w, it, name) : 0;
    }
    bts_frappe_error_format(err, line, sizeof(line));
    cJSON *minimal = minimal_device_log(w, it, line);
    int r = minimal ? bts_erpnext_insert(w->erp, minimal, NULL, &again) : BTS_ENOMEM;
    cJSON_Delete(minimal);
    if (r == BTS_EPERM && again.cls == BTS_FE_DUPLICATE_ENTRY)
        r = 0; /* written by an earlier try whose answer was lost */
    if (r == 0) {
        log_item(LOG_WARNING, it, "kept as a reduced Device Log, ERPNext refused the full one",
                 line, err);
        return 0;
    }
    if (r != BTS_EPERM)
        return stop_error(w, "a reduced Device Log", r, &again);
    log_item(LOG_ERR, it, "refused by ERPNext even as a reduced Device Log", line, &again);
    it->rejected = true;
    return 0;
}

static const bts_phase device_logs_kind = {
    .what = "BioTime Device Logs", .doc = device_log_doc, .accepted = device_logs_accepted,
    .refused = device_log_refused, .confirm = device_logs_confirm,
};

int bts_writer_device_logs(bts_writer *w, bts_item *items, size_t n, bts_write_counts *counts,
                           bts_phase *p)
{
    (void)w;
    int r = phase_init(p, &device_logs_kind, n);
    p->counts = counts;
    for (size_t i = 0; r == 0 && i < n; i++)
        if (!items[i].done_before)
            p->items[p->n++] = &items[i];
    return r;
}

void bts_writer_device_logs_done(bts_phase *p)
{
    for (size_t i = 0; i < p->n; i++) {
        if (p->items[i]->device_log_existed)
            p->counts->device_log_duplicates++;
        if (p->items[i]->rejected)
            p->counts->rejected++;
        if (!*p->items[i]->checkin_name)
            p->counts->parked++;
    }
    bts_phase_free(p);
}

/* --- batches ------------------------------------------------------------------ */

int bts_writer_batch_start(bts_writer *w, bts_phase *p, size_t start, size_t len,
                           bts_erpnext_done_fn fn, void *ud)
{
    cJSON *docs = cJSON_CreateArray();
    int r = docs ? 0 : BTS_ENOMEM;
    for (size_t i = 0; r == 0 && i < len; i++)
        if (!cJSON_AddItemToArray(docs, p->doc(w, p->items[start + i])))
            r = BTS_ENOMEM;
    if (r == 0)
        r = bts_erpnext_insert_many_start(w->erp, w->loop, docs, fn, ud);
    cJSON_Delete(docs);
    return r;
}

static bool is_duplicate(const bts_frappe_error *err)
{
    return err->cls == BTS_FE_DUPLICATE_LOG || err->cls == BTS_FE_DUPLICATE_ENTRY;
}

int bts_writer_batch_answer(bts_writer *w, bts_phase *p, size_t start, size_t len, int rc,
                            const cJSON *names, const bts_frappe_error *err, bool resent)
{
    if (rc == 0)
        return p->accepted(w, p, start, len, names);
    if (rc != BTS_EPERM || err->cls == BTS_FE_WRONG_SITE)
        return stop_error(w, p->what, rc, err);
    if (len > 1 && resent && is_duplicate(err)) {
        int r = p->confirm(w, p, start, len);
        if (r != 0)
            return r < 0 ? r : 0;
    }
    if (len > 1)
        return 1; /* all or nothing: split it to find the refused document */
    return p->refused(w, p->items[start], err);
}

/* --- parked punches and dry runs ------------------------------------------------ */

int bts_writer_link_parked(bts_writer *w, bts_item *items, size_t n)
{
    int r = 0;
    for (size_t i = 0; r == 0 && i < n; i++)
        if (*items[i].checkin_name) {
            char name[160];
            raw_text(&items[i], "name", name, sizeof(name));
            r = link_existing(w, &items[i], name);
        }
    return r;
}

void bts_writer_dry_print(bts_writer *w, const bts_item *it)
{
    const cJSON *c = it->checkin;
    const cJSON *lat = c ? cJSON_GetObjectItemCaseSensitive(c, "latitude") : NULL;
    const cJSON *lon = c ? cJSON_GetObjectItemCaseSensitive(c, "longitude") : NULL;
    char where[80] = ""; /* erpnext.locations: what the checkin would carry */
    if (cJSON_IsNumber(lat) && cJSON_IsNumber(lon))
        snprintf(where, sizeof(where), " latitude=%.10g longitude=%.10g", lat->valuedouble,
                 lon->valuedouble);
    if (c)
        fprintf(w->dry_out, "%lld emp_code=%s punch_time=%s -> checkin employee=%s time=%s "
                "log_type=%s device_id=%s%s; Device Log synced=1\n", (long long)it->txn.id,
                it->txn.emp_code, it->txn.punch_time, str_of(c, "employee"), str_of(c, "time"),
                str_of(c, "log_type"), str_of(c, "device_id"), where);
    else
        fprintf(w->dry_out, "%lld emp_code=%s punch_time=%s -> Device Log synced=0 (%s)\n",
                (long long)it->txn.id, it->txn.emp_code, it->txn.punch_time,
                it->park_reason ? it->park_reason : "");
}

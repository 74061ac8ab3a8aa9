/* Writes mapped transactions to ERPNext (DESIGN.md §2): checkin first, then the Device
 * Log that names it, so a crash between the two is repaired by the duplicate rule. */
#include <stdlib.h>
#include <string.h>

#include "bts/log.h"
#include "bts/timeconv.h"
#include "bts/writer.h"

#define MAX_ROUND 64 /* batches sent per round */

typedef struct phase phase;

/* A run of documents of one phase, written as one insert_many. */
typedef struct {
    phase *p;
    size_t start, len;
} range;

struct phase {
    const char *what;
    bts_item **items;                 /* the items taking part */
    cJSON **docs;                     /* docs[i] is written for items[i] */
    size_t n;
    /* called for a batch ERPNext accepted, with its names */
    int (*accepted)(bts_writer *w, phase *p, range r, const cJSON *names);
    /* called for a single document ERPNext refused */
    int (*refused)(bts_writer *w, bts_item *it, cJSON *doc, const bts_frappe_error *err);
    bts_write_counts *counts;
};

void bts_item_clear(bts_item *it)
{
    if (!it)
        return;
    bts_txn_clear(&it->txn);
    cJSON_Delete(it->checkin);
    memset(it, 0, sizeof(*it));
}

static const char *str_of(const cJSON *doc, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* One journal entry about one punch, with fields to search by (journalctl EMP_CODE=1001). */
static void log_item(int prio, const bts_item *it, const char *what, const char *why)
{
    char id[48], code[96];
    snprintf(id, sizeof(id), "BIOTIME_TXN_ID=%lld", (long long)it->txn.id);
    snprintf(code, sizeof(code), "EMP_CODE=%s", it->txn.emp_code);
    const char *fields[] = {"SERVER=erpnext", id, code, NULL};
    bts_log_fields(prio, fields, "BioTime transaction %lld (emp_code %s, %s) %s: %s",
                   (long long)it->txn.id, it->txn.emp_code, it->txn.punch_time, what, why);
}

/* --- batched phases with bisection ---------------------------------------------- */

static cJSON *batch_of(range r)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < r.len; i++)
        if (!cJSON_AddItemReferenceToArray(a, r.p->docs[r.start + i])) {
            cJSON_Delete(a);
            return NULL;
        }
    return a;
}

/* A batch came back refused for a permanent reason: split it, or settle its one document. */
static int on_refused_batch(bts_writer *w, range r, const bts_frappe_error *err, range *queue,
                            size_t *nq)
{
    if (r.len == 1)
        return r.p->refused(w, r.p->items[r.start], r.p->docs[r.start], err);
    size_t half = r.len / 2;
    queue[(*nq)++] = (range){r.p, r.start, half};
    queue[(*nq)++] = (range){r.p, r.start + half, r.len - half};
    return 0;
}

static int stop_error(bts_writer *w, const phase *p, int rc, const bts_frappe_error *err)
{
    char line[600];
    bts_frappe_error_format(err, line, sizeof(line));
    snprintf(w->error, sizeof(w->error), "writing %s to ERPNext: %.400s", p->what, line);
    return rc;
}

/* A batch that timed out is smaller next time (ERPNext's workers have a time limit); the
 * size grows back after batches that went through. */
static void adapt_batch_size(bts_writer *w, int rc, const bts_frappe_error *err, size_t len)
{
    size_t full = (size_t)w->cfg->erpnext.batch_size;
    if (rc == BTS_ETRANSIENT && (err->status == 0 || err->status == 504) && len > 1) {
        w->batch_limit = len / 2;
        bts_notice("ERPNext did not answer a batch of %zu in time: using batches of %zu", len,
                   w->batch_limit);
    } else if (rc == 0 && w->batch_limit && w->batch_limit < full) {
        w->batch_limit = w->batch_limit * 2 < full ? w->batch_limit * 2 : full;
    }
}

/* Sends one round of batches in parallel and files each answer. */
static int run_round(bts_writer *w, range *round, size_t n_round, range *queue, size_t *nq)
{
    cJSON *batches[MAX_ROUND] = {0}, *names[MAX_ROUND] = {0};
    int rcs[MAX_ROUND];
    bts_frappe_error errs[MAX_ROUND];
    int r = 0;
    for (size_t i = 0; i < n_round; i++)
        if (!(batches[i] = batch_of(round[i]))) {
            r = BTS_ENOMEM;
            goto out;
        }
    if ((r = bts_erpnext_insert_batches(w->erp, batches, n_round, rcs, names, errs)) < 0) {
        snprintf(w->error, sizeof(w->error), "stopped while writing %s", round[0].p->what);
        goto out;
    }
    for (size_t i = 0; i < n_round && r == 0; i++) {
        adapt_batch_size(w, rcs[i], &errs[i], round[i].len);
        if (rcs[i] == 0)
            r = round[i].p->accepted(w, round[i].p, round[i], names[i]);
        else if (rcs[i] == BTS_EPERM && errs[i].cls != BTS_FE_WRONG_SITE)
            r = on_refused_batch(w, round[i], &errs[i], queue, nq);
        else
            r = stop_error(w, round[i].p, rcs[i] == BTS_EPERM ? BTS_EPROTO : rcs[i], &errs[i]);
    }
out:
    for (size_t i = 0; i < n_round; i++) {
        cJSON_Delete(batches[i]);
        cJSON_Delete(names[i]);
    }
    return r;
}

/* Writes the documents of several phases together, so that one phase's batches (say the
 * Device Logs of one page) travel alongside another's (the checkins of the next). */
static int run_phases(bts_writer *w, phase *const *phases, size_t n_phases)
{
    size_t total = 0, longest = 0, nq = 0;
    size_t bs = w->batch_limit ? w->batch_limit : (size_t)w->cfg->erpnext.batch_size;
    for (size_t k = 0; k < n_phases; k++) {
        total += phases[k]->n;
        longest = phases[k]->n > longest ? phases[k]->n : longest;
    }
    /* every split adds one range, and there are at most n single-document ranges */
    range *queue = calloc(2 * total + 2, sizeof(*queue));
    int r = queue ? 0 : BTS_ENOMEM;
    /* Interleaved, first phase first (checkins wait on HRMS's naming-series lock, so they
     * start at once; the other phase's batches fill the workers they leave idle). */
    for (size_t i = 0; r == 0 && i < longest; i += bs)
        for (size_t k = 0; k < n_phases; k++)
            if (i < phases[k]->n)
                queue[nq++] = (range){phases[k], i, phases[k]->n - i < bs ? phases[k]->n - i
                                                                          : bs};
    while (r == 0 && nq > 0) {
        range round[MAX_ROUND];
        size_t n_round = nq < MAX_ROUND ? nq : MAX_ROUND;
        nq -= n_round;
        memcpy(round, queue + nq, n_round * sizeof(range));
        r = run_round(w, round, n_round, queue, &nq);
    }
    free(queue);
    return r;
}

/* --- lookups ------------------------------------------------------------------- */

static const cJSON *find_row(const cJSON *rows, const char *name)
{
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) {
        if (strcmp(str_of(row, "name"), name) == 0)
            return row;
    }
    return NULL;
}

/* Rows (name and the given fields) of the documents of doctype named in names. */
int bts_writer_list_names(bts_writer *w, const char *doctype, const char *const *field_names,
                          const cJSON *names, cJSON **ret_rows, bts_frappe_error *err)
{
    cJSON *fields = cJSON_CreateArray(), *filters = cJSON_CreateArray();
    cJSON *cond = cJSON_CreateArray();
    int r = BTS_ENOMEM;
    bool ok = fields && filters && cond && cJSON_AddItemToArray(fields, cJSON_CreateString("name"));
    for (size_t i = 0; ok && field_names[i]; i++)
        ok = cJSON_AddItemToArray(fields, cJSON_CreateString(field_names[i]));
    if (ok && cJSON_AddItemToArray(cond, cJSON_CreateString("name")) &&
        cJSON_AddItemToArray(cond, cJSON_CreateString("in")) &&
        cJSON_AddItemReferenceToArray(cond, (cJSON *)names) &&
        cJSON_AddItemToArray(filters, cond)) {
        cond = NULL;
        r = bts_erpnext_get_list(w->erp, doctype, fields, filters, 0, ret_rows, err);
    }
    cJSON_Delete(fields);
    cJSON_Delete(filters);
    cJSON_Delete(cond);
    return r;
}

/* Does this existing Device Log hold this punch? After a BioTime database restore ids are
 * reused, and a Device Log of the same name can hold a different punch. */
static bool same_punch(const cJSON *row, const bts_item *it)
{
    char t[64], code[64];
    bts_json_text(it->txn.raw, "punch_time", t, sizeof(t));
    bts_json_text(it->txn.raw, "emp_code", code, sizeof(code));
    return strcmp(str_of(row, "punch_time"), t) == 0 && strcmp(str_of(row, "emp_code"), code) == 0;
}

static void name_device_log(const bts_writer *w, bts_item *it, unsigned round)
{
    char base[140];
    bts_map_device_log_id(w->cfg->biotime.name, it->txn.id, base, sizeof(base));
    if (round == 0)
        bts_strlcpy(it->device_log_name, base, sizeof(it->device_log_name));
    else
        snprintf(it->device_log_name, sizeof(it->device_log_name), "%s-r%u", base, round);
}

/* One lookup round over the undecided items: 1 when some collided and need another. */
static int existing_round(bts_writer *w, bts_item **pending, size_t n, unsigned round,
                          bts_write_counts *c)
{
    static const char *const fields[] = {"emp_code", "punch_time", NULL};
    cJSON *names = cJSON_CreateArray(), *rows = NULL;
    bts_frappe_error err;
    int r = names ? 0 : BTS_ENOMEM, again = 0;
    for (size_t i = 0; r == 0 && i < n; i++)
        if (!cJSON_AddItemToArray(names, cJSON_CreateString(pending[i]->device_log_name)))
            r = BTS_ENOMEM;
    if (r == 0 && (r = bts_writer_list_names(w, w->cfg->erpnext.device_log_doctype, fields,
                                             names, &rows, &err)) < 0)
        r = stop_error(w, &(phase){.what = "a Device Log lookup"},
                       r == BTS_EPERM ? BTS_EPROTO : r, &err);
    for (size_t i = 0; r == 0 && i < n; i++) {
        const cJSON *row = find_row(rows, pending[i]->device_log_name);
        if (row && same_punch(row, pending[i])) {
            pending[i]->done_before = true;
            c->device_log_duplicates++;
        } else if (row) {
            bts_warn("Device Log %s already holds another punch (BioTime ids were reused): "
                     "writing BioTime transaction %lld as %s-r%u", pending[i]->device_log_name,
                     (long long)pending[i]->txn.id, pending[i]->device_log_name, round + 1);
            name_device_log(w, pending[i], round + 1);
            pending[again++] = pending[i];
        }
    }
    cJSON_Delete(names);
    cJSON_Delete(rows);
    return r < 0 ? r : again;
}

/* Items whose Device Log ERPNext already holds are done (a re-read after a crash, or a
 * backfill): one lookup per page instead of a refused batch bisected to single records. */
static int skip_existing(bts_writer *w, bts_item *items, size_t n, bts_write_counts *c)
{
    bts_item **pending = calloc(n ? n : 1, sizeof(*pending));
    int r = pending ? (int)n : BTS_ENOMEM;
    for (size_t i = 0; pending && i < n; i++) {
        name_device_log(w, &items[i], 0);
        pending[i] = &items[i];
    }
    for (unsigned round = 0; r > 0; round++) {
        if (round >= 8) {
            snprintf(w->error, sizeof(w->error), "too many Device Logs reuse BioTime id %lld",
                     (long long)pending[0]->txn.id);
            r = BTS_EPROTO;
            break;
        }
        r = existing_round(w, pending, (size_t)r, round, c);
    }
    free(pending);
    return r;
}

/* --- checkins ------------------------------------------------------------------- */

static int checkins_accepted(bts_writer *w, phase *p, range r, const cJSON *names)
{
    (void)w;
    for (size_t i = 0; i < r.len; i++) {
        bts_item *it = p->items[r.start + i];
        bts_strlcpy(it->checkin_name, cJSON_GetArrayItem(names, (int)i)->valuestring,
                    sizeof(it->checkin_name));
        p->counts->checkins++;
    }
    return 0;
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

#define park(it, fmt, detail) \
    snprintf((it)->park_reason, sizeof((it)->park_reason), fmt, (detail))

static int checkin_refused(bts_writer *w, bts_item *it, cJSON *doc, const bts_frappe_error *err)
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
        if (find_existing_checkin(w, doc, it->checkin_name, sizeof(it->checkin_name)) == 0)
            return 0;
        it->checkin_existed = false;
        park(it, "ERPNext says the checkin exists but it could not be found: %.200s", line);
        return 0;
    case BTS_FE_GEOLOCATION:
        park(it, "%.150s (turn off HR Settings > Allow Geolocation Tracking, or the checkins "
                 "cannot be created from a terminal)", line);
        return 0;
    case BTS_FE_INACTIVE:
        park(it, "employee is not active: %.250s", line);
        return 0;
    default:
        park(it, "ERPNext refused the checkin: %.250s", line);
        return 0;
    }
}

/* The first checkin of a run goes alone through a single insert, whose answer carries the
 * stored time: if the API user lacks the role, one checkin has a wrong time, not a batch. */
static int probe_time_rights(bts_writer *w, phase *p)
{
    bts_item *it = p->items[0];
    cJSON *doc = NULL;
    bts_frappe_error err;
    int r = bts_erpnext_insert(w->erp, it->checkin, &doc, &err);
    if (r == BTS_EPERM && err.cls != BTS_FE_WRONG_SITE)
        r = checkin_refused(w, it, it->checkin, &err);
    else if (r < 0)
        r = stop_error(w, p, r == BTS_EPERM ? BTS_EPROTO : r, &err);
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
        p->items++;
        p->docs++;
        p->n--;
    }
    return r;
}

static void phase_free(phase *p)
{
    free(p->items);
    free(p->docs);
    memset(p, 0, sizeof(*p));
}

static int phase_alloc(phase *p, size_t n)
{
    p->items = calloc(n ? n : 1, sizeof(*p->items));
    p->docs = calloc(n ? n : 1, sizeof(*p->docs));
    return (p->items && p->docs) ? 0 : BTS_ENOMEM;
}

/* The checkins still to write among items; the first of a run goes alone (time rights). */
static int checkins_prepare(bts_writer *w, phase *p, bts_item *items, size_t n,
                            bts_write_counts *c)
{
    *p = (phase){.what = "Employee Checkins", .accepted = checkins_accepted,
                 .refused = checkin_refused, .counts = c};
    int r = phase_alloc(p, n);
    for (size_t i = 0; r == 0 && i < n; i++)
        if (items[i].checkin && !items[i].done_before) {
            p->items[p->n] = &items[i];
            p->docs[p->n++] = items[i].checkin;
        }
    if (r == 0 && p->n > 0 && !w->time_rights_checked) {
        phase rest = *p;
        if ((r = probe_time_rights(w, &rest)) == 0 && rest.n < p->n) {
            memmove(p->items, p->items + 1, (p->n - 1) * sizeof(*p->items));
            memmove(p->docs, p->docs + 1, (p->n - 1) * sizeof(*p->docs));
            p->n--;
        }
    }
    return r;
}

static void checkins_finish(bts_item *items, size_t n, bts_write_counts *c)
{
    for (size_t i = 0; i < n; i++)
        if (!items[i].checkin || items[i].done_before)
            continue;
        else if (items[i].checkin_existed)
            c->checkin_duplicates++;
        else if (*items[i].park_reason)
            log_item(LOG_WARNING, &items[i], "parked", items[i].park_reason);
}

static int write_checkins(bts_writer *w, bts_item *items, size_t n, bts_write_counts *c)
{
    phase p;
    phase *one[] = {&p};
    int r = checkins_prepare(w, &p, items, n, c);
    if (r == 0 && (r = run_phases(w, one, 1)) == 0)
        checkins_finish(items, n, c);
    phase_free(&p);
    return r;
}

/* --- Device Logs -------------------------------------------------------------- */

static int device_logs_accepted(bts_writer *w, phase *p, range r, const cJSON *names)
{
    (void)w, (void)names;
    p->counts->device_logs += r.len;
    return 0;
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
            r = stop_error(w, &(phase){.what = "a Device Log update"},
                           r == BTS_EPERM ? BTS_EPROTO : r, &err);
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
    char text[BTS_TXN_FIELD_MAX + 1], reason[700];
    struct tm tm;
    cJSON *doc = cJSON_CreateObject();
    char *raw = cJSON_PrintUnformatted(it->txn.raw);
    if (!doc || !raw)
        goto fail;
    cJSON_AddStringToObject(doc, "doctype", w->cfg->erpnext.device_log_doctype);
    cJSON_AddStringToObject(doc, "id", it->device_log_name);
    for (size_t i = 0; i < BTS_ARRAY_SIZE(keep); i++) {
        bts_json_text(it->txn.raw, keep[i], text, sizeof(text));
        ascii_only(text);
        cJSON_AddStringToObject(doc, keep[i], text);
    }
    if (bts_time_parse(it->txn.punch_time, false, &tm) == 0 && tm.tm_year >= 0)
        cJSON_AddStringToObject(doc, "punch_time", it->txn.punch_time); /* 1900 and later */
    cJSON_AddNumberToObject(doc, "synced", *it->checkin_name ? 1 : 0);
    cJSON_AddStringToObject(doc, "employee_check_in", it->checkin_name);
    cJSON_AddStringToObject(doc, "employee_id_on_system", it->employee);
    snprintf(reason, sizeof(reason), "ERPNext refused the full record (%.200s); %.150s; raw: "
             "%.300s", why, *it->park_reason ? it->park_reason : "checkin written", raw);
    ascii_only(reason);
    cJSON_AddStringToObject(doc, "sync_error", reason);
    cJSON_free(raw);
    return doc;
fail:
    cJSON_free(raw);
    cJSON_Delete(doc);
    return NULL;
}

static int device_log_refused(bts_writer *w, bts_item *it, cJSON *doc, const bts_frappe_error *err)
{
    char line[600];
    bts_frappe_error again;
    if (err->cls == BTS_FE_DUPLICATE_ENTRY) {
        it->device_log_existed = true;
        return *it->checkin_name ? link_existing(w, it, str_of(doc, "id")) : 0;
    }
    bts_frappe_error_format(err, line, sizeof(line));
    cJSON *minimal = minimal_device_log(w, it, line);
    int r = minimal ? bts_erpnext_insert(w->erp, minimal, NULL, &again) : BTS_ENOMEM;
    cJSON_Delete(minimal);
    if (r == BTS_EPERM && again.cls == BTS_FE_DUPLICATE_ENTRY)
        r = 0; /* written by an earlier try whose answer was lost */
    if (r == 0) {
        log_item(LOG_WARNING, it, "kept as a reduced Device Log, ERPNext refused the full one",
                 line);
        return 0;
    }
    if (r != BTS_EPERM)
        return stop_error(w, &(phase){.what = "a reduced Device Log"}, r, &again);
    log_item(LOG_ERR, it, "refused by ERPNext even as a reduced Device Log", line);
    it->rejected = true;
    return 0;
}

/* The Device Logs still to write among items, each naming its checkin or why there is none. */
static int device_logs_prepare(bts_writer *w, phase *p, bts_item *items, size_t n,
                               bts_write_counts *c)
{
    *p = (phase){.what = "BioTime Device Logs", .accepted = device_logs_accepted,
                 .refused = device_log_refused, .counts = c};
    int r = phase_alloc(p, n);
    for (size_t i = 0; r == 0 && i < n; i++) {
        bts_item *it = &items[i];
        if (it->done_before)
            continue;
        p->items[p->n] = it;
        p->docs[p->n] = bts_map_device_log(w->cfg, &it->txn,
                                           *it->checkin_name ? it->checkin_name : NULL,
                                           *it->employee ? it->employee : NULL);
        if (!p->docs[p->n] || !cJSON_ReplaceItemInObjectCaseSensitive(
                                  p->docs[p->n], "id", cJSON_CreateString(it->device_log_name)))
            r = BTS_ENOMEM;
        else if (*it->park_reason)
            cJSON_AddStringToObject(p->docs[p->n], "sync_error", it->park_reason);
        p->n++;
    }
    return r;
}

static void device_logs_finish(phase *p, bool ok, bts_write_counts *c)
{
    for (size_t i = 0; i < p->n; i++) {
        if (ok && p->items[i]->device_log_existed)
            c->device_log_duplicates++;
        if (ok && p->items[i]->rejected)
            c->rejected++;
        if (ok && !*p->items[i]->checkin_name)
            c->parked++;
        cJSON_Delete(p->docs[i]);
    }
    phase_free(p);
}

/* --- dry run -------------------------------------------------------------------- */

static void dry_print(bts_writer *w, const bts_item *it)
{
    const cJSON *c = it->checkin;
    if (c)
        fprintf(w->dry_out, "%lld emp_code=%s punch_time=%s -> checkin employee=%s time=%s "
                "log_type=%s device_id=%s; Device Log synced=1\n", (long long)it->txn.id,
                it->txn.emp_code, it->txn.punch_time, str_of(c, "employee"), str_of(c, "time"),
                str_of(c, "log_type"), str_of(c, "device_id"));
    else
        fprintf(w->dry_out, "%lld emp_code=%s punch_time=%s -> Device Log synced=0 (%s)\n",
                (long long)it->txn.id, it->txn.emp_code, it->txn.punch_time, it->park_reason);
}

int bts_writer_begin(bts_writer *w, bts_item *items, size_t n, bts_write_counts *counts)
{
    uint64_t before = bts_erpnext_request_count(w->erp);
    w->error[0] = '\0';
    if (w->dry_run) {
        for (size_t i = 0; i < n; i++)
            dry_print(w, &items[i]);
        return 0;
    }
    int r = skip_existing(w, items, n, counts);
    counts->requests += bts_erpnext_request_count(w->erp) - before;
    return r;
}

int bts_writer_step(bts_writer *w, bts_item *cur, size_t n_cur, bts_item *prev, size_t n_prev,
                    bts_write_counts *counts)
{
    uint64_t before = bts_erpnext_request_count(w->erp);
    phase checkins = {0}, logs = {0};
    phase *both[] = {&checkins, &logs};
    int r = 0;
    if (w->dry_run)
        return 0;
    if ((r = checkins_prepare(w, &checkins, cur, n_cur, counts)) == 0 &&
        (r = device_logs_prepare(w, &logs, prev, n_prev, counts)) == 0 &&
        (r = run_phases(w, both, 2)) == 0)
        checkins_finish(cur, n_cur, counts);
    phase_free(&checkins);
    device_logs_finish(&logs, r == 0, counts);
    counts->requests += bts_erpnext_request_count(w->erp) - before;
    return r;
}

int bts_writer_write(bts_writer *w, bts_item *items, size_t n, bts_write_counts *counts)
{
    int r = bts_writer_begin(w, items, n, counts);
    if (r == 0)
        r = bts_writer_step(w, items, n, NULL, 0, counts);
    if (r == 0)
        r = bts_writer_step(w, NULL, 0, items, n, counts);
    return r;
}

int bts_writer_relink(bts_writer *w, bts_item *items, size_t n, bts_write_counts *counts)
{
    uint64_t before = bts_erpnext_request_count(w->erp);
    int r = write_checkins(w, items, n, counts);
    for (size_t i = 0; r == 0 && i < n; i++)
        if (*items[i].checkin_name)
            r = link_existing(w, &items[i], str_of(items[i].txn.raw, "name"));
    counts->requests += bts_erpnext_request_count(w->erp) - before;
    return r;
}

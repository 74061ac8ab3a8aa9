/* --reconcile: BioTime's rows for a punch-time range, the Device Logs named by their ids,
 * the Device Logs ERPNext holds for the range (which also finds those the writer named
 * "<id>-r<n>" after BioTime reused an id, and those BioTime no longer has), and the
 * checkins they name. A Device Log accounts for a punch when it holds the same punch_time
 * and emp_code, as in the writer. Everything is read first, then grouped by day and
 * terminal; nothing is written. Names go in chunks through POST frappe.client.get_list:
 * 200 names overflow a URL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bts/biotime.h"
#include "bts/erpnext.h"
#include "bts/log.h"
#include "bts/map.h"
#include "bts/reconcile.h"
#include "bts/txn.h"

#define RC_CHUNK 200           /* names per get_list: the most insert_many takes, too */
#define RC_MAX_PAGES 1000000   /* whatever BioTime's "next" says */
#define RC_NAME_MAX 141        /* Frappe names are at most 140 characters */

typedef struct {
    int64_t id;                 /* BioTime id (parsed from the name for an extra) */
    char punch_time[BTS_TIME_LEN];
    char raw_time[32];          /* punch_time as BioTime sent it: what the Device Log holds */
    char terminal[64];
    char emp_code[64];
    char log_name[RC_NAME_MAX]; /* the Device Log's name, once found */
    char checkin[RC_NAME_MAX];  /* the Device Log's employee_check_in */
    bool in_biotime, has_log, synced, checkin_found;
} rc_rec;

typedef struct {
    const bts_config *cfg;
    const char *since, *until;
    FILE *out;
    rc_rec *v;
    size_t n, cap;
    size_t n_bt;                /* v[0..n_bt) came from BioTime, sorted by id, unique */
    uint64_t unusable, outside;
} rc;

/* The counts of one table row. */
typedef struct {
    uint64_t punches, logs, checkins, parked, missing, extra;
} rc_counts;

static rc_rec *rc_push(rc *s)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        rc_rec *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return NULL;
        s->v = v;
        s->cap = cap;
    }
    memset(&s->v[s->n], 0, sizeof(s->v[0]));
    return &s->v[s->n++];
}

/* The sync's own filters (rows.c): selected terminals, nothing before start_date. */
static bool rc_selected(const bts_config *cfg, const char *terminal, const char *punch_time)
{
    const char *start = cfg->sync.start_date;
    bool term = cfg->biotime.n_terminals == 0;
    for (size_t i = 0; !term && i < cfg->biotime.n_terminals; i++)
        term = strcmp(cfg->biotime.terminals[i], terminal) == 0;
    return term && !(*start && strncmp(punch_time, start, 10) < 0);
}

static bool rc_in_range(const rc *s, const char *punch_time)
{
    return strcmp(punch_time, s->since) >= 0 && strcmp(punch_time, s->until) <= 0;
}

/* One BioTime row: kept when usable, selected and really in the range (BioTime ignores
 * filters it does not know, and then answers everything). */
static int rc_take_row(rc *s, const cJSON *row)
{
    bts_txn t;
    char err[256];
    if (bts_txn_parse(row, &t, err, sizeof(err)) < 0) {
        s->unusable++;
        return 0;
    }
    int r = 0;
    if (!rc_in_range(s, t.punch_time)) {
        s->outside++;
    } else if (rc_selected(s->cfg, t.terminal_sn, t.punch_time)) {
        rc_rec *rec = rc_push(s);
        if (!rec) {
            r = BTS_ENOMEM;
        } else {
            rec->id = t.id;
            rec->in_biotime = true;
            bts_strlcpy(rec->punch_time, t.punch_time, sizeof(rec->punch_time));
            bts_json_text(row, "punch_time", rec->raw_time, sizeof(rec->raw_time));
            bts_strlcpy(rec->terminal, t.terminal_sn, sizeof(rec->terminal));
            bts_strlcpy(rec->emp_code, t.emp_code, sizeof(rec->emp_code));
        }
    }
    bts_txn_clear(&t);
    return r;
}

static int rc_range_query(const rc *s, char *out, size_t n)
{
    char *since = bts_http_escape(s->since), *until = bts_http_escape(s->until);
    int r = since && until ? 0 : BTS_ENOMEM;
    if (r == 0)
        snprintf(out, n, "start_time=%s&end_time=%s", since, until);
    free(since);
    free(until);
    return r;
}

static int rc_read_pages(rc *s, bts_biotime *b, const char *query)
{
    int64_t size = s->cfg->biotime.page_size, last = RC_MAX_PAGES;
    int r = 0;
    for (int64_t page_no = 1; r == 0 && page_no <= last; page_no++) {
        bts_page pg;
        const cJSON *row;
        if ((r = bts_biotime_transactions(b, page_no, size, query, &pg)) < 0)
            break;
        if (page_no == 1 && pg.count >= 0 && pg.count / size + 2 < last)
            last = pg.count / size + 2; /* a server whose "next" never ends */
        cJSON_ArrayForEach(row, pg.rows)
            if (r == 0)
                r = rc_take_row(s, row);
        bool more = pg.has_next && cJSON_GetArraySize(pg.rows) > 0;
        bts_page_clear(&pg);
        if (!more)
            break;
    }
    return r;
}

static int rc_cmp_id(const void *a, const void *b)
{
    int64_t x = ((const rc_rec *)a)->id, y = ((const rc_rec *)b)->id;
    return (x > y) - (x < y);
}

/* Sorted by id and unique (a page boundary moving under inserts repeats rows). */
static void rc_sort_unique(rc *s)
{
    size_t w = 0;
    qsort(s->v, s->n, sizeof(s->v[0]), rc_cmp_id);
    for (size_t i = 0; i < s->n; i++)
        if (w == 0 || s->v[w - 1].id != s->v[i].id)
            s->v[w++] = s->v[i];
    s->n = s->n_bt = w;
}

static int rc_read_biotime(rc *s)
{
    bts_biotime *b = NULL;
    bts_http_failure failure = {.status = 0};
    bts_http_fields f;
    char query[256];
    int r = rc_range_query(s, query, sizeof(query));
    if (r == 0 && (r = bts_biotime_new(&s->cfg->biotime, &b)) == 0 &&
        (r = rc_read_pages(s, b, query)) < 0)
        failure = *bts_biotime_failure(b);
    bts_biotime_free(b);
    if (r < 0)
        bts_log_fields(LOG_ERR, bts_http_failure_fields(&failure, &f), "reconcile: cannot read "
                       "the range from BioTime: %s (the log above says why)", bts_strerror(r));
    else
        rc_sort_unique(s);
    return r;
}

/* ---- ERPNext ---- */

static int rc_erp_failed(const char *what, int r, const bts_frappe_error *err)
{
    char line[600];
    bts_http_fields f;
    const char *hint = "";
    bts_frappe_error_format(err, line, sizeof(line));
    if (err->cls == BTS_FE_NOT_FOUND)
        hint = ": run biotime-syncd --setup-doctypes";
    else if (err->cls == BTS_FE_WRONG_SITE)
        hint = ": wrong host or site: set erpnext.url to the site's own name or "
               "erpnext.site_name";
    else if (r == BTS_EAUTH)
        hint = ": check erpnext.api_key, erpnext.api_secret and the API user's roles";
    else if (r == BTS_EPERM)
        hint = ": biotime-syncd --test-connection says what is wrong";
    bts_log_fields(LOG_ERR, bts_erpnext_fields(r, err, &f),
                   "reconcile: cannot read %s from ERPNext: %s%s", what, line, hint);
    return r == BTS_EPERM ? BTS_EAUTH : r; /* refused: the site is not as configured */
}

/* The id a Device Log name carries under this server's naming, or false (another
 * server's record, when biotime.name tells servers apart). The writer names a punch whose
 * id BioTime reused (after a database restore) "<id>-r<n>". */
static bool rc_id_of(const bts_config *cfg, const char *name, int64_t *ret)
{
    const char *prefix = cfg->biotime.name;
    size_t plen = strlen(prefix);
    char *end;
    if (plen && (strncmp(name, prefix, plen) != 0 || name[plen] != '-'))
        return false;
    name += plen ? plen + 1 : 0;
    if (*name < '1' || *name > '9')
        return false;
    long long id = strtoll(name, &end, 10);
    if (end[0] == '-' && end[1] == 'r' && end[2] >= '1' && end[2] <= '9')
        (void)strtoul(end + 2, &end, 10);
    *ret = id;
    return *end == '\0' && id > 0;
}

static rc_rec *rc_find(rc *s, int64_t id)
{
    rc_rec key = {.id = id};
    return bsearch(&key, s->v, s->n_bt, sizeof(s->v[0]), rc_cmp_id);
}

static cJSON *rc_log_fields(void)
{
    static const char *const f[] = {"name", "synced", "employee_check_in", "emp_code",
                                    "punch_time", "terminal_sn"};
    return cJSON_CreateStringArray(f, (int)BTS_ARRAY_SIZE(f));
}

/* [["name", "in", names]], taking names. */
static cJSON *rc_name_filter_take(cJSON *names)
{
    cJSON *filters = cJSON_CreateArray(), *cond = cJSON_CreateArray();
    if (!filters || !cond || !cJSON_AddItemToArray(filters, cond)) {
        cJSON_Delete(cond);
        cJSON_Delete(filters);
        cJSON_Delete(names);
        return NULL;
    }
    cJSON_AddItemToArray(cond, cJSON_CreateString("name"));
    cJSON_AddItemToArray(cond, cJSON_CreateString("in"));
    if (!names || !cJSON_AddItemToArray(cond, names) || cJSON_GetArraySize(cond) != 3) {
        cJSON_Delete(filters); /* names, when added, goes with it */
        return NULL;
    }
    return filters;
}

/* Does this Device Log hold this BioTime punch? The writer's test (writer.c same_punch):
 * after a restore, the Device Log of an id can hold an older, different punch. */
static bool rc_same_punch(const rc_rec *rec, const cJSON *row)
{
    char t[sizeof(rec->raw_time)] = "", code[sizeof(rec->emp_code)] = "";
    bts_json_text(row, "punch_time", t, sizeof(t));
    bts_json_text(row, "emp_code", code, sizeof(code));
    return strcmp(t, rec->raw_time) == 0 && strcmp(code, rec->emp_code) == 0;
}

static void rc_log_state(rc_rec *rec, const cJSON *row, const char *name)
{
    char synced[8] = "";
    bts_json_text(row, "synced", synced, sizeof(synced));
    bts_strlcpy(rec->log_name, name, sizeof(rec->log_name));
    rec->has_log = true;
    rec->synced = *synced && strcmp(synced, "0") != 0;
    bts_json_text(row, "employee_check_in", rec->checkin, sizeof(rec->checkin));
}

/* A Device Log of the range that BioTime did not send: an extra record. */
static int rc_add_extra(rc *s, const cJSON *row, int64_t id, const char *name)
{
    rc_rec *rec;
    char pt[BTS_TIME_LEN] = "", term[64] = "";
    bts_json_text(row, "punch_time", pt, sizeof(pt));
    bts_json_text(row, "terminal_sn", term, sizeof(term));
    if (!rc_selected(s->cfg, term, pt) || !rc_in_range(s, pt))
        return 0;
    if (!(rec = rc_push(s)))
        return BTS_ENOMEM;
    rec->id = id;
    bts_strlcpy(rec->punch_time, pt, sizeof(rec->punch_time));
    bts_strlcpy(rec->terminal, term, sizeof(rec->terminal));
    bts_json_text(row, "emp_code", rec->emp_code, sizeof(rec->emp_code));
    rc_log_state(rec, row, name);
    return 0;
}

/* Marks the records the rows answer; with extras, adds the Device Logs BioTime lacks. */
static int rc_apply_logs(rc *s, const cJSON *rows, bool extras)
{
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "name"));
        int64_t id;
        rc_rec *rec;
        if (!name || !rc_id_of(s->cfg, name, &id))
            continue;
        if ((rec = rc_find(s, id)) && rc_same_punch(rec, row))
            rc_log_state(rec, row, name);
        else if (extras && rc_add_extra(s, row, id, name) < 0)
            return BTS_ENOMEM;
    }
    return 0;
}

static int rc_logs_chunk(rc *s, bts_erpnext *e, const cJSON *fields, size_t from, size_t to)
{
    cJSON *names = cJSON_CreateArray(), *filters, *rows = NULL;
    bts_frappe_error err = {0};
    char name[RC_NAME_MAX];
    for (size_t i = from; names && i < to; i++) {
        bts_map_device_log_id(s->cfg->biotime.name, s->v[i].id, name, sizeof(name));
        cJSON_AddItemToArray(names, cJSON_CreateString(name));
    }
    if (cJSON_GetArraySize(names) != (int)(to - from)) {
        cJSON_Delete(names); /* out of memory: a dropped name would read as missing */
        return BTS_ENOMEM;
    }
    if (!(filters = rc_name_filter_take(names)))
        return BTS_ENOMEM;
    int r = bts_erpnext_get_list(e, s->cfg->erpnext.device_log_doctype, fields, filters,
                                 (int64_t)(to - from), &rows, &err);
    if (r < 0)
        r = rc_erp_failed("the Device Logs", r, &err);
    else
        r = rc_apply_logs(s, rows, false);
    cJSON_Delete(filters);
    cJSON_Delete(rows);
    return r;
}

/* The Device Logs whose punch_time is in the range; two comparisons rather than
 * "between", which Frappe turns into dates for Data fields. */
static int rc_read_extras(rc *s, bts_erpnext *e, const cJSON *fields)
{
    const char *lo[] = {"punch_time", ">=", s->since}, *hi[] = {"punch_time", "<=", s->until};
    cJSON *filters = cJSON_CreateArray(), *rows = NULL;
    bts_frappe_error err = {0};
    int r = BTS_ENOMEM;
    if (filters && cJSON_AddItemToArray(filters, cJSON_CreateStringArray(lo, 3)) &&
        cJSON_AddItemToArray(filters, cJSON_CreateStringArray(hi, 3)) &&
        cJSON_GetArraySize(filters) == 2)
        r = bts_erpnext_get_list(e, s->cfg->erpnext.device_log_doctype, fields, filters, 0,
                                 &rows, &err);
    if (r < 0 && r != BTS_ENOMEM)
        r = rc_erp_failed("the Device Logs of the range", r, &err);
    if (r == 0)
        r = rc_apply_logs(s, rows, true);
    cJSON_Delete(filters);
    cJSON_Delete(rows);
    return r;
}

static int rc_read_logs(rc *s, bts_erpnext *e)
{
    cJSON *fields = rc_log_fields();
    int r = fields ? 0 : BTS_ENOMEM;
    for (size_t i = 0; r == 0 && i < s->n_bt; i += RC_CHUNK)
        r = rc_logs_chunk(s, e, fields, i, i + RC_CHUNK < s->n_bt ? i + RC_CHUNK : s->n_bt);
    if (r == 0)
        r = rc_read_extras(s, e, fields);
    cJSON_Delete(fields);
    return r;
}

static int rc_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The distinct checkin names the synced Device Logs give, sorted. */
static size_t rc_checkin_names(const rc *s, const char **names)
{
    size_t n = 0, w = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].has_log && s->v[i].synced && *s->v[i].checkin)
            names[n++] = s->v[i].checkin;
    qsort(names, n, sizeof(names[0]), rc_cmp_str);
    for (size_t i = 0; i < n; i++)
        if (w == 0 || strcmp(names[w - 1], names[i]) != 0)
            names[w++] = names[i];
    return w;
}

static int rc_checkins_chunk(bts_erpnext *e, const char **names, bool *found, size_t from,
                             size_t to, size_t n)
{
    static const char *const f[] = {"name", "employee", "time"};
    cJSON *fields = cJSON_CreateStringArray(f, 3), *list = cJSON_CreateArray(), *rows = NULL;
    cJSON *filters = NULL;
    bts_frappe_error err = {0};
    const cJSON *row;
    int r = BTS_ENOMEM;
    for (size_t i = from; list && i < to; i++)
        cJSON_AddItemToArray(list, cJSON_CreateString(names[i]));
    if (!fields || cJSON_GetArraySize(list) != (int)(to - from))
        cJSON_Delete(list); /* out of memory: a dropped name would read as missing */
    else if ((filters = rc_name_filter_take(list)))
        r = bts_erpnext_get_list(e, "Employee Checkin", fields, filters, (int64_t)(to - from),
                                 &rows, &err);
    if (r < 0 && r != BTS_ENOMEM)
        r = rc_erp_failed("the Employee Checkins", r, &err);
    const cJSON *answer = r == 0 ? rows : NULL;
    cJSON_ArrayForEach(row, answer) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "name"));
        const char **hit = name ? bsearch(&name, names, n, sizeof(names[0]), rc_cmp_str) : NULL;
        if (hit)
            found[hit - names] = true;
    }
    cJSON_Delete(fields);
    cJSON_Delete(filters);
    cJSON_Delete(rows);
    return r;
}

static int rc_read_checkins(rc *s, bts_erpnext *e)
{
    const char **names = calloc(s->n + 1, sizeof(*names));
    bool *found = calloc(s->n + 1, sizeof(*found));
    int r = names && found ? 0 : BTS_ENOMEM;
    size_t n = r == 0 ? rc_checkin_names(s, names) : 0;
    for (size_t i = 0; r == 0 && i < n; i += RC_CHUNK)
        r = rc_checkins_chunk(e, names, found, i, i + RC_CHUNK < n ? i + RC_CHUNK : n, n);
    for (size_t i = 0; r == 0 && i < s->n; i++) {
        rc_rec *rec = &s->v[i];
        const char *key = rec->checkin;
        const char **hit = rec->synced && *key
                               ? bsearch(&key, names, n, sizeof(names[0]), rc_cmp_str) : NULL;
        rec->checkin_found = hit && found[hit - names];
    }
    free(names);
    free(found);
    return r;
}

static int rc_read_erpnext(rc *s)
{
    bts_erpnext *e = NULL;
    int r = bts_erpnext_new(&s->cfg->erpnext, &e);
    if (r == 0)
        r = rc_read_logs(s, e);
    if (r == 0)
        r = rc_read_checkins(s, e);
    bts_erpnext_free(e);
    return r;
}

/* ---- the report ---- */

static bool rc_checkin_missing(const rc_rec *r)
{
    return r->has_log && r->synced && !r->checkin_found;
}

static void rc_count(const rc_rec *r, rc_counts *c)
{
    c->punches += r->in_biotime;
    c->logs += r->has_log;
    c->checkins += r->checkin_found;
    c->parked += r->has_log && !r->synced;
    c->missing += (r->in_biotime && !r->has_log) + rc_checkin_missing(r);
    c->extra += !r->in_biotime;
}

static int rc_cmp_group(const void *a, const void *b)
{
    const rc_rec *x = a, *y = b;
    int k = strncmp(x->punch_time, y->punch_time, 10);
    if (k == 0)
        k = strcmp(x->terminal, y->terminal);
    return k ? k : rc_cmp_id(a, b);
}

static void rc_print_row(FILE *out, const char *day, const char *term, const rc_counts *c)
{
    fprintf(out, "%-10s  %-16s %7llu %11llu %8llu %6llu %7llu %5llu\n", day,
            *term ? term : "-", (unsigned long long)c->punches, (unsigned long long)c->logs,
            (unsigned long long)c->checkins, (unsigned long long)c->parked,
            (unsigned long long)c->missing, (unsigned long long)c->extra);
}

static bool rc_same_group(const rc_rec *a, const rc_rec *b)
{
    return strncmp(a->punch_time, b->punch_time, 10) == 0 && strcmp(a->terminal, b->terminal) == 0;
}

static void rc_add_counts(rc_counts *total, const rc_counts *c)
{
    total->punches += c->punches;
    total->logs += c->logs;
    total->checkins += c->checkins;
    total->parked += c->parked;
    total->missing += c->missing;
    total->extra += c->extra;
}

static void rc_print_table(rc *s, rc_counts *total)
{
    fprintf(s->out, "%-10s  %-16s %7s %11s %8s %6s %7s %5s\n", "DATE", "TERMINAL", "punches",
            "device_logs", "checkins", "parked", "missing", "extra");
    qsort(s->v, s->n, sizeof(s->v[0]), rc_cmp_group);
    for (size_t i = 0, j; i < s->n; i = j) {
        rc_counts c = {0};
        char day[11];
        bts_strlcpy(day, s->v[i].punch_time, sizeof(day));
        for (j = i; j < s->n && rc_same_group(&s->v[i], &s->v[j]); j++)
            rc_count(&s->v[j], &c);
        rc_print_row(s->out, day, s->v[i].terminal, &c);
        rc_add_counts(total, &c);
    }
}

static void rc_print_problem(const rc *s, const rc_rec *r)
{
    char name[RC_NAME_MAX];
    if (r->has_log)
        bts_strlcpy(name, r->log_name, sizeof(name));
    else
        bts_map_device_log_id(s->cfg->biotime.name, r->id, name, sizeof(name));
    if (r->in_biotime && !r->has_log)
        fprintf(s->out, "missing  device log %s: BioTime id %lld, punch_time %s, terminal "
                "%s, emp_code %s\n", name, (long long)r->id, r->punch_time, r->terminal,
                r->emp_code);
    else if (rc_checkin_missing(r) && !*r->checkin)
        fprintf(s->out, "missing  checkin of device log %s: synced = 1 but it names no "
                "checkin (punch_time %s, emp_code %s)\n", name, r->punch_time, r->emp_code);
    else if (rc_checkin_missing(r))
        fprintf(s->out, "missing  checkin %s: named by device log %s (punch_time %s, "
                "emp_code %s), does not exist\n", r->checkin, name, r->punch_time,
                r->emp_code);
    if (!r->in_biotime)
        fprintf(s->out, "extra    device log %s: punch_time %s, terminal %s, emp_code %s: "
                "not in BioTime\n", name, r->punch_time, r->terminal, r->emp_code);
}

static int rc_cmp_code(const void *a, const void *b)
{
    return strcmp(((const rc_rec *const *)a)[0]->emp_code,
                  ((const rc_rec *const *)b)[0]->emp_code);
}

/* Parked punches are accounted for; one line per emp_code says whose they are. */
static int rc_print_parked(const rc *s)
{
    const rc_rec **v = calloc(s->n + 1, sizeof(*v));
    size_t n = 0;
    if (!v)
        return BTS_ENOMEM;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].has_log && !s->v[i].synced)
            v[n++] = &s->v[i];
    qsort(v, n, sizeof(v[0]), rc_cmp_code);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i; j < n && strcmp(v[i]->emp_code, v[j]->emp_code) == 0; j++)
            ;
        fprintf(s->out, "parked   emp_code %s: %zu punch%s (synced = 0: no active Employee "
                "carries it yet, or ERPNext refused the checkin)\n",
                *v[i]->emp_code ? v[i]->emp_code : "(none)", j - i, j - i == 1 ? "" : "es");
    }
    free(v);
    return 0;
}

static int rc_print_summary(const rc *s, const rc_counts *t)
{
    bool agree = t->missing == 0 && t->extra == 0;
    if (s->outside)
        fprintf(s->out, "note: BioTime sent %llu rows outside the range (it ignored "
                "start_time/end_time); they were left out here\n",
                (unsigned long long)s->outside);
    if (s->unusable)
        fprintf(s->out, "note: %llu BioTime rows were unusable (no valid id, emp_code or "
                "punch_time) and are not counted\n", (unsigned long long)s->unusable);
    fprintf(s->out, "summary: %llu punches, %llu device logs, %llu checkins, %llu parked, "
            "%llu missing, %llu extra: %s\n", (unsigned long long)t->punches,
            (unsigned long long)t->logs, (unsigned long long)t->checkins,
            (unsigned long long)t->parked, (unsigned long long)t->missing,
            (unsigned long long)t->extra, agree ? "BioTime and ERPNext agree" : "they disagree");
    if (t->missing)
        fprintf(s->out, "to write what is missing: biotime-syncd --once --since \"%s\" "
                "--until \"%s\"\n", s->since, s->until);
    return agree ? 0 : 1;
}

static int rc_report(rc *s)
{
    rc_counts total = {0};
    rc_print_table(s, &total);
    for (size_t i = 0; i < s->n; i++)
        rc_print_problem(s, &s->v[i]);
    int r = rc_print_parked(s);
    if (r == 0)
        r = rc_print_summary(s, &total);
    fflush(s->out);
    return r;
}

int bts_reconcile(const bts_config *cfg, const char *since, const char *until, FILE *out)
{
    char now[BTS_TIME_LEN];
    rc s = {.cfg = cfg, .since = since, .until = until, .out = out};
    int r = 0;
    if (!until) {
        r = bts_time_from_epoch(time(NULL), cfg->biotime.timezone, now);
        s.until = now;
    }
    if (r == 0 && (r = rc_read_biotime(&s)) == 0 && (r = rc_read_erpnext(&s)) == 0) {
        fprintf(out, "reconcile %s .. %s (BioTime's zone, %s)\n", s.since, s.until,
                cfg->biotime.timezone);
        r = rc_report(&s);
    }
    free(s.v);
    return r;
}

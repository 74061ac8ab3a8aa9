/* From BioTime rows to writer items. A row whose id is usable is never dropped: if the
 * rest of it is unusable it still becomes a Device Log (synced = 0) saying why. */
#include <stdlib.h>
#include <string.h>

#include "bts/log.h"
#include "bts/rows.h"


static void note_unknown(bts_rows *r, const char *code, int64_t id)
{
    for (size_t i = 0; i < r->n_unknown; i++)
        if (strcmp(r->unknown_codes[i], code) == 0)
            return;
    if (r->n_unknown < BTS_ARRAY_SIZE(r->unknown_codes)) {
        r->unknown_first_id[r->n_unknown] = id;
        bts_strlcpy(r->unknown_codes[r->n_unknown++], code, sizeof(r->unknown_codes[0]));
    }
}

static bool utf8_valid(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0, len; i < n; i += len)
        if ((len = bts_utf8_seq((const unsigned char *)s + i, n - i)) == 0)
            return false;
    return true;
}

/* Text of a field fit for a log line: printable ASCII, the rest as '?'. */
static void printable(const cJSON *row, const char *key, char *out, size_t n)
{
    bts_json_text(row, key, out, n);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 32 || (unsigned char)*p > 126)
            *p = '?';
}

/* A row with a valid id but unusable fields: kept as a raw Device Log with the reason. */
static int keep_unusable(const bts_rows_filter *f, bts_item *it, const cJSON *row, int64_t id,
                         const char *why)
{
    bts_item_clear(it); /* what a parse or a mapping left */
    it->txn.id = id;
    printable(row, "emp_code", it->txn.emp_code, sizeof(it->txn.emp_code));
    printable(row, "terminal_sn", it->txn.terminal_sn, sizeof(it->txn.terminal_sn));
    if (!(it->txn.raw = cJSON_PrintUnformatted(row)))
        return BTS_ENOMEM;
    it->verdict = BTS_MAP_UNMAPPED;
    bts_item_park(it, "unusable BioTime row: %.270s", why);
    bts_log(LOG_WARNING, "BioTime transactions page %lld: transaction %lld is unusable (%s); "
            "keeping it as a Device Log with synced = 0", (long long)f->page_no, (long long)id,
            why);
    return 0;
}

static void set_park_reason(const bts_config *cfg, bts_item *it, const bts_employee *emp)
{
    char why[300];
    if (it->verdict == BTS_MAP_CHECKIN)
        return;
    bts_map_park_reason(cfg, it->verdict, &it->txn, emp, why, sizeof(why));
    bts_item_park(it, "%s", why);
}

static bool outside_range(const bts_rows_filter *f, const bts_txn *t)
{
    return (f->since && strcmp(t->punch_time, f->since) < 0) ||
           (f->until && strcmp(t->punch_time, f->until) > 0);
}

/* Parses, filters and maps one row into *it; returns 1 when it is to be written. */
static int build_one(const bts_rows_filter *f, const cJSON *row, int64_t id, bts_item *it,
                     bts_rows *r)
{
    char err[256];
    const bts_employee *emp = NULL;
    if (bts_txn_parse(row, &it->txn, err, sizeof(err)) < 0)
        return keep_unusable(f, it, row, id, err) < 0 ? BTS_ENOMEM : 1;
    if (!utf8_valid(it->txn.emp_code))
        return keep_unusable(f, it, row, id, "emp_code is not valid UTF-8") < 0 ? BTS_ENOMEM : 1;
    const char *start = f->cfg->sync.start_date;
    if (!bts_config_terminal_selected(f->cfg, it->txn.terminal_sn) ||
        (*start && strncmp(it->txn.punch_time, start, 10) < 0)) {
        r->skipped++;
        return 0;
    }
    if (outside_range(f, &it->txn)) {
        r->outside++;
        return 0;
    }
    int rc = bts_map_checkin(f->cfg, f->emps, f->geolocation, &it->txn, &it->verdict,
                             &it->checkin, &emp);
    if (rc < 0) {
        char why[300];
        snprintf(why, sizeof(why), "%s", "punch_time cannot be converted between zones");
        return keep_unusable(f, it, row, id, why) < 0 ? BTS_ENOMEM : 1;
    }
    if (emp)
        bts_strlcpy(it->employee, emp->name, sizeof(it->employee));
    if (it->verdict == BTS_MAP_UNMAPPED)
        note_unknown(r, it->txn.emp_code, it->txn.id);
    set_park_reason(f->cfg, it, emp);
    return 1;
}

/* A page that repeats a row (a broken server) must not write it twice in one batch. */
static bool seen_in(const bts_rows *r, int64_t id)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->items[i].txn.id == id)
            return true;
    return false;
}

int bts_rows_build(const bts_rows_filter *f, const cJSON *rows, bts_rows *ret)
{
    memset(ret, 0, sizeof(*ret));
    return bts_rows_append(f, rows, ret);
}

/* A row without a usable id cannot be named in ERPNext (nor told from another): said once
 * per page; the count is in the cycle's "rejected". */
static void warn_no_id(const bts_rows_filter *f, const cJSON *row)
{
    char shown[48], code[48];
    printable(row, "id", shown, sizeof(shown));
    printable(row, "emp_code", code, sizeof(code));
    bts_log(LOG_WARNING, "BioTime transactions page %lld: a row's id is unusable (id \"%s\", "
            "emp_code \"%s\"): it cannot be named in ERPNext, skipped (and any more such "
            "rows of this page)", (long long)f->page_no, shown, code);
}

/* Was this id-less row reported before (by its text, FNV-1a)? Remembers it if not. */
static bool memo_seen(bts_rows_memo *m, const cJSON *row)
{
    char *text = m ? cJSON_PrintUnformatted(row) : NULL;
    uint64_t h = 1469598103934665603ULL;
    if (!text)
        return false;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    free(text);
    for (size_t i = 0; i < m->n; i++)
        if (m->seen[i] == h)
            return true;
    m->seen[m->next] = h;
    m->next = (m->next + 1) % BTS_ARRAY_SIZE(m->seen);
    if (m->n < BTS_ARRAY_SIZE(m->seen))
        m->n++;
    return false;
}

int bts_rows_append(const bts_rows_filter *f, const cJSON *rows, bts_rows *ret)
{
    const cJSON *row;
    unsigned no_id = 0;
    bts_item *grown = realloc(ret->items, (ret->n + (size_t)cJSON_GetArraySize(rows) + 1) *
                                              sizeof(*ret->items));
    if (!grown)
        return BTS_ENOMEM;
    ret->items = grown;
    cJSON_ArrayForEach(row, rows) {
        int64_t id;
        if (bts_json_int64(row, "id", &id) < 0) {
            if (memo_seen(f->memo, row))
                continue; /* reported and counted when it first came */
            if (no_id++ == 0) /* one line per page, naming the first such row */
                warn_no_id(f, row);
            ret->rejected++;
            continue;
        }
        if (id <= f->above_id)
            continue;
        if (ret->n > 0 && seen_in(ret, id)) {
            bts_log(LOG_WARNING, "BioTime transactions page %lld: id %lld is sent twice; the "
                    "first copy is kept", (long long)f->page_no, (long long)id);
            continue;
        }
        if (id > ret->max_id)
            ret->max_id = id;
        bts_item *it = &ret->items[ret->n];
        memset(it, 0, sizeof(*it));
        int k = build_one(f, row, id, it, ret);
        if (k < 0)
            return k;
        if (k == 1)
            ret->n++;
        else
            bts_item_clear(it);
    }
    return 0;
}

void bts_rows_clear(bts_rows *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        bts_item_clear(&r->items[i]);
    free(r->items);
    memset(r, 0, sizeof(*r));
}

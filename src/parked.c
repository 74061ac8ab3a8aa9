/* Parked punches (Device Log synced = 0: employee unknown or inactive, or a checkin ERPNext
 * refused) get their checkin once the employee maps, read back from ERPNext rather than
 * from BioTime, so the cursor never has to move back. */
#include <stdlib.h>
#include <string.h>

#include "bts/flow.h"
#include "bts/sync_internal.h"

#define PARKED_RECHECK_MS (60 * 60 * 1000) /* also retried hourly: ERPNext settings change */
#define PARKED_PAGE 500      /* read in pages: memory does not grow with what is parked */
#define PARKED_MAX_PAGES 10000

static const char *const parked_fields =
    "[\"name\",\"emp_code\",\"punch_time\",\"punch_state\",\"terminal_sn\","
    "\"terminal_alias\"]";

/* The BioTime id in a Device Log name: "<id>", "<biotime.name>-<id>", either with "-r<n>"
 * after a BioTime restore; 0 when there is none (the journal then names no transaction). */
static int64_t id_of_device_log(const char *name)
{
    const char *end = name + strlen(name), *r = strrchr(name, '-');
    if (r && r[1] == 'r' && r[2] && strspn(r + 2, "0123456789") == strlen(r + 2))
        end = r; /* "-r<n>" */
    const char *start = end;
    while (start > name && start[-1] >= '0' && start[-1] <= '9')
        start--;
    if (start == end || end - start > 18 || (start > name && start[-1] != '-'))
        return 0;
    return strtoll(start, NULL, 10);
}

/* Is this Device Log one this instance wrote: "<biotime.name>-<id>" (or "<id>" without a
 * name), "-r<n>" after a BioTime restore? Every instance on a site reads the same doctype,
 * and the punches of another BioTime server are that instance's to retry and count. */
static bool own_device_log(const bts_sync *s, const char *name)
{
    const char *label = s->cfg->biotime.name, *rest = name;
    size_t n = strlen(label);
    if (n && (strncmp(name, label, n) != 0 || name[n] != '-'))
        return false;
    rest += n ? n + 1 : 0;
    size_t digits = strspn(rest, "0123456789");
    if (digits == 0)
        return false;
    rest += digits;
    return !*rest || (rest[0] == '-' && rest[1] == 'r' && rest[2] &&
                      strspn(rest + 2, "0123456789") == strlen(rest + 2));
}

/* A transaction rebuilt from a parked Device Log row (which holds BioTime's raw text). */
static int txn_from_device_log(const cJSON *row, bts_txn *t)
{
    char name[160];
    memset(t, 0, sizeof(*t));
    bts_json_text(row, "name", name, sizeof(name));
    t->id = id_of_device_log(name);
    if (bts_json_text(row, "emp_code", t->emp_code, sizeof(t->emp_code)) <= 0 ||
        bts_json_text(row, "punch_time", t->punch_time, sizeof(t->punch_time)) <= 0)
        return BTS_EINVAL;
    struct tm tm;
    if (bts_time_parse(t->punch_time, false, &tm) < 0)
        return BTS_EINVAL;
    bts_json_text(row, "punch_state", t->punch_state, sizeof(t->punch_state));
    bts_json_text(row, "terminal_sn", t->terminal_sn, sizeof(t->terminal_sn));
    bts_json_text(row, "terminal_alias", t->terminal_alias, sizeof(t->terminal_alias));
    t->raw = cJSON_PrintUnformatted(row);
    return t->raw ? 0 : BTS_ENOMEM;
}

static void note_waiting(bts_sync *s, const bts_item *it)
{
    s->st.parked_waiting++;
    if (it->verdict != BTS_MAP_UNMAPPED)
        return;
    for (size_t k = 0; k < s->st.n_unknown_codes; k++)
        if (strcmp(s->st.unknown_codes[k], it->txn.emp_code) == 0)
            return;
    if (s->st.n_unknown_codes < BTS_STATE_MAX_CODES)
        bts_strlcpy(s->st.unknown_codes[s->st.n_unknown_codes++], it->txn.emp_code,
                    sizeof(s->st.unknown_codes[0]));
}

/* Splits the parked rows into items that can now get a checkin, counting the rest. */
static size_t build_items(bts_sync *s, const cJSON *rows, bts_item *items)
{
    const cJSON *row;
    size_t n = 0;
    cJSON_ArrayForEach(row, rows) {
        bts_item *it = &items[n];
        const bts_employee *emp = NULL;
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(row, "name"));
        memset(it, 0, sizeof(*it));
        if (!name || !own_device_log(s, name))
            continue;
        if (txn_from_device_log(row, &it->txn) < 0 ||
            bts_map_checkin(s->cfg, s->emps, &it->txn, &it->verdict, &it->checkin, &emp) < 0) {
            s->st.parked_waiting++;
            bts_item_clear(it);
            continue;
        }
        if (it->verdict != BTS_MAP_CHECKIN) {
            note_waiting(s, it);
            bts_item_clear(it);
            continue;
        }
        bts_strlcpy(it->employee, emp->name, sizeof(it->employee));
        n++;
    }
    return n;
}

static bool due(const bts_sync *s)
{
    return s->emps_changed || s->parked_checked_ms == 0 ||
           bts_now_ms() - s->parked_checked_ms >= PARKED_RECHECK_MS;
}

/* The next page of parked Device Logs by name, after `after`: keyset paging, since a row
 * that gets its checkin leaves the filter and offsets would then skip rows. */
static int read_page(bts_sync *s, const char *after, cJSON **ret_rows)
{
    char filters[512];
    cJSON *name = cJSON_CreateString(after);
    char *quoted = name ? cJSON_PrintUnformatted(name) : NULL;
    bts_frappe_error err;
    int r = BTS_ENOMEM;
    if (quoted) {
        /* A named instance reads only its own rows ('_' in a label over-matches, which
         * own_device_log sorts out); a nameless one filters what it reads. */
        int k = snprintf(filters, sizeof(filters),
                         "[[\"synced\",\"=\",0],[\"name\",\">\",%s]", quoted);
        if (*s->cfg->biotime.name)
            k += snprintf(filters + k, sizeof(filters) - (size_t)k,
                          ",[\"name\",\"like\",\"%s-%%\"]", s->cfg->biotime.name);
        snprintf(filters + k, sizeof(filters) - (size_t)k, "]");
        r = bts_erpnext_list(s->erp, s->cfg->erpnext.device_log_doctype, parked_fields,
                             filters, PARKED_PAGE, "name asc", ret_rows, &err);
    }
    if (r < 0 && r != BTS_ENOMEM) {
        char line[600];
        bts_http_fields fields;
        bts_frappe_error_format(&err, line, sizeof(line));
        bts_log_fields(LOG_WARNING, bts_erpnext_fields(r, &err, &fields),
                       "could not read parked punches from ERPNext: %s", line);
    }
    cJSON_free(quoted);
    cJSON_Delete(name);
    return r;
}

/* Writes the checkins of the page's punches that now map; counts the others. */
static int retry_page(bts_sync *s, bts_cycle *c, const cJSON *rows, bts_write_counts *wc)
{
    bts_item *items = calloc((size_t)cJSON_GetArraySize(rows) + 1, sizeof(*items));
    int r = items ? 0 : BTS_ENOMEM;
    size_t n = items ? build_items(s, rows, items) : 0;
    bts_rows relink = {.items = items, .n = n};
    bts_http_fields fields;
    if (n > 0 && (r = bts_flow_write(&s->w, &relink, true, wc)) < 0)
        bts_log_fields(LOG_WARNING, bts_http_failure_fields(&s->w.failure, &fields),
                       "retrying parked punches: %s", s->w.error);
    for (size_t i = 0; i < n; i++) {
        if (*items[i].checkin_name)
            c->unparked++;
        else
            note_waiting(s, &items[i]);
        bts_item_clear(&items[i]);
    }
    free(items);
    return r;
}

int bts_sync_retry_parked(bts_sync *s, bts_cycle *c)
{
    char after[160] = "";
    bts_write_counts wc = {0};
    if (!s->cfg->erpnext.create_checkins || !due(s))
        return 0;
    int r = 0;
    for (int page = 0; r == 0 && page < PARKED_MAX_PAGES; page++) {
        cJSON *rows = NULL;
        if ((r = read_page(s, after, &rows)) < 0)
            break; /* the next check tries again; the punches are safe in ERPNext */
        if (page == 0) {
            s->emps_changed = false;
            s->parked_checked_ms = bts_now_ms();
            s->st.parked_waiting = 0;
            s->st.n_unknown_codes = 0;
        }
        int n = cJSON_GetArraySize(rows);
        if (n > 0)
            bts_json_text(cJSON_GetArrayItem(rows, n - 1), "name", after, sizeof(after));
        r = retry_page(s, c, rows, &wc);
        cJSON_Delete(rows);
        if (n < PARKED_PAGE || !*after)
            break;
    }
    if (c->unparked)
        bts_notice("%llu parked punches got their checkin; %llu still waiting",
                   (unsigned long long)c->unparked, (unsigned long long)s->st.parked_waiting);
    c->checkins += wc.checkins;
    return 0;
}

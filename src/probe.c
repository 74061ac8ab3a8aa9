/* --test-connection: each check asks the servers what the daemon will ask them, and turns
 * every way it can go wrong into one line that names the fix. Checks after a failed one
 * that depends on it are skipped (no login, no point reading transactions). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bts/biotime.h"
#include "bts/erpnext.h"
#include "bts/log.h"
#include "bts/probe.h"
#include "bts/setup.h"
#include "bts/txn.h"

#define ORDER_SAMPLE 5 /* rows looked at to tell the server's sort order */

typedef enum { PROBE_OK, PROBE_WARN, PROBE_FAIL } probe_verdict;

typedef struct {
    const bts_config *cfg;
    FILE *out;
    unsigned counts[3];
    char user[160];      /* the ERPNext API user */
    bool system_manager; /* it has System Manager (or is Administrator) */
} probe;

static void say(probe *p, probe_verdict v, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void say(probe *p, probe_verdict v, const char *check, const char *fmt, ...)
{
    static const char *const words[] = {"ok", "warning", "FAILED"};
    va_list ap;
    p->counts[v]++;
    fprintf(p->out, "%-7s %s: ", words[v], check);
    va_start(ap, fmt);
    vfprintf(p->out, fmt, ap);
    va_end(ap);
    fputc('\n', p->out);
    fflush(p->out);
}

/* ---- BioTime ---- */

static const char *auth_name(bts_auth_mode m)
{
    return m == BTS_AUTH_JWT ? "jwt" : m == BTS_AUTH_TOKEN ? "token" : "basic";
}

static int bt_login(probe *p, bts_biotime *b)
{
    const bts_biotime_config *c = &p->cfg->biotime;
    int r = bts_biotime_login(b);
    if (r == 0 && (c->auth == BTS_AUTH_BASIC || (c->auth == BTS_AUTH_TOKEN && *c->token)))
        say(p, PROBE_OK, "BioTime login", "not needed (auth = %s): the credentials go with "
            "every request and are checked next", auth_name(c->auth));
    else if (r == 0)
        say(p, PROBE_OK, "BioTime login", "logged in to %s as \"%s\" (auth = %s)", c->url,
            c->username, auth_name(c->auth));
    else if (r == BTS_EAUTH)
        say(p, PROBE_FAIL, "BioTime login", "BioTime refused user \"%s\": wrong "
            "biotime.username or password%s (not retried, so the account does not lock)",
            c->username, *c->company ? " or biotime.company" : "");
    else if (r == BTS_EPROTO)
        say(p, PROBE_FAIL, "BioTime login", "%s answered without a token: is biotime.url the "
            "BioTime server (scheme, port, path prefix)?", c->url);
    else
        say(p, PROBE_FAIL, "BioTime login", "cannot reach BioTime at %s (%s): check "
            "biotime.url, the network and that BioTime runs", c->url, bts_strerror(r));
    return r;
}

static bool terminal_listed(const cJSON *rows, const char *sn)
{
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) {
        char have[64];
        if (bts_json_text(row, "sn", have, sizeof(have)) > 0 && strcmp(have, sn) == 0)
            return true;
    }
    return false;
}

static void bt_terminals_known(probe *p, const cJSON *rows)
{
    const bts_biotime_config *c = &p->cfg->biotime;
    for (size_t i = 0; i < c->n_terminals; i++)
        if (!terminal_listed(rows, c->terminals[i]))
            say(p, PROBE_WARN, "BioTime terminals", "biotime.terminals names \"%s\", which "
                "BioTime does not list: no punch of it will be imported", c->terminals[i]);
}

/* A 403 with a token BioTime just issued is the licence gate (biotime-api.md §1.4). */
static void bt_refused(probe *p)
{
    const bts_biotime_config *c = &p->cfg->biotime;
    if (c->auth == BTS_AUTH_BASIC)
        say(p, PROBE_FAIL, "BioTime licence", "BioTime refused the Basic credentials of "
            "\"%s\": check biotime.username and the password", c->username);
    else if (c->auth == BTS_AUTH_TOKEN && *c->token)
        say(p, PROBE_FAIL, "BioTime licence", "BioTime refused biotime.token: a wrong or "
            "revoked token, or the BioTime licence lacks the API module: then set "
            "biotime.auth = \"basic\"");
    else
        say(p, PROBE_FAIL, "BioTime licence", "HTTP 403 with a valid token: the BioTime "
            "licence lacks the API module: set biotime.auth = \"basic\"");
}

static int bt_licence(probe *p, bts_biotime *b)
{
    cJSON *rows = NULL;
    int r = bts_biotime_terminals(b, &rows);
    if (r == 0) {
        int n = cJSON_GetArraySize(rows);
        say(p, PROBE_OK, "BioTime licence", "the API answers (%d terminal%s)", n,
            n == 1 ? "" : "s");
        bt_terminals_known(p, rows);
    } else if (r == BTS_EAUTH) {
        bt_refused(p);
    } else {
        say(p, PROBE_FAIL, "BioTime licence", "could not read the terminal list (%s; the log "
            "above says why): check biotime.url", bts_strerror(r));
    }
    cJSON_Delete(rows);
    return r;
}

/* Reads one transaction; returns 1 when there is none (nothing more to check). */
static int bt_read_one(probe *p, bts_biotime *b)
{
    bts_page pg;
    bts_txn t;
    char err[256];
    int r = bts_biotime_transactions(b, 1, 1, NULL, &pg);
    if (r < 0) {
        say(p, PROBE_FAIL, "BioTime transactions", "could not read page 1 (%s; the log above "
            "says why)", bts_strerror(r));
        return r;
    }
    const cJSON *row = cJSON_GetArrayItem(pg.rows, 0);
    if (!row) {
        say(p, PROBE_WARN, "BioTime transactions", "BioTime holds no transactions yet: "
            "nothing to import, and the sort order cannot be checked");
        r = 1;
    } else if (bts_txn_parse(row, &t, err, sizeof(err)) < 0) {
        say(p, PROBE_WARN, "BioTime transactions", "read 1 of %lld, but it is unusable (%s): "
            "the sync keeps such rows as Device Logs with synced = 0", (long long)pg.count, err);
    } else {
        say(p, PROBE_OK, "BioTime transactions", "read 1 of %lld (id %lld, emp_code %s, "
            "punch_time %s, terminal %s)", (long long)pg.count, (long long)t.id, t.emp_code,
            t.punch_time, t.terminal_sn);
        bts_txn_clear(&t);
    }
    bts_page_clear(&pg);
    return r;
}

/* The sync's cursor search relies on the default order being ascending id (DESIGN.md §2);
 * without it the sync falls back to slower strategies (fallback.c). Returns 1 when the
 * order is ascending, 0 when it is not, -1 when it cannot be told. */
static int bt_default_order(probe *p, bts_biotime *b)
{
    bts_page pg;
    int k = -1;
    if (bts_biotime_transactions(b, 1, ORDER_SAMPLE, NULL, &pg) < 0) {
        say(p, PROBE_WARN, "BioTime sort order", "could not read a page to check it");
        return -1;
    }
    if (cJSON_GetArraySize(pg.rows) < 2)
        say(p, PROBE_OK, "BioTime sort order", "too few transactions to tell");
    else if ((k = pg.ascending))
        say(p, PROBE_OK, "BioTime sort order", "default order is ascending id (ids %lld..%lld)",
            (long long)pg.first_id, (long long)pg.last_id);
    else
        say(p, PROBE_WARN, "BioTime sort order", "the default order is not ascending id "
            "(page 1 starts with id %lld): the sync cannot use its id cursor and scans by "
            "upload_time instead (more requests per cycle)", (long long)pg.first_id);
    bts_page_clear(&pg);
    return k;
}

/* 1 when the rows are sorted by upload_time in direction (1 up, -1 down) with at least two
 * different values, 0 when they are not sorted, -1 when they all share one upload_time. */
static int upload_sorted(const cJSON *rows, int direction)
{
    char prev[BTS_TIME_LEN] = "", cur[BTS_TIME_LEN];
    const cJSON *row;
    bool differ = false;
    cJSON_ArrayForEach(row, rows) {
        if (bts_json_text(row, "upload_time", cur, sizeof(cur)) <= 0)
            continue;
        if (*prev && strcmp(cur, prev) * direction < 0)
            return 0;
        if (*prev && strcmp(cur, prev) != 0)
            differ = true;
        bts_strlcpy(prev, cur, sizeof(prev));
    }
    return differ ? 1 : -1;
}

/* Sorted by upload_time as asked? -2 when the page could not be read or is too short. */
static int bt_sorted_as_asked(bts_biotime *b, const char *ordering, int direction)
{
    bts_page pg;
    if (bts_biotime_transactions(b, 1, ORDER_SAMPLE, ordering, &pg) < 0)
        return -2;
    int k = cJSON_GetArraySize(pg.rows) < 2 ? -2 : upload_sorted(pg.rows, direction);
    bts_page_clear(&pg);
    return k;
}

/* Asked both ways: a server that ignores the parameter answers both in one order, which
 * cannot be sorted both ways. ascending: what bt_default_order found. */
static void bt_ordering(probe *p, bts_biotime *b, int ascending)
{
    int down = bt_sorted_as_asked(b, "ordering=-upload_time", -1);
    int up = down > 0 ? bt_sorted_as_asked(b, "ordering=upload_time", 1) : down;
    if (down == -2 || up == -2)
        say(p, PROBE_OK, "BioTime ordering", "too few transactions to tell");
    else if (down > 0 && up > 0)
        say(p, PROBE_OK, "BioTime ordering", "ordering=-upload_time honoured (newest upload "
            "first)");
    else if (down < 0)
        say(p, PROBE_OK, "BioTime ordering", "cannot tell: the newest uploads share one "
            "upload_time");
    else if (ascending != 0)
        say(p, PROBE_OK, "BioTime ordering", "BioTime ignores ordering=-upload_time; not "
            "needed while the default order is ascending id");
    else
        say(p, PROBE_WARN, "BioTime ordering", "BioTime ignores ordering=-upload_time and does "
            "not sort by id: the sync re-reads a punch-time window of sync.lookback_hours "
            "every cycle, and a punch uploaded later than that is missed: raise "
            "sync.lookback_hours to the longest a terminal stays offline");
}

static void probe_biotime(probe *p)
{
    bts_biotime *b = NULL;
    int r = bts_biotime_new(&p->cfg->biotime, &b);
    if (r < 0) {
        say(p, PROBE_FAIL, "BioTime", "cannot set up a client: %s", bts_strerror(r));
        return;
    }
    if (bt_login(p, b) == 0 && bt_licence(p, b) == 0 && bt_read_one(p, b) == 0) {
        int ascending = bt_default_order(p, b);
        bt_ordering(p, b, ascending);
    }
    bts_biotime_free(b);
}

/* ---- ERPNext ---- */

static void erp_line(const bts_frappe_error *err, char *out, size_t n)
{
    bts_frappe_error_format(err, out, n);
}

/* A list of field names as JSON text (cJSON escapes names that come from the config). */
static char *json_names(const char *const *names, size_t n)
{
    cJSON *a = cJSON_CreateStringArray(names, (int)n);
    char *s = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    return s;
}

static bool not_permitted_field(int r, const bts_frappe_error *err)
{
    return r == BTS_EPERM && err->status == 417 &&
           (strstr(err->message, "not permitted") || strcmp(err->exc_type, "DataError") == 0);
}

static void erp_site_failed(probe *p, int r, const bts_frappe_error *err)
{
    const char *url = p->cfg->erpnext.url;
    char line[600];
    erp_line(err, line, sizeof(line));
    if (err->cls == BTS_FE_WRONG_SITE)
        say(p, PROBE_FAIL, "ERPNext site", "%s answered %s: wrong host or site: set "
            "erpnext.url to the site's own name or erpnext.site_name", url, line);
    else if (r == BTS_ETRANSIENT)
        say(p, PROBE_FAIL, "ERPNext site", "cannot reach %s (%s): check erpnext.url, the "
            "network and that the site is up", url, line);
    else
        say(p, PROBE_FAIL, "ERPNext site", "%s: %s: is erpnext.url the Frappe site itself "
            "(not a login page or proxy)?", url, line);
}

/* GET frappe.auth.get_logged_user: one request tells site routing, key and user apart. */
static int erp_user(probe *p, bts_erpnext *e)
{
    bts_frappe_error err = {0};
    cJSON *msg = NULL;
    char line[600];
    int r = bts_erpnext_call(e, "GET", "frappe.auth.get_logged_user", NULL, &msg, &err);
    if (r == 0 || r == BTS_EAUTH)
        say(p, PROBE_OK, "ERPNext site", "%s answers as a Frappe site", p->cfg->erpnext.url);
    else
        erp_site_failed(p, r, &err);
    erp_line(&err, line, sizeof(line));
    if (r == BTS_EAUTH)
        say(p, PROBE_FAIL, "ERPNext API key", "refused (%s): wrong erpnext.api_key or "
            "erpnext.api_secret (User > API Access > Generate Keys shows a new secret once)",
            line);
    if (r == 0 && cJSON_IsString(msg) && strcmp(msg->valuestring, "Guest") != 0) {
        bts_strlcpy(p->user, msg->valuestring, sizeof(p->user));
        say(p, PROBE_OK, "ERPNext API key", "accepted; the API user is %s", p->user);
    } else if (r == 0) {
        say(p, PROBE_FAIL, "ERPNext API key", "ERPNext treats the key as Guest: check "
            "erpnext.api_key and erpnext.api_secret");
        r = BTS_EAUTH;
    }
    cJSON_Delete(msg);
    return r;
}

/* The roles from get_roles (an array of names) or from the User document's roles table. */
static bool roles_have(const cJSON *roles, const char *role)
{
    const cJSON *r;
    cJSON_ArrayForEach(r, roles) {
        const char *name = cJSON_IsString(r) ? r->valuestring
                           : cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "role"));
        if (name && strcmp(name, role) == 0)
            return true;
    }
    return false;
}

/* frappe.core.doctype.user.user.get_roles (uid is required before Frappe 15), else the
 * roles table of the User document (System Manager can read it). */
static int erp_fetch_roles(bts_erpnext *e, const char *user, cJSON **ret,
                           bts_frappe_error *err)
{
    cJSON *args = cJSON_CreateObject(), *doc = NULL;
    int r = BTS_ENOMEM;
    if (args && cJSON_AddStringToObject(args, "uid", user))
        r = bts_erpnext_call(e, "POST", "frappe.core.doctype.user.user.get_roles", args, ret,
                             err);
    cJSON_Delete(args);
    if (r == 0 && cJSON_IsArray(*ret))
        return 0;
    if (r == 0)
        cJSON_Delete(*ret);
    *ret = NULL;
    if ((r = bts_erpnext_get(e, "User", user, &doc, err)) == 0) {
        cJSON *roles = cJSON_DetachItemFromObjectCaseSensitive(doc, "roles");
        r = cJSON_IsArray(roles) ? 0 : BTS_EPROTO;
        if (r == 0)
            *ret = roles;
        else
            cJSON_Delete(roles);
    }
    cJSON_Delete(doc);
    return r;
}

/* Without the roles list: a checkin read back without "time" means no permlevel-1 access. */
static void erp_infer_roles(probe *p, bts_erpnext *e, const bts_frappe_error *why)
{
    bts_frappe_error err = {0};
    cJSON *rows = NULL;
    char line[600];
    erp_line(why, line, sizeof(line));
    int r = bts_erpnext_list(e, "Employee Checkin", "[\"name\",\"time\"]", NULL, 1, NULL,
                             &rows, &err);
    const cJSON *row = r == 0 ? cJSON_GetArrayItem(rows, 0) : NULL;
    if (row && !cJSON_GetObjectItemCaseSensitive(row, "time"))
        say(p, PROBE_FAIL, "ERPNext roles", "Employee Checkin.time is hidden from the API "
            "user: it lacks HR User / HR Manager, and ERPNext would stamp every checkin with "
            "the current time: give it the HR User role");
    else
        say(p, PROBE_WARN, "ERPNext roles", "cannot read the API user's roles (%s): make sure "
            "it has HR User or HR Manager (else checkin times become \"now\"), and System "
            "Manager for --setup-doctypes", line);
    cJSON_Delete(rows);
}

static void erp_roles_verdict(probe *p, const cJSON *roles)
{
    bool admin = strcmp(p->user, "Administrator") == 0;
    bool sm = admin || roles_have(roles, "System Manager");
    bool hr = sm || roles_have(roles, "HR User") || roles_have(roles, "HR Manager");
    p->system_manager = sm;
    if (hr)
        say(p, PROBE_OK, "ERPNext roles", "%s has %s: checkin times are kept", p->user,
            admin ? "every role" : roles_have(roles, "HR Manager") ? "HR Manager"
                  : roles_have(roles, "HR User") ? "HR User" : "System Manager");
    else if (!p->cfg->erpnext.create_checkins)
        say(p, PROBE_OK, "ERPNext roles", "%s has neither HR User nor HR Manager; not needed "
            "while erpnext.create_checkins = false", p->user);
    else
        say(p, PROBE_FAIL, "ERPNext roles", "%s has neither HR User nor HR Manager: ERPNext "
            "would silently replace every checkin's time with the current time: give it the "
            "HR User role", p->user);
    if (!sm)
        say(p, PROBE_WARN, "ERPNext roles", "%s lacks System Manager: fine for syncing, but "
            "--setup-doctypes needs it (once, or with another user's key)", p->user);
}

static void erp_roles(probe *p, bts_erpnext *e)
{
    bts_frappe_error err = {0};
    cJSON *roles = NULL;
    if (erp_fetch_roles(e, p->user, &roles, &err) == 0)
        erp_roles_verdict(p, roles);
    else
        erp_infer_roles(p, e, &err);
    cJSON_Delete(roles);
}

/* Which of our fields the doctype lacks, one list request per field (only after a list of
 * all of them failed): reading the DocType itself would need System Manager. */
static uint32_t erp_missing_fields(bts_erpnext *e, const char *doctype, bts_setup_kind kind)
{
    size_t n;
    const bts_setup_field *fields = bts_setup_fields(kind, &n);
    uint32_t mask = 0;
    for (size_t i = 0; i < n && i < 32; i++) {
        const char *names[] = {"name", fields[i].fieldname};
        char *fj = json_names(names, 2);
        bts_frappe_error err = {0};
        cJSON *rows = NULL;
        int r = fj ? bts_erpnext_list(e, doctype, fj, NULL, 1, NULL, &rows, &err) : BTS_ENOMEM;
        if (not_permitted_field(r, &err))
            mask |= UINT32_C(1) << i;
        cJSON_Delete(rows);
        free(fj);
    }
    return mask;
}

static int erp_all_fields(bts_erpnext *e, const char *doctype, bts_setup_kind kind,
                          bts_frappe_error *err)
{
    size_t n;
    const bts_setup_field *fields = bts_setup_fields(kind, &n);
    const char *names[33] = {"name"};
    cJSON *rows = NULL;
    for (size_t i = 0; i < n && i < 32; i++)
        names[i + 1] = fields[i].fieldname;
    char *fj = json_names(names, n + 1 < 33 ? n + 1 : 33);
    int r = fj ? bts_erpnext_list(e, doctype, fj, NULL, 1, NULL, &rows, err) : BTS_ENOMEM;
    cJSON_Delete(rows);
    free(fj);
    return r;
}

static void erp_fields(probe *p, bts_erpnext *e, const char *check, const char *doctype,
                       bts_setup_kind kind)
{
    bts_frappe_error err = {0};
    char needed[512], optional[512], line[600];
    int r = erp_all_fields(e, doctype, kind, &err);
    if (r == 0) {
        say(p, PROBE_OK, check, "exists with every field the sync writes");
        return;
    }
    if (!not_permitted_field(r, &err)) {
        erp_line(&err, line, sizeof(line));
        say(p, PROBE_WARN, check, "exists, but its fields could not be checked: %s", line);
        return;
    }
    uint32_t mask = erp_missing_fields(e, doctype, kind);
    if (bts_setup_describe(kind, mask, true, false, needed, sizeof(needed)) > 0)
        say(p, PROBE_FAIL, check, "lacks fields the sync needs: %s: add them with Customize "
            "Form (same field names)", needed);
    if (bts_setup_describe(kind, mask, false, true, optional, sizeof(optional)) > 0)
        say(p, PROBE_WARN, check, "lacks the optional field %s: parked punches will not say "
            "why in ERPNext", optional);
}

static void erp_doctype(probe *p, bts_erpnext *e, bts_setup_kind kind)
{
    const char *name = bts_setup_doctype_name(p->cfg, kind);
    char check[200], line[600];
    bts_frappe_error err = {0};
    cJSON *rows = NULL;
    snprintf(check, sizeof(check), "ERPNext doctype \"%s\"", name);
    int r = bts_erpnext_list(e, name, "[\"name\"]", NULL, 1, NULL, &rows, &err);
    cJSON_Delete(rows);
    erp_line(&err, line, sizeof(line));
    if (r == 0)
        erp_fields(p, e, check, name, kind);
    else if (err.cls == BTS_FE_NOT_FOUND)
        say(p, PROBE_FAIL, check, "does not exist: run biotime-syncd --setup-doctypes (it "
            "needs System Manager, which %s %s)", p->user,
            p->system_manager ? "has" : "lacks");
    else if (r == BTS_EAUTH)
        say(p, PROBE_FAIL, check, "the API user may not read it (%s): give its role read, "
            "write and create on \"%s\" (Role Permissions Manager)", line, name);
    else
        say(p, PROBE_WARN, check, "could not check it: %s", line);
}

/* [[field, "is", "set"]] as JSON text. */
static char *is_set_filter(const char *field)
{
    const char *cond[] = {field, "is", "set"};
    cJSON *filters = cJSON_CreateArray();
    cJSON *c = cJSON_CreateStringArray(cond, 3);
    char *s = NULL;
    if (filters && c && cJSON_AddItemToArray(filters, c)) {
        c = NULL;
        s = cJSON_PrintUnformatted(filters);
    }
    cJSON_Delete(c);
    cJSON_Delete(filters);
    return s;
}

static void erp_employee_count(probe *p, bts_erpnext *e, const char *check)
{
    bts_frappe_error err = {0};
    cJSON *rows = NULL;
    char line[600] = "out of memory";
    char *fj = is_set_filter(p->cfg->erpnext.employee_field);
    int r = fj ? bts_erpnext_list(e, "Employee", "[\"name\"]", fj, 0, NULL, &rows, &err)
               : BTS_ENOMEM;
    if (r != BTS_ENOMEM)
        erp_line(&err, line, sizeof(line));
    if (r == 0 && cJSON_GetArraySize(rows) > 0)
        say(p, PROBE_OK, check, "exists; %d employees carry it", cJSON_GetArraySize(rows));
    else if (r == 0)
        say(p, PROBE_WARN, check, "exists, but no Employee has it set: every punch will be "
            "parked (synced = 0) until it holds the BioTime emp_code");
    else
        say(p, PROBE_WARN, check, "exists; could not count the employees carrying it: %s",
            line);
    free(fj);
    cJSON_Delete(rows);
}

static void erp_employee_field(probe *p, bts_erpnext *e)
{
    const char *field = p->cfg->erpnext.employee_field;
    const char *names[] = {"name", field};
    char check[200], line[600];
    bts_frappe_error err = {0};
    cJSON *rows = NULL;
    char *fj = json_names(names, 2);
    int r = fj ? bts_erpnext_list(e, "Employee", fj, NULL, 1, NULL, &rows, &err) : BTS_ENOMEM;
    snprintf(check, sizeof(check), "ERPNext employee field \"%s\"", field);
    erp_line(&err, line, sizeof(line));
    if (r == 0)
        erp_employee_count(p, e, check);
    else if (not_permitted_field(r, &err))
        say(p, PROBE_FAIL, check, "Employee has no such field: set erpnext.employee_field to "
            "the Employee field that holds the BioTime emp_code (usually "
            "attendance_device_id)");
    else if (r == BTS_EAUTH)
        say(p, PROBE_FAIL, check, "the API user may not read Employee (%s): give it the HR "
            "User role", line);
    else
        say(p, PROBE_WARN, check, "could not check it: %s", line);
    cJSON_Delete(rows);
    free(fj);
}

/* HRMS refuses checkins without coordinates when geolocation tracking is on; a terminal
 * has none, so every punch would be parked. */
static void erp_geolocation(probe *p, bts_erpnext *e)
{
    bts_frappe_error err = {0};
    cJSON *doc = NULL;
    char line[600], on[8] = "";
    int r = bts_erpnext_get(e, "HR Settings", "HR Settings", &doc, &err);
    erp_line(&err, line, sizeof(line));
    if (r == 0)
        bts_json_text(doc, "allow_geolocation_tracking", on, sizeof(on));
    if (r < 0)
        say(p, PROBE_WARN, "ERPNext geolocation", "cannot read HR Settings (%s; it needs HR "
            "Manager or System Manager): make sure Allow Geolocation Tracking is off", line);
    else if (*on && strcmp(on, "0") != 0)
        say(p, PROBE_WARN, "ERPNext geolocation", "HR Settings > Allow Geolocation Tracking "
            "is on: checkins need latitude/longitude, which terminals do not send, so every "
            "punch would be parked: turn it off, or set erpnext.create_checkins = false");
    else
        say(p, PROBE_OK, "ERPNext geolocation", "tracking is off");
    cJSON_Delete(doc);
}

/* The watermark leaves alone a Shift Type whose auto_update_last_sync is on: say which,
 * since the operator listed it for the daemon to move. */
static void erp_shift_types(probe *p, bts_erpnext *e)
{
    const bts_erpnext_config *c = &p->cfg->erpnext;
    char autos[1024] = "", line[600], on[8];
    unsigned n = 0, failed = 0;
    for (size_t i = 0; i < c->n_shift_types; i++) {
        bts_frappe_error err = {0};
        cJSON *doc = NULL;
        const char *name = c->shift_types[i];
        int r = bts_erpnext_get(e, "Shift Type", name, &doc, &err);
        erp_line(&err, line, sizeof(line));
        if (r < 0 && ++failed)
            say(p, PROBE_WARN, "ERPNext Shift Type", "%s (erpnext.shift_types): %s", name,
                line);
        else if (bts_json_text(doc, "auto_update_last_sync", on, sizeof(on)) > 0 &&
                 strcmp(on, "0") != 0 && strlen(autos) + strlen(name) + 3 < sizeof(autos)) {
            snprintf(autos + strlen(autos), sizeof(autos) - strlen(autos), "%s%s",
                     *autos ? ", " : "", name);
            n++;
        }
        cJSON_Delete(doc);
    }
    if (n)
        say(p, PROBE_WARN, "ERPNext Shift Types", "%s ha%s auto_update_last_sync on: HRMS "
            "moves last_sync_of_checkin itself and biotime-syncd will leave %s alone; turn "
            "it off there, or remove %s from erpnext.shift_types", autos, n == 1 ? "s" : "ve",
            n == 1 ? "it" : "them", n == 1 ? "it" : "them");
    else if (c->n_shift_types && !failed)
        say(p, PROBE_OK, "ERPNext Shift Types", "biotime-syncd will advance their "
            "last_sync_of_checkin");
}

static void probe_erpnext(probe *p)
{
    bts_erpnext *e = NULL;
    int r = bts_erpnext_new(&p->cfg->erpnext, &e);
    if (r < 0) {
        say(p, PROBE_FAIL, "ERPNext", "cannot set up a client: %s", bts_strerror(r));
        return;
    }
    if (erp_user(p, e) == 0) {
        erp_roles(p, e);
        erp_doctype(p, e, BTS_SETUP_DEVICE_LOG);
        erp_doctype(p, e, BTS_SETUP_SYNC_LOGS);
        erp_employee_field(p, e);
        erp_geolocation(p, e);
        erp_shift_types(p, e);
    }
    bts_erpnext_free(e);
}

int bts_test_connection(const bts_config *cfg, FILE *out)
{
    probe p = {.cfg = cfg, .out = out};
    probe_biotime(&p);
    probe_erpnext(&p);
    fprintf(out, "%u ok, %u warning%s, %u FAILED\n", p.counts[PROBE_OK], p.counts[PROBE_WARN],
            p.counts[PROBE_WARN] == 1 ? "" : "s", p.counts[PROBE_FAIL]);
    fflush(out);
    return p.counts[PROBE_FAIL] ? BTS_EAUTH : 0;
}

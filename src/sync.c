/* One sync cycle (DESIGN.md §1). The cursor (state.last_id) moves only after ERPNext
 * acknowledged every row up to it (live.c); a transient failure leaves it where it was. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bts/biotime.h"
#include "bts/employees.h"
#include "bts/erpnext.h"
#include "bts/log.h"
#include "bts/rows.h"
#include "bts/scan.h"
#include "bts/sync.h"
#include "bts/sync_internal.h"

#define EMPLOYEES_MAX_AGE_MS (10 * 60 * 1000)  /* refresh the map at least this often */
#define EMPLOYEES_MIN_AGE_MS (60 * 1000)       /* ...and on an unknown code, not faster */
#define PUSH_MAX_WRITES 200 /* per refresh in the daemon: a first push of thousands is
                             * spread over refreshes a minute apart, between punches */

/* Synchronous requests (the employee list, the page past the cursor, a login, a link) are
 * asked again like the flow's requests (pace.h), until nothing has been answered for
 * BTS_PACE_OUTAGE_MS: only then does the cycle end. */
static int64_t retry_request(void *ud, const bts_pace_answer *a, unsigned attempt,
                             const char *what)
{
    bts_sync *s = ud;
    bts_pace *p = &s->w.pace;
    int64_t now = bts_now_ms();
    char key[64];
    bts_pace_verdict v = bts_pace_classify(a);
    if (v == BTS_PACE_OK)
        bts_pace_alive(p, now);
    if (v == BTS_PACE_OK || v == BTS_PACE_FAILED || bts_pace_outage(p, now))
        return -1;
    int64_t delay = bts_pace_retry_delay(p, attempt, a->retry_after_s);
    bts_http_failure failure;
    bts_http_fields fields;
    bts_http_failure_set(&failure, strncmp(what, "ERPNext", 7) == 0 ? "erpnext" : "biotime",
                         a->status, a->curl_error);
    snprintf(key, sizeof(key), "%.*s HTTP %ld", (int)strcspn(what, " "), what, a->status);
    bts_log_limited(&s->retry_log, key, LOG_WARNING, bts_http_failure_fields(&failure, &fields),
                    "%s; retrying in %.1f s "
                    "(attempt %u)", what, (double)delay / 1000.0, attempt + 1);
    return delay;
}

int bts_sync_new(const bts_config *cfg, const bts_sync_options *opt, bts_sync **ret)
{
    char err[512];
    bts_sync *s = calloc(1, sizeof(*s));
    int r = BTS_ENOMEM;
    if (!s)
        return r;
    s->cfg = cfg;
    s->opt = *opt;
    if (!s->opt.out)
        s->opt.out = stdout;
    if ((r = bts_http_loop_new(&s->loop)) < 0 ||
        (r = bts_biotime_new(&cfg->biotime, &s->bt)) < 0 ||
        (r = bts_erpnext_new(&cfg->erpnext, &s->erp)) < 0 ||
        (r = bts_employees_new(&s->emps)) < 0 ||
        (cfg->employees.push && (r = bts_push_new(cfg, &s->push)) < 0))
        goto fail;
    if ((!opt->dry_run && (r = bts_state_dir_usable(cfg->sync.state_dir, err, sizeof(err))) < 0) ||
        (r = bts_state_load(cfg->sync.state_dir, &s->st, err, sizeof(err))) < 0) {
        bts_err("%s", err);
        goto fail;
    }
    if (*s->st.biotime_url && strcmp(s->st.biotime_url, cfg->biotime.url) != 0)
        bts_warn("the cursor in %s was kept for %s, but biotime.url is now %s: if that is "
                 "another server, give it its own sync.state_dir (and biotime.name)",
                 cfg->sync.state_dir, s->st.biotime_url, cfg->biotime.url);
    s->w = (bts_writer){.cfg = cfg, .erp = s->erp, .loop = s->loop, .dry_run = opt->dry_run,
                        .dry_out = s->opt.out};
    bts_pace_init(&s->w.pace, (unsigned)cfg->erpnext.connections,
                  (size_t)cfg->erpnext.batch_size, bts_backoff_random, NULL);
    bts_erpnext_set_retry(s->erp, retry_request, s);
    bts_biotime_set_retry(s->bt, retry_request, s);
    *ret = s;
    return 0;
fail:
    bts_sync_free(s);
    return r;
}

void bts_sync_free(bts_sync *s)
{
    if (!s)
        return;
    bts_http_loop_free(s->loop); /* first: transfers in flight belong to the clients */
    bts_biotime_free(s->bt);
    bts_erpnext_free(s->erp);
    bts_employees_free(s->emps);
    bts_push_free(s->push);
    cJSON_Delete(s->push_rows);
    free(s);
}

const bts_state *bts_sync_state(const bts_sync *s) { return &s->st; }

/* Records why the cycle ended early; returns err for chaining. */
int bts_sync_fail(bts_cycle *c, int err, const char *text)
{
    c->error = err;
    bts_strlcpy(c->error_text, text, sizeof(c->error_text));
    c->failure = (bts_http_failure){.status = 0}; /* a request's, when the caller says so */
    return err;
}

/* Writing stopped: says why, unless the cause was recorded already (a cursor that could
 * not be saved, say). */
int bts_sync_write_failed(bts_cycle *c, int err, const bts_writer *w)
{
    if (*w->error) {
        bts_sync_fail(c, err, w->error);
        c->failure = w->failure;
        return err;
    }
    if (!c->error)
        return bts_sync_fail(c, err, bts_strerror(err));
    return err;
}

/* Reading from BioTime failed: what, and the answer that made it fail (its own line, with
 * the details, was logged by biotime.c). Local errors carry no server. */
int bts_sync_read_failed(bts_sync *s, bts_cycle *c, int err, const char *what)
{
    const bts_http_failure *f = bts_biotime_failure(s->bt);
    bool answered = *f->server &&
                    (err == BTS_ETRANSIENT || err == BTS_EAUTH || err == BTS_EPROTO);
    char text[sizeof(c->error_text)];
    if (answered && f->status)
        snprintf(text, sizeof(text), "%s: HTTP %ld", what, f->status);
    else if (answered)
        snprintf(text, sizeof(text), "%s: no answer", what);
    else
        bts_strlcpy(text, what, sizeof(text));
    bts_sync_fail(c, err, text);
    if (answered)
        c->failure = *f;
    return err;
}

#define GEOLOCATION_RELEARN_MS (60 * 60 * 1000)

bool bts_sync_geolocation(const bts_sync *s)
{
    return s->geolocation || s->w.geolocation_refused;
}

/* HR Settings unreadable: what a refusal taught is trusted for an hour, then the punches are
 * offered again (tracking may have been turned off; if not, a refused batch teaches it
 * again). */
static void geolocation_expire(bts_sync *s)
{
    int64_t now = bts_now_ms();
    if (!s->w.geolocation_refused) {
        s->geolocation_learnt_ms = 0;
    } else if (!s->geolocation_learnt_ms) {
        s->geolocation_learnt_ms = now;
    } else if (now - s->geolocation_learnt_ms >= GEOLOCATION_RELEARN_MS) {
        s->w.geolocation_refused = false;
        s->geolocation_learnt_ms = 0;
    }
}

/* HR Settings > Allow Geolocation Tracking, read with the employee map: where it is on,
 * HRMS refuses a checkin without coordinates, so a terminal without an erpnext.locations
 * entry is parked up front instead of costing a refused batch. An API user that may not
 * read HR Settings (it needs HR Manager) leaves it to ERPNext's refusal to tell. */
static void refresh_geolocation(bts_sync *s)
{
    bts_frappe_error err;
    cJSON *doc = NULL;
    char on[8] = "", line[600];
    int r = bts_erpnext_get(s->erp, "HR Settings", "HR Settings", &doc, &err);
    if (r == 0) {
        bts_json_text(doc, "allow_geolocation_tracking", on, sizeof(on));
        s->geolocation = *on && strcmp(on, "0") != 0;
        s->w.geolocation_refused = false;
        s->geolocation_learnt_ms = 0;
    } else {
        geolocation_expire(s);
    }
    if (r < 0 && !s->warned_hr_settings) {
        s->warned_hr_settings = true;
        bts_frappe_error_format(&err, line, sizeof(line));
        bts_info("cannot read HR Settings (%s): whether checkins need coordinates "
                 "(geolocation tracking) is learnt from ERPNext's answers instead", line);
    }
    cJSON_Delete(doc);
}

static int refresh_employees(bts_sync *s, bts_cycle *c)
{
    const bts_erpnext_config *e = &s->cfg->erpnext;
    char fields[300], filters[300], line[600];
    cJSON *rows = NULL;
    bts_frappe_error err;
    snprintf(fields, sizeof(fields), s->push ? "[\"name\",\"%s\",\"status\","
             "\"employee_name\",\"first_name\",\"last_name\",\"relieving_date\"]"
             : "[\"name\",\"%s\",\"status\"]", e->employee_field);
    snprintf(filters, sizeof(filters), "[[\"%s\",\"is\",\"set\"]]", e->employee_field);
    int r = bts_erpnext_list(s->erp, "Employee", fields, filters, 0, NULL, &rows, &err);
    if (r < 0) {
        bts_frappe_error_format(&err, line, sizeof(line));
        char text[700];
        snprintf(text, sizeof(text), "reading the Employee list from ERPNext: %s", line);
        bts_sync_fail(c, r == BTS_EPERM ? BTS_EPROTO : r, text);
        bts_erpnext_failure(r, &err, &c->failure);
        return c->error;
    }
    bts_employees *fresh = NULL;
    if ((r = bts_employees_new(&fresh)) == 0 &&
        (r = bts_employees_load(fresh, rows, e->employee_field)) >= 0) {
        bts_employees_free(s->emps);
        s->emps = fresh;
        s->emps_loaded_ms = bts_now_ms();
        s->emps_changed = true;
        bts_debug("employee map: %d employees carry %s", r, e->employee_field);
        refresh_geolocation(s);
        r = 0;
        if (s->push) { /* BioTime is brought in line after this cycle's punches */
            cJSON_Delete(s->push_rows);
            s->push_rows = rows;
            rows = NULL;
        }
    } else if (r < 0 && fresh) {
        bts_employees_free(fresh);
    }
    cJSON_Delete(rows);
    return r;
}

static int refresh_employees_if_due(bts_sync *s, bts_cycle *c)
{
    int64_t age = bts_now_ms() - s->emps_loaded_ms;
    if (s->emps_loaded_ms && age < EMPLOYEES_MAX_AGE_MS &&
        !(s->emps_want_refresh && age >= EMPLOYEES_MIN_AGE_MS))
        return 0;
    s->emps_want_refresh = false;
    return refresh_employees(s, c);
}

/* employees.push after the punches of the cycle: it never holds them up, and its failure
 * (BioTime away) is logged and left for the next refresh, not the cycle's error. */
static void push_employees(bts_sync *s, bts_cycle *c)
{
    bts_push_counts pc;
    int r = bts_push_run(s->push, s->bt, s->push_rows, s->opt.dry_run, s->opt.out,
                         s->opt.once ? 0 : PUSH_MAX_WRITES, &pc);

    cJSON_Delete(s->push_rows);
    s->push_rows = NULL;
    if (r < 0)
        bts_warn("employees.push: stopped, tried again at the next refresh: %s",
                 bts_strerror(r));
    c->pushed = true;
    c->push_created = pc.created;
    c->push_renamed = pc.renamed;
    c->push_resigned = pc.resigned;
    c->push_refused = pc.refused;
    if (pc.left)
        s->emps_want_refresh = true; /* the rest at the next refresh, a minute from now */
    if (pc.writes || pc.refused)
        bts_notice("employees.push: %llu created, %llu renamed, %llu resigned, %llu refused "
                   "in BioTime%s", (unsigned long long)pc.created,
                   (unsigned long long)pc.renamed, (unsigned long long)pc.resigned,
                   (unsigned long long)pc.refused, pc.left ? "; more at the next refresh" : "");
}

void bts_sync_add_counts(bts_cycle *c, const bts_write_counts *w)
{
    c->checkins += w->checkins;
    c->device_logs += w->device_logs;
    c->duplicates += w->checkin_duplicates + w->device_log_duplicates;
    c->parked += w->parked;
    c->rejected += w->rejected;
}

void bts_sync_page_done(bts_sync *s, const bts_cycle *c, const bts_write_counts *w)
{
    bts_cycle now;
    if (!s->opt.on_page)
        return;
    now = *c; /* the written counts join the cycle's only when the writing ends */
    bts_sync_add_counts(&now, w);
    s->opt.on_page(s->opt.on_page_ud, &now, &s->st);
}

/* Said once per code (the state remembers the codes): HR has an Employee to map. */
static void warn_unknown(const bts_sync *s, const char *code, int64_t id)
{
    char f_code[96], f_id[48];
    snprintf(f_code, sizeof(f_code), "EMP_CODE=%s", code);
    snprintf(f_id, sizeof(f_id), "BIOTIME_TXN_ID=%lld", (long long)id);
    const char *fields[] = {"SERVER=erpnext", f_code, f_id, NULL};
    bts_log_fields(LOG_WARNING, fields, "BioTime emp_code %s has no Employee (%s): its punches "
                   "are kept as Device Logs with synced = 0 and get their checkins once an "
                   "Employee carries it", code, s->cfg->erpnext.employee_field);
}

void bts_sync_remember_unknown(bts_sync *s, const bts_rows *rows)
{
    for (size_t i = 0; i < rows->n_unknown; i++) {
        bool known = false;
        for (size_t k = 0; k < s->st.n_unknown_codes; k++)
            known = known || strcmp(s->st.unknown_codes[k], rows->unknown_codes[i]) == 0;
        if (known)
            continue;
        warn_unknown(s, rows->unknown_codes[i], rows->unknown_first_id[i]);
        if (s->st.n_unknown_codes < BTS_STATE_MAX_CODES)
            bts_strlcpy(s->st.unknown_codes[s->st.n_unknown_codes++], rows->unknown_codes[i],
                        sizeof(s->st.unknown_codes[0]));
    }
    if (rows->n_unknown)
        s->emps_want_refresh = true;
}

/* Said once per terminal and run: the operator has coordinates to add. */
static void warn_no_location(bts_sync *s, const bts_rows *rows)
{
    for (size_t i = 0; i < rows->n; i++) {
        const char *sn = rows->items[i].txn.terminal_sn;
        bool said = false;
        if (rows->items[i].verdict != BTS_MAP_NO_LOCATION)
            continue;
        for (size_t k = 0; k < s->n_unlocated; k++)
            said = said || strcmp(s->unlocated[k], sn) == 0;
        if (said || s->n_unlocated >= BTS_ARRAY_SIZE(s->unlocated))
            continue;
        bts_strlcpy(s->unlocated[s->n_unlocated++], sn, sizeof(s->unlocated[0]));
        bts_warn("geolocation tracking is on and terminal %s has no erpnext.locations entry: "
                 "its punches are kept as Device Logs with synced = 0 and get their checkins "
                 "once it has one", *sn ? sn : "(none named)");
    }
}

/* Counts what mapping a page found, and says once if BioTime ignored a time range. */
void bts_sync_count_rows(bts_sync *s, bts_cycle *c, const bts_rows *rows)
{
    warn_no_location(s, rows);
    c->read += rows->n;
    c->skipped += rows->skipped + rows->outside;
    c->rejected += rows->rejected;
    bts_sync_remember_unknown(s, rows);
    if (rows->outside && !s->warned_filter_ignored) {
        s->warned_filter_ignored = true;
        bts_warn("BioTime returned punches outside the requested time range: it ignores "
                 "start_time/end_time, so they are filtered here");
    }
}

/* Moves the cursor after an acknowledged page and saves it (not in a dry run). */
int bts_sync_advance(bts_sync *s, bts_cycle *c, int64_t new_id, int64_t page_no)
{
    char err[512];
    bool moved = new_id > s->st.last_id || page_no != s->st.page_hint;
    if (new_id > s->st.last_id)
        s->st.last_id = new_id;
    s->st.page_hint = page_no;
    s->st.hint_page_size = s->cfg->biotime.page_size;
    bts_strlcpy(s->st.biotime_url, s->cfg->biotime.url, sizeof(s->st.biotime_url));
    if (s->opt.dry_run || !moved) /* an idle poll saves once, at the end of the cycle */
        return 0;
    int r = bts_state_save(s->cfg->sync.state_dir, &s->st, err, sizeof(err));
    return r < 0 ? bts_sync_fail(c, r, err) : 0;
}

int bts_sync_ids_went_back(bts_sync *s, const bts_scan_result *sr)
{
    bts_err("BioTime's highest transaction id (%lld) is below the cursor (%lld): its database "
            "was restored or its ids were reset. Re-reading it from the start: rows ERPNext "
            "already has are recognised by their id. If this server is a new installation, "
            "set biotime.name to a new label so its ids cannot collide with the old ones.",
            (long long)sr->server_max_id, (long long)s->st.last_id);
    s->st.last_id = 0;
    s->st.page_hint = 1;
    return 0;
}

static void fill_state(bts_sync *s, const bts_cycle *c)
{
    bts_state *st = &s->st;
    st->cycles++;
    st->last_cycle_at = time(NULL);
    st->last_read = c->read;
    st->last_checkins = c->checkins;
    st->last_device_logs = c->device_logs;
    st->last_parked = c->parked;
    st->total_read += c->read;
    st->total_checkins += c->checkins;
    st->total_device_logs += c->device_logs;
    st->total_duplicates += c->duplicates;
    st->total_parked += c->parked;
    st->total_rejected += c->rejected;
    st->last_duration_ms = c->duration_ms;
    bts_strlcpy(st->last_result, c->error ? "error" : c->read ? "ok" : "idle",
                sizeof(st->last_result));
    if (c->pushed) {
        st->push_last_at = st->last_cycle_at;
        st->push_created += st->push_last_created = c->push_created;
        st->push_renamed += st->push_last_renamed = c->push_renamed;
        st->push_resigned += st->push_last_resigned = c->push_resigned;
        st->push_refused += st->push_last_refused = c->push_refused;
    }
    if (c->error) {
        st->total_errors++;
        st->last_error_at = st->last_cycle_at;
        bts_strlcpy(st->last_error, c->error_text, sizeof(st->last_error));
    } else {
        st->last_success_at = st->last_cycle_at;
    }
}

/* Adds the requests made since the last call to the state's totals, the Sync Logs entry's
 * included (it comes after the cycle's own figures). */
static void count_requests(bts_sync *s)
{
    uint64_t now[4] = {bts_biotime_request_count(s->bt), bts_biotime_failure_count(s->bt),
                       bts_erpnext_request_count(s->erp), bts_erpnext_failure_count(s->erp)};
    uint64_t *total[4] = {&s->st.total_biotime_requests, &s->st.total_biotime_failures,
                          &s->st.total_erpnext_requests, &s->st.total_erpnext_failures};
    for (size_t i = 0; i < BTS_ARRAY_SIZE(now); i++) {
        *total[i] += now[i] - s->requests_counted[i];
        s->requests_counted[i] = now[i];
    }
}

int bts_sync_cycle(bts_sync *s, bts_cycle *c)
{
    char err[512];
    uint64_t bt0 = bts_biotime_request_count(s->bt), erp0 = bts_erpnext_request_count(s->erp);
    int64_t t0 = bts_now_ms();
    memset(c, 0, sizeof(*c));
    c->retry_after_s = -1;
    s->cycle_started = time(NULL);
    int64_t parked_checked = s->parked_checked_ms;
    bts_pace_alive(&s->w.pace, bts_now_ms()); /* the outage clock starts with the cycle */
    int r = refresh_employees_if_due(s, c);
    if (r == 0)
        r = s->opt.since ? bts_sync_backfill(s, c) : bts_sync_live(s, c);
    if (r == 0 && !s->opt.dry_run && !s->opt.since) {
        bts_sync_retry_parked(s, c);
        bts_sync_watermark(s, c);
    }
    /* What this cycle parked waits too; a recheck that ran after it has counted it already */
    if (s->parked_checked_ms == parked_checked)
        s->st.parked_waiting += c->parked;
    if (r == 0 && s->push_rows && !s->opt.since)
        push_employees(s, c);
    bts_log_limiter_clear(&s->retry_log, "requests asked again");
    c->biotime_requests = bts_biotime_request_count(s->bt) - bt0;
    c->erpnext_requests = bts_erpnext_request_count(s->erp) - erp0;
    c->duration_ms = (uint64_t)(bts_now_ms() - t0);
    if (s->opt.dry_run)
        return r;
    fill_state(s, c);
    if (!s->opt.since)
        bts_sync_log_entry(s, c);
    count_requests(s);
    if (bts_state_save(s->cfg->sync.state_dir, &s->st, err, sizeof(err)) < 0 && r == 0)
        r = bts_sync_fail(c, BTS_EIO, err);
    return r;
}

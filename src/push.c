/* employees.push: resolve the configured department and areas once, read BioTime's
 * personnel, plan (pushplan.c), write, read each write back. BioTime's write answers are
 * not its reads (bare ids, a missing id, a 9.5 server that answers success and keeps the
 * old emp_code), so only a read-back counts a change as made. */
#include "bts/push.h"
#include "bts/log.h"
#include "bts/personnel.h"
#include "bts/pushmemo.h"
#include "bts/roster.h"
#include "bts/timeconv.h"
#include "bts/txn.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PUSH_SIG_MAX 640

struct bts_push {
    const bts_config *cfg;
    bool resolved, disabled;
    int64_t dept_id, default_area;
    int64_t *area_ids;
    size_t n_area_ids;
    bool said_no_resign;
    bts_push_memo *memo;     /* codes and refusals of the last run (pushmemo.c) */
};

typedef struct {
    bts_push *p;
    bts_biotime *bt;
    bool dry_run;
    FILE *out;
    bts_push_counts *c;
    bts_roster *roster;
    bool resign_api;
    size_t resign_skipped;   /* leavers left for the BioTime UI (no resign API) */
    uint64_t max_writes;     /* 0 = no limit */
    const bts_push_op **written; /* writes BioTime took, to read back */
    size_t n_written;
} run_ctx;

int bts_push_new(const bts_config *cfg, bts_push **ret)
{
    bts_push *p = calloc(1, sizeof(*p));

    if (!p || bts_push_memo_new(cfg->sync.state_dir, &p->memo) < 0) {
        free(p);
        return BTS_ENOMEM;
    }
    p->cfg = cfg;
    *ret = p;
    return 0;
}

void bts_push_free(bts_push *p)
{
    if (!p)
        return;
    free(p->area_ids);
    bts_push_memo_free(p->memo);
    free(p);
}

/* ---- the configured department and areas, resolved to BioTime ids once ---- */

static int collect(void *ud, const cJSON *rows)
{
    const cJSON *row;

    cJSON_ArrayForEach(row, rows)
        cJSON_AddItemToArray(ud, cJSON_Duplicate(row, true));
    return 0;
}

/* The id of the row whose code_key is code ("" = the lowest id), or 0. */
static int64_t id_of(const cJSON *rows, const char *code_key, const char *code)
{
    const cJSON *row;
    int64_t best = 0;
    char got[128];

    cJSON_ArrayForEach(row, rows) {
        int64_t id;
        if (bts_json_int64(row, "id", &id) < 0)
            continue;
        if (!*code && (best == 0 || id < best))
            best = id;
        if (*code && bts_json_text(row, code_key, got, sizeof(got)) >= 0 &&
            strcmp(got, code) == 0)
            return id;
    }
    return best;
}

static int read_list(bts_biotime *bt, const char *path, cJSON **ret)
{
    int r;

    if (!(*ret = cJSON_CreateArray()))
        return BTS_ENOMEM;
    if ((r = bts_personnel_list(bt, path, 200, collect, *ret)) < 0) {
        cJSON_Delete(*ret);
        *ret = NULL;
    }
    return r;
}

/* A configured code BioTime lacks turns the push off until a reload: guessing another
 * department or area would enrol people on the wrong terminals. */
static int unknown_code(bts_push *p, const char *key, const char *code)
{
    bts_err("employees.%s: BioTime has no %s with code \"%s\"; employees.push is off until "
            "the configuration names one it has (then systemctl reload biotime-syncd)", key,
            strcmp(key, "department") == 0 ? "department" : "area", code);
    p->disabled = true;
    return BTS_ECONFIG;
}

static int resolve_areas(bts_push *p, const cJSON *areas)
{
    const bts_employees_config *e = &p->cfg->employees;

    free(p->area_ids);
    if (!(p->area_ids = calloc(e->n_areas ? e->n_areas : 1, sizeof(*p->area_ids))))
        return BTS_ENOMEM;
    p->n_area_ids = 0;
    for (size_t i = 0; i < e->n_areas; i++) {
        int64_t id = id_of(areas, "area_code", e->areas[i]);
        if (!id)
            return unknown_code(p, "areas", e->areas[i]);
        p->area_ids[p->n_area_ids++] = id;
    }
    p->default_area = id_of(areas, "area_code", "");
    return 0;
}

static int resolve(bts_push *p, bts_biotime *bt)
{
    cJSON *depts = NULL, *areas = NULL;
    const char *dept = p->cfg->employees.department;
    int r;

    if (p->resolved)
        return 0;
    if ((r = read_list(bt, BTS_PERSONNEL_DEPARTMENTS, &depts)) < 0 ||
        (r = read_list(bt, BTS_PERSONNEL_AREAS, &areas)) < 0)
        goto out;
    if (!(p->dept_id = id_of(depts, "dept_code", dept))) {
        r = unknown_code(p, "department", *dept ? dept : "(BioTime's default)");
        goto out;
    }
    if ((r = resolve_areas(p, areas)) == 0)
        p->resolved = true;
out:
    cJSON_Delete(depts);
    cJSON_Delete(areas);
    return r;
}

/* ---- refusals remembered by what was asked ---- */

static void signature(const bts_push_op *op, char *out, size_t n)
{
    snprintf(out, n, "%d|%d|%s|%s|%s|%s|%zu|%s", (int)op->kind, op->recode, op->erp->name,
             op->erp->code, op->erp->first, op->erp->last, op->n_areas, op->date);
}

/* ---- journal lines ---- */

static const char *verb(const bts_push_op *op)
{
    if (op->kind == BTS_PUSH_CREATE)
        return "create";
    if (op->kind == BTS_PUSH_RESIGN)
        return "resign";
    return op->recode ? "move to a new emp_code" : op->rename ? "rename" : "add areas to";
}

static void log_refusal(const bts_push_op *op, const char *field, const char *why)
{
    char f_emp[96], f_code[96], f_field[96];
    const char *fields[] = {"SERVER=biotime", f_emp, f_code, f_field, NULL};

    snprintf(f_emp, sizeof(f_emp), "EMPLOYEE=%s", op->erp->name);
    snprintf(f_code, sizeof(f_code), "EMP_CODE=%s", op->erp->code);
    snprintf(f_field, sizeof(f_field), "BIOTIME_FIELD=%s", field);
    size_t n = strlen(why);

    bts_log_fields(LOG_WARNING, fields, "BioTime refused to %s employee %s for %s (%s): "
                   "%s%s%s%s Not asked again until the Employee changes.", verb(op),
                   op->erp->code, op->erp->name, op->erp->full, field, *field ? ": " : "", why,
                   n && why[n - 1] == '.' ? "" : ".");
}

static int refused(run_ctx *x, const bts_push_op *op, const char *field, const char *why)
{
    char sig[PUSH_SIG_MAX], text[512];

    /* BioTime may leave resigned people out of its list while their code stays taken */
    if (op->kind == BTS_PUSH_CREATE && strcmp(field, "emp_code") == 0)
        snprintf(text, sizeof(text), "%s A resigned person keeps the code: reinstate them "
                 "in the BioTime UI.", why);
    else
        bts_strlcpy(text, why, sizeof(text));
    log_refusal(op, field, text);
    signature(op, sig, sizeof(sig));
    bts_push_memo_note(x->p->memo, sig);
    x->c->refused++;
    return 0;
}

/* ---- writes ---- */

static cJSON *id_array(const int64_t *ids, size_t n)
{
    cJSON *a = cJSON_CreateArray();

    for (size_t i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)ids[i]));
    return a;
}

static cJSON *create_body(const bts_push *p, const bts_push_op *op)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "emp_code", op->erp->code);
    cJSON_AddStringToObject(o, "first_name", op->erp->first);
    cJSON_AddStringToObject(o, "last_name", op->erp->last);
    cJSON_AddNumberToObject(o, "department", (double)p->dept_id);
    cJSON_AddItemToObject(o, "area", id_array(op->areas, op->n_areas));
    return o;
}

/* PATCH carries only what changes; PUT (for a server that refuses PATCH) needs emp_code,
 * department and area too, and gets the person's own so nothing else moves. */
static cJSON *update_body(const bts_push *p, const bts_push_op *op, bool full)
{
    cJSON *o = cJSON_CreateObject();
    const bts_bt_person *b = op->bt;

    if (op->recode || full)
        cJSON_AddStringToObject(o, "emp_code", op->recode ? op->erp->code : b->code);
    if (op->rename || full) {
        cJSON_AddStringToObject(o, "first_name", op->erp->first);
        cJSON_AddStringToObject(o, "last_name", op->erp->last);
    }
    if (op->areas)
        cJSON_AddItemToObject(o, "area", id_array(op->areas, op->n_areas));
    else if (full)
        cJSON_AddItemToObject(o, "area", id_array(b->areas, b->n_areas));
    if (full)
        cJSON_AddNumberToObject(o, "department", (double)(b->dept ? b->dept : p->dept_id));
    return o;
}

static void describe(const bts_push *p, const bts_push_op *op, char *out, size_t n);

/* After a write: a refusal is logged and counted; a write BioTime took waits for the
 * read-back (verify_all); a server away stops the run. */
static int settle(run_ctx *x, const bts_push_op *op, int r, const bts_personnel_answer *a)
{
    x->c->writes++;
    if (r == BTS_EPERM || r == BTS_EPROTO)
        return refused(x, op, r == BTS_EPERM ? a->field : "", a->message);
    if (r < 0)
        return r;
    x->written[x->n_written++] = op;
    return 0;
}

/* ---- the read-back: one paged read of BioTime after the writes ---- */

static bool has_areas(const bts_bt_person *b, const bts_push_op *op)
{
    for (size_t i = 0; i < op->n_areas; i++) {
        bool found = false;
        for (size_t k = 0; k < b->n_areas; k++)
            found = found || b->areas[k] == op->areas[i];
        if (!found)
            return false;
    }
    return true;
}

/* What the read-back shows undone ("" when the write took). BioTime's write answers are
 * not its reads: only this counts. */
static void verify_one(const bts_roster *now, const bts_push_op *op, char *why, size_t n)
{
    const bts_bt_person *b = bts_roster_biotime(now, op->erp->code);

    *why = '\0';
    if (op->kind == BTS_PUSH_RESIGN) {
        /* a BioTime that lists no resigned people drops the person from the list */
        if (b && !b->resigned)
            snprintf(why, n, "BioTime answered success but lists no resignation");
    } else if (!b && op->recode) {
        snprintf(why, n, "BioTime answered success but kept emp_code %s (BioTime 9.5 "
                 "cannot change a code through its API): change it to %s in the BioTime UI",
                 op->bt->code, op->erp->code);
    } else if (!b) {
        snprintf(why, n, "BioTime answered success but lists no employee %s", op->erp->code);
    } else if ((op->kind == BTS_PUSH_CREATE || op->rename) &&
               (strcmp(b->first, op->erp->first) != 0 || strcmp(b->last, op->erp->last) != 0)) {
        snprintf(why, n, "BioTime answered success but kept the name \"%s %s\"", b->first,
                 b->last);
    } else if (op->areas && !has_areas(b, op)) {
        snprintf(why, n, "BioTime answered success but did not add the areas");
    }
}

static void count_done(run_ctx *x, const bts_push_op *op)
{
    char what[1024];

    if (op->kind == BTS_PUSH_CREATE)
        x->c->created++;
    if (op->kind == BTS_PUSH_RESIGN)
        x->c->resigned++;
    if (op->rename || op->recode)
        x->c->renamed++;
    if (op->kind == BTS_PUSH_UPDATE && op->areas)
        x->c->areas_added++;
    describe(x->p, op, what, sizeof(what));
    bts_info("employees.push: done: %s", what);
}

static int verify_all(run_ctx *x)
{
    bts_roster *now = NULL;
    bool resign_api;
    char why[400];
    int r;

    if (x->n_written == 0)
        return 0;
    if ((r = bts_roster_new(&now)) < 0 ||
        (r = bts_personnel_load(x->bt, x->p->cfg->biotime.page_size, now, &resign_api)) < 0 ||
        (r = bts_roster_index(now)) < 0)
        goto out;
    for (size_t i = 0; i < x->n_written; i++) {
        const bts_push_op *op = x->written[i];
        verify_one(now, op, why, sizeof(why));
        if (*why)
            refused(x, op, op->recode && strstr(why, "emp_code") ? "emp_code" : "", why);
        else
            count_done(x, op);
    }
out:
    if (r < 0)
        bts_warn("employees.push: %zu writes made, but BioTime could not be read back to "
                 "confirm them: %s", x->n_written, bts_strerror(r));
    bts_roster_free(now);
    return r;
}

static int do_create(run_ctx *x, const bts_push_op *op)
{
    bts_personnel_answer a;
    cJSON *body = create_body(x->p, op);
    int r = bts_personnel_write(x->bt, "POST", BTS_PERSONNEL_EMPLOYEES, body, &a);

    r = settle(x, op, r, &a);
    bts_personnel_answer_clear(&a);
    cJSON_Delete(body);
    return r;
}

static int do_update(run_ctx *x, const bts_push_op *op)
{
    char path[128];
    bts_personnel_answer a;
    cJSON *body = update_body(x->p, op, false);
    int r;

    snprintf(path, sizeof(path), "%s%lld/", BTS_PERSONNEL_EMPLOYEES, (long long)op->bt->id);
    r = bts_personnel_write(x->bt, "PATCH", path, body, &a);
    if (r == BTS_EPERM && a.status == 405) { /* no PATCH here: PUT the whole record */
        bts_personnel_answer_clear(&a);
        cJSON_Delete(body);
        body = update_body(x->p, op, true);
        x->c->writes++;
        r = bts_personnel_write(x->bt, "PUT", path, body, &a);
    }
    r = settle(x, op, r, &a);
    bts_personnel_answer_clear(&a);
    cJSON_Delete(body);
    return r;
}

/* Said once per process: the operator resigns them by hand. */
static void no_resign_api(run_ctx *x)
{
    if (x->p->said_no_resign)
        return;
    x->p->said_no_resign = true;
    bts_warn("this BioTime has no resign API (it answers %s with an HTML page, as BioTime "
             "8.0 and 9.0 do): leavers are not resigned there; resign them in the BioTime "
             "UI (biotime-syncd --employees lists them)", BTS_PERSONNEL_RESIGNS);
}

static cJSON *resign_body(const bts_push_op *op)
{
    char reason[200];
    cJSON *o = cJSON_CreateObject();

    snprintf(reason, sizeof(reason), "Left in ERPNext (%.100s)", op->erp->name);
    cJSON_AddNumberToObject(o, "employee", (double)op->bt->id);
    cJSON_AddStringToObject(o, "resign_date", op->date);
    cJSON_AddNumberToObject(o, "resign_type", 1); /* quit */
    cJSON_AddBoolToObject(o, "disableatt", true);
    cJSON_AddStringToObject(o, "reason", reason);
    return o;
}

static int resign_settle(run_ctx *x, const bts_push_op *op, int r,
                         const bts_personnel_answer *a)
{
    if (r == BTS_EPROTO && a->html) {
        x->c->writes++;
        x->resign_api = false;
        no_resign_api(x);
        x->resign_skipped++;
        return 0;
    }
    return settle(x, op, r, a);
}

static int do_resign(run_ctx *x, const bts_push_op *op)
{
    bts_personnel_answer a = {0};
    cJSON *body;
    int r;

    if (!x->resign_api) {
        no_resign_api(x);
        x->resign_skipped++;
        return 0;
    }
    body = resign_body(op);
    r = bts_personnel_write(x->bt, "POST", BTS_PERSONNEL_RESIGNS, body, &a);
    r = resign_settle(x, op, r, &a);
    bts_personnel_answer_clear(&a);
    cJSON_Delete(body);
    return r;
}

/* ---- dry run ---- */

/* The configured area codes among ids that the person does not have yet. */
static void area_codes(const bts_push *p, const bts_push_op *op, char *out, size_t n)
{
    size_t len = 0;

    *out = '\0';
    for (size_t i = 0; i < p->n_area_ids && len + 1 < n; i++) {
        bool wanted = false, had = false;
        for (size_t k = 0; k < op->n_areas; k++)
            wanted = wanted || op->areas[k] == p->area_ids[i];
        for (size_t k = 0; op->bt && k < op->bt->n_areas; k++)
            had = had || op->bt->areas[k] == p->area_ids[i];
        if (wanted && !had)
            len += (size_t)snprintf(out + len, n - len, "%s%s", len ? ", " : "",
                                    p->cfg->employees.areas[i]);
    }
    if (!*out)
        snprintf(out, n, "(BioTime's default)");
}

/* What an operation does, in words: "rename BioTime employee 1002 from ... for ...". */
static void describe(const bts_push *p, const bts_push_op *op, char *out, size_t n)
{
    const bts_erp_person *e = op->erp;
    const char *dept = p->cfg->employees.department;
    char areas[256];
    size_t len = 0;

    area_codes(p, op, areas, sizeof(areas));
    if (op->kind == BTS_PUSH_CREATE)
        len = (size_t)snprintf(out, n, "create BioTime employee %s \"%s %s\" for %s, "
                               "department %s, areas %s", e->code, e->first, e->last,
                               e->name, *dept ? dept : "(BioTime's default)", areas);
    else if (op->kind == BTS_PUSH_RESIGN)
        len = (size_t)snprintf(out, n, "resign BioTime employee %s for %s (%s) as of %s",
                               e->code, e->name, e->full, op->date);
    if (op->kind != BTS_PUSH_UPDATE)
        return;
    *out = '\0';
    if (op->recode && len < n)
        len += (size_t)snprintf(out + len, n - len, "move BioTime employee %s to emp_code %s "
                                "for %s", op->bt->code, e->code, e->name);
    if (op->rename && len < n)
        len += (size_t)snprintf(out + len, n - len, "%srename BioTime employee %s from "
                                "\"%s %s\" to \"%s %s\" for %s", len ? "; " : "", op->bt->code,
                                op->bt->first, op->bt->last, e->first, e->last, e->name);
    if (op->areas && len < n)
        snprintf(out + len, n - len, "%sadd areas %s to BioTime employee %s for %s",
                 len ? "; " : "", areas, op->bt->code, e->name);
}

static void print_op(run_ctx *x, const bts_push_op *op)
{
    char what[1024];

    describe(x->p, op, what, sizeof(what));
    fprintf(x->out, "would %s%s\n", what, op->kind == BTS_PUSH_RESIGN && !x->resign_api
            ? " (this BioTime has no resign API: do it in the BioTime UI)" : "");
}

/* ---- a run ---- */

static int apply(run_ctx *x, const bts_push_op *op)
{
    char sig[PUSH_SIG_MAX];

    signature(op, sig, sizeof(sig));
    if (bts_push_memo_refused(x->p->memo, sig)) { /* refused as it is: wait for a change */
        bts_push_memo_note(x->p->memo, sig);
        return 0;
    }
    if (x->dry_run) {
        print_op(x, op);
        return 0;
    }
    if (op->kind == BTS_PUSH_CREATE)
        return do_create(x, op);
    if (op->kind == BTS_PUSH_RESIGN)
        return do_resign(x, op);
    return do_update(x, op);
}

/* Operations left for a later run keep their refusals. */
static void keep_refusals(run_ctx *x, const bts_push_op *ops, size_t n)
{
    char sig[PUSH_SIG_MAX];

    for (size_t i = 0; i < n; i++) {
        signature(&ops[i], sig, sizeof(sig));
        if (bts_push_memo_refused(x->p->memo, sig))
            bts_push_memo_note(x->p->memo, sig);
    }
}

static int plan_and_apply(run_ctx *x)
{
    char now[BTS_TIME_LEN] = "";
    bts_push_op *ops = NULL;
    size_t n = 0;
    bts_push_rules rules = {.areas = x->p->area_ids, .n_areas = x->p->n_area_ids,
                            .default_area = x->p->default_area,
                            .resign_leavers = x->p->cfg->employees.resign_leavers,
                            .today = now, .prev_code = bts_push_memo_code,
                            .ud = x->p->memo};
    int r;

    bts_time_from_epoch(time(NULL), x->p->cfg->erpnext.timezone, now);
    now[10] = '\0';
    if ((r = bts_push_plan(x->roster, &rules, &ops, &n)) < 0)
        return r;
    if (!(x->written = calloc(n ? n : 1, sizeof(*x->written)))) {
        bts_push_ops_free(ops, n);
        return BTS_ENOMEM;
    }
    for (size_t i = 0; i < n && r >= 0; i++) {
        if (x->max_writes && x->c->writes >= x->max_writes) {
            x->c->left = n - i; /* the rest at a refresh soon: punches do not wait */
            keep_refusals(x, ops + i, n - i);
            break;
        }
        r = apply(x, &ops[i]);
    }
    if (r >= 0)
        r = verify_all(x);
    free(x->written);
    x->written = NULL;
    bts_push_ops_free(ops, n);
    return r < 0 ? r : 0;
}

static int load(run_ctx *x, const cJSON *erp_rows)
{
    int r = bts_roster_new(&x->roster);

    if (r < 0 ||
        (r = bts_personnel_load(x->bt, x->p->cfg->biotime.page_size, x->roster,
                                &x->resign_api)) < 0 ||
        (r = bts_roster_add_erpnext(x->roster, erp_rows, x->p->cfg->erpnext.employee_field)) < 0)
        return r;
    if (!x->resign_api && x->p->cfg->employees.resign_leavers)
        no_resign_api(x);
    return bts_roster_index(x->roster);
}

int bts_push_run(bts_push *p, bts_biotime *bt, const cJSON *erp_rows, bool dry_run, FILE *out,
                 uint64_t max_writes, bts_push_counts *ret)
{
    run_ctx x = {.p = p, .bt = bt, .dry_run = dry_run, .out = out ? out : stdout, .c = ret,
                 .max_writes = max_writes};
    int r;

    memset(ret, 0, sizeof(*ret));
    if (p->disabled)
        return 0;
    if ((r = resolve(p, bt)) < 0 || (r = load(&x, erp_rows)) < 0 ||
        (r = plan_and_apply(&x)) < 0)
        goto out;
    if (!dry_run)
        bts_push_memo_commit(p->memo, x.roster);
out:
    bts_push_memo_discard(p->memo);
    bts_roster_free(x.roster);
    return r == BTS_ECONFIG ? 0 : r;
}

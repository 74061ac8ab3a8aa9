/* The write pipeline (see flow.h). What bounds it: HRMS names every checkin from one naming
 * series, whose tabSeries row lock is taken at the first checkin of a request and held to
 * its commit, so checkin inserts run one at a time whatever the client does. One checkin
 * batch in flight keeps that lock busy; a second would only wait for it inside ERPNext,
 * holding a worker the lookups and Device Logs could use. Those fill the other
 * connections. No barrier separates pages: a connection that frees up takes the next job
 * of whichever page has one.
 *
 * A request that fails for a transient reason (5xx, 429, timeout, a dropped connection) is
 * asked again on its own after a delay (pace.h), while the others keep flowing; a page read
 * from BioTime likewise. The flow gives up only when nothing has been answered for
 * BTS_PACE_OUTAGE_MS. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bts/flow.h"
#include "bts/log.h"
#include "bts/pace.h"

/* Pages held at once: one whose Device Logs are written, one whose checkins are, and the
 * next, looked up, so the checkin that follows is ready when the lock frees. */
#define FLOW_MAX_UNITS 3
/* ...and one more while a request waits for its retry: a page held up by a fault then
 * does not hold up the checkins of the next one. */
#define FLOW_RETRY_UNITS 1
#define FLOW_WAIT_MS 1000

typedef enum { STAGE_LOOKUP, STAGE_CHECKINS, STAGE_LOGS, STAGE_DONE } stage;
typedef enum { JOB_LOOKUP, JOB_CHECKINS, JOB_LOGS, JOB_KINDS } job_kind;

static const char *const kind_name[] = {"lookup", "checkins", "device logs"};

typedef struct unit unit;
struct unit {
    bts_rows rows;
    int64_t page_no, mark;
    bool relink;          /* parked punches: checkins, then links instead of Device Logs */
    bool borrowed;        /* rows stay the caller's */
    stage stage;
    size_t jobs;          /* jobs of the stage not yet settled */
    bts_phase phase;      /* documents of the stage */
    unit *next;
};

typedef struct job job;
struct job {
    bts_flow *f;
    unit *u;
    job_kind kind;
    size_t start, len;    /* of u->phase */
    unsigned failures;    /* transient failures of this request so far */
    int64_t sent_ms;      /* when it last went out */
    int64_t due_ms;       /* waiting to go out again: not before then */
    job *next;
};

typedef struct {
    job *head, *tail;
} queue;

struct bts_flow {
    bts_writer *w;
    bts_write_counts *counts;
    bts_flow_acked_fn acked;
    void *ud;
    unit *head, *tail;    /* in push order: acknowledged from the head */
    size_t n_units;
    queue q[JOB_KINDS];
    job *waiting;         /* failed requests, until their time to go again */
    unsigned in_flight, in_flight_kind[JOB_KINDS];
    int error;
    bts_log_limiter retry_log; /* the first failure of a kind at warning, repeats at debug */
    char last_fault[400]; /* the last transient failure, for the outage message */
};

/* --- queues ----------------------------------------------------------------------- */

static void queue_push(queue *q, job *j, bool front)
{
    j->next = NULL;
    if (!q->head) {
        q->head = q->tail = j;
    } else if (front) {
        j->next = q->head;
        q->head = j;
    } else {
        q->tail->next = j;
        q->tail = j;
    }
}

static job *queue_pop(queue *q)
{
    job *j = q->head;
    if (j && !(q->head = j->next))
        q->tail = NULL;
    return j;
}

static int flow_fail(bts_flow *f, int r)
{
    if (!f->error)
        f->error = r;
    if (r == BTS_ESTOP && !*f->w->error)
        snprintf(f->w->error, sizeof(f->w->error), "stopped while writing to ERPNext");
    return r;
}

static int add_job(bts_flow *f, unit *u, job_kind kind, size_t start, size_t len, bool front)
{
    job *j = malloc(sizeof(*j));
    if (!j)
        return BTS_ENOMEM;
    *j = (job){.f = f, .u = u, .kind = kind, .start = start, .len = len};
    queue_push(&f->q[kind], j, front);
    u->jobs++;
    return 0;
}

/* The stage's documents in batches of batch_size (smaller after a timeout). */
static int add_batches(bts_flow *f, unit *u, job_kind kind)
{
    size_t bs = f->w->pace.batch;
    int r = 0;
    for (size_t i = 0; r == 0 && i < u->phase.n; i += bs)
        r = add_job(f, u, kind, i, u->phase.n - i < bs ? u->phase.n - i : bs, false);
    return r;
}

/* --- stages ----------------------------------------------------------------------- */

static int enter_checkins(bts_flow *f, unit *u)
{
    u->stage = STAGE_CHECKINS;
    int r = bts_writer_checkins(f->w, u->rows.items, u->rows.n, f->counts, &u->phase);
    return r < 0 ? r : add_batches(f, u, JOB_CHECKINS);
}

static int enter_logs(bts_flow *f, unit *u)
{
    bts_writer_checkins_done(u->rows.items, u->rows.n, f->counts);
    bts_phase_free(&u->phase);
    if (u->relink) {
        int r = bts_writer_link_parked(f->w, u->rows.items, u->rows.n);
        if (r == 0)
            u->stage = STAGE_DONE;
        return r;
    }
    u->stage = STAGE_LOGS;
    int r = bts_writer_device_logs(f->w, u->rows.items, u->rows.n, f->counts, &u->phase);
    return r < 0 ? r : add_batches(f, u, JOB_LOGS);
}

/* The unit's stage is settled: on to the next one that has work, or done. */
static int unit_advance(bts_flow *f, unit *u)
{
    int r = 0;
    while (r == 0 && u->jobs == 0 && u->stage != STAGE_DONE && !f->error) {
        if (u->stage == STAGE_LOOKUP)
            r = enter_checkins(f, u);
        else if (u->stage == STAGE_CHECKINS)
            r = enter_logs(f, u);
        else {
            bts_writer_device_logs_done(&u->phase);
            u->stage = STAGE_DONE;
        }
    }
    return r;
}

/* --- jobs --------------------------------------------------------------------------- */

static int settle(bts_flow *f, job *j, int rc, const cJSON *message, const bts_frappe_error *err)
{
    unit *u = j->u;
    if (j->kind == JOB_LOOKUP)
        return bts_writer_lookup_answer(f->w, u->rows.items, u->rows.n, rc, message, err,
                                        f->counts);
    int r = bts_writer_batch_answer(f->w, &u->phase, j->start, j->len, rc, message, err,
                                    j->failures > 0);
    if (r != 1)
        return r;
    size_t half = j->len / 2; /* refused as a whole: each half on its own, first half first */
    if ((r = add_job(f, u, j->kind, j->start + half, j->len - half, true)) == 0)
        r = add_job(f, u, j->kind, j->start, half, true);
    return r;
}

/* --- retries ------------------------------------------------------------------------ */

static const char *job_what(const job *j)
{
    return j->kind == JOB_LOOKUP ? "Device Log lookup" : j->u->phase.what;
}

static void wait_push(bts_flow *f, job *j, int64_t due_ms)
{
    j->due_ms = due_ms;
    j->next = f->waiting;
    f->waiting = j;
}

/* Puts j aside until due_ms, in pieces of the pace's batch size when a timeout made it
 * smaller than j. */
static int wait_job(bts_flow *f, job *j, int64_t due_ms)
{
    size_t bs = f->w->pace.batch;
    for (size_t i = bs; j->kind != JOB_LOOKUP && i < j->len; i += bs) {
        job *piece = malloc(sizeof(*piece));
        if (!piece)
            return BTS_ENOMEM;
        *piece = *j;
        piece->start = j->start + i;
        piece->len = j->len - i < bs ? j->len - i : bs;
        j->u->jobs++;
        wait_push(f, piece, due_ms);
    }
    if (j->kind != JOB_LOOKUP && j->len > bs)
        j->len = bs;
    wait_push(f, j, due_ms);
    return 0;
}

static void log_retry(bts_flow *f, const job *j, const bts_frappe_error *err, int64_t delay)
{
    char line[600], key[64];
    bts_http_failure failure;
    bts_http_fields fields;
    bts_frappe_error_format(err, line, sizeof(line));
    snprintf(f->last_fault, sizeof(f->last_fault), "ERPNext: %.380s", line);
    snprintf(key, sizeof(key), "ERPNext HTTP %ld", err->status);
    bts_http_failure_set(&failure, "erpnext", err->status, err->curl_error);
    bts_log_limited(&f->retry_log, key, LOG_WARNING, bts_http_failure_fields(&failure, &fields),
                    "ERPNext: %s of page %lld (%zu records) failed: %s; retrying in %.1f s "
                    "(attempt %u)", job_what(j), (long long)j->u->page_no, j->len, line,
                    (double)delay / 1000.0, j->failures + 1);
}

/* A transient failure: j goes again after its delay. Returns 1 when it was put aside, 0
 * when the answer is to be settled, or an error. */
static int retry_job(bts_flow *f, job *j, int rc, const bts_frappe_error *err)
{
    bts_pace *p = &f->w->pace;
    int64_t now = bts_now_ms();
    size_t batch = p->batch;
    bts_pace_answer a = {.rc = rc, .status = err->status, .timed_out = err->timed_out,
                         .retry_after_s = err->retry_after_s, .curl_error = err->curl_error};
    bts_pace_verdict v = bts_pace_note(p, &a, j->kind == JOB_LOOKUP ? 0 : j->len, j->sent_ms,
                                       now);
    if (v == BTS_PACE_OK || v == BTS_PACE_FAILED || f->error)
        return 0;
    if (p->batch < batch)
        bts_notice("ERPNext did not answer a batch of %zu in time: using batches of %zu",
                   j->len, p->batch);
    int64_t delay = bts_pace_retry_delay(p, ++j->failures, a.retry_after_s);
    log_retry(f, j, err, delay);
    int r = wait_job(f, j, now + delay);
    return r < 0 ? r : 1;
}

/* Retries whose time has come go to the front of their queues. */
static void promote(bts_flow *f, int64_t now)
{
    job **link = &f->waiting;
    while (*link) {
        job *j = *link;
        if (j->due_ms > now) {
            link = &j->next;
            continue;
        }
        *link = j->next;
        queue_push(&f->q[j->kind], j, true);
    }
}

static void job_done(void *ud, int rc, cJSON *message, const bts_frappe_error *err)
{
    job *j = ud;
    bts_flow *f = j->f;
    f->in_flight--;
    f->in_flight_kind[j->kind]--;
    int r = rc == BTS_ESTOP ? BTS_ESTOP : retry_job(f, j, rc, err);
    if (r == 1) {
        cJSON_Delete(message);
        return; /* j waits for its next try */
    }
    if (r == 0 && !(f->error && rc == BTS_ETRANSIENT)) /* given up already: no settling */
        r = settle(f, j, rc, message, err);
    cJSON_Delete(message);
    if (r == 0 && --j->u->jobs == 0)
        r = unit_advance(f, j->u);
    if (r < 0)
        flow_fail(f, r);
    free(j);
}

static int job_send(bts_flow *f, job *j)
{
    unit *u = j->u;
    int r = j->kind == JOB_LOOKUP
                ? bts_writer_lookup_start(f->w, u->rows.items, u->rows.n, job_done, j)
                : bts_writer_batch_start(f->w, &u->phase, j->start, j->len, job_done, j);
    if (r < 0)
        return r;
    j->sent_ms = bts_now_ms();
    f->in_flight++;
    f->in_flight_kind[j->kind]++;
    bts_debug("flow: sent %s of page %lld (%zu+%zu); in flight %u", kind_name[j->kind],
              (long long)u->page_no, j->start, j->len, f->in_flight);
    return 0;
}

/* One checkin batch at a time, sent first; then lookups, which feed checkins; then the
 * Device Logs that let a page be acknowledged and the next one read. */
static job *pick(bts_flow *f)
{
    if (f->q[JOB_CHECKINS].head && f->in_flight_kind[JOB_CHECKINS] == 0)
        return queue_pop(&f->q[JOB_CHECKINS]);
    if (f->q[JOB_LOOKUP].head)
        return queue_pop(&f->q[JOB_LOOKUP]);
    return queue_pop(&f->q[JOB_LOGS]);
}

static void pump(bts_flow *f, int64_t now)
{
    job *j;
    while (!f->error && f->in_flight < f->w->pace.window &&
           bts_pace_may_send(&f->w->pace, now) && (j = pick(f))) {
        int r = job_send(f, j);
        if (r < 0) {
            flow_fail(f, r);
            free(j);
        }
    }
}

/* --- units -------------------------------------------------------------------------- */

static void unit_free(unit *u)
{
    bts_phase_free(&u->phase);
    if (!u->borrowed)
        bts_rows_clear(&u->rows);
    free(u);
}

static int push(bts_flow *f, unit *u)
{
    if (f->tail)
        f->tail->next = u;
    else
        f->head = u;
    f->tail = u;
    f->n_units++;
    if (f->w->dry_run) {
        for (size_t i = 0; i < u->rows.n; i++)
            bts_writer_dry_print(f->w, &u->rows.items[i]);
        u->stage = STAGE_DONE;
        return 0;
    }
    if (!u->relink && u->rows.n > 0)
        return add_job(f, u, JOB_LOOKUP, 0, 0, false);
    return unit_advance(f, u);
}

/* A new unit of rows queued behind the others; the flow owns rows it does not borrow,
 * even when it cannot queue them. */
static int push_unit(bts_flow *f, const unit *from)
{
    unit *u = malloc(sizeof(*u));
    if (!u) {
        bts_rows rows = from->rows;
        if (!from->borrowed)
            bts_rows_clear(&rows);
        return flow_fail(f, BTS_ENOMEM);
    }
    *u = *from;
    int r = push(f, u);
    return r < 0 ? flow_fail(f, r) : 0;
}

int bts_flow_push_take(bts_flow *f, bts_rows *rows, int64_t page_no, int64_t mark)
{
    int r = push_unit(f, &(unit){.rows = *rows, .page_no = page_no, .mark = mark});
    memset(rows, 0, sizeof(*rows)); /* the flow's now */
    return r;
}

/* Acknowledges the finished units at the head, in order. */
static void retire(bts_flow *f)
{
    while (f->head && f->head->stage == STAGE_DONE) {
        unit *u = f->head;
        if (!(f->head = u->next))
            f->tail = NULL;
        f->n_units--;
        int r = f->acked ? f->acked(f->ud, u->page_no, u->mark) : 0;
        unit_free(u);
        if (r < 0)
            flow_fail(f, r);
    }
}

/* --- the run -------------------------------------------------------------------------- */

int bts_flow_new(bts_writer *w, bts_write_counts *counts, bts_flow_acked_fn acked, void *ud,
                 bts_flow **ret)
{
    bts_flow *f = calloc(1, sizeof(*f));
    if (!f)
        return BTS_ENOMEM;
    *f = (bts_flow){.w = w, .counts = counts, .acked = acked, .ud = ud};
    w->error[0] = '\0';
    w->failure = (bts_http_failure){.status = 0};
    *ret = f;
    return 0;
}

void bts_flow_free(bts_flow *f)
{
    if (!f)
        return;
    for (job_kind k = JOB_LOOKUP; k < JOB_KINDS; k++) {
        job *j;
        while ((j = queue_pop(&f->q[k])))
            free(j);
    }
    while (f->waiting) {
        job *j = f->waiting;
        f->waiting = j->next;
        free(j);
    }
    bts_log_limiter_clear(&f->retry_log, "writing to ERPNext");
    while (f->head) {
        unit *u = f->head;
        f->head = u->next;
        unit_free(u);
    }
    free(f);
}

/* --- reads ---------------------------------------------------------------------------- */

void bts_flow_read_ok(bts_flow *f, bts_flow_reader *rd)
{
    rd->failures = 0;
    bts_pace_alive(&f->w->pace, bts_now_ms());
}

int bts_flow_read_failed(bts_flow *f, bts_flow_reader *rd, const bts_pace_answer *a,
                         const char *what)
{
    char key[64];
    bts_pace_verdict v = bts_pace_classify(a);
    if (v == BTS_PACE_OK || v == BTS_PACE_FAILED || f->error)
        return a->rc;
    int64_t delay = bts_pace_retry_delay(&f->w->pace, ++rd->failures, a->retry_after_s);
    rd->due_ms = bts_now_ms() + delay;
    snprintf(f->last_fault, sizeof(f->last_fault), "BioTime %.200s: %s", what,
             a->status ? "server error" : "no answer");
    snprintf(key, sizeof(key), "BioTime HTTP %ld", a->status);
    bts_http_failure failure;
    bts_http_fields fields;
    bts_http_failure_set(&failure, "biotime", a->status, a->curl_error);
    bts_log_limited(&f->retry_log, key, LOG_WARNING, bts_http_failure_fields(&failure, &fields),
                    "BioTime: %s failed "
                    "(HTTP %ld); retrying in %.1f s (attempt %u)", what, a->status,
                    (double)delay / 1000.0, rd->failures + 1);
    return 1;
}

static void feed(bts_flow *f, bts_flow_reader *rd, int64_t now)
{
    if (!rd || rd->busy || rd->done || f->error)
        return;
    if (rd->due_ms) { /* a page to ask for again */
        if (now >= rd->due_ms && (rd->due_ms = 0, rd->again(rd) <= 0))
            rd->done = true;
    } else if (f->n_units < FLOW_MAX_UNITS + (f->waiting ? FLOW_RETRY_UNITS : 0) &&
               rd->next(rd) <= 0) {
        rd->done = true;
    }
}

/* --- the run -------------------------------------------------------------------------- */

static bool queued(const bts_flow *f)
{
    for (job_kind k = JOB_LOOKUP; k < JOB_KINDS; k++)
        if (f->q[k].head)
            return true;
    return false;
}

/* The earliest time a retry is due, or requests held by a Retry-After may go (INT64_MAX:
 * nothing waits for its time). */
static int64_t next_due(const bts_flow *f, const bts_flow_reader *rd, int64_t now)
{
    int64_t due = rd && rd->due_ms && !rd->done ? rd->due_ms : INT64_MAX;
    if (!bts_pace_may_send(&f->w->pace, now) && queued(f) && f->w->pace.hold_ms < due)
        due = f->w->pace.hold_ms;
    for (const job *j = f->waiting; j; j = j->next)
        if (j->due_ms < due)
            due = j->due_ms;
    return due;
}

/* Requests are failing and nothing has been answered for a while: a sustained outage,
 * not a fault to ride out. */
static void check_outage(bts_flow *f, const bts_flow_reader *rd, int64_t now)
{
    if (f->error || next_due(f, rd, now) == INT64_MAX || !bts_pace_outage(&f->w->pace, now))
        return;
    snprintf(f->w->error, sizeof(f->w->error), "nothing was answered for %d s; the last "
             "failure: %.400s", BTS_PACE_OUTAGE_MS / 1000, f->last_fault);
    flow_fail(f, BTS_ETRANSIENT);
}

static int wait_ms(const bts_flow *f, const bts_flow_reader *rd, int64_t now)
{
    int64_t due = next_due(f, rd, now);
    if (due == INT64_MAX || due - now >= FLOW_WAIT_MS)
        return FLOW_WAIT_MS;
    return due > now ? (int)(due - now) : 1;
}

int bts_flow_run(bts_flow *f, bts_flow_reader *rd)
{
    bts_pace_alive(&f->w->pace, bts_now_ms());
    for (;;) {
        int64_t now = bts_now_ms();
        check_outage(f, rd, now);
        feed(f, rd, now);
        promote(f, now);
        pump(f, now);
        retire(f);
        if (f->in_flight == 0 && !(rd && rd->busy) &&
            (f->error || (next_due(f, rd, now) == INT64_MAX && (!rd || rd->done))))
            break; /* nothing on its way: all read and written, or an error stopped it */
        if (bts_http_loop_run(f->w->loop, wait_ms(f, rd, now)) == BTS_ESTOP) {
            flow_fail(f, BTS_ESTOP);
            bts_http_loop_cancel(f->w->loop); /* every owner hears it; nothing is left */
            break;
        }
    }
    if (!f->error && f->n_units > 0) { /* cannot happen: a unit with no job to wait for */
        snprintf(f->w->error, sizeof(f->w->error), "internal error: %zu pages left unwritten",
                 f->n_units);
        flow_fail(f, BTS_EPROTO);
    }
    return f->error;
}

int bts_flow_write(bts_writer *w, bts_rows *rows, bool relink, bts_write_counts *counts)
{
    bts_flow *f;
    int r = bts_flow_new(w, counts, NULL, NULL, &f);
    if (r < 0)
        return r;
    if (push_unit(f, &(unit){.rows = *rows, .relink = relink, .borrowed = true}) == 0)
        r = bts_flow_run(f, NULL);
    else
        r = f->error;
    bts_flow_free(f);
    return r;
}

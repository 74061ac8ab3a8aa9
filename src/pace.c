/* Retry, window and batch policy (see pace.h). Decisions only: flow.c and the clients act
 * on them. */
#include "bts/pace.h"

#define BATCH_GROWTH_PARTS 8 /* a batch grows back by an eighth of batch_size per success */

void bts_pace_init(bts_pace *p, unsigned window_max, size_t batch_max, bts_random_fn rnd,
                   void *ud)
{
    *p = (bts_pace){.window_max = window_max ? window_max : 1,
                    .batch_max = batch_max ? batch_max : 1};
    p->window = p->window_max;
    p->batch = p->batch_max;
    bts_backoff_init(&p->retry, BTS_PACE_RETRY_BASE_MS, BTS_PACE_RETRY_CAP_MS, rnd, ud);
}

void bts_pace_alive(bts_pace *p, int64_t now_ms)
{
    p->last_ok_ms = now_ms;
}

bts_pace_verdict bts_pace_classify(const bts_pace_answer *a)
{
    if (a->rc == 0 || a->rc == BTS_EPERM)
        return BTS_PACE_OK; /* a refusal is an answer: the record's business, not the pace's */
    if (a->rc != BTS_ETRANSIENT)
        return BTS_PACE_FAILED;
    if (a->status == 429)
        return BTS_PACE_THROTTLED;
    if (a->timed_out || a->status == 504)
        return BTS_PACE_SLOW;
    return BTS_PACE_LOST;
}

/* Additive increase: one more request in flight per window's worth of answers. */
static void window_grow(bts_pace *p)
{
    if (p->window >= p->window_max)
        return;
    if (++p->credit >= p->window) {
        p->window++;
        p->credit = 0;
    }
}

/* Multiplicative decrease, once per round: the 429s of requests sent before the last
 * halving tell of the same burst. */
static void window_shrink(bts_pace *p, int64_t sent_ms, int64_t now_ms)
{
    if (sent_ms < p->throttled_ms)
        return;
    p->window = p->window > 1 ? p->window / 2 : 1;
    p->credit = 0;
    p->throttled_ms = now_ms;
}

static void batch_grow(bts_pace *p)
{
    size_t step = (p->batch_max + BATCH_GROWTH_PARTS - 1) / BATCH_GROWTH_PARTS;
    p->batch = p->batch_max - p->batch > step ? p->batch + step : p->batch_max;
}

static void batch_shrink(bts_pace *p, size_t len)
{
    if (len > 1 && len / 2 < p->batch)
        p->batch = len / 2;
}

bts_pace_verdict bts_pace_note(bts_pace *p, const bts_pace_answer *a, size_t len,
                               int64_t sent_ms, int64_t now_ms)
{
    bts_pace_verdict v = bts_pace_classify(a);
    if (v == BTS_PACE_OK) {
        p->last_ok_ms = now_ms;
        if (sent_ms >= p->throttled_ms) /* answers to requests sent before a 429 earn nothing */
            window_grow(p);
        if (len > 0 && a->rc == 0)
            batch_grow(p);
    } else if (v == BTS_PACE_THROTTLED) {
        window_shrink(p, sent_ms, now_ms);
        if (a->retry_after_s >= 0 && now_ms + a->retry_after_s * 1000 > p->hold_ms)
            p->hold_ms = now_ms + a->retry_after_s * 1000;
    } else if (v == BTS_PACE_SLOW) {
        batch_shrink(p, len);
    }
    return v;
}

bool bts_pace_may_send(const bts_pace *p, int64_t now_ms)
{
    return now_ms >= p->hold_ms;
}

int64_t bts_pace_retry_delay(const bts_pace *p, unsigned attempt, long retry_after_s)
{
    return bts_backoff_delay(&p->retry, attempt > 0 ? attempt - 1 : 0,
                             retry_after_s >= 0 ? (int64_t)retry_after_s * 1000 : -1);
}

bool bts_pace_outage(const bts_pace *p, int64_t now_ms)
{
    return now_ms - p->last_ok_ms >= BTS_PACE_OUTAGE_MS;
}

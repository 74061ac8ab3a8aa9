/* pace: what each answer means (table), the AIMD window, batches that halve only on a
 * timeout and grow back, per-request retry delays with Retry-After, and the outage rule.
 * The random source is pinned, so every delay is known. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bts/pace.h"

static uint32_t rnd_const(void *ud)
{
    return *(const uint32_t *)ud;
}

static uint32_t top = UINT32_MAX, bottom = 0;

typedef struct {
    int rc;
    long status;
    bool timed_out;
    bts_pace_verdict want;
} classify_case;

static const classify_case classify_cases[] = {
    {0, 200, false, BTS_PACE_OK},
    {BTS_EPERM, 417, false, BTS_PACE_OK},          /* a refused record is an answer */
    {BTS_ETRANSIENT, 500, false, BTS_PACE_LOST},   /* QueryDeadlockError */
    {BTS_ETRANSIENT, 502, false, BTS_PACE_LOST},   /* gunicorn restarting */
    {BTS_ETRANSIENT, 503, false, BTS_PACE_LOST},
    {BTS_ETRANSIENT, 0, false, BTS_PACE_LOST},     /* reset, dropped, empty reply */
    {BTS_ETRANSIENT, 0, true, BTS_PACE_SLOW},      /* our timeout */
    {BTS_ETRANSIENT, 504, false, BTS_PACE_SLOW},   /* the gateway's timeout */
    {BTS_ETRANSIENT, 429, false, BTS_PACE_THROTTLED},
    {BTS_EAUTH, 401, false, BTS_PACE_FAILED},
    {BTS_EPROTO, 200, false, BTS_PACE_FAILED},     /* an answer we cannot trust */
    {BTS_ENOMEM, 0, false, BTS_PACE_FAILED},
};

static void test_classify_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(classify_cases); i++) {
        const classify_case *c = &classify_cases[i];
        bts_pace_answer a = {.rc = c->rc, .status = c->status, .timed_out = c->timed_out,
                             .retry_after_s = -1};
        if (bts_pace_classify(&a) != c->want)
            fail_msg("case %zu: rc %d status %ld: %d, want %d", i, c->rc, c->status,
                     bts_pace_classify(&a), c->want);
    }
}

typedef struct {
    uint32_t *draw;
    unsigned attempt;
    long retry_after_s;
    int64_t want;
} delay_case;

static const delay_case delay_cases[] = {
    {&top, 1, -1, 500},         /* the first retry: about half a second */
    {&bottom, 1, -1, 250},      /* jitter keeps at least half */
    {&top, 2, -1, 1000},
    {&top, 3, -1, 2000},
    {&top, 6, -1, 16000},       /* capped */
    {&top, 20, -1, 16000},
    {&bottom, 20, -1, 8000},
    {&top, 1, 1, 1000},         /* Retry-After: 1 waits the second */
    {&top, 6, 1, 16000},        /* ...but never less than the backoff */
    {&bottom, 1, 30, 30000},    /* a long Retry-After is honoured */
    {&top, 1, 0, 500},
    {&top, 0, -1, 500},         /* attempt 0 is taken as the first */
};

static void test_retry_delay_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(delay_cases); i++) {
        const delay_case *c = &delay_cases[i];
        bts_pace p;
        bts_pace_init(&p, 4, 100, rnd_const, c->draw);
        int64_t d = bts_pace_retry_delay(&p, c->attempt, c->retry_after_s);
        if (d != c->want)
            fail_msg("case %zu: attempt %u: %lld ms, want %lld", i, c->attempt, (long long)d,
                     (long long)c->want);
    }
}

static const bts_pace_answer ok = {0, 200, false, -1, 0};
static const bts_pace_answer throttled = {BTS_ETRANSIENT, 429, false, 1, 0};
static const bts_pace_answer timeout = {BTS_ETRANSIENT, 0, true, -1, 0};
static const bts_pace_answer dropped = {BTS_ETRANSIENT, 0, false, -1, 0};
static const bts_pace_answer deadlock = {BTS_ETRANSIENT, 500, false, -1, 0};

typedef struct {
    const bts_pace_answer *a;
    size_t len;
    int64_t sent_ms, now_ms;
    unsigned window;   /* after the answer */
    size_t batch;
} step;

/* 8 connections, batches of 80: one scripted run, step by step. */
static const step aimd_steps[] = {
    {&ok, 80, 0, 10, 8, 80},
    {&throttled, 80, 20, 30, 4, 80},     /* halved */
    {&throttled, 80, 25, 31, 4, 80},     /* sent before the halving: same burst */
    {&throttled, 80, 40, 50, 2, 80},     /* sent after it: halved again */
    {&throttled, 80, 60, 70, 1, 80},
    {&throttled, 80, 80, 90, 1, 80},     /* never below one */
    {&ok, 80, 85, 95, 1, 80},            /* sent before the last halving: earns nothing */
    {&ok, 80, 100, 110, 2, 80},          /* one answer per request allowed: +1 */
    {&ok, 80, 100, 111, 2, 80},
    {&ok, 80, 100, 112, 3, 80},
    {&dropped, 80, 120, 130, 3, 80},     /* a drop changes nothing: the same batch again */
    {&deadlock, 80, 120, 131, 3, 80},
    {&timeout, 80, 140, 150, 3, 40},     /* only a timeout halves the batch */
    {&timeout, 40, 140, 151, 3, 20},
    {&timeout, 80, 140, 152, 3, 20},     /* an older, larger batch does not undo it */
    {&timeout, 1, 140, 153, 3, 20},
    {&ok, 20, 160, 170, 3, 30},          /* additive: an eighth of batch_size per batch */
    {&ok, 30, 160, 171, 3, 40},
    {&ok, 0, 160, 172, 4, 40},           /* an answer without documents: window only */
    {&ok, 40, 160, 173, 4, 50},
    {&ok, 50, 160, 174, 4, 60},
    {&ok, 60, 160, 175, 4, 70},
    {&ok, 70, 160, 176, 5, 80},
    {&ok, 80, 160, 177, 5, 80},          /* never above batch_size */
};

static void test_aimd_window_and_batch_script(void **state)
{
    (void)state;
    bts_pace p;
    bts_pace_init(&p, 8, 80, rnd_const, &top);
    bts_pace_alive(&p, 0);
    for (size_t i = 0; i < BTS_ARRAY_SIZE(aimd_steps); i++) {
        const step *s = &aimd_steps[i];
        bts_pace_note(&p, s->a, s->len, s->sent_ms, s->now_ms);
        if (p.window != s->window || p.batch != s->batch)
            fail_msg("step %zu: window %u batch %zu, want %u and %zu", i, p.window, p.batch,
                     s->window, s->batch);
    }
}

static void test_window_grows_back_to_connections_and_no_further(void **state)
{
    (void)state;
    bts_pace p;
    bts_pace_init(&p, 6, 100, rnd_const, &top);
    bts_pace_note(&p, &throttled, 0, 0, 1);
    bts_pace_note(&p, &throttled, 0, 2, 3);
    assert_int_equal(p.window, 1);
    for (int i = 0; i < 100; i++)
        bts_pace_note(&p, &ok, 0, 10, 10);
    assert_int_equal(p.window, 6);
}

static void test_outage_only_after_a_minute_without_an_answer(void **state)
{
    (void)state;
    bts_pace p;
    bts_pace_init(&p, 2, 10, rnd_const, &top);
    bts_pace_alive(&p, 1000);
    assert_false(bts_pace_outage(&p, 1000 + BTS_PACE_OUTAGE_MS - 1));
    assert_true(bts_pace_outage(&p, 1000 + BTS_PACE_OUTAGE_MS));
    /* failures do not restart the clock; any answer does, a refusal included */
    bts_pace_note(&p, &deadlock, 10, 0, 30000);
    bts_pace_note(&p, &throttled, 10, 0, 40000);
    assert_true(bts_pace_outage(&p, 1000 + BTS_PACE_OUTAGE_MS));
    bts_pace_answer refused = {BTS_EPERM, 417, false, -1, 0};
    bts_pace_note(&p, &refused, 1, 0, 50000);
    assert_false(bts_pace_outage(&p, 1000 + BTS_PACE_OUTAGE_MS));
    assert_true(bts_pace_outage(&p, 50000 + BTS_PACE_OUTAGE_MS));
}

static void test_retry_after_holds_every_request_until_it_has_run(void **state)
{
    (void)state;
    bts_pace p;
    bts_pace_init(&p, 4, 10, rnd_const, &top);
    assert_true(bts_pace_may_send(&p, 0));
    bts_pace_note(&p, &throttled, 1, 0, 5000);          /* Retry-After: 1 */
    assert_false(bts_pace_may_send(&p, 5000));
    assert_false(bts_pace_may_send(&p, 5999));
    assert_true(bts_pace_may_send(&p, 6000));
    bts_pace_answer longer = {BTS_ETRANSIENT, 429, false, 3, 0};
    bts_pace_note(&p, &longer, 1, 0, 5500);             /* a longer one extends the hold */
    assert_false(bts_pace_may_send(&p, 8499));
    bts_pace_note(&p, &throttled, 1, 0, 5600);          /* a shorter one does not shorten it */
    assert_false(bts_pace_may_send(&p, 8499));
    assert_true(bts_pace_may_send(&p, 8500));
    bts_pace_answer bare = {BTS_ETRANSIENT, 429, false, -1, 0};
    bts_pace_note(&p, &bare, 1, 9000, 9000);            /* no Retry-After: no hold */
    assert_true(bts_pace_may_send(&p, 9000));
    bts_pace_note(&p, &deadlock, 1, 9000, 9000);        /* other failures hold nothing */
    assert_true(bts_pace_may_send(&p, 9000));
}

static void test_zero_sizes_are_taken_as_one(void **state)
{
    (void)state;
    bts_pace p;
    bts_pace_init(&p, 0, 0, NULL, NULL);
    assert_int_equal(p.window, 1);
    assert_int_equal(p.batch, 1);
    bts_pace_note(&p, &timeout, 1, 0, 0);
    assert_int_equal(p.batch, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_table),
        cmocka_unit_test(test_retry_delay_table),
        cmocka_unit_test(test_aimd_window_and_batch_script),
        cmocka_unit_test(test_window_grows_back_to_connections_and_no_further),
        cmocka_unit_test(test_outage_only_after_a_minute_without_an_answer),
        cmocka_unit_test(test_retry_after_holds_every_request_until_it_has_run),
        cmocka_unit_test(test_zero_sizes_are_taken_as_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

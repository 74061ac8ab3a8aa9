/* backoff: exponential growth, cap, jitter bounds, Retry-After and reset, with the random
 * source injected so every delay is known. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "bts/backoff.h"

#define HOUR_MS (3600 * 1000LL)

static uint32_t rnd_const(void *ud)
{
    return *(const uint32_t *)ud;
}

/* A fixed-seed xorshift32: deterministic, but spreads over the whole 32-bit range. */
static uint32_t rnd_xorshift(void *ud)
{
    uint32_t *s = ud;

    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

typedef struct {
    uint32_t draw;
    int64_t base, cap;
    int64_t want[10];
} growth_case;

static const growth_case growth_cases[] = {
    /* top of the jitter range: d itself, doubling up to the cap */
    { UINT32_MAX, 1000, 60000,
      { 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000, 60000 } },
    /* bottom of the range: d/2 */
    { 0, 1000, 60000, { 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000 } },
    /* middle */
    { 0x80000000u, 1000, 60000,
      { 750, 1500, 3000, 6000, 12000, 24000, 45000, 45000, 45000, 45000 } },
    /* cap not a power-of-two multiple of base */
    { UINT32_MAX, 300, 1000, { 300, 600, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000 } },
    /* cap below base: cap wins from the start */
    { UINT32_MAX, 5000, 2000,
      { 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000 } },
    /* 1 ms base: [0, 1] then [1, 2]... */
    { 0, 1, 8, { 0, 1, 2, 4, 4, 4, 4, 4, 4, 4 } },
};

static void test_growth_and_cap_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(growth_cases); i++) {
        const growth_case *c = &growth_cases[i];
        uint32_t draw = c->draw;
        bts_backoff b;

        bts_backoff_init(&b, c->base, c->cap, rnd_const, &draw);
        for (size_t k = 0; k < BTS_ARRAY_SIZE(c->want); k++) {
            int64_t d = bts_backoff_next(&b, -1);

            if (d != c->want[k])
                fail_msg("case %zu step %zu: %lld, want %lld", i, k, (long long)d,
                         (long long)c->want[k]);
        }
        assert_int_equal(b.attempt, BTS_ARRAY_SIZE(c->want));
    }
}

/* Every delay lies in [d/2, d], and the draws really spread over that range. */
static void test_jitter_stays_within_half_to_full(void **state)
{
    uint32_t seed = 0x12345678u;
    bts_backoff b;

    (void)state;
    bts_backoff_init(&b, 1000, 64000, rnd_xorshift, &seed);
    for (unsigned attempt = 0; attempt < 8; attempt++) {
        int64_t d = 1000LL << attempt, lo = d, hi = 0;

        if (d > 64000)
            d = 64000;
        for (int k = 0; k < 5000; k++) {
            int64_t v;

            b.attempt = attempt;
            v = bts_backoff_next(&b, -1);
            assert_in_range(v, d / 2, d);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        assert_true(lo < d / 2 + d / 20);  /* came within 10% of each bound */
        assert_true(hi > d - d / 20);
    }
}

/* Hundreds of failures never overflow: huge base and cap included. */
static void test_many_attempts_never_overflow(void **state)
{
    uint32_t draw = UINT32_MAX;
    bts_backoff b;

    (void)state;
    bts_backoff_init(&b, 1000, 300000, rnd_const, &draw);
    for (int k = 0, prev = 0; k < 1000; k++) {
        int64_t v = bts_backoff_next(&b, -1);

        assert_in_range(v, prev, 300000);  /* never shrinks, never passes the cap */
        prev = (int)v;
    }
    assert_int_equal(bts_backoff_next(&b, -1), 300000);

    bts_backoff_init(&b, INT64_MAX / 4, INT64_MAX, rnd_const, &draw);
    for (int k = 0; k < 200; k++)
        assert_true(bts_backoff_next(&b, -1) > 0);
    /* 32 random bits over a 2^62 ms range: stays in range, not exactly at the top */
    assert_in_range(bts_backoff_next(&b, -1), INT64_MAX / 2, INT64_MAX);
}

typedef struct {
    uint32_t draw;
    int64_t cap;
    int64_t retry_after;
    int64_t want;
} retry_case;

static const retry_case retry_cases[] = {
    { UINT32_MAX, 60000, -1, 1000 },            /* none given */
    { UINT32_MAX, 60000, 0, 1000 },             /* never lowers the delay */
    { UINT32_MAX, 60000, 999, 1000 },
    { UINT32_MAX, 60000, 1001, 1001 },          /* raises it */
    { 0, 60000, 700, 700 },                     /* raises the jittered delay */
    { UINT32_MAX, 60000, 120000, 120000 },      /* may exceed the cap */
    { UINT32_MAX, 60000, HOUR_MS, HOUR_MS },
    { UINT32_MAX, 60000, 10 * HOUR_MS, HOUR_MS }, /* but never above an hour */
    { UINT32_MAX, 60000, INT64_MAX, HOUR_MS },
    { UINT32_MAX, 60000, -5000, 1000 },         /* any negative = none */
};

static void test_retry_after_raises_delay_up_to_one_hour(void **state)
{
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(retry_cases); i++) {
        uint32_t draw = retry_cases[i].draw;
        bts_backoff b;
        int64_t d;

        bts_backoff_init(&b, 1000, retry_cases[i].cap, rnd_const, &draw);
        d = bts_backoff_next(&b, retry_cases[i].retry_after);
        if (d != retry_cases[i].want)
            fail_msg("case %zu: %lld, want %lld", i, (long long)d, (long long)retry_cases[i].want);
        assert_int_equal(b.attempt, 1); /* a Retry-After still counts as an attempt */
    }
}

/* A backoff already past an hour is not shortened by a smaller Retry-After. */
static void test_retry_after_never_shortens_a_long_backoff(void **state)
{
    uint32_t draw = UINT32_MAX;
    bts_backoff b;

    (void)state;
    bts_backoff_init(&b, 3 * HOUR_MS, 3 * HOUR_MS, rnd_const, &draw);
    assert_int_equal(bts_backoff_next(&b, HOUR_MS), 3 * HOUR_MS);
}

static void test_reset_starts_again_from_base(void **state)
{
    uint32_t draw = UINT32_MAX;
    bts_backoff b;

    (void)state;
    bts_backoff_init(&b, 1000, 60000, rnd_const, &draw);
    for (int k = 0; k < 5; k++)
        bts_backoff_next(&b, -1);
    assert_int_equal(bts_backoff_next(&b, -1), 32000);
    bts_backoff_reset(&b);
    assert_int_equal(b.attempt, 0);
    assert_int_equal(bts_backoff_next(&b, -1), 1000);
    assert_int_equal(bts_backoff_next(&b, -1), 2000);
    bts_backoff_reset(NULL);
}

/* Nonsense settings are made safe rather than producing zero or negative delays forever. */
static void test_init_sanitises_settings(void **state)
{
    uint32_t draw = UINT32_MAX;
    bts_backoff b;

    (void)state;
    bts_backoff_init(&b, 0, 0, rnd_const, &draw);
    assert_int_equal(b.base_ms, 1);
    assert_int_equal(b.cap_ms, 1);
    assert_int_equal(bts_backoff_next(&b, -1), 1);
    bts_backoff_init(&b, -50, -1, rnd_const, &draw);
    assert_int_equal(bts_backoff_next(&b, -1), 1);
    bts_backoff_init(NULL, 1, 1, NULL, NULL);
    assert_int_equal(bts_backoff_next(NULL, 5), 0);
}

/* Without an injected source the default one is used, and stays within bounds. */
static void test_default_random_source(void **state)
{
    unsigned int s1 = 42, s2 = 42;
    bts_backoff b;

    (void)state;
    bts_backoff_init(&b, 1000, 8000, NULL, NULL);
    assert_ptr_equal(b.rnd, bts_backoff_random);
    for (int k = 0; k < 100; k++) {
        b.attempt = 3;
        assert_in_range(bts_backoff_next(&b, -1), 4000, 8000);
    }
    /* a caller-owned seed makes the default source repeatable */
    for (int k = 0; k < 10; k++)
        assert_int_equal(bts_backoff_random(&s1), bts_backoff_random(&s2));
    (void)bts_backoff_random(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_growth_and_cap_table),
        cmocka_unit_test(test_jitter_stays_within_half_to_full),
        cmocka_unit_test(test_many_attempts_never_overflow),
        cmocka_unit_test(test_retry_after_raises_delay_up_to_one_hour),
        cmocka_unit_test(test_retry_after_never_shortens_a_long_backoff),
        cmocka_unit_test(test_reset_starts_again_from_base),
        cmocka_unit_test(test_init_sanitises_settings),
        cmocka_unit_test(test_default_random_source),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

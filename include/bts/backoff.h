/* Exponential backoff with full jitter and a cap; the random source is injected. */
#ifndef BTS_BACKOFF_H
#define BTS_BACKOFF_H

#include "bts/common.h"

typedef uint32_t (*bts_random_fn)(void *ud);

typedef struct {
    int64_t base_ms;
    int64_t cap_ms;
    unsigned attempt;
    bts_random_fn rnd;
    void *rnd_ud;
} bts_backoff;

void bts_backoff_init(bts_backoff *b, int64_t base_ms, int64_t cap_ms, bts_random_fn rnd,
                      void *ud);
/* Delay before the next attempt: uniform in [d/2, d] with d = min(cap, base * 2^attempt);
 * a server's Retry-After (ms, or -1) raises it (never above 1 h). Counts the attempt. */
int64_t bts_backoff_next(bts_backoff *b, int64_t retry_after_ms);
void bts_backoff_reset(bts_backoff *b);
/* The same delay for a given attempt (0 = the first retry), counting nothing: for callers
 * that keep one attempt count per request. */
int64_t bts_backoff_delay(const bts_backoff *b, unsigned attempt, int64_t retry_after_ms);

/* Default random source (rand_r on a seed taken from the clock). */
uint32_t bts_backoff_random(void *ud);

#endif

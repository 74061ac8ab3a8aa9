/* Exponential backoff with jitter in [d/2, d] and a cap. The random source is injected so
 * tests can pin it; the delay keeps half its size so retries never bunch at zero. */
#include "bts/backoff.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* A server's Retry-After is honoured up to this, so a silly value cannot park us for days. */
#define BACKOFF_RETRY_AFTER_MAX_MS (3600 * 1000LL)

void bts_backoff_init(bts_backoff *b, int64_t base_ms, int64_t cap_ms, bts_random_fn rnd,
                      void *ud)
{
    if (!b)
        return;
    b->base_ms = base_ms > 0 ? base_ms : 1;
    b->cap_ms = cap_ms > 0 ? cap_ms : b->base_ms;
    b->attempt = 0;
    b->rnd = rnd ? rnd : bts_backoff_random;
    b->rnd_ud = rnd ? ud : NULL;
}

/* min(cap, base * 2^attempt), doubling step by step so it cannot overflow. */
static int64_t backoff_ceiling(const bts_backoff *b, unsigned attempt)
{
    int64_t d = b->base_ms;

    for (unsigned i = 0; i < attempt && d < b->cap_ms; i++)
        d = d > INT64_MAX / 2 ? INT64_MAX : d * 2;
    return d < b->cap_ms ? d : b->cap_ms;
}

/* floor(r * span / 2^32) without overflowing 64 bits for any span up to 2^63: scaling the
 * draw (not taking it modulo) reaches every value without bias and maps the extremes of the
 * source onto the bounds. */
static uint64_t backoff_scale(uint32_t r, uint64_t span)
{
    return (uint64_t)r * (span >> 32) + (((uint64_t)r * (span & 0xFFFFFFFFu)) >> 32);
}

int64_t bts_backoff_delay(const bts_backoff *b, unsigned attempt, int64_t retry_after_ms)
{
    int64_t d, lo, delay;

    if (!b)
        return 0;
    d = backoff_ceiling(b, attempt);
    lo = d / 2;
    delay = lo + (int64_t)backoff_scale(b->rnd(b->rnd_ud), (uint64_t)(d - lo) + 1);
    if (retry_after_ms >= 0) {
        if (retry_after_ms > BACKOFF_RETRY_AFTER_MAX_MS)
            retry_after_ms = BACKOFF_RETRY_AFTER_MAX_MS;
        if (retry_after_ms > delay)
            delay = retry_after_ms;
    }
    return delay;
}

int64_t bts_backoff_next(bts_backoff *b, int64_t retry_after_ms)
{
    int64_t delay = bts_backoff_delay(b, b ? b->attempt : 0, retry_after_ms);

    if (b && b->attempt < 64)
        b->attempt++;
    return delay;
}

void bts_backoff_reset(bts_backoff *b)
{
    if (b)
        b->attempt = 0;
}

/* ud may point to an unsigned int seed owned by the caller; NULL uses a process-wide seed
 * taken from the clock and pid on first use. rand_r gives 31 bits, so two draws are mixed. */
uint32_t bts_backoff_random(void *ud)
{
    static unsigned int seed;
    static bool seeded;
    unsigned int *s = ud;
    struct timespec ts;

    if (!s) {
        if (!seeded) {
            clock_gettime(CLOCK_REALTIME, &ts);
            seed = (unsigned int)ts.tv_nsec ^ (unsigned int)ts.tv_sec ^
                   ((unsigned int)getpid() << 16);
            seeded = true;
        }
        s = &seed;
    }
    return ((uint32_t)rand_r(s) << 16) ^ (uint32_t)rand_r(s);
}

/* How hard to push servers that are having trouble (issue 13): a request that fails for a
 * transient reason is asked again on its own, after a jittered exponential delay from half
 * a second (a server's Retry-After honoured); throttling (429) halves the number of
 * requests in flight, which grows back by one per window of answers (AIMD); only a timeout
 * halves a batch, which grows back additively; and a run ends only on a sustained outage,
 * when nothing has been answered for BTS_PACE_OUTAGE_MS. Pure: the caller brings the time
 * and the random source. */
#ifndef BTS_PACE_H
#define BTS_PACE_H

#include "bts/backoff.h"

#define BTS_PACE_OUTAGE_MS (60 * 1000)   /* no answer for this long: give up the run */
#define BTS_PACE_RETRY_BASE_MS 500       /* the first retry of a request, before jitter */
#define BTS_PACE_RETRY_CAP_MS (16 * 1000) /* later retries wait at most this (or Retry-After) */

typedef enum {
    BTS_PACE_OK,        /* answered (a refusal of the record included: no retry cures it) */
    BTS_PACE_FAILED,    /* failed for a reason a retry does not cure (credentials, garbage) */
    BTS_PACE_LOST,      /* 5xx, reset, dropped connection: ask again, the same */
    BTS_PACE_SLOW,      /* timed out (or a gateway's 504): ask again, smaller */
    BTS_PACE_THROTTLED, /* 429: ask again later, with fewer requests in flight */
} bts_pace_verdict;

/* What came back for one request. */
typedef struct {
    int rc;             /* the call's result: 0 or a BTS_E* (BTS_ETRANSIENT is retried) */
    long status;        /* HTTP status; 0 when no answer came */
    bool timed_out;     /* no answer within the timeout */
    long retry_after_s; /* the server's Retry-After, or -1 */
    int curl_error;     /* status 0: libcurl's error code, for the journal */
} bts_pace_answer;

typedef struct {
    unsigned window_max;   /* erpnext.connections */
    unsigned window;       /* requests allowed in flight now, 1..window_max */
    unsigned credit;       /* answers since the window last grew */
    int64_t throttled_ms;  /* when the window was last halved */
    size_t batch_max;      /* erpnext.batch_size */
    size_t batch;          /* documents per batch now, 1..batch_max */
    int64_t last_ok_ms;    /* the last answer, or the start of the run */
    int64_t hold_ms;       /* a 429's Retry-After: send nothing new before then */
    bts_backoff retry;     /* delays per attempt; its own attempt count is unused */
} bts_pace;

/* Asked by a client after each synchronous request (set by the sync, the one place that
 * decides what is retried): the delay before asking again, or -1 to return the answer.
 * what: the request and how it failed, for the journal. */
typedef int64_t (*bts_pace_retry_fn)(void *ud, const bts_pace_answer *a, unsigned attempt,
                                     const char *what);

void bts_pace_init(bts_pace *p, unsigned window_max, size_t batch_max, bts_random_fn rnd,
                   void *ud);
/* Something was answered, or a run starts: the outage clock starts again now. */
void bts_pace_alive(bts_pace *p, int64_t now_ms);

bts_pace_verdict bts_pace_classify(const bts_pace_answer *a);

/* Settles the answer to a request sent at sent_ms with len documents (0: not a batch):
 * an answer restarts the outage clock and earns batch growth, and window growth when the
 * request was sent after the last halving; a throttle halves
 * the window (once for all the requests sent before the last halving) and holds every
 * request for its Retry-After; a timeout halves the batch below len. Returns the verdict. */
bts_pace_verdict bts_pace_note(bts_pace *p, const bts_pace_answer *a, size_t len,
                               int64_t sent_ms, int64_t now_ms);

/* Whether a request may go out now: not while a 429's Retry-After runs (Frappe's limiter
 * is site-wide, so every request sent then would only be refused too). */
bool bts_pace_may_send(const bts_pace *p, int64_t now_ms);

/* The delay before asking again after the attempt-th failure of one request (1 = the
 * first failure): uniform in [d/2, d], d = min(cap, base * 2^(attempt-1)), at least the
 * server's Retry-After. */
int64_t bts_pace_retry_delay(const bts_pace *p, unsigned attempt, long retry_after_s);

/* Nothing has been answered for BTS_PACE_OUTAGE_MS. */
bool bts_pace_outage(const bts_pace *p, int64_t now_ms);

#endif

/* One sync cycle: refresh the employee map when due, read pages past the cursor, map,
 * write, save the cursor after ERPNext acknowledged each page, retry parked punches, write
 * a Sync Logs entry. The only module that decides what is retried. */
#ifndef BTS_SYNC_H
#define BTS_SYNC_H

#include <stdio.h>
#include "bts/config.h"
#include "bts/http.h"
#include "bts/state.h"

typedef struct {
    uint64_t read;        /* new rows read from BioTime */
    uint64_t checkins;    /* checkins created */
    uint64_t device_logs; /* Device Logs created */
    uint64_t duplicates;  /* records ERPNext already had */
    uint64_t parked;      /* Device Logs written with synced = 0 */
    uint64_t unparked;    /* parked punches that got their checkin this cycle */
    uint64_t skipped;     /* rows of other terminals or before start_date */
    uint64_t rejected;    /* rows BioTime sent unusable, or ERPNext refused outright */
    uint64_t pages;
    uint64_t biotime_requests;
    uint64_t erpnext_requests;
    uint64_t duration_ms;  /* how long the cycle took (monotonic clock) */
    bool caught_up;       /* BioTime has nothing more right now */
    int error;            /* 0 or the BTS_E* that ended the cycle early */
    long retry_after_s;   /* a server asked us to wait this long (-1 none) */
    char watermark[20];   /* last_sync_of_checkin set this cycle (ERPNext zone), or "" */
    char watermark_holder[64]; /* the terminal holding it back, or "" */
    char error_text[512];
    bts_http_failure failure; /* the failed request behind error (server "" when none) */
    bool pushed;          /* employees.push ran this cycle (counts below) */
    uint64_t push_created, push_renamed, push_resigned, push_refused;
} bts_cycle;

/* Told after each page ERPNext acknowledged: the cycle's counts so far (written ones
 * included) and the state (the cursor). */
typedef void (*bts_sync_page_fn)(void *ud, const bts_cycle *c, const bts_state *st);

typedef struct {
    bool dry_run;         /* map and print, write nothing anywhere */
    FILE *out;            /* where dry-run lines and progress go */
    const char *since;    /* backfill: punch-time range in BioTime's zone, or NULL */
    const char *until;
    bool progress;        /* show backfill progress (on a terminal) */
    bool once;            /* --once: employees.push does all its changes in one go */
    bts_sync_page_fn on_page; /* NULL, or told of each acknowledged page */
    void *on_page_ud;
} bts_sync_options;

typedef struct bts_sync bts_sync;

int bts_sync_new(const bts_config *cfg, const bts_sync_options *opt, bts_sync **ret);
void bts_sync_free(bts_sync *s);

/* Runs one cycle; returns 0 or the error that ended it (also in ret->error). */
int bts_sync_cycle(bts_sync *s, bts_cycle *ret);

const bts_state *bts_sync_state(const bts_sync *s);

#endif

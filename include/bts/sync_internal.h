/* Shared by the files that make up a sync cycle (sync.c, backfill.c, parked.c, synclog.c);
 * not for other modules. */
#ifndef BTS_SYNC_INTERNAL_H
#define BTS_SYNC_INTERNAL_H

#include <time.h>

#include "bts/biotime.h"
#include "bts/employees.h"
#include "bts/erpnext.h"
#include "bts/log.h"
#include "bts/push.h"
#include "bts/rows.h"
#include "bts/scan.h"
#include "bts/sync.h"
#include "bts/writer.h"

/* How new transactions are found (probed at start-up, see fallback.c). */
typedef enum {
    BTS_STRATEGY_UNKNOWN,
    BTS_STRATEGY_ID,       /* default ascending ids: id cursor + binary search */
    BTS_STRATEGY_ARRIVAL,  /* ordering=-upload_time honoured: arrival scan */
    BTS_STRATEGY_WINDOW,   /* neither: punch-time window of lookback_hours */
} bts_strategy;

struct bts_sync {
    const bts_config *cfg;
    bts_rows_memo rows_memo;   /* id-less BioTime rows reported already */
    bts_sync_options opt;
    bts_http_loop *loop;       /* BioTime reads and ERPNext writes travel together on it */
    bts_biotime *bt;
    bts_erpnext *erp;
    bts_employees *emps;
    bts_writer w;
    bts_state st;
    bts_strategy strategy;
    int64_t emps_loaded_ms;
    bool emps_want_refresh;    /* an unknown emp_code was seen */
    bool emps_changed;         /* the map was reloaded: parked punches may now map */
    bts_push *push;            /* employees.push, or NULL */
    cJSON *push_rows;          /* Employees of the last refresh, for the push (owned) */
    int64_t parked_checked_ms;
    bool geolocation;          /* HR Settings > Allow Geolocation Tracking, read with the map */
    int64_t geolocation_learnt_ms; /* when a refusal taught it (HR Settings unreadable) */
    bool warned_hr_settings;   /* said once that HR Settings cannot be read */
    char unlocated[16][64];    /* terminals said to need coordinates (geolocation) */
    size_t n_unlocated;
    time_t cycle_started;      /* when this cycle's read began (watermark bound) */
    time_t watermark_at;       /* last watermark update */
    bts_log_limiter retry_log; /* synchronous requests asked again (retry_request) */
    bool warned_filter_ignored;
    bool warned_broken_chain;
    /* Sync Logs: a repeated error is summarised, not repeated */
    char synclog_error[512];
    unsigned synclog_repeats;
    int64_t synclog_error_ms;
    uint64_t requests_counted[4]; /* client counts already in the state's totals */
};

int bts_sync_fail(bts_cycle *c, int err, const char *text);
int bts_sync_write_failed(bts_cycle *c, int err, const bts_writer *w);
int bts_sync_read_failed(bts_sync *s, bts_cycle *c, int err, const char *what);
/* Reads pages 1, 2... with query (a range, an ordering) and writes their rows, without a
 * cursor; more_fn (may be NULL) sees each page's rows and returns false to stop there. */
typedef bool (*bts_scan_page_fn)(void *ud, const cJSON *rows);
int bts_sync_scan(bts_sync *s, bts_cycle *c, const char *query, bts_scan_page_fn more_fn,
                  void *ud);
int bts_sync_backfill(bts_sync *s, bts_cycle *c);
int bts_sync_live(bts_sync *s, bts_cycle *c);
int bts_sync_advance(bts_sync *s, bts_cycle *c, int64_t new_id, int64_t page_no);
int bts_sync_ids_went_back(bts_sync *s, const bts_scan_result *sr);
void bts_sync_add_counts(bts_cycle *c, const bts_write_counts *w);
/* A page is acknowledged: tells opt.on_page, with w (written so far) counted in. */
void bts_sync_page_done(bts_sync *s, const bts_cycle *c, const bts_write_counts *w);
void bts_sync_remember_unknown(bts_sync *s, const bts_rows *rows);
void bts_sync_count_rows(bts_sync *s, bts_cycle *c, const bts_rows *rows);
int bts_sync_probe_order(bts_sync *s);
int bts_sync_fallback(bts_sync *s, bts_cycle *c);
int bts_sync_watermark(bts_sync *s, bts_cycle *c);
int bts_sync_retry_parked(bts_sync *s, bts_cycle *c);
/* Checkins need coordinates: HR Settings says so, or ERPNext refused one for want of them. */
bool bts_sync_geolocation(const bts_sync *s);
void bts_sync_log_entry(bts_sync *s, const bts_cycle *c);

#endif

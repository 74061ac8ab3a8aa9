/* The local state (cursor, counters, last cycle) in sync.state_dir/state.json, written
 * atomically: temp file, fsync, rename, fsync of the directory. */
#ifndef BTS_STATE_H
#define BTS_STATE_H

#include <sys/types.h>
#include <time.h>
#include "bts/common.h"

#define BTS_STATE_FILE "state.json"
#define BTS_STATE_MAX_CODES 16

typedef struct {
    /* cursor: every BioTime id <= last_id has been acknowledged by ERPNext */
    int64_t last_id;
    int64_t page_hint;        /* page (of hint_page_size) where last_id was last seen */
    int64_t hint_page_size;
    char biotime_url[256];    /* which server the cursor belongs to */
    char newest_upload[20];   /* newest upload_time delivered */
    char newest_punch[20];    /* newest punch_time delivered */

    /* counters since the state was created */
    uint64_t total_read;
    uint64_t total_checkins;
    uint64_t total_device_logs;
    uint64_t total_duplicates;
    uint64_t total_parked;
    uint64_t total_errors;
    uint64_t cycles;
    uint64_t total_rejected;
    uint64_t total_biotime_requests;
    uint64_t total_biotime_failures; /* transport failures and 408/425/429/5xx answers */
    uint64_t total_erpnext_requests;
    uint64_t total_erpnext_failures;

    /* last cycle */
    int64_t last_cycle_at;    /* Unix time */
    char last_result[32];     /* "ok", "idle", "error", "partial" */
    uint64_t last_read;
    uint64_t last_checkins;
    uint64_t last_device_logs;
    uint64_t last_parked;
    uint64_t last_duration_ms;
    int64_t last_success_at;

    /* last error */
    int64_t last_error_at;
    char last_error[512];

    /* employees.push: the last run, and totals since the state was created */
    int64_t push_last_at;
    uint64_t push_last_created, push_last_renamed, push_last_resigned, push_last_refused;
    uint64_t push_created, push_renamed, push_resigned, push_refused;

    /* parked punches waiting for an employee (Device Log synced = 0) */
    uint64_t parked_waiting;
    char unknown_codes[BTS_STATE_MAX_CODES][64];
    size_t n_unknown_codes;
} bts_state;

/* Fills st from dir/state.json; a missing file gives a zeroed state (returns 0). A
 * corrupt file is an error naming the file (never silently reset: that would re-read). */
int bts_state_load(const char *dir, bts_state *st, char *err, size_t errlen);
int bts_state_save(const char *dir, const bts_state *st, char *err, size_t errlen);

/* Checks that dir exists (or can be created) and is writable. */
int bts_state_dir_usable(const char *dir, char *err, size_t errlen);

/* Writes data to dir/name atomically (the helper under bts_state_save), mode 0600. */
int bts_state_write_atomic(const char *dir, const char *name, const char *data, size_t len,
                           char *err, size_t errlen);
/* The same with the file's mode given, whatever the umask (the metrics file is 0644). */
int bts_state_write_atomic_mode(const char *dir, const char *name, const char *data,
                                size_t len, mode_t mode, char *err, size_t errlen);

/* The state as JSON text (owned by the caller), for --status --json and saving. */
char *bts_state_to_json(const bts_state *st);
int bts_state_from_json(const char *text, bts_state *st, char *err, size_t errlen);

#endif

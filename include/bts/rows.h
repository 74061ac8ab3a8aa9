/* Turns the rows of a BioTime page into writer items: parse leniently, filter (terminals,
 * start_date, backfill range), map to an employee. */
#ifndef BTS_ROWS_H
#define BTS_ROWS_H

#include "bts/biotime.h"
#include "bts/writer.h"

/* Rows without a usable id already reported: such a row has no place in the id order, so the
 * page holding the cursor brings it back at every poll. Fingerprints of the last few. */
typedef struct {
    uint64_t seen[64];
    size_t n, next;
} bts_rows_memo;

typedef struct {
    const bts_config *cfg;
    const bts_employees *emps;
    int64_t above_id;     /* rows with id <= this are done already */
    const char *since;    /* backfill range on punch_time, or NULL */
    const char *until;
    int64_t page_no;      /* for messages about a row */
    bool geolocation;     /* ERPNext's geolocation tracking is on (see bts_map_checkin) */
    bts_rows_memo *memo;  /* NULL, or id-less rows seen before: not reported again */
} bts_rows_filter;

typedef struct {
    bts_item *items;      /* owned; clear each with bts_item_clear */
    size_t n;
    int64_t max_id;       /* highest valid id seen above above_id (kept or skipped) */
    uint64_t skipped;
    uint64_t rejected;    /* rows without a usable id */
    uint64_t outside;     /* rows outside the backfill range (a filter the server ignored) */
    char unknown_codes[16][64];
    int64_t unknown_first_id[16];  /* a transaction of each unknown code, for the log */
    size_t n_unknown;
} bts_rows;

int bts_rows_build(const bts_rows_filter *f, const cJSON *rows, bts_rows *ret);
/* Adds the rows of one more page to ret (a unit of several pages). */
int bts_rows_append(const bts_rows_filter *f, const cJSON *rows, bts_rows *ret);
void bts_rows_clear(bts_rows *r);

#endif

/* Writes a page of mapped transactions to ERPNext: checkins first, then Device Logs naming
 * them. Batches go through insert_many; a refused batch is bisected to isolate the refused
 * record, which is parked with its reason instead of blocking the page. */
#ifndef BTS_WRITER_H
#define BTS_WRITER_H

#include <stdio.h>
#include "bts/erpnext.h"
#include "bts/map.h"

typedef struct {
    bts_txn txn;
    bts_map_verdict verdict;
    cJSON *checkin;              /* Employee Checkin to write, or NULL */
    char employee[141];          /* Employee name when mapped */
    char checkin_name[141];      /* set once the checkin exists */
    char device_log_name[160];   /* "<id>", "<name>-<id>", "-r<n>" added if the id was reused */
    char park_reason[300];       /* why there is no checkin ("" when there is one) */
    bool checkin_existed;        /* ERPNext already had it (duplicate rule) */
    bool device_log_existed;
    bool rejected;               /* ERPNext refused even the Device Log */
    bool done_before;            /* ERPNext had its Device Log already: nothing to write */
} bts_item;

typedef struct {
    uint64_t checkins;
    uint64_t checkin_duplicates;
    uint64_t device_logs;
    uint64_t device_log_duplicates;
    uint64_t parked;
    uint64_t rejected;
    uint64_t requests;
} bts_write_counts;

typedef struct {
    const bts_config *cfg;
    bts_erpnext *erp;
    bool dry_run;
    FILE *dry_out;
    bool time_rights_checked;    /* a checkin's stored time matched what we sent */
    size_t batch_limit;          /* 0, or a smaller batch after a timeout */
    char error[512];             /* set when a write returns an error */
} bts_writer;

/* Writes items[0..n). 0 when ERPNext acknowledged every item (written, already there or
 * parked); BTS_ETRANSIENT, BTS_EAUTH, BTS_EROLE, BTS_EPROTO or BTS_ESTOP otherwise, and
 * the cursor must not move past these items. */
int bts_writer_write(bts_writer *w, bts_item *items, size_t n, bts_write_counts *counts);

/* The same as a pipeline over successive units of items:
 *   begin(unit)             looks up which Device Logs ERPNext already has (dry run: prints);
 *   step(unit, prev unit)   writes the unit's checkins together with the previous unit's
 *                           Device Logs (whose checkins are done), in the same rounds of
 *                           parallel requests. When it returns 0 the previous unit is fully
 *                           acknowledged and the cursor may move past it. */
int bts_writer_begin(bts_writer *w, bts_item *items, size_t n, bts_write_counts *counts);
int bts_writer_step(bts_writer *w, bts_item *cur, size_t n_cur, bts_item *prev, size_t n_prev,
                    bts_write_counts *counts);

void bts_item_clear(bts_item *it);



/* For parked punches whose employee now maps: writes their checkins, then updates each
 * existing Device Log (items[i].txn.raw "name") to name its checkin. */
int bts_writer_relink(bts_writer *w, bts_item *items, size_t n, bts_write_counts *counts);
/* Rows with "name" and the NULL-terminated field_names of the doctype's documents named in names (a JSON array). */
int bts_writer_list_names(bts_writer *w, const char *doctype, const char *const *field_names,
                          const cJSON *names, cJSON **ret_rows, bts_frappe_error *err);

#endif

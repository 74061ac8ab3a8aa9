/* What is written to ERPNext for mapped transactions, and what each answer means: checkins
 * first, then Device Logs naming them (DESIGN.md §2). The order in which batches travel is
 * flow.c's business; this module says what goes into a batch and how to settle it. */
#ifndef BTS_WRITER_H
#define BTS_WRITER_H

#include <stdio.h>
#include "bts/erpnext.h"
#include "bts/map.h"
#include "bts/pace.h"

typedef struct {
    bts_txn txn;
    bts_map_verdict verdict;
    cJSON *checkin;              /* Employee Checkin to write, or NULL */
    char *park_reason;           /* why there is no checkin (NULL when there is one); owned */
    char employee[141];          /* Employee name when mapped */
    char checkin_name[141];      /* set once the checkin exists */
    uint8_t reuse;               /* n > 0: BioTime reused the id; its Device Log is "...-r<n>" */
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
} bts_write_counts;

typedef struct {
    const bts_config *cfg;
    bts_erpnext *erp;
    bts_http_loop *loop;         /* where batches travel in parallel */
    bool dry_run;
    FILE *dry_out;
    bool time_rights_checked;    /* a checkin's stored time matched what we sent */
    bts_pace pace;               /* batch size, requests in flight, retries (flow.c) */
    bool geolocation_refused;    /* ERPNext refused a checkin for want of coordinates */
    char error[512];             /* set when a write returns an error */
    bts_http_failure failure;    /* the request behind error, if one failed */
} bts_writer;

void bts_item_clear(bts_item *it);
/* Says why the item gets no checkin (printf-style; replaces an earlier reason). */
void bts_item_park(bts_item *it, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One kind of document for a set of items, written in batches: items[i] gets the document
 * phase->doc builds for it. */
typedef struct bts_phase bts_phase;
struct bts_phase {
    const char *what;
    bts_item **items;
    size_t n;
    /* a new document for it (the batch owns it) */
    cJSON *(*doc)(bts_writer *w, bts_item *it);
    /* a batch of items[start..start+len) ERPNext accepted, with its names */
    int (*accepted)(bts_writer *w, bts_phase *p, size_t start, size_t len, const cJSON *names);
    /* a single document ERPNext refused for good: park, link or reduce it */
    int (*refused)(bts_writer *w, bts_item *it, const bts_frappe_error *err);
    /* a resent batch refused as a duplicate: 1 when ERPNext holds all of it (settled) */
    int (*confirm)(bts_writer *w, bts_phase *p, size_t start, size_t len);
    bts_write_counts *counts;
};

/* Lookup of the Device Logs ERPNext already has among items (a re-read after a crash, a
 * backfill): one request; the answer marks those items done_before. */
int bts_writer_lookup_start(bts_writer *w, bts_item *items, size_t n, bts_erpnext_done_fn fn,
                            void *ud);
int bts_writer_lookup_answer(bts_writer *w, bts_item *items, size_t n, int rc,
                             const cJSON *rows, const bts_frappe_error *err,
                             bts_write_counts *counts);

/* The phases of items: the checkins still to write (the first of a run goes alone, to check
 * the API user's right to set the time), then the Device Logs. Each returns 0 with p->n == 0
 * when there is nothing to write. */
int bts_writer_checkins(bts_writer *w, bts_item *items, size_t n, bts_write_counts *counts,
                        bts_phase *p);
void bts_writer_checkins_done(bts_item *items, size_t n, bts_write_counts *counts);
int bts_writer_device_logs(bts_writer *w, bts_item *items, size_t n, bts_write_counts *counts,
                           bts_phase *p);
void bts_writer_device_logs_done(bts_phase *p); /* counts them, frees p */
void bts_phase_free(bts_phase *p);

/* Sends items[start..start+len) of p as one insert_many on w->loop. */
int bts_writer_batch_start(bts_writer *w, bts_phase *p, size_t start, size_t len,
                           bts_erpnext_done_fn fn, void *ud);
/* Settles a batch's answer: accepted, or refused (a single document is settled by the
 * phase; several return 1: split them), or an error that stops the writing (a transient
 * one once the flow has stopped asking again). A batch sent again after its first answer
 * was lost may have been committed then: it comes back refused as a whole as a duplicate
 * (insert_many is all or nothing), is split, and each record is settled by the duplicate
 * rule (409 Device Log, 417 checkin "same timestamp"), so nothing is written twice; when
 * resent is set (an earlier try of this batch got no answer), one list request first checks
 * whether ERPNext holds the whole batch, which settles it without the split. */
int bts_writer_batch_answer(bts_writer *w, bts_phase *p, size_t start, size_t len, int rc,
                            const cJSON *names, const bts_frappe_error *err, bool resent);

/* Parked punches whose checkin now exists: point their Device Logs (txn.raw "name") at it. */
int bts_writer_link_parked(bts_writer *w, bts_item *items, size_t n);

/* Dry run: what would be written for it, one line. */
void bts_writer_dry_print(bts_writer *w, const bts_item *it);

#endif

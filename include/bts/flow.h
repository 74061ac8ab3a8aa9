/* The write pipeline: units of mapped transactions (one BioTime page each) stream through
 *   lookup       which of their Device Logs ERPNext has already (one request per unit),
 *   checkins     insert_many batches (a refused batch is bisected to its refused record),
 *   device logs  insert_many batches naming the checkins,
 * with up to erpnext.connections requests in flight across units (fewer while ERPNext
 * throttles), while the reader fetches the next page on the same loop. A request that fails
 * for a transient reason is asked again on its own (pace.h). Units are acknowledged in the
 * order they were pushed, so the caller's cursor never passes a record ERPNext has not
 * acknowledged. */
#ifndef BTS_FLOW_H
#define BTS_FLOW_H

#include "bts/rows.h"
#include "bts/writer.h"

typedef struct bts_flow bts_flow;

/* Every document of a unit is acknowledged (written, already there, or parked). Returns 0,
 * or an error that stops the flow. */
typedef int (*bts_flow_acked_fn)(void *ud, int64_t page_no, int64_t mark);

/* Where units come from. next() starts reading one more page, whose arrival pushes a unit
 * (bts_flow_push_take); it returns 1 when a page is on its way, 0 when there is nothing
 * more to read, or an error (which the reader has recorded). The reader keeps busy true
 * while a page is on its way. */
typedef struct bts_flow_reader bts_flow_reader;
struct bts_flow_reader {
    int (*next)(bts_flow_reader *rd);
    int (*again)(bts_flow_reader *rd);  /* asks again for the page that failed; as next() */
    bool busy;
    bool done;
    unsigned failures;    /* transient failures of the page on its way (the flow's) */
    int64_t due_ms;       /* 0, or when the flow calls again() (the flow's) */
};

/* The reader's page arrived (the outage clock restarts), or failed: then the flow returns 1
 * when it will ask again (calling again() when due), else a->rc: the read ends there.
 * what names the page for the journal. */
void bts_flow_read_ok(bts_flow *f, bts_flow_reader *rd);
int bts_flow_read_failed(bts_flow *f, bts_flow_reader *rd, const bts_pace_answer *a,
                         const char *what);

int bts_flow_new(bts_writer *w, bts_write_counts *counts, bts_flow_acked_fn acked, void *ud,
                 bts_flow **ret);
/* Cancels nothing: call after bts_flow_run returned. NULL-safe. */
void bts_flow_free(bts_flow *f);

/* Takes rows (left empty) as the next unit; page_no and mark (the caller's: the cursor
 * after this page, say) come back in acked. */
int bts_flow_push_take(bts_flow *f, bts_rows *rows, int64_t page_no, int64_t mark);

/* Reads (rd may be NULL: only what was pushed) and writes until everything read is
 * acknowledged or writing failed. Returns 0 or the write error (w->error says what);
 * BTS_ESTOP when a stop was requested (every request in flight is abandoned). */
int bts_flow_run(bts_flow *f, bts_flow_reader *rd);

/* Writes one set of rows to the end; they stay the caller's. relink: the rows are parked
 * punches read back from ERPNext (txn.raw holds the Device Log's "name"): write their
 * checkins, then point the existing Device Logs at them. */
int bts_flow_write(bts_writer *w, bts_rows *rows, bool relink, bts_write_counts *counts);

#endif

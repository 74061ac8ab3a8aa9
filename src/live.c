/* The live read: pages past the id cursor, each read while ERPNext writes the ones before
 * it (flow.c, on the same loop), and the cursor moved past a page only once ERPNext
 * acknowledged every record of it and of the pages before. */
#include <stdlib.h>
#include <string.h>

#include "bts/flow.h"
#include "bts/sync_internal.h"

#define MAX_PAGES_PER_CYCLE 50 /* then let the daemon breathe (status, Sync Logs, reload) */

typedef struct {
    bts_flow_reader rd;   /* first member: what flow.c sees */
    bts_sync *s;
    bts_cycle *c;
    bts_flow *flow;
    const bts_write_counts *wc; /* written so far */
    int64_t page_no;      /* the last page taken */
    int64_t asking;       /* the page on its way (asked again after a transient failure) */
    int64_t taken;        /* the highest id taken */
    int pages_left;
    bool has_next;        /* the last page taken says more follow */
    bool rereading;       /* the page on its way is page_no again: rows shifted back */
    bts_page ahead;       /* page_no + 1, held while page_no is read again */
    int error;
} live_reader;

static void read_failed(live_reader *lr, int r)
{
    if (!lr->error)
        bts_sync_read_failed(lr->s, lr->c, r, "reading transactions from BioTime");
    lr->error = r;
    lr->rd.done = true;
}

/* In ascending id order a page after the cursor holds only newer ids. One that repeats old
 * ones while "next" promises more is a broken server (a next chain that never ends): stop
 * this read there, without moving the page hint past the data. */
static void broken_chain(live_reader *lr, bts_page *page)
{
    if (!lr->s->warned_broken_chain) {
        lr->s->warned_broken_chain = true;
        const char *fields[] = {"SERVER=biotime", NULL};
        bts_log_fields(LOG_WARNING, fields, "BioTime transactions page %lld repeats earlier "
                       "rows while saying more pages follow: its paging is broken; reading "
                       "stops there each cycle", (long long)lr->page_no + 1);
    }
    lr->has_next = false;
    lr->rd.done = true;
    bts_page_clear(page);
}

/* Maps the rows of a page above the cursor into the next unit of the flow. */
static void take(live_reader *lr, bts_page *page, int64_t page_no)
{
    bts_sync *s = lr->s;
    bts_rows_filter f = {.cfg = s->cfg, .emps = s->emps, .above_id = lr->taken,
                         .page_no = page_no,
                         .geolocation = bts_sync_geolocation(s), .memo = &s->rows_memo};
    bts_rows rows = {0};
    lr->c->pages++;
    lr->pages_left--;
    int r = bts_rows_append(&f, page->rows, &rows);
    if (r < 0) {
        bts_rows_clear(&rows);
        read_failed(lr, r);
        return;
    }
    bts_sync_count_rows(s, lr->c, &rows);
    if (rows.max_id > lr->taken)
        lr->taken = rows.max_id;
    lr->page_no = page_no;
    lr->has_next = page->has_next;
    bts_page_clear(page); /* mapped: the parsed page is not needed while it is written */
    bts_flow_push_take(lr->flow, &rows, page_no, lr->taken);
}

static int fetch(live_reader *lr, int64_t page_no);

/* Page page_no + 1 arrived. When it starts above taken + 1, rows may have shifted back
 * onto the page just taken (deletions in BioTime): that page is read again first. */
static void fresh_page(live_reader *lr, bts_page *page)
{
    if (page->last_id > 0 && page->last_id <= lr->taken) {
        broken_chain(lr, page);
    } else if (page->first_id > lr->taken + 1) {
        lr->ahead = *page;
        memset(page, 0, sizeof(*page));
        lr->rereading = true;
        fetch(lr, lr->page_no);
    } else {
        take(lr, page, lr->page_no + 1);
    }
}

/* Page page_no came again: take it if it now holds new rows, else the page held ahead. */
static void reread_page(live_reader *lr, bts_page *again)
{
    lr->rereading = false;
    if (again->last_id > lr->taken)
        take(lr, again, lr->page_no);
    else
        take(lr, &lr->ahead, lr->page_no + 1);
    bts_page_clear(&lr->ahead);
}

/* A page failed: 1 when the flow will ask for it again, else the error. */
static int read_retry(live_reader *lr, int rc, const bts_page *page)
{
    char what[64];
    bts_pace_answer a = bts_biotime_page_outcome(rc, page);
    snprintf(what, sizeof(what), "transactions page %lld", (long long)lr->asking);
    return bts_flow_read_failed(lr->flow, &lr->rd, &a, what);
}

static void on_page(void *ud, int rc, bts_page *page)
{
    live_reader *lr = ud;
    lr->rd.busy = false;
    if (rc == 0)
        bts_flow_read_ok(lr->flow, &lr->rd);
    else if ((rc = read_retry(lr, rc, page)) == 1)
        return; /* the flow asks again when its time comes */
    if (rc < 0)
        read_failed(lr, rc);
    else if (lr->rereading)
        reread_page(lr, page);
    else
        fresh_page(lr, page);
}

static int fetch(live_reader *lr, int64_t page_no)
{
    bts_sync *s = lr->s;
    int r = bts_biotime_transactions_start(s->bt, s->loop, page_no, s->cfg->biotime.page_size,
                                           NULL, on_page, lr);
    if (r < 0) {
        read_failed(lr, r);
        return r;
    }
    lr->asking = page_no;
    lr->rd.busy = true;
    return 1;
}

static int again(bts_flow_reader *rd)
{
    live_reader *lr = (live_reader *)rd;
    return fetch(lr, lr->asking);
}

static int next(bts_flow_reader *rd)
{
    live_reader *lr = (live_reader *)rd;
    if (!lr->has_next || lr->pages_left <= 0 || lr->error)
        return 0;
    return fetch(lr, lr->page_no + 1);
}

/* A page is written: the cursor moves past it (saved, unless this is a dry run). */
static int acked(void *ud, int64_t page_no, int64_t mark)
{
    live_reader *lr = ud;
    int r = bts_sync_advance(lr->s, lr->c, mark, page_no);
    if (r == 0)
        bts_sync_page_done(lr->s, lr->c, lr->wc);
    return r;
}

/* Streams the pages from the one the scan found (page_no) to the end or the page limit. */
static int stream(bts_sync *s, bts_cycle *c, bts_page *page, int64_t page_no)
{
    bts_write_counts wc = {0};
    live_reader lr = {.rd = {.next = next, .again = again}, .s = s, .c = c, .wc = &wc,
                      .taken = s->st.last_id, .pages_left = MAX_PAGES_PER_CYCLE};
    int r = bts_flow_new(&s->w, &wc, acked, &lr, &lr.flow);
    if (r < 0)
        return bts_sync_fail(c, r, "starting to write");
    take(&lr, page, page_no);
    if ((r = bts_flow_run(lr.flow, &lr.rd)) < 0)
        bts_sync_write_failed(c, r, &s->w);
    else
        r = lr.error;
    c->caught_up = r == 0 && !lr.has_next;
    bts_sync_add_counts(c, &wc);
    bts_page_clear(&lr.ahead);
    bts_flow_free(lr.flow);
    return r;
}

int bts_sync_live(bts_sync *s, bts_cycle *c)
{
    if (s->strategy == BTS_STRATEGY_UNKNOWN) {
        int r = bts_sync_probe_order(s);
        if (r < 0)
            return bts_sync_read_failed(s, c, r, "probing BioTime's sort order");
    }
    if (s->strategy != BTS_STRATEGY_ID)
        return bts_sync_fallback(s, c);
    int64_t hint = s->st.hint_page_size == s->cfg->biotime.page_size ? s->st.page_hint : 0;
    bts_scan_result sr;
    int r = bts_scan_find(s->bt, s->st.last_id, hint, s->cfg->biotime.page_size, &sr);
    if (r < 0) {
        bts_scan_result_clear(&sr);
        return bts_sync_read_failed(s, c, r, "reading transactions from BioTime");
    }
    if (sr.ids_went_back) {
        bts_sync_ids_went_back(s, &sr);
        bts_scan_result_clear(&sr);
        return bts_sync_live(s, c);
    }
    r = stream(s, c, &sr.page, sr.page_no);
    bts_scan_result_clear(&sr);
    return r;
}

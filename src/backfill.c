/* Page scans without a cursor: a backfill (--once --since T [--until T]) re-reads a
 * punch-time range and writes what ERPNext lacks; the lookback window and the arrival scan
 * of servers that do not sort by id (fallback.c) do the same. Each page is read while the
 * ones before it are written (flow.c). The live cursor is never touched; ERPNext's
 * duplicate rules and the Device Log lookup make a re-read row cost nothing twice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bts/flow.h"
#include "bts/sync_internal.h"

#define MAX_SCAN_PAGES 1000000

static int range_query(const bts_sync *s, char *out, size_t n)
{
    char *since = bts_http_escape(s->opt.since);
    char *until = s->opt.until ? bts_http_escape(s->opt.until) : NULL;
    int r = since && (until || !s->opt.until) ? 0 : BTS_ENOMEM;
    if (r == 0)
        snprintf(out, n, "start_time=%s%s%s", since, until ? "&end_time=" : "",
                 until ? until : "");
    free(since);
    free(until);
    return r;
}

static void progress(const bts_sync *s, uint64_t done, int64_t total, int64_t started_ms)
{
    double secs = (double)(bts_now_ms() - started_ms) / 1000.0;
    double rate = secs > 0 ? (double)done / secs : 0;
    if (!s->opt.progress)
        return;
    if (total > 0 && rate > 0)
        fprintf(s->opt.out, "\rbackfill: %llu/%lld records, %.0f/s, %.0f s left   ",
                (unsigned long long)done, (long long)total, rate,
                (double)(total - (int64_t)done) / rate);
    else
        fprintf(s->opt.out, "\rbackfill: %llu records, %.0f/s   ", (unsigned long long)done, rate);
    fflush(s->opt.out);
}

/* Maps a page's rows for a backfill or a scan (no cursor), counting what it read. */
static int map_page(bts_sync *s, bts_cycle *c, const cJSON *page_rows, int64_t page_no,
                    bts_rows *ret)
{
    bts_rows_filter f = {.cfg = s->cfg, .emps = s->emps, .since = s->opt.since,
                         .until = s->opt.until, .page_no = page_no,
                         .geolocation = bts_sync_geolocation(s), .memo = &s->rows_memo};
    int r = bts_rows_build(&f, page_rows, ret);
    if (r < 0) {
        bts_rows_clear(ret);
        return bts_sync_fail(c, r, "mapping BioTime rows");
    }
    bts_sync_count_rows(s, c, ret);
    return 0;
}

typedef struct {
    bts_flow_reader rd;   /* first member: what flow.c sees */
    bts_sync *s;
    bts_cycle *c;
    bts_flow *flow;
    const bts_write_counts *wc; /* written so far */
    const char *query;
    bts_scan_page_fn more_fn; /* may end the scan early, after a page */
    void *ud;
    int64_t page_no;      /* the last page asked for */
    int64_t total;        /* rows in the range, as BioTime counts them (-1 unknown) */
    uint64_t read;        /* rows read so far */
    int64_t started_ms;
    bool more;
    int error;
} scan_reader;

static void read_failed(scan_reader *sr, int r)
{
    if (!sr->error && r != BTS_ENOMEM)
        bts_sync_read_failed(sr->s, sr->c, r, "reading transactions from BioTime");
    sr->error = r;
    sr->rd.done = true;
}

/* A page failed: 1 when the flow will ask for it again, else the error. */
static int read_retry(scan_reader *sr, int rc, const bts_page *page)
{
    char what[64];
    bts_pace_answer a = bts_biotime_page_outcome(rc, page);
    snprintf(what, sizeof(what), "transactions page %lld", (long long)sr->page_no);
    return bts_flow_read_failed(sr->flow, &sr->rd, &a, what);
}

static void on_page(void *ud, int rc, bts_page *page)
{
    scan_reader *sr = ud;
    bts_rows rows;
    sr->rd.busy = false;
    if (rc == 0)
        bts_flow_read_ok(sr->flow, &sr->rd);
    else if ((rc = read_retry(sr, rc, page)) == 1)
        return; /* the flow asks again when its time comes */
    if (rc < 0 || (rc = map_page(sr->s, sr->c, page->rows, sr->page_no, &rows)) < 0) {
        read_failed(sr, rc);
        return;
    }
    int n = cJSON_GetArraySize(page->rows);
    if (sr->total < 0)
        sr->total = page->count;
    sr->c->pages++;
    sr->read += (uint64_t)n;
    sr->more = page->has_next && n > 0 && (!sr->more_fn || sr->more_fn(sr->ud, page->rows));
    bts_flow_push_take(sr->flow, &rows, sr->page_no, (int64_t)sr->read);
}

static int fetch(scan_reader *sr, int64_t page_no)
{
    int r = bts_biotime_transactions_start(sr->s->bt, sr->s->loop, page_no,
                                           sr->s->cfg->biotime.page_size, sr->query, on_page,
                                           sr);
    if (r < 0) {
        read_failed(sr, r);
        return r;
    }
    sr->page_no = page_no;
    sr->rd.busy = true;
    return 1;
}

static int next(bts_flow_reader *rd)
{
    scan_reader *sr = (scan_reader *)rd;
    if (!sr->more || sr->page_no >= MAX_SCAN_PAGES)
        return 0;
    return fetch(sr, sr->page_no + 1);
}

static int again(bts_flow_reader *rd)
{
    scan_reader *sr = (scan_reader *)rd;
    return fetch(sr, sr->page_no);
}

/* A page is written: show how far the scan is. */
static int acked(void *ud, int64_t page_no, int64_t mark)
{
    scan_reader *sr = ud;
    (void)page_no;
    progress(sr->s, (uint64_t)mark, sr->total, sr->started_ms);
    bts_sync_page_done(sr->s, sr->c, sr->wc);
    return 0;
}

int bts_sync_scan(bts_sync *s, bts_cycle *c, const char *query, bts_scan_page_fn more_fn,
                  void *ud)
{
    bts_write_counts wc = {0};
    scan_reader sr = {.rd = {.next = next, .again = again}, .s = s, .c = c, .wc = &wc, .query = query,
                      .more_fn = more_fn, .ud = ud, .total = -1,
                      .started_ms = bts_now_ms(), .more = true};
    int r = bts_flow_new(&s->w, &wc, acked, &sr, &sr.flow);
    if (r == 0) {
        if ((r = bts_flow_run(sr.flow, &sr.rd)) < 0)
            bts_sync_write_failed(c, r, &s->w);
        else
            r = sr.error;
        bts_flow_free(sr.flow);
    }
    if (s->opt.progress)
        fputc('\n', s->opt.out);
    bts_sync_add_counts(c, &wc);
    c->caught_up = r == 0;
    return r;
}

int bts_sync_backfill(bts_sync *s, bts_cycle *c)
{
    char query[256];
    int r = range_query(s, query, sizeof(query));
    return r < 0 ? bts_sync_fail(c, r, "building the backfill range") :
                   bts_sync_scan(s, c, query, NULL, NULL);
}

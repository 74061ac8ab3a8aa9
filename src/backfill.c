/* Backfill (--once --since T [--until T]): re-reads a punch-time range and writes what
 * ERPNext lacks, reading each page while the ones before it are written (flow.c). It never touches the live cursor; ERPNext's duplicate rules and the
 * Device Log pre-check make re-written rows cost nothing twice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bts/flow.h"
#include "bts/sync_internal.h"

#define MAX_BACKFILL_PAGES 1000000

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

typedef struct {
    bts_flow_reader rd;   /* first member: what flow.c sees */
    bts_sync *s;
    bts_cycle *c;
    bts_flow *flow;
    char query[256];
    int64_t page_no;      /* the last page asked for */
    int64_t total;        /* rows in the range, as BioTime counts them (-1 unknown) */
    uint64_t read;        /* rows read so far */
    int64_t started_ms;
    bool more;
    int error;
} backfill_reader;

static void on_page(void *ud, int rc, bts_page *page)
{
    backfill_reader *br = ud;
    bts_rows rows;
    br->rd.busy = false;
    if (rc < 0 || (rc = bts_sync_rows(br->s, br->c, page->rows, br->page_no, &rows)) < 0) {
        if (!br->error && rc != BTS_ENOMEM)
            bts_sync_fail(br->c, rc, "reading the backfill range from BioTime");
        br->error = rc;
        br->rd.done = true;
        return;
    }
    if (br->total < 0)
        br->total = page->count;
    br->c->pages++;
    br->read += (uint64_t)cJSON_GetArraySize(page->rows);
    br->more = page->has_next && cJSON_GetArraySize(page->rows) > 0;
    bts_flow_push_take(br->flow, &rows, br->page_no, (int64_t)br->read);
}

static int next(bts_flow_reader *rd)
{
    backfill_reader *br = (backfill_reader *)rd;
    if (!br->more || br->page_no >= MAX_BACKFILL_PAGES)
        return 0;
    int r = bts_biotime_transactions_start(br->s->bt, br->s->loop, br->page_no + 1,
                                           br->s->cfg->biotime.page_size, br->query, on_page, br);
    if (r < 0) {
        br->error = bts_sync_fail(br->c, r, "reading the backfill range from BioTime");
        return r;
    }
    br->page_no++;
    br->rd.busy = true;
    return 1;
}

/* A page is written: show how far the backfill is. */
static int acked(void *ud, int64_t page_no, int64_t mark)
{
    backfill_reader *br = ud;
    (void)page_no;
    progress(br->s, (uint64_t)mark, br->total, br->started_ms);
    return 0;
}

int bts_sync_backfill(bts_sync *s, bts_cycle *c)
{
    bts_write_counts wc = {0};
    backfill_reader br = {.rd = {.next = next}, .s = s, .c = c, .total = -1,
                          .started_ms = bts_now_ms(), .more = true};
    int r = range_query(s, br.query, sizeof(br.query));
    if (r == 0 && (r = bts_flow_new(&s->w, &wc, acked, &br, &br.flow)) == 0) {
        if ((r = bts_flow_run(br.flow, &br.rd)) < 0)
            bts_sync_write_failed(c, r, s->w.error);
        else
            r = br.error;
        bts_flow_free(br.flow);
    }
    if (s->opt.progress)
        fputc('\n', s->opt.out);
    bts_sync_add_counts(c, &wc);
    c->caught_up = r == 0;
    return r;
}

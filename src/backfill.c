/* Backfill (--once --since T [--until T]): re-reads a punch-time range and writes what
 * ERPNext lacks. It never touches the live cursor; ERPNext's duplicate rules and the
 * Device Log pre-check make re-written rows cost nothing twice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int bts_sync_backfill(bts_sync *s, bts_cycle *c)
{
    char query[256];
    int64_t started = bts_now_ms(), total = -1;
    uint64_t done = 0;
    int r = range_query(s, query, sizeof(query));
    for (int64_t page_no = 1; r == 0 && page_no <= MAX_BACKFILL_PAGES; page_no++) {
        bts_page page;
        int64_t ignored;
        if ((r = bts_biotime_transactions(s->bt, page_no, s->cfg->biotime.page_size, query,
                                          &page)) < 0) {
            bts_sync_fail(c, r, "reading the backfill range from BioTime");
            break;
        }
        if (total < 0)
            total = page.count;
        c->pages++;
        r = bts_sync_page(s, c, page.rows, page_no, &ignored);
        done += (uint64_t)cJSON_GetArraySize(page.rows);
        progress(s, done, total, started);
        bool more = page.has_next && cJSON_GetArraySize(page.rows) > 0;
        bts_page_clear(&page);
        if (!more)
            break;
    }
    if (s->opt.progress)
        fputc('\n', s->opt.out);
    c->caught_up = r == 0;
    return r;
}

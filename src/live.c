/* The live read: pages past the id cursor, written as a pipeline of units. A unit is a few
 * pages (about erpnext.connections * erpnext.batch_size rows); the checkins of one unit
 * travel in the same rounds of parallel requests as the Device Logs of the unit before,
 * so ERPNext's workers stay busy, and the cursor moves past a unit only once its Device
 * Logs, the last thing written for it, are acknowledged. */
#include <stdlib.h>
#include <string.h>

#include "bts/sync_internal.h"

#define MAX_PAGES_PER_CYCLE 50 /* then let the daemon breathe (status, watchdog, signals) */

typedef struct {
    bts_rows rows;
    int64_t page_no;   /* last page read into it */
    int64_t max_id;    /* highest id it covers: the cursor once it is acknowledged */
    bool has_next;
} unit;

static void unit_clear(unit *u)
{
    bts_rows_clear(&u->rows);
    memset(u, 0, sizeof(*u));
}

/* In ascending id order a page after the cursor holds only newer ids. One that repeats old
 * ones while "next" promises more is a broken server (a next chain that never ends): stop
 * this read there, without moving the page hint past the data. */
static int broken_chain(bts_sync *s, int64_t page_no, bts_page *page)
{
    if (!s->warned_broken_chain) {
        s->warned_broken_chain = true;
        const char *fields[] = {"SERVER=biotime", NULL};
        bts_log_fields(LOG_WARNING, fields, "BioTime transactions page %lld repeats earlier "
                       "rows while saying more pages follow: its paging is broken; reading "
                       "stops there each cycle", (long long)page_no);
    }
    cJSON_Delete(page->rows);
    page->rows = cJSON_CreateArray();
    page->has_next = false;
    page->first_id = page->last_id = 0;
    return page->rows ? 0 : BTS_ENOMEM;
}

/* The next page after page_no. When it starts above taken+1, rows may have shifted back
 * onto the page just read (deletions in BioTime): that page is read again first. */
static int next_page(bts_sync *s, int64_t taken, int64_t *page_no, bts_page *page)
{
    int64_t size = s->cfg->biotime.page_size;
    int r = bts_biotime_transactions(s->bt, *page_no + 1, size, NULL, page);
    if (r == 0 && page->last_id > 0 && page->last_id <= taken)
        return broken_chain(s, *page_no + 1, page);
    if (r < 0 || page->first_id == 0 || page->first_id <= taken + 1)
        goto advanced;
    bts_page again;
    if ((r = bts_biotime_transactions(s->bt, *page_no, size, NULL, &again)) < 0) {
        bts_page_clear(page);
        return r;
    }
    if (again.last_id > taken) {
        bts_page_clear(page);
        *page = again;
        return 0;
    }
    bts_page_clear(&again);
advanced:
    if (r == 0)
        (*page_no)++;
    return r;
}

/* Reads pages into u, starting with *page (already fetched), until the unit is full or
 * BioTime has no more. *page is consumed. */
static int fill_unit(bts_sync *s, bts_cycle *c, bts_page *page, int64_t *page_no,
                     int64_t *taken, unit *u, int *pages_left)
{
    size_t target = (size_t)s->cfg->erpnext.connections * (size_t)s->cfg->erpnext.batch_size;
    bts_rows_filter f = {.cfg = s->cfg, .emps = s->emps};
    int r = 0;
    for (;;) {
        size_t before = u->rows.n;
        f.above_id = *taken;
        f.page_no = *page_no;
        c->pages++;
        (*pages_left)--;
        if ((r = bts_rows_append(&f, page->rows, &u->rows)) < 0)
            break;
        c->read += u->rows.n - before;
        if (u->rows.max_id > *taken)
            *taken = u->rows.max_id;
        u->max_id = *taken;
        u->page_no = *page_no;
        u->has_next = page->has_next;
        bts_page_clear(page);
        if (!u->has_next || u->rows.n >= target || *pages_left <= 0)
            break;
        if ((r = next_page(s, *taken, page_no, page)) < 0) {
            bts_sync_fail(c, r, "reading transactions from BioTime");
            break;
        }
    }
    bts_page_clear(page);
    return r;
}

static void unit_counted(bts_sync *s, bts_cycle *c, const unit *u)
{
    c->skipped += u->rows.skipped;
    c->rejected += u->rows.rejected;
    bts_sync_remember_unknown(s, &u->rows);
}

/* Writes cur's checkins with prev's Device Logs; then prev is done and the cursor moves. */
static int write_step(bts_sync *s, bts_cycle *c, unit *cur, unit *prev, bts_write_counts *wc)
{
    int r = bts_writer_step(&s->w, cur ? cur->rows.items : NULL, cur ? cur->rows.n : 0,
                            prev->rows.items, prev->rows.n, wc);
    if (r < 0)
        return bts_sync_fail(c, r, s->w.error);
    if (prev->page_no > 0 && (r = bts_sync_advance(s, c, prev->max_id, prev->page_no)) < 0)
        return r;
    unit_clear(prev);
    if (cur) {
        *prev = *cur;
        memset(cur, 0, sizeof(*cur));
    }
    return 0;
}

static int pipeline(bts_sync *s, bts_cycle *c, bts_page *page, int64_t page_no)
{
    unit cur = {0}, prev = {0};
    bts_write_counts wc = {0};
    int64_t taken = s->st.last_id;
    int pages_left = MAX_PAGES_PER_CYCLE, r = 0;
    for (;;) {
        if ((r = fill_unit(s, c, page, &page_no, &taken, &cur, &pages_left)) < 0)
            break;
        unit_counted(s, c, &cur);
        bool more = cur.has_next && pages_left > 0;
        c->caught_up = !cur.has_next;
        if ((r = bts_writer_begin(&s->w, cur.rows.items, cur.rows.n, &wc)) < 0) {
            bts_sync_fail(c, r, s->w.error);
            break;
        }
        if ((r = write_step(s, c, &cur, &prev, &wc)) < 0 || !more)
            break;
        if ((r = next_page(s, taken, &page_no, page)) < 0) {
            bts_sync_fail(c, r, "reading transactions from BioTime");
            break;
        }
    }
    if (r == 0) /* the last unit's Device Logs */
        r = write_step(s, c, NULL, &prev, &wc);
    bts_sync_add_counts(c, &wc);
    c->erpnext_requests += wc.requests;
    unit_clear(&cur);
    unit_clear(&prev);
    return r;
}

int bts_sync_live(bts_sync *s, bts_cycle *c)
{
    if (s->strategy == BTS_STRATEGY_UNKNOWN) {
        int r = bts_sync_probe_order(s);
        if (r < 0)
            return bts_sync_fail(c, r, "probing BioTime's sort order");
    }
    if (s->strategy != BTS_STRATEGY_ID)
        return bts_sync_fallback(s, c);
    int64_t hint = s->st.hint_page_size == s->cfg->biotime.page_size ? s->st.page_hint : 0;
    bts_scan_result sr;
    int r = bts_scan_find(s->bt, s->st.last_id, hint, s->cfg->biotime.page_size, &sr);
    if (r < 0) {
        bts_scan_result_clear(&sr);
        return bts_sync_fail(c, r, "reading transactions from BioTime");
    }
    if (sr.ids_went_back) {
        bts_sync_ids_went_back(s, &sr);
        bts_scan_result_clear(&sr);
        return bts_sync_live(s, c);
    }
    r = pipeline(s, c, &sr.page, sr.page_no);
    bts_scan_result_clear(&sr);
    return r;
}

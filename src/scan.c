/* Finding the first page past the cursor. Pages are offsets over rows sorted by ascending
 * id, so "the page's last id is above the cursor" is monotone in the page number and a
 * binary search finds the first such page in O(log pages) requests; an idle poll that
 * finds the cursor where it was left costs one request. */
#include <stdint.h>
#include <string.h>

#include "bts/log.h"
#include "bts/scan.h"

#define MAX_PROBES 64       /* a bound on requests whatever the server says */
#define MAX_PAGE_JUMP 100000 /* a count further than this many pages is not believed */

typedef struct {
    bts_biotime *b;
    int64_t cursor;
    int64_t page_size;
    int64_t requests;
} scan;

static int fetch(scan *s, int64_t page_no, bts_page *ret)
{
    s->requests++;
    if (s->requests > MAX_PROBES)
        return BTS_EPROTO;
    return bts_biotime_transactions(s->b, page_no, s->page_size, NULL, ret);
}

/* True when the page holds an id above the cursor or is past the end of the data. */
static bool at_or_past(const scan *s, const bts_page *p)
{
    return cJSON_GetArraySize(p->rows) == 0 || p->last_id > s->cursor;
}

static void keep(bts_scan_result *ret, int64_t page_no, bts_page *p)
{
    bts_page_clear(&ret->page);
    ret->page = *p;
    ret->page_no = page_no;
    memset(p, 0, sizeof(*p));
}

/* Smallest page in [lo, hi] that is at_or_past, knowing hi is (its page in ret). */
static int bisect(scan *s, int64_t lo, int64_t hi, bts_scan_result *ret)
{
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        bts_page p;
        int r = fetch(s, mid, &p);
        if (r < 0)
            return r;
        if (at_or_past(s, &p)) {
            hi = mid;
            keep(ret, mid, &p);
        } else {
            lo = mid + 1;
            bts_page_clear(&p);
        }
    }
    return 0;
}

/* The cursor lies beyond page `from` (kept in ret): find a page past it, guided by count,
 * then bisect. A later page that holds no id above from's last is a repeat: BioTime's
 * paging is broken ("next" that never ends), so there is nothing new to find. */
static int search_forward(scan *s, int64_t from, int64_t count, bts_scan_result *ret)
{
    int64_t from_last = ret->page.last_id;
    int64_t lo = from + 1;
    int64_t hi = count > 0 ? count / s->page_size + 1 : lo;
    if (hi < lo || hi - lo > MAX_PAGE_JUMP) /* stale or absurd: gallop from here instead */
        hi = lo;
    for (;;) {
        bts_page p;
        int r = fetch(s, hi, &p);
        if (r < 0)
            return r;
        if (at_or_past(s, &p)) {
            keep(ret, hi, &p);
            return bisect(s, lo, hi, ret);
        }
        bool more = p.has_next, repeat = p.last_id > 0 && p.last_id <= from_last;
        bts_page_clear(&p);
        if (repeat) {
            bts_warn("BioTime transactions page %lld repeats earlier rows while saying more "
                     "pages follow: its paging is broken; nothing newer can be found",
                     (long long)hi);
            ret->page.has_next = false;
            return 0;
        }
        if (!more) /* the last page, and nothing above the cursor */
            return 0;
        if (hi > INT64_MAX / 4)
            return BTS_EPROTO; /* "next" never ends: a broken server, not data */
        lo = hi + 1;
        hi = hi * 2; /* count was stale: gallop */
    }
}

/* At the end of the data: is the server's highest id below the cursor? That means its
 * database was restored or its ids were reset, and new punches would hide below us. */
static int note_server_max(scan *s, bts_scan_result *ret)
{
    ret->server_max_id = ret->page.last_id;
    if (cJSON_GetArraySize(ret->page.rows) == 0 && ret->page_no > 1) {
        bts_page p;
        int r = fetch(s, ret->page_no - 1, &p);
        if (r < 0)
            return r;
        ret->server_max_id = p.last_id;
        bts_page_clear(&p);
    }
    ret->ids_went_back = s->cursor > 0 && ret->server_max_id > 0 &&
                         ret->server_max_id < s->cursor;
    return 0;
}

int bts_scan_find(bts_biotime *b, int64_t cursor, int64_t hint, int64_t page_size,
                  bts_scan_result *ret)
{
    scan s = {.b = b, .cursor = cursor, .page_size = page_size};
    int64_t start = hint > 0 ? hint : 1;
    bts_page p;
    memset(ret, 0, sizeof(*ret));
    int r = fetch(&s, start, &p);
    if (r < 0)
        return r;
    int64_t count = p.count;
    bool more = p.has_next;
    int64_t last = p.last_id;
    bool empty = cJSON_GetArraySize(p.rows) == 0;
    keep(ret, start, &p);
    if (cursor == 0 || (!empty && ret->page.first_id <= cursor && last > cursor))
        goto out; /* the common case: the cursor is on the hinted page */
    if (at_or_past(&s, &ret->page)) {
        if (start > 1 && (r = bisect(&s, 1, start, ret)) < 0)
            goto out;
    } else if (more) {
        r = search_forward(&s, start, count, ret);
    }
out:
    if (r == 0 && !ret->page.has_next)
        r = note_server_max(&s, ret);
    ret->requests = s.requests;
    return r;
}

void bts_scan_result_clear(bts_scan_result *r)
{
    if (r)
        bts_page_clear(&r->page);
}

/* When BioTime does not return ascending ids by default, the id cursor cannot be trusted
 * (its binary search assumes that order). Probed at start-up: then an arrival scan
 * (ordering=-upload_time, back to the newest upload seen minus an overlap) or, when the
 * server ignores ordering too, a punch-time window of sync.lookback_hours. Both re-read
 * rows; the Device Log pre-check in the writer makes a re-read row cost nothing. */
#include <string.h>
#include <time.h>

#include "bts/sync_internal.h"
#include "bts/timeconv.h"

#define PROBE_PAGE_SIZE 20
#define ARRIVAL_OVERLAP_S 3600 /* re-read an hour of arrivals: commits may land out of order */

/* Rows sorted by upload_time in the given direction (1 ascending, -1 descending). */
static bool sorted_by_upload(const cJSON *rows, int direction)
{
    const cJSON *row;
    char prev[BTS_TIME_LEN] = "";
    cJSON_ArrayForEach(row, rows) {
        char up[BTS_TIME_LEN];
        if (bts_json_text(row, "upload_time", up, sizeof(up)) <= 0)
            return false;
        if (*prev && strcmp(up, prev) * direction < 0)
            return false;
        bts_strlcpy(prev, up, sizeof(prev));
    }
    return true;
}

/* Does the server honour ordering on upload_time? Asked both ways: a server that ignores
 * the parameter answers both in the same order, which cannot be sorted both ways (unless
 * every row shares one upload_time, when the order does not matter). */
static int honours_upload_ordering(bts_sync *s, bool *ret)
{
    bts_page down, up;
    int r = bts_biotime_transactions(s->bt, 1, PROBE_PAGE_SIZE, "ordering=-upload_time", &down);
    if (r < 0)
        return r;
    if ((r = bts_biotime_transactions(s->bt, 1, PROBE_PAGE_SIZE, "ordering=upload_time",
                                      &up)) == 0) {
        *ret = sorted_by_upload(down.rows, -1) && sorted_by_upload(up.rows, 1);
        bts_page_clear(&up);
    }
    bts_page_clear(&down);
    return r;
}

int bts_sync_probe_order(bts_sync *s)
{
    bts_page p;
    int r = bts_biotime_transactions(s->bt, 1, PROBE_PAGE_SIZE, NULL, &p);
    if (r < 0)
        return r;
    bool ascending = p.ascending;
    bts_page_clear(&p);
    if (ascending) {
        s->strategy = BTS_STRATEGY_ID;
        return 0;
    }
    bool honoured = false;
    if ((r = honours_upload_ordering(s, &honoured)) < 0)
        return r;
    s->strategy = honoured ? BTS_STRATEGY_ARRIVAL : BTS_STRATEGY_WINDOW;
    if (s->strategy == BTS_STRATEGY_ARRIVAL)
        bts_warn("BioTime does not return transactions in ascending id order: reading them "
                 "newest upload first (ordering=-upload_time) with a one-hour overlap instead");
    else
        bts_warn("BioTime neither sorts by id nor honours ordering=-upload_time: re-reading "
                 "the last %d hours of punches each cycle (sync.lookback_hours); a punch "
                 "uploaded later than that is not seen", s->cfg->sync.lookback_hours);
    return 0;
}

/* text minus seconds, both naive times compared in one zone (UTC arithmetic is exact). */
static void time_minus(const char *text, int64_t seconds, char out[BTS_TIME_LEN])
{
    time_t t;
    if (bts_time_to_epoch(text, "UTC", &t) < 0 ||
        bts_time_from_epoch(t - (time_t)seconds, "UTC", out) < 0)
        bts_strlcpy(out, "", BTS_TIME_LEN);
}

/* What the arrival scan has seen: it reads down to floor, and remembers the newest. */
typedef struct {
    char floor[BTS_TIME_LEN];  /* "" on the first scan: read everything */
    char newest[BTS_TIME_LEN];
} arrivals;

/* Notes a page's uploads; true while the scan has not gone below its floor. */
static bool arrival_page(void *ud, const cJSON *rows)
{
    arrivals *a = ud;
    char oldest[BTS_TIME_LEN] = "";
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) {
        char up[BTS_TIME_LEN];
        if (bts_json_text(row, "upload_time", up, sizeof(up)) <= 0)
            continue;
        if (!*oldest || strcmp(up, oldest) < 0)
            bts_strlcpy(oldest, up, sizeof(oldest));
        if (strcmp(up, a->newest) > 0)
            bts_strlcpy(a->newest, up, sizeof(a->newest));
    }
    return !(*a->floor && *oldest && strcmp(oldest, a->floor) < 0);
}

/* Newest arrivals first, down to the newest upload already delivered minus the overlap. */
static int arrival_scan(bts_sync *s, bts_cycle *c)
{
    arrivals a = {.floor = ""};
    bts_strlcpy(a.newest, s->st.newest_upload, sizeof(a.newest));
    if (*s->st.newest_upload)
        time_minus(s->st.newest_upload, ARRIVAL_OVERLAP_S, a.floor);
    int r = bts_sync_scan(s, c, "ordering=-upload_time", arrival_page, &a);
    if (r == 0)
        bts_strlcpy(s->st.newest_upload, a.newest, sizeof(s->st.newest_upload));
    return r;
}

/* Every punch of the last lookback_hours: a backfill of that window (which checks the
 * rows are in range, since filters BioTime does not know are silently ignored). */
static int window_scan(bts_sync *s, bts_cycle *c)
{
    char since[BTS_TIME_LEN];
    if (bts_time_from_epoch(time(NULL) - (time_t)s->cfg->sync.lookback_hours * 3600,
                            s->cfg->biotime.timezone, since) < 0)
        return bts_sync_fail(c, BTS_EINVAL, "computing the lookback window");
    const char *saved = s->opt.since;
    s->opt.since = since;
    int r = bts_sync_backfill(s, c);
    s->opt.since = saved;
    return r;
}

int bts_sync_fallback(bts_sync *s, bts_cycle *c)
{
    int r = s->strategy == BTS_STRATEGY_ARRIVAL ? arrival_scan(s, c) : window_scan(s, c);
    c->caught_up = r == 0;
    return r;
}

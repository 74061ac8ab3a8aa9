/* The run loops. Signals stay blocked and are consumed synchronously (sigtimedwait while
 * idle, sigpending from the HTTP abort hook while busy), so no handler races the loop. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bts/backoff.h"
#include "bts/daemon.h"
#include "bts/http.h"
#include "bts/log.h"
#include "bts/metrics.h"
#include "bts/notify.h"
#include "bts/pace.h"
#include "bts/state.h"

#define ONCE_STALL_MS BTS_PACE_OUTAGE_MS /* --once gives up when nothing moved for this long */
#define BACKOFF_BASE_MS 2000
#define BACKOFF_CAP_MS (5 * 60 * 1000)
#define WAIT_SLICE_MS 5000 /* wake at least this often to ping the watchdog */
#define PROGRESS_EVERY_MS 1000 /* STATUS= during a cycle: often enough to watch, no flood */

static sigset_t handled;

static int stop_pending(void)
{
    sigset_t pending;
    bts_notify_watchdog();
    if (sigpending(&pending) < 0)
        return 0;
    return sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT);
}

void bts_daemon_signals_init(void)
{
    sigemptyset(&handled);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGHUP);
    sigprocmask(SIG_BLOCK, &handled, NULL);
    signal(SIGPIPE, SIG_IGN);
    bts_http_set_abort_hook(stop_pending);
}

void bts_daemon_warn_config(const bts_config *cfg)
{
    if (!cfg->biotime.tls_verify && strncmp(cfg->biotime.url, "https:", 6) == 0)
        bts_warn("biotime.tls_verify = false: the BioTime server's certificate is not checked, "
                 "so anyone on the path can read the credentials and punches; set ca_file "
                 "instead");
    if (!cfg->erpnext.tls_verify && strncmp(cfg->erpnext.url, "https:", 6) == 0)
        bts_warn("erpnext.tls_verify = false: the ERPNext server's certificate is not checked, "
                 "so anyone on the path can read the API secret; set ca_file instead");
    size_t n = strlen(cfg->sync.metrics_file);
    if (n && (n < 5 || strcmp(cfg->sync.metrics_file + n - 5, ".prom") != 0))
        bts_warn("sync.metrics_file = \"%s\": node_exporter's textfile collector reads only "
                 "files whose names end in .prom", cfg->sync.metrics_file);
}

int bts_daemon_exit_code(int err)
{
    switch (err) {
    case 0:
        return BTS_EXIT_OK;
    case BTS_ECONFIG:
        return BTS_EXIT_CONFIG;
    case BTS_EAUTH:
    case BTS_EROLE:
        return BTS_EXIT_UNAVAILABLE;
    case BTS_ETRANSIENT:
    case BTS_EPROTO:
    case BTS_ESTOP:
        return BTS_EXIT_TEMPFAIL;
    default:
        return BTS_EXIT_SOFTWARE;
    }
}

/* Waits up to ms for a signal; returns the signal consumed, or 0 on timeout. */
static int wait_signal(int64_t ms)
{
    while (ms > 0) {
        int64_t most = bts_notify_max_sleep_ms(WAIT_SLICE_MS);
        int64_t slice = ms < most ? ms : most;
        struct timespec ts = {.tv_sec = slice / 1000, .tv_nsec = (slice % 1000) * 1000000};
        int sig = sigtimedwait(&handled, NULL, &ts);
        if (sig > 0)
            return sig;
        bts_notify_watchdog();
        if (sig < 0 && errno != EAGAIN && errno != EINTR)
            return 0;
        if (sig < 0 && errno == EAGAIN)
            ms -= slice;
    }
    return 0;
}

static void log_cycle(const bts_cycle *c)
{
    int prio = c->read || c->unparked ? LOG_INFO : LOG_DEBUG;
    bts_log(prio, "cycle: %llu read, %llu checkins, %llu Device Logs, %llu already there, "
            "%llu parked, %llu unparked, %llu skipped, %llu rejected; %llu BioTime + %llu "
            "ERPNext requests%s", (unsigned long long)c->read,
            (unsigned long long)c->checkins, (unsigned long long)c->device_logs,
            (unsigned long long)c->duplicates, (unsigned long long)c->parked,
            (unsigned long long)c->unparked, (unsigned long long)c->skipped,
            (unsigned long long)c->rejected, (unsigned long long)c->biotime_requests,
            (unsigned long long)c->erpnext_requests, c->caught_up ? "; caught up" : "");
}

/* sync.metrics_file after each cycle (never after a dry run: it writes nothing). A failure
 * is said once, repeats at debug, and never stops the sync. */
static void write_metrics(const bts_config *cfg, const bts_sync *s)
{
    static bts_log_limiter limiter;
    char err[600];
    if (!*cfg->sync.metrics_file)
        return;
    if (bts_metrics_save(cfg->sync.metrics_file, bts_sync_state(s), cfg->biotime.name, err,
                         sizeof(err)) < 0)
        bts_log_limited(&limiter, "metrics", LOG_WARNING, NULL, "cannot write "
                        "sync.metrics_file: %s (syncing goes on)", err);
    else
        bts_log_limiter_clear(&limiter, "writing sync.metrics_file");
}

/* The local time of day in ms from now: a STATUS= that stays true while it is shown
 * ("in 10s" would not count down). */
static void time_of_day(int64_t ms, char out[16])
{
    time_t t = time(NULL) + (time_t)((ms + 999) / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm) || strftime(out, 16, "%H:%M:%S", &tm) == 0)
        snprintf(out, 16, "?");
}

static void status_line(const bts_sync *s, const bts_cycle *c, int64_t next_ms)
{
    const bts_state *st = bts_sync_state(s);
    char at[16];
    time_of_day(next_ms, at);
    if (c->error)
        bts_notify_status("error: %.200s; retrying at %s; cursor %lld", c->error_text, at,
                          (long long)st->last_id);
    else
        bts_notify_status("%s; last cycle %llu read, %llu checkins, %llu parked; %llu "
                          "waiting for an employee; cursor %lld; next poll at %s",
                          c->caught_up ? "idle" : "catching up", (unsigned long long)c->read,
                          (unsigned long long)c->checkins, (unsigned long long)c->parked,
                          (unsigned long long)st->parked_waiting, (long long)st->last_id, at);
}

/* STATUS= while a long cycle runs (a first sync, a backfill), after each page ERPNext
 * acknowledged, at most about once a second. */
typedef struct {
    int64_t started_ms;   /* of the cycle */
    int64_t last_ms;      /* of the last progress STATUS=, 0: none yet */
    bool backfill;        /* the cursor does not move: do not show it */
} progress;

static void on_page(void *ud, const bts_cycle *c, const bts_state *st)
{
    progress *p = ud;
    int64_t now = bts_now_ms();
    if (p->last_ms && now - p->last_ms < PROGRESS_EVERY_MS)
        return;
    p->last_ms = now;
    double secs = (double)(now - p->started_ms) / 1000.0;
    double rate = secs > 0 ? (double)c->device_logs / secs : 0;
    if (p->backfill)
        bts_notify_status("backfill: %llu records written (%llu read), %.0f/s",
                          (unsigned long long)c->device_logs, (unsigned long long)c->read, rate);
    else
        bts_notify_status("syncing: %llu records written this cycle (%llu read), cursor %lld, "
                          "%.0f/s", (unsigned long long)c->device_logs,
                          (unsigned long long)c->read, (long long)st->last_id, rate);
}

/* One cycle, timed for the progress line. */
static int run_cycle(bts_sync *s, progress *p, bts_cycle *c)
{
    p->started_ms = bts_now_ms();
    return bts_sync_cycle(s, c);
}

/* How long to wait after a cycle: at once when behind, the interval when caught up,
 * a growing backoff after errors (never hammering a failing server). */
static int64_t next_delay(const bts_config *cfg, const bts_cycle *c, bts_backoff *bo)
{
    static bts_log_limiter limiter;
    if (c->error && c->error != BTS_ESTOP) {
        bts_http_fields f;
        int64_t d = bts_backoff_next(bo, c->retry_after_s >= 0 ? c->retry_after_s * 1000 : -1);
        bts_log_limited(&limiter, c->error_text, LOG_ERR, bts_http_failure_fields(&c->failure, &f),
                        "sync failed: %s; retrying in %llds", c->error_text,
                        (long long)(d / 1000));
        return d;
    }
    bts_log_limiter_clear(&limiter, "sync");
    bts_backoff_reset(bo);
    return c->caught_up ? (int64_t)cfg->sync.interval * 1000 : 0;
}

/* SIGHUP: validate the new config, then swap; a bad one keeps the running one. */
static int reload(bts_config **cfg, bts_sync **s, progress *p)
{
    char err[1024];
    bts_config *fresh = NULL;
    bts_sync *fresh_sync = NULL;
    bts_sync_options opt = {.on_page = on_page, .on_page_ud = p};
    bts_notify_reloading();
    if (bts_config_load((*cfg)->path, &fresh, err, sizeof(err)) < 0) {
        bts_err("reload refused, keeping the running configuration: %s", err);
        goto out;
    }
    if (bts_sync_new(fresh, &opt, &fresh_sync) < 0) {
        bts_err("reload refused, keeping the running configuration: cannot start with it");
        bts_config_free(fresh);
        goto out;
    }
    bts_daemon_warn_config(fresh);
    bts_sync_free(*s);
    bts_config_free(*cfg);
    *cfg = fresh;
    *s = fresh_sync;
    bts_log_set_level(fresh->log.level);
    bts_notice("configuration reloaded from %s", fresh->path);
out:
    bts_notify_ready();
    return 0;
}

int bts_daemon_run(bts_config **cfg)
{
    progress p = {0};
    bts_sync_options opt = {.on_page = on_page, .on_page_ud = &p};
    bts_sync *s = NULL;
    bts_backoff bo;
    int r = bts_sync_new(*cfg, &opt, &s);
    if (r < 0) {
        bts_notify_failed(*bts_log_last_error() ? bts_log_last_error() : bts_strerror(r));
        return bts_daemon_exit_code(r);
    }
    bts_backoff_init(&bo, BACKOFF_BASE_MS, BACKOFF_CAP_MS, bts_backoff_random, NULL);
    bts_notice("biotime-syncd %s started: BioTime %s -> ERPNext %s, every %ds", BTS_VERSION,
               (*cfg)->biotime.url, (*cfg)->erpnext.url, (*cfg)->sync.interval);
    bts_notify_ready();
    for (;;) {
        bts_cycle c;
        run_cycle(s, &p, &c);
        log_cycle(&c);
        write_metrics(*cfg, s);
        if (stop_pending())
            break;
        int64_t delay = next_delay(*cfg, &c, &bo);
        status_line(s, &c, delay);
        int sig = wait_signal(delay);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (sig == SIGHUP)
            reload(cfg, &s, &p);
    }
    bts_notify_stopping();
    bts_notice("stopping; cursor at BioTime id %lld", (long long)bts_sync_state(s)->last_id);
    bts_sync_free(s);
    return BTS_EXIT_OK;
}

/* Did the cycle move anything: the cursor, or records written? */
static bool moved(const bts_cycle *c, int64_t cursor_before, int64_t cursor_after)
{
    return cursor_after > cursor_before || c->unparked || c->checkins || c->device_logs;
}

int bts_daemon_once(const bts_config *cfg, const bts_sync_options *opt)
{
    progress p = {.backfill = opt->since != NULL};
    bts_sync_options with = *opt;
    bts_sync *s = NULL;
    bts_backoff bo;
    if (!with.on_page && !opt->dry_run) {
        with.on_page = on_page; /* a --once unit shows its progress too */
        with.on_page_ud = &p;
    }
    int r = bts_sync_new(cfg, &with, &s);
    if (r < 0)
        return bts_daemon_exit_code(r);
    bts_backoff_init(&bo, BACKOFF_BASE_MS / 2, 15000, bts_backoff_random, NULL);
    int64_t moved_ms = bts_now_ms();
    for (;;) {
        bts_cycle c;
        bts_http_fields f;
        int64_t cursor = bts_sync_state(s)->last_id;
        r = run_cycle(s, &p, &c);
        log_cycle(&c);
        if (!opt->dry_run)
            write_metrics(cfg, s);
        if (r == 0 && (c.caught_up || opt->since))
            break;
        if (r == BTS_ESTOP || stop_pending())
            break;
        if (r < 0 && (r != BTS_ETRANSIENT && r != BTS_EPROTO)) {
            bts_log_fields(LOG_ERR, bts_http_failure_fields(&c.failure, &f), "sync failed: %s",
                           c.error_text);
            break;
        }
        if (moved(&c, cursor, bts_sync_state(s)->last_id))
            moved_ms = bts_now_ms(); /* failures do not count while records move */
        if (r < 0 && bts_now_ms() - moved_ms >= ONCE_STALL_MS) {
            bts_log_fields(LOG_ERR, bts_http_failure_fields(&c.failure, &f), "giving up for "
                           "now: nothing has moved for %d s and records are still waiting: %s",
                           ONCE_STALL_MS / 1000, c.error_text);
            break;
        }
        if (r < 0) {
            int64_t d = bts_backoff_next(&bo, c.retry_after_s >= 0 ? c.retry_after_s * 1000 : -1);
            bts_log_fields(LOG_WARNING, bts_http_failure_fields(&c.failure, &f),
                           "%s; retrying in %.1fs", c.error_text, (double)d / 1000.0);
            if (wait_signal(d) != 0)
                break;
        } else {
            bts_backoff_reset(&bo);
        }
    }
    bts_sync_free(s);
    return bts_daemon_exit_code(r);
}

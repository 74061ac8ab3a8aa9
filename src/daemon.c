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
#include "bts/notify.h"
#include "bts/pace.h"
#include "bts/state.h"

#define ONCE_STALL_MS BTS_PACE_OUTAGE_MS /* --once gives up when nothing moved for this long */
#define BACKOFF_BASE_MS 2000
#define BACKOFF_CAP_MS (5 * 60 * 1000)
#define WAIT_SLICE_MS 5000 /* wake at least this often to ping the watchdog */

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

static void status_line(const bts_sync *s, const bts_cycle *c, int64_t next_ms)
{
    const bts_state *st = bts_sync_state(s);
    if (c->error)
        bts_notify_status("error: %.200s; retrying in %llds; cursor %lld",
                          c->error_text, (long long)(next_ms / 1000), (long long)st->last_id);
    else
        bts_notify_status("%s; last cycle %llu read, %llu checkins, %llu parked; %llu "
                          "waiting for an employee; cursor %lld; next poll in %llds",
                          c->caught_up ? "idle" : "catching up", (unsigned long long)c->read,
                          (unsigned long long)c->checkins, (unsigned long long)c->parked,
                          (unsigned long long)st->parked_waiting, (long long)st->last_id,
                          (long long)(next_ms / 1000));
}

/* How long to wait after a cycle: at once when behind, the interval when caught up,
 * a growing backoff after errors (never hammering a failing server). */
static int64_t next_delay(const bts_config *cfg, const bts_cycle *c, bts_backoff *bo)
{
    static bts_log_limiter limiter;
    if (c->error && c->error != BTS_ESTOP) {
        int64_t d = bts_backoff_next(bo, c->retry_after_s >= 0 ? c->retry_after_s * 1000 : -1);
        bts_log_limited(&limiter, c->error_text, LOG_ERR, NULL, "sync failed: %s; retrying in "
                        "%llds", c->error_text, (long long)(d / 1000));
        return d;
    }
    bts_log_limiter_clear(&limiter, "sync");
    bts_backoff_reset(bo);
    return c->caught_up ? (int64_t)cfg->sync.interval * 1000 : 0;
}

/* SIGHUP: validate the new config, then swap; a bad one keeps the running one. */
static int reload(bts_config **cfg, bts_sync **s)
{
    char err[1024];
    bts_config *fresh = NULL;
    bts_sync *fresh_sync = NULL;
    bts_sync_options opt = {0};
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
    bts_sync_options opt = {0};
    bts_sync *s = NULL;
    bts_backoff bo;
    int r = bts_sync_new(*cfg, &opt, &s);
    if (r < 0) {
        bts_notify_stopping();
        return bts_daemon_exit_code(r);
    }
    bts_backoff_init(&bo, BACKOFF_BASE_MS, BACKOFF_CAP_MS, bts_backoff_random, NULL);
    bts_notice("biotime-syncd %s started: BioTime %s -> ERPNext %s, every %ds", BTS_VERSION,
               (*cfg)->biotime.url, (*cfg)->erpnext.url, (*cfg)->sync.interval);
    bts_notify_ready();
    for (;;) {
        bts_cycle c;
        bts_sync_cycle(s, &c);
        log_cycle(&c);
        if (stop_pending())
            break;
        int64_t delay = next_delay(*cfg, &c, &bo);
        status_line(s, &c, delay);
        int sig = wait_signal(delay);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (sig == SIGHUP)
            reload(cfg, &s);
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
    bts_sync *s = NULL;
    bts_backoff bo;
    int r = bts_sync_new(cfg, opt, &s);
    if (r < 0)
        return bts_daemon_exit_code(r);
    bts_backoff_init(&bo, BACKOFF_BASE_MS / 2, 15000, bts_backoff_random, NULL);
    int64_t moved_ms = bts_now_ms();
    for (;;) {
        bts_cycle c;
        int64_t cursor = bts_sync_state(s)->last_id;
        r = bts_sync_cycle(s, &c);
        log_cycle(&c);
        if (r == 0 && (c.caught_up || opt->since))
            break;
        if (r == BTS_ESTOP || stop_pending())
            break;
        if (r < 0 && (r != BTS_ETRANSIENT && r != BTS_EPROTO)) {
            bts_err("sync failed: %s", c.error_text);
            break;
        }
        if (moved(&c, cursor, bts_sync_state(s)->last_id))
            moved_ms = bts_now_ms(); /* failures do not count while records move */
        if (r < 0 && bts_now_ms() - moved_ms >= ONCE_STALL_MS) {
            bts_err("giving up for now: nothing has moved for %d s and records are still "
                    "waiting: %s", ONCE_STALL_MS / 1000, c.error_text);
            break;
        }
        if (r < 0) {
            int64_t d = bts_backoff_next(&bo, c.retry_after_s >= 0 ? c.retry_after_s * 1000 : -1);
            bts_warn("%s; retrying in %.1fs", c.error_text, (double)d / 1000.0);
            if (wait_signal(d) != 0)
                break;
        } else {
            bts_backoff_reset(&bo);
        }
    }
    bts_sync_free(s);
    return bts_daemon_exit_code(r);
}

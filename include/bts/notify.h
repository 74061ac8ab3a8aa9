/* sd_notify: READY, STATUS, WATCHDOG, RELOADING, STOPPING. Silent when not under systemd. */
#ifndef BTS_NOTIFY_H
#define BTS_NOTIFY_H

#include "bts/common.h"

void bts_notify_ready(void);
void bts_notify_reloading(void);
void bts_notify_stopping(void);
/* A stop because of an error: STOPPING=1 with STATUS=failed: <why> (masked, one line), so
 * systemctl status says why instead of "Stopping". */
void bts_notify_failed(const char *why);
void bts_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Pings the watchdog if WatchdogSec= is set and half the interval has passed; cheap. */
void bts_notify_watchdog(void);
/* Longest a loop may sleep and still ping in time: half WatchdogSec, or max_ms without one. */
int64_t bts_notify_max_sleep_ms(int64_t max_ms);

#endif

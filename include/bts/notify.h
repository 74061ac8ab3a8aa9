/* sd_notify: READY, STATUS, WATCHDOG, RELOADING, STOPPING. Silent when not under systemd. */
#ifndef BTS_NOTIFY_H
#define BTS_NOTIFY_H

#include "bts/common.h"

void bts_notify_ready(void);
void bts_notify_reloading(void);
void bts_notify_stopping(void);
void bts_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Pings the watchdog if WatchdogSec= is set and half the interval has passed; cheap. */
void bts_notify_watchdog(void);

#endif

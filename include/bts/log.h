/* Logging: the journal with structured fields under systemd, stderr with <N> prefixes
 * otherwise. Secrets registered with bts_log_add_secret are masked in every message. */
#ifndef BTS_LOG_H
#define BTS_LOG_H

#include <syslog.h>
#include "bts/common.h"

void bts_log_init(int max_level);
void bts_log_set_level(int max_level);
int bts_log_get_level(void);

/* Any text equal to a registered secret is replaced by "***" before it is written. */
void bts_log_add_secret(const char *secret);
void bts_log_clear_secrets(void);

/* A copy of s with every registered secret masked, for text that leaves the process some
 * other way (STATUS=); free() it. NULL when out of memory. */
char *bts_log_masked(const char *s);

/* The text of the last message logged at error priority or worse ("" when none): what a
 * daemon that gives up tells the service manager. */
const char *bts_log_last_error(void);

/* fields: NULL or a NULL-terminated list of "KEY=value" journal fields
 * (e.g. "SERVER=erpnext", "HTTP_STATUS=417"). */
void bts_log_fields(int prio, const char *const *fields, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define bts_log(prio, ...) bts_log_fields((prio), NULL, __VA_ARGS__)
#define bts_err(...) bts_log(LOG_ERR, __VA_ARGS__)
#define bts_warn(...) bts_log(LOG_WARNING, __VA_ARGS__)
#define bts_notice(...) bts_log(LOG_NOTICE, __VA_ARGS__)
#define bts_info(...) bts_log(LOG_INFO, __VA_ARGS__)
#define bts_debug(...) bts_log(LOG_DEBUG, __VA_ARGS__)

/* A repeated failure is logged once at its priority, repeats at debug, and when it clears
 * one line says how many times it happened (OpenBSD ntpd's log-once idea). */
typedef struct {
    char key[160];      /* what failed: identifies "the same failure" */
    unsigned repeats;
    int64_t first_ms;   /* CLOCK_MONOTONIC ms of the first failure */
    int64_t last_ms;    /* when it was last logged at full priority (re-logged every 10 min) */
} bts_log_limiter;

void bts_log_limited(bts_log_limiter *l, const char *key, int prio, const char *const *fields,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Call on success: logs "recovered" if failures were being suppressed. */
void bts_log_limiter_clear(bts_log_limiter *l, const char *what);

#endif

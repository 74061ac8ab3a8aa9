/* sd_notify(3) messages for Type=notify-reload. All of them are no-ops when NOTIFY_SOCKET
 * is unset, so the daemon runs the same from a shell. Failures are ignored on purpose: the
 * service manager is told at most "late", never the sync stopped for it. */
#include "bts/notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "bts/log.h"

#define NOTIFY_STATUS_MAX 512

static uint64_t notify_last_ping_us; /* CLOCK_MONOTONIC µs of the last WATCHDOG=1, 0: none */

static uint64_t notify_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Length of the UTF-8 sequence a lead byte starts (1 for ASCII or a stray byte). */
static size_t notify_seq_len(unsigned char c)
{
    if (c >= 0xF0)
        return 4;
    if (c >= 0xE0)
        return 3;
    return c >= 0xC0 ? 2 : 1;
}

/* STATUS= is one line of one assignment: a newline in it would inject e.g. "READY=1".
 * A cut by vsnprintf may have split a UTF-8 sequence at the end: drop that piece. */
static void notify_clean(char *s)
{
    size_t n = strlen(s), lead = n;

    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    while (lead > 0 && n - lead < 4 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80)
        lead--;
    if (lead > 0 && lead - 1 + notify_seq_len((unsigned char)s[lead - 1]) > n)
        s[lead - 1] = '\0';
}

void bts_notify_ready(void)
{
    sd_notify(0, "READY=1\nSTATUS=Running");
}

/* notify-reload wants MONOTONIC_USEC with RELOADING=1 to match the reload to its signal. */
void bts_notify_reloading(void)
{
    sd_notifyf(0, "RELOADING=1\nSTATUS=Reloading configuration\nMONOTONIC_USEC=%llu",
               (unsigned long long)notify_now_us());
}

void bts_notify_stopping(void)
{
    sd_notify(0, "STOPPING=1\nSTATUS=Stopping");
}

/* prefix, then text as one masked line of STATUS= (an error text may quote a server that
 * quoted us: it gets the log's secret mask). */
static void notify_send_status(const char *prefix, const char *text)
{
    char line[NOTIFY_STATUS_MAX];
    char *masked = bts_log_masked(text);

    if (!masked)
        return;
    snprintf(line, sizeof(line), "%s", masked);
    free(masked);
    notify_clean(line);
    sd_notifyf(0, "%sSTATUS=%s", prefix, line);
}

/* Formatted whole, so the mask sees every secret before the cut. */
void bts_notify_status(const char *fmt, ...)
{
    char *text = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&text, fmt, ap) < 0)
        text = NULL;
    va_end(ap);
    if (text)
        notify_send_status("", text);
    free(text);
}

void bts_notify_failed(const char *why)
{
    char *text = NULL;

    if (asprintf(&text, "failed%s%s", why && *why ? ": " : "", why ? why : "") < 0)
        text = NULL;
    if (text)
        notify_send_status("STOPPING=1\n", text);
    else
        bts_notify_stopping();
    free(text);
}

/* Half the interval gives one missed loop turn of slack before systemd kills us, while a
 * busy loop calling this every iteration costs one getenv, not one datagram. */
void bts_notify_watchdog(void)
{
    uint64_t interval_us = 0, now;

    if (sd_watchdog_enabled(0, &interval_us) <= 0 || interval_us == 0)
        return;
    now = notify_now_us();
    if (notify_last_ping_us != 0 && now - notify_last_ping_us < interval_us / 2)
        return;
    if (sd_notify(0, "WATCHDOG=1") > 0)
        notify_last_ping_us = now;
}

int64_t bts_notify_max_sleep_ms(int64_t max_ms)
{
    uint64_t interval_us = 0;
    if (sd_watchdog_enabled(0, &interval_us) <= 0 || interval_us == 0)
        return max_ms;
    int64_t half = (int64_t)(interval_us / 2000);
    return half < 1 ? 1 : half < max_ms ? half : max_ms;
}

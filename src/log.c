/* Logging: the journal (with structured fields) when stderr is connected to it, otherwise
 * one line per message on stderr, "<N>" prefixed for a supervisor or human prefixed on a
 * terminal. Every message and field value passes through the secret mask first. */
#include "bts/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* CODE_FILE/CODE_LINE would always name this file, not the caller: noise */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#define LOG_MSG_MAX 2048               /* bytes of message text kept per line */
#define LOG_MAX_FIELDS 32              /* caller fields sent to the journal per message */
#define LOG_RELOG_MS (10 * 60 * 1000)  /* a persisting failure is repeated at full prio */
#define LOG_IDENT "biotime-syncd"
#define LOG_LAST_ERROR_MAX 400         /* bytes of the last error kept for STATUS= */

enum log_backend { LOG_BACKEND_STDERR, LOG_BACKEND_TTY, LOG_BACKEND_JOURNAL };

static struct {
    bool inited;
    int max_level;
    enum log_backend backend;
    char **secrets;       /* sorted longest first, so a longer secret is masked whole */
    size_t n_secrets;
    char last_error[LOG_LAST_ERROR_MAX]; /* masked and cleaned, like the line itself */
} g_log = { .max_level = LOG_INFO };

/* systemd sets JOURNAL_STREAM to the dev:ino of the stream it connected; stderr may have
 * been redirected since (a shell pipe in ExecStart=), so compare with what fd 2 is now. */
static bool log_stderr_is_journal(void)
{
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
        return false;
    if (fstat(STDERR_FILENO, &st) < 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static void log_detect(void)
{
    const char *force = getenv("BTS_LOG_FORCE_STDERR");
    bool forced = force && strcmp(force, "1") == 0;

    if (!forced && log_stderr_is_journal())
        g_log.backend = LOG_BACKEND_JOURNAL;
    else if (isatty(STDERR_FILENO))
        g_log.backend = LOG_BACKEND_TTY;
    else
        g_log.backend = LOG_BACKEND_STDERR;
    g_log.inited = true;
}

static int log_clamp_level(int level)
{
    if (level < LOG_EMERG)
        return LOG_EMERG;
    return level > LOG_DEBUG ? LOG_DEBUG : level;
}

void bts_log_init(int max_level)
{
    g_log.max_level = log_clamp_level(max_level);
    log_detect();
}

void bts_log_set_level(int max_level)
{
    g_log.max_level = log_clamp_level(max_level);
}

int bts_log_get_level(void)
{
    return g_log.max_level;
}

void bts_log_add_secret(const char *secret)
{
    size_t len, i;
    char **grown, *copy;

    if (!secret || !*secret)
        return;
    for (i = 0; i < g_log.n_secrets; i++)
        if (strcmp(g_log.secrets[i], secret) == 0)
            return;
    grown = realloc(g_log.secrets, (g_log.n_secrets + 1) * sizeof(*grown));
    if (!grown)
        return;
    g_log.secrets = grown;
    copy = strdup(secret);
    if (!copy)
        return;
    /* insertion keeps the list sorted by length, longest first */
    len = strlen(copy);
    for (i = g_log.n_secrets; i > 0 && strlen(g_log.secrets[i - 1]) < len; i--)
        g_log.secrets[i] = g_log.secrets[i - 1];
    g_log.secrets[i] = copy;
    g_log.n_secrets++;
}

void bts_log_clear_secrets(void)
{
    for (size_t i = 0; i < g_log.n_secrets; i++) {
        explicit_bzero(g_log.secrets[i], strlen(g_log.secrets[i]));
        free(g_log.secrets[i]);
    }
    free(g_log.secrets);
    g_log.secrets = NULL;
    g_log.n_secrets = 0;
}

/* Length of the secret that starts at s, 0 if none does (longest wins). */
static size_t log_secret_at(const char *s)
{
    for (size_t i = 0; i < g_log.n_secrets; i++) {
        size_t n = strlen(g_log.secrets[i]);
        if (strncmp(s, g_log.secrets[i], n) == 0)
            return n;
    }
    return 0;
}

/* A copy of s with every secret replaced by "***"; NULL on OOM. One forward pass, so a
 * replacement is never scanned again. */
static char *log_mask(const char *s)
{
    size_t len = strlen(s), o = 0;
    char *out = malloc(3 * len + 1); /* worst case: every byte a one-byte secret */

    if (!out)
        return NULL;
    while (*s) {
        size_t n = log_secret_at(s);
        if (n) {
            memcpy(out + o, "***", 3);
            o += 3;
            s += n;
        } else {
            out[o++] = *s++;
        }
    }
    out[o] = '\0';
    return out;
}

char *bts_log_masked(const char *s)
{
    return s ? log_mask(s) : NULL;
}

const char *bts_log_last_error(void)
{
    return g_log.last_error;
}

/* Cuts s to at most max bytes without splitting a UTF-8 sequence. */
static void log_cut_utf8(char *s, size_t max)
{
    size_t n = strlen(s);

    if (n <= max)
        return;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    s[max] = '\0';
}

/* One line: control characters become spaces (a newline would forge a second log line),
 * trailing space goes, and the text is capped. */
static void log_clean(char *s)
{
    size_t n;

    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    n = strlen(s);
    if (n > LOG_MSG_MAX) {
        log_cut_utf8(s, LOG_MSG_MAX - 3);
        strcat(s, "...");
        n = strlen(s);
    }
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
}

/* Masked and cleaned copy of s (mask first: a cut must never leave half a secret). */
static char *log_sanitize(const char *s)
{
    char *out = log_mask(s);

    if (out)
        log_clean(out);
    return out;
}

__attribute__((format(printf, 2, 0)))
static char *log_render(const char *suffix, const char *fmt, va_list ap)
{
    char *raw = NULL, *out = NULL;
    size_t slen = suffix ? strlen(suffix) : 0;
    va_list aq;
    int n;

    va_copy(aq, ap);
    n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0)
        goto out;
    raw = malloc((size_t)n + slen + 1);
    if (!raw)
        goto out;
    vsnprintf(raw, (size_t)n + 1, fmt, ap);
    if (suffix)
        memcpy(raw + n, suffix, slen + 1);
    out = log_sanitize(raw);
out:
    free(raw);
    return out;
}

static const char *log_human_prefix(int prio)
{
    switch (prio) {
    case LOG_EMERG:
    case LOG_ALERT:
    case LOG_CRIT:
        return "critical: ";
    case LOG_ERR:
        return "error: ";
    case LOG_WARNING:
        return "warning: ";
    case LOG_DEBUG:
        return "debug: ";
    default:
        return "";
    }
}

/* One write(2) per line so lines from concurrent writers do not interleave. */
static void log_write_stderr(int prio, const char *msg, bool human)
{
    char line[LOG_MSG_MAX + 64];
    int n;

    if (human)
        n = snprintf(line, sizeof(line), "%s%s\n", log_human_prefix(prio), msg);
    else
        n = snprintf(line, sizeof(line), "<%d>%s\n", prio, msg);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line)) {
        n = (int)sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    for (const char *p = line; n > 0;) {
        ssize_t w = write(STDERR_FILENO, p, (size_t)n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (int)w;
    }
}

/* A journal field name: A-Z, 0-9, '_', not starting with '_' or a digit, at most 64. The
 * journal rejects the whole entry for one bad name, so bad ones are dropped here. */
static bool log_field_ok(const char *f)
{
    const char *eq = strchr(f, '=');
    size_t klen = eq ? (size_t)(eq - f) : 0;

    if (klen == 0 || klen > 64 || f[0] == '_' || (f[0] >= '0' && f[0] <= '9'))
        return false;
    for (size_t i = 0; i < klen; i++)
        if (!((f[i] >= 'A' && f[i] <= 'Z') || (f[i] >= '0' && f[i] <= '9') || f[i] == '_'))
            return false;
    /* ours are set below; a caller's copy would make the entry ambiguous */
    return strncmp(f, "MESSAGE=", 8) != 0 && strncmp(f, "PRIORITY=", 9) != 0 &&
           strncmp(f, "SYSLOG_IDENTIFIER=", 18) != 0;
}

/* "KEY=value" with the value masked and cleaned (the key is checked, never masked: a
 * masked key would make journald drop the whole entry). NULL: skip this field. */
static char *log_field_new(const char *field)
{
    const char *eq = strchr(field, '=');
    char *value, *out = NULL;

    if (!log_field_ok(field) || !(value = log_sanitize(eq + 1)))
        return NULL;
    if (asprintf(&out, "%.*s=%s", (int)(eq - field), field, value) < 0)
        out = NULL;
    free(value);
    return out;
}

static int log_write_journal(int prio, const char *msg, const char *const *fields)
{
    struct iovec iov[3 + LOG_MAX_FIELDS];
    char *owned[1 + LOG_MAX_FIELDS] = { 0 };
    char prio_field[16];
    size_t n = 0, n_owned = 0;
    int r = BTS_ENOMEM;

    if (asprintf(&owned[n_owned], "MESSAGE=%s", msg) < 0) {
        owned[n_owned] = NULL;
        goto out;
    }
    iov[n++] = (struct iovec){ owned[n_owned], strlen(owned[n_owned]) };
    n_owned++;
    snprintf(prio_field, sizeof(prio_field), "PRIORITY=%d", prio);
    iov[n++] = (struct iovec){ prio_field, strlen(prio_field) };
    iov[n++] = (struct iovec){ (char *)"SYSLOG_IDENTIFIER=" LOG_IDENT,
                               sizeof("SYSLOG_IDENTIFIER=" LOG_IDENT) - 1 };
    for (size_t i = 0; fields && fields[i] && n_owned <= LOG_MAX_FIELDS; i++) {
        char *f = log_field_new(fields[i]);
        if (!f)
            continue;
        owned[n_owned++] = f;
        iov[n++] = (struct iovec){ f, strlen(f) };
    }
    r = sd_journal_sendv(iov, (int)n) < 0 ? BTS_EIO : 0;
out:
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    return r;
}

static void log_emit(int prio, const char *const *fields, const char *msg)
{
    if (!g_log.inited)
        log_detect();
    /* if journald is gone, stderr still reaches someone */
    if (g_log.backend == LOG_BACKEND_JOURNAL && log_write_journal(prio, msg, fields) == 0)
        return;
    log_write_stderr(prio, msg, g_log.backend == LOG_BACKEND_TTY);
}

/* Keeps msg as the last error, cut whole-character to fit. */
static void log_keep_error(const char *msg)
{
    size_t n = strlen(msg), max = sizeof(g_log.last_error) - 1;

    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)msg[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(g_log.last_error, msg, n);
    g_log.last_error[n] = '\0';
}

__attribute__((format(printf, 4, 0)))
static void log_vemit(int prio, const char *const *fields, const char *suffix, const char *fmt,
                      va_list ap)
{
    int saved = errno; /* callers log, then look at errno */
    char *msg;

    prio = LOG_PRI(prio);
    if (prio > g_log.max_level)
        goto out;
    msg = log_render(suffix, fmt, ap);
    if (msg && prio <= LOG_ERR)
        log_keep_error(msg);
    log_emit(prio, fields, msg ? msg : "(log message lost: out of memory)");
    free(msg);
out:
    errno = saved;
}

void bts_log_fields(int prio, const char *const *fields, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vemit(prio, fields, NULL, fmt, ap);
    va_end(ap);
}

static int64_t log_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* first_ms is monotonic (immune to clock steps); show it as local wall time. */
static void log_format_since(const bts_log_limiter *l, int64_t now, char *out, size_t n)
{
    time_t t = time(NULL) - (time_t)((now - l->first_ms) / 1000);
    struct tm tm;

    if (!localtime_r(&t, &tm) || strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(out, n, "?");
}

/* The same failure again: a debug line, except every LOG_RELOG_MS at full priority so a
 * failure that lasts for hours is not visible only as one old line. */
__attribute__((format(printf, 5, 0)))
static void log_limited_repeat(bts_log_limiter *l, int64_t now, int prio,
                               const char *const *fields, const char *fmt, va_list ap)
{
    char suffix[96], since[32];

    l->repeats++;
    if (now - l->last_ms >= LOG_RELOG_MS) {
        l->last_ms = now;
        log_format_since(l, now, since, sizeof(since));
        snprintf(suffix, sizeof(suffix), " (still failing: %u times since %s)", l->repeats + 1,
                 since);
        log_vemit(prio, fields, suffix, fmt, ap);
    } else {
        snprintf(suffix, sizeof(suffix), " (repeated %u times)", l->repeats);
        log_vemit(LOG_DEBUG, fields, suffix, fmt, ap);
    }
}

void bts_log_limited(bts_log_limiter *l, const char *key, int prio, const char *const *fields,
                     const char *fmt, ...)
{
    char k[sizeof(l->key)];
    int64_t now = log_mono_ms();
    va_list ap;

    va_start(ap, fmt);
    /* an empty key would look like "no failure" */
    snprintf(k, sizeof(k), "%s", key && *key ? key : "-");
    if (!l) {
        log_vemit(prio, fields, NULL, fmt, ap);
    } else if (strcmp(l->key, k) != 0) {
        *l = (bts_log_limiter){ .repeats = 0, .first_ms = now, .last_ms = now };
        memcpy(l->key, k, sizeof(k));
        log_vemit(prio, fields, NULL, fmt, ap);
    } else {
        log_limited_repeat(l, now, prio, fields, fmt, ap);
    }
    va_end(ap);
}

void bts_log_limiter_clear(bts_log_limiter *l, const char *what)
{
    unsigned n;

    if (!l || !l->key[0])
        return;
    n = l->repeats + 1;
    bts_log(LOG_NOTICE, "%s recovered after %u failure%s", what && *what ? what : l->key, n,
            n == 1 ? "" : "s");
    *l = (bts_log_limiter){ .repeats = 0 };
}

/* Naive datetimes and conversion between IANA zones through the system tz database.
 *
 * Ownership of TZ: conversions work by pointing the process's TZ at the zone in use
 * (setenv + tzset) and calling localtime_r. This module owns TZ for the whole process: it
 * never restores the previous value, it only re-runs tzset when the zone changes (or when
 * someone else changed TZ behind its back), and it remembers the TZ the process started with
 * so that bts_tz_host() still reports the host's zone. Not thread-safe: the daemon is
 * single-threaded, and localtime_r/setenv from several threads would race in libc anyway. */
#include "bts/timeconv.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TZ_NAME_MAX 255
#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"
/* Transitions closer together than this are not in the tz database. */
#define TZ_PROBE_SECONDS 86400

/* What this module last put into TZ, the zone it names, and the TZ found at first use. */
static struct {
    bool active;                   /* we have set TZ at least once */
    char zone[TZ_NAME_MAX + 1];    /* zone currently loaded */
    char env[TZ_NAME_MAX + 2];     /* exact TZ value we set */
    bool orig_set;                 /* TZ was set when we took it over */
    char orig[TZ_NAME_MAX + 2];    /* ... and its value */
} tzc;

/* Zones recently found valid: switching between two zones per punch would otherwise cost a
 * stat, an open and a read each time. Only positive answers are kept. */
#define TZ_KNOWN_MAX 4
static char tz_known[TZ_KNOWN_MAX][TZ_NAME_MAX + 1];
static unsigned tz_known_next;

/* Reads exactly n digits at s; -1 if any is not a digit. */
static int parse_digits(const char *s, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Fills y/m/d from "YYYY-MM-DD" at s (exactly those 10 characters). */
static int parse_date(const char *s, struct tm *tm)
{
    int y, m, d;

    if (s[4] != '-' || s[7] != '-')
        return BTS_EINVAL;
    y = parse_digits(s, 4);
    m = parse_digits(s + 5, 2);
    d = parse_digits(s + 8, 2);
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return BTS_EINVAL;
    tm->tm_year = y - 1900;
    tm->tm_mon = m - 1;
    tm->tm_mday = d;
    return 0;
}

/* Fills H/M/S from "HH:MM:SS" at s. Leap seconds (:60) are refused: nothing here uses them. */
static int parse_clock(const char *s, struct tm *tm)
{
    int h, mi, se;

    if (s[2] != ':' || s[5] != ':')
        return BTS_EINVAL;
    h = parse_digits(s, 2);
    mi = parse_digits(s + 3, 2);
    se = parse_digits(s + 6, 2);
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59)
        return BTS_EINVAL;
    tm->tm_hour = h;
    tm->tm_min = mi;
    tm->tm_sec = se;
    return 0;
}

int bts_time_parse(const char *s, bool allow_date, struct tm *ret)
{
    struct tm tm = { 0 };
    size_t len;

    if (!s || !ret)
        return BTS_EINVAL;
    /* strnlen first so that the fixed-offset reads below never run past the string. */
    len = strnlen(s, BTS_TIME_LEN);
    if (len != 19 && !(allow_date && len == 10))
        return BTS_EINVAL;
    if (parse_date(s, &tm) < 0)
        return BTS_EINVAL;
    if (len == 19 && (s[10] != ' ' || parse_clock(s + 11, &tm) < 0))
        return BTS_EINVAL;
    tm.tm_isdst = -1;
    *ret = tm;
    return 0;
}

/* IANA names use only these characters; anything else (',', '<', spaces...) would also make
 * glibc read the value as a POSIX TZ rule instead of a file. */
static bool tz_name_ok(const char *zone)
{
    size_t len = strlen(zone);

    if (len == 0 || len > TZ_NAME_MAX || zone[0] == '/' || strstr(zone, ".."))
        return false;
    for (const char *p = zone; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr("/_-+.", *p))
            return false;
    }
    return true;
}

static const char *tz_dir(void)
{
    const char *dir = getenv("TZDIR");

    return dir && *dir ? dir : TZ_DEFAULT_DIR;
}

/* 1 when path is a regular file that starts with the TZif magic. */
static int tz_file_ok(const char *path)
{
    struct stat st;
    char magic[4];
    int fd, ok = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        goto out;
    ok = read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
         memcmp(magic, "TZif", 4) == 0;
out:
    close(fd);
    return ok;
}

int bts_tz_valid(const char *zone)
{
    char path[4096];
    int r;

    if (!zone || !tz_name_ok(zone))
        return 0;
    if (strcmp(zone, "UTC") == 0)
        return 1;
    r = snprintf(path, sizeof(path), "%s/%s", tz_dir(), zone);
    if (r < 0 || (size_t)r >= sizeof(path))
        return 0;
    return tz_file_ok(path);
}

/* Turns a TZ value or a zoneinfo path into a zone name, or "" when it is neither. */
static void tz_candidate(const char *v, char *out, size_t n)
{
    const char *p;

    if (*v == ':')
        v++;
    if (*v == '/') {
        p = strstr(v, "zoneinfo/");
        v = p ? p + strlen("zoneinfo/") : "";
    }
    bts_strlcpy(out, v, n);
}

/* First line of /etc/timezone (Debian), trailing blanks stripped. */
static void tz_from_etc_timezone(char *out, size_t n)
{
    char line[TZ_NAME_MAX + 2] = "";
    FILE *f = fopen("/etc/timezone", "re");
    size_t len;

    out[0] = '\0';
    if (!f)
        return;
    if (fgets(line, sizeof(line), f)) {
        len = strlen(line);
        while (len > 0 && isspace((unsigned char)line[len - 1]))
            line[--len] = '\0';
        tz_candidate(line, out, n);
    }
    fclose(f);
}

static void tz_from_localtime_link(char *out, size_t n)
{
    char target[4096];
    ssize_t len;
    const char *p;

    out[0] = '\0';
    len = readlink("/etc/localtime", target, sizeof(target) - 1);
    if (len <= 0)
        return;
    target[len] = '\0';
    p = strstr(target, "zoneinfo/");
    if (p)
        bts_strlcpy(out, p + strlen("zoneinfo/"), n);
}

/* The process's own TZ: the value at start-up if this module has replaced it since. */
static const char *tz_env_original(void)
{
    const char *env = getenv("TZ");

    if (tzc.active && env && strcmp(env, tzc.env) == 0)
        return tzc.orig_set ? tzc.orig : NULL;
    return env;
}

/* Each source is tried in turn; one naming no valid zone is skipped, so that a stale
 * /etc/timezone or a POSIX rule in $TZ does not become the ERPNext zone. */
int bts_tz_host(char *out, size_t n)
{
    char cand[TZ_NAME_MAX + 1];
    const char *env = tz_env_original();

    if (!out || n == 0)
        return BTS_EINVAL;
    cand[0] = '\0';
    if (env && *env)
        tz_candidate(env, cand, sizeof(cand));
    if (!bts_tz_valid(cand))
        tz_from_etc_timezone(cand, sizeof(cand));
    if (!bts_tz_valid(cand))
        tz_from_localtime_link(cand, sizeof(cand));
    if (!bts_tz_valid(cand))
        bts_strlcpy(cand, "UTC", sizeof(cand));
    if (strlen(cand) >= n)
        return BTS_EINVAL;
    bts_strlcpy(out, cand, n);
    return 0;
}

static bool tz_is_utc(const char *zone)
{
    return strcmp(zone, "UTC") == 0;
}

static bool tz_valid_cached(const char *zone)
{
    for (unsigned i = 0; i < TZ_KNOWN_MAX; i++) {
        if (tz_known[i][0] && strcmp(tz_known[i], zone) == 0)
            return true;
    }
    if (!bts_tz_valid(zone))
        return false;
    bts_strlcpy(tz_known[tz_known_next], zone, sizeof(tz_known[0]));
    tz_known_next = (tz_known_next + 1) % TZ_KNOWN_MAX;
    return true;
}

/* Makes zone the one localtime_r uses. Cached: tzset re-reads the file, so it runs only when
 * the zone changes or TZ was changed by someone else. */
static int tz_use(const char *zone)
{
    char env[sizeof(tzc.env)];
    const char *cur = getenv("TZ");

    if (tzc.active && strcmp(tzc.zone, zone) == 0 && cur && strcmp(cur, tzc.env) == 0)
        return 0;
    if (!tz_valid_cached(zone))
        return BTS_EINVAL;
    /* Whatever TZ holds that we did not put there is the host's (or the operator's). */
    if (!tzc.active || !cur || strcmp(cur, tzc.env) != 0) {
        tzc.orig_set = cur != NULL;
        bts_strlcpy(tzc.orig, cur, sizeof(tzc.orig));
    }
    /* "UTC0" needs no file; ":name" makes glibc read the file, never parse a rule. */
    if (tz_is_utc(zone))
        bts_strlcpy(env, "UTC0", sizeof(env));
    else
        snprintf(env, sizeof(env), ":%s", zone);
    if (setenv("TZ", env, 1) < 0)
        return errno == ENOMEM ? BTS_ENOMEM : BTS_EINVAL;
    tzset();
    tzc.active = true;
    bts_strlcpy(tzc.zone, zone, sizeof(tzc.zone));
    bts_strlcpy(tzc.env, env, sizeof(tzc.env));
    return 0;
}

/* UTC offset (seconds east) in effect at t in the current zone. */
static int tz_offset_at(time_t t, long *ret)
{
    struct tm tm;

    if (!localtime_r(&t, &tm))
        return BTS_EINVAL;
    *ret = tm.tm_gmtoff;
    return 0;
}

/* Wall time (as if UTC) -> instant. mktime(tm_isdst=-1) picks either instant of a fold and
 * cannot see folds where only the standard offset changed, so this is done by hand: every
 * offset in effect within a day of the wall time is a candidate, a candidate is right when
 * the instant it gives really shows that offset, and the earliest right one wins. None right
 * means a gap: the offset from before the gap is used, which moves the time forward. */
static int tz_wall_to_epoch(time_t wall, time_t *ret)
{
    long off[3];
    time_t best = 0;
    bool found = false;

    for (int i = 0; i < 3; i++) {
        if (tz_offset_at(wall + (i - 1) * TZ_PROBE_SECONDS, &off[i]) < 0)
            return BTS_EINVAL;
    }
    for (int i = 0; i < 3; i++) {
        time_t t = wall - off[i];
        long real;

        if (tz_offset_at(t, &real) < 0)
            return BTS_EINVAL;
        if (real == off[i] && (!found || t < best)) {
            best = t;
            found = true;
        }
    }
    *ret = found ? best : wall - off[0];
    return 0;
}

int bts_time_to_epoch(const char *naive, const char *zone, time_t *ret)
{
    struct tm tm;
    time_t wall;
    int r;

    if (!zone || !ret || bts_time_parse(naive, false, &tm) < 0)
        return BTS_EINVAL;
    tm.tm_isdst = 0;
    wall = timegm(&tm);
    /* UTC needs no zone switch, so the common "to UTC" case leaves the other zone loaded. */
    if (tz_is_utc(zone)) {
        *ret = wall;
        return 0;
    }
    r = tz_use(zone);
    if (r < 0)
        return r;
    return tz_wall_to_epoch(wall, ret);
}

int bts_time_from_epoch(time_t t, const char *zone, char out[BTS_TIME_LEN])
{
    char buf[64];
    struct tm tm;
    int r;

    if (!zone || !out)
        return BTS_EINVAL;
    if (tz_is_utc(zone)) {
        if (!gmtime_r(&t, &tm))
            return BTS_EINVAL;
    } else {
        r = tz_use(zone);
        if (r < 0)
            return r;
        if (!localtime_r(&t, &tm))
            return BTS_EINVAL;
    }
    /* Only four-digit years fit the format (and parse back). */
    if (tm.tm_year < 1 - 1900 || tm.tm_year > 9999 - 1900)
        return BTS_EINVAL;
    /* Formatted into a roomy buffer: the compiler cannot see that the fields are in range. */
    snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    bts_strlcpy(out, buf, BTS_TIME_LEN);
    return 0;
}

int bts_time_convert(const char *naive, const char *from_zone, const char *to_zone,
                     char out[BTS_TIME_LEN])
{
    struct tm tm;
    time_t t;
    int r;

    if (!from_zone || !to_zone || !out || bts_time_parse(naive, false, &tm) < 0)
        return BTS_EINVAL;
    /* Same zone: the wall time is the answer, even inside a DST gap (no shift). */
    if (strcmp(from_zone, to_zone) == 0) {
        if (!tz_valid_cached(from_zone))
            return BTS_EINVAL;
        bts_strlcpy(out, naive, BTS_TIME_LEN);
        return 0;
    }
    r = bts_time_to_epoch(naive, from_zone, &t);
    if (r < 0)
        return r;
    return bts_time_from_epoch(t, to_zone, out);
}

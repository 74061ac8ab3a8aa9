/* timeconv: strict parsing, zone validity, host zone and DST-correct conversions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bts/timeconv.h"

typedef struct {
    const char *s;
    bool allow_date;
    int year, mon, mday, hour, min, sec; /* year 0 = must be refused */
} parse_case;

static const parse_case parse_cases[] = {
    { "2026-10-01 08:02:11", false, 2026, 10, 1, 8, 2, 11 },
    { "2026-12-31 23:59:59", false, 2026, 12, 31, 23, 59, 59 },
    { "2026-01-01 00:00:00", false, 2026, 1, 1, 0, 0, 0 },
    { "2024-02-29 12:00:00", false, 2024, 2, 29, 12, 0, 0 },   /* leap year */
    { "2000-02-29 12:00:00", false, 2000, 2, 29, 12, 0, 0 },   /* divisible by 400 */
    { "0001-01-01 00:00:00", false, 1, 1, 1, 0, 0, 0 },
    { "9999-12-31 23:59:59", false, 9999, 12, 31, 23, 59, 59 },
    { "2026-04-30 10:00:00", false, 2026, 4, 30, 10, 0, 0 },
    { "2026-10-01", true, 2026, 10, 1, 0, 0, 0 },              /* date = midnight */
    { "2026-10-01 08:02:11", true, 2026, 10, 1, 8, 2, 11 },
    /* refused */
    { "2026-02-29 00:00:00", false, 0, 0, 0, 0, 0, 0 },        /* not a leap year */
    { "1900-02-29 00:00:00", false, 0, 0, 0, 0, 0, 0 },        /* century, not /400 */
    { "2100-02-29 00:00:00", false, 0, 0, 0, 0, 0, 0 },
    { "2026-02-30", true, 0, 0, 0, 0, 0, 0 },
    { "2026-04-31 00:00:00", false, 0, 0, 0, 0, 0, 0 },
    { "2026-13-01 00:00:00", false, 0, 0, 0, 0, 0, 0 },
    { "2026-00-10 00:00:00", false, 0, 0, 0, 0, 0, 0 },
    { "2026-01-00 00:00:00", false, 0, 0, 0, 0, 0, 0 },
    { "2026-01-32 00:00:00", false, 0, 0, 0, 0, 0, 0 },
    { "0000-01-01 00:00:00", false, 0, 0, 0, 0, 0, 0 },
    { "2026-10-01 24:00:00", false, 0, 0, 0, 0, 0, 0 },
    { "2026-10-01 23:60:00", false, 0, 0, 0, 0, 0, 0 },
    { "2026-10-01 23:59:60", false, 0, 0, 0, 0, 0, 0 },        /* no leap seconds */
    { "2026-10-01", false, 0, 0, 0, 0, 0, 0 },                 /* date only not allowed */
    { "2026-10-01 ", true, 0, 0, 0, 0, 0, 0 },
    { "2026-10-01T08:02:11", false, 0, 0, 0, 0, 0, 0 },        /* ISO 'T' */
    { "2026-10-01 08:02:11Z", false, 0, 0, 0, 0, 0, 0 },       /* trailing junk */
    { "2026-10-01 08:02:11+03:00", false, 0, 0, 0, 0, 0, 0 },
    { "2026-10-01 08:02:11.5", false, 0, 0, 0, 0, 0, 0 },
    { "2026-10-01 08:02:11 ", false, 0, 0, 0, 0, 0, 0 },
    { " 2026-10-01 08:02:11", false, 0, 0, 0, 0, 0, 0 },
    { "2026-10-01  8:02:11", false, 0, 0, 0, 0, 0, 0 },
    { "2026-10-01 8:02:11", false, 0, 0, 0, 0, 0, 0 },
    { "2026-1-01 08:02:11", false, 0, 0, 0, 0, 0, 0 },
    { "26-10-01 08:02:11", false, 0, 0, 0, 0, 0, 0 },
    { "2026/10/01 08:02:11", false, 0, 0, 0, 0, 0, 0 },
    { "2026-10-01 08-02-11", false, 0, 0, 0, 0, 0, 0 },
    { "2026-10-01 08:02", false, 0, 0, 0, 0, 0, 0 },
    { "2026-10-01 08:02:1a", false, 0, 0, 0, 0, 0, 0 },
    { "+026-10-01 08:02:11", false, 0, 0, 0, 0, 0, 0 },
    { "2026-+1-01 08:02:11", false, 0, 0, 0, 0, 0, 0 },
    { "2026-10-01\0 08:02:11", false, 0, 0, 0, 0, 0, 0 },     /* embedded NUL */
    { "", true, 0, 0, 0, 0, 0, 0 },
    { "yesterday", true, 0, 0, 0, 0, 0, 0 },
};

static void test_parse_accepts_exact_format_and_refuses_everything_else(void **state)
{
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(parse_cases); i++) {
        const parse_case *c = &parse_cases[i];
        struct tm tm;
        int r;

        memset(&tm, 0x5A, sizeof(tm));
        r = bts_time_parse(c->s, c->allow_date, &tm);
        if (c->year == 0) {
            if (r != BTS_EINVAL)
                fail_msg("accepted \"%s\"", c->s);
            assert_int_equal(tm.tm_year, 0x5A5A5A5A); /* output untouched on error */
            continue;
        }
        if (r != 0)
            fail_msg("refused \"%s\"", c->s);
        assert_int_equal(tm.tm_year + 1900, c->year);
        assert_int_equal(tm.tm_mon + 1, c->mon);
        assert_int_equal(tm.tm_mday, c->mday);
        assert_int_equal(tm.tm_hour, c->hour);
        assert_int_equal(tm.tm_min, c->min);
        assert_int_equal(tm.tm_sec, c->sec);
        assert_int_equal(tm.tm_isdst, -1);
    }
}

static void test_parse_refuses_null_arguments(void **state)
{
    struct tm tm;

    (void)state;
    assert_int_equal(bts_time_parse(NULL, true, &tm), BTS_EINVAL);
    assert_int_equal(bts_time_parse("2026-10-01 08:02:11", false, NULL), BTS_EINVAL);
}

/* Every day of 1600..2400 is accepted exactly when it exists in the Gregorian calendar. */
static void test_parse_day_ranges_match_gregorian_calendar(void **state)
{
    (void)state;
    for (int y = 1600; y <= 2400; y++) {
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

        for (int m = 1; m <= 12; m++) {
            static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
            int last = mdays[m - 1] + (m == 2 && leap);

            for (int d = 28; d <= 32; d++) {
                char s[48];
                struct tm tm;

                snprintf(s, sizeof(s), "%04d-%02d-%02d", y, m, d);
                assert_int_equal(bts_time_parse(s, true, &tm) == 0, d <= last);
            }
        }
    }
}

typedef struct {
    const char *zone;
    bool valid;
} zone_case;

static const zone_case zone_cases[] = {
    { "UTC", true },
    { "Etc/UTC", true },
    { "Asia/Riyadh", true },
    { "America/New_York", true },
    { "Europe/Berlin", true },
    { "America/Argentina/Buenos_Aires", true },
    { "Etc/GMT+3", true },
    { "", false },
    { "Not/AZone", false },
    { "../etc/passwd", false },
    { "Asia/../Asia/Riyadh", false },
    { "/etc/localtime", false },
    { "/usr/share/zoneinfo/UTC", false },
    { "Asia", false },                      /* a directory */
    { "Asia/", false },
    { "iso3166.tab", false },               /* a file, but not TZif */
    { "Europe/Berlin ", false },
    { " Europe/Berlin", false },
    { "Europe/Berlin\n", false },
    { "EST5EDT,M3.2.0,M11.1.0", false },    /* a POSIX rule, not a zone name */
    { "<+03>-3", false },
    { "utc", false },
    { ":Europe/Berlin", false },
};

static void test_tz_valid_accepts_tzif_files_only(void **state)
{
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(zone_cases); i++) {
        if (bts_tz_valid(zone_cases[i].zone) != (int)zone_cases[i].valid)
            fail_msg("bts_tz_valid(\"%s\") != %d", zone_cases[i].zone, zone_cases[i].valid);
    }
    assert_int_equal(bts_tz_valid(NULL), 0);
}

static void test_tz_valid_refuses_overlong_name(void **state)
{
    char name[600];

    (void)state;
    memset(name, 'A', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_int_equal(bts_tz_valid(name), 0);
}

static void write_file(const char *path, const char *content, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, len, f), len);
    fclose(f);
}

/* $TZDIR replaces /usr/share/zoneinfo, and the magic (not the name) decides validity. */
static void test_tz_valid_honours_tzdir(void **state)
{
    char dir[] = "/tmp/bts-tzdir-XXXXXX";
    char sub[128], good[160], bad[160];

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/Fake", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(good, sizeof(good), "%s/Fake/Zone", dir);
    snprintf(bad, sizeof(bad), "%s/Fake/Bad", dir);
    write_file(good, "TZif2\0\0\0", 8);
    write_file(bad, "TZi", 3);
    assert_int_equal(setenv("TZDIR", dir, 1), 0);
    assert_int_equal(bts_tz_valid("Fake/Zone"), 1);
    assert_int_equal(bts_tz_valid("Fake/Bad"), 0);
    assert_int_equal(bts_tz_valid("Europe/Berlin"), 0);
    assert_int_equal(bts_tz_valid("UTC"), 1); /* needs no file */
    assert_int_equal(unsetenv("TZDIR"), 0);
    assert_int_equal(bts_tz_valid("Fake/Zone"), 0);
    unlink(good);
    unlink(bad);
    rmdir(sub);
    rmdir(dir);
}

typedef struct {
    const char *tz;      /* NULL = unset */
    const char *expect;  /* NULL = any valid zone (falls through to the files) */
} host_case;

static const host_case host_cases[] = {
    { ":Europe/Berlin", "Europe/Berlin" },
    { "Asia/Riyadh", "Asia/Riyadh" },
    { "/usr/share/zoneinfo/America/New_York", "America/New_York" },
    { ":/usr/share/zoneinfo/Asia/Tokyo", "Asia/Tokyo" },
    { "UTC", "UTC" },
    { "Bogus/Zone", NULL },
    { "EST5EDT,M3.2.0,M11.1.0", NULL },
    { "", NULL },
    { NULL, NULL },
};

static void test_tz_host_reads_tz_then_falls_back_to_a_valid_zone(void **state)
{
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(host_cases); i++) {
        char out[64];

        if (host_cases[i].tz)
            assert_int_equal(setenv("TZ", host_cases[i].tz, 1), 0);
        else
            assert_int_equal(unsetenv("TZ"), 0);
        assert_int_equal(bts_tz_host(out, sizeof(out)), 0);
        if (host_cases[i].expect)
            assert_string_equal(out, host_cases[i].expect);
        else if (!bts_tz_valid(out))
            fail_msg("TZ=%s gave invalid host zone \"%s\"", host_cases[i].tz, out);
    }
    unsetenv("TZ");
}

static void test_tz_host_refuses_small_buffer(void **state)
{
    char out[3] = "xx";

    (void)state;
    setenv("TZ", "Europe/Berlin", 1);
    assert_int_equal(bts_tz_host(out, sizeof(out)), BTS_EINVAL);
    assert_int_equal(bts_tz_host(NULL, 10), BTS_EINVAL);
    assert_int_equal(bts_tz_host(out, 0), BTS_EINVAL);
    unsetenv("TZ");
}

/* Conversions repoint TZ; the host zone must still be what the operator set. */
static void test_tz_host_survives_conversions(void **state)
{
    char out[64], when[BTS_TIME_LEN];

    (void)state;
    assert_int_equal(setenv("TZ", ":Europe/Berlin", 1), 0);
    assert_int_equal(bts_time_convert("2026-07-01 12:00:00", "Asia/Riyadh", "UTC", when), 0);
    assert_int_equal(bts_tz_host(out, sizeof(out)), 0);
    assert_string_equal(out, "Europe/Berlin");
    unsetenv("TZ");
}

typedef struct {
    const char *in, *from, *to, *out;
} conv_case;

static const conv_case conv_cases[] = {
    /* fixed offsets */
    { "2026-10-01 08:02:11", "Asia/Riyadh", "UTC", "2026-10-01 05:02:11" },
    { "2026-10-01 05:02:11", "UTC", "Asia/Riyadh", "2026-10-01 08:02:11" },
    { "2026-01-01 01:00:00", "Asia/Riyadh", "UTC", "2025-12-31 22:00:00" },   /* year back */
    { "2024-02-29 23:30:00", "UTC", "Asia/Riyadh", "2024-03-01 02:30:00" },   /* leap day */
    { "2026-07-01 12:00:00", "Asia/Riyadh", "Europe/Berlin", "2026-07-01 11:00:00" },
    { "2026-01-15 12:00:00", "Asia/Riyadh", "Europe/Berlin", "2026-01-15 10:00:00" },
    { "2026-07-04 16:00:00", "UTC", "America/New_York", "2026-07-04 12:00:00" },
    { "2026-01-04 16:00:00", "UTC", "America/New_York", "2026-01-04 11:00:00" },
    /* America/New_York spring forward 2026-03-08 02:00 EST -> 03:00 EDT */
    { "2026-03-08 01:59:59", "America/New_York", "UTC", "2026-03-08 06:59:59" },
    { "2026-03-08 02:00:00", "America/New_York", "UTC", "2026-03-08 07:00:00" },  /* gap */
    { "2026-03-08 02:30:00", "America/New_York", "UTC", "2026-03-08 07:30:00" },  /* gap */
    { "2026-03-08 02:59:59", "America/New_York", "UTC", "2026-03-08 07:59:59" },  /* gap */
    { "2026-03-08 03:00:00", "America/New_York", "UTC", "2026-03-08 07:00:00" },
    { "2026-03-08 02:30:00", "America/New_York", "Asia/Riyadh", "2026-03-08 10:30:00" },
    /* America/New_York fall back 2026-11-01 02:00 EDT -> 01:00 EST: the earlier instant */
    { "2026-11-01 00:59:59", "America/New_York", "UTC", "2026-11-01 04:59:59" },
    { "2026-11-01 01:00:00", "America/New_York", "UTC", "2026-11-01 05:00:00" },  /* fold */
    { "2026-11-01 01:30:00", "America/New_York", "UTC", "2026-11-01 05:30:00" },  /* fold */
    { "2026-11-01 01:59:59", "America/New_York", "UTC", "2026-11-01 05:59:59" },  /* fold */
    { "2026-11-01 02:00:00", "America/New_York", "UTC", "2026-11-01 07:00:00" },
    { "2026-11-01 05:30:00", "UTC", "America/New_York", "2026-11-01 01:30:00" },
    { "2026-11-01 06:30:00", "UTC", "America/New_York", "2026-11-01 01:30:00" },
    /* Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST, 2026-10-25 03:00 CEST -> 02:00 CET */
    { "2026-03-29 01:59:59", "Europe/Berlin", "UTC", "2026-03-29 00:59:59" },
    { "2026-03-29 02:30:00", "Europe/Berlin", "UTC", "2026-03-29 01:30:00" },     /* gap */
    { "2026-03-29 03:00:00", "Europe/Berlin", "UTC", "2026-03-29 01:00:00" },
    { "2026-10-25 02:30:00", "Europe/Berlin", "UTC", "2026-10-25 00:30:00" },     /* fold */
    { "2026-10-25 03:00:00", "Europe/Berlin", "UTC", "2026-10-25 02:00:00" },
    { "2026-07-01 12:00:00", "Europe/Berlin", "America/New_York", "2026-07-01 06:00:00" },
    { "2026-03-08 02:30:00", "Europe/Berlin", "America/New_York", "2026-03-07 20:30:00" },
    /* a fold where only the standard offset changed (+04 -> +03, no DST flag on either
     * side): mktime's isdst trick cannot see it */
    { "2014-10-26 01:30:00", "Europe/Moscow", "UTC", "2014-10-25 21:30:00" },
    /* same zone: identity, even inside a gap */
    { "2026-03-08 02:30:00", "America/New_York", "America/New_York", "2026-03-08 02:30:00" },
    { "2026-10-01 08:02:11", "Asia/Riyadh", "Asia/Riyadh", "2026-10-01 08:02:11" },
    { "2026-10-01 08:02:11", "UTC", "UTC", "2026-10-01 08:02:11" },
    { "2026-10-01 08:02:11", "UTC", "Etc/UTC", "2026-10-01 08:02:11" },
    /* far dates */
    { "1970-01-01 00:00:00", "UTC", "Asia/Riyadh", "1970-01-01 03:00:00" },
    { "2100-06-30 12:00:00", "Europe/Berlin", "UTC", "2100-06-30 10:00:00" },
    { "0001-01-01 00:00:00", "UTC", "UTC", "0001-01-01 00:00:00" },
    /* refused */
    { "2026-10-01 08:02:11", "Not/AZone", "UTC", NULL },
    { "2026-10-01 08:02:11", "UTC", "Not/AZone", NULL },
    { "2026-10-01 08:02:11", "../etc/passwd", "../etc/passwd", NULL },
    { "2026-10-01 08:02:11", "", "", NULL },
    { "2026-10-01 08:02:11", "", "UTC", NULL },
    { "2026-02-30 08:02:11", "UTC", "Asia/Riyadh", NULL },
    { "2026-02-30 08:02:11", "UTC", "UTC", NULL },
    { "2026-10-01", "UTC", "Asia/Riyadh", NULL },
    { "2026-10-01T08:02:11", "UTC", "Asia/Riyadh", NULL },
    { "9999-12-31 23:00:00", "UTC", "Asia/Riyadh", NULL },    /* lands in year 10000 */
    { "0001-01-01 01:00:00", "Asia/Riyadh", "UTC", NULL },   /* lands in year 0 */
};

static void test_convert_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(conv_cases); i++) {
        const conv_case *c = &conv_cases[i];
        char out[BTS_TIME_LEN] = "untouched";
        int r = bts_time_convert(c->in, c->from, c->to, out);

        if (!c->out) {
            if (r != BTS_EINVAL)
                fail_msg("%s %s -> %s: accepted (%s)", c->in, c->from, c->to, out);
            continue;
        }
        if (r != 0 || strcmp(out, c->out) != 0)
            fail_msg("%s %s -> %s: got %d \"%s\", want \"%s\"", c->in, c->from, c->to, r,
                     out, c->out);
    }
}

static void test_convert_refuses_null_arguments(void **state)
{
    char out[BTS_TIME_LEN];

    (void)state;
    assert_int_equal(bts_time_convert(NULL, "UTC", "UTC", out), BTS_EINVAL);
    assert_int_equal(bts_time_convert("2026-10-01 08:02:11", NULL, "UTC", out), BTS_EINVAL);
    assert_int_equal(bts_time_convert("2026-10-01 08:02:11", "UTC", NULL, out), BTS_EINVAL);
    assert_int_equal(bts_time_convert("2026-10-01 08:02:11", "UTC", "UTC", NULL), BTS_EINVAL);
}

typedef struct {
    const char *naive, *zone;
    time_t epoch;
} epoch_case;

static const epoch_case epoch_cases[] = {
    { "1970-01-01 00:00:00", "UTC", 0 },
    { "1969-12-31 23:59:59", "UTC", -1 }, /* the value mktime uses for errors */
    { "1970-01-01 03:00:00", "Asia/Riyadh", 0 },
    { "2026-10-01 08:02:11", "Asia/Riyadh", 1790830931 },
    { "2026-03-08 02:30:00", "America/New_York", 1772955000 },  /* gap: = 03:30 EDT */
    { "2026-03-08 03:30:00", "America/New_York", 1772955000 },
    { "2026-11-01 01:30:00", "America/New_York", 1793511000 },  /* fold: EDT */
    { "2038-01-19 03:14:08", "UTC", 2147483648LL },             /* past 32-bit time_t */
};

static void test_to_epoch_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(epoch_cases); i++) {
        time_t t = 42;

        assert_int_equal(bts_time_to_epoch(epoch_cases[i].naive, epoch_cases[i].zone, &t), 0);
        if (t != epoch_cases[i].epoch)
            fail_msg("%s %s: %lld, want %lld", epoch_cases[i].naive, epoch_cases[i].zone,
                     (long long)t, (long long)epoch_cases[i].epoch);
    }
}

static void test_to_epoch_refuses_bad_input(void **state)
{
    time_t t = 42;

    (void)state;
    assert_int_equal(bts_time_to_epoch("2026-10-01 08:02:11", "Not/AZone", &t), BTS_EINVAL);
    assert_int_equal(bts_time_to_epoch("2026-10-01", "UTC", &t), BTS_EINVAL);
    assert_int_equal(bts_time_to_epoch("2026-10-01 08:02:11", NULL, &t), BTS_EINVAL);
    assert_int_equal(bts_time_to_epoch("2026-10-01 08:02:11", "UTC", NULL), BTS_EINVAL);
    assert_int_equal(t, 42);
}

static void test_from_epoch_formats_wall_time(void **state)
{
    char out[BTS_TIME_LEN];

    (void)state;
    assert_int_equal(bts_time_from_epoch(0, "UTC", out), 0);
    assert_string_equal(out, "1970-01-01 00:00:00");
    assert_int_equal(bts_time_from_epoch(1772955000, "America/New_York", out), 0);
    assert_string_equal(out, "2026-03-08 03:30:00");
    assert_int_equal(bts_time_from_epoch(1793511000, "America/New_York", out), 0);
    assert_string_equal(out, "2026-11-01 01:30:00");
    assert_int_equal(bts_time_from_epoch(1793511000 + 3600, "America/New_York", out), 0);
    assert_string_equal(out, "2026-11-01 01:30:00");
    assert_int_equal(bts_time_from_epoch(0, "Not/AZone", out), BTS_EINVAL);
    assert_int_equal(bts_time_from_epoch(253402300800LL, "UTC", out), BTS_EINVAL); /* 10000 */
    assert_int_equal(bts_time_from_epoch(0, NULL, out), BTS_EINVAL);
    assert_int_equal(bts_time_from_epoch(0, "UTC", NULL), BTS_EINVAL);
}

static const char *const round_trip_zones[] = {
    "UTC", "Asia/Riyadh", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
    "Asia/Kolkata", "Pacific/Chatham", "America/Sao_Paulo",
};

/* instant -> wall -> instant gives the instant back, except the later of two instants that
 * share a wall time (fold), which comes back as the earlier one with the same wall time. */
static void test_round_trip_instant_wall_instant(void **state)
{
    (void)state;
    for (size_t z = 0; z < BTS_ARRAY_SIZE(round_trip_zones); z++) {
        const char *zone = round_trip_zones[z];

        for (time_t t = 1735689600; t < 1798761600; t += 1800 + 7) { /* 2025..2026 */
            char wall[BTS_TIME_LEN], again[BTS_TIME_LEN];
            time_t back;

            assert_int_equal(bts_time_from_epoch(t, zone, wall), 0);
            assert_int_equal(bts_time_to_epoch(wall, zone, &back), 0);
            if (back == t)
                continue;
            assert_true(back < t && t - back <= 3600);
            assert_int_equal(bts_time_from_epoch(back, zone, again), 0);
            assert_string_equal(again, wall);
        }
    }
}

/* Two zones in turn: converting there and back restores the wall time (outside gaps). */
static void test_round_trip_between_zones(void **state)
{
    static const char *const walls[] = {
        "2026-01-15 00:00:00", "2026-03-08 01:59:59", "2026-03-08 03:00:00",
        "2026-03-29 03:00:00", "2026-07-01 23:59:59", "2026-10-25 01:59:59",
        "2026-11-01 00:30:00", "2026-11-01 02:00:00", "2026-12-31 23:59:59",
    };

    (void)state;
    for (size_t z = 0; z < BTS_ARRAY_SIZE(round_trip_zones); z++) {
        for (size_t w = 0; w < BTS_ARRAY_SIZE(walls); w++) {
            char there[BTS_TIME_LEN], back[BTS_TIME_LEN];

            assert_int_equal(bts_time_convert(walls[w], "Asia/Riyadh", round_trip_zones[z],
                                              there), 0);
            assert_int_equal(bts_time_convert(there, round_trip_zones[z], "Asia/Riyadh",
                                              back), 0);
            assert_string_equal(back, walls[w]);
        }
    }
}

/* The zone cache must notice when someone else changes TZ between two conversions. */
static void test_conversion_survives_foreign_tz_change(void **state)
{
    char out[BTS_TIME_LEN];

    (void)state;
    assert_int_equal(bts_time_convert("2026-10-01 08:02:11", "UTC", "Asia/Riyadh", out), 0);
    assert_string_equal(out, "2026-10-01 11:02:11");
    assert_int_equal(setenv("TZ", "America/New_York", 1), 0);
    tzset();
    assert_int_equal(bts_time_convert("2026-10-01 08:02:11", "UTC", "Asia/Riyadh", out), 0);
    assert_string_equal(out, "2026-10-01 11:02:11");
    assert_int_equal(unsetenv("TZ"), 0);
    assert_int_equal(bts_time_convert("2026-10-01 08:02:11", "UTC", "Asia/Riyadh", out), 0);
    assert_string_equal(out, "2026-10-01 11:02:11");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_accepts_exact_format_and_refuses_everything_else),
        cmocka_unit_test(test_parse_refuses_null_arguments),
        cmocka_unit_test(test_parse_day_ranges_match_gregorian_calendar),
        cmocka_unit_test(test_tz_valid_accepts_tzif_files_only),
        cmocka_unit_test(test_tz_valid_refuses_overlong_name),
        cmocka_unit_test(test_tz_valid_honours_tzdir),
        cmocka_unit_test(test_tz_host_reads_tz_then_falls_back_to_a_valid_zone),
        cmocka_unit_test(test_tz_host_refuses_small_buffer),
        cmocka_unit_test(test_tz_host_survives_conversions),
        cmocka_unit_test(test_convert_table),
        cmocka_unit_test(test_convert_refuses_null_arguments),
        cmocka_unit_test(test_to_epoch_table),
        cmocka_unit_test(test_to_epoch_refuses_bad_input),
        cmocka_unit_test(test_from_epoch_formats_wall_time),
        cmocka_unit_test(test_round_trip_instant_wall_instant),
        cmocka_unit_test(test_round_trip_between_zones),
        cmocka_unit_test(test_conversion_survives_foreign_tz_change),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

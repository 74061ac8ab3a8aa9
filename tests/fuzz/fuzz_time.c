/* libFuzzer target: naive datetimes (bts_time_parse, both ways) and bts_time_convert of
 * every parsed value between UTC and two zones (one with DST, one without). */
#include <string.h>
#include <time.h>

#include "bts/timeconv.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_log();
    return 0;
}

static const char *const zones[][2] = {
    { "UTC", "Asia/Riyadh" },      { "Asia/Riyadh", "UTC" },
    { "UTC", "America/New_York" }, { "America/New_York", "UTC" },
    { "Asia/Riyadh", "America/New_York" },
};

static void check_result(const char *what, int r, const char out[BTS_TIME_LEN])
{
    struct tm tm;

    if (r < 0)
        return;
    FUZZ_CHECK(strnlen(out, BTS_TIME_LEN) == BTS_TIME_LEN - 1, "%s: \"%.*s\"", what,
               BTS_TIME_LEN, out);
    FUZZ_CHECK(bts_time_parse(out, false, &tm) == 0, "%s gave \"%s\"", what, out);
}

static void convert_all(const char *naive, bool must_parse)
{
    for (size_t i = 0; i < BTS_ARRAY_SIZE(zones); i++) {
        char out[BTS_TIME_LEN];
        int r;

        memset(out, 'x', sizeof(out));
        r = bts_time_convert(naive, zones[i][0], zones[i][1], out);
        FUZZ_CHECK(!must_parse || r == 0 || r == BTS_EINVAL, "convert \"%s\" %s -> %s: %d",
                   naive, zones[i][0], zones[i][1], r);
        check_result("convert", r, out);
    }
}

/* The parsed fields as "YYYY-MM-DD HH:MM:SS": must read back the same. */
static void reformat(const struct tm *tm, char out[BTS_TIME_LEN])
{
    char buf[64];
    struct tm back;

    snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d", tm->tm_year + 1900,
             tm->tm_mon + 1, tm->tm_mday, tm->tm_hour, tm->tm_min, tm->tm_sec);
    FUZZ_CHECK(strlen(buf) == BTS_TIME_LEN - 1, "parsed fields out of range: \"%s\"", buf);
    memcpy(out, buf, BTS_TIME_LEN);
    FUZZ_CHECK(bts_time_parse(out, false, &back) == 0 && back.tm_year == tm->tm_year &&
                   back.tm_mon == tm->tm_mon && back.tm_mday == tm->tm_mday &&
                   back.tm_hour == tm->tm_hour && back.tm_min == tm->tm_min &&
                   back.tm_sec == tm->tm_sec,
               "\"%s\" does not read back", out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    char naive[BTS_TIME_LEN];
    struct tm tm;
    int full, date;

    full = bts_time_parse(s, false, &tm);
    if (full == 0) {
        reformat(&tm, naive);
        convert_all(naive, true);
    }
    date = bts_time_parse(s, true, &tm);
    FUZZ_CHECK(full != 0 || date == 0, "accepted only without allow_date: \"%s\"", s);
    if (date == 0) {
        reformat(&tm, naive);
        convert_all(naive, true);
    }
    /* and whatever the input is, straight into convert (it parses for itself) */
    convert_all(s, false);
    free(s);
    return 0;
}

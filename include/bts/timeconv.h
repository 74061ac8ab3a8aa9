/* Naive datetimes ("YYYY-MM-DD HH:MM:SS") and conversion between IANA zones. */
#ifndef BTS_TIMECONV_H
#define BTS_TIMECONV_H

#include <time.h>
#include "bts/common.h"

#define BTS_TIME_LEN 20 /* "YYYY-MM-DD HH:MM:SS" + NUL */

/* Strict parse of "YYYY-MM-DD HH:MM:SS" (or, if allow_date, "YYYY-MM-DD" = midnight).
 * Checks ranges (month 1-12, day within month, hour < 24...). */
int bts_time_parse(const char *s, bool allow_date, struct tm *ret);

/* 1 if zone names a zone in the tz database, 0 otherwise. "" is never valid here. */
int bts_tz_valid(const char *zone);

/* The host's zone name (from $TZ, /etc/timezone or /etc/localtime), or "UTC". */
int bts_tz_host(char *out, size_t n);

/* Wall-clock time in zone -> Unix time. For a time that does not exist (DST gap) the
 * result is shifted forward; for an ambiguous one (DST fold) the earlier instant. */
int bts_time_to_epoch(const char *naive, const char *zone, time_t *ret);

/* Unix time -> naive wall-clock time in zone. */
int bts_time_from_epoch(time_t t, const char *zone, char out[BTS_TIME_LEN]);

/* naive (in from_zone) -> naive (in to_zone). */
int bts_time_convert(const char *naive, const char *from_zone, const char *to_zone,
                     char out[BTS_TIME_LEN]);

#endif

/* Shared error codes and small helpers used by every module. */
#ifndef BTS_COMMON_H
#define BTS_COMMON_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

/* Functions return 0 (or a count) on success and one of these on failure. */
enum {
    BTS_OK = 0,
    BTS_ENOMEM = -1,     /* out of memory */
    BTS_EINVAL = -2,     /* bad input: argument, file or server data */
    BTS_ETRANSIENT = -3, /* network, timeout, 5xx, 429: try again later */
    BTS_EAUTH = -4,      /* the server refused our credentials */
    BTS_EPERM = -5,      /* the server refused this record for good */
    BTS_EPROTO = -6,     /* the server answered something we cannot trust */
    BTS_EIO = -7,        /* local file system */
    BTS_ECONFIG = -8,    /* configuration error */
    BTS_ESTOP = -9,      /* interrupted: a stop was requested */
    BTS_EROLE = -10,     /* the ERPNext API user lacks a role we need */
    BTS_ERESET = -11,    /* BioTime ids went backwards (database restored) */
};

const char *bts_strerror(int err);

/* Copies src into dst (size n), always NUL-terminating, truncating if needed. */
void bts_strlcpy(char *dst, const char *src, size_t n);

/* strdup that returns NULL for NULL. */
char *bts_strdup0(const char *s);

/* Length of the well-formed UTF-8 sequence at s (n bytes left), 0 if ill-formed or cut
 * (overlong forms, surrogates and code points above U+10FFFF are ill-formed). */
size_t bts_utf8_seq(const unsigned char *s, size_t n);

/* Monotonic clock in milliseconds. */
int64_t bts_now_ms(void);

#define BTS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif

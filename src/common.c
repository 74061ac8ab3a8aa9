/* Shared error texts and small string/clock helpers. */
#include "bts/common.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *bts_strerror(int err)
{
    switch (err) {
    case BTS_OK: return "success";
    case BTS_ENOMEM: return "out of memory";
    case BTS_EINVAL: return "invalid input";
    case BTS_ETRANSIENT: return "transient failure, will retry";
    case BTS_EAUTH: return "authentication refused";
    case BTS_EPERM: return "record refused by the server";
    case BTS_EPROTO: return "unexpected answer from the server";
    case BTS_EIO: return "local I/O error";
    case BTS_ECONFIG: return "configuration error";
    case BTS_ESTOP: return "stop requested";
    case BTS_EROLE: return "the ERPNext API user lacks a required role";
    case BTS_ERESET: return "BioTime ids went backwards (database restored?)";
    default: return "unknown error";
    }
}

void bts_strlcpy(char *dst, const char *src, size_t n)
{
    size_t len;

    if (!dst || n == 0)
        return;
    if (!src)
        src = "";
    len = strnlen(src, n - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

char *bts_strdup0(const char *s)
{
    return s ? strdup(s) : NULL;
}

int64_t bts_now_ms(void)
{
    struct timespec ts;

    /* CLOCK_MONOTONIC cannot fail on Linux with a valid pointer; deadlines must not jump
     * when the wall clock is set. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Length of the well-formed UTF-8 sequence at s (n bytes left), 0 if ill-formed. */
size_t bts_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;

    if (s[0] < 0x80)
        return 1;
    if (s[0] < 0xC2 || s[0] > 0xF4)
        return 0;
    len = s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : 4;
    if (s[0] == 0xE0)
        lo = 0xA0; /* overlong */
    else if (s[0] == 0xED)
        hi = 0x9F; /* surrogates */
    else if (s[0] == 0xF0)
        lo = 0x90; /* overlong */
    else if (s[0] == 0xF4)
        hi = 0x8F; /* above U+10FFFF */
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

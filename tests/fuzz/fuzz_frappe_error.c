/* libFuzzer target: Frappe error bodies (bts_frappe_error_parse, _format, bts_strip_html).
 *
 * Input layout: byte 0 picks the HTTP status from fe_status[] (below), byte 1 the
 * Content-Type from fe_ctype[] (and with bit 7 set an empty rest is passed as a NULL body);
 * the rest is the body. The module promises a bounded, valid-UTF-8, one-line answer for any
 * body, so that is checked too. */
#include <string.h>

#include "bts/frappe_error.h"
#include "fuzz_common.h"

static const long fe_status[] = { 200, 401, 403, 404, 409, 413, 417, 429,
                                  500, 502, 0,   400, 408, 503, 301, 201 };
static const char *const fe_ctype[] = { "application/json", "text/html; charset=utf-8",
                                        "", NULL };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_log();
    return 0;
}

/* Same rules as the module's: well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;

    if (s[0] < 0x80)
        return 1;
    if (s[0] < 0xC2 || s[0] > 0xF4)
        return 0;
    len = s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : 4;
    if (s[0] == 0xE0)
        lo = 0xA0;
    else if (s[0] == 0xED)
        hi = 0x9F;
    else if (s[0] == 0xF0)
        lo = 0x90;
    else if (s[0] == 0xF4)
        hi = 0x8F;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* A field of the result: terminated within its array, valid UTF-8, no control characters. */
static void check_line(const char *what, const char *s, size_t size)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strnlen(s, size);

    FUZZ_CHECK(n < size, "%s is not terminated", what);
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq(p + i, n - i);
        FUZZ_CHECK(len > 0, "%s: ill-formed UTF-8 at byte %zu: \"%s\"", what, i, s);
        FUZZ_CHECK(len > 1 || (p[i] >= 0x20 && p[i] != 0x7f),
                   "%s: control character 0x%02x at byte %zu", what, p[i], i);
        i += len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bts_frappe_error e;
    char line[1024], small[17];
    long status;
    const char *ctype;
    char *body, *copy;
    size_t len;

    if (size < 2)
        return 0;
    status = fe_status[data[0] % BTS_ARRAY_SIZE(fe_status)];
    ctype = fe_ctype[(data[1] & 0x7f) % BTS_ARRAY_SIZE(fe_ctype)];
    len = size - 2;
    /* http bodies are NUL-terminated after body_len: so is this one */
    body = (len == 0 && (data[1] & 0x80)) ? NULL : fuzz_cstr(data + 2, len);

    memset(&e, 0xA5, sizeof(e)); /* parse must fill it whatever was there */
    bts_frappe_error_parse(status, ctype, body, len, &e);
    FUZZ_CHECK(e.status == status, "status %ld, not %ld", e.status, status);
    FUZZ_CHECK(e.cls >= BTS_FE_NONE && e.cls <= BTS_FE_PERMANENT, "class %d", (int)e.cls);
    FUZZ_CHECK((e.cls == BTS_FE_NONE) == (status >= 200 && status < 300),
               "class %d for status %ld", (int)e.cls, status);
    check_line("message", e.message, sizeof(e.message));
    check_line("exc_type", e.exc_type, sizeof(e.exc_type));
    check_line("checkin_name", e.checkin_name, sizeof(e.checkin_name));
    FUZZ_CHECK(e.cls == BTS_FE_DUPLICATE_LOG || !e.checkin_name[0],
               "checkin_name \"%s\" with class %d", e.checkin_name, (int)e.cls);

    bts_frappe_error_format(&e, line, sizeof(line));
    check_line("formatted", line, sizeof(line)); /* 1024 > every field together: no cut */
    bts_frappe_error_format(&e, small, sizeof(small));
    FUZZ_CHECK(strnlen(small, sizeof(small)) < sizeof(small), "formatted (small)");
    bts_frappe_error_format(NULL, small, sizeof(small));

    /* bts_strip_html works in place and must never grow the text */
    copy = fuzz_cstr(data + 2, len);
    {
        size_t before = strlen(copy);
        bts_strip_html(copy);
        FUZZ_CHECK(strlen(copy) <= before, "strip_html grew %zu -> %zu", before,
                   strlen(copy));
    }
    free(copy);
    free(body);
    return 0;
}

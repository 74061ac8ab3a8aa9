/* Lenient parsing of BioTime transaction rows: every field may be a string, a number, null
 * or missing (reference/biotime-api.md §2.4), so fields are read as text and checked here. */
#include "bts/txn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest integer a double holds exactly: JSON ids beyond it may already be rounded. */
#define TXN_MAX_EXACT_DOUBLE 9007199254740992.0
/* How much of a bad value an error message quotes. */
#define TXN_ERR_VALUE_MAX 40

/* Length of the longest prefix of s (at most max bytes) that does not end inside a UTF-8
 * sequence, so a cut never leaves half a character for ERPNext to choke on. */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t k = max;

    for (int i = 0; i < 3 && k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80; i++)
        k--;
    return ((unsigned char)s[k] & 0xC0) == 0x80 ? max : k;
}

/* Copies s into out (size n); -1 when it had to be cut. */
static int text_copy(const char *s, char *out, size_t n)
{
    size_t len = strlen(s), k;

    if (len < n) {
        memcpy(out, s, len + 1);
        return (int)len;
    }
    k = utf8_cut(s, n - 1);
    memcpy(out, s, k);
    out[k] = '\0';
    return -1;
}

/* Shortest of %.15g / %.17g that reads back to the same double (what cJSON prints). */
static void number_text(double v, char *buf, size_t n)
{
    if (!isfinite(v)) {
        bts_strlcpy(buf, "", n);
        return;
    }
    if (v == floor(v) && fabs(v) < TXN_MAX_EXACT_DOUBLE) {
        snprintf(buf, n, "%lld", (long long)v);
        return;
    }
    snprintf(buf, n, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, n, "%.17g", v);
}

/* Arrays and objects are kept as compact JSON so a nested value is not silently lost. */
static int json_compound_text(const cJSON *item, char *out, size_t n)
{
    char *s = cJSON_PrintUnformatted(item);
    int r;

    if (!s) {
        out[0] = '\0';
        return -1;
    }
    r = text_copy(s, out, n);
    cJSON_free(s);
    return r;
}

int bts_json_text(const cJSON *obj, const char *key, char *out, size_t n)
{
    const cJSON *item;
    char num[32];

    if (!out || n == 0)
        return -1;
    item = obj && key ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!item || cJSON_IsNull(item))
        return text_copy("", out, n);
    if (cJSON_IsString(item))
        return text_copy(item->valuestring ? item->valuestring : "", out, n);
    if (cJSON_IsNumber(item)) {
        number_text(item->valuedouble, num, sizeof(num));
        return text_copy(num, out, n);
    }
    if (cJSON_IsBool(item))
        return text_copy(cJSON_IsTrue(item) ? "1" : "0", out, n);
    return json_compound_text(item, out, n);
}

/* Decimal digits only (no sign, no blanks), value in 1..INT64_MAX. */
static int parse_decimal_id(const char *s, int64_t *ret)
{
    uint64_t v = 0;

    if (!s || !*s)
        return BTS_EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return BTS_EINVAL;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > (uint64_t)INT64_MAX)
            return BTS_EINVAL;
    }
    if (v == 0)
        return BTS_EINVAL;
    *ret = (int64_t)v;
    return 0;
}

int bts_json_int64(const cJSON *obj, const char *key, int64_t *ret)
{
    const cJSON *item;
    double v;

    if (!obj || !key || !ret)
        return BTS_EINVAL;
    item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsString(item))
        return parse_decimal_id(item->valuestring, ret);
    if (!cJSON_IsNumber(item))
        return BTS_EINVAL;
    v = item->valuedouble;
    /* 1.5, -3, 1e300 and anything past 2^53 are not ids we can trust to the unit. */
    if (!isfinite(v) || v != floor(v) || v < 1 || v >= TXN_MAX_EXACT_DOUBLE)
        return BTS_EINVAL;
    *ret = (int64_t)v;
    return 0;
}

/* Appends a printable, quoted rendering of s: non-printable bytes as \xHH, at most
 * TXN_ERR_VALUE_MAX source bytes, "..." when there was more. */
static void describe_string(const char *s, char *out, size_t n)
{
    size_t o = 0;
    size_t i;

    out[o++] = '"';
    for (i = 0; s[i] && i < TXN_ERR_VALUE_MAX && o + 6 < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, n - o, "\\x%02X", c);
    }
    out[o++] = '"';
    out[o] = '\0';
    if (s[i])
        bts_strlcpy(out + o, "...", n - o);
}

/* A short, safe description of a JSON value for an error message. */
static void describe_value(const cJSON *item, char *out, size_t n)
{
    if (!item)
        bts_strlcpy(out, "nothing (missing)", n);
    else if (cJSON_IsString(item))
        describe_string(item->valuestring ? item->valuestring : "", out, n);
    else if (cJSON_IsNumber(item))
        number_text(item->valuedouble, out, n);
    else if (cJSON_IsNull(item))
        bts_strlcpy(out, "null", n);
    else if (cJSON_IsBool(item))
        bts_strlcpy(out, cJSON_IsTrue(item) ? "true" : "false", n);
    else
        bts_strlcpy(out, cJSON_IsArray(item) ? "an array" : "an object", n);
}

/* Writes "FIELD: WHAT, got VALUE" into err and returns BTS_EINVAL. */
static int txn_error(const cJSON *row, const char *field, const char *what, char *err,
                     size_t errlen)
{
    char value[TXN_ERR_VALUE_MAX * 4 + 16];

    if (err && errlen > 0) {
        describe_value(row ? cJSON_GetObjectItemCaseSensitive(row, field) : NULL, value,
                       sizeof(value));
        snprintf(err, errlen, "%s: %s, got %s", field, what, value);
    }
    return BTS_EINVAL;
}

/* emp_code: a non-empty string or number that fits. */
static int txn_emp_code(const cJSON *row, bts_txn *t, char *err, size_t errlen)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(row, "emp_code");

    if (!cJSON_IsString(item) && !cJSON_IsNumber(item))
        return txn_error(row, "emp_code", "expected a string or number", err, errlen);
    if (bts_json_text(row, "emp_code", t->emp_code, sizeof(t->emp_code)) < 0)
        return txn_error(row, "emp_code", "too long", err, errlen);
    if (!t->emp_code[0])
        return txn_error(row, "emp_code", "empty", err, errlen);
    return 0;
}

static int txn_punch_time(const cJSON *row, bts_txn *t, char *err, size_t errlen)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(row, "punch_time");
    struct tm tm;

    if (!cJSON_IsString(item) ||
        bts_json_text(row, "punch_time", t->punch_time, sizeof(t->punch_time)) < 0 ||
        bts_time_parse(t->punch_time, false, &tm) < 0)
        return txn_error(row, "punch_time", "expected \"YYYY-MM-DD HH:MM:SS\"", err, errlen);
    return 0;
}

/* The optional fields: a bad or over-long value becomes "" (or is cut, for the names),
 * since the raw copy still carries what BioTime sent. */
static void txn_optional(const cJSON *row, bts_txn *t)
{
    char buf[BTS_TXN_FIELD_MAX + 1];
    struct tm tm;

    if (bts_json_text(row, "upload_time", buf, sizeof(buf)) >= 0 &&
        bts_time_parse(buf, false, &tm) == 0)
        bts_strlcpy(t->upload_time, buf, sizeof(t->upload_time));
    if (bts_json_text(row, "punch_state", t->punch_state, sizeof(t->punch_state)) < 0)
        t->punch_state[0] = '\0';
    bts_json_text(row, "terminal_sn", t->terminal_sn, sizeof(t->terminal_sn));
    bts_json_text(row, "terminal_alias", t->terminal_alias, sizeof(t->terminal_alias));
}

int bts_txn_parse(const cJSON *row, bts_txn *ret, char *err, size_t errlen)
{
    bts_txn t = { 0 };
    int r;

    if (!ret)
        return BTS_EINVAL;
    if (!cJSON_IsObject(row)) {
        if (err && errlen > 0)
            bts_strlcpy(err, "row: expected an object", errlen);
        return BTS_EINVAL;
    }
    if (bts_json_int64(row, "id", &t.id) < 0)
        return txn_error(row, "id", "expected a positive integer", err, errlen);
    r = txn_emp_code(row, &t, err, errlen);
    if (r < 0)
        return r;
    r = txn_punch_time(row, &t, err, errlen);
    if (r < 0)
        return r;
    txn_optional(row, &t);
    t.raw = cJSON_PrintUnformatted(row);
    if (!t.raw) {
        if (err && errlen > 0)
            bts_strlcpy(err, "row: out of memory", errlen);
        return BTS_ENOMEM;
    }
    *ret = t;
    return 0;
}

void bts_txn_clear(bts_txn *t)
{
    if (!t)
        return;
    free(t->raw);
    memset(t, 0, sizeof(*t));
}

/* txn: lenient parsing of BioTime rows, field readers, and safe error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bts/txn.h"

#define ROW_TAIL "\"punch_time\":\"2026-10-01 08:02:11\""

typedef struct {
    const char *json;
    int64_t id;             /* 0 = must be refused */
    const char *emp_code;   /* expected, or for a refusal: text the error must contain */
    const char *punch_state;
    const char *upload_time;
    const char *terminal_sn;
    const char *terminal_alias;
} parse_case;

static const parse_case parse_cases[] = {
    /* BioTime 8.x/9.5 shape, everything a string */
    { "{\"id\":48213,\"emp\":null,\"emp_code\":\"1001\",\"first_name\":\"Sara\","
      "\"punch_time\":\"2026-10-01 08:02:11\",\"punch_state\":\"0\",\"verify_type\":15,"
      "\"terminal_sn\":\"CQUJ221960012\",\"terminal_alias\":\"Main gate\","
      "\"temperature\":\"36.6\",\"upload_time\":\"2026-10-01 08:02:15\"}",
      48213, "1001", "0", "2026-10-01 08:02:15", "CQUJ221960012", "Main gate" },
    /* numbers where strings are usual */
    { "{\"id\":7,\"emp_code\":1001,\"punch_state\":0,\"terminal_sn\":12345,"
      "\"terminal_alias\":3.5,\"temperature\":36.6," ROW_TAIL "}",
      7, "1001", "0", "", "12345", "3.5" },
    /* id as a decimal string, leading zeros in emp_code kept */
    { "{\"id\":\"48213\",\"emp_code\":\"007\"," ROW_TAIL "}", 48213, "007", "", "", "", "" },
    /* nulls and missing optional fields read as "" */
    { "{\"id\":1,\"emp_code\":\"1\",\"punch_state\":null,\"terminal_sn\":null,"
      "\"terminal_alias\":null,\"upload_time\":null," ROW_TAIL "}", 1, "1", "", "", "", "" },
    { "{\"id\":1,\"emp_code\":\"1\"," ROW_TAIL "}", 1, "1", "", "", "", "" },
    /* unknown punch_state codes kept as text; a bad upload_time becomes "" */
    { "{\"id\":2,\"emp_code\":\"1\",\"punch_state\":\"255\",\"upload_time\":\"soon\","
      ROW_TAIL "}", 2, "1", "255", "", "", "" },
    { "{\"id\":2,\"emp_code\":\"1\",\"punch_state\":255,\"upload_time\":20261001,"
      ROW_TAIL "}", 2, "1", "255", "", "", "" },
    /* an over-long punch_state is dropped, not cut into another code */
    { "{\"id\":2,\"emp_code\":\"1\",\"punch_state\":\"1234567890123456789\"," ROW_TAIL "}",
      2, "1", "", "", "", "" },
    /* integral JSON numbers are ids, whatever their spelling */
    { "{\"id\":1e3,\"emp_code\":\"1\"," ROW_TAIL "}", 1000, "1", "", "", "", "" },
    { "{\"id\":9007199254740991,\"emp_code\":\"1\"," ROW_TAIL "}", 9007199254740991LL, "1",
      "", "", "", "" },
    { "{\"id\":\"9223372036854775807\",\"emp_code\":\"1\"," ROW_TAIL "}", INT64_MAX, "1", "",
      "", "", "" },
    /* bytes that are not UTF-8 pass through untouched */
    { "{\"id\":3,\"emp_code\":\"\xff\xfe\x80\",\"terminal_alias\":\"Porte d'entr\xe9\","
      ROW_TAIL "}", 3, "\xff\xfe\x80", "", "", "", "Porte d'entr\xe9" },
    /* refused: id */
    { "{\"id\":1.5,\"emp_code\":\"1\"," ROW_TAIL "}", 0, "id: expected a positive integer, got 1.5",
      NULL, NULL, NULL, NULL },
    { "{\"id\":-5,\"emp_code\":\"1\"," ROW_TAIL "}", 0, "got -5", NULL, NULL, NULL, NULL },
    { "{\"id\":0,\"emp_code\":\"1\"," ROW_TAIL "}", 0, "got 0", NULL, NULL, NULL, NULL },
    { "{\"id\":\"-5\",\"emp_code\":\"1\"," ROW_TAIL "}", 0, "got \"-5\"", NULL, NULL, NULL,
      NULL },
    { "{\"id\":\"+5\",\"emp_code\":\"1\"," ROW_TAIL "}", 0, "id:", NULL, NULL, NULL, NULL },
    { "{\"id\":\" 5\",\"emp_code\":\"1\"," ROW_TAIL "}", 0, "id:", NULL, NULL, NULL, NULL },
    { "{\"id\":\"5.0\",\"emp_code\":\"1\"," ROW_TAIL "}", 0, "id:", NULL, NULL, NULL, NULL },
    { "{\"id\":\"12a\",\"emp_code\":\"1\"," ROW_TAIL "}", 0, "id:", NULL, NULL, NULL, NULL },
    { "{\"id\":\"\",\"emp_code\":\"1\"," ROW_TAIL "}", 0, "got \"\"", NULL, NULL, NULL, NULL },
    { "{\"id\":\"0\",\"emp_code\":\"1\"," ROW_TAIL "}", 0, "id:", NULL, NULL, NULL, NULL },
    { "{\"id\":\"9223372036854775808\",\"emp_code\":\"1\"," ROW_TAIL "}", 0, "id:", NULL,
      NULL, NULL, NULL },
    { "{\"id\":9007199254740992,\"emp_code\":\"1\"," ROW_TAIL "}", 0, "id:", NULL, NULL,
      NULL, NULL },
    { "{\"id\":1e300,\"emp_code\":\"1\"," ROW_TAIL "}", 0, "id:", NULL, NULL, NULL, NULL },
    { "{\"id\":null,\"emp_code\":\"1\"," ROW_TAIL "}", 0, "got null", NULL, NULL, NULL, NULL },
    { "{\"id\":true,\"emp_code\":\"1\"," ROW_TAIL "}", 0, "got true", NULL, NULL, NULL, NULL },
    { "{\"id\":[1],\"emp_code\":\"1\"," ROW_TAIL "}", 0, "got an array", NULL, NULL, NULL,
      NULL },
    { "{\"emp_code\":\"1\"," ROW_TAIL "}", 0, "id: expected a positive integer, got nothing",
      NULL, NULL, NULL, NULL },
    { "{\"id\":\"\\u0001\\n\\\"x\",\"emp_code\":\"1\"," ROW_TAIL "}", 0,
      "got \"\\x01\\x0A\\x22x\"", NULL, NULL, NULL, NULL },
    /* refused: emp_code */
    { "{\"id\":1,\"emp_code\":\"\"," ROW_TAIL "}", 0, "emp_code: empty", NULL, NULL, NULL,
      NULL },
    { "{\"id\":1,\"emp_code\":null," ROW_TAIL "}", 0, "emp_code:", NULL, NULL, NULL, NULL },
    { "{\"id\":1," ROW_TAIL "}", 0, "emp_code:", NULL, NULL, NULL, NULL },
    { "{\"id\":1,\"emp_code\":{\"a\":1}," ROW_TAIL "}", 0, "got an object", NULL, NULL, NULL,
      NULL },
    { "{\"id\":1,\"emp_code\":false," ROW_TAIL "}", 0, "emp_code:", NULL, NULL, NULL, NULL },
    { "{\"id\":1,\"emp_code\":\"123456789012345678901234567890123456789012345678901234567890"
      "1234\"," ROW_TAIL "}", 0, "emp_code: too long", NULL, NULL, NULL, NULL },
    /* refused: punch_time */
    { "{\"id\":1,\"emp_code\":\"1\"}", 0, "punch_time:", NULL, NULL, NULL, NULL },
    { "{\"id\":1,\"emp_code\":\"1\",\"punch_time\":null}", 0, "punch_time:", NULL, NULL, NULL,
      NULL },
    { "{\"id\":1,\"emp_code\":\"1\",\"punch_time\":\"\"}", 0, "punch_time:", NULL, NULL,
      NULL, NULL },
    { "{\"id\":1,\"emp_code\":\"1\",\"punch_time\":\"2026-10-01T08:02:11\"}", 0,
      "punch_time: expected \"YYYY-MM-DD HH:MM:SS\", got \"2026-10-01T08:02:11\"", NULL,
      NULL, NULL, NULL },
    { "{\"id\":1,\"emp_code\":\"1\",\"punch_time\":\"2026-02-30 08:02:11\"}", 0,
      "punch_time:", NULL, NULL, NULL, NULL },
    { "{\"id\":1,\"emp_code\":\"1\",\"punch_time\":\"2026-10-01\"}", 0, "punch_time:", NULL,
      NULL, NULL, NULL },
    { "{\"id\":1,\"emp_code\":\"1\",\"punch_time\":\"2026-10-01 08:02:11.000000\"}", 0,
      "punch_time:", NULL, NULL, NULL, NULL },
    { "{\"id\":1,\"emp_code\":\"1\",\"punch_time\":1790830931}", 0,
      "punch_time: expected \"YYYY-MM-DD HH:MM:SS\", got 1790830931", NULL, NULL, NULL,
      NULL },
};

static void test_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(parse_cases); i++) {
        const parse_case *c = &parse_cases[i];
        cJSON *row = cJSON_Parse(c->json);
        char err[256] = "";
        bts_txn t;
        int r;

        if (!row)
            fail_msg("case %zu: test JSON does not parse", i);
        memset(&t, 0, sizeof(t));
        r = bts_txn_parse(row, &t, err, sizeof(err));
        if (c->id == 0) {
            if (r != BTS_EINVAL || !strstr(err, c->emp_code))
                fail_msg("case %zu: got %d \"%s\", want an error with \"%s\"", i, r, err,
                         c->emp_code);
            assert_null(t.raw);
        } else {
            if (r != 0)
                fail_msg("case %zu: refused: %s", i, err);
            assert_int_equal(t.id, c->id);
            assert_string_equal(t.emp_code, c->emp_code);
            assert_string_equal(t.punch_time, "2026-10-01 08:02:11");
            assert_string_equal(t.punch_state, c->punch_state);
            assert_string_equal(t.upload_time, c->upload_time);
            assert_string_equal(t.terminal_sn, c->terminal_sn);
            assert_string_equal(t.terminal_alias, c->terminal_alias);
        }
        bts_txn_clear(&t);
        cJSON_Delete(row);
    }
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);

    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* emp_code of 63 bytes fits; 64 does not and is an error (a cut code could match the wrong
 * employee). */
static void test_parse_emp_code_at_buffer_limit(void **state)
{
    char err[256];
    bts_txn t;

    (void)state;
    for (size_t len = 62; len <= 65; len++) {
        char *code = repeat('7', len);
        cJSON *row = cJSON_CreateObject();
        int r;

        cJSON_AddNumberToObject(row, "id", 1);
        cJSON_AddStringToObject(row, "emp_code", code);
        cJSON_AddStringToObject(row, "punch_time", "2026-10-01 08:02:11");
        r = bts_txn_parse(row, &t, err, sizeof(err));
        if (len < sizeof(t.emp_code)) {
            assert_int_equal(r, 0);
            assert_string_equal(t.emp_code, code);
            bts_txn_clear(&t);
        } else {
            assert_int_equal(r, BTS_EINVAL);
            assert_non_null(strstr(err, "emp_code: too long"));
        }
        cJSON_Delete(row);
        free(code);
    }
}

/* Huge optional strings are cut to the buffers; a huge bad value is quoted only in part. */
static void test_parse_huge_strings_are_cut_and_errors_stay_short(void **state)
{
    char *big = repeat('A', 100000);
    cJSON *row = cJSON_CreateObject();
    char err[512];
    bts_txn t;

    (void)state;
    cJSON_AddNumberToObject(row, "id", 9);
    cJSON_AddStringToObject(row, "emp_code", "1001");
    cJSON_AddStringToObject(row, "punch_time", "2026-10-01 08:02:11");
    cJSON_AddStringToObject(row, "terminal_sn", big);
    cJSON_AddStringToObject(row, "terminal_alias", big);
    cJSON_AddStringToObject(row, "upload_time", big);
    cJSON_AddStringToObject(row, "punch_state", big);
    assert_int_equal(bts_txn_parse(row, &t, err, sizeof(err)), 0);
    assert_int_equal(strlen(t.terminal_sn), sizeof(t.terminal_sn) - 1);
    assert_int_equal(strlen(t.terminal_alias), sizeof(t.terminal_alias) - 1);
    assert_string_equal(t.upload_time, "");
    assert_string_equal(t.punch_state, "");
    bts_txn_clear(&t);

    cJSON_ReplaceItemInObject(row, "id", cJSON_CreateString(big));
    assert_int_equal(bts_txn_parse(row, &t, err, sizeof(err)), BTS_EINVAL);
    assert_true(strlen(err) < 100);
    assert_non_null(strstr(err, "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"..."));

    cJSON_ReplaceItemInObject(row, "id", cJSON_CreateNumber(9));
    cJSON_ReplaceItemInObject(row, "punch_time", cJSON_CreateString(big));
    assert_int_equal(bts_txn_parse(row, &t, err, sizeof(err)), BTS_EINVAL);
    assert_true(strlen(err) < 100);
    cJSON_Delete(row);
    free(big);
}

/* Non-printable and non-ASCII bytes in a bad value are escaped in the message. */
static void test_parse_error_escapes_unprintable_bytes(void **state)
{
    cJSON *row = cJSON_Parse("{\"id\":\"\xff\x1b[31m\",\"emp_code\":\"1\"," ROW_TAIL "}");
    char err[256];
    bts_txn t;

    (void)state;
    assert_non_null(row);
    assert_int_equal(bts_txn_parse(row, &t, err, sizeof(err)), BTS_EINVAL);
    assert_string_equal(err, "id: expected a positive integer, got \"\\xFF\\x1B[31m\"");
    for (const char *p = err; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7F);
    cJSON_Delete(row);
}

static void test_parse_error_fits_small_buffers(void **state)
{
    cJSON *row = cJSON_Parse("{\"id\":\"bad\",\"emp_code\":\"1\"," ROW_TAIL "}");
    char err[8];
    bts_txn t;

    (void)state;
    assert_int_equal(bts_txn_parse(row, &t, err, sizeof(err)), BTS_EINVAL);
    assert_string_equal(err, "id: exp");
    assert_int_equal(bts_txn_parse(row, &t, NULL, 0), BTS_EINVAL);
    assert_int_equal(bts_txn_parse(row, &t, err, 0), BTS_EINVAL);
    cJSON_Delete(row);
}

static void test_parse_refuses_non_objects(void **state)
{
    static const char *const bad[] = { "[1,2]", "\"row\"", "42", "null" };
    char err[64];
    bts_txn t;

    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(bad); i++) {
        cJSON *row = cJSON_Parse(bad[i]);

        assert_int_equal(bts_txn_parse(row, &t, err, sizeof(err)), BTS_EINVAL);
        assert_string_equal(err, "row: expected an object");
        cJSON_Delete(row);
    }
    assert_int_equal(bts_txn_parse(NULL, &t, err, sizeof(err)), BTS_EINVAL);
    assert_int_equal(bts_txn_parse(NULL, NULL, err, sizeof(err)), BTS_EINVAL);
}

/* raw is an owned copy of the whole row as JSON text: it parses back to the row, and
 * lives on after the row is gone. */
static void test_parse_keeps_owned_raw_copy(void **state)
{
    cJSON *row = cJSON_Parse("{\"id\":5,\"emp_code\":\"1\",\"temperature\":36.6,"
                             "\"department\":{\"dept_name\":\"Ops\"}," ROW_TAIL "}");
    bts_txn t;

    (void)state;
    assert_int_equal(bts_txn_parse(row, &t, NULL, 0), 0);
    assert_non_null(t.raw);
    cJSON *back = cJSON_Parse(t.raw);
    assert_true(cJSON_Compare(back, row, true));
    cJSON_Delete(row);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(back, "department"),
                                            "dept_name")->valuestring, "Ops");
    cJSON_Delete(back);
    bts_txn_clear(&t);
    assert_null(t.raw);
    bts_txn_clear(&t);   /* twice is harmless */
    bts_txn_clear(NULL);
}

/* On failure the caller's struct is left as it was. */
static void test_parse_leaves_output_untouched_on_error(void **state)
{
    cJSON *row = cJSON_Parse("{\"id\":5,\"emp_code\":\"\"," ROW_TAIL "}");
    bts_txn t;

    (void)state;
    memset(&t, 0x5A, sizeof(t));
    assert_int_equal(bts_txn_parse(row, &t, NULL, 0), BTS_EINVAL);
    assert_int_equal(t.id, 0x5A5A5A5A5A5A5A5ALL);
    cJSON_Delete(row);
}

typedef struct {
    const char *json; /* value of key "v" */
    size_t n;
    const char *text;
    int ret;
} text_case;

static const text_case text_cases[] = {
    { "\"36.6\"", 64, "36.6", 4 },
    { "36.6", 64, "36.6", 4 },
    { "255", 64, "255", 3 },
    { "0", 64, "0", 1 },
    { "0.0", 64, "0", 1 },
    { "-3", 64, "-3", 2 },
    { "0.1", 64, "0.1", 3 },
    { "1e20", 64, "1e+20", 5 },
    { "1.5e300", 64, "1.5e+300", 8 },
    { "9007199254740993", 64, "9007199254740992", 16 }, /* beyond 2^53: as the double */
    { "true", 64, "1", 1 },
    { "false", 64, "0", 1 },
    { "null", 64, "", 0 },
    { "[1,\"a\"]", 64, "[1,\"a\"]", 7 },
    { "{\"id\":3,\"dept_name\":\"Ops\"}", 64, "{\"id\":3,\"dept_name\":\"Ops\"}", 26 },
    { "\"\"", 64, "", 0 },
    { "\"abc\"", 4, "abc", 3 },          /* exact fit */
    { "\"abcd\"", 4, "abc", -1 },        /* cut */
    { "\"a\xc3\xa9\"", 3, "a", -1 },     /* never half a UTF-8 character */
    { "\"a\xc3\xa9\"", 4, "a\xc3\xa9", 3 },
    { "\"\xe2\x82\xac\xe2\x82\xac\"", 5, "\xe2\x82\xac", -1 },
    { "\"\xe2\x82\xac\"", 3, "", -1 },
    { "\"\x80\x80\x80\x80\x80\"", 3, "\x80\x80", -1 }, /* garbage: cut anyway, no crash */
    { "\"x\"", 1, "", -1 },
    { "123456", 4, "123", -1 },
    { "[1,2,3]", 4, "[1,", -1 },
};

static void test_json_text_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(text_cases); i++) {
        char json[128], out[64];
        cJSON *obj;
        int r;

        snprintf(json, sizeof(json), "{\"v\":%s}", text_cases[i].json);
        obj = cJSON_Parse(json);
        if (!obj)
            fail_msg("case %zu: test JSON does not parse", i);
        memset(out, 'Z', sizeof(out));
        r = bts_json_text(obj, "v", out, text_cases[i].n);
        if (r != text_cases[i].ret || strcmp(out, text_cases[i].text) != 0)
            fail_msg("case %zu (%s): got %d \"%s\", want %d \"%s\"", i, text_cases[i].json,
                     r, out, text_cases[i].ret, text_cases[i].text);
        if (text_cases[i].n < sizeof(out))
            assert_int_equal(out[text_cases[i].n], 'Z'); /* nothing written past n */
        cJSON_Delete(obj);
    }
}

static void test_json_text_missing_and_degenerate(void **state)
{
    cJSON *obj = cJSON_Parse("{\"v\":\"x\"}");
    char out[8] = "junk";

    (void)state;
    assert_int_equal(bts_json_text(obj, "missing", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(bts_json_text(obj, "V", out, sizeof(out)), 0); /* case-sensitive */
    assert_int_equal(bts_json_text(NULL, "v", out, sizeof(out)), 0);
    assert_int_equal(bts_json_text(obj, NULL, out, sizeof(out)), 0);
    assert_int_equal(bts_json_text(obj, "v", out, 0), -1);
    assert_int_equal(bts_json_text(obj, "v", NULL, 8), -1);
    cJSON_Delete(obj);
}

typedef struct {
    const char *json;
    int64_t v; /* 0 = refused */
} int_case;

static const int_case int_cases[] = {
    { "1", 1 }, { "48213", 48213 }, { "\"48213\"", 48213 }, { "\"007\"", 7 },
    { "1.0", 1 }, { "2e3", 2000 }, { "9007199254740991", 9007199254740991LL },
    { "\"9223372036854775807\"", INT64_MAX },
    { "0", 0 }, { "-1", 0 }, { "1.5", 0 }, { "0.999", 0 }, { "9007199254740992", 0 },
    { "1e19", 0 }, { "\"\"", 0 }, { "\"-1\"", 0 }, { "\"1 \"", 0 }, { "\"0x10\"", 0 },
    { "\"1e3\"", 0 }, { "\"99999999999999999999\"", 0 }, { "\"0\"", 0 }, { "null", 0 },
    { "true", 0 }, { "{}", 0 }, { "[]", 0 },
};

static void test_json_int64_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(int_cases); i++) {
        char json[64];
        cJSON *obj;
        int64_t v = -42;
        int r;

        snprintf(json, sizeof(json), "{\"v\":%s}", int_cases[i].json);
        obj = cJSON_Parse(json);
        assert_non_null(obj);
        r = bts_json_int64(obj, "v", &v);
        if (int_cases[i].v == 0) {
            if (r != BTS_EINVAL || v != -42)
                fail_msg("%s: accepted as %lld", int_cases[i].json, (long long)v);
        } else if (r != 0 || v != int_cases[i].v) {
            fail_msg("%s: got %d %lld", int_cases[i].json, r, (long long)v);
        }
        cJSON_Delete(obj);
    }
}

static void test_json_int64_missing_is_error(void **state)
{
    cJSON *obj = cJSON_Parse("{}");
    int64_t v;

    (void)state;
    assert_int_equal(bts_json_int64(obj, "id", &v), BTS_EINVAL);
    assert_int_equal(bts_json_int64(NULL, "id", &v), BTS_EINVAL);
    assert_int_equal(bts_json_int64(obj, "id", NULL), BTS_EINVAL);
    cJSON_Delete(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_emp_code_at_buffer_limit),
        cmocka_unit_test(test_parse_huge_strings_are_cut_and_errors_stay_short),
        cmocka_unit_test(test_parse_error_escapes_unprintable_bytes),
        cmocka_unit_test(test_parse_error_fits_small_buffers),
        cmocka_unit_test(test_parse_refuses_non_objects),
        cmocka_unit_test(test_parse_keeps_owned_raw_copy),
        cmocka_unit_test(test_parse_leaves_output_untouched_on_error),
        cmocka_unit_test(test_json_text_table),
        cmocka_unit_test(test_json_text_missing_and_degenerate),
        cmocka_unit_test(test_json_int64_table),
        cmocka_unit_test(test_json_int64_missing_is_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

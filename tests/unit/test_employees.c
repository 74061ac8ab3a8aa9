/* employees: the emp_code -> Employee map built from ERPNext's Employee list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bts/employees.h"

#define FIELD "attendance_device_id"

static int setup(void **state)
{
    bts_employees *m = NULL;

    if (bts_employees_new(&m) < 0)
        return -1;
    *state = m;
    return 0;
}

static int teardown(void **state)
{
    bts_employees_free(*state);
    return 0;
}

/* Loads rows given as JSON text; returns what load returned. */
static int load_json(bts_employees *m, const char *json, const char *field)
{
    cJSON *rows = cJSON_Parse(json);
    int r;

    assert_non_null(rows);
    r = bts_employees_load(m, rows, field);
    cJSON_Delete(rows);
    return r;
}

typedef struct {
    const char *code;
    const char *name; /* NULL = not in the map */
    bts_emp_status status;
} find_case;

#define A BTS_EMP_ACTIVE

static const char rows_json[] =
    "[{\"name\":\"HR-EMP-00001\",\"" FIELD "\":\"1001\",\"status\":\"Active\"},"
    " {\"name\":\"HR-EMP-00002\",\"" FIELD "\":\"007\",\"status\":\"Active\"},"
    " {\"name\":\"HR-EMP-00003\",\"" FIELD "\":\"1003\",\"status\":\"Left\"},"
    " {\"name\":\"HR-EMP-00004\",\"" FIELD "\":\"1004\",\"status\":\"Inactive\"},"
    " {\"name\":\"HR-EMP-00005\",\"" FIELD "\":\"1005\",\"status\":\"Suspended\"},"
    " {\"name\":\"HR-EMP-00006\",\"" FIELD "\":\"1006\",\"status\":\"active\"},"
    " {\"name\":\"HR-EMP-00007\",\"" FIELD "\":\"1007\"},"
    " {\"name\":\"HR-EMP-00008\",\"" FIELD "\":1008,\"status\":\"Active\"},"
    " {\"name\":\"HR-EMP-00009\",\"" FIELD "\":\"A9\",\"status\":\"Active\"},"
    " {\"name\":\"HR-EMP-00010\",\"" FIELD "\":\" 1010\",\"status\":\"Active\"},"
    " {\"name\":\"HR-EMP-00011\",\"" FIELD "\":\"\xd9\xa1\xd9\xa2\",\"status\":\"Active\"},"
    /* skipped rows */
    " {\"name\":\"HR-EMP-00020\",\"status\":\"Active\"},"
    " {\"name\":\"HR-EMP-00021\",\"" FIELD "\":\"\",\"status\":\"Active\"},"
    " {\"name\":\"HR-EMP-00022\",\"" FIELD "\":null,\"status\":\"Active\"},"
    " {\"name\":\"HR-EMP-00023\",\"" FIELD "\":[\"2023\"],\"status\":\"Active\"},"
    " {\"" FIELD "\":\"2024\",\"status\":\"Active\"},"
    " {\"name\":\"\",\"" FIELD "\":\"2025\",\"status\":\"Active\"},"
    " {\"name\":null,\"" FIELD "\":\"2026\",\"status\":\"Active\"},"
    " {\"name\":42,\"" FIELD "\":\"2027\",\"status\":\"Active\"},"
    " \"HR-EMP-00028\", 29, null, []]";

static const find_case find_cases[] = {
    { "1001", "HR-EMP-00001", A },
    { "007", "HR-EMP-00002", A },
    { "7", NULL, A },                   /* codes are text: no number folding */
    { "07", NULL, A },
    { "1003", "HR-EMP-00003", BTS_EMP_LEFT },
    { "1004", "HR-EMP-00004", BTS_EMP_INACTIVE },
    { "1005", "HR-EMP-00005", BTS_EMP_SUSPENDED },
    { "1006", "HR-EMP-00006", BTS_EMP_OTHER },  /* compared exactly, as HRMS does */
    { "1007", "HR-EMP-00007", BTS_EMP_OTHER },  /* no status */
    { "1008", "HR-EMP-00008", A },      /* numeric field value */
    { "A9", "HR-EMP-00009", A },
    { "a9", NULL, A },                  /* case-sensitive */
    { " 1010", "HR-EMP-00010", A },
    { "1010", NULL, A },                /* no trimming */
    { "1001 ", NULL, A },
    { "\xd9\xa1\xd9\xa2", "HR-EMP-00011", A },
    { "2023", NULL, A },
    { "2024", NULL, A },
    { "2025", NULL, A },
    { "2026", NULL, A },
    { "2027", NULL, A },
    { "", NULL, A },
    { "9999", NULL, A },
};

static void test_load_and_find_table(void **state)
{
    bts_employees *m = *state;

    assert_int_equal(load_json(m, rows_json, FIELD), 11);
    assert_int_equal(bts_employees_count(m), 11);
    for (size_t i = 0; i < BTS_ARRAY_SIZE(find_cases); i++) {
        const find_case *c = &find_cases[i];
        const bts_employee *e = bts_employees_find(m, c->code);

        if (!c->name) {
            if (e)
                fail_msg("\"%s\" found as %s", c->code, e->name);
            continue;
        }
        if (!e)
            fail_msg("\"%s\" not found", c->code);
        assert_string_equal(e->name, c->name);
        assert_string_equal(e->code, c->code);
        assert_int_equal(e->status, c->status);
    }
}

typedef struct {
    const char *status_json; /* the row's "status" value as JSON text, NULL = no key */
    bts_emp_status status;
    bool accepted;           /* HRMS creates its checkins */
} status_case;

/* HRMS's validate_active_employee refuses only the exact status "Inactive": Left and
 * Suspended employees (leavers' last weeks, final settlement) get their checkins. */
static const status_case status_cases[] = {
    { "\"Active\"", BTS_EMP_ACTIVE, true },
    { "\"Suspended\"", BTS_EMP_SUSPENDED, true },
    { "\"Left\"", BTS_EMP_LEFT, true },
    { "\"Inactive\"", BTS_EMP_INACTIVE, false },
    { "\"inactive\"", BTS_EMP_OTHER, true },   /* not "Inactive" to HRMS either */
    { "\"Inactive \"", BTS_EMP_OTHER, true },
    { "\"On Leave\"", BTS_EMP_OTHER, true },   /* a custom option */
    { "\"\"", BTS_EMP_OTHER, true },
    { "null", BTS_EMP_OTHER, true },
    { "3", BTS_EMP_OTHER, true },
    { NULL, BTS_EMP_OTHER, true },               /* status not readable */
};

static void test_status_table_follows_hrms(void **state)
{
    bts_employees *m = *state;

    for (size_t i = 0; i < BTS_ARRAY_SIZE(status_cases); i++) {
        const status_case *c = &status_cases[i];
        char json[200];
        const bts_employee *e;

        if (c->status_json)
            snprintf(json, sizeof(json), "[{\"name\":\"E1\",\"" FIELD "\":\"5\","
                     "\"status\":%s}]", c->status_json);
        else
            snprintf(json, sizeof(json), "[{\"name\":\"E1\",\"" FIELD "\":\"5\"}]");
        assert_int_equal(load_json(m, json, FIELD), 1);
        e = bts_employees_find(m, "5");
        assert_non_null(e);
        if (e->status != c->status || bts_employee_accepts_checkins(e) != c->accepted)
            fail_msg("status %s: got %d/%d, want %d/%d", c->status_json ? c->status_json : "-",
                     e->status, bts_employee_accepts_checkins(e), c->status, c->accepted);
    }
    assert_false(bts_employee_accepts_checkins(NULL));
    assert_string_equal(bts_employees_status_str(BTS_EMP_LEFT), "Left");
    assert_string_equal(bts_employees_status_str(BTS_EMP_SUSPENDED), "Suspended");
    assert_string_equal(bts_employees_status_str(BTS_EMP_INACTIVE), "Inactive");
    assert_string_equal(bts_employees_status_str(BTS_EMP_ACTIVE), "Active");
    assert_string_equal(bts_employees_status_str(BTS_EMP_OTHER), "");
    assert_string_equal(bts_employees_status_str((bts_emp_status)42), "");
}

typedef struct {
    const char *json;
    const char *want_name;
    bts_emp_status want_status;
} dup_case;

#define ROW(n, s) "{\"name\":\"" n "\",\"" FIELD "\":\"42\",\"status\":\"" s "\"}"

static const dup_case dup_cases[] = {
    { "[" ROW("E1", "Active") "," ROW("E2", "Active") "]", "E1", A },
    { "[" ROW("E1", "Left") "," ROW("E2", "Active") "]", "E2", A },
    { "[" ROW("E1", "Active") "," ROW("E2", "Left") "]", "E1", A },
    { "[" ROW("E1", "Left") "," ROW("E2", "Inactive") "]", "E1", BTS_EMP_LEFT },
    { "[" ROW("E1", "Inactive") "," ROW("E2", "Left") "]", "E2", BTS_EMP_LEFT },
    { "[" ROW("E1", "Inactive") "," ROW("E2", "Suspended") "," ROW("E3", "Left") "]", "E2",
      BTS_EMP_SUSPENDED },
    { "[" ROW("E1", "Inactive") "," ROW("E2", "Inactive") "]", "E1", BTS_EMP_INACTIVE },
    { "[" ROW("E1", "Left") "," ROW("E2", "Active") "," ROW("E3", "Active") "]", "E2", A },
    { "[" ROW("E1", "Left") "," ROW("E2", "Left") "," ROW("E3", "Active") "]", "E3", A },
};

/* Duplicate codes: the first Active row wins; with none Active, the first HRMS accepts
 * (an Inactive one would only be refused); with none of those, the first row. */
static void test_duplicate_codes_prefer_first_active(void **state)
{
    bts_employees *m = *state;

    for (size_t i = 0; i < BTS_ARRAY_SIZE(dup_cases); i++) {
        const bts_employee *e;

        assert_int_equal(load_json(m, dup_cases[i].json, FIELD), 1);
        e = bts_employees_find(m, "42");
        assert_non_null(e);
        if (strcmp(e->name, dup_cases[i].want_name) != 0)
            fail_msg("case %zu: got %s, want %s", i, e->name, dup_cases[i].want_name);
        assert_int_equal(e->status, dup_cases[i].want_status);
    }
}

/* The mapping field is configurable: only that field's value is a code. */
static void test_custom_field(void **state)
{
    bts_employees *m = *state;
    static const char json[] =
        "[{\"name\":\"E1\",\"biotime_emp_code\":\"55\",\"" FIELD "\":\"66\","
        "\"status\":\"Active\"}]";

    assert_int_equal(load_json(m, json, "biotime_emp_code"), 1);
    assert_non_null(bts_employees_find(m, "55"));
    assert_null(bts_employees_find(m, "66"));
}

/* A reload replaces the whole map; a failed one keeps the previous map. */
static void test_reload_replaces_and_failed_load_keeps_map(void **state)
{
    bts_employees *m = *state;
    cJSON *not_array = cJSON_CreateObject();

    assert_int_equal(load_json(m, "[" ROW("E1", "Active") "]", FIELD), 1);
    assert_int_equal(load_json(m, "[{\"name\":\"E9\",\"" FIELD "\":\"9\",\"status\":\"Active\"}]",
                               FIELD), 1);
    assert_null(bts_employees_find(m, "42"));
    assert_non_null(bts_employees_find(m, "9"));

    assert_int_equal(bts_employees_load(m, not_array, FIELD), BTS_EINVAL);
    assert_int_equal(bts_employees_load(m, NULL, FIELD), BTS_EINVAL);
    assert_int_equal(load_json(m, "[]", NULL), BTS_EINVAL);
    assert_int_equal(load_json(m, "[]", ""), BTS_EINVAL);
    assert_non_null(bts_employees_find(m, "9"));
    assert_int_equal(bts_employees_count(m), 1);

    assert_int_equal(load_json(m, "[]", FIELD), 0);
    assert_int_equal(bts_employees_count(m), 0);
    assert_null(bts_employees_find(m, "9"));
    cJSON_Delete(not_array);
}

/* Thousands of codes (with similar spellings) are all found, and nothing else is. */
static void test_many_employees_all_found(void **state)
{
    bts_employees *m = *state;
    cJSON *rows = cJSON_CreateArray();
    const size_t n = 20000;

    for (size_t i = 0; i < n; i++) {
        cJSON *row = cJSON_CreateObject();
        char code[32], name[32];

        snprintf(code, sizeof(code), "%zu", i);
        snprintf(name, sizeof(name), "HR-EMP-%05zu", i);
        cJSON_AddStringToObject(row, "name", name);
        cJSON_AddStringToObject(row, FIELD, code);
        cJSON_AddStringToObject(row, "status", i % 3 ? "Active" : "Left");
        cJSON_AddItemToArray(rows, row);
    }
    assert_int_equal(bts_employees_load(m, rows, FIELD), (int)n);
    assert_int_equal(bts_employees_count(m), n);
    for (size_t i = 0; i < n; i++) {
        char code[32], name[32];
        const bts_employee *e;

        snprintf(code, sizeof(code), "%zu", i);
        snprintf(name, sizeof(name), "HR-EMP-%05zu", i);
        e = bts_employees_find(m, code);
        assert_non_null(e);
        assert_string_equal(e->name, name);
        assert_int_equal(e->status, i % 3 ? BTS_EMP_ACTIVE : BTS_EMP_LEFT);
        snprintf(code, sizeof(code), "0%zu", i);
        assert_null(bts_employees_find(m, code));
    }
    cJSON_Delete(rows);
}

static void test_empty_and_null_maps(void **state)
{
    bts_employees *m = *state;

    assert_null(bts_employees_find(m, "1001")); /* never loaded */
    assert_int_equal(bts_employees_count(m), 0);
    assert_null(bts_employees_find(NULL, "1001"));
    assert_null(bts_employees_find(m, NULL));
    assert_int_equal(bts_employees_count(NULL), 0);
    assert_int_equal(bts_employees_load(NULL, NULL, FIELD), BTS_EINVAL);
    assert_int_equal(bts_employees_new(NULL), BTS_EINVAL);
    bts_employees_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_and_find_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_table_follows_hrms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_codes_prefer_first_active, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_custom_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_replaces_and_failed_load_keeps_map, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_many_employees_all_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_null_maps, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

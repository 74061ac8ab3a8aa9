/* roster and pushplan: the comparison behind --employees and the plan behind
 * employees.push, from BioTime and ERPNext rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bts/roster.h"

#define FIELD "attendance_device_id"

static const char bt_json[] =
    "[{\"id\":1,\"emp_code\":\"1001\",\"first_name\":\"Aisha\",\"last_name\":\"Test\","
    "  \"area\":[{\"id\":1,\"area_code\":\"1\"},{\"id\":2}]},"
    " {\"id\":2,\"emp_code\":\"1002\",\"first_name\":\"Omar\",\"last_name\":\"Old\","
    "  \"area\":[{\"id\":1}]},"
    " {\"id\":3,\"emp_code\":1003,\"first_name\":\"Lina\",\"last_name\":null,\"area\":[2]},"
    " {\"id\":\"4\",\"emp_code\":\"1004\",\"first_name\":\"Gone\",\"last_name\":\"\"},"
    " {\"id\":5,\"emp_code\":\" 1042 \",\"first_name\":\"\xd8\xb9\xd8\xa8\xd8\xaf \xd8\xa7\xd9\x84\xd9\x84\xd9\x87\","
    "  \"last_name\":\"\xd8\xa3\xd8\xad\xd9\x85\xd8\xaf\"},"
    " {\"id\":6,\"emp_code\":\"1050\",\"first_name\":\"Nobody\",\"last_name\":\"X\"},"
    " {\"id\":7,\"emp_code\":\"1009\",\"first_name\":\"Rami\",\"last_name\":\"Aziz\",\"area\":[1,2]},"
    " {\"id\":8,\"emp_code\":\"1010\",\"first_name\":\"Dup\",\"last_name\":\"Code\",\"area\":[2]},"
    " {\"id\":9,\"emp_code\":\"\",\"first_name\":\"No\",\"last_name\":\"Code\"},"
    " {\"emp_code\":\"1099\",\"first_name\":\"No\",\"last_name\":\"Id\"}]";

static const char resigns_json[] =
    "[{\"id\":1,\"employee\":{\"id\":4,\"emp_code\":\"1004\"}}]";

#define EMP(name, full, first, last, code, status, rel) \
    "{\"name\":\"" name "\",\"employee_name\":\"" full "\",\"first_name\":\"" first "\"," \
    "\"last_name\":" last ",\"" FIELD "\":" code ",\"status\":\"" status "\"," \
    "\"relieving_date\":" rel "}"

static const char erp_json[] = "["
    EMP("HR-EMP-00001", "Aisha Test", "Aisha", "\"Test\"", "\"1001\"", "Active", "null") ","
    EMP("HR-EMP-00002", "Omar New", "Omar", "\"New\"", "\"1002\"", "Active", "null") ","
    EMP("HR-EMP-00003", "Lina", "Lina", "null", "1003", "Left", "\"2026-11-30\"") ","
    EMP("HR-EMP-00004", "Gone", "Gone", "\"\"", "\"1004\"", "Left", "\"2026-10-01\"") ","
    EMP("HR-EMP-00005", "Sara Ali", "Sara", "\"Ali\"", "\"1005\"", "Active", "null") ","
    EMP("HR-EMP-00006", "Hana Sus", "Hana", "\"Sus\"", "\"1006\"", "Suspended", "null") ","
    EMP("HR-EMP-00007", "Ina Ctive", "Ina", "\"Ctive\"", "\"1007\"", "Inactive", "null") ","
    EMP("HR-EMP-00008", "Lee Ver", "Lee", "\"Ver\"", "\"1008\"", "Left", "null") ","
    EMP("HR-EMP-00009", "Rami Aziz", "Rami", "\"Aziz\"", "\"1009\"", "Left", "null") ","
    EMP("HR-EMP-00010", "Dup Old", "Dup", "\"Old\"", "\"1010\"", "Left", "null") ","
    EMP("HR-EMP-00011", "Dup Code", "Dup", "\"Code\"", "\"1010\"", "Active", "null") ","
    EMP("HR-EMP-00042", "\xd8\xa7\xd8\xad\xd9\x85\xd8\xaf \xd8\xb9\xd8\xa8\xd8\xaf\xd8\xa7\xd9\x84\xd9\x84\xd9\x87",
        "", "null", "null", "Active", "null") ","
    EMP("HR-EMP-00043", "Nobody X", "Nobody", "\"X\"", "\"\"", "Left", "null") ","
    EMP("HR-EMP-00044", "Nobody  x", "Nobody", "\"x\"", "null", "Suspended", "null") ","
    EMP("HR-EMP-00045", "Stranger", "Stranger", "null", "null", "Active", "null") "]";

static bts_roster *load(const char *bt, const char *resigns, const char *erp)
{
    bts_roster *r = NULL;
    cJSON *b = cJSON_Parse(bt), *s = cJSON_Parse(resigns), *e = cJSON_Parse(erp);

    assert_non_null(b);
    assert_non_null(s);
    assert_non_null(e);
    assert_int_equal(bts_roster_new(&r), 0);
    assert_true(bts_roster_add_biotime(r, b) >= 0);
    assert_true(bts_roster_add_resigns(r, s) >= 0);
    assert_true(bts_roster_add_erpnext(r, e, FIELD) >= 0);
    assert_int_equal(bts_roster_index(r), 0);
    cJSON_Delete(b);
    cJSON_Delete(s);
    cJSON_Delete(e);
    return r;
}

static void test_loading_skips_rows_without_id_or_code(void **state)
{
    bts_roster *r = load(bt_json, resigns_json, erp_json);
    (void)state;
    assert_int_equal(bts_roster_biotime_count(r), 8);
    assert_int_equal(bts_roster_erpnext_count(r), 15);
    assert_non_null(bts_roster_biotime(r, "1042")); /* trimmed */
    assert_true(bts_roster_biotime(r, "1004")->resigned);
    assert_string_equal(bts_roster_erpnext(r, "1010")->name, "HR-EMP-00011");
    assert_string_equal(bts_roster_erpnext(r, "1003")->code, "1003"); /* a number */
    bts_roster_free(r);
}

static bool has_name(const bts_erp_person **list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i]->name, name) == 0)
            return true;
    return false;
}

static void test_report_lists(void **state)
{
    bts_roster *r = load(bt_json, resigns_json, erp_json);
    bts_roster_report rep;
    (void)state;
    assert_int_equal(bts_roster_compare(r, &rep), 0);
    assert_int_equal(rep.n_mapped, 6); /* 1001 1002 1003 1004 1009 1010 */
    assert_int_equal(rep.n_bt_only, 2);
    for (size_t i = 0; i < rep.n_bt_only; i++) {
        const bts_roster_unmapped *u = &rep.bt_only[i];
        if (strcmp(u->bt->code, "1042") == 0) {
            assert_int_equal(u->n_cands, 1); /* Arabic variants, word order */
            assert_string_equal(u->cands[0]->name, "HR-EMP-00042");
        } else {
            assert_string_equal(u->bt->code, "1050");
            assert_int_equal(u->n_cands, 1); /* the Left one is no candidate */
            assert_string_equal(u->cands[0]->name, "HR-EMP-00044");
        }
    }
    assert_int_equal(rep.n_erp_only, 1);
    assert_true(has_name(rep.erp_only, rep.n_erp_only, "HR-EMP-00005"));
    assert_int_equal(rep.n_leavers, 2); /* 1003 and 1009; 1004 is resigned already */
    assert_true(bts_roster_needs_action(&rep));
    bts_roster_report_clear(&rep);
    bts_roster_free(r);
}

typedef struct {
    const char *name;
    bts_push_kind kind;
    bool rename;
    size_t n_areas;
    const char *date;
} op_case;

static const op_case plan_cases[] = {
    {"HR-EMP-00001", BTS_PUSH_UPDATE, false, 0, ""},     /* lacks no area: no op: see below */
    {"HR-EMP-00002", BTS_PUSH_UPDATE, true, 2, ""},      /* renamed, area 2 added to 1 */
    {"HR-EMP-00003", BTS_PUSH_RESIGN, false, 0, "2026-11-30"},
    {"HR-EMP-00005", BTS_PUSH_CREATE, false, 1, ""},
    {"HR-EMP-00006", BTS_PUSH_CREATE, false, 1, ""},     /* Suspended is created too */
    {"HR-EMP-00009", BTS_PUSH_RESIGN, false, 0, "2026-12-06"}, /* no relieving date */
};

static const bts_push_op *find_op(const bts_push_op *ops, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ops[i].erp->name, name) == 0)
            return &ops[i];
    return NULL;
}

static void test_plan_table(void **state)
{
    bts_roster *r = load(bt_json, resigns_json, erp_json);
    int64_t areas[] = {2};
    bts_push_rules rules = {.areas = areas, .n_areas = 1, .resign_leavers = true,
                            .today = "2026-12-06"};
    bts_push_op *ops = NULL;
    size_t n = 0;
    (void)state;
    assert_int_equal(bts_push_plan(r, &rules, &ops, &n), 5);
    assert_null(find_op(ops, n, "HR-EMP-00001")); /* in line: no write */
    for (size_t i = 1; i < BTS_ARRAY_SIZE(plan_cases); i++) {
        const op_case *c = &plan_cases[i];
        const bts_push_op *op = find_op(ops, n, c->name);
        if (!op)
            fail_msg("no op for %s", c->name);
        assert_int_equal(op->kind, c->kind);
        assert_int_equal(op->rename, c->rename);
        assert_int_equal(op->n_areas, c->n_areas);
        assert_string_equal(op->date, c->date);
    }
    /* never: Inactive, a leaver BioTime lacks, a resigned one, a duplicate's Left twin,
     * an Employee without a code */
    const char *never[] = {"HR-EMP-00004", "HR-EMP-00007", "HR-EMP-00008", "HR-EMP-00010",
                           "HR-EMP-00011", "HR-EMP-00042", "HR-EMP-00044"};
    for (size_t i = 0; i < BTS_ARRAY_SIZE(never); i++)
        assert_null(find_op(ops, n, never[i]));
    bts_push_ops_free(ops, n);
    bts_roster_free(r);
}

static void test_plan_without_resign_leavers_resigns_nobody(void **state)
{
    bts_roster *r = load(bt_json, resigns_json, erp_json);
    bts_push_rules rules = {.resign_leavers = false, .today = "2026-12-06"};
    bts_push_op *ops = NULL;
    size_t n = 0;
    (void)state;
    assert_true(bts_push_plan(r, &rules, &ops, &n) >= 0);
    for (size_t i = 0; i < n; i++)
        assert_int_not_equal(ops[i].kind, BTS_PUSH_RESIGN);
    assert_int_equal(n, 3); /* rename 1002, create 1005 and 1006 */
    bts_push_ops_free(ops, n);
    bts_roster_free(r);
}

static void test_plan_in_line_is_empty(void **state)
{
    bts_roster *r = load("[{\"id\":1,\"emp_code\":\"1\",\"first_name\":\"A\",\"last_name\":\"B\","
                         "\"area\":[{\"id\":3}]}]", "[]",
                         "[" EMP("HR-EMP-1", "A B", "A", "\"B\"", "\"1\"", "Active", "null") "]");
    int64_t areas[] = {3};
    bts_push_rules rules = {.areas = areas, .n_areas = 1, .resign_leavers = true,
                            .today = "2026-12-06"};
    bts_push_op *ops = NULL;
    size_t n = 9;
    (void)state;
    assert_int_equal(bts_push_plan(r, &rules, &ops, &n), 0);
    assert_int_equal(n, 0);
    bts_push_ops_free(ops, n);
    bts_roster_free(r);
}

static const char *prev_5(void *ud, const char *employee)
{
    (void)ud;
    return strcmp(employee, "HR-EMP-00005") == 0 ? "1050" : NULL;
}

static void test_plan_moves_a_recoded_employee_instead_of_creating(void **state)
{
    bts_roster *r = load(bt_json, resigns_json, erp_json);
    bts_push_rules rules = {.resign_leavers = true, .today = "2026-12-06", .prev_code = prev_5};
    bts_push_op *ops = NULL;
    size_t n = 0;
    const bts_push_op *op;
    (void)state;
    assert_true(bts_push_plan(r, &rules, &ops, &n) >= 0);
    op = find_op(ops, n, "HR-EMP-00005"); /* carried 1050, now 1005: 1050 is free */
    assert_non_null(op);
    assert_int_equal(op->kind, BTS_PUSH_UPDATE);
    assert_true(op->recode);
    assert_string_equal(op->bt->code, "1050");
    bts_push_ops_free(ops, n);
    bts_roster_free(r);
}

static const char *prev_taken(void *ud, const char *employee)
{
    (void)ud;
    return strcmp(employee, "HR-EMP-00005") == 0 ? "1001" : NULL;
}

static void test_plan_never_moves_a_code_another_employee_carries(void **state)
{
    bts_roster *r = load(bt_json, resigns_json, erp_json);
    bts_push_rules rules = {.today = "2026-12-06", .prev_code = prev_taken};
    bts_push_op *ops = NULL;
    size_t n = 0;
    (void)state;
    assert_true(bts_push_plan(r, &rules, &ops, &n) >= 0);
    assert_int_equal(find_op(ops, n, "HR-EMP-00005")->kind, BTS_PUSH_CREATE);
    bts_push_ops_free(ops, n);
    bts_roster_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loading_skips_rows_without_id_or_code),
        cmocka_unit_test(test_report_lists),
        cmocka_unit_test(test_plan_table),
        cmocka_unit_test(test_plan_without_resign_leavers_resigns_nobody),
        cmocka_unit_test(test_plan_in_line_is_empty),
        cmocka_unit_test(test_plan_moves_a_recoded_employee_instead_of_creating),
        cmocka_unit_test(test_plan_never_moves_a_code_another_employee_carries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* libFuzzer target: a BioTime personnel page body (employees or resignations) through the
 * roster as --employees and employees.push read it: the rows taken as BioTime people, as
 * resignations and as ERPNext Employees, then the comparison and the push plan; and the
 * whole input as a name through bts_name_key. */
#include <string.h>

#include "bts/biotime.h"
#include "bts/namematch.h"
#include "bts/roster.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_log();
    return 0;
}

static void check_key(const char *name)
{
    char key[BTS_NAME_KEY_MAX];
    int n = bts_name_key(name, key, sizeof(key));

    FUZZ_CHECK(n == BTS_EINVAL || (n >= 0 && (size_t)n == strlen(key)), "key length %d", n);
    FUZZ_CHECK(n < 0 || bts_name_match(name, name) == (n > 0), "a name must match itself");
}

static void check_roster(const cJSON *rows)
{
    bts_roster *r = NULL;
    bts_roster_report rep;
    bts_push_op *ops = NULL;
    size_t n = 0;
    int64_t areas[] = {1, 2};
    bts_push_rules rules = {.areas = areas, .n_areas = 2, .resign_leavers = true,
                            .today = "2026-12-06"};

    if (bts_roster_new(&r) < 0)
        abort();
    bts_roster_add_biotime(r, rows);
    bts_roster_add_resigns(r, rows);
    bts_roster_add_erpnext(r, rows, "emp_code");
    FUZZ_CHECK(bts_roster_index(r) == 0, "index");
    FUZZ_CHECK(bts_roster_compare(r, &rep) == 0, "compare");
    FUZZ_CHECK(rep.n_mapped <= bts_roster_biotime_count(r), "mapped %zu", rep.n_mapped);
    bts_roster_report_clear(&rep);
    FUZZ_CHECK(bts_push_plan(r, &rules, &ops, &n) >= 0, "plan");
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(ops[i].kind != BTS_PUSH_CREATE || !bts_roster_biotime(r, ops[i].erp->code),
                   "create of a code BioTime has");
    bts_push_ops_free(ops, n);
    bts_roster_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size), err[256];
    bts_page page;

    check_key(text);
    if (bts_biotime_parse_page(text, size, &page, err, sizeof(err)) == 0) {
        check_roster(page.rows);
        bts_page_clear(&page);
    }
    free(text);
    return 0;
}

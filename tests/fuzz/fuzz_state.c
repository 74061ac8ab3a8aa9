/* libFuzzer target: the state file (bts_state_from_json); whatever it accepts must come
 * back unchanged through bts_state_to_json and bts_state_from_json. */
#include <string.h>

#include "bts/state.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_log();
    return 0;
}

#define SAME_NUM(f) FUZZ_CHECK(a->f == b->f, #f " %lld != %lld", (long long)a->f, (long long)b->f)
#define SAME_STR(f)                                                                         \
    FUZZ_CHECK(strnlen(a->f, sizeof(a->f)) < sizeof(a->f) &&                                \
                   strncmp(a->f, b->f, sizeof(a->f)) == 0,                                  \
               #f " \"%.*s\" != \"%.*s\"", (int)sizeof(a->f), a->f, (int)sizeof(b->f), b->f)

static void same_state(const bts_state *a, const bts_state *b)
{
    SAME_NUM(last_id);
    SAME_NUM(page_hint);
    SAME_NUM(hint_page_size);
    SAME_STR(biotime_url);
    SAME_STR(newest_upload);
    SAME_STR(newest_punch);
    SAME_NUM(total_read);
    SAME_NUM(total_checkins);
    SAME_NUM(total_device_logs);
    SAME_NUM(total_duplicates);
    SAME_NUM(total_parked);
    SAME_NUM(total_errors);
    SAME_NUM(cycles);
    SAME_NUM(last_cycle_at);
    SAME_STR(last_result);
    SAME_NUM(last_read);
    SAME_NUM(last_checkins);
    SAME_NUM(last_device_logs);
    SAME_NUM(last_parked);
    SAME_NUM(last_success_at);
    SAME_NUM(last_error_at);
    SAME_STR(last_error);
    SAME_NUM(parked_waiting);
    SAME_NUM(total_rejected);
    SAME_NUM(total_biotime_requests);
    SAME_NUM(total_biotime_failures);
    SAME_NUM(total_erpnext_requests);
    SAME_NUM(total_erpnext_failures);
    SAME_NUM(last_duration_ms);
    SAME_NUM(n_unknown_codes);
    FUZZ_CHECK(a->n_unknown_codes <= BTS_STATE_MAX_CODES, "%zu codes", a->n_unknown_codes);
    for (size_t i = 0; i < a->n_unknown_codes; i++)
        SAME_STR(unknown_codes[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    char err[256];
    bts_state st, back;
    char *json = NULL, *json2 = NULL;

    memset(&st, 0, sizeof(st));
    memset(err, 'x', sizeof(err));
    if (bts_state_from_json(text, &st, err, sizeof(err)) < 0) {
        FUZZ_CHECK(strnlen(err, sizeof(err)) < sizeof(err) && err[0], "no error text");
        goto out;
    }
    json = bts_state_to_json(&st);
    FUZZ_CHECK(json != NULL, "to_json failed");
    memset(&back, 0, sizeof(back));
    FUZZ_CHECK(bts_state_from_json(json, &back, err, sizeof(err)) == 0,
               "own output refused: %s\n%s", err, json);
    same_state(&st, &back);
    json2 = bts_state_to_json(&back);
    FUZZ_CHECK(json2 != NULL && strcmp(json, json2) == 0, "second JSON differs");
out:
    free(json);
    free(json2);
    free(text);
    return 0;
}

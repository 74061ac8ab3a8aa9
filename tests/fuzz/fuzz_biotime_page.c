/* libFuzzer target: a BioTime transactions page body (bts_biotime_parse_page), then every
 * row through bts_txn_parse, as the sync does with what the server sends. */
#include <string.h>
#include <time.h>

#include "bts/biotime.h"
#include "bts/timeconv.h"
#include "bts/txn.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_log();
    return 0;
}

static void check_txn(const bts_txn *t)
{
    struct tm tm;

    FUZZ_CHECK(t->id >= 1, "id %lld", (long long)t->id);
    FUZZ_CHECK(t->raw != NULL, "no raw copy");
    FUZZ_CHECK(strnlen(t->emp_code, sizeof(t->emp_code)) < sizeof(t->emp_code), "emp_code");
    FUZZ_CHECK(t->emp_code[0] != '\0', "empty emp_code accepted");
    FUZZ_CHECK(strnlen(t->punch_time, sizeof(t->punch_time)) < sizeof(t->punch_time),
               "punch_time");
    FUZZ_CHECK(bts_time_parse(t->punch_time, false, &tm) == 0, "punch_time \"%s\"",
               t->punch_time);
    FUZZ_CHECK(strnlen(t->upload_time, sizeof(t->upload_time)) < sizeof(t->upload_time),
               "upload_time");
    FUZZ_CHECK(!t->upload_time[0] || bts_time_parse(t->upload_time, false, &tm) == 0,
               "upload_time \"%s\"", t->upload_time);
    FUZZ_CHECK(strnlen(t->punch_state, sizeof(t->punch_state)) < sizeof(t->punch_state),
               "punch_state");
    FUZZ_CHECK(strnlen(t->terminal_sn, sizeof(t->terminal_sn)) < sizeof(t->terminal_sn),
               "terminal_sn");
    FUZZ_CHECK(strnlen(t->terminal_alias, sizeof(t->terminal_alias)) <
                   sizeof(t->terminal_alias), "terminal_alias");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Bodies from bts_http always carry a NUL after body_len: so does this copy. */
    char *body = fuzz_cstr(data, size);
    char err[256] = "";
    bts_page page;
    const cJSON *row;

    if (bts_biotime_parse_page(body, size, &page, err, sizeof(err)) < 0) {
        FUZZ_CHECK(strnlen(err, sizeof(err)) < sizeof(err) && err[0], "no error text");
        FUZZ_CHECK(page.rows == NULL, "rows left on failure");
        free(body);
        return 0;
    }
    FUZZ_CHECK(cJSON_IsArray(page.rows), "rows is not an array");
    FUZZ_CHECK(page.first_id >= 0 && page.last_id >= page.first_id &&
                   (page.first_id == 0) == (page.last_id == 0),
               "first_id %lld last_id %lld", (long long)page.first_id,
               (long long)page.last_id);
    cJSON_ArrayForEach(row, page.rows) {
        bts_txn t;
        char terr[512] = "";

        memset(&t, 0, sizeof(t));
        if (bts_txn_parse(row, &t, terr, sizeof(terr)) == 0)
            check_txn(&t);
        else
            FUZZ_CHECK(strnlen(terr, sizeof(terr)) < sizeof(terr) && terr[0],
                       "no error text");
        bts_txn_clear(&t);
    }
    bts_page_clear(&page);
    free(body);
    return 0;
}

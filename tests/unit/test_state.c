/* The state file: round trips, refusal of damaged files, atomic writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bts/state.h"

struct fixture {
    char dir[64];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/bts-test-state-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[512];

    if (!d)
        return;
    while ((de = readdir(d))) {
        struct stat sb;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            chmod(path, 0700);
            rm_rf(path);
        } else {
            unlink(path);
        }
    }
    closedir(d);
    rmdir(dir);
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    chmod(f->dir, 0700);
    rm_rf(f->dir);
    free(f);
    return 0;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    FILE *fp;

    assert_true(snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path));
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static char *read_text(const char *dir, const char *name)
{
    static char buf[65536];
    char path[256];
    FILE *fp;
    size_t n;

    assert_true(snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path));
    fp = fopen(path, "r");
    assert_non_null(fp);
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void fill(bts_state *st)
{
    memset(st, 0, sizeof(*st));
    st->last_id = 9007199254740991LL; /* 2^53 - 1: the largest exact in a double */
    st->page_hint = 42;
    st->hint_page_size = 200;
    snprintf(st->biotime_url, sizeof(st->biotime_url), "http://bt.example:8081");
    snprintf(st->newest_upload, sizeof(st->newest_upload), "2026-11-25 17:00:01");
    snprintf(st->newest_punch, sizeof(st->newest_punch), "2026-11-25 16:59:59");
    st->total_read = 1;
    st->total_checkins = 2;
    st->total_device_logs = 3;
    st->total_duplicates = 4;
    st->total_parked = 5;
    st->total_errors = 6;
    st->cycles = UINT64_C(18446744073709549568); /* 2^64 - 2048: exact in a double */
    st->last_cycle_at = 1795000000;
    snprintf(st->last_result, sizeof(st->last_result), "partial");
    st->last_read = 7;
    st->last_checkins = 8;
    st->last_device_logs = 9;
    st->last_parked = 10;
    st->last_success_at = 1795000001;
    st->last_error_at = -5;
    snprintf(st->last_error, sizeof(st->last_error),
             "HTTP 417: \"quoted\"\nnew line\ttab \\ back\xc3\xa9 \x01 ctl");
    st->parked_waiting = 11;
    st->total_rejected = 12;
    st->total_biotime_requests = 13;
    st->total_biotime_failures = 14;
    st->total_erpnext_requests = 15;
    st->total_erpnext_failures = 16;
    st->last_duration_ms = 17;
    snprintf(st->unknown_codes[0], sizeof(st->unknown_codes[0]), "1001");
    snprintf(st->unknown_codes[1], sizeof(st->unknown_codes[1]), "with \"quote\"");
    st->n_unknown_codes = 2;
}

static void test_round_trip(void **state)
{
    struct fixture *f = *state;
    bts_state a, b;
    char err[256] = "";

    fill(&a);
    assert_int_equal(bts_state_save(f->dir, &a, err, sizeof(err)), 0);
    memset(&b, 0x55, sizeof(b));
    assert_int_equal(bts_state_load(f->dir, &b, err, sizeof(err)), 0);
    assert_memory_equal(&a, &b, sizeof(a)); /* every field, byte for byte */
    assert_non_null(strstr(read_text(f->dir, BTS_STATE_FILE), "\"version\":\t1"));
    assert_non_null(strstr(read_text(f->dir, BTS_STATE_FILE), "9007199254740991"));
}

static void test_missing_file(void **state)
{
    struct fixture *f = *state;
    bts_state st;
    char err[256] = "";

    memset(&st, 0x55, sizeof(st));
    assert_int_equal(bts_state_load(f->dir, &st, err, sizeof(err)), 0);
    assert_int_equal(st.last_id, 0);
    assert_int_equal(st.cycles, 0);
    assert_string_equal(st.biotime_url, "");
    assert_int_equal(st.n_unknown_codes, 0);
}

/* A damaged file is refused and kept: the operator decides, not the daemon. */
static void expect_refused(const char *dir, const char *text, int rc, const char *why)
{
    bts_state st;
    char err[512] = "", path[256];

    write_file(dir, BTS_STATE_FILE, text);
    memset(&st, 0x55, sizeof(st));
    assert_int_equal(bts_state_load(dir, &st, err, sizeof(err)), rc);
    snprintf(path, sizeof(path), "%s/%s: ", dir, BTS_STATE_FILE);
    if (strncmp(err, path, strlen(path)) != 0 || !strstr(err, why))
        fail_msg("error \"%s\": want prefix \"%s\" and \"%s\"", err, path, why);
    assert_int_equal(((unsigned char *)&st)[0], 0x55); /* untouched */
    assert_string_equal(read_text(dir, BTS_STATE_FILE), text);
}

static void test_corrupt_refused(void **state)
{
    struct fixture *f = *state;

    expect_refused(f->dir, "garbage\n", BTS_EINVAL, "not valid JSON (line 1, column 1)");
    expect_refused(f->dir, "{\n \"version\": 1,\n \"last_id\": 5,\n", BTS_EINVAL,
                   "not valid JSON (line 4");
    expect_refused(f->dir, "", BTS_EINVAL, "not valid JSON");
    expect_refused(f->dir, "[1]", BTS_EINVAL, "not a JSON object");
    expect_refused(f->dir, "{\"version\":1,\"last_id\":5} trailing", BTS_EINVAL,
                   "not valid JSON");
    expect_refused(f->dir, "{\"last_id\":5}", BTS_EINVAL, "\"version\"");
    expect_refused(f->dir, "{\"version\":2,\"last_id\":5}", BTS_EINVAL, "newer");
    expect_refused(f->dir, "{\"version\":1}", BTS_EINVAL, "\"last_id\"");
    expect_refused(f->dir, "{\"version\":1,\"last_id\":\"5\"}", BTS_EINVAL,
                   "\"last_id\" is not an integer");
    expect_refused(f->dir, "{\"version\":1,\"last_id\":1.5}", BTS_EINVAL, "\"last_id\"");
    expect_refused(f->dir, "{\"version\":1,\"last_id\":1e300}", BTS_EINVAL, "\"last_id\"");
    expect_refused(f->dir, "{\"version\":1,\"last_id\":1,\"cycles\":-1}", BTS_EINVAL,
                   "\"cycles\" is not a non-negative integer");
    expect_refused(f->dir, "{\"version\":1,\"last_id\":1,\"biotime_url\":7}", BTS_EINVAL,
                   "\"biotime_url\" is not a string");
    expect_refused(f->dir, "{\"version\":1,\"last_id\":1,\"newest_punch\":"
                   "\"2026-11-25 16:59:59.123456\"}", BTS_EINVAL, "\"newest_punch\" is longer");
    expect_refused(f->dir, "{\"version\":1,\"last_id\":1,\"unknown_codes\":{}}", BTS_EINVAL,
                   "\"unknown_codes\" is not an array");
    expect_refused(f->dir, "{\"version\":1,\"last_id\":1,\"unknown_codes\":[1]}", BTS_EINVAL,
                   "\"unknown_codes\"");
}

static void test_nul_byte_refused(void **state)
{
    struct fixture *f = *state;
    char path[256], err[256] = "";
    bts_state st;
    int fd;

    snprintf(path, sizeof(path), "%s/%s", f->dir, BTS_STATE_FILE);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{\"version\":1,\"last_id\":1}\0x", 27), 27);
    close(fd);
    assert_int_equal(bts_state_load(f->dir, &st, err, sizeof(err)), BTS_EINVAL);
    assert_non_null(strstr(err, "NUL"));
}

/* Unknown keys (a newer minor writer) are ignored; absent ones are zero. */
static void test_forward_compatible(void **state)
{
    bts_state st;
    char err[256] = "";

    (void)state;
    assert_int_equal(bts_state_from_json("{\"version\":1,\"last_id\":77,\"future\":{\"x\":[1]},"
                                         "\"cycles\":3}", &st, err, sizeof(err)), 0);
    assert_int_equal(st.last_id, 77);
    assert_int_equal(st.cycles, 3);
    assert_int_equal(st.total_read, 0);
    assert_int_equal(bts_state_from_json(NULL, &st, err, sizeof(err)), BTS_EINVAL);
    assert_int_equal(bts_state_from_json("{}", &st, NULL, 0), BTS_EINVAL);
}

/* Informational text too long for its field is cut at a UTF-8 boundary, not refused. */
static void test_last_error_cut_safely(void **state)
{
    struct fixture *f = *state;
    bts_state a, b;
    char err[256] = "", *json, *big;
    size_t n = sizeof(a.last_error) - 1;

    /* what a plain byte copy of a long message leaves: 511 bytes, the last a cut "é" */
    memset(&a, 0, sizeof(a));
    for (size_t i = 0; i + 1 < n; i += 2)
        memcpy(a.last_error + i, "\xc3\xa9", 2);
    a.last_error[n - 1] = '\xc3';
    a.last_error[n] = '\0';
    assert_int_equal(bts_state_save(f->dir, &a, err, sizeof(err)), 0);
    assert_int_equal(bts_state_load(f->dir, &b, err, sizeof(err)), 0);
    assert_int_equal(strlen(b.last_error), n - 1);
    assert_memory_equal(a.last_error, b.last_error, n - 1);

    /* an unterminated buffer and 16+ codes must not overrun */
    memset(a.last_error, 'x', sizeof(a.last_error));
    a.n_unknown_codes = 99;
    json = bts_state_to_json(&a);
    assert_non_null(json);
    assert_int_equal(bts_state_from_json(json, &b, err, sizeof(err)), 0);
    assert_int_equal(strlen(b.last_error), sizeof(b.last_error) - 1);
    assert_int_equal(b.n_unknown_codes, BTS_STATE_MAX_CODES);
    free(json);

    /* a long last_error in the file is cut, bad UTF-8 replaced */
    big = malloc(4096);
    assert_non_null(big);
    n = (size_t)snprintf(big, 4096, "{\"version\":1,\"last_id\":1,\"last_error\":\"\xff");
    memset(big + n, 'y', 2000);
    strcpy(big + n + 2000, "\"}");
    assert_int_equal(bts_state_from_json(big, &b, err, sizeof(err)), 0);
    assert_int_equal(b.last_error[0], '?');
    assert_int_equal(strlen(b.last_error), sizeof(b.last_error) - 1);
    free(big);
}

static void test_atomic_write_leaves_no_temp(void **state)
{
    struct fixture *f = *state;
    char err[256] = "", tmp[256];
    struct stat sb;

    assert_int_equal(bts_state_write_atomic(f->dir, "a.json", "one", 3, err, sizeof(err)), 0);
    assert_int_equal(bts_state_write_atomic(f->dir, "a.json", "two!", 4, err, sizeof(err)), 0);
    assert_string_equal(read_text(f->dir, "a.json"), "two!");
    assert_int_equal(count_entries(f->dir), 1);
    snprintf(tmp, sizeof(tmp), "%s/a.json", f->dir);
    assert_int_equal(stat(tmp, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* a stale temp of a dead process that had our pid is replaced */
    snprintf(tmp, sizeof(tmp), "a.json.tmp.%ld", (long)getpid());
    write_file(f->dir, tmp, "stale");
    assert_int_equal(bts_state_write_atomic(f->dir, "a.json", "", 0, err, sizeof(err)), 0);
    assert_string_equal(read_text(f->dir, "a.json"), "");
    assert_int_equal(count_entries(f->dir), 1);
}

static void test_atomic_write_failures(void **state)
{
    struct fixture *f = *state;
    char err[512] = "", sub[256];

    /* rename onto a directory fails: the temp is removed and the step named */
    snprintf(sub, sizeof(sub), "%s/target", f->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file(sub, "keep", "x"); /* non-empty: rename cannot replace it even as root */
    assert_int_equal(bts_state_write_atomic(f->dir, "target", "data", 4, err, sizeof(err)),
                     BTS_EIO);
    assert_non_null(strstr(err, "rename"));
    assert_non_null(strstr(err, "failed: "));
    assert_int_equal(count_entries(f->dir), 1);

    /* a missing directory: the create step fails */
    snprintf(sub, sizeof(sub), "%s/nope", f->dir);
    assert_int_equal(bts_state_write_atomic(sub, "a", "x", 1, err, sizeof(err)), BTS_EIO);
    assert_non_null(strstr(err, "create failed: No such file or directory"));

    assert_int_equal(bts_state_write_atomic(f->dir, "a/b", "x", 1, err, sizeof(err)),
                     BTS_EINVAL);
    assert_int_equal(bts_state_write_atomic(f->dir, "", "x", 1, err, sizeof(err)), BTS_EINVAL);
    assert_int_equal(bts_state_write_atomic(NULL, "a", "x", 1, NULL, 0), BTS_EINVAL);
}

static void test_read_only_dir(void **state)
{
    struct fixture *f = *state;
    char err[512] = "", sub[256];
    bts_state st;

    if (geteuid() == 0)
        skip(); /* root ignores permissions */
    snprintf(sub, sizeof(sub), "%s/ro", f->dir);
    assert_int_equal(mkdir(sub, 0500), 0);
    fill(&st);
    assert_int_equal(bts_state_save(sub, &st, err, sizeof(err)), BTS_EIO);
    assert_non_null(strstr(err, "create failed: Permission denied"));
    assert_int_equal(bts_state_dir_usable(sub, err, sizeof(err)), BTS_EIO);
    assert_non_null(strstr(err, "not writable"));
    assert_int_equal(count_entries(sub), 0);
}

static void test_dir_usable(void **state)
{
    struct fixture *f = *state;
    char err[512] = "", sub[256];
    struct stat sb;

    snprintf(sub, sizeof(sub), "%s/a/b/c", f->dir);
    assert_int_equal(bts_state_dir_usable(sub, err, sizeof(err)), 0);
    assert_int_equal(stat(sub, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(bts_state_dir_usable(sub, err, sizeof(err)), 0); /* exists: fine */

    write_file(f->dir, "file", "x");
    snprintf(sub, sizeof(sub), "%s/file", f->dir);
    assert_int_equal(bts_state_dir_usable(sub, err, sizeof(err)), BTS_EIO);
    assert_non_null(strstr(err, "not a directory"));
    snprintf(sub, sizeof(sub), "%s/file/below", f->dir);
    assert_int_equal(bts_state_dir_usable(sub, err, sizeof(err)), BTS_EIO);
    assert_non_null(strstr(err, "cannot create"));
    assert_int_equal(bts_state_dir_usable("", err, sizeof(err)), BTS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul_byte_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_compatible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_error_cut_safely, setup, teardown),
        cmocka_unit_test_setup_teardown(test_atomic_write_leaves_no_temp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_atomic_write_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_usable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

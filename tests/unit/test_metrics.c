/* The metrics file: its text follows the exposition rules node_exporter's parser holds
 * to, carries the state's figures, and is written atomically with mode 0644. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bts/metrics.h"

#define MAX_FAMILIES 64

static int setup(void **state)
{
    char *dir = strdup("/tmp/bts-test-metrics-XXXXXX");

    if (!dir || !mkdtemp(dir))
        return -1;
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    char *dir = *state, path[600];
    DIR *d = opendir(dir);
    struct dirent *de;

    while (d && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            unlink(path);
        }
    }
    if (d)
        closedir(d);
    rmdir(dir);
    free(dir);
    return 0;
}

static bts_state sample_state(void)
{
    bts_state st = {0};

    st.last_id = 4711;
    st.total_read = 9007199254740993ULL; /* 2^53 + 1: a double would print it wrong */
    st.total_checkins = 120;
    st.total_device_logs = 130;
    st.total_duplicates = 3;
    st.total_parked = 10;
    st.total_rejected = 2;
    st.cycles = 7;
    st.total_errors = 1;
    st.total_biotime_requests = 40;
    st.total_biotime_failures = 4;
    st.total_erpnext_requests = 90;
    st.total_erpnext_failures = 9;
    st.parked_waiting = 6;
    st.last_success_at = 1796540000;
    st.last_cycle_at = 1796540060;
    st.last_duration_ms = 1234;
    return st;
}

static char *render(const bts_state *st, const char *name)
{
    char *text = NULL;

    assert_int_equal(bts_metrics_render(st, name, &text), 0);
    assert_non_null(text);
    return text;
}

static bool valid_name(const char *s, size_t n)
{
    if (n == 0 || !(s[0] == '_' || s[0] == ':' || (s[0] >= 'a' && s[0] <= 'z') ||
                    (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(s[i] == '_' || s[i] == ':' || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

struct family {
    char name[96];
    char type[16];
    bool help, samples;
};

static struct family *family_find(struct family *f, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(f[i].name) == len && strncmp(f[i].name, name, len) == 0)
            return &f[i];
    return NULL;
}

/* "# HELP name text" then "# TYPE name type": a new family each time. */
static void check_comment(char *line, struct family *fam, size_t *n)
{
    char kw[8], name[96], rest[400];

    assert_int_equal(sscanf(line, "# %7s %95s %399[^\n]", kw, name, rest), 3);
    assert_true(valid_name(name, strlen(name)));
    if (strcmp(kw, "HELP") == 0) {
        assert_null(family_find(fam, *n, name, strlen(name))); /* one family, once */
        assert_true(*n < MAX_FAMILIES);
        bts_strlcpy(fam[*n].name, name, sizeof(fam[*n].name));
        fam[(*n)++].help = true;
        return;
    }
    assert_string_equal(kw, "TYPE");
    assert_true(*n > 0);
    assert_string_equal(fam[*n - 1].name, name); /* right after its HELP */
    assert_true(strcmp(rest, "counter") == 0 || strcmp(rest, "gauge") == 0);
    bts_strlcpy(fam[*n - 1].type, rest, sizeof(fam[*n - 1].type));
}

/* name[{labels}] value: its family declared just before, a number as the value. */
static void check_sample(char *line, struct family *fam, size_t n)
{
    size_t len = strcspn(line, "{ ");
    char *value = strrchr(line, ' '), *end;

    assert_true(valid_name(line, len));
    assert_true(n > 0);
    assert_int_equal(strlen(fam[n - 1].name), len);
    assert_memory_equal(fam[n - 1].name, line, len);
    assert_true(*fam[n - 1].type);
    assert_non_null(value);
    strtod(value + 1, &end);
    assert_true(end != value + 1 && *end == '\0');
    fam[n - 1].samples = true;
}

static void test_render_follows_the_exposition_rules(void **state)
{
    bts_state st = sample_state();
    struct family fam[MAX_FAMILIES] = {0};
    size_t n = 0, len;
    char *text = render(&st, ""), *save = NULL;

    (void)state;
    len = strlen(text);
    assert_true(len > 6);
    assert_string_equal(text + len - 6, "# EOF\n");
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (strcmp(l, "# EOF") == 0)
            assert_null(strtok_r(NULL, "\n", &save)); /* the last line */
        else if (l[0] == '#')
            check_comment(l, fam, &n);
        else
            check_sample(l, fam, n);
    }
    assert_true(n >= 15);
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(fam[i].name);
        bool total = nl > 6 && strcmp(fam[i].name + nl - 6, "_total") == 0;
        assert_true(fam[i].help && fam[i].samples);
        assert_int_equal(strncmp(fam[i].name, "biotime_syncd_", 14), 0);
        /* counters end in _total in their TYPE line (what node_exporter's parser keeps) */
        assert_int_equal(total, strcmp(fam[i].type, "counter") == 0);
    }
    free(text);
}

static void test_render_carries_the_state(void **state)
{
    bts_state st = sample_state();
    char *text = render(&st, "");
    const char *want[] = {
        "\nbiotime_syncd_info{version=\"" BTS_VERSION "\"} 1\n",
        "\nbiotime_syncd_records_read_total 9007199254740993\n",
        "\nbiotime_syncd_checkins_written_total 120\n",
        "\nbiotime_syncd_device_logs_written_total 130\n",
        "\nbiotime_syncd_records_duplicate_total 3\n",
        "\nbiotime_syncd_records_parked_total 10\n",
        "\nbiotime_syncd_records_rejected_total 2\n",
        "\nbiotime_syncd_cycles_total 7\n",
        "\nbiotime_syncd_cycle_errors_total 1\n",
        "\nbiotime_syncd_requests_total{server=\"biotime\"} 40\n",
        "\nbiotime_syncd_requests_total{server=\"erpnext\"} 90\n",
        "\nbiotime_syncd_request_failures_total{server=\"biotime\"} 4\n",
        "\nbiotime_syncd_request_failures_total{server=\"erpnext\"} 9\n",
        "\nbiotime_syncd_cursor_id 4711\n",
        "\nbiotime_syncd_parked_waiting 6\n",
        "\nbiotime_syncd_last_success_timestamp_seconds 1796540000\n",
        "\nbiotime_syncd_last_cycle_timestamp_seconds 1796540060\n",
        "\nbiotime_syncd_last_cycle_duration_seconds 1.234\n",
    };

    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(want); i++)
        if (!strstr(text, want[i]))
            fail_msg("missing %s in:\n%s", want[i], text);
    free(text);
}

static void test_render_duration_keeps_leading_zeros(void **state)
{
    bts_state st = {.last_duration_ms = 7};
    char *text = render(&st, NULL);

    (void)state;
    assert_non_null(strstr(text, "\nbiotime_syncd_last_cycle_duration_seconds 0.007\n"));
    free(text);
}

/* Two instances' files in one textfile directory must not give the same series twice. */
static void test_render_name_labels_every_sample(void **state)
{
    bts_state st = sample_state();
    char *text = render(&st, "plant2"), *save = NULL;
    unsigned samples = 0;

    (void)state;
    assert_non_null(strstr(text, "\nbiotime_syncd_requests_total{name=\"plant2\","
                                 "server=\"erpnext\"} 90\n"));
    assert_non_null(strstr(text, "\nbiotime_syncd_info{name=\"plant2\",version=\""));
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (l[0] == '#')
            continue;
        samples++;
        assert_non_null(strstr(l, "{name=\"plant2\""));
    }
    assert_true(samples >= 17);
    free(text);
}

static void test_save_is_atomic_and_readable_by_others(void **state)
{
    const char *dir = *state;
    bts_state st = sample_state();
    char path[256], err[512] = "", *want = render(&st, ""), got[8192];
    struct stat sb;
    mode_t old = umask(077); /* the unit's UMask */
    FILE *f;
    size_t n;
    DIR *d;
    struct dirent *de;

    snprintf(path, sizeof(path), "%s/biotime-syncd.prom", dir);
    assert_int_equal(bts_metrics_save(path, &st, "", err, sizeof(err)), 0);
    st.cycles++;
    assert_int_equal(bts_metrics_save(path, &st, "", err, sizeof(err)), 0); /* replaces */
    umask(old);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0644);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(got, 1, sizeof(got) - 1, f);
    fclose(f);
    got[n] = '\0';
    assert_non_null(strstr(got, "\nbiotime_syncd_cycles_total 8\n"));
    assert_int_equal(strlen(got), strlen(want)); /* 7 -> 8: same length, whole file */
    d = opendir(dir);
    assert_non_null(d);
    while ((de = readdir(d))) /* no temp file left beside it */
        assert_true(de->d_name[0] == '.' || strcmp(de->d_name, "biotime-syncd.prom") == 0);
    closedir(d);
    free(want);
}

static void test_save_failure_names_the_file(void **state)
{
    const char *dir = *state;
    bts_state st = sample_state();
    char path[256], err[512] = "";

    snprintf(path, sizeof(path), "%s/missing/biotime-syncd.prom", dir);
    assert_int_equal(bts_metrics_save(path, &st, "", err, sizeof(err)), BTS_EIO);
    assert_non_null(strstr(err, path));
    assert_int_equal(bts_metrics_save("", &st, "", err, sizeof(err)), BTS_EINVAL);
    snprintf(path, sizeof(path), "%s/", dir);
    assert_int_equal(bts_metrics_save(path, &st, "", err, sizeof(err)), BTS_EINVAL);
    assert_int_equal(bts_metrics_save(NULL, &st, "", err, sizeof(err)), BTS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_follows_the_exposition_rules),
        cmocka_unit_test(test_render_carries_the_state),
        cmocka_unit_test(test_render_duration_keeps_leading_zeros),
        cmocka_unit_test(test_render_name_labels_every_sample),
        cmocka_unit_test_setup_teardown(test_save_is_atomic_and_readable_by_others, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_save_failure_names_the_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

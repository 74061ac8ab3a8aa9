/* Tests of the config loader (CONTRACT.md §3): defaults, types, ranges, checks, secrets,
 * error messages naming file:line:key, printing without secrets, and the example config.
 * Every file is written under a fresh mkdtemp directory that each test's teardown removes. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "bts/config.h"
#include "bts/config_paths.h"
#include "bts/timeconv.h"

static char dir[256];        /* this test's temporary directory (resolved) */
static char conf[PATH_MAX];  /* dir/test.conf */
static char err[1024];

/* ---- fixture ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static int setup(void **state) {
    const char *tmp = getenv("TMPDIR");
    char tmpl[200], *real;

    (void)state;
    snprintf(tmpl, sizeof(tmpl), "%s/bts-config-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tmpl) || !(real = realpath(tmpl, NULL)))
        return -1;
    /* Resolved, as the loader reports the paths of secret files. */
    snprintf(dir, sizeof(dir), "%s", real);
    free(real);
    snprintf(conf, sizeof(conf), "%s/test.conf", dir);
    err[0] = '\0';
    unsetenv("CREDENTIALS_DIRECTORY");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    unsetenv("CREDENTIALS_DIRECTORY");
    return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes text to dir/name (or to name when absolute) with exactly this mode. */
static void write_file(const char *name, mode_t mode, const char *text) {
    char path[PATH_MAX];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(name[0] == '/' ? name : path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

#define assert_contains(hay, needle)                                                      \
    do {                                                                                  \
        if (!strstr((hay), (needle)))                                                     \
            fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));                  \
    } while (0)
#define assert_lacks(hay, needle)                                                         \
    do {                                                                                  \
        if (strstr((hay), (needle)))                                                      \
            fail_msg("\"%s\" contains \"%s\"", (hay), (needle));                          \
    } while (0)

/* ---- building configs: a minimal valid base with a few keys set or removed ---- */

typedef struct {
    const char *group;
    const char *name;
    const char *value; /* libconfig text; NULL removes the key */
} kv;

#define SECRET_PW "bt-pass-S3CRET"
#define SECRET_API "erp-api-S3CRET"
#define SECRET_TOKEN "bt-token-S3CRET"

static const kv base[] = {
    {"biotime", "url", "\"http://bt.acme.test:8081\""},
    {"biotime", "username", "\"sync\""},
    {"biotime", "password", "\"" SECRET_PW "\""},
    {"erpnext", "url", "\"https://erp.acme.test\""},
    {"erpnext", "api_key", "\"key123\""},
    {"erpnext", "api_secret", "\"" SECRET_API "\""},
};
static const char *const groups[] = {"biotime", "erpnext", "sync", "log", "employees"};

#define MAX_SET 3

static const kv *set_find(const kv *set, const char *group, const char *name) {
    for (size_t i = 0; i < MAX_SET && set[i].group; i++)
        if (strcmp(set[i].group, group) == 0 && strcmp(set[i].name, name) == 0)
            return &set[i];
    return NULL;
}

/* Appends one group of base + set to out; lines[i] is where set[i] went (its group's line
 * when it is a removal). */
static void render_group(const char *group, const kv *set, char *out, size_t n, int *line,
                         int lines[MAX_SET]) {
    int group_line = ++*line;

    snprintf(out + strlen(out), n - strlen(out), "%s = {\n", group);
    for (size_t i = 0; i < BTS_ARRAY_SIZE(base); i++) {
        if (strcmp(base[i].group, group) != 0 || set_find(set, group, base[i].name))
            continue;
        snprintf(out + strlen(out), n - strlen(out), "  %s = %s;\n", base[i].name,
                 base[i].value);
        ++*line;
    }
    for (size_t i = 0; i < MAX_SET && set[i].group; i++) {
        if (strcmp(set[i].group, group) != 0)
            continue;
        lines[i] = group_line;
        if (!set[i].value)
            continue;
        snprintf(out + strlen(out), n - strlen(out), "  %s = %s;\n", set[i].name,
                 set[i].value);
        lines[i] = ++*line;
    }
    snprintf(out + strlen(out), n - strlen(out), "};\n");
    ++*line;
}

/* Writes the base config with set applied to conf (mode 0600). */
static void write_conf(const kv *set, int lines[MAX_SET]) {
    char text[4096] = "";
    int line = 0, ignored[MAX_SET];

    for (size_t g = 0; g < BTS_ARRAY_SIZE(groups); g++)
        render_group(groups[g], set, text, sizeof(text), &line, lines ? lines : ignored);
    write_file("test.conf", 0600, text);
}

static bts_config *load_ok(void) {
    bts_config *cfg = NULL;
    int r = bts_config_load(conf, &cfg, err, sizeof(err));

    if (r != 0)
        fail_msg("load failed (%d): %s", r, err);
    assert_non_null(cfg);
    assert_string_equal(err, "");
    return cfg;
}

static void load_fails(void) {
    bts_config *cfg = NULL;

    assert_int_equal(bts_config_load(conf, &cfg, err, sizeof(err)), BTS_ECONFIG);
    assert_null(cfg);
    assert_true(strlen(err) > 0);
}

/* Asserts err is "test.conf:LINE: <what>..." (LINE 0: no line). */
static void assert_err_at(int line, const char *what) {
    char prefix[PATH_MAX + 32];

    if (line > 0)
        snprintf(prefix, sizeof(prefix), "%s:%d: ", conf, line);
    else
        snprintf(prefix, sizeof(prefix), "%s: ", conf);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("\"%s\" does not start with \"%s\"", err, prefix);
    assert_contains(err + strlen(prefix), what);
}

/* ---- defaults ---- */

static void test_defaults(void **state) {
    char host[128];
    bts_config *cfg;

    (void)state;
    write_conf((const kv[MAX_SET]){{0}}, NULL);
    cfg = load_ok();
    assert_string_equal(cfg->path, conf);
    assert_string_equal(cfg->biotime.url, "http://bt.acme.test:8081");
    assert_string_equal(cfg->biotime.name, "");
    assert_int_equal(cfg->biotime.auth, BTS_AUTH_JWT);
    assert_string_equal(cfg->biotime.username, "sync");
    assert_string_equal(cfg->biotime.password, SECRET_PW);
    assert_string_equal(cfg->biotime.password_file, "");
    assert_string_equal(cfg->biotime.token, "");
    assert_string_equal(cfg->biotime.token_file, "");
    assert_string_equal(cfg->biotime.company, "");
    assert_int_equal(cfg->biotime.page_size, 200);
    assert_int_equal(cfg->biotime.timeout, 60);
    assert_int_equal(cfg->biotime.n_terminals, 0);
    assert_true(cfg->biotime.tls_verify);
    assert_string_equal(cfg->biotime.ca_file, "");
    assert_string_equal(cfg->erpnext.api_secret_file, "");
    assert_string_equal(cfg->erpnext.site_name, "");
    assert_string_equal(cfg->erpnext.employee_field, "attendance_device_id");
    assert_true(cfg->erpnext.create_checkins);
    assert_string_equal(cfg->erpnext.device_log_doctype, "BioTime Device Log");
    assert_string_equal(cfg->erpnext.sync_log_doctype, "Sync Logs");
    assert_int_equal(cfg->erpnext.batch_size, 100);
    assert_int_equal(cfg->erpnext.connections, 4);
    assert_int_equal(cfg->erpnext.timeout, 60);
    assert_int_equal(cfg->erpnext.n_shift_types, 0);
    assert_true(cfg->erpnext.tls_verify);
    assert_string_equal(cfg->erpnext.ca_file, "");
    assert_int_equal(cfg->sync.interval, 15);
    assert_string_equal(cfg->sync.start_date, "");
    assert_int_equal(cfg->sync.lookback_hours, 72);
    assert_string_equal(cfg->sync.state_dir, "/var/lib/biotime-sync");
    assert_int_equal(cfg->sync.n_punch_in, 3);
    assert_memory_equal(cfg->sync.punch_in, ((int[]){0, 3, 4}), 3 * sizeof(int));
    assert_int_equal(cfg->sync.n_punch_out, 3);
    assert_memory_equal(cfg->sync.punch_out, ((int[]){1, 2, 5}), 3 * sizeof(int));
    assert_int_equal(cfg->log.level, LOG_INFO);
    /* "" zones: ERPNext's is the host's, BioTime's follows ERPNext's. */
    assert_int_equal(bts_tz_host(host, sizeof(host)), 0);
    assert_string_equal(cfg->erpnext.timezone, host);
    assert_string_equal(cfg->biotime.timezone, host);
    bts_config_free(cfg);
}

/* ---- every integer key at and past both ends of its range ---- */

static const struct {
    const char *group, *name;
    size_t offset;
    int min, max;
} int_keys[] = {
    {"biotime", "page_size", offsetof(bts_config, biotime.page_size), 1, 10000},
    {"biotime", "timeout", offsetof(bts_config, biotime.timeout), 1, 3600},
    {"erpnext", "batch_size", offsetof(bts_config, erpnext.batch_size), 1, 200},
    {"erpnext", "connections", offsetof(bts_config, erpnext.connections), 1, 32},
    {"erpnext", "timeout", offsetof(bts_config, erpnext.timeout), 1, 3600},
    {"sync", "interval", offsetof(bts_config, sync.interval), 1, 86400},
    {"sync", "lookback_hours", offsetof(bts_config, sync.lookback_hours), 0, 8760},
};

static void check_int(size_t i, long long value, bool ok) {
    char text[32], what[64];
    kv set[MAX_SET] = {{int_keys[i].group, int_keys[i].name, text}};
    int lines[MAX_SET];
    bts_config *cfg;

    snprintf(text, sizeof(text), "%lld", value);
    write_conf(set, lines);
    if (ok) {
        cfg = load_ok();
        assert_int_equal(*(int *)(void *)((char *)cfg + int_keys[i].offset), value);
        bts_config_free(cfg);
        return;
    }
    load_fails();
    snprintf(what, sizeof(what), "%s.%s: %lld is out of range %d..%d", int_keys[i].group,
             int_keys[i].name, value, int_keys[i].min, int_keys[i].max);
    assert_err_at(lines[0], what);
}

static void test_int_ranges(void **state) {
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(int_keys); i++) {
        check_int(i, int_keys[i].min, true);
        check_int(i, int_keys[i].max, true);
        check_int(i, (long long)int_keys[i].min - 1, false);
        check_int(i, (long long)int_keys[i].max + 1, false);
    }
}

/* ---- one key set or removed: loads, or fails naming the line and the key ---- */

typedef struct {
    kv set[MAX_SET];
    const char *error; /* NULL: loads; else err is "test.conf:LINE: " + this */
} load_case;

static const load_case load_cases[] = {
    /* wrong types */
    {{{"biotime", "page_size", "\"200\""}}, "biotime.page_size: expected an integer, not a string"},
    {{{"biotime", "timeout", "60.5"}}, "biotime.timeout: expected an integer, not a number"},
    {{{"biotime", "tls_verify", "\"yes\""}}, "biotime.tls_verify: expected true or false"},
    {{{"erpnext", "create_checkins", "1"}}, "erpnext.create_checkins: expected true or false"},
    {{{"biotime", "url", "5"}}, "biotime.url: expected a string, not an integer"},
    {{{"biotime", "terminals", "\"CJDE1\""}}, "biotime.terminals: expected an array of strings"},
    {{{"biotime", "terminals", "[1, 2]"}}, "biotime.terminals: expected a string, not an integer"},
    {{{"erpnext", "shift_types", "{ a = 1; }"}}, "erpnext.shift_types: expected an array"},
    {{{"sync", "punch_in", "[\"0\"]"}}, "sync.punch_in: expected an integer, not a string"},
    {{{"sync", "punch_out", "5"}}, "sync.punch_out: expected an array of integers"},
    {{{"log", "level", "7"}}, "log.level: expected a string, not an integer"},
    {{{"biotime", "page_size", "200L"}}, NULL},
    /* unknown keys */
    {{{"biotime", "passwrd", "\"x\""}}, "biotime.passwrd: unknown key"},
    {{{"sync", "intervall", "60"}}, "sync.intervall: unknown key"},
    {{{"log", "file", "\"/tmp/x\""}}, "log.file: unknown key"},
    /* URLs */
    {{{"biotime", "url", "\"ftp://bt.acme.test\""}}, "biotime.url: must start with http:// or https://"},
    {{{"biotime", "url", "\"bt.acme.test:8081\""}}, "biotime.url: must start with http://"},
    {{{"biotime", "url", "\"http://\""}}, "biotime.url: has no host"},
    {{{"biotime", "url", "\"http:///api\""}}, "biotime.url: has no host"},
    {{{"biotime", "url", "\"http://:8081\""}}, "biotime.url: has no host"},
    {{{"biotime", "url", "\"http://bt.acme.test/?a=1\""}}, "biotime.url: must not have a query"},
    {{{"erpnext", "url", "\"https://erp.acme.test#x\""}}, "erpnext.url: must not have a query (?) or fragment"},
    {{{"erpnext", "url", "\"https://u:p@erp.acme.test\""}}, "erpnext.url: must not carry user:password@"},
    {{{"erpnext", "url", "\"https://erp.acme.test:99999\""}}, "erpnext.url: has a bad port"},
    {{{"erpnext", "url", "\"https://erp.acme.test:0\""}}, "erpnext.url: has a bad port"},
    {{{"erpnext", "url", "\"https://erp.acme.test:\""}}, "erpnext.url: has a bad port"},
    {{{"erpnext", "url", "\"https://erp.acme.test:8x/\""}}, "erpnext.url: has a bad port"},
    {{{"erpnext", "url", "\"https://erp example.com\""}}, "erpnext.url: must not contain spaces"},
    {{{"erpnext", "url", "\"http://[::1\""}}, "erpnext.url: has a bad [IPv6] host"},
    {{{"erpnext", "url", "\"http://[::1]x\""}}, "erpnext.url: has a bad [IPv6] host"},
    {{{"erpnext", "url", "\"http://[::1]:8000\""}}, NULL},
    {{{"erpnext", "url", "\"HTTPS://ERP.acme.test:443/erp\""}}, NULL},
    /* time zones and the start date */
    {{{"biotime", "timezone", "\"Mars/Olympus_Mons\""}}, "biotime.timezone: is not a time zone"},
    {{{"erpnext", "timezone", "\"+05:30\""}}, "erpnext.timezone: is not a time zone"},
    {{{"erpnext", "timezone", "\"Asia/Kolkata\""}}, NULL},
    {{{"sync", "start_date", "\"2024-02-29\""}}, NULL},
    {{{"sync", "start_date", "\"2023-02-29\""}}, "sync.start_date: must be a date YYYY-MM-DD"},
    {{{"sync", "start_date", "\"2024-1-01\""}}, "sync.start_date: must be a date"},
    {{{"sync", "start_date", "\"2024-01-01 00:00:00\""}}, "sync.start_date: must be a date"},
    {{{"sync", "start_date", "\"yesterday\""}}, "sync.start_date: must be a date"},
    /* punch codes */
    {{{"sync", "punch_in", "[0, 255]"}}, NULL},
    {{{"sync", "punch_in", "[]"}, {"sync", "punch_out", "[]"}}, NULL},
    {{{"sync", "punch_in", "[0, 256]"}}, "sync.punch_in: 256 is out of range 0..255"},
    {{{"sync", "punch_out", "[-1]"}}, "sync.punch_out: -1 is out of range 0..255"},
    {{{"sync", "punch_out", "[1, 0]"}}, "sync.punch_out: code 0 is also in sync.punch_in"},
    /* enums */
    {{{"biotime", "auth", "\"oauth\""}}, "biotime.auth: \"oauth\" is not one of jwt | token | basic"},
    {{{"biotime", "auth", "\"basic\""}}, NULL},
    {{{"log", "level", "\"loud\""}}, "log.level: \"loud\" is not one of err | warning | notice | info | debug"},
    {{{"log", "level", "\"debug\""}}, NULL},
    /* other string checks */
    {{{"biotime", "name", "\"site-a_2.x\""}}, NULL},
    {{{"biotime", "name", "\"site/a\""}}, "biotime.name: may hold only letters"},
    {{{"erpnext", "employee_field", "\"\""}}, "erpnext.employee_field: must be a field name"},
    {{{"erpnext", "employee_field", "\"emp code\""}}, "erpnext.employee_field: must be a field name"},
    {{{"erpnext", "device_log_doctype", "\"\""}}, "erpnext.device_log_doctype: must not be empty"},
    {{{"erpnext", "shift_types", "[\"Day\", \"\"]"}}, "erpnext.shift_types: must not be empty"},
    {{{"sync", "state_dir", "\"\""}}, "sync.state_dir: must not be empty"},
    {{{"biotime", "ca_file", "\"/nonexistent/ca.pem\""}}, "biotime.ca_file: No such file"},
    {{{"erpnext", "site_name", "\"erp.local\""}}, NULL},
    /* required keys: a missing key is reported at its group's line */
    {{{"biotime", "url", NULL}}, "biotime.url: required"},
    {{{"biotime", "url", "\"\""}}, "biotime.url: required"},
    {{{"biotime", "username", NULL}}, "biotime.username: required"},
    {{{"biotime", "password", NULL}}, "biotime.password: required (set password or password_file)"},
    {{{"erpnext", "url", NULL}}, "erpnext.url: required"},
    {{{"erpnext", "api_key", NULL}}, "erpnext.api_key: required"},
    {{{"erpnext", "api_secret", NULL}}, "erpnext.api_secret: required (set api_secret or api_secret_file)"},
    {{{"biotime", "auth", "\"basic\""}, {"biotime", "password", "\"\""}}, "biotime.password: required"},
    {{{"biotime", "auth", "\"token\""}, {"biotime", "password", NULL}},
     "biotime.password: required with auth = \"token\" and no token"},
    /* a static token needs neither username nor password, and only makes sense with auth token */
    {{{"biotime", "auth", "\"token\""}, {"biotime", "token", "\"" SECRET_TOKEN "\""},
      {"biotime", "username", NULL}}, NULL},
    {{{"biotime", "token", "\"" SECRET_TOKEN "\""}},
     "biotime.token: a static token is only used with auth = \"token\" (auth is \"jwt\")"},
};

static void test_load_cases(void **state) {
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(load_cases); i++) {
        const load_case *c = &load_cases[i];
        int lines[MAX_SET];

        print_message("case %zu: %s.%s = %s\n", i, c->set[0].group, c->set[0].name,
                      c->set[0].value ? c->set[0].value : "(removed)");
        write_conf(c->set, lines);
        if (!c->error) {
            bts_config_free(load_ok());
            continue;
        }
        load_fails();
        /* The error names the line of the key it is about: the last one set. */
        assert_err_at(lines[c->set[1].group ? (c->set[2].group ? 2 : 1) : 0], c->error);
        /* A secret is never quoted back in an error. */
        assert_lacks(err, "S3CRET");
    }
}

/* ---- erpnext.locations: a list of { terminal; latitude; longitude; } groups ---- */

static char *print_to_string(const bts_config *cfg);

#define LOC(t, lat, lon) "{ terminal = " t "; latitude = " lat "; longitude = " lon "; }"

static const load_case location_cases[] = {
    {{{"erpnext", "locations", "()"}}, NULL},
    {{{"erpnext", "locations", "[]"}}, NULL},
    {{{"erpnext", "locations", "( " LOC("\"A\"", "24.7136", "46.6753") " )"}}, NULL},
    {{{"erpnext", "locations", "( " LOC("\"A\"", "24", "-46") " )"}}, NULL}, /* integers */
    {{{"erpnext", "locations", "( " LOC("\"A\"", "90.0", "-180.0") ", "
                                    LOC("\"B\"", "-90", "180") " )"}}, NULL},
    {{{"erpnext", "locations", "( " LOC("\"A\"", "0.0", "46.6753") " )"}}, NULL},
    {{{"erpnext", "locations", "\"A\""}},
     "erpnext.locations: expected a list of groups ( { terminal = \"SN\"; latitude = 24.7136; "
     "longitude = 46.6753; } ), not a string"},
    {{{"erpnext", "locations", "[\"A\"]"}}, "erpnext.locations: expected a list of groups"},
    {{{"erpnext", "locations", "{ terminal = \"A\"; }"}},
     "erpnext.locations: expected a list of groups"},
    {{{"erpnext", "locations", "( \"A\" )"}},
     "erpnext.locations[0]: expected a group { terminal = \"SN\"; latitude = 24.7136; "
     "longitude = 46.6753; }, not a string"},
    {{{"erpnext", "locations", "( " LOC("\"A\"", "91.0", "1.0") " )"}},
     "erpnext.locations[0].latitude: 91 is out of range -90..90"},
    {{{"erpnext", "locations", "( " LOC("\"A\"", "1.0", "2.0") ", " LOC("\"B\"", "-90.5", "1.0")
                                    " )"}},
     "erpnext.locations[1].latitude: -90.5 is out of range -90..90"},
    {{{"erpnext", "locations", "( " LOC("\"A\"", "1.0", "180.0001") " )"}},
     "erpnext.locations[0].longitude: 180.0001 is out of range -180..180"},
    {{{"erpnext", "locations", "( " LOC("\"A\"", "1.0", "-181") " )"}},
     "erpnext.locations[0].longitude: -181 is out of range -180..180"},
    {{{"erpnext", "locations", "( " LOC("\"A\"", "\"24.7\"", "1.0") " )"}},
     "erpnext.locations[0].latitude: expected a number, not a string"},
    {{{"erpnext", "locations", "( " LOC("\"A\"", "1.0", "true") " )"}},
     "erpnext.locations[0].longitude: expected a number, not true or false"},
    {{{"erpnext", "locations", "( " LOC("5", "1.0", "2.0") " )"}},
     "erpnext.locations[0].terminal: expected a string, not an integer"},
    {{{"erpnext", "locations", "( " LOC("\"\"", "1.0", "2.0") " )"}},
     "erpnext.locations[0].terminal: empty"},
    {{{"erpnext", "locations", "( { terminal = \"A\"; latitude = 1.0; } )"}},
     "erpnext.locations[0]: needs terminal, latitude and longitude"},
    {{{"erpnext", "locations", "( { latitude = 1.0; longitude = 2.0; } )"}},
     "erpnext.locations[0]: needs terminal, latitude and longitude"},
    {{{"erpnext", "locations", "( { terminal = \"A\"; lat = 1.0; longitude = 2.0; } )"}},
     "erpnext.locations[0].lat: unknown key (expected terminal, latitude and longitude)"},
    {{{"erpnext", "locations", "( " LOC("\"A\"", "1.0", "2.0") ", " LOC("\"B\"", "1.0", "2.0")
                                    ", " LOC("\"A\"", "3.0", "4.0") " )"}},
     "erpnext.locations[2].terminal: terminal \"A\" is listed twice"},
    {{{"erpnext", "locations", "( " LOC("\"A\"", "0", "0.0") " )"}},
     "erpnext.locations[0]: latitude 0 and longitude 0 are \"no coordinates\" to HRMS"},
};

static void test_locations_cases(void **state) {
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(location_cases); i++) {
        const load_case *c = &location_cases[i];
        int lines[MAX_SET];

        print_message("locations case %zu: %s\n", i, c->set[0].value);
        write_conf(c->set, lines);
        if (!c->error) {
            bts_config_free(load_ok());
            continue;
        }
        load_fails();
        assert_err_at(lines[0], c->error);
    }
}

/* The values as the mapping sees them, and -n prints them back loadable. */
static void test_locations_values_and_print(void **state) {
    const kv set[MAX_SET] = {{"erpnext", "locations", "( " LOC("\"CQUJ221960012\"", "24.7136",
                                                              "46.6753") ", "
                              LOC("\"BOCK1\"", "-33", "151.2093123") " )"}};
    const bts_location *loc;
    bts_config *cfg;
    char *printed;

    (void)state;
    write_conf(set, NULL);
    cfg = load_ok();
    assert_int_equal(cfg->erpnext.n_locations, 2);
    loc = bts_config_location(cfg, "CQUJ221960012");
    assert_non_null(loc);
    assert_true(loc->latitude == 24.7136 && loc->longitude == 46.6753);
    loc = bts_config_location(cfg, "BOCK1");
    assert_non_null(loc);
    assert_true(loc->latitude == -33.0 && loc->longitude == 151.2093123);
    assert_null(bts_config_location(cfg, "bock1"));
    assert_null(bts_config_location(cfg, ""));
    assert_null(bts_config_location(cfg, NULL));
    printed = print_to_string(cfg);
    assert_contains(printed, "  locations = ( { terminal = \"CQUJ221960012\"; latitude = "
                             "24.7136; longitude = 46.6753; }, { terminal = \"BOCK1\"; "
                             "latitude = -33; longitude = 151.2093123; } );\n");
    free(printed);
    bts_config_free(cfg);
    write_conf((const kv[MAX_SET]){{0}}, NULL);
    cfg = load_ok();
    assert_int_equal(cfg->erpnext.n_locations, 0);
    assert_null(bts_config_location(cfg, "CQUJ221960012"));
    printed = print_to_string(cfg);
    assert_contains(printed, "  locations = ();\n");
    free(printed);
    bts_config_free(cfg);
}

/* ---- values as the rest of the daemon sees them ---- */

static void test_employees_group(void **state) {
    const kv set[MAX_SET] = {{"employees", "push", "true"},
                             {"employees", "department", "\"OPS\""},
                             {"employees", "areas", "[\"DXB\", \"AUH\"]"}};
    const kv bad[MAX_SET] = {{"employees", "areas", "[\"\"]"}};
    bts_config *cfg;

    (void)state;
    write_conf((const kv[MAX_SET]){{0}}, NULL);
    cfg = load_ok();
    assert_false(cfg->employees.push); /* nothing is written to BioTime unless asked */
    assert_true(cfg->employees.resign_leavers);
    assert_string_equal(cfg->employees.department, "");
    assert_int_equal(cfg->employees.n_areas, 0);
    bts_config_free(cfg);
    write_conf(set, NULL);
    cfg = load_ok();
    assert_true(cfg->employees.push);
    assert_string_equal(cfg->employees.department, "OPS");
    assert_int_equal(cfg->employees.n_areas, 2);
    assert_string_equal(cfg->employees.areas[1], "AUH");
    bts_config_free(cfg);
    write_conf(bad, NULL);
    load_fails();
    assert_contains(err, "employees.areas");
}

static void test_urls_normalised(void **state) {
    const kv set[MAX_SET] = {{"biotime", "url", "\"http://10.0.0.5:8081/biotime//\""},
                             {"erpnext", "url", "\"https://erp.acme.test/\""}};
    bts_config *cfg;

    (void)state;
    write_conf(set, NULL);
    cfg = load_ok();
    assert_string_equal(cfg->biotime.url, "http://10.0.0.5:8081/biotime");
    assert_string_equal(cfg->erpnext.url, "https://erp.acme.test");
    bts_config_free(cfg);
}

static void test_zones_resolved(void **state) {
    const kv follow[MAX_SET] = {{"erpnext", "timezone", "\"Europe/Berlin\""}};
    const kv own[MAX_SET] = {{"erpnext", "timezone", "\"Europe/Berlin\""},
                             {"biotime", "timezone", "\"Asia/Kolkata\""}};
    bts_config *cfg;

    (void)state;
    write_conf(follow, NULL);
    cfg = load_ok();
    assert_string_equal(cfg->erpnext.timezone, "Europe/Berlin");
    assert_string_equal(cfg->biotime.timezone, "Europe/Berlin");
    bts_config_free(cfg);
    write_conf(own, NULL);
    cfg = load_ok();
    assert_string_equal(cfg->biotime.timezone, "Asia/Kolkata");
    bts_config_free(cfg);
}

static void test_arrays_and_enums(void **state) {
    const kv set[MAX_SET] = {{"biotime", "terminals", "(\"CJDE1\", \"CJDE2\")"},
                             {"erpnext", "shift_types", "[\"Day Shift\"]"},
                             {"log", "level", "\"warning\""}};
    bts_config *cfg;

    (void)state;
    write_conf(set, NULL);
    cfg = load_ok();
    assert_int_equal(cfg->biotime.n_terminals, 2);
    assert_string_equal(cfg->biotime.terminals[0], "CJDE1");
    assert_string_equal(cfg->biotime.terminals[1], "CJDE2");
    assert_int_equal(cfg->erpnext.n_shift_types, 1);
    assert_string_equal(cfg->erpnext.shift_types[0], "Day Shift");
    assert_int_equal(cfg->log.level, LOG_WARNING);
    bts_config_free(cfg);
}

static void test_static_token(void **state) {
    const kv set[MAX_SET] = {{"biotime", "auth", "\"token\""},
                             {"biotime", "token", "\"" SECRET_TOKEN "\""},
                             {"biotime", "password", NULL}};
    bts_config *cfg;

    (void)state;
    write_conf(set, NULL);
    cfg = load_ok();
    assert_int_equal(cfg->biotime.auth, BTS_AUTH_TOKEN);
    assert_string_equal(cfg->biotime.token, SECRET_TOKEN);
    assert_string_equal(cfg->biotime.password, "");
    bts_config_free(cfg);
}

/* ---- whole-file errors: unknown groups, syntax, the file itself ---- */

typedef struct {
    const char *text;
    int line;          /* 0: no line */
    const char *error;
} file_case;

#define REQUIRED_BT "  url = \"http://bt\"; username = \"u\"; password = \"p\";\n"
#define REQUIRED_ERP "  url = \"http://erp\"; api_key = \"k\"; api_secret = \"s\";\n"

static const file_case file_cases[] = {
    {"biotime = {\n" REQUIRED_BT "};\nerpnext = {\n" REQUIRED_ERP "};\nsyncc = {\n  interval = 5;\n};\n",
     7, "syncc: unknown group"},
    {"biotime = {\n" REQUIRED_BT "};\nerpnext = {\n" REQUIRED_ERP "};\ndebug = true;\n",
     7, "debug: unknown group"},
    {"biotime = 5;\nerpnext = {\n" REQUIRED_ERP "};\n", 1, "biotime: must be a group"},
    {"biotime = {\n" REQUIRED_BT "  page_size = ;\n};\n", 3, "syntax error"},
    {"biotime = {\n" REQUIRED_BT "  url = \"http://x\";\n};\n", 3, "duplicate setting"},
    {"biotime = {\n" REQUIRED_BT "};\n", 0, "erpnext.url: required"},
    {"", 0, "biotime.url: required"},
};

static void test_file_cases(void **state) {
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(file_cases); i++) {
        print_message("file case %zu\n", i);
        write_file("test.conf", 0600, file_cases[i].text);
        load_fails();
        assert_err_at(file_cases[i].line, file_cases[i].error);
    }
}

static void test_missing_file(void **state) {
    bts_config *cfg = NULL;

    (void)state;
    assert_int_equal(bts_config_load(conf, &cfg, err, sizeof(err)), BTS_ECONFIG);
    assert_null(cfg);
    assert_err_at(0, "No such file or directory");
}

static void test_config_readable_by_others(void **state) {
    (void)state;
    write_conf((const kv[MAX_SET]){{0}}, NULL);
    assert_int_equal(chmod(conf, 0644), 0);
    load_fails();
    assert_err_at(0, "readable by other users (mode 0644): chmod o-r");
    assert_contains(err, "chmod o-r ");
    assert_lacks(err, "S3CRET");
    assert_int_equal(chmod(conf, 0602), 0);
    load_fails();
    assert_contains(err, "chmod o-w");
    /* Group-readable, as installed (0640 root:biotime-sync), is fine. */
    assert_int_equal(chmod(conf, 0640), 0);
    bts_config_free(load_ok());
}

static void test_error_truncated(void **state) {
    char small[12];
    bts_config *cfg = NULL;

    (void)state;
    memset(small, 'x', sizeof(small));
    assert_int_equal(bts_config_load(conf, &cfg, small, sizeof(small)), BTS_ECONFIG);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_int_equal(bts_config_load(conf, &cfg, NULL, 0), BTS_ECONFIG);
    assert_null(cfg);
}

/* ---- secrets in files ---- */

static void test_secret_files(void **state) {
    char abs[PATH_MAX], path[PATH_MAX], text[2 * PATH_MAX];
    bts_config *cfg;

    (void)state;
    /* A bare name is found beside the config; CR LF is not part of the secret; only the
     * first line counts. An absolute path is taken as it is. */
    write_file("bt.pw", 0600, "pw-from-file\r\nsecond line\n");
    snprintf(abs, sizeof(abs), "%s/sub", dir);
    assert_int_equal(mkdir(abs, 0700), 0);
    snprintf(abs, sizeof(abs), "%s/sub/api.secret", dir);
    write_file(abs, 0400, "api-from-file");
    snprintf(text, sizeof(text), "biotime = {\n  url = \"http://bt\";\n  username = \"u\";\n"
             "  password_file = \"bt.pw\";\n};\nerpnext = {\n  url = \"http://erp\";\n"
             "  api_key = \"k\";\n  api_secret_file = \"%s\";\n};\n", abs);
    write_file("test.conf", 0600, text);
    cfg = load_ok();
    assert_string_equal(cfg->biotime.password, "pw-from-file");
    snprintf(path, sizeof(path), "%s/bt.pw", dir);
    assert_string_equal(cfg->biotime.password_file, path);
    assert_string_equal(cfg->erpnext.api_secret, "api-from-file");
    assert_string_equal(cfg->erpnext.api_secret_file, abs);
    bts_config_free(cfg);
    /* A relative path is taken from the config's directory, whatever the cwd. */
    write_file("test.conf", 0600, "biotime = {\n  url = \"http://bt\";\n  auth = \"token\";\n"
               "  token_file = \"sub/api.secret\";\n};\nerpnext = {\n  url = \"http://erp\";\n"
               "  api_key = \"k\";\n  api_secret = \"s\";\n};\n");
    cfg = load_ok();
    assert_string_equal(cfg->biotime.token, "api-from-file");
    assert_string_equal(cfg->biotime.token_file, abs);
    bts_config_free(cfg);
}

static void test_secret_credentials_directory(void **state) {
    char creds[PATH_MAX], path[PATH_MAX + 16];
    bts_config *cfg;

    (void)state;
    snprintf(creds, sizeof(creds), "%s/creds", dir);
    assert_int_equal(mkdir(creds, 0700), 0);
    snprintf(path, sizeof(path), "%s/bt.pw", creds);
    write_file(path, 0400, "pw-from-credentials\n");
    write_file("bt.pw", 0600, "pw-beside-config\n");
    write_file("api.secret", 0600, "api-beside-config\n");
    write_file("test.conf", 0600, "biotime = {\n  url = \"http://bt\";\n  username = \"u\";\n"
               "  password_file = \"bt.pw\";\n};\nerpnext = {\n  url = \"http://erp\";\n"
               "  api_key = \"k\";\n  api_secret_file = \"api.secret\";\n};\n");
    assert_int_equal(setenv("CREDENTIALS_DIRECTORY", creds, 1), 0);
    cfg = load_ok();
    /* The credential wins over the file beside the config... */
    assert_string_equal(cfg->biotime.password, "pw-from-credentials");
    assert_string_equal(cfg->biotime.password_file, path);
    /* ...and a name that is not a credential is still found beside the config. */
    assert_string_equal(cfg->erpnext.api_secret, "api-beside-config");
    bts_config_free(cfg);
}

typedef struct {
    const char *content;  /* NULL: no such file */
    mode_t mode;
    const char *literal;  /* also set password to this */
    const char *error;
} secret_case;

static const secret_case secret_cases[] = {
    {"", 0600, NULL, "biotime.password_file: "},
    {"", 0600, NULL, "bt.pw: empty"},
    {"\n", 0600, NULL, ": empty"},
    {"\r\n", 0600, NULL, ": empty"},
    {NULL, 0, NULL, "\"bt.pw\" is in none of no $CREDENTIALS_DIRECTORY (outside the unit), "},
    {"pw-S3CRET\n", 0644, NULL, "biotime.password_file: readable by other users (mode 0644): chmod o-r "},
    {"pw-S3CRET\n", 0604, NULL, "chmod o-r "},
    {"pw-S3CRET\n", 0600, "\"" SECRET_PW "\"", "biotime.password_file: set together with password; keep one"},
};

static void test_secret_file_errors(void **state) {
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(secret_cases); i++) {
        const secret_case *c = &secret_cases[i];
        char path[PATH_MAX];
        int lines[MAX_SET];

        print_message("secret case %zu\n", i);
        snprintf(path, sizeof(path), "%s/bt.pw", dir);
        unlink(path);
        if (c->content)
            write_file("bt.pw", c->mode, c->content);
        write_conf((kv[MAX_SET]){{"biotime", "password_file", "\"bt.pw\""},
                                 {"biotime", "password", c->literal}},
                   lines);
        load_fails();
        assert_err_at(lines[0], c->error);
        assert_lacks(err, "S3CRET");
    }
}

/* A literal secret in an @include'd file: that file must be private too. */
static void test_include_secret(void **state) {
    char expect[PATH_MAX];
    bts_config *cfg;

    (void)state;
    write_file("secret.conf", 0644, "password = \"" SECRET_PW "\";\n");
    write_file("test.conf", 0600, "biotime = {\n  url = \"http://bt\";\n  username = \"u\";\n"
               "  @include \"secret.conf\"\n};\nerpnext = {\n  url = \"http://erp\";\n"
               "  api_key = \"k\";\n  api_secret = \"s\";\n};\n");
    load_fails();
    snprintf(expect, sizeof(expect), "biotime.password: readable by other users (mode 0644): "
             "chmod o-r %s/secret.conf", dir);
    assert_contains(err, expect);
    assert_lacks(err, "S3CRET");
    snprintf(expect, sizeof(expect), "%s/secret.conf", dir);
    assert_int_equal(chmod(expect, 0600), 0);
    cfg = load_ok();
    assert_string_equal(cfg->biotime.password, SECRET_PW);
    bts_config_free(cfg);
}

/* ---- output ---- */

static char *print_to_string(const bts_config *cfg) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    assert_non_null(f);
    bts_config_print(cfg, f);
    assert_int_equal(fclose(f), 0);
    return text;
}

static void test_print(void **state) {
    const kv set[MAX_SET] = {{"biotime", "auth", "\"token\""},
                             {"biotime", "token", "\"" SECRET_TOKEN "\""},
                             {"biotime", "terminals", "[\"CJ\\\"DE1\", \"B\"]"}};
    char *text, *again;
    bts_config *cfg;

    (void)state;
    write_conf(set, NULL);
    cfg = load_ok();
    text = print_to_string(cfg);
    assert_lacks(text, "S3CRET");
    assert_contains(text, "biotime = {\n  url = \"http://bt.acme.test:8081\";\n");
    assert_contains(text, "  password = \"***\";\n  password_file = \"\";\n");
    assert_contains(text, "  token = \"***\";\n");
    assert_contains(text, "  api_secret = \"***\";\n");
    assert_contains(text, "  auth = \"token\";\n");
    assert_contains(text, "  terminals = [\"CJ\\\"DE1\", \"B\"];\n");
    assert_contains(text, "  page_size = 200;\n");
    assert_contains(text, "  tls_verify = true;\n");
    assert_contains(text, "  punch_in = [0, 3, 4];\n");
    assert_contains(text, "  shift_types = [];\n");
    assert_contains(text, "log = {\n  level = \"info\";\n};\n");
    /* It is libconfig syntax: it loads again and prints the same. */
    write_file("test.conf", 0600, text);
    bts_config_free(cfg);
    cfg = load_ok();
    again = print_to_string(cfg);
    assert_string_equal(again, text);
    free(again);
    free(text);
    bts_config_free(cfg);
}

static void test_print_secret_file(void **state) {
    char expect[PATH_MAX + 64];
    const kv set[MAX_SET] = {{"biotime", "password", NULL},
                             {"biotime", "password_file", "\"bt.pw\""}};
    bts_config *cfg;
    char *text;

    (void)state;
    write_file("bt.pw", 0600, "pw-S3CRET\n");
    write_conf(set, NULL);
    cfg = load_ok();
    text = print_to_string(cfg);
    assert_lacks(text, "S3CRET");
    snprintf(expect, sizeof(expect), "  password = \"***\";\n  password_file = \"%s/bt.pw\";\n",
             dir);
    assert_contains(text, expect);
    free(text);
    bts_config_free(cfg);
}

static void test_secrets_listed(void **state) {
    const kv set[MAX_SET] = {{"biotime", "auth", "\"token\""},
                             {"biotime", "token", "\"" SECRET_TOKEN "\""}};
    const char *list[8];
    bts_config *cfg;

    (void)state;
    write_conf(set, NULL);
    cfg = load_ok();
    assert_int_equal(bts_config_secrets(cfg, list, BTS_ARRAY_SIZE(list)), 3);
    assert_string_equal(list[0], SECRET_PW);
    assert_string_equal(list[1], SECRET_TOKEN);
    assert_string_equal(list[2], SECRET_API);
    assert_null(list[3]);
    assert_int_equal(bts_config_secrets(cfg, list, 2), 1); /* room for one and the NULL */
    assert_null(list[1]);
    bts_config_free(cfg);
    /* An empty secret is no secret. */
    write_conf((kv[MAX_SET]){{0}}, NULL);
    cfg = load_ok();
    assert_int_equal(bts_config_secrets(cfg, list, BTS_ARRAY_SIZE(list)), 2);
    bts_config_free(cfg);
}

/* ---- placeholders, secrets not needed, instance state ---- */

typedef struct {
    kv set;
    const char *error; /* NULL: accepted */
} placeholder_case;

static const placeholder_case placeholder_cases[] = {
    {{"erpnext", "url", "\"https://erp.example.com\""}, "erpnext.url: names a placeholder host"},
    {{"erpnext", "url", "\"http://EXAMPLE.org:8000/erp\""}, "erpnext.url: names a placeholder host"},
    {{"biotime", "url", "\"http://biotime.example.net\""}, "biotime.url: names a placeholder host"},
    {{"biotime", "url", "\"http://bt.invalid:81\""}, "biotime.url: names a placeholder host"},
    {{"erpnext", "url", "\"https://myexample.com\""}, NULL},
    {{"erpnext", "url", "\"https://example.com.sa\""}, NULL},
    {{"erpnext", "api_key", "\"CHANGE-ME\""}, "erpnext.api_key: still the example config's placeholder"},
    {{"biotime", "password", "\"change-me\""}, "biotime.password: still the example config's placeholder: set the real password (or password_file)"},
    {{"erpnext", "api_secret", "\"changeme\""}, "erpnext.api_secret: still the example config's placeholder"},
    {{"biotime", "username", "\"change-me-not\""}, NULL},
};

static void test_placeholders_refused(void **state) {
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(placeholder_cases); i++) {
        const placeholder_case *c = &placeholder_cases[i];
        int lines[MAX_SET];

        print_message("placeholder case %zu: %s.%s = %s\n", i, c->set.group, c->set.name,
                      c->set.value);
        write_conf((kv[MAX_SET]){c->set}, lines);
        if (!c->error) {
            bts_config_free(load_ok());
            continue;
        }
        load_fails();
        assert_err_at(lines[0], c->error);
        if (strcmp(c->set.name, "password") == 0 || strcmp(c->set.name, "api_secret") == 0)
            assert_lacks(err, c->set.value + 1); /* a secret's value is never repeated */
    }
}

/* --status loads the config without the secret files: the service user it runs as may not
 * read them (they reach the unit as credentials). A normal load still needs them. */
static void test_no_secrets_flag(void **state) {
    bts_config *cfg = NULL;

    (void)state;
    write_file("api.secret", 0600, "x\n");
    write_conf((kv[MAX_SET]){{"biotime", "password", NULL},
                             {"biotime", "password_file", "\"missing.pw\""},
                             {"erpnext", "api_secret", NULL}},
               NULL);
    load_fails();
    assert_contains(err, "biotime.password_file: \"missing.pw\" is in none of");
    assert_int_equal(bts_config_load_flags(conf, BTS_CONFIG_NO_SECRETS, &cfg, err,
                                           sizeof(err)), 0);
    assert_string_equal(cfg->biotime.password, "");
    assert_string_equal(cfg->sync.state_dir, "/var/lib/biotime-sync");
    bts_config_free(cfg);
}

typedef struct {
    const char *config_dir, *config_path, *state_dir; /* state_dir NULL: not an instance */
} instance_case;

static const instance_case instance_cases[] = {
    {"/etc/biotime-sync", "/etc/biotime-sync/plant2.conf", "/var/lib/biotime-sync/plant2"},
    {"/etc/biotime-sync", "plant2.conf", "/var/lib/biotime-sync/plant2"},
    {"/etc/biotime-sync", "/etc/biotime-sync/../biotime-sync/a.b.conf", "/var/lib/biotime-sync/a.b"},
    {"/etc", "/etc/biotime-sync.conf", NULL},
    {"/etc/biotime-sync", "/etc/biotime-sync/plant2.cfg", NULL},
    {"/etc/biotime-sync", "/etc/biotime-sync/.conf", NULL},
    {"/etc/biotime-sync/x", "/etc/biotime-sync/x/plant2.conf", NULL},
};

static void test_instance_state_dir(void **state) {
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(instance_cases); i++) {
        const instance_case *c = &instance_cases[i];
        char *got = NULL;

        print_message("instance case %zu: %s\n", i, c->config_path);
        assert_int_equal(bts_config_instance_state_dir(c->config_dir, c->config_path, &got),
                         c->state_dir ? 1 : 0);
        if (c->state_dir)
            assert_string_equal(got, c->state_dir);
        else
            assert_null(got);
        free(got);
    }
}

/* libconfig 1.5 calls exit() when an @include names something it cannot read as a file:
 * on a reload that would end the daemon. Such a config is refused first, with the line. */
static void test_include_of_a_directory_refused(void **state) {
    char sub[PATH_MAX];

    (void)state;
    write_file("test.conf", 0600, "# settings\n@include \".\"\n");
    load_fails();
    assert_err_at(2, "@include \".\": ");
    assert_contains(err, "is not a regular file");
    snprintf(sub, sizeof(sub), "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file("inner.conf", 0600, "log = { level = \"debug\"; };\n  @include \"sub\"\n");
    write_file("test.conf", 0600, "@include \"inner.conf\"\n");
    load_fails();
    assert_contains(err, "inner.conf:2: @include \"sub\": ");
    /* A missing file is libconfig's to report, and it does so without exiting. */
    write_file("test.conf", 0600, "@include \"missing.conf\"\n");
    load_fails();
}

/* ---- the example config in the repository ---- */

/* Replaces every from in text (in place; to is no longer than from). */
static void replace_all(char *text, const char *from, const char *to) {
    size_t nf = strlen(from), nt = strlen(to);
    char *p;

    assert_true(nt <= nf);
    while ((p = strstr(text, from))) {
        memcpy(p, to, nt);
        memmove(p + nt, p + nf, strlen(p + nf) + 1);
    }
}

static void example_path(char *out, size_t n) {
    const char *data = getenv("BTS_TEST_DATA");

    if (data && *data) {
        snprintf(out, n, "%s/../../conf/biotime-sync.conf", data);
    } else {
        const char *slash = strrchr(__FILE__, '/');
        snprintf(out, n, "%.*s/../../conf/biotime-sync.conf",
                 slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".");
    }
}

static void test_example_conf(void **state) {
    char path[PATH_MAX], *text, *printed, *save = NULL;
    bts_config *cfg;
    long size;
    FILE *f;

    (void)state;
    example_path(path, sizeof(path));
    f = fopen(path, "r");
    if (!f)
        fail_msg("%s: cannot open", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    rewind(f);
    text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    write_file("test.conf", 0640, text);
    /* As shipped, its placeholders are refused... */
    load_fails();
    assert_contains(err, "placeholder");
    /* ...and once they are filled in, it loads. */
    replace_all(text, "change-me", "pw-4711x");
    replace_all(text, "erp.example.com", "erp.acme.test");
    write_file("test.conf", 0640, text);
    cfg = load_ok();
    /* It shows the defaults. */
    assert_int_equal(cfg->biotime.page_size, 200);
    assert_int_equal(cfg->erpnext.batch_size, 100);
    assert_int_equal(cfg->sync.lookback_hours, 72);
    assert_int_equal(cfg->log.level, LOG_INFO);
    /* Every key the loader knows (every line of the effective settings) is in it. */
    printed = print_to_string(cfg);
    for (char *line = strtok_r(printed, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strstr(line, " = ");
        if (line[0] == ' ' && eq) {
            eq[3] = '\0';
            assert_contains(text, line);
        }
    }
    free(printed);
    free(text);
    bts_config_free(cfg);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults),
        T(test_int_ranges),
        T(test_load_cases),
        T(test_locations_cases),
        T(test_locations_values_and_print),
        T(test_urls_normalised),
        T(test_zones_resolved),
        T(test_arrays_and_enums),
        T(test_static_token),
        T(test_file_cases),
        T(test_missing_file),
        T(test_config_readable_by_others),
        T(test_error_truncated),
        T(test_secret_files),
        T(test_secret_credentials_directory),
        T(test_secret_file_errors),
        T(test_include_secret),
        T(test_print),
        T(test_print_secret_file),
        T(test_secrets_listed),
        T(test_example_conf),
        T(test_placeholders_refused),
        T(test_no_secrets_flag),
        T(test_instance_state_dir),
        T(test_include_of_a_directory_refused),
        T(test_employees_group),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}

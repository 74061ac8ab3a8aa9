/* map: log_type codes, verdicts, Employee Checkin and BioTime Device Log documents. The
 * config is built by hand, independent of the config loader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bts/map.h"

static int default_in[] = { 0, 3, 4 };
static int default_out[] = { 1, 5, 2 };
static char tz_riyadh[] = "Asia/Riyadh";
static char tz_utc[] = "UTC";
static char tz_new_york[] = "America/New_York";
static char tz_bad[] = "Not/AZone";
static char empty[] = "";
static char server_hq[] = "hq";
static char device_log[] = "BioTime Device Log";
static char custom_device_log[] = "Punch Archive";

/* BioTime in Riyadh, ERPNext in UTC, checkins on, default codes. */
static void config_default(bts_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->biotime.name = empty;
    cfg->biotime.timezone = tz_riyadh;
    cfg->erpnext.timezone = tz_utc;
    cfg->erpnext.create_checkins = true;
    cfg->erpnext.device_log_doctype = device_log;
    cfg->sync.punch_in = default_in;
    cfg->sync.n_punch_in = BTS_ARRAY_SIZE(default_in);
    cfg->sync.punch_out = default_out;
    cfg->sync.n_punch_out = BTS_ARRAY_SIZE(default_out);
}

typedef struct {
    const char *code;
    const char *log_type;
} log_type_case;

static const log_type_case log_type_cases[] = {
    { "0", "IN" }, { "3", "IN" }, { "4", "IN" },
    { "1", "OUT" }, { "5", "OUT" }, { "2", "OUT" },
    { "255", "" }, { "6", "" }, { "-1", "" }, { "abc", "" }, { "", "" }, { " 0", "" },
    { "0 ", "" }, { "1.0", "" }, { "+1", "" }, { "0x1", "" }, { "-", "" }, { "1a", "" },
    { "Check In", "" }, { "99999999999999999999", "" },
    { "00", "IN" }, /* still the integer 0 */
};

static void test_log_type_default_codes(void **state)
{
    bts_config cfg;

    (void)state;
    config_default(&cfg);
    for (size_t i = 0; i < BTS_ARRAY_SIZE(log_type_cases); i++) {
        const char *got = bts_map_log_type(&cfg.sync, log_type_cases[i].code);

        if (strcmp(got, log_type_cases[i].log_type) != 0)
            fail_msg("\"%s\": got \"%s\", want \"%s\"", log_type_cases[i].code, got,
                     log_type_cases[i].log_type);
    }
    assert_string_equal(bts_map_log_type(&cfg.sync, NULL), "");
    assert_string_equal(bts_map_log_type(NULL, "0"), "");
}

/* 255 means something only when configured; an empty list maps nothing. */
static void test_log_type_follows_configuration(void **state)
{
    static int in[] = { 255, -1 };
    static int out[] = { 0 };
    bts_sync_config sync = { 0 };

    (void)state;
    assert_string_equal(bts_map_log_type(&sync, "0"), "");
    sync.punch_in = in;
    sync.n_punch_in = BTS_ARRAY_SIZE(in);
    sync.punch_out = out;
    sync.n_punch_out = BTS_ARRAY_SIZE(out);
    assert_string_equal(bts_map_log_type(&sync, "255"), "IN");
    assert_string_equal(bts_map_log_type(&sync, "-1"), "IN");
    assert_string_equal(bts_map_log_type(&sync, "0"), "OUT");
    assert_string_equal(bts_map_log_type(&sync, "1"), "");
}

static void test_verdict_strings_are_distinct(void **state)
{
    (void)state;
    assert_string_equal(bts_map_verdict_str(BTS_MAP_CHECKIN), "checkin");
    assert_string_equal(bts_map_verdict_str(BTS_MAP_UNMAPPED), "unmapped");
    assert_string_equal(bts_map_verdict_str(BTS_MAP_INACTIVE), "inactive");
    assert_string_equal(bts_map_verdict_str(BTS_MAP_NO_CHECKINS), "no-checkins");
    assert_string_equal(bts_map_verdict_str(BTS_MAP_NO_LOCATION), "no-location");
    assert_string_equal(bts_map_verdict_str((bts_map_verdict)99), "unknown");
}

typedef struct {
    const char *name;
    int64_t id;
    size_t n;
    const char *want;
} log_id_case;

static const log_id_case log_id_cases[] = {
    { "", 48213, 64, "48213" },
    { NULL, 48213, 64, "48213" },
    { "hq", 48213, 64, "hq-48213" },
    { "site-2", 1, 64, "site-2-1" },
    { "hq", INT64_MAX, 64, "hq-9223372036854775807" },
    { "hq", 48213, 6, "hq-48" },  /* cut, never overflowed */
    { "", 48213, 1, "" },
};

static void test_device_log_id_with_and_without_name(void **state)
{
    (void)state;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(log_id_cases); i++) {
        char out[64];

        memset(out, 'Z', sizeof(out));
        bts_map_device_log_id(log_id_cases[i].name, log_id_cases[i].id, out, log_id_cases[i].n);
        assert_string_equal(out, log_id_cases[i].want);
    }
    bts_map_device_log_id("hq", 1, NULL, 10);
}

/* Parses a row into a transaction (the test owns it). */
static void txn_from_json(const char *json, bts_txn *t)
{
    cJSON *row = cJSON_Parse(json);
    char err[128];

    assert_non_null(row);
    if (bts_txn_parse(row, t, err, sizeof(err)) < 0)
        fail_msg("test row refused: %s", err);
    cJSON_Delete(row);
}

static bts_employees *employees_fixture(void)
{
    bts_employees *m;
    cJSON *rows = cJSON_Parse(
        "[{\"name\":\"HR-EMP-00001\",\"attendance_device_id\":\"1001\",\"status\":\"Active\"},"
        " {\"name\":\"HR-EMP-00002\",\"attendance_device_id\":\"1002\",\"status\":\"Left\"},"
        " {\"name\":\"HR-EMP-00003\",\"attendance_device_id\":\"1003\",\"status\":\"Suspended\"},"
        " {\"name\":\"HR-EMP-00004\",\"attendance_device_id\":\"1004\",\"status\":\"Inactive\"},"
        " {\"name\":\"HR-EMP-00005\",\"attendance_device_id\":\"1005\"}]");

    assert_non_null(rows);
    assert_int_equal(bts_employees_new(&m), 0);
    assert_int_equal(bts_employees_load(m, rows, "attendance_device_id"), 5);
    cJSON_Delete(rows);
    return m;
}

typedef struct {
    const char *emp_code;
    bool create_checkins;
    bool geolocation;     /* HR Settings > Allow Geolocation Tracking is on */
    const char *terminal; /* terminal_sn of the punch */
    bts_map_verdict verdict;
    const char *employee; /* expected ret_employee name, NULL = none */
    const char *reason;   /* what the Device Log says */
} verdict_case;

#define LISTED "CQUJ000001"   /* has an erpnext.locations entry */
#define UNLISTED "BOCK000003"

/* HRMS's status rule (only Inactive is refused), then geolocation. */
static const verdict_case verdict_cases[] = {
    { "1001", true, false, UNLISTED, BTS_MAP_CHECKIN, "HR-EMP-00001", "" },   /* Active */
    { "1002", true, false, UNLISTED, BTS_MAP_CHECKIN, "HR-EMP-00002", "" },   /* Left */
    { "1003", true, false, UNLISTED, BTS_MAP_CHECKIN, "HR-EMP-00003", "" },   /* Suspended */
    { "1004", true, false, UNLISTED, BTS_MAP_INACTIVE, "HR-EMP-00004",
      "Employee HR-EMP-00004 is Inactive" },
    { "1005", true, false, UNLISTED, BTS_MAP_CHECKIN, "HR-EMP-00005", "" },   /* no status */
    { "9999", true, false, UNLISTED, BTS_MAP_UNMAPPED, NULL,
      "no Employee has attendance_device_id = 9999" },
    { "1001", false, false, UNLISTED, BTS_MAP_NO_CHECKINS, "HR-EMP-00001",
      "erpnext.create_checkins is off" },
    { "1004", false, false, UNLISTED, BTS_MAP_NO_CHECKINS, "HR-EMP-00004",
      "erpnext.create_checkins is off" },
    { "9999", false, false, UNLISTED, BTS_MAP_NO_CHECKINS, NULL,
      "erpnext.create_checkins is off" },
    { "1001", true, true, LISTED, BTS_MAP_CHECKIN, "HR-EMP-00001", "" },
    { "1002", true, true, LISTED, BTS_MAP_CHECKIN, "HR-EMP-00002", "" },
    { "1001", true, true, UNLISTED, BTS_MAP_NO_LOCATION, "HR-EMP-00001",
      "geolocation tracking is on and terminal " UNLISTED " has no erpnext.locations entry "
      "(add its latitude and longitude there)" },
    { "1001", true, true, "", BTS_MAP_NO_LOCATION, "HR-EMP-00001",
      "geolocation tracking is on and terminal (none: the punch names no terminal) has no "
      "erpnext.locations entry (add its latitude and longitude there)" },
    { "1004", true, true, UNLISTED, BTS_MAP_INACTIVE, "HR-EMP-00004",
      "Employee HR-EMP-00004 is Inactive" },
    { "9999", true, true, UNLISTED, BTS_MAP_UNMAPPED, NULL,
      "no Employee has attendance_device_id = 9999" },
    { "1001", false, true, UNLISTED, BTS_MAP_NO_CHECKINS, "HR-EMP-00001",
      "erpnext.create_checkins is off" },
};

static char field_attendance[] = "attendance_device_id";
static char sn_listed[] = LISTED;
static bts_location listed_location[] = { { sn_listed, 24.7136, 46.6753 } };

static void test_verdicts(void **state)
{
    bts_employees *emps = employees_fixture();
    bts_config cfg;

    (void)state;
    config_default(&cfg);
    cfg.erpnext.employee_field = field_attendance;
    cfg.erpnext.locations = listed_location;
    cfg.erpnext.n_locations = 1;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(verdict_cases); i++) {
        const verdict_case *c = &verdict_cases[i];
        const bts_employee *emp = (const bts_employee *)&cfg; /* must be overwritten */
        bts_map_verdict v = (bts_map_verdict)-1;
        cJSON *doc = (cJSON *)&cfg;
        char json[200], why[300];
        bts_txn t;

        snprintf(json, sizeof(json),
                 "{\"id\":1,\"emp_code\":\"%s\",\"punch_time\":\"2026-10-01 08:02:11\","
                 "\"terminal_sn\":\"%s\"}", c->emp_code, c->terminal);
        txn_from_json(json, &t);
        cfg.erpnext.create_checkins = c->create_checkins;
        assert_int_equal(bts_map_checkin(&cfg, emps, c->geolocation, &t, &v, &doc, &emp), 0);
        if (v != c->verdict)
            fail_msg("case %zu: verdict %s, want %s", i, bts_map_verdict_str(v),
                     bts_map_verdict_str(c->verdict));
        assert_int_equal(doc != NULL, c->verdict == BTS_MAP_CHECKIN);
        bts_map_park_reason(&cfg, v, &t, emp, why, sizeof(why));
        assert_string_equal(why, c->reason);
        if (c->employee)
            assert_string_equal(emp->name, c->employee);
        else
            assert_null(emp);
        cJSON_Delete(doc);
        bts_txn_clear(&t);
    }
    bts_employees_free(emps);
}

typedef struct {
    const char *row;
    const char *biotime_tz, *erpnext_tz;
    const char *time, *log_type, *device_id;
} checkin_case;

#define ROW_START "{\"id\":48213,\"emp_code\":\"1001\","

static const checkin_case checkin_cases[] = {
    { ROW_START "\"punch_time\":\"2026-10-01 08:02:11\",\"punch_state\":\"0\","
      "\"terminal_sn\":\"CQUJ221960012\",\"terminal_alias\":\"Main gate\"}",
      "Asia/Riyadh", "UTC", "2026-10-01 05:02:11", "IN", "CQUJ221960012" },
    { ROW_START "\"punch_time\":\"2026-10-01 17:30:00\",\"punch_state\":1,"
      "\"terminal_sn\":\"\",\"terminal_alias\":\"Main gate\"}",
      "Asia/Riyadh", "UTC", "2026-10-01 14:30:00", "OUT", "Main gate" },
    { ROW_START "\"punch_time\":\"2026-10-01 17:30:00\",\"punch_state\":\"255\","
      "\"terminal_alias\":\"Main gate\"}",
      "Asia/Riyadh", "Asia/Riyadh", "2026-10-01 17:30:00", "", "Main gate" },
    { ROW_START "\"punch_time\":\"2026-10-01 17:30:00\",\"punch_state\":\"abc\"}",
      "", "Asia/Riyadh", "2026-10-01 17:30:00", "", "" },   /* "" = ERPNext's zone */
    { ROW_START "\"punch_time\":\"2026-03-08 02:30:00\",\"punch_state\":4}",
      "America/New_York", "UTC", "2026-03-08 07:30:00", "IN", "" },   /* DST gap */
    { ROW_START "\"punch_time\":\"2026-11-01 01:30:00\",\"punch_state\":5}",
      "America/New_York", "UTC", "2026-11-01 05:30:00", "OUT", "" },  /* DST fold */
    { ROW_START "\"punch_time\":\"2026-07-01 12:00:00\",\"punch_state\":2}",
      "Asia/Riyadh", "Europe/Berlin", "2026-07-01 11:00:00", "OUT", "" },
};

static char *xstrdup(const char *s)
{
    char *d = strdup(s);

    assert_non_null(d);
    return d;
}

static void assert_checkin_doc(const cJSON *doc, const checkin_case *c)
{
    assert_int_equal(cJSON_GetArraySize(doc), 5);
    assert_string_equal(cJSON_GetObjectItem(doc, "doctype")->valuestring, "Employee Checkin");
    assert_string_equal(cJSON_GetObjectItem(doc, "employee")->valuestring, "HR-EMP-00001");
    assert_string_equal(cJSON_GetObjectItem(doc, "time")->valuestring, c->time);
    assert_string_equal(cJSON_GetObjectItem(doc, "log_type")->valuestring, c->log_type);
    assert_string_equal(cJSON_GetObjectItem(doc, "device_id")->valuestring, c->device_id);
}

/* The checkin carries the punch time converted from BioTime's zone into ERPNext's. */
static void test_checkin_document_time_converted(void **state)
{
    bts_employees *emps = employees_fixture();
    bts_config cfg;

    (void)state;
    config_default(&cfg);
    for (size_t i = 0; i < BTS_ARRAY_SIZE(checkin_cases); i++) {
        const checkin_case *c = &checkin_cases[i];
        const bts_employee *emp;
        bts_map_verdict v;
        cJSON *doc = NULL;
        bts_txn t;

        cfg.biotime.timezone = xstrdup(c->biotime_tz);
        cfg.erpnext.timezone = xstrdup(c->erpnext_tz);
        txn_from_json(c->row, &t);
        assert_int_equal(bts_map_checkin(&cfg, emps, false, &t, &v, &doc, &emp), 0);
        assert_int_equal(v, BTS_MAP_CHECKIN);
        assert_non_null(doc);
        assert_checkin_doc(doc, c);
        cJSON_Delete(doc);
        bts_txn_clear(&t);
        free(cfg.biotime.timezone);
        free(cfg.erpnext.timezone);
    }
    bts_employees_free(emps);
}

typedef struct {
    const char *terminal_fields; /* of the row */
    bool geolocation;
    bool has_coordinates;
} location_case;

static const location_case location_cases[] = {
    { "\"terminal_sn\":\"" LISTED "\"", false, true },  /* sent even with tracking off */
    { "\"terminal_sn\":\"" LISTED "\"", true, true },
    { "\"terminal_sn\":\"" UNLISTED "\"", false, false },
    { "\"terminal_sn\":\"cquj000001\"", false, false },  /* serials compared exactly */
    { "\"terminal_sn\":\"\",\"terminal_alias\":\"" LISTED "\"", false, false },
};

/* A checkin from a terminal in erpnext.locations carries its latitude and longitude. */
static void test_checkin_carries_terminal_coordinates(void **state)
{
    bts_employees *emps = employees_fixture();
    bts_config cfg;

    (void)state;
    config_default(&cfg);
    cfg.erpnext.locations = listed_location;
    cfg.erpnext.n_locations = 1;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(location_cases); i++) {
        const location_case *c = &location_cases[i];
        bts_map_verdict v;
        cJSON *doc = NULL;
        char json[200];
        bts_txn t;

        snprintf(json, sizeof(json), ROW_START "\"punch_time\":\"2026-10-01 08:02:11\",%s}",
                 c->terminal_fields);
        txn_from_json(json, &t);
        assert_int_equal(bts_map_checkin(&cfg, emps, c->geolocation, &t, &v, &doc, NULL), 0);
        assert_int_equal(v, BTS_MAP_CHECKIN);
        if (c->has_coordinates) {
            assert_int_equal(cJSON_GetArraySize(doc), 7);
            assert_true(cJSON_GetObjectItem(doc, "latitude")->valuedouble == 24.7136);
            assert_true(cJSON_GetObjectItem(doc, "longitude")->valuedouble == 46.6753);
        } else {
            assert_int_equal(cJSON_GetArraySize(doc), 5);
            assert_null(cJSON_GetObjectItem(doc, "latitude"));
        }
        cJSON_Delete(doc);
        bts_txn_clear(&t);
    }
    bts_employees_free(emps);
}

/* A zone the tz database does not know is an error, and the outputs stay untouched. */
static void test_checkin_bad_zone_is_error(void **state)
{
    bts_employees *emps = employees_fixture();
    const bts_employee *emp = NULL;
    bts_map_verdict v = BTS_MAP_UNMAPPED;
    cJSON *doc = NULL;
    bts_config cfg;
    bts_txn t;

    (void)state;
    config_default(&cfg);
    txn_from_json(ROW_START "\"punch_time\":\"2026-10-01 08:02:11\"}", &t);
    cfg.erpnext.timezone = tz_bad;
    assert_int_equal(bts_map_checkin(&cfg, emps, false, &t, &v, &doc, &emp), BTS_EINVAL);
    assert_null(doc);
    assert_null(emp);
    assert_int_equal(v, BTS_MAP_UNMAPPED);
    cfg.erpnext.timezone = tz_utc;
    cfg.biotime.timezone = tz_bad;
    assert_int_equal(bts_map_checkin(&cfg, emps, false, &t, &v, &doc, &emp), BTS_EINVAL);
    cfg.biotime.timezone = empty;
    cfg.erpnext.timezone = empty;
    assert_int_equal(bts_map_checkin(&cfg, emps, false, &t, &v, &doc, &emp), BTS_EINVAL);
    cfg.biotime.timezone = NULL;
    cfg.erpnext.timezone = NULL;
    assert_int_equal(bts_map_checkin(&cfg, emps, false, &t, &v, &doc, &emp), BTS_EINVAL);
    cfg.biotime.timezone = tz_new_york;
    cfg.erpnext.timezone = tz_utc;
    assert_int_equal(bts_map_checkin(&cfg, emps, false, &t, &v, NULL, &emp), BTS_EINVAL);
    assert_int_equal(bts_map_checkin(&cfg, emps, false, &t, NULL, &doc, &emp), BTS_EINVAL);
    assert_int_equal(bts_map_checkin(NULL, emps, false, &t, &v, &doc, &emp), BTS_EINVAL);
    assert_int_equal(bts_map_checkin(&cfg, emps, false, NULL, &v, &doc, &emp), BTS_EINVAL);
    /* an unmapped punch needs no conversion, so a bad zone cannot hold it up */
    cfg.erpnext.timezone = tz_bad;
    assert_int_equal(bts_map_checkin(&cfg, NULL, false, &t, &v, &doc, NULL), 0);
    assert_int_equal(v, BTS_MAP_UNMAPPED);
    bts_txn_clear(&t);
    bts_employees_free(emps);
}

static const char *const biotime_fields[] = {
    "emp", "emp_code", "first_name", "last_name", "department", "position", "punch_time",
    "punch_state", "punch_state_display", "verify_type", "verify_type_display", "work_code",
    "gps_location", "area_alias", "terminal_sn", "temperature", "is_mask", "terminal_alias",
    "upload_time",
};

typedef struct {
    const char *key, *want;
} field_case;

/* A BioTime 9.5 row with every kind of type BioTime sends. */
static const char full_row[] =
    "{\"id\":48213,\"emp\":17,\"emp_code\":\"1001\",\"first_name\":\"Sara\","
    "\"last_name\":null,\"department\":{\"id\":3,\"dept_name\":\"Ops\"},"
    "\"punch_time\":\"2026-10-01 08:02:11\",\"punch_state\":0,"
    "\"punch_state_display\":\"Enregistrement\",\"verify_type\":15,"
    "\"verify_type_display\":\"Face\",\"work_code\":\"\",\"gps_location\":null,"
    "\"area_alias\":\"Head office\",\"terminal_sn\":\"CQUJ221960012\",\"temperature\":36.6,"
    "\"is_mask\":255,\"terminal_alias\":\"Main gate\",\"upload_time\":\"2026-10-01 08:02:15\","
    "\"longitude\":null,\"latitude\":null}";

static const field_case full_row_fields[] = {
    { "emp", "17" }, { "emp_code", "1001" }, { "first_name", "Sara" }, { "last_name", "" },
    { "department", "{\"id\":3,\"dept_name\":\"Ops\"}" },
    { "position", "" },                                   /* missing */
    { "punch_time", "2026-10-01 08:02:11" },              /* BioTime's zone, unconverted */
    { "punch_state", "0" }, { "punch_state_display", "Enregistrement" },
    { "verify_type", "15" }, { "verify_type_display", "Face" }, { "work_code", "" },
    { "gps_location", "" }, { "area_alias", "Head office" },
    { "terminal_sn", "CQUJ221960012" }, { "temperature", "36.6" }, { "is_mask", "255" },
    { "terminal_alias", "Main gate" }, { "upload_time", "2026-10-01 08:02:15" },
};

static const char *doc_str(const cJSON *doc, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(doc, key);

    if (!cJSON_IsString(it))
        fail_msg("field %s missing or not a string", key);
    return it->valuestring;
}

/* Every BioTime field is copied as text from the raw row; nothing else sneaks in. */
static void test_device_log_copies_raw_fields(void **state)
{
    bts_config cfg;
    bts_txn t;
    cJSON *doc;

    (void)state;
    config_default(&cfg);
    txn_from_json(full_row, &t);
    doc = bts_map_device_log(&cfg, &t, "EMP-CKIN-0001", "HR-EMP-00001");
    assert_non_null(doc);
    assert_int_equal(cJSON_GetArraySize(doc), 2 + (int)BTS_ARRAY_SIZE(biotime_fields) + 3);
    assert_string_equal(doc_str(doc, "doctype"), "BioTime Device Log");
    assert_string_equal(doc_str(doc, "id"), "48213");
    for (size_t i = 0; i < BTS_ARRAY_SIZE(full_row_fields); i++)
        assert_string_equal(doc_str(doc, full_row_fields[i].key), full_row_fields[i].want);
    for (size_t i = 0; i < BTS_ARRAY_SIZE(biotime_fields); i++)
        (void)doc_str(doc, biotime_fields[i]);
    assert_null(cJSON_GetObjectItem(doc, "longitude"));
    cJSON_Delete(doc);
    bts_txn_clear(&t);
}

typedef struct {
    const char *checkin, *employee;
    int synced;
    const char *want_checkin, *want_employee;
} synced_case;

static const synced_case synced_cases[] = {
    { "EMP-CKIN-0001", "HR-EMP-00001", 1, "EMP-CKIN-0001", "HR-EMP-00001" },
    { NULL, "HR-EMP-00002", 0, "", "HR-EMP-00002" },  /* parked: inactive employee */
    { "", "HR-EMP-00002", 0, "", "HR-EMP-00002" },
    { NULL, NULL, 0, "", "" },                        /* parked: unmapped */
    { "EMP-CKIN-0001", NULL, 1, "EMP-CKIN-0001", "" },
};

static void test_device_log_synced_flag_and_links(void **state)
{
    bts_config cfg;
    bts_txn t;

    (void)state;
    config_default(&cfg);
    txn_from_json(full_row, &t);
    for (size_t i = 0; i < BTS_ARRAY_SIZE(synced_cases); i++) {
        const synced_case *c = &synced_cases[i];
        cJSON *doc = bts_map_device_log(&cfg, &t, c->checkin, c->employee);
        const cJSON *synced;

        assert_non_null(doc);
        synced = cJSON_GetObjectItem(doc, "synced");
        assert_true(cJSON_IsNumber(synced));
        assert_int_equal(synced->valueint, c->synced);
        assert_string_equal(doc_str(doc, "employee_check_in"), c->want_checkin);
        assert_string_equal(doc_str(doc, "employee_id_on_system"), c->want_employee);
        cJSON_Delete(doc);
    }
    bts_txn_clear(&t);
}

/* With biotime.name set the id (the document name) is "<name>-<id>"; the doctype follows
 * erpnext.device_log_doctype. */
static void test_device_log_named_server_and_custom_doctype(void **state)
{
    bts_config cfg;
    bts_txn t;
    cJSON *doc;

    (void)state;
    config_default(&cfg);
    cfg.biotime.name = server_hq;
    cfg.erpnext.device_log_doctype = custom_device_log;
    txn_from_json(full_row, &t);
    doc = bts_map_device_log(&cfg, &t, NULL, NULL);
    assert_non_null(doc);
    assert_string_equal(doc_str(doc, "id"), "hq-48213");
    assert_string_equal(doc_str(doc, "doctype"), "Punch Archive");
    cJSON_Delete(doc);
    cfg.erpnext.device_log_doctype = NULL;
    doc = bts_map_device_log(&cfg, &t, NULL, NULL);
    assert_string_equal(doc_str(doc, "doctype"), "BioTime Device Log");
    cJSON_Delete(doc);
    bts_txn_clear(&t);
    assert_null(bts_map_device_log(NULL, &t, NULL, NULL));
    assert_null(bts_map_device_log(&cfg, NULL, NULL, NULL));
}

/* Over-long BioTime strings are cut to BTS_TXN_FIELD_MAX in the Device Log. */
static void test_device_log_cuts_long_fields(void **state)
{
    char *big = malloc(5001);
    cJSON *row = cJSON_Parse(full_row), *doc;
    bts_config cfg;
    bts_txn t;
    char err[128];

    (void)state;
    assert_non_null(big);
    memset(big, 'x', 5000);
    big[5000] = '\0';
    cJSON_ReplaceItemInObject(row, "first_name", cJSON_CreateString(big));
    cJSON_ReplaceItemInObject(row, "area_alias", cJSON_CreateString(big));
    config_default(&cfg);
    assert_int_equal(bts_txn_parse(row, &t, err, sizeof(err)), 0);
    doc = bts_map_device_log(&cfg, &t, NULL, NULL);
    assert_non_null(doc);
    assert_int_equal(strlen(doc_str(doc, "first_name")), BTS_TXN_FIELD_MAX);
    assert_int_equal(strlen(doc_str(doc, "area_alias")), BTS_TXN_FIELD_MAX);
    assert_string_equal(doc_str(doc, "emp_code"), "1001");
    cJSON_Delete(doc);
    bts_txn_clear(&t);
    cJSON_Delete(row);
    free(big);
}

/* A transaction built by hand (no raw row) still fills the key columns. */
static void test_device_log_without_raw_uses_parsed_fields(void **state)
{
    bts_txn t = { .id = 5, .emp_code = "1001", .punch_time = "2026-10-01 08:02:11",
                  .upload_time = "2026-10-01 08:02:15", .punch_state = "1",
                  .terminal_sn = "SN1", .terminal_alias = "Gate" };
    bts_config cfg;
    cJSON *doc;

    (void)state;
    config_default(&cfg);
    doc = bts_map_device_log(&cfg, &t, NULL, NULL);
    assert_non_null(doc);
    assert_string_equal(doc_str(doc, "id"), "5");
    assert_string_equal(doc_str(doc, "emp_code"), "1001");
    assert_string_equal(doc_str(doc, "punch_time"), "2026-10-01 08:02:11");
    assert_string_equal(doc_str(doc, "upload_time"), "2026-10-01 08:02:15");
    assert_string_equal(doc_str(doc, "punch_state"), "1");
    assert_string_equal(doc_str(doc, "terminal_sn"), "SN1");
    assert_string_equal(doc_str(doc, "terminal_alias"), "Gate");
    assert_string_equal(doc_str(doc, "first_name"), "");
    cJSON_Delete(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_type_default_codes),
        cmocka_unit_test(test_log_type_follows_configuration),
        cmocka_unit_test(test_verdict_strings_are_distinct),
        cmocka_unit_test(test_device_log_id_with_and_without_name),
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_checkin_document_time_converted),
        cmocka_unit_test(test_checkin_bad_zone_is_error),
        cmocka_unit_test(test_checkin_carries_terminal_coordinates),
        cmocka_unit_test(test_device_log_copies_raw_fields),
        cmocka_unit_test(test_device_log_synced_flag_and_links),
        cmocka_unit_test(test_device_log_named_server_and_custom_doctype),
        cmocka_unit_test(test_device_log_cuts_long_fields),
        cmocka_unit_test(test_device_log_without_raw_uses_parsed_fields),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

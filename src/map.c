/* Pure mapping from a BioTime transaction to the ERPNext documents (CONTRACT.md §4). No I/O
 * besides reading the tz database through timeconv. */
#include "bts/map.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MAP_DEFAULT_DEVICE_LOG "BioTime Device Log"
/* Codes are small; more digits than this cannot be a configured code (and cannot overflow). */
#define MAP_CODE_DIGITS_MAX 9

/* The BioTime fields of the Device Log, copied as BioTime sent them. */
static const char *const map_device_log_fields[] = {
    "emp", "emp_code", "first_name", "last_name", "department", "position", "punch_time",
    "punch_state", "punch_state_display", "verify_type", "verify_type_display", "work_code",
    "gps_location", "area_alias", "terminal_sn", "temperature", "is_mask", "terminal_alias",
    "upload_time",
};

const char *bts_map_verdict_str(bts_map_verdict v)
{
    switch (v) {
    case BTS_MAP_CHECKIN: return "checkin";
    case BTS_MAP_UNMAPPED: return "unmapped";
    case BTS_MAP_INACTIVE: return "inactive";
    case BTS_MAP_NO_CHECKINS: return "no-checkins";
    case BTS_MAP_NO_LOCATION: return "no-location";
    }
    return "unknown";
}

/* "-"? digits only, nothing else: "0", "255", "-1". Not " 1", "1.0", "+1" or "". */
static bool map_parse_code(const char *s, int *ret)
{
    bool neg = *s == '-';
    int v = 0, n = 0;

    if (neg)
        s++;
    for (; *s; s++, n++) {
        if (*s < '0' || *s > '9' || n >= MAP_CODE_DIGITS_MAX)
            return false;
        v = v * 10 + (*s - '0');
    }
    if (n == 0)
        return false;
    *ret = neg ? -v : v;
    return true;
}

static bool map_code_in(const int *codes, size_t n, int code)
{
    for (size_t i = 0; codes && i < n; i++) {
        if (codes[i] == code)
            return true;
    }
    return false;
}

const char *bts_map_log_type(const bts_sync_config *sync, const char *punch_state)
{
    int code;

    if (!sync || !punch_state || !map_parse_code(punch_state, &code))
        return "";
    if (map_code_in(sync->punch_in, sync->n_punch_in, code))
        return "IN";
    if (map_code_in(sync->punch_out, sync->n_punch_out, code))
        return "OUT";
    return "";
}

void bts_map_device_log_id(const char *server_name, int64_t id, char *out, size_t n)
{
    if (!out || n == 0)
        return;
    if (server_name && *server_name)
        snprintf(out, n, "%s-%" PRId64, server_name, id);
    else
        snprintf(out, n, "%" PRId64, id);
}

static const char *map_nonempty(const char *a, const char *b)
{
    return a && *a ? a : b;
}

/* The terminal's fixed coordinates (HRMS fills geolocation from them where tracking is on). */
static bool map_add_location(cJSON *doc, const bts_location *loc)
{
    return !loc || (cJSON_AddNumberToObject(doc, "latitude", loc->latitude) &&
                    cJSON_AddNumberToObject(doc, "longitude", loc->longitude));
}

/* The Employee Checkin document; time converted from BioTime's zone to ERPNext's. */
static int map_checkin_doc(const bts_config *cfg, const bts_txn *t, const bts_employee *emp,
                           cJSON **ret)
{
    const char *to = cfg->erpnext.timezone;
    const char *from = map_nonempty(cfg->biotime.timezone, to);
    char when[BTS_TIME_LEN];
    cJSON *doc;
    int r;

    r = bts_time_convert(t->punch_time, from ? from : "", to ? to : "", when);
    if (r < 0)
        return r;
    doc = cJSON_CreateObject();
    if (!doc || !cJSON_AddStringToObject(doc, "doctype", "Employee Checkin") ||
        !cJSON_AddStringToObject(doc, "employee", emp->name) ||
        !cJSON_AddStringToObject(doc, "time", when) ||
        !cJSON_AddStringToObject(doc, "log_type", bts_map_log_type(&cfg->sync, t->punch_state)) ||
        !cJSON_AddStringToObject(doc, "device_id",
                                 map_nonempty(t->terminal_sn, t->terminal_alias)) ||
        !map_add_location(doc, bts_config_location(cfg, t->terminal_sn))) {
        cJSON_Delete(doc);
        return BTS_ENOMEM;
    }
    *ret = doc;
    return 0;
}

/* HRMS's rule (hrms/hr/utils.py validate_active_employee): only Inactive is refused. A
 * terminal without coordinates is refused only where geolocation tracking is on. */
static bts_map_verdict map_decide(const bts_config *cfg, const bts_employee *emp,
                                  bool geolocation, const bts_txn *t)
{
    if (!cfg->erpnext.create_checkins)
        return BTS_MAP_NO_CHECKINS;
    if (!emp)
        return BTS_MAP_UNMAPPED;
    if (!bts_employee_accepts_checkins(emp))
        return BTS_MAP_INACTIVE;
    if (geolocation && !bts_config_location(cfg, t->terminal_sn))
        return BTS_MAP_NO_LOCATION;
    return BTS_MAP_CHECKIN;
}

void bts_map_park_reason(const bts_config *cfg, bts_map_verdict v, const bts_txn *t,
                         const bts_employee *emp, char *out, size_t n)
{
    switch (v) {
    case BTS_MAP_CHECKIN:
        snprintf(out, n, "%s", "");
        return;
    case BTS_MAP_UNMAPPED:
        snprintf(out, n, "no Employee has %s = %s", cfg->erpnext.employee_field, t->emp_code);
        return;
    case BTS_MAP_INACTIVE:
        snprintf(out, n, "Employee %s is Inactive", emp ? emp->name : "?");
        return;
    case BTS_MAP_NO_CHECKINS:
        snprintf(out, n, "%s", "erpnext.create_checkins is off");
        return;
    case BTS_MAP_NO_LOCATION:
        snprintf(out, n, "geolocation tracking is on and terminal %s has no erpnext.locations "
                 "entry (add its latitude and longitude there)",
                 map_nonempty(t->terminal_sn, "(none: the punch names no terminal)"));
        return;
    }
    snprintf(out, n, "%s", "unknown");
}

int bts_map_checkin(const bts_config *cfg, const bts_employees *emps, bool geolocation,
                    const bts_txn *t, bts_map_verdict *ret_verdict, cJSON **ret_checkin,
                    const bts_employee **ret_employee)
{
    const bts_employee *emp;
    bts_map_verdict v;
    cJSON *doc = NULL;
    int r;

    if (!cfg || !t || !ret_verdict || !ret_checkin)
        return BTS_EINVAL;
    emp = bts_employees_find(emps, t->emp_code);
    v = map_decide(cfg, emp, geolocation, t);
    if (v == BTS_MAP_CHECKIN) {
        r = map_checkin_doc(cfg, t, emp, &doc);
        if (r < 0)
            return r;
    }
    *ret_verdict = v;
    *ret_checkin = doc;
    if (ret_employee)
        *ret_employee = emp;
    return 0;
}

/* Field value from the raw row, or, for a transaction built without one, from the parsed
 * fields so the key columns are never blank. */
static void map_field_text(const bts_txn *t, const cJSON *raw, const char *key, char *out,
                           size_t n)
{
    if (raw) {
        bts_json_text(raw, key, out, n);
        return;
    }
    out[0] = '\0';
    if (strcmp(key, "emp_code") == 0)
        bts_strlcpy(out, t->emp_code, n);
    else if (strcmp(key, "punch_time") == 0)
        bts_strlcpy(out, t->punch_time, n);
    else if (strcmp(key, "upload_time") == 0)
        bts_strlcpy(out, t->upload_time, n);
    else if (strcmp(key, "punch_state") == 0)
        bts_strlcpy(out, t->punch_state, n);
    else if (strcmp(key, "terminal_sn") == 0)
        bts_strlcpy(out, t->terminal_sn, n);
    else if (strcmp(key, "terminal_alias") == 0)
        bts_strlcpy(out, t->terminal_alias, n);
}

static bool map_add_biotime_fields(cJSON *doc, const bts_txn *t)
{
    char buf[BTS_TXN_FIELD_MAX + 1];
    cJSON *raw = t->raw ? cJSON_Parse(t->raw) : NULL;
    bool ok = !t->raw || raw;

    for (size_t i = 0; ok && i < BTS_ARRAY_SIZE(map_device_log_fields); i++) {
        map_field_text(t, raw, map_device_log_fields[i], buf, sizeof(buf));
        ok = cJSON_AddStringToObject(doc, map_device_log_fields[i], buf) != NULL;
    }
    cJSON_Delete(raw);
    return ok;
}

cJSON *bts_map_device_log(const bts_config *cfg, const bts_txn *t, const char *checkin_name,
                          const char *employee_name)
{
    char id[BTS_TXN_FIELD_MAX + 32];
    bool synced = checkin_name && *checkin_name;
    cJSON *doc;

    if (!cfg || !t)
        return NULL;
    /* autoname is field:id, so the id field is the document name. */
    bts_map_device_log_id(cfg->biotime.name, t->id, id, sizeof(id));
    doc = cJSON_CreateObject();
    if (!doc ||
        !cJSON_AddStringToObject(doc, "doctype",
                                 map_nonempty(cfg->erpnext.device_log_doctype,
                                              MAP_DEFAULT_DEVICE_LOG)) ||
        !cJSON_AddStringToObject(doc, "id", id) || !map_add_biotime_fields(doc, t) ||
        !cJSON_AddNumberToObject(doc, "synced", synced ? 1 : 0) ||
        !cJSON_AddStringToObject(doc, "employee_check_in", synced ? checkin_name : "") ||
        !cJSON_AddStringToObject(doc, "employee_id_on_system",
                                 employee_name ? employee_name : "")) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

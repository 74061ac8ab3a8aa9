/* Pure mapping: a BioTime transaction -> Employee Checkin and BioTime Device Log documents. */
#ifndef BTS_MAP_H
#define BTS_MAP_H

#include <cjson/cJSON.h>
#include "bts/config.h"
#include "bts/employees.h"
#include "bts/txn.h"

typedef enum {
    BTS_MAP_CHECKIN,      /* mapped to an employee HRMS accepts: write a checkin */
    BTS_MAP_UNMAPPED,     /* no Employee carries this emp_code: park */
    BTS_MAP_INACTIVE,     /* the employee's status is Inactive, the one HRMS refuses: park */
    BTS_MAP_NO_CHECKINS,  /* erpnext.create_checkins = false: Device Log only */
    BTS_MAP_NO_LOCATION,  /* geolocation tracking is on and the terminal has no coordinates */
} bts_map_verdict;

const char *bts_map_verdict_str(bts_map_verdict v);

/* punch_state code -> "IN", "OUT" or "" by sync.punch_in / sync.punch_out. */
const char *bts_map_log_type(const bts_sync_config *sync, const char *punch_state);

/* Device Log name: "<name>-<id>" when biotime.name is set, else "<id>". */
void bts_map_device_log_id(const char *server_name, int64_t id, char *out, size_t n);

/* Decides what to write for t. When the verdict is BTS_MAP_CHECKIN, *ret_checkin is a new
 * Employee Checkin document (doctype, employee, time in ERPNext's zone, log_type,
 * device_id, and latitude/longitude when erpnext.locations lists the terminal); otherwise
 * NULL. *ret_employee is the employee (or NULL). geolocation: HR Settings > Allow
 * Geolocation Tracking is known to be on, so a terminal without coordinates is parked. */
int bts_map_checkin(const bts_config *cfg, const bts_employees *emps, bool geolocation,
                    const bts_txn *t, bts_map_verdict *ret_verdict, cJSON **ret_checkin,
                    const bts_employee **ret_employee);

/* Why a punch with this verdict gets no checkin, for its Device Log ("" for a checkin). */
void bts_map_park_reason(const bts_config *cfg, bts_map_verdict v, const bts_txn *t,
                         const bts_employee *emp, char *out, size_t n);

/* A new BioTime Device Log document for t: every BioTime field as BioTime sent it (as text),
 * plus synced (1 when checkin_name is set), employee_check_in and employee_id_on_system. */
cJSON *bts_map_device_log(const bts_config *cfg, const bts_txn *t, const char *checkin_name,
                          const char *employee_name);

#endif

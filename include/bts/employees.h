/* emp_code -> ERPNext Employee, from one list request of Employees with the mapping field set. */
#ifndef BTS_EMPLOYEES_H
#define BTS_EMPLOYEES_H

#include <cjson/cJSON.h>
#include "bts/common.h"

/* Employee.status as HRMS sees it: only Inactive is refused a checkin (validate_active_employee
 * compares the status with "Inactive" exactly); any other value, or none, is accepted. */
typedef enum {
    BTS_EMP_ACTIVE,
    BTS_EMP_SUSPENDED,
    BTS_EMP_LEFT,
    BTS_EMP_OTHER,     /* no status, or a value HRMS does not know: accepted as it is */
    BTS_EMP_INACTIVE,  /* the one status HRMS refuses */
} bts_emp_status;

typedef struct {
    char *code;   /* value of erpnext.employee_field */
    char *name;   /* Employee name, e.g. HR-EMP-00001 */
    bts_emp_status status;
} bts_employee;

/* "Active", "Suspended", "Left", "Inactive", or "" for BTS_EMP_OTHER. */
const char *bts_employees_status_str(bts_emp_status s);
/* Employee.status text to the enum (NULL or an unknown value: BTS_EMP_OTHER). */
bts_emp_status bts_employees_status_parse(const char *s);
/* HRMS's rule: may this employee get a checkin? Every status but Inactive. */
bool bts_employee_accepts_checkins(const bts_employee *e);

typedef struct bts_employees bts_employees;

int bts_employees_new(bts_employees **ret);
void bts_employees_free(bts_employees *m);

/* Builds the map from the rows of GET /api/resource/Employee (fields name, <field>, status).
 * Rows without a code are skipped; returns the number of employees or a negative error. */
int bts_employees_load(bts_employees *m, const cJSON *rows, const char *field);

/* Looks up a BioTime emp_code; NULL when unmapped. */
const bts_employee *bts_employees_find(const bts_employees *m, const char *code);
size_t bts_employees_count(const bts_employees *m);

#endif

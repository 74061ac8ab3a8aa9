/* emp_code -> ERPNext Employee, from one list request of Employees with the mapping field set. */
#ifndef BTS_EMPLOYEES_H
#define BTS_EMPLOYEES_H

#include <cjson/cJSON.h>
#include "bts/common.h"

typedef struct {
    char *code;   /* value of erpnext.employee_field */
    char *name;   /* Employee name, e.g. HR-EMP-00001 */
    bool active;  /* status == "Active" */
} bts_employee;

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

/* BioTime's personnel beside ERPNext's Employees: who is mapped, who is missing on which
 * side, which leavers BioTime still holds (roster.c), and what a push would change
 * (pushplan.c). Pure: rows in, lists out; no I/O. */
#ifndef BTS_ROSTER_H
#define BTS_ROSTER_H

#include <cjson/cJSON.h>
#include "bts/common.h"
#include "bts/employees.h"

typedef struct {
    int64_t id;          /* BioTime's pk: every write names it */
    char *code;          /* emp_code, trimmed */
    char *first, *last;  /* trimmed; "" for null */
    int64_t dept;        /* department id, 0 when unknown */
    bool resigned;       /* a resignation exists for it */
    int64_t *areas;      /* area ids */
    size_t n_areas;
} bts_bt_person;

typedef struct {
    char *name;          /* HR-EMP-00042 */
    char *full;          /* employee_name */
    char *first, *last;  /* what BioTime should carry (first = employee_name when unset) */
    char *code;          /* erpnext.employee_field, trimmed; "" when unset */
    char *status;        /* as ERPNext wrote it */
    bts_emp_status st;
    char *relieving;     /* "" or YYYY-MM-DD */
} bts_erp_person;

typedef struct bts_roster bts_roster;

int bts_roster_new(bts_roster **ret);
void bts_roster_free(bts_roster *r);

/* Adds rows of /personnel/api/employees/ (one page at a time). Rows without an id or an
 * emp_code are skipped (counted in the return value's complement: returns rows taken). */
int bts_roster_add_biotime(bts_roster *r, const cJSON *rows);

/* Marks as resigned the people named by rows of /personnel/api/resigns/ (employee as an
 * object with id/emp_code, or a bare id). Returns how many it marked. */
int bts_roster_add_resigns(bts_roster *r, const cJSON *rows);

/* Adds ERPNext Employee rows (name, employee_name, first_name, last_name, status,
 * <field>, relieving_date). Returns rows taken. */
int bts_roster_add_erpnext(bts_roster *r, const cJSON *rows, const char *field);

/* Sorts and indexes what was added; call once before compare or plan. */
int bts_roster_index(bts_roster *r);

size_t bts_roster_biotime_count(const bts_roster *r);
size_t bts_roster_erpnext_count(const bts_roster *r);

/* The i-th ERPNext Employee (0..count-1), in code order. */
const bts_erp_person *bts_roster_erpnext_at(const bts_roster *r, size_t i);

/* The i-th BioTime person (0..count-1), in code order. */
const bts_bt_person *bts_roster_biotime_at(const bts_roster *r, size_t i);

/* The BioTime person with this emp_code, or NULL. */
const bts_bt_person *bts_roster_biotime(const bts_roster *r, const char *code);

/* The ERPNext Employee that carries this code (an Active one first when several do). */
const bts_erp_person *bts_roster_erpnext(const bts_roster *r, const char *code);

typedef struct {
    const bts_bt_person *bt;
    const bts_erp_person *erp;
} bts_roster_pair;

typedef struct {
    const bts_bt_person *bt;
    const bts_erp_person **cands; /* ERPNext Employees without a code, same name */
    size_t n_cands;
} bts_roster_unmapped;

typedef struct {
    bts_roster_pair *mapped;        /* the code on both sides */
    size_t n_mapped;
    bts_roster_unmapped *bt_only;   /* in BioTime (not resigned), no Employee carries it */
    size_t n_bt_only;
    const bts_erp_person **erp_only; /* Active, code set, not (or only resigned) in BioTime */
    size_t n_erp_only;
    bts_roster_pair *leavers;       /* Left in ERPNext, not resigned in BioTime */
    size_t n_leavers;
} bts_roster_report;

int bts_roster_compare(const bts_roster *r, bts_roster_report *ret);
void bts_roster_report_clear(bts_roster_report *rep);
bool bts_roster_needs_action(const bts_roster_report *rep);

/* ---- the push (pushplan.c) ---- */

typedef enum { BTS_PUSH_CREATE, BTS_PUSH_UPDATE, BTS_PUSH_RESIGN } bts_push_kind;

typedef struct {
    bts_push_kind kind;
    const bts_erp_person *erp;
    const bts_bt_person *bt;  /* NULL for a create */
    bool rename;              /* update: first or last name differs */
    bool recode;              /* update: ERPNext moved this Employee to another code */
    int64_t *areas;           /* create: the configured areas; update: the person's areas
                               * plus the configured ones, NULL when none is missing */
    size_t n_areas;
    char date[11];            /* resign: YYYY-MM-DD */
} bts_push_op;

/* The code an Employee carried at the previous refresh, or NULL. */
typedef const char *(*bts_push_prev_code_fn)(void *ud, const char *employee);

typedef struct {
    const int64_t *areas;     /* configured area ids, resolved from their codes */
    size_t n_areas;
    int64_t default_area;     /* what a create gets when no area is configured */
    bool resign_leavers;
    const char *today;        /* YYYY-MM-DD in ERPNext's zone */
    bts_push_prev_code_fn prev_code; /* may be NULL */
    void *ud;
} bts_push_rules;

/* What brings BioTime in line with ERPNext (CONTRACT.md §4b): creates for Active and
 * Suspended Employees BioTime lacks, updates for names that differ or configured areas an
 * existing person lacks, resignations of leavers BioTime still holds. An Employee whose code
 * changed since the previous refresh moves its BioTime person to the new code (recode)
 * instead of getting a second one. Nothing else: never an Employee without a code, an
 * Inactive one, or a person no Employee names. */
int bts_push_plan(const bts_roster *r, const bts_push_rules *rules, bts_push_op **ret,
                  size_t *ret_n);
void bts_push_ops_free(bts_push_op *ops, size_t n);

#endif

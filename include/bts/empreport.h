/* --employees: BioTime's personnel beside ERPNext's Employees, read-only. */
#ifndef BTS_EMPREPORT_H
#define BTS_EMPREPORT_H

#include <stdio.h>
#include "bts/config.h"
#include "bts/roster.h"

/* Reads both sides (pages of BioTime's personnel, one list request to ERPNext), prints the
 * report (human or JSON) to out. Returns 0 when nothing needs action, 1 when something
 * does, or a negative BTS_E* when a server could not be read. */
int bts_empreport(const bts_config *cfg, bool json, FILE *out);

/* Every Employee, with the fields the roster needs (one request, no per-employee reads). */
struct bts_erpnext;
int bts_empreport_read_erpnext(struct bts_erpnext *erp, const char *field, bool only_set,
                               cJSON **ret_rows);

#endif

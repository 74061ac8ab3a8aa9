/* employees.push: at each employee-map refresh, BioTime's personnel brought in line with
 * ERPNext (CONTRACT.md §4b). The plan is pushplan.c's; this carries it out, reads every
 * write back, and remembers what BioTime refused so an unchanged refusal is not retried. */
#ifndef BTS_PUSH_H
#define BTS_PUSH_H

#include <stdio.h>
#include <cjson/cJSON.h>
#include "bts/biotime.h"
#include "bts/config.h"

typedef struct {
    uint64_t created, renamed, resigned, refused;
    uint64_t areas_added;  /* existing people who gained configured areas */
    uint64_t writes;       /* write requests made */
    uint64_t left;         /* changes left for a later run (max_writes reached) */
} bts_push_counts;

typedef struct bts_push bts_push;

int bts_push_new(const bts_config *cfg, bts_push **ret);
void bts_push_free(bts_push *p);

/* One run over ERPNext's Employee rows (those carrying the field; fields as
 * bts_empreport_read_erpnext reads them). With dry_run it prints each change to out and
 * writes nothing. After max_writes write requests (0: no limit) it stops and counts what
 * is left. Returns 0, or the error that stopped it (a server unreachable); a refusal of
 * one employee is counted and logged, never an error. */
int bts_push_run(bts_push *p, bts_biotime *bt, const cJSON *erp_rows, bool dry_run, FILE *out,
                 uint64_t max_writes, bts_push_counts *ret);

#endif

/* A BioTime transaction row, parsed leniently (strings or numbers, nulls, missing keys). */
#ifndef BTS_TXN_H
#define BTS_TXN_H

#include <cjson/cJSON.h>
#include "bts/common.h"
#include "bts/timeconv.h"

/* Longest string we keep from a BioTime field; longer values are cut (and said so). */
#define BTS_TXN_FIELD_MAX 140 /* Frappe Data fields are varchar(140) */

typedef struct {
    int64_t id;
    char emp_code[64];
    char punch_time[BTS_TIME_LEN];
    char upload_time[BTS_TIME_LEN];  /* "" when missing or unparsable */
    char punch_state[16];            /* the code as text, e.g. "0", "255" */
    char terminal_sn[64];
    char terminal_alias[128];
    char *raw;                       /* the row as compact JSON text, for the Device Log
                                      * (text, not a tree: a tree costs four times more) */
} bts_txn;

/* Parses one row of /iclock/api/transactions/. Requires id (positive integer, as number or
 * string), emp_code and a valid punch_time; everything else is optional. On error fills err
 * with what was wrong (field and value) and returns BTS_EINVAL. */
int bts_txn_parse(const cJSON *row, bts_txn *ret, char *err, size_t errlen);
void bts_txn_clear(bts_txn *t);

/* Reads a field as text whatever its JSON type: string as is, number as printed, bool as
 * "1"/"0", null or missing as "". Returns the length, or -1 if it was cut to fit. */
int bts_json_text(const cJSON *obj, const char *key, char *out, size_t n);

/* Reads a field as a positive integer (number or decimal string). */
int bts_json_int64(const cJSON *obj, const char *key, int64_t *ret);

#endif

/* --setup-doctypes: creates the "BioTime Device Log" and "Sync Logs" doctypes when they are
 * missing (CONTRACT.md §4, frappe-api.md §8.1) and reports what an existing one lacks. It
 * never changes a doctype that exists: sites that ran the original Frappe app keep theirs. */
#ifndef BTS_SETUP_H
#define BTS_SETUP_H

#include <stdio.h>
#include <cjson/cJSON.h>
#include "bts/config.h"

typedef enum { BTS_SETUP_DEVICE_LOG, BTS_SETUP_SYNC_LOGS } bts_setup_kind;

/* One field the daemon writes into one of its doctypes. */
typedef struct {
    const char *fieldname;
    const char *label;
    const char *fieldtype;
    const char *options;    /* Link target, or NULL */
    bool key;               /* the naming field: reqd and unique */
    bool in_list_view;
    bool needed;            /* false: the sync works without it (a detail is lost) */
} bts_setup_field;

/* The fields of one doctype (at most 32); *ret_n of them. */
const bts_setup_field *bts_setup_fields(bts_setup_kind kind, size_t *ret_n);

/* The configured name of the doctype of this kind. */
const char *bts_setup_doctype_name(const bts_config *cfg, bts_setup_kind kind);

/* Bit i set when field i of bts_setup_fields() is absent from a DocType document's
 * "fields" list (GET /api/resource/DocType/<name>). */
uint32_t bts_setup_missing_mask(bts_setup_kind kind, const cJSON *doctype_doc);

/* "a, b" for the fields in mask (needed ones only, optional ones only, or both); returns
 * how many were written. */
int bts_setup_describe(bts_setup_kind kind, uint32_t mask, bool needed, bool optional,
                       char *out, size_t n);

/* Creates each doctype that is missing and prints one line per doctype to out: "created",
 * "exists, complete" or "exists, missing fields: a, b". Idempotent. Returns 0, BTS_EROLE
 * when the API user lacks System Manager, BTS_EAUTH when ERPNext refuses the key or is not
 * the site, BTS_ETRANSIENT / BTS_EPROTO when it cannot be asked. */
int bts_setup_doctypes(const bts_config *cfg, FILE *out);

#endif

/* ERPNext (Frappe REST API) client: token auth, insert, insert_many, list, get, update. */
#ifndef BTS_ERPNEXT_H
#define BTS_ERPNEXT_H

#include <cjson/cJSON.h>
#include "bts/config.h"
#include "bts/frappe_error.h"
#include "bts/http.h"
#include "bts/pace.h"

typedef struct bts_erpnext bts_erpnext;

/* Every call returns 0, or BTS_ETRANSIENT (retry later), BTS_EAUTH (credentials),
 * BTS_EPROTO (an answer we cannot trust), BTS_EPERM (refused: see err), BTS_ESTOP. */

int bts_erpnext_new(const bts_erpnext_config *cfg, bts_erpnext **ret);
void bts_erpnext_free(bts_erpnext *e);
uint64_t bts_erpnext_request_count(const bts_erpnext *e);
uint64_t bts_erpnext_failure_count(const bts_erpnext *e);

/* A call that returned rc with err, as a failed ERPNext request (for journal fields); no
 * request failed (server "") when rc is not about an answer (out of memory, a stop). */
void bts_erpnext_failure(int rc, const bts_frappe_error *err, bts_http_failure *ret);
/* Its journal fields (SERVER=erpnext, HTTP_STATUS=...) stored in buf, or NULL. */
const char *const *bts_erpnext_fields(int rc, const bts_frappe_error *err,
                                      bts_http_fields *buf);

/* Synchronous calls ask fn after each answer whether to ask again (NULL: never). The
 * asynchronous ones leave that to their caller. */
void bts_erpnext_set_retry(bts_erpnext *e, bts_pace_retry_fn fn, void *ud);

/* POST /api/resource/<doc.doctype>; *ret_doc (may be NULL) is the stored document. */
int bts_erpnext_insert(bts_erpnext *e, const cJSON *doc, cJSON **ret_doc, bts_frappe_error *err);

/* Asynchronous calls on a loop: fn hears rc (as above; BTS_ESTOP when cancelled), the
 * answer's "message" (owned by fn; NULL unless rc is 0) and the error. */
typedef void (*bts_erpnext_done_fn)(void *ud, int rc, cJSON *message,
                                    const bts_frappe_error *err);

/* frappe.client.insert_many of docs (a JSON array): message is the array of names, one
 * per document (checked). All or nothing: one refused document refuses the batch. */
int bts_erpnext_insert_many_start(bts_erpnext *e, bts_http_loop *l, const cJSON *docs,
                                  bts_erpnext_done_fn fn, void *ud);

/* frappe.client.get_list (see bts_erpnext_get_list): message is the list of rows. */
int bts_erpnext_get_list_start(bts_erpnext *e, bts_http_loop *l, const char *doctype,
                               const cJSON *fields, const cJSON *filters, int64_t limit,
                               bts_erpnext_done_fn fn, void *ud);

/* PUT /api/resource/<doctype>/<name> with fields. */
int bts_erpnext_update(bts_erpnext *e, const char *doctype, const char *name,
                       const cJSON *fields, cJSON **ret_doc, bts_frappe_error *err);

/* GET /api/resource/<doctype>/<name>. */
int bts_erpnext_get(bts_erpnext *e, const char *doctype, const char *name, cJSON **ret_doc,
                    bts_frappe_error *err);

/* GET /api/resource/<doctype>?fields=..&filters=..&limit_page_length=..&order_by=..
 * (fields_json and filters_json are JSON text; limit 0 = all). */
int bts_erpnext_list(bts_erpnext *e, const char *doctype, const char *fields_json,
                     const char *filters_json, int64_t limit, const char *order_by,
                     cJSON **ret_rows, bts_frappe_error *err);

/* POST frappe.client.get_list: for filters too long for a URL (e.g. 200 names). Takes
 * ownership of nothing; fields and filters are JSON values. */
int bts_erpnext_get_list(bts_erpnext *e, const char *doctype, const cJSON *fields,
                         const cJSON *filters, int64_t limit, cJSON **ret_rows,
                         bts_frappe_error *err);

/* GET or POST /api/method/<dotted>; *ret_message is "message" of the answer. */
int bts_erpnext_call(bts_erpnext *e, const char *method, const char *dotted, const cJSON *args,
                     cJSON **ret_message, bts_frappe_error *err);

#endif

/* ERPNext client over the Frappe REST API (v1 paths). Only this file and biotime.c know
 * URLs. Errors are decoded by frappe_error.c into one line and a class. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bts/erpnext.h"
#include "bts/log.h"

struct bts_erpnext {
    const bts_erpnext_config *cfg;
    bts_http *http;
    char *auth;  /* "token key:secret"; secret */
    bts_pace_retry_fn retry;
    void *retry_ud;
};

void bts_erpnext_set_retry(bts_erpnext *e, bts_pace_retry_fn fn, void *ud)
{
    e->retry = fn;
    e->retry_ud = ud;
}

int bts_erpnext_new(const bts_erpnext_config *cfg, bts_erpnext **ret)
{
    bts_erpnext *e = calloc(1, sizeof(*e));
    char site[300] = "";
    size_t n;
    if (!e)
        return BTS_ENOMEM;
    e->cfg = cfg;
    if (cfg->site_name && *cfg->site_name)
        snprintf(site, sizeof(site), "X-Frappe-Site-Name: %s", cfg->site_name);
    bts_http_options o = {.timeout_s = cfg->timeout, .tls_verify = cfg->tls_verify,
                          .ca_file = cfg->ca_file, .server = "erpnext",
                          .extra_header = *site ? site : NULL};
    n = strlen(cfg->api_key) + strlen(cfg->api_secret) + 8;
    if (!(e->auth = malloc(n)) || bts_http_new(&o, &e->http) < 0) {
        bts_erpnext_free(e);
        return BTS_ENOMEM;
    }
    snprintf(e->auth, n, "token %s:%s", cfg->api_key, cfg->api_secret);
    *ret = e;
    return 0;
}

void bts_erpnext_free(bts_erpnext *e)
{
    if (!e)
        return;
    if (e->auth) {
        explicit_bzero(e->auth, strlen(e->auth));
        free(e->auth);
    }
    bts_http_free(e->http);
    free(e);
}

uint64_t bts_erpnext_request_count(const bts_erpnext *e)
{
    return e ? bts_http_request_count(e->http) : 0;
}

uint64_t bts_erpnext_failure_count(const bts_erpnext *e)
{
    return e ? bts_http_failure_count(e->http) : 0;
}

/* err is only filled in when a request was made (an unanswered one included). */
void bts_erpnext_failure(int rc, const bts_frappe_error *err, bts_http_failure *ret)
{
    if (rc == BTS_ETRANSIENT || rc == BTS_EAUTH || rc == BTS_EPERM || rc == BTS_EPROTO)
        bts_http_failure_set(ret, "erpnext", err->status, err->curl_error);
    else
        *ret = (bts_http_failure){.status = 0};
}

const char *const *bts_erpnext_fields(int rc, const bts_frappe_error *err,
                                      bts_http_fields *buf)
{
    bts_http_failure f;
    bts_erpnext_failure(rc, err, &f);
    return bts_http_failure_fields(&f, buf);
}

static char *escape_path(const char *s)
{
    return bts_http_escape(s);
}

static int unexpected(bts_frappe_error *err, const char *key, const char *what);

/* Classifies a finished response; on success parses the body into *ret_json. */
static int answer(const bts_http_response *resp, cJSON **ret_json, bts_frappe_error *err)
{
    bts_frappe_error local;
    if (!err)
        err = &local;
    bts_frappe_error_parse(resp->status, resp->content_type, resp->body, resp->body_len, err);
    if (resp->status == 0)
        snprintf(err->message, sizeof(err->message), "%s", resp->error);
    err->curl_error = resp->transport_error;
    if (resp->tls_refused)
        err->cls = BTS_FE_AUTH;
    err->retry_after_s = resp->retry_after_s;
    err->timed_out = resp->timed_out;
    if (err->cls == BTS_FE_NONE) {
        cJSON *j = bts_http_is_json_ok(resp) ? cJSON_ParseWithLength(resp->body, resp->body_len)
                                             : NULL;
        if (!j) {
            err->cls = BTS_FE_TRANSIENT;
            snprintf(err->message, sizeof(err->message),
                     "HTTP %ld but not JSON (Content-Type \"%s\"): a proxy or login page in "
                     "front of ERPNext?", resp->status, resp->content_type);
            return BTS_EPROTO;
        }
        if (ret_json)
            *ret_json = j;
        else
            cJSON_Delete(j);
        return 0;
    }
    switch (err->cls) {
    case BTS_FE_TRANSIENT:
        return BTS_ETRANSIENT;
    case BTS_FE_AUTH:
        return BTS_EAUTH;
    default:
        return BTS_EPERM;
    }
}

static int request_once(bts_erpnext *e, const char *method, const char *url, const char *body,
                        cJSON **ret_json, bts_frappe_error *err)
{
    bts_http_response resp;
    bts_http_request req = {.method = method, .url = url, .body = body, .auth = e->auth};
    int r = bts_http_perform(e->http, &req, &resp);
    if (r == 0)
        r = answer(&resp, ret_json, err);
    bts_http_response_clear(&resp);
    return r;
}

/* What the retry hook says about an answer: a delay before asking again, or -1. Every
 * ERPNext request is idempotent or guarded by a duplicate rule, so asking again is safe. */
static int64_t retry_delay(bts_erpnext *e, int r, const bts_frappe_error *err,
                           unsigned attempt, const char *what_request)
{
    char what[900], line[600];
    if (!e->retry || r == BTS_ESTOP)
        return -1;
    bts_pace_answer a = {.rc = r, .status = err->status, .timed_out = err->timed_out,
                         .retry_after_s = err->retry_after_s, .curl_error = err->curl_error};
    bts_frappe_error_format(err, line, sizeof(line));
    snprintf(what, sizeof(what), "ERPNext %.200s: %s", what_request, line);
    return e->retry(e->retry_ud, &a, attempt, what);
}

/* what names the request for the journal ("Employee list"). */
static int request(bts_erpnext *e, const char *what, const char *method, const char *path_query,
                   const char *body, cJSON **ret_json, bts_frappe_error *err)
{
    char url[4096];
    bts_frappe_error local;
    if (!err)
        err = &local;
    if ((size_t)snprintf(url, sizeof(url), "%s%s", e->cfg->url, path_query) >= sizeof(url))
        return BTS_EINVAL;
    for (unsigned attempt = 1;; attempt++) {
        memset(err, 0, sizeof(*err));
        int r = request_once(e, method, url, body, ret_json, err);
        int64_t delay = retry_delay(e, r, err, attempt, what);
        if (delay < 0)
            return r;
        if (bts_http_sleep(delay) < 0)
            return BTS_ESTOP;
    }
}

/* Takes the named member out of a parsed answer; a 2xx answer without it is not one we
 * can trust (a proxy, another application, a different API version). */
static int take_member(cJSON *j, const char *key, cJSON **ret, bts_frappe_error *err)
{
    cJSON *m = cJSON_DetachItemFromObjectCaseSensitive(j, key);
    cJSON_Delete(j);
    if (!m)
        return unexpected(err, key, "is missing");
    if (ret)
        *ret = m;
    else
        cJSON_Delete(m);
    return 0;
}

/* A 2xx answer of the wrong shape: transient (the cursor stays), and said plainly. */
static int unexpected(bts_frappe_error *err, const char *key, const char *what)
{
    if (err) {
        err->cls = BTS_FE_TRANSIENT;
        snprintf(err->message, sizeof(err->message),
                 "HTTP %ld but the answer's \"%s\" %s: not the Frappe API we expect", err->status,
                 key, what);
    }
    return BTS_EPROTO;
}

int bts_erpnext_insert(bts_erpnext *e, const cJSON *doc, cJSON **ret_doc, bts_frappe_error *err)
{
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(doc, "doctype");
    char path[512];
    cJSON *j = NULL;
    if (!cJSON_IsString(dt))
        return BTS_EINVAL;
    char *edt = escape_path(dt->valuestring);
    char *body = cJSON_PrintUnformatted(doc);
    int r = BTS_ENOMEM;
    if (edt && body) {
        char what[200];
        snprintf(path, sizeof(path), "/api/resource/%s", edt);
        snprintf(what, sizeof(what), "%.150s insert", dt->valuestring);
        if ((r = request(e, what, "POST", path, body, &j, err)) == 0)
            r = take_member(j, "data", ret_doc, err);
    }
    free(edt);
    free(body);
    return r;
}

static char *insert_many_body(const cJSON *docs)
{
    cJSON *o = cJSON_CreateObject();
    char *s = NULL;
    if (o && cJSON_AddItemReferenceToObject(o, "docs", (cJSON *)docs))
        s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* Checks that insert_many named every document it was given. */
static int check_names(const cJSON *names, int n_docs, bts_frappe_error *err)
{
    const cJSON *name;
    bool strings = cJSON_IsArray(names);
    for (name = strings ? names->child : NULL; name; name = name->next)
        strings = strings && cJSON_IsString(name) && *name->valuestring &&
                  strlen(name->valuestring) < 140;
    if (strings && cJSON_GetArraySize(names) == n_docs)
        return 0;
    err->cls = BTS_FE_TRANSIENT;
    snprintf(err->message, sizeof(err->message), "insert_many answered %d names for %d "
             "documents", cJSON_GetArraySize(names), n_docs);
    return BTS_EPROTO;
}

/* An asynchronous call waiting for its answer: what to check, whom to tell. */
typedef struct {
    bts_erpnext_done_fn fn;
    void *ud;
    int n_docs;        /* insert_many: names expected; -1: the answer must be a list */
} pending;

/* A parsed answer's "message", checked for the shape the call promises: n_docs names
 * (insert_many), or a list when n_docs is -1 (get_list). */
static int checked_message(cJSON *j, int n_docs, cJSON **ret, bts_frappe_error *err)
{
    int r = take_member(j, "message", ret, err);
    if (r == 0) {
        if (n_docs >= 0)
            r = check_names(*ret, n_docs, err);
        else if (!cJSON_IsArray(*ret))
            r = unexpected(err, "message", "is not a list");
        if (r < 0) {
            cJSON_Delete(*ret);
            *ret = NULL;
        }
    }
    return r;
}

static int pending_message(const pending *p, const bts_http_response *resp, cJSON **ret,
                           bts_frappe_error *err)
{
    cJSON *j = NULL;
    int r = answer(resp, &j, err);
    return r < 0 ? r : checked_message(j, p->n_docs, ret, err);
}

static void pending_done(void *ud, bts_http_response *resp)
{
    pending *p = ud;
    bts_frappe_error err;
    cJSON *message = NULL;
    int r = BTS_ESTOP;
    memset(&err, 0, sizeof(err));
    if (resp)
        r = pending_message(p, resp, &message, &err);
    else
        snprintf(err.message, sizeof(err.message), "cancelled");
    p->fn(p->ud, r, message, &err);
    free(p);
}

static int start_call(bts_erpnext *e, bts_http_loop *l, const char *dotted, const char *body,
                      int n_docs, bts_erpnext_done_fn fn, void *ud)
{
    char url[1024];
    pending *p = malloc(sizeof(*p));
    if (!p)
        return BTS_ENOMEM;
    *p = (pending){.fn = fn, .ud = ud, .n_docs = n_docs};
    snprintf(url, sizeof(url), "%s/api/method/%s", e->cfg->url, dotted);
    bts_http_request req = {.method = "POST", .url = url, .body = body, .auth = e->auth};
    int r = bts_http_start(l, e->http, &req, pending_done, p);
    if (r < 0)
        free(p);
    return r;
}

int bts_erpnext_insert_many_start(bts_erpnext *e, bts_http_loop *l, const cJSON *docs,
                                  bts_erpnext_done_fn fn, void *ud)
{
    char *body = insert_many_body(docs);
    int r = body ? start_call(e, l, "frappe.client.insert_many", body,
                              cJSON_GetArraySize(docs), fn, ud)
                 : BTS_ENOMEM;
    free(body);
    return r;
}

/* The arguments of frappe.client.get_list, as JSON text. */
static char *get_list_body(const char *doctype, const cJSON *fields, const cJSON *filters,
                           int64_t limit)
{
    cJSON *args = cJSON_CreateObject();
    char *body = NULL;
    if (args && cJSON_AddStringToObject(args, "doctype", doctype) &&
        cJSON_AddItemReferenceToObject(args, "fields", (cJSON *)fields) &&
        cJSON_AddItemReferenceToObject(args, "filters", (cJSON *)filters) &&
        cJSON_AddNumberToObject(args, "limit_page_length", (double)limit))
        body = cJSON_PrintUnformatted(args);
    cJSON_Delete(args);
    return body;
}

int bts_erpnext_get_list_start(bts_erpnext *e, bts_http_loop *l, const char *doctype,
                               const cJSON *fields, const cJSON *filters, int64_t limit,
                               bts_erpnext_done_fn fn, void *ud)
{
    char *body = get_list_body(doctype, fields, filters, limit);
    int r = body ? start_call(e, l, "frappe.client.get_list", body, -1, fn, ud) : BTS_ENOMEM;
    free(body);
    return r;
}

static int doc_path(const char *doctype, const char *name, char *out, size_t n)
{
    char *edt = escape_path(doctype), *en = escape_path(name);
    int r = (edt && en) ? 0 : BTS_ENOMEM;
    if (r == 0 && (size_t)snprintf(out, n, "/api/resource/%s/%s", edt, en) >= n)
        r = BTS_EINVAL;
    free(edt);
    free(en);
    return r;
}

int bts_erpnext_update(bts_erpnext *e, const char *doctype, const char *name,
                       const cJSON *fields, cJSON **ret_doc, bts_frappe_error *err)
{
    char path[1024];
    cJSON *j = NULL;
    int r = doc_path(doctype, name, path, sizeof(path));
    char *body = r == 0 ? cJSON_PrintUnformatted(fields) : NULL;
    if (r == 0 && !body)
        r = BTS_ENOMEM;
    char what[400];
    snprintf(what, sizeof(what), "%.150s %.150s update", doctype, name);
    if (r == 0 && (r = request(e, what, "PUT", path, body, &j, err)) == 0)
        r = take_member(j, "data", ret_doc, err);
    free(body);
    return r;
}

int bts_erpnext_get(bts_erpnext *e, const char *doctype, const char *name, cJSON **ret_doc,
                    bts_frappe_error *err)
{
    char path[1024];
    cJSON *j = NULL;
    int r = doc_path(doctype, name, path, sizeof(path));
    char what[400];
    snprintf(what, sizeof(what), "%.150s %.150s", doctype, name);
    if (r == 0 && (r = request(e, what, "GET", path, NULL, &j, err)) == 0)
        r = take_member(j, "data", ret_doc, err);
    return r;
}

/* Appends "&key=<escaped value>" to a query being built. */
static int add_param(char *q, size_t n, const char *key, const char *value)
{
    char *ev = escape_path(value);
    size_t len = strlen(q);
    if (!ev)
        return BTS_ENOMEM;
    int w = snprintf(q + len, n - len, "%s%s=%s", len ? "&" : "", key, ev);
    free(ev);
    return (w < 0 || (size_t)w >= n - len) ? BTS_EINVAL : 0;
}

int bts_erpnext_list(bts_erpnext *e, const char *doctype, const char *fields_json,
                     const char *filters_json, int64_t limit, const char *order_by,
                     cJSON **ret_rows, bts_frappe_error *err)
{
    char query[3072] = "", limit_s[32], path[4096];
    cJSON *j = NULL;
    char *edt = escape_path(doctype);
    int r = edt ? 0 : BTS_ENOMEM;
    snprintf(limit_s, sizeof(limit_s), "%lld", (long long)limit);
    if (r == 0 && fields_json)
        r = add_param(query, sizeof(query), "fields", fields_json);
    if (r == 0 && filters_json)
        r = add_param(query, sizeof(query), "filters", filters_json);
    if (r == 0 && order_by)
        r = add_param(query, sizeof(query), "order_by", order_by);
    if (r == 0)
        r = add_param(query, sizeof(query), "limit_page_length", limit_s);
    if (r == 0 && (size_t)snprintf(path, sizeof(path), "/api/resource/%s?%s", edt, query) >=
                      sizeof(path))
        r = BTS_EINVAL;
    char what[200];
    snprintf(what, sizeof(what), "%.150s list", doctype);
    if (r == 0 && (r = request(e, what, "GET", path, NULL, &j, err)) == 0)
        r = take_member(j, "data", ret_rows, err);
    if (r == 0 && !cJSON_IsArray(*ret_rows)) {
        cJSON_Delete(*ret_rows);
        *ret_rows = NULL;
        r = unexpected(err, "data", "is not a list");
    }
    free(edt);
    return r;
}

int bts_erpnext_call(bts_erpnext *e, const char *method, const char *dotted, const cJSON *args,
                     cJSON **ret_message, bts_frappe_error *err)
{
    char path[512];
    cJSON *j = NULL;
    char *body = args ? cJSON_PrintUnformatted(args) : NULL;
    if (args && !body)
        return BTS_ENOMEM;
    snprintf(path, sizeof(path), "/api/method/%s", dotted);
    int r = request(e, dotted, method, path, body, &j, err);
    if (r == 0)
        r = take_member(j, "message", ret_message, err);
    free(body);
    return r;
}

int bts_erpnext_get_list(bts_erpnext *e, const char *doctype, const cJSON *fields,
                         const cJSON *filters, int64_t limit, cJSON **ret_rows,
                         bts_frappe_error *err)
{
    char *body = get_list_body(doctype, fields, filters, limit);
    cJSON *j = NULL;
    if (!body)
        return BTS_ENOMEM;
    char what[200];
    snprintf(what, sizeof(what), "%.150s list", doctype);
    int r = request(e, what, "POST", "/api/method/frappe.client.get_list", body, &j, err);
    free(body);
    return r < 0 ? r : checked_message(j, -1, ret_rows, err);
}

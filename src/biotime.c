/* BioTime client: login (JWT, Token, static token, Basic), JWT expiry, transaction pages
 * and terminals. Only this file and erpnext.c know URLs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bts/base64.h"
#include "bts/biotime.h"
#include "bts/log.h"
#include "bts/txn.h"

#define LOGIN_REFUSED_PAUSE_MS (10 * 60 * 1000) /* a refused password waits: accounts lock */
#define RENEW_BEFORE_S 300 /* renew a JWT this long before it expires (or at 3/4 of a short life) */
#define MAX_TERMINAL_PAGES 100

struct bts_biotime {
    const bts_biotime_config *cfg;
    bts_http *http;
    char *auth;               /* full Authorization header value; secret */
    time_t renew_at;          /* log in again from then on */
    int64_t refused_until_ms; /* no login attempt before this (after a refused password) */
    char refused_reason[256];
    bts_http_failure failure; /* the last answer that made a call fail */
    bts_pace_retry_fn retry;
    void *retry_ud;
};

/* Remembers resp as what made a call fail, and gives the journal fields that say so. */
static const char *const *failed(bts_biotime *b, const bts_http_response *resp,
                                 bts_http_fields *buf)
{
    bts_http_failure_set(&b->failure, "biotime", resp->status, resp->transport_error);
    return bts_http_failure_fields(&b->failure, buf);
}

const bts_http_failure *bts_biotime_failure(const bts_biotime *b)
{
    return &b->failure;
}

void bts_biotime_set_retry(bts_biotime *b, bts_pace_retry_fn fn, void *ud)
{
    b->retry = fn;
    b->retry_ud = ud;
}

/* What a response means to the pace: transient (5xx, 429, no answer) or an answer. */
static bts_pace_answer pace_answer(const bts_http_response *resp)
{
    bool transient = bts_http_is_transient(resp) && !resp->tls_refused;
    return (bts_pace_answer){.rc = transient ? BTS_ETRANSIENT : 0, .status = resp->status,
                             .timed_out = resp->timed_out, .curl_error = resp->transport_error,
                             .retry_after_s = resp->retry_after_s};
}

/* One request, asked again while the retry hook says so (BioTime GETs and logins are
 * idempotent). Returns 0 with the last response, or BTS_ESTOP/BTS_ENOMEM. */
static int perform(bts_biotime *b, const bts_http_request *req, const char *what,
                   bts_http_response *resp)
{
    for (unsigned attempt = 1;; attempt++) {
        int r = bts_http_perform(b->http, req, resp);
        if (r < 0 || !b->retry)
            return r;
        bts_pace_answer a = pace_answer(resp);
        char line[512];
        if (resp->status)
            snprintf(line, sizeof(line), "BioTime %s: server answered HTTP %ld", what,
                     resp->status);
        else
            snprintf(line, sizeof(line), "BioTime %s: %s", what, resp->error);
        int64_t delay = b->retry(b->retry_ud, &a, attempt, line);
        if (delay < 0)
            return 0;
        bts_http_response_clear(resp);
        if (bts_http_sleep(delay) < 0)
            return BTS_ESTOP;
    }
}

int bts_biotime_new(const bts_biotime_config *cfg, bts_biotime **ret)
{
    bts_biotime *b = calloc(1, sizeof(*b));
    if (!b)
        return BTS_ENOMEM;
    b->cfg = cfg;
    bts_http_options o = {.timeout_s = cfg->timeout, .tls_verify = cfg->tls_verify,
                          .ca_file = cfg->ca_file, .server = "biotime"};
    int r = bts_http_new(&o, &b->http);
    if (r < 0) {
        free(b);
        return r;
    }
    *ret = b;
    return 0;
}

static void forget_token(bts_biotime *b)
{
    if (b->auth) {
        explicit_bzero(b->auth, strlen(b->auth));
        free(b->auth);
    }
    b->auth = NULL;
    b->renew_at = 0;
}

void bts_biotime_free(bts_biotime *b)
{
    if (!b)
        return;
    forget_token(b);
    bts_http_free(b->http);
    free(b);
}

uint64_t bts_biotime_request_count(const bts_biotime *b)
{
    return b ? bts_http_request_count(b->http) : 0;
}

uint64_t bts_biotime_failure_count(const bts_biotime *b)
{
    return b ? bts_http_failure_count(b->http) : 0;
}

static int set_auth(bts_biotime *b, const char *scheme, const char *value)
{
    size_t n = strlen(scheme) + strlen(value) + 2;
    forget_token(b);
    if (!(b->auth = malloc(n)))
        return BTS_ENOMEM;
    snprintf(b->auth, n, "%s %s", scheme, value);
    bts_log_add_secret(value);
    return 0;
}

static int set_basic(bts_biotime *b)
{
    size_t n = strlen(b->cfg->username) + strlen(b->cfg->password) + 2;
    char *pair = malloc(n);
    if (!pair)
        return BTS_ENOMEM;
    snprintf(pair, n, "%s:%s", b->cfg->username, b->cfg->password);
    char *enc = bts_base64_encode((unsigned char *)pair, n - 1);
    explicit_bzero(pair, n);
    free(pair);
    if (!enc)
        return BTS_ENOMEM;
    int r = set_auth(b, "Basic", enc);
    explicit_bzero(enc, strlen(enc));
    free(enc);
    return r;
}

int64_t bts_jwt_exp(const char *jwt)
{
    const char *dot1 = strchr(jwt, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    size_t len;
    int64_t exp = -1;
    if (!dot2 || dot2 - dot1 - 1 > 8192)
        return -1;
    unsigned char *payload = bts_base64_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &len);
    if (!payload)
        return -1;
    cJSON *j = cJSON_ParseWithLength((char *)payload, len);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "exp");
    if (cJSON_IsNumber(e) && e->valuedouble > 0 && e->valuedouble < 1e12)
        exp = (int64_t)e->valuedouble;
    cJSON_Delete(j);
    free(payload);
    return exp;
}

static char *login_body(const bts_biotime_config *cfg)
{
    cJSON *o = cJSON_CreateObject();
    char *s = NULL;
    if (!o)
        return NULL;
    if (*cfg->company) {
        cJSON_AddStringToObject(o, "company", cfg->company);
        cJSON_AddStringToObject(o, "email", cfg->username);
    } else {
        cJSON_AddStringToObject(o, "username", cfg->username);
    }
    cJSON_AddStringToObject(o, "password", cfg->password);
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* The token from a login answer: "token", or "access"/"access_token" on some rebrands. */
static const char *token_of(const cJSON *j)
{
    const char *keys[] = {"token", "access", "access_token"};
    for (size_t i = 0; i < BTS_ARRAY_SIZE(keys); i++) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, keys[i]);
        if (cJSON_IsString(t) && *t->valuestring && strlen(t->valuestring) < 8192)
            return t->valuestring;
    }
    return NULL;
}

static int login_refused(bts_biotime *b, const bts_http_response *resp)
{
    bts_http_fields fields;
    snprintf(b->refused_reason, sizeof(b->refused_reason),
             "BioTime refused the login of user \"%s\" (HTTP %ld): check biotime.username and "
             "the password, then reload (systemctl reload biotime-syncd); not retrying for %d "
             "minutes so the account does not lock",
             b->cfg->username, resp->status, LOGIN_REFUSED_PAUSE_MS / 60000);
    b->refused_until_ms = bts_now_ms() + LOGIN_REFUSED_PAUSE_MS;
    bts_log_fields(LOG_ERR, failed(b, resp, &fields), "%s", b->refused_reason);
    return BTS_EAUTH;
}

static int login_answer(bts_biotime *b, const bts_http_response *resp, const char *url)
{
    bts_http_fields fields;
    if (resp->status == 400 || resp->status == 401 || resp->status == 403)
        return login_refused(b, resp);
    if (bts_http_is_transient(resp)) {
        bts_log_fields(resp->tls_refused ? LOG_ERR : LOG_WARNING, failed(b, resp, &fields),
                       "BioTime login at %s failed: %s", url,
                       resp->status ? "server error" : resp->error);
        return resp->tls_refused ? BTS_EAUTH : BTS_ETRANSIENT;
    }
    cJSON *j = bts_http_is_json_ok(resp) ? cJSON_ParseWithLength(resp->body, resp->body_len) : NULL;
    const char *token = token_of(j);
    int r = BTS_EPROTO;
    if (!token) {
        bts_log_fields(LOG_ERR, failed(b, resp, &fields),
                       "BioTime login at %s: HTTP %ld without a token (%s); is biotime.url the "
                       "BioTime server?", url, resp->status, resp->content_type);
        goto out;
    }
    r = set_auth(b, b->cfg->auth == BTS_AUTH_JWT ? "JWT" : "Token", token);
    if (r == 0 && b->cfg->auth == BTS_AUTH_JWT) {
        int64_t exp = bts_jwt_exp(token);
        time_t now = time(NULL);
        int64_t margin = exp > now ? (exp - now) / 4 : 0;
        b->renew_at = exp > 0 ? (time_t)(exp - (margin < RENEW_BEFORE_S ? margin : RENEW_BEFORE_S))
                              : 0;
        bts_info("logged in to BioTime as %s; token %s", b->cfg->username,
                 exp > 0 ? "expiry read from the JWT" : "without a readable expiry");
    }
out:
    cJSON_Delete(j);
    return r;
}

static int login_request(bts_biotime *b)
{
    char url[1024];
    const char *path = b->cfg->auth == BTS_AUTH_JWT ? "/jwt-api-token-auth/" : "/api-token-auth/";
    snprintf(url, sizeof(url), "%s%s", b->cfg->url, path);
    char *body = login_body(b->cfg);
    if (!body)
        return BTS_ENOMEM;
    bts_http_request req = {.method = "POST", .url = url, .body = body};
    bts_http_response resp;
    int r = perform(b, &req, "login", &resp);
    explicit_bzero(body, strlen(body));
    free(body);
    if (r == 0)
        r = login_answer(b, &resp, url);
    bts_http_response_clear(&resp);
    return r;
}

int bts_biotime_login(bts_biotime *b)
{
    const bts_biotime_config *c = b->cfg;
    if (c->auth == BTS_AUTH_BASIC)
        return b->auth ? 0 : set_basic(b);
    if (c->auth == BTS_AUTH_TOKEN && *c->token)
        return b->auth ? 0 : set_auth(b, "Token", c->token);
    if (b->auth && (b->renew_at == 0 || time(NULL) < b->renew_at))
        return 0;
    if (bts_now_ms() < b->refused_until_ms) {
        bts_debug("not logging in to BioTime again yet: %s", b->refused_reason);
        return BTS_EAUTH;
    }
    return login_request(b);
}

/* A fresh login can cure a 401/403 only when we log in ourselves. */
static bool relogin_possible(const bts_biotime_config *c)
{
    return c->auth == BTS_AUTH_JWT || (c->auth == BTS_AUTH_TOKEN && !*c->token);
}

/* METHOD path?query with the current credentials; on 401/403 logs in again once. what names
 * the request for the journal ("transactions page 3"). Only a GET is asked again after a
 * transient failure: a write that may have been done is the caller's to check. */
static int request(bts_biotime *b, const char *method, const char *path_query,
                   const char *body, const char *what, bts_http_response *resp)
{
    char url[2048];
    snprintf(url, sizeof(url), "%s%s", b->cfg->url, path_query);
    for (int attempt = 0;; attempt++) {
        int r = bts_biotime_login(b);
        if (r < 0)
            return r;
        bts_http_request req = {.method = method, .url = url, .body = body, .auth = b->auth};
        r = strcmp(method, "GET") == 0 ? perform(b, &req, what, resp)
                                       : bts_http_perform(b->http, &req, resp);
        if (r < 0)
            return r;
        if (resp->status != 401 && resp->status != 403)
            return 0;
        if (attempt > 0 || !relogin_possible(b->cfg))
            return 0;
        bts_http_response_clear(resp);
        forget_token(b);
    }
}

int bts_biotime_request(bts_biotime *b, const char *method, const char *path_query,
                        const char *body, bts_http_response *resp)
{
    return request(b, method, path_query, body, path_query, resp);
}

static int get_json(bts_biotime *b, const char *path_query, const char *what,
                    bts_http_response *resp)
{
    return request(b, "GET", path_query, NULL, what, resp);
}

void bts_page_clear(bts_page *p)
{
    if (!p)
        return;
    cJSON_Delete(p->rows);
    memset(p, 0, sizeof(*p));
}

/* Why a refused API call was refused, with what to do about it. */
static int refused(bts_biotime *b, const bts_http_response *resp, const char *what)
{
    bts_http_fields fields;
    const char *hint = "";
    if (resp->status == 403 && b->cfg->auth != BTS_AUTH_BASIC)
        hint = " (a 403 with a valid token usually means the BioTime licence lacks the API "
               "module: try biotime.auth = \"basic\")";
    else if (resp->status == 401)
        hint = " (check biotime.username/password or the token)";
    bts_log_fields(LOG_ERR, failed(b, resp, &fields), "BioTime refused %s: HTTP %ld%s", what,
                   resp->status, hint);
    return BTS_EAUTH;
}

/* A short printable description of a body that is not what we expected. */
static void describe_body(const bts_http_response *r, char *out, size_t n)
{
    char sample[48];
    size_t k = 0;
    for (size_t i = 0; r->body && i < r->body_len && k + 1 < sizeof(sample); i++) {
        unsigned char c = (unsigned char)r->body[i];
        sample[k++] = (c >= 32 && c < 127) ? (char)c : '.';
    }
    sample[k] = '\0';
    snprintf(out, n, "HTTP %ld, Content-Type \"%s\", %zu bytes: \"%s%s\"", r->status,
             r->content_type, r->body_len, sample, r->body_len > k ? "..." : "");
}

/* Triage of a response to a GET: 0 when it is a trustworthy JSON answer. */
static int check_response(bts_biotime *b, const bts_http_response *resp, const char *what)
{
    char desc[256];
    bts_http_fields fields;
    if (resp->status == 401 || resp->status == 403)
        return refused(b, resp, what);
    if (resp->status == 0) {
        bts_log_fields(resp->tls_refused ? LOG_ERR : LOG_WARNING, failed(b, resp, &fields),
                       "BioTime %s failed: %s", what, resp->error);
        return resp->tls_refused ? BTS_EAUTH : BTS_ETRANSIENT;
    }
    if (bts_http_is_transient(resp)) {
        bts_log_fields(LOG_WARNING, failed(b, resp, &fields),
                       "BioTime %s: server answered HTTP %ld", what, resp->status);
        return BTS_ETRANSIENT;
    }
    if (!bts_http_is_json_ok(resp)) {
        describe_body(resp, desc, sizeof(desc));
        bts_log_fields(LOG_WARNING, failed(b, resp, &fields),
                       "BioTime %s: not a JSON answer (%s)%s", what, desc,
                       strstr(resp->content_type, "html") ? "; wrong biotime.url or a login "
                       "page in front of the API?" : "");
        return BTS_EPROTO;
    }
    b->failure = (bts_http_failure){.status = 0}; /* an earlier failure is not this call's */
    return 0;
}

/* Was id already in the rows before `until`? (A broken server repeats a row; a page is at
 * most a few thousand rows, so a linear look is cheap enough.) */
static bool repeated_id(const cJSON *rows, const cJSON *until, int64_t id)
{
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) {
        int64_t other;
        if (row == until)
            return false;
        if (bts_json_int64(row, "id", &other) == 0 && other == id)
            return true;
    }
    return false;
}

static void page_ids(bts_page *p)
{
    const cJSON *row;
    p->ascending = true;
    cJSON_ArrayForEach(row, p->rows) {
        int64_t id;
        if (bts_json_int64(row, "id", &id) < 0)
            continue;
        if (p->first_id == 0)
            p->first_id = id;
        if (id > p->last_id)
            p->last_id = id;
        else if (!repeated_id(p->rows, row, id)) /* a repeat is not another order */
            p->ascending = false;
    }
}

int bts_biotime_parse_page(const char *body, size_t len, bts_page *ret, char *err, size_t n)
{
    memset(ret, 0, sizeof(*ret));
    cJSON *j = cJSON_ParseWithLength(body, len);
    int r = BTS_EPROTO;
    if (!cJSON_IsObject(j)) {
        snprintf(err, n, "body is not a JSON object");
        goto out;
    }
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "code");
    if (!cJSON_IsNumber(code) || code->valuedouble != 0) {
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(j, "msg");
        snprintf(err, n, "\"code\" is %s (msg \"%.100s\"), not 0",
                 cJSON_IsNumber(code) ? "non-zero" : "missing or not a number",
                 cJSON_IsString(msg) ? msg->valuestring : "");
        goto out;
    }
    cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
    cJSON *results = cJSON_GetObjectItemCaseSensitive(j, "results");
    if ((!cJSON_IsArray(data) || cJSON_GetArraySize(data) == 0) && cJSON_IsArray(results))
        data = results; /* the 8.5 manual's envelope carries both */
    if (!cJSON_IsArray(data)) {
        snprintf(err, n, "\"data\" is missing or not a list");
        goto out;
    }
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(j, "count");
    const cJSON *next = cJSON_GetObjectItemCaseSensitive(j, "next");
    ret->count = cJSON_IsNumber(count) && count->valuedouble >= 0 && count->valuedouble < 9e15
                     ? (int64_t)count->valuedouble : -1;
    ret->has_next = cJSON_IsString(next) && *next->valuestring;
    ret->rows = cJSON_DetachItemViaPointer(j, data);
    page_ids(ret);
    r = 0;
    if (ret->first_id == 0 && cJSON_GetArraySize(ret->rows) > 0) {
        /* not one row we could name: another API version or a broken answer, not data */
        snprintf(err, n, "none of its %d rows has a usable \"id\"", cJSON_GetArraySize(ret->rows));
        bts_page_clear(ret);
        r = BTS_EPROTO;
    }
out:
    cJSON_Delete(j);
    return r;
}

/* DRF answers a page past the end with 404 {"detail": "Invalid page."}. */
static bool is_past_end(const bts_http_response *r)
{
    return r->status == 404 && r->body && strstr(r->body, "Invalid page");
}

static void transactions_path(int64_t page, int64_t page_size, const char *extra, char *pq,
                              size_t n, char *what, size_t what_n)
{
    snprintf(pq, n, "/iclock/api/transactions/?page=%lld&page_size=%lld%s%s", (long long)page,
             (long long)page_size, extra && *extra ? "&" : "", extra ? extra : "");
    snprintf(what, what_n, "transactions page %lld", (long long)page);
}

/* Triage and parse of an answer to a transactions request. */
static int page_answer(bts_biotime *b, const bts_http_response *resp, const char *what,
                       bts_page *ret)
{
    char err[256];
    bts_http_fields fields;
    int r;
    memset(ret, 0, sizeof(*ret));
    if (is_past_end(resp)) {
        ret->rows = cJSON_CreateArray();
        return ret->rows ? 0 : BTS_ENOMEM;
    }
    if ((r = check_response(b, resp, what)) < 0)
        return r;
    if ((r = bts_biotime_parse_page(resp->body, resp->body_len, ret, err, sizeof(err))) < 0) {
        bts_log_fields(LOG_WARNING, failed(b, resp, &fields), "BioTime %s: unusable answer: %s",
                       what, err);
    }
    return r;
}

int bts_biotime_transactions(bts_biotime *b, int64_t page, int64_t page_size, const char *extra,
                             bts_page *ret)
{
    char pq[1536], what[96];
    bts_http_response resp = {0};
    transactions_path(page, page_size, extra, pq, sizeof(pq), what, sizeof(what));
    memset(ret, 0, sizeof(*ret));
    int r = get_json(b, pq, what, &resp);
    if (r == 0)
        r = page_answer(b, &resp, what, ret);
    bts_http_response_clear(&resp);
    return r;
}

/* A transactions request in flight on a loop. */
typedef struct {
    bts_biotime *b;
    bts_biotime_page_fn fn;
    void *ud;
    int64_t page, page_size;
    char *extra;
} page_request;

static void page_request_done(void *ud, bts_http_response *resp)
{
    page_request *q = ud;
    bts_page page;
    char pq[1536], what[96];
    int r = BTS_ESTOP;
    memset(&page, 0, sizeof(page));
    transactions_path(q->page, q->page_size, q->extra, pq, sizeof(pq), what, sizeof(what));
    if (resp && (resp->status == 401 || resp->status == 403) && relogin_possible(q->b->cfg)) {
        forget_token(q->b); /* the token expired early: log in again, ask again, once */
        r = bts_biotime_transactions(q->b, q->page, q->page_size, q->extra, &page);
    } else if (resp) {
        r = page_answer(q->b, resp, what, &page);
    }
    if (resp && r < 0) { /* what the caller needs to retry it well */
        page.status = resp->status;
        page.timed_out = resp->timed_out;
        page.retry_after_s = resp->retry_after_s;
        page.curl_error = resp->transport_error;
    }
    q->fn(q->ud, r, &page);
    bts_page_clear(&page);
    free(q->extra);
    free(q);
}

bts_pace_answer bts_biotime_page_outcome(int rc, const bts_page *page)
{
    return (bts_pace_answer){.rc = rc, .status = page->status, .timed_out = page->timed_out,
                             .retry_after_s = rc < 0 ? page->retry_after_s : -1,
                             .curl_error = page->curl_error};
}

int bts_biotime_transactions_start(bts_biotime *b, bts_http_loop *l, int64_t page,
                                   int64_t page_size, const char *extra, bts_biotime_page_fn fn,
                                   void *ud)
{
    char pq[1536], what[96], url[2048];
    int r = bts_biotime_login(b);
    if (r < 0)
        return r;
    page_request *q = calloc(1, sizeof(*q));
    if (!q || (extra && !(q->extra = strdup(extra)))) {
        free(q);
        return BTS_ENOMEM;
    }
    *q = (page_request){.b = b, .fn = fn, .ud = ud, .page = page, .page_size = page_size,
                        .extra = q->extra};
    transactions_path(page, page_size, extra, pq, sizeof(pq), what, sizeof(what));
    snprintf(url, sizeof(url), "%s%s", b->cfg->url, pq);
    bts_http_request req = {.method = "GET", .url = url, .auth = b->auth};
    if ((r = bts_http_start(l, b->http, &req, page_request_done, q)) < 0) {
        free(q->extra);
        free(q);
    }
    return r;
}

int bts_biotime_get_page(bts_biotime *b, const char *path_query, const char *what,
                         bts_page *ret)
{
    bts_http_response resp = {0};
    int r = get_json(b, path_query, what, &resp);
    memset(ret, 0, sizeof(*ret));
    if (r == 0)
        r = page_answer(b, &resp, what, ret);
    bts_http_response_clear(&resp);
    return r;
}

int bts_biotime_terminals(bts_biotime *b, cJSON **ret_rows)
{
    cJSON *all = cJSON_CreateArray();
    int r = all ? 0 : BTS_ENOMEM;
    for (int page = 1; r == 0 && page <= MAX_TERMINAL_PAGES; page++) {
        char pq[128], err[256];
        bts_http_response resp;
        bts_page p;
        snprintf(pq, sizeof(pq), "/iclock/api/terminals/?page=%d&page_size=100", page);
        if ((r = get_json(b, pq, "terminal list", &resp)) < 0)
            break;
        if ((r = check_response(b, &resp, "terminal list")) == 0)
            r = bts_biotime_parse_page(resp.body, resp.body_len, &p, err, sizeof(err));
        bts_http_response_clear(&resp);
        if (r < 0)
            break;
        cJSON *row;
        while ((row = cJSON_DetachItemFromArray(p.rows, 0)))
            cJSON_AddItemToArray(all, row);
        bool more = p.has_next;
        bts_page_clear(&p);
        if (!more)
            break;
    }
    if (r < 0) {
        cJSON_Delete(all);
        return r;
    }
    *ret_rows = all;
    return 0;
}

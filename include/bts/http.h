/* HTTP over libcurl (the only module that includes curl.h): one handle per server,
 * keep-alive, timeouts, TLS, size limits, abort on a stop request, asynchronous requests
 * on a loop. */
#ifndef BTS_HTTP_H
#define BTS_HTTP_H

#include "bts/common.h"

#define BTS_HTTP_MAX_BODY (64u * 1024u * 1024u) /* hard cap on any response body */

typedef struct bts_http bts_http;

typedef struct {
    long timeout_s;
    bool tls_verify;
    const char *ca_file;       /* "" or NULL = system store */
    size_t max_body;           /* 0 = BTS_HTTP_MAX_BODY */
    const char *server;        /* "biotime" or "erpnext", for log fields */
    const char *extra_header;  /* one more "Name: value" header, or NULL */
} bts_http_options;

typedef struct {
    const char *method;        /* "GET", "POST", "PUT" */
    const char *url;
    const char *body;          /* JSON, or NULL */
    const char *auth;          /* full header value, e.g. "token k:s"; never logged */
} bts_http_request;

typedef struct {
    long status;               /* 0 when no HTTP response came */
    char *body;                /* NUL-terminated; NULL when empty */
    size_t body_len;
    char content_type[128];
    long retry_after_s;        /* Retry-After in seconds, or -1 */
    int transport_error;       /* 0, or the libcurl error code */
    bool timed_out;            /* no complete answer within the timeout */
    char error[256];           /* transport error text ("" when none) */
    bool tls_refused;          /* the server's certificate failed verification: no retry helps */
} bts_http_response;

/* The request a failure came from, for the log's journal fields: which server answered,
 * its HTTP status (0: no answer came) and, without an answer, libcurl's error code. An
 * empty server means no request failed (a local error). */
typedef struct {
    char server[8];            /* "biotime", "erpnext" or "" */
    long status;
    int curl_error;
} bts_http_failure;

/* Storage for the fields of one failure: SERVER=, HTTP_STATUS= and, without an answer,
 * CURL_ERROR=. */
typedef struct {
    char server[24], status[40], curl[32];
    const char *list[4];
} bts_http_fields;

/* Records a failed request to server: the status it answered (0: none) and libcurl's
 * error (0: none). */
void bts_http_failure_set(bts_http_failure *f, const char *server, long status, int curl_error);

/* The journal fields of f (NULL-terminated, in buf), or NULL when no request failed. */
const char *const *bts_http_failure_fields(const bts_http_failure *f, bts_http_fields *buf);

/* Called often during transfers: return non-zero to abort them (stop requested). Also the
 * place the daemon pings its watchdog during long transfers. */
typedef int (*bts_http_abort_fn)(void);
void bts_http_set_abort_hook(bts_http_abort_fn fn);

int bts_http_global_init(void);
void bts_http_global_cleanup(void);

int bts_http_new(const bts_http_options *o, bts_http **ret);
void bts_http_free(bts_http *h);

/* Performs one request. Returns 0 when a response (any status) came back, BTS_ESTOP when
 * aborted, BTS_ETRANSIENT on transport failure (resp->error says what). */
int bts_http_perform(bts_http *h, const bts_http_request *req, bts_http_response *resp);

/* Asynchronous requests, any number of servers on one loop (libcurl multi): connections
 * are kept alive across requests where the server allows it. */
typedef struct bts_http_loop bts_http_loop;

/* Called once per started request: with the response (the callee may take resp->body, and
 * must leave the rest), or with NULL when the loop cancelled it (stop, or error cleanup). */
typedef void (*bts_http_done_fn)(void *ud, bts_http_response *resp);

int bts_http_loop_new(bts_http_loop **ret);
/* Cancels what is still in flight (each owner hears NULL), then frees. NULL-safe. */
void bts_http_loop_free(bts_http_loop *l);
void bts_http_loop_cancel(bts_http_loop *l);

/* Starts req on the loop (the request's strings are copied). */
int bts_http_start(bts_http_loop *l, bts_http *h, const bts_http_request *req,
                   bts_http_done_fn done, void *ud);

/* Moves transfers on, waiting up to timeout_ms for one to finish, and calls the owners of
 * those that finished (with none in flight, it just waits). Returns how many finished, or
 * BTS_ESTOP when a stop was requested (then cancel the loop). */
int bts_http_loop_run(bts_http_loop *l, int timeout_ms);

/* Waits ms, returning early with BTS_ESTOP when a stop is requested; else 0. */
int bts_http_sleep(int64_t ms);

/* Requests in flight. */
size_t bts_http_loop_busy(const bts_http_loop *l);

void bts_http_response_clear(bts_http_response *r);

/* 1 when the response is 2xx with a JSON content type. */
int bts_http_is_json_ok(const bts_http_response *r);

/* Transient (retry later): transport error, 408, 425, 429, 5xx. */
int bts_http_is_transient(const bts_http_response *r);

/* URL-encodes s into a new string. */
char *bts_http_escape(const char *s);

/* Number of requests performed since start (for figures and tests). */
uint64_t bts_http_request_count(const bts_http *h);
/* Of those, the ones that failed: no answer (transport, timeout, TLS, body too large) or a
 * transient answer (bts_http_is_transient). A stop's abort is not a failure. */
uint64_t bts_http_failure_count(const bts_http *h);

#endif

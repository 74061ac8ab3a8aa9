/* HTTP over libcurl. The only file that includes curl.h: everything else sees
 * bts_http_request / bts_http_response. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bts/http.h"
#include "bts/log.h"

struct bts_http {
    bts_http_options opt;
    char *ca_file;
    char *server;
    char *extra_header;
    CURL *easy;        /* reused for sequential requests: keeps connections alive */
    uint64_t requests;
    uint64_t failures; /* no answer, or one that says "try later" (for the metrics) */
};

typedef struct {
    bts_http_response *resp;
    size_t max_body;
    size_t cap;
    int too_large;
} transfer;

static bts_http_abort_fn abort_hook;

void bts_http_set_abort_hook(bts_http_abort_fn fn) { abort_hook = fn; }

int bts_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : BTS_ENOMEM;
}

void bts_http_global_cleanup(void) { curl_global_cleanup(); }

int bts_http_new(const bts_http_options *o, bts_http **ret)
{
    bts_http *h = calloc(1, sizeof(*h));
    if (!h)
        return BTS_ENOMEM;
    h->opt = *o;
    h->ca_file = bts_strdup0(o->ca_file && *o->ca_file ? o->ca_file : NULL);
    h->server = bts_strdup0(o->server ? o->server : "server");
    h->extra_header = bts_strdup0(o->extra_header && *o->extra_header ? o->extra_header : NULL);
    if (h->opt.max_body == 0 || h->opt.max_body > BTS_HTTP_MAX_BODY)
        h->opt.max_body = BTS_HTTP_MAX_BODY;
    h->easy = curl_easy_init();
    if (!h->server || !h->easy) {
        bts_http_free(h);
        return BTS_ENOMEM;
    }
    *ret = h;
    return 0;
}

void bts_http_free(bts_http *h)
{
    if (!h)
        return;
    if (h->easy)
        curl_easy_cleanup(h->easy);
    free(h->ca_file);
    free(h->server);
    free(h->extra_header);
    free(h);
}

void bts_http_response_clear(bts_http_response *r)
{
    if (!r)
        return;
    free(r->body);
    memset(r, 0, sizeof(*r));
    r->retry_after_s = -1;
}

uint64_t bts_http_request_count(const bts_http *h) { return h ? h->requests : 0; }

uint64_t bts_http_failure_count(const bts_http *h) { return h ? h->failures : 0; }

/* Appends a chunk of the body, refusing to grow past the limit (a hostile or broken
 * server must not make us allocate without bound). */
static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    transfer *t = ud;
    size_t n = size * nmemb;
    bts_http_response *r = t->resp;
    if (r->body_len + n > t->max_body) {
        t->too_large = 1;
        return 0;
    }
    if (r->body_len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 16384;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        char *p = realloc(r->body, cap);
        if (!p)
            return 0;
        r->body = p;
        t->cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return n;
}

static void copy_header_value(char *dst, size_t n, const char *v, size_t len)
{
    while (len && (*v == ' ' || *v == '\t'))
        v++, len--;
    while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
        len--;
    if (len >= n)
        len = n - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

/* Picks out the headers we act on: Content-Type and Retry-After. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    transfer *t = ud;
    size_t n = size * nmemb;
    char value[64];
    if (n > 13 && strncasecmp(data, "content-type:", 13) == 0)
        copy_header_value(t->resp->content_type, sizeof(t->resp->content_type), data + 13, n - 13);
    else if (n > 12 && strncasecmp(data, "retry-after:", 12) == 0) {
        copy_header_value(value, sizeof(value), data + 12, n - 12);
        char *end;
        long v = strtol(value, &end, 10);
        if (end != value && *end == '\0' && v >= 0)
            t->resp->retry_after_s = v > 86400 ? 86400 : v;
    }
    return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)ud, (void)dt, (void)dn, (void)ut, (void)un;
    return abort_hook && abort_hook() ? 1 : 0;
}

static struct curl_slist *build_headers(const bts_http *h, const bts_http_request *req)
{
    struct curl_slist *l = NULL, *n;
    char auth[2048];
    const char *fixed[] = {"Accept: application/json", "Accept-Language: en", "Expect:",
                           req->body ? "Content-Type: application/json" : NULL};
    for (size_t i = 0; i < BTS_ARRAY_SIZE(fixed); i++) {
        if (!fixed[i])
            continue;
        if (!(n = curl_slist_append(l, fixed[i])))
            goto fail;
        l = n;
    }
    if (h->extra_header) {
        if (!(n = curl_slist_append(l, h->extra_header)))
            goto fail;
        l = n;
    }
    if (req->auth) {
        snprintf(auth, sizeof(auth), "Authorization: %s", req->auth);
        n = curl_slist_append(l, auth);
        explicit_bzero(auth, sizeof(auth));
        if (!n)
            goto fail;
        l = n;
    }
    return l;
fail:
    curl_slist_free_all(l);
    return NULL;
}

static void setup_easy(bts_http *h, CURL *c, const bts_http_request *req, transfer *t,
                       struct curl_slist *headers)
{
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    if (req->body) {
        /* copied: an asynchronous request outlives the caller's body */
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(req->body));
        curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, req->body);
    } else if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "biotime-syncd/" BTS_VERSION);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_TIMEOUT, h->opt.timeout_s);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->opt.timeout_s < 15 ? h->opt.timeout_s : 15L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, h->opt.tls_verify ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, h->opt.tls_verify ? 2L : 0L);
    if (h->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->opt.max_body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
}

/* Turns a finished transfer into the response fields; returns BTS_ESTOP when aborted. */
static int finish(bts_http *h, CURL *c, CURLcode rc, transfer *t, const char *method,
                  const char *url)
{
    bts_http_response *r = t->resp;
    h->requests++;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        return BTS_ESTOP;
    if (rc == CURLE_OK) {
        bts_debug("%s: %s %s -> HTTP %ld (%zu bytes)", h->server, method, url, r->status,
                  r->body_len);
        if (bts_http_is_transient(r))
            h->failures++;
        return 0;
    }
    h->failures++;
    r->transport_error = (int)rc;
    r->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
        rc == CURLE_SSL_ISSUER_ERROR) {
        r->tls_refused = true;
        snprintf(r->error, sizeof(r->error), "%s (set %s.ca_file to the CA that signed the "
                 "server's certificate)", curl_easy_strerror(rc), h->server);
    } else if (t->too_large || rc == CURLE_FILESIZE_EXCEEDED)
        snprintf(r->error, sizeof(r->error), "response body larger than %zu bytes",
                 h->opt.max_body);
    else
        snprintf(r->error, sizeof(r->error), "%s", curl_easy_strerror(rc));
    r->status = 0; /* a partial answer is no answer */
    return 0;
}

int bts_http_perform(bts_http *h, const bts_http_request *req, bts_http_response *resp)
{
    transfer t = {.resp = resp, .max_body = h->opt.max_body};
    memset(resp, 0, sizeof(*resp));
    resp->retry_after_s = -1;
    struct curl_slist *headers = build_headers(h, req);
    if (!headers)
        return BTS_ENOMEM;
    curl_easy_reset(h->easy);
    setup_easy(h, h->easy, req, &t, headers);
    CURLcode rc = curl_easy_perform(h->easy);
    int r = finish(h, h->easy, rc, &t, req->method, req->url);
    curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    if (r < 0) /* an abandoned answer is no answer: the caller has nothing to free */
        bts_http_response_clear(resp);
    return r;
}

/* --- asynchronous transfers on a shared loop ---------------------------------------- */

typedef struct xfer xfer;

struct bts_http_loop {
    CURLM *multi;
    xfer *head;        /* transfers in flight */
    size_t busy;
};

struct xfer {
    bts_http *h;
    CURL *easy;
    struct curl_slist *headers;
    transfer t;
    bts_http_response resp;
    bts_http_done_fn done;
    void *ud;
    char method[8];
    char *url;
    xfer *prev, *next;
};

int bts_http_loop_new(bts_http_loop **ret)
{
    bts_http_loop *l = calloc(1, sizeof(*l));
    if (!l || !(l->multi = curl_multi_init())) {
        free(l);
        return BTS_ENOMEM;
    }
    *ret = l;
    return 0;
}

static void xfer_unlink(bts_http_loop *l, xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        l->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    l->busy--;
}

static void xfer_free(bts_http_loop *l, xfer *x)
{
    curl_multi_remove_handle(l->multi, x->easy);
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    bts_http_response_clear(&x->resp);
    free(x->url);
    free(x);
}

void bts_http_loop_cancel(bts_http_loop *l)
{
    while (l && l->head) {
        xfer *x = l->head;
        xfer_unlink(l, x);
        bts_http_done_fn done = x->done;
        void *ud = x->ud;
        xfer_free(l, x);
        done(ud, NULL);
    }
}

void bts_http_loop_free(bts_http_loop *l)
{
    if (!l)
        return;
    bts_http_loop_cancel(l);
    curl_multi_cleanup(l->multi);
    free(l);
}

size_t bts_http_loop_busy(const bts_http_loop *l) { return l ? l->busy : 0; }

int bts_http_start(bts_http_loop *l, bts_http *h, const bts_http_request *req,
                   bts_http_done_fn done, void *ud)
{
    xfer *x = calloc(1, sizeof(*x));
    if (!x)
        return BTS_ENOMEM;
    x->h = h, x->done = done, x->ud = ud;
    x->resp.retry_after_s = -1;
    x->t = (transfer){.resp = &x->resp, .max_body = h->opt.max_body};
    bts_strlcpy(x->method, req->method, sizeof(x->method));
    if (!(x->url = strdup(req->url)) || !(x->easy = curl_easy_init()) ||
        !(x->headers = build_headers(h, req)))
        goto fail;
    setup_easy(h, x->easy, req, &x->t, x->headers);
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    if (curl_multi_add_handle(l->multi, x->easy) != CURLM_OK)
        goto fail;
    x->next = l->head;
    if (l->head)
        l->head->prev = x;
    l->head = x;
    l->busy++;
    return 0;
fail:
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    free(x->url);
    free(x);
    return BTS_ENOMEM;
}

/* Hands each finished transfer to its owner; BTS_ESTOP when one was aborted. */
static int loop_reap(bts_http_loop *l)
{
    CURLMsg *m;
    int left, done = 0, stop = 0;
    while ((m = curl_multi_info_read(l->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        xfer *x;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (finish(x->h, x->easy, m->data.result, &x->t, x->method, x->url) == BTS_ESTOP) {
            stop = 1; /* the owner hears of it through bts_http_loop_cancel */
            continue;
        }
        xfer_unlink(l, x);
        bts_http_response resp = x->resp;
        memset(&x->resp, 0, sizeof(x->resp));
        bts_http_done_fn fn = x->done;
        void *ud = x->ud;
        xfer_free(l, x);
        fn(ud, &resp);
        bts_http_response_clear(&resp);
        done++;
    }
    return stop ? BTS_ESTOP : done;
}

#define SLEEP_SLICE_MS 100 /* a stop request is heard within this while sleeping */

int bts_http_sleep(int64_t ms)
{
    while (ms > 0) {
        if (abort_hook && abort_hook())
            return BTS_ESTOP;
        int64_t slice = ms < SLEEP_SLICE_MS ? ms : SLEEP_SLICE_MS;
        struct timespec ts = {.tv_sec = slice / 1000, .tv_nsec = (slice % 1000) * 1000000};
        nanosleep(&ts, NULL);
        ms -= slice;
    }
    return abort_hook && abort_hook() ? BTS_ESTOP : 0;
}

int bts_http_loop_run(bts_http_loop *l, int timeout_ms)
{
    int running, done;
    if (l->busy == 0) /* nothing to move on: a caller waiting for a retry's time */
        return bts_http_sleep(timeout_ms);
    curl_multi_perform(l->multi, &running);
    if ((done = loop_reap(l)) != 0 || l->busy == 0)
        return done;
    if (abort_hook && abort_hook())
        return BTS_ESTOP;
    curl_multi_poll(l->multi, NULL, 0, timeout_ms, NULL);
    curl_multi_perform(l->multi, &running);
    done = loop_reap(l);
    if (done == 0 && abort_hook && abort_hook())
        return BTS_ESTOP;
    return done;
}

int bts_http_is_json_ok(const bts_http_response *r)
{
    return r->status >= 200 && r->status < 300 && r->body &&
           strncasecmp(r->content_type, "application/json", 16) == 0;
}

int bts_http_is_transient(const bts_http_response *r)
{
    long s = r->status;
    return s == 0 || s == 408 || s == 425 || s == 429 || s >= 500;
}

char *bts_http_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *copy = e ? strdup(e) : NULL;
    curl_free(e);
    return copy;
}

/* --- what a failed request leaves for the log ---------------------------------------- */

void bts_http_failure_set(bts_http_failure *f, const char *server, long status, int curl_error)
{
    bts_strlcpy(f->server, server ? server : "", sizeof(f->server));
    f->status = status;
    f->curl_error = curl_error;
}

/* HTTP_STATUS=0 is kept for a request that got no answer, so every failed request can be
 * found by SERVER= and HTTP_STATUS=; CURL_ERROR= then says what went wrong instead. */
const char *const *bts_http_failure_fields(const bts_http_failure *f, bts_http_fields *buf)
{
    size_t n = 0;
    if (!f || !*f->server)
        return NULL;
    snprintf(buf->server, sizeof(buf->server), "SERVER=%s", f->server);
    snprintf(buf->status, sizeof(buf->status), "HTTP_STATUS=%ld", f->status);
    buf->list[n++] = buf->server;
    buf->list[n++] = buf->status;
    if (f->status == 0 && f->curl_error) {
        snprintf(buf->curl, sizeof(buf->curl), "CURL_ERROR=%d", f->curl_error);
        buf->list[n++] = buf->curl;
    }
    buf->list[n] = NULL;
    return buf->list;
}

/* BioTime client: login (JWT, Token, static token, Basic), expiry, pages, terminals. */
#ifndef BTS_BIOTIME_H
#define BTS_BIOTIME_H

#include <cjson/cJSON.h>
#include "bts/config.h"
#include "bts/http.h"
#include "bts/pace.h"

typedef struct bts_biotime bts_biotime;

typedef struct {
    int64_t count;      /* as the server said; informational only */
    bool has_next;
    cJSON *rows;        /* owned JSON array */
    int64_t first_id;   /* of rows with a valid id; 0 when none */
    int64_t last_id;
    bool ascending;     /* ids strictly increasing within the page */
    /* when the request failed (asynchronous calls): what came back */
    long status;
    bool timed_out;
    long retry_after_s;
    int curl_error;
} bts_page;

int bts_biotime_new(const bts_biotime_config *cfg, bts_biotime **ret);
void bts_biotime_free(bts_biotime *b);

/* Synchronous requests ask fn after each answer whether to ask again (NULL: never). The
 * asynchronous ones leave that to their caller. */
void bts_biotime_set_retry(bts_biotime *b, bts_pace_retry_fn fn, void *ud);

/* Logs in when needed (no token, or the JWT expires within a minute). A refused password
 * returns BTS_EAUTH and later calls refuse to retry for a while (accounts lock). */
int bts_biotime_login(bts_biotime *b);

/* GET /iclock/api/transactions/?page=P&page_size=S[&extra]. One re-login on 401/403. */
int bts_biotime_transactions(bts_biotime *b, int64_t page, int64_t page_size, const char *extra,
                             bts_page *ret);

/* The same on a loop: fn hears rc and, when it is 0, the page (fn may take its rows). */
typedef void (*bts_biotime_page_fn)(void *ud, int rc, bts_page *page);
int bts_biotime_transactions_start(bts_biotime *b, bts_http_loop *l, int64_t page,
                                   int64_t page_size, const char *extra, bts_biotime_page_fn fn,
                                   void *ud);

/* METHOD path?query (path from the API root, e.g. "/personnel/api/employees/") with a
 * JSON body or NULL; one re-login on 401/403. 0 when any answer came: the caller triages. */
int bts_biotime_request(bts_biotime *b, const char *method, const char *path_query,
                        const char *body, bts_http_response *resp);

/* GET of one page of any list (path?query): triaged and parsed as a transactions page is
 * (a page past the end is an empty page); what names it in log lines. */
int bts_biotime_get_page(bts_biotime *b, const char *path_query, const char *what,
                         bts_page *ret);
/* What a failed asynchronous page request means to the pace (rc as fn heard it). */
bts_pace_answer bts_biotime_page_outcome(int rc, const bts_page *page);

/* GET /iclock/api/terminals/ (all pages); rows owned by the caller. */
int bts_biotime_terminals(bts_biotime *b, cJSON **ret_rows);

void bts_page_clear(bts_page *p);

/* Seconds until the JWT's exp, from its payload (no signature check); -1 when unknown. */
int64_t bts_jwt_exp(const char *jwt);

/* Parses a transactions page body (envelope: code == 0, data or results array). */
int bts_biotime_parse_page(const char *body, size_t len, bts_page *ret, char *err, size_t n);

uint64_t bts_biotime_request_count(const bts_biotime *b);
uint64_t bts_biotime_failure_count(const bts_biotime *b);

/* The answer that made the last failed call fail (for the journal fields of the line that
 * reports it); its server is "" when no answer did. */
const bts_http_failure *bts_biotime_failure(const bts_biotime *b);

#endif

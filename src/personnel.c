/* BioTime's personnel API. Reads page through lists like the terminals; writes are triaged
 * here because their answers differ from reads: a 400 carries a DRF field map to name in
 * the journal, and an HTML page means the path does not exist on this BioTime. */
#include "bts/personnel.h"
#include "bts/log.h"
#include "bts/roster.h"
#include "bts/txn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIST_PAGES 100000 /* a guard against a server whose "next" never ends */

int bts_personnel_list(bts_biotime *b, const char *path, int64_t page_size,
                       bts_personnel_rows_fn fn, void *ud)
{
    int r = 0;

    for (int64_t page = 1; r == 0 && page <= MAX_LIST_PAGES; page++) {
        char pq[256], what[96];
        bts_page p;
        bool more;
        snprintf(pq, sizeof(pq), "%s?page=%lld&page_size=%lld", path, (long long)page,
                 (long long)page_size);
        snprintf(what, sizeof(what), "%s page %lld", path, (long long)page);
        if ((r = bts_biotime_get_page(b, pq, what, &p)) < 0)
            break;
        more = p.has_next && cJSON_GetArraySize(p.rows) > 0;
        r = fn(ud, p.rows);
        bts_page_clear(&p);
        if (!more)
            break;
    }
    return r;
}

/* Is the resign API there? An HTML answer (often with 200) says it is not. */
static int resigns_probe(bts_biotime *b)
{
    bts_http_response resp = {0};
    char pq[64];
    int r;

    snprintf(pq, sizeof(pq), "%s?page=1&page_size=1", BTS_PERSONNEL_RESIGNS);
    if ((r = bts_biotime_request(b, "GET", pq, NULL, &resp)) < 0)
        return r;
    r = strstr(resp.content_type, "html") && resp.status < 500 ? 1 : 0;
    bts_http_response_clear(&resp);
    return r;
}

int bts_personnel_resigns(bts_biotime *b, int64_t page_size, bts_personnel_rows_fn fn,
                          void *ud)
{
    int r = resigns_probe(b);

    if (r != 0)
        return r;
    return bts_personnel_list(b, BTS_PERSONNEL_RESIGNS, page_size, fn, ud);
}

void bts_personnel_answer_clear(bts_personnel_answer *a)
{
    if (!a)
        return;
    cJSON_Delete(a->body);
    memset(a, 0, sizeof(*a));
}

/* The first field of a DRF field map and its first message. */
static void first_field_error(const cJSON *map, bts_personnel_answer *a)
{
    const cJSON *f = cJSON_IsObject(map) ? map->child : NULL;
    const cJSON *msg;

    if (!f || !f->string)
        return;
    bts_strlcpy(a->field, f->string, sizeof(a->field));
    msg = cJSON_IsArray(f) ? cJSON_GetArrayItem(f, 0) : f;
    if (cJSON_IsString(msg))
        bts_strlcpy(a->message, msg->valuestring, sizeof(a->message));
}

/* Triage of a write's answer: never the body of a 5xx or an HTML page in a message
 * (a Django traceback, a login page). */
static int write_answer(const bts_http_response *resp, bts_personnel_answer *a)
{
    bool json = strstr(resp->content_type, "json") != NULL;

    a->status = resp->status;
    if (resp->status == 0 || bts_http_is_transient(resp)) {
        snprintf(a->message, sizeof(a->message), "%s", resp->status ? "server error"
                                                                      : resp->error);
        return resp->tls_refused ? BTS_EAUTH : BTS_ETRANSIENT;
    }
    if (resp->status == 401 || resp->status == 403) {
        snprintf(a->message, sizeof(a->message), "HTTP %ld: not allowed", resp->status);
        return BTS_EAUTH;
    }
    if (json && resp->body)
        a->body = cJSON_ParseWithLength(resp->body, resp->body_len);
    if (!a->body || !json) {
        a->html = strstr(resp->content_type, "html") != NULL;
        snprintf(a->message, sizeof(a->message), "HTTP %ld, %s instead of JSON", resp->status,
                 a->html ? "an HTML page" : "an answer");
        return resp->status == 204 ? 0 : BTS_EPROTO;
    }
    if (resp->status >= 200 && resp->status < 300)
        return 0;
    first_field_error(a->body, a);
    if (!*a->message)
        snprintf(a->message, sizeof(a->message), "HTTP %ld", resp->status);
    return BTS_EPERM;
}

int bts_personnel_write(bts_biotime *b, const char *method, const char *path,
                        const cJSON *body, bts_personnel_answer *ret)
{
    bts_http_response resp = {0};
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    int r;

    memset(ret, 0, sizeof(*ret));
    if (body && !text)
        return BTS_ENOMEM;
    r = bts_biotime_request(b, method, path, text, &resp);
    if (r == 0)
        r = write_answer(&resp, ret);
    bts_http_response_clear(&resp);
    cJSON_free(text);
    return r;
}

static int add_people(void *ud, const cJSON *rows)
{
    int r = bts_roster_add_biotime(ud, rows);
    return r < 0 ? r : 0;
}

static int add_resigns(void *ud, const cJSON *rows)
{
    int r = bts_roster_add_resigns(ud, rows);
    return r < 0 ? r : 0;
}

int bts_personnel_load(bts_biotime *b, int64_t page_size, struct bts_roster *r,
                       bool *ret_resign_api)
{
    int k = bts_personnel_list(b, BTS_PERSONNEL_EMPLOYEES, page_size, add_people, r);

    if (k < 0)
        return k;
    if ((k = bts_personnel_resigns(b, page_size, add_resigns, r)) < 0)
        return k;
    *ret_resign_api = k == 0;
    return 0;
}

/* employees.push's memory: codes of the last run and refused asks, one JSON file written
 * atomically and only when it changed. Linear look-ups: codes are asked for only for
 * Employees BioTime lacks, refusals are few. */
#include "bts/pushmemo.h"
#include "bts/log.h"
#include "bts/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMO_MAX_BYTES (16 << 20)

typedef struct {
    char *employee;
    char *code;
} memo_link;

struct bts_push_memo {
    char *dir;
    memo_link *links;
    size_t n_links;
    char **refused;      /* the last run's */
    size_t n_refused;
    char **pending;      /* this run's */
    size_t n_pending;
    char *saved;         /* the text last written */
};

static void strs_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static void links_free(memo_link *l, size_t n)
{
    for (size_t i = 0; l && i < n; i++) {
        free(l[i].employee);
        free(l[i].code);
    }
    free(l);
}

void bts_push_memo_free(bts_push_memo *m)
{
    if (!m)
        return;
    free(m->dir);
    links_free(m->links, m->n_links);
    strs_free(m->refused, m->n_refused);
    strs_free(m->pending, m->n_pending);
    free(m->saved);
    free(m);
}

static void memo_from_json(bts_push_memo *m, const cJSON *codes, const cJSON *refused)
{
    const cJSON *it;
    size_t n = (size_t)cJSON_GetArraySize(codes), k = (size_t)cJSON_GetArraySize(refused);

    m->links = calloc(n ? n : 1, sizeof(*m->links));
    m->refused = calloc(k ? k : 1, sizeof(*m->refused));
    if (!m->links || !m->refused)
        return;
    cJSON_ArrayForEach(it, codes) {
        memo_link *l = &m->links[m->n_links];
        if (!cJSON_IsString(it) || !it->string)
            continue;
        l->employee = strdup(it->string);
        l->code = strdup(it->valuestring);
        if (l->employee && l->code)
            m->n_links++;
    }
    cJSON_ArrayForEach(it, refused)
        if (cJSON_IsString(it) && (m->refused[m->n_refused] = strdup(it->valuestring)))
            m->n_refused++;
}

/* A missing file is a first run; a broken one only means no change is seen this once. */
static void memo_load(bts_push_memo *m)
{
    char path[4096];
    char *text = calloc(1, MEMO_MAX_BYTES + 1);
    FILE *f;
    size_t len;
    cJSON *o;

    snprintf(path, sizeof(path), "%s/%s", m->dir, BTS_PUSHMEMO_FILE);
    if (!text || !(f = fopen(path, "r"))) {
        free(text);
        return;
    }
    len = fread(text, 1, MEMO_MAX_BYTES, f);
    fclose(f);
    o = cJSON_ParseWithLength(text, len);
    if (cJSON_IsObject(o))
        memo_from_json(m, cJSON_GetObjectItemCaseSensitive(o, "codes"),
                       cJSON_GetObjectItemCaseSensitive(o, "refused"));
    else
        bts_warn("%s is not a JSON object: ignored (an Employee code changed before now is "
                 "not seen as a change, refusals are asked again once)", path);
    cJSON_Delete(o);
    free(text);
}

int bts_push_memo_new(const char *state_dir, bts_push_memo **ret)
{
    bts_push_memo *m = calloc(1, sizeof(*m));

    if (!m || !(m->dir = strdup(state_dir))) {
        free(m);
        return BTS_ENOMEM;
    }
    memo_load(m);
    *ret = m;
    return 0;
}

const char *bts_push_memo_code(void *memo, const char *employee)
{
    const bts_push_memo *m = memo;

    for (size_t i = 0; m && i < m->n_links; i++)
        if (strcmp(m->links[i].employee, employee) == 0)
            return m->links[i].code;
    return NULL;
}

bool bts_push_memo_refused(const bts_push_memo *m, const char *sig)
{
    for (size_t i = 0; m && i < m->n_refused; i++)
        if (strcmp(m->refused[i], sig) == 0)
            return true;
    return false;
}

void bts_push_memo_note(bts_push_memo *m, const char *sig)
{
    char **more = realloc(m->pending, (m->n_pending + 1) * sizeof(*more));

    if (!more)
        return; /* then it is asked again next time: no harm */
    m->pending = more;
    if ((m->pending[m->n_pending] = strdup(sig)))
        m->n_pending++;
}

void bts_push_memo_discard(bts_push_memo *m)
{
    strs_free(m->pending, m->n_pending);
    m->pending = NULL;
    m->n_pending = 0;
}

/* The code to keep for e: its own, unless BioTime still holds the person under the old
 * one (a move BioTime refused or has not made): then the old, so the next run tries the
 * move again instead of creating a second person. */
static const char *link_code(const bts_push_memo *m, const bts_roster *r,
                             const bts_erp_person *e)
{
    const char *old = bts_push_memo_code((void *)m, e->name);

    if (old && strcmp(old, e->code) != 0 && bts_roster_biotime(r, old) &&
        !bts_roster_biotime(r, e->code))
        return old;
    return e->code;
}

static void memo_links(bts_push_memo *m, const bts_roster *r)
{
    size_t n = bts_roster_erpnext_count(r), k = 0;
    memo_link *l = calloc(n ? n : 1, sizeof(*l));

    if (!l)
        return;
    for (size_t i = 0; i < n; i++) {
        const bts_erp_person *e = bts_roster_erpnext_at(r, i);
        if (!*e->code || bts_roster_erpnext(r, e->code) != e)
            continue;
        l[k].employee = strdup(e->name);
        l[k].code = strdup(link_code(m, r, e));
        if (l[k].employee && l[k].code)
            k++;
    }
    links_free(m->links, m->n_links);
    m->links = l;
    m->n_links = k;
}

static void memo_save(bts_push_memo *m)
{
    char err[512];
    cJSON *o = cJSON_CreateObject();
    cJSON *codes = cJSON_AddObjectToObject(o, "codes");
    cJSON *refused = cJSON_AddArrayToObject(o, "refused");
    char *text;

    for (size_t i = 0; codes && i < m->n_links; i++)
        cJSON_AddStringToObject(codes, m->links[i].employee, m->links[i].code);
    for (size_t i = 0; refused && i < m->n_refused; i++)
        cJSON_AddItemToArray(refused, cJSON_CreateString(m->refused[i]));
    text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (text && !(m->saved && strcmp(text, m->saved) == 0)) {
        if (bts_state_write_atomic(m->dir, BTS_PUSHMEMO_FILE, text, strlen(text), err,
                                   sizeof(err)) < 0)
            bts_warn("employees.push: %s", err);
        free(m->saved);
        m->saved = strdup(text);
    }
    cJSON_free(text);
}

void bts_push_memo_commit(bts_push_memo *m, const bts_roster *r)
{
    strs_free(m->refused, m->n_refused);
    m->refused = m->pending;
    m->n_refused = m->n_pending;
    m->pending = NULL;
    m->n_pending = 0;
    memo_links(m, r);
    memo_save(m);
}

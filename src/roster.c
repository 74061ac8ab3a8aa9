/* BioTime's personnel beside ERPNext's Employees. Both sides are sorted by code once, so
 * the comparison is one pass of look-ups; name candidates come from a sorted array of name
 * keys (namematch.c). 5,000 people on each side cost milliseconds. */
#include "bts/roster.h"
#include "bts/namematch.h"
#include "bts/txn.h" /* bts_json_text, bts_json_int64 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROSTER_TEXT_MAX 256

typedef struct {
    char key[BTS_NAME_KEY_MAX];
    const bts_erp_person *erp;
} name_entry;

struct bts_roster {
    bts_bt_person *bt;
    size_t n_bt, cap_bt;
    bts_erp_person *erp;
    size_t n_erp, cap_erp;
    name_entry *names;   /* Employees without a code, by name key */
    size_t n_names;
    cJSON *resigned;     /* ids and codes marked before the index was built */
};

int bts_roster_new(bts_roster **ret)
{
    bts_roster *r = calloc(1, sizeof(*r));

    if (!r || !(r->resigned = cJSON_CreateArray())) {
        free(r);
        return BTS_ENOMEM;
    }
    *ret = r;
    return 0;
}

static void bt_clear(bts_bt_person *p)
{
    free(p->code);
    free(p->first);
    free(p->last);
    free(p->areas);
}

static void erp_clear(bts_erp_person *p)
{
    free(p->name);
    free(p->full);
    free(p->first);
    free(p->last);
    free(p->code);
    free(p->status);
    free(p->relieving);
}

void bts_roster_free(bts_roster *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_bt; i++)
        bt_clear(&r->bt[i]);
    for (size_t i = 0; i < r->n_erp; i++)
        erp_clear(&r->erp[i]);
    free(r->bt);
    free(r->erp);
    free(r->names);
    cJSON_Delete(r->resigned);
    free(r);
}

/* A field as trimmed text ("" for null or missing), newly allocated. */
static char *field_text(const cJSON *row, const char *key)
{
    char buf[ROSTER_TEXT_MAX];
    const char *s = buf;
    size_t len;

    if (bts_json_text(row, key, buf, sizeof(buf)) < 0 && !*buf)
        return strdup("");
    while (isspace((unsigned char)*s))
        s++;
    len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    return strndup(s, len);
}

/* The area ids of a person: [{"id": 3, ...}] or [3]. */
static int bt_areas(const cJSON *row, bts_bt_person *p)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(row, "area"), *a;
    int n = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 0;

    if (n == 0)
        return 0;
    if (!(p->areas = calloc((size_t)n, sizeof(*p->areas))))
        return BTS_ENOMEM;
    cJSON_ArrayForEach(a, list) {
        int64_t id = 0;
        if (cJSON_IsNumber(a) && a->valuedouble >= 1 && a->valuedouble < 9e15)
            id = (int64_t)a->valuedouble;
        else if (cJSON_IsObject(a) && bts_json_int64(a, "id", &id) < 0)
            id = 0;
        if (id > 0)
            p->areas[p->n_areas++] = id;
    }
    return 0;
}

/* The department id: {"id": 7, ...} on reads, a bare 7 in write answers. */
static int64_t bt_dept(const cJSON *row)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(row, "department");
    int64_t id = 0;

    if (cJSON_IsNumber(d) && d->valuedouble >= 1 && d->valuedouble < 9e15)
        return (int64_t)d->valuedouble;
    if (cJSON_IsObject(d) && bts_json_int64(d, "id", &id) == 0)
        return id;
    return 0;
}

static int bt_row(const cJSON *row, bts_bt_person *p)
{
    memset(p, 0, sizeof(*p));
    if (!cJSON_IsObject(row) || bts_json_int64(row, "id", &p->id) < 0)
        return 0;
    p->code = field_text(row, "emp_code");
    p->first = field_text(row, "first_name");
    p->last = field_text(row, "last_name");
    p->dept = bt_dept(row);
    if (!p->code || !p->first || !p->last || bt_areas(row, p) < 0) {
        bt_clear(p);
        return BTS_ENOMEM;
    }
    if (!*p->code) {
        bt_clear(p);
        return 0;
    }
    return 1;
}

/* Makes room for one more element of size sz in *arr. */
static int grow(void **arr, size_t n, size_t *cap, size_t sz)
{
    void *bigger;

    if (n < *cap)
        return 0;
    bigger = realloc(*arr, (*cap ? *cap * 2 : 64) * sz);
    if (!bigger)
        return BTS_ENOMEM;
    *arr = bigger;
    *cap = *cap ? *cap * 2 : 64;
    return 0;
}

int bts_roster_add_biotime(bts_roster *r, const cJSON *rows)
{
    const cJSON *row;
    int taken = 0;

    if (!r || !cJSON_IsArray(rows))
        return BTS_EINVAL;
    cJSON_ArrayForEach(row, rows) {
        int k;
        if (grow((void **)&r->bt, r->n_bt, &r->cap_bt, sizeof(*r->bt)) < 0)
            return BTS_ENOMEM;
        if ((k = bt_row(row, &r->bt[r->n_bt])) < 0)
            return k;
        r->n_bt += (size_t)k;
        taken += k;
    }
    return taken;
}

/* Remembers who a resignation names; applied when the index is built. */
int bts_roster_add_resigns(bts_roster *r, const cJSON *rows)
{
    const cJSON *row;
    int n = 0;

    if (!r || !cJSON_IsArray(rows))
        return BTS_EINVAL;
    cJSON_ArrayForEach(row, rows) {
        const cJSON *emp = cJSON_GetObjectItemCaseSensitive(row, "employee");
        cJSON *copy = cJSON_Duplicate(emp, true);
        if (emp && !copy)
            return BTS_ENOMEM;
        if (copy) {
            cJSON_AddItemToArray(r->resigned, copy);
            n++;
        }
    }
    return n;
}

static int erp_row(const cJSON *row, const char *field, bts_erp_person *p)
{
    memset(p, 0, sizeof(*p));
    if (!cJSON_IsObject(row))
        return 0;
    p->name = field_text(row, "name");
    p->full = field_text(row, "employee_name");
    p->first = field_text(row, "first_name");
    p->last = field_text(row, "last_name");
    p->code = field_text(row, field);
    p->status = field_text(row, "status");
    p->relieving = field_text(row, "relieving_date");
    if (!p->name || !p->full || !p->first || !p->last || !p->code || !p->status ||
        !p->relieving) {
        erp_clear(p);
        return BTS_ENOMEM;
    }
    if (!*p->name) {
        erp_clear(p);
        return 0;
    }
    if (!*p->first && *p->full) { /* BioTime wants a first name: the full one will do */
        free(p->first);
        if (!(p->first = strdup(p->full))) {
            erp_clear(p);
            return BTS_ENOMEM;
        }
    }
    p->st = bts_employees_status_parse(p->status);
    return 1;
}

int bts_roster_add_erpnext(bts_roster *r, const cJSON *rows, const char *field)
{
    const cJSON *row;
    int taken = 0;

    if (!r || !cJSON_IsArray(rows) || !field)
        return BTS_EINVAL;
    cJSON_ArrayForEach(row, rows) {
        int k;
        if (grow((void **)&r->erp, r->n_erp, &r->cap_erp, sizeof(*r->erp)) < 0)
            return BTS_ENOMEM;
        if ((k = erp_row(row, field, &r->erp[r->n_erp])) < 0)
            return k;
        r->n_erp += (size_t)k;
        taken += k;
    }
    return taken;
}

static int bt_cmp(const void *a, const void *b)
{
    return strcmp(((const bts_bt_person *)a)->code, ((const bts_bt_person *)b)->code);
}

/* By code; among Employees sharing one, an Active one first, then by name. */
static int erp_cmp(const void *a, const void *b)
{
    const bts_erp_person *x = a, *y = b;
    int c = strcmp(x->code, y->code);

    if (c == 0)
        c = (x->st != BTS_EMP_ACTIVE) - (y->st != BTS_EMP_ACTIVE);
    return c ? c : strcmp(x->name, y->name);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(((const name_entry *)a)->key, ((const name_entry *)b)->key);
}

static bts_bt_person *bt_find(const bts_roster *r, const char *code)
{
    bts_bt_person probe = {.code = (char *)code};

    return r->n_bt ? bsearch(&probe, r->bt, r->n_bt, sizeof(*r->bt), bt_cmp) : NULL;
}

static void mark_resigned(bts_roster *r)
{
    const cJSON *emp;

    cJSON_ArrayForEach(emp, r->resigned) {
        int64_t id = 0;
        char code[ROSTER_TEXT_MAX] = "";
        if (cJSON_IsNumber(emp))
            id = (int64_t)emp->valuedouble;
        else if (cJSON_IsObject(emp) && bts_json_int64(emp, "id", &id) < 0)
            id = 0;
        if (cJSON_IsObject(emp))
            bts_json_text(emp, "emp_code", code, sizeof(code));
        for (size_t i = 0; i < r->n_bt; i++)
            if ((id && r->bt[i].id == id) || (!id && *code && strcmp(r->bt[i].code, code) == 0))
                r->bt[i].resigned = true;
    }
}

/* Employees without a code, keyed by name, for the candidates of an unmapped person. */
static int index_names(bts_roster *r)
{
    free(r->names);
    r->n_names = 0;
    if (!(r->names = calloc(r->n_erp ? r->n_erp : 1, sizeof(*r->names))))
        return BTS_ENOMEM;
    for (size_t i = 0; i < r->n_erp; i++) {
        const bts_erp_person *e = &r->erp[i];
        name_entry *n = &r->names[r->n_names];
        if (*e->code || e->st == BTS_EMP_LEFT)
            continue;
        if (bts_name_key(*e->full ? e->full : e->first, n->key, sizeof(n->key)) > 0) {
            n->erp = e;
            r->n_names++;
        }
    }
    if (r->n_names)
        qsort(r->names, r->n_names, sizeof(*r->names), name_cmp);
    return 0;
}

int bts_roster_index(bts_roster *r)
{
    if (!r)
        return BTS_EINVAL;
    if (r->n_bt) /* qsort of NULL is undefined even for 0 elements */
        qsort(r->bt, r->n_bt, sizeof(*r->bt), bt_cmp);
    if (r->n_erp)
        qsort(r->erp, r->n_erp, sizeof(*r->erp), erp_cmp);
    mark_resigned(r);
    return index_names(r);
}

size_t bts_roster_biotime_count(const bts_roster *r) { return r ? r->n_bt : 0; }
size_t bts_roster_erpnext_count(const bts_roster *r) { return r ? r->n_erp : 0; }

const bts_bt_person *bts_roster_biotime_at(const bts_roster *r, size_t i)
{
    return r && i < r->n_bt ? &r->bt[i] : NULL;
}

const bts_erp_person *bts_roster_erpnext_at(const bts_roster *r, size_t i)
{
    return r && i < r->n_erp ? &r->erp[i] : NULL;
}

const bts_bt_person *bts_roster_biotime(const bts_roster *r, const char *code)
{
    return r && code && *code ? bt_find(r, code) : NULL;
}

/* The first Employee (in erp_cmp order) carrying code. */
const bts_erp_person *bts_roster_erpnext(const bts_roster *r, const char *code)
{
    size_t lo = 0, hi = r ? r->n_erp : 0;

    if (!r || !code || !*code)
        return NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(r->erp[mid].code, code) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->n_erp && strcmp(r->erp[lo].code, code) == 0 ? &r->erp[lo] : NULL;
}

/* ---- the comparison ---- */

/* The Employees without a code whose name matches p's. */
static int candidates(const bts_roster *r, const bts_bt_person *p, bts_roster_unmapped *u)
{
    char full[2 * ROSTER_TEXT_MAX + 2];
    name_entry probe;
    size_t lo = 0, hi = r->n_names, k;

    u->bt = p;
    snprintf(full, sizeof(full), "%s %s", p->first, p->last);
    if (bts_name_key(full, probe.key, sizeof(probe.key)) <= 0)
        return 0;
    while (lo < hi) { /* first entry not below the key */
        size_t mid = lo + (hi - lo) / 2;
        if (name_cmp(&r->names[mid], &probe) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (k = lo; k < r->n_names && name_cmp(&r->names[k], &probe) == 0; k++)
        ;
    if (k == lo)
        return 0;
    if (!(u->cands = calloc(k - lo, sizeof(*u->cands))))
        return BTS_ENOMEM;
    for (size_t i = lo; i < k; i++)
        u->cands[u->n_cands++] = r->names[i].erp;
    return 0;
}

static int compare_biotime(const bts_roster *r, bts_roster_report *rep)
{
    for (size_t i = 0; i < r->n_bt; i++) {
        const bts_bt_person *p = &r->bt[i];
        const bts_erp_person *e = bts_roster_erpnext(r, p->code);
        if (e) {
            rep->mapped[rep->n_mapped++] = (bts_roster_pair){p, e};
            if (e->st == BTS_EMP_LEFT && !p->resigned)
                rep->leavers[rep->n_leavers++] = (bts_roster_pair){p, e};
        } else if (!p->resigned) {
            int k = candidates(r, p, &rep->bt_only[rep->n_bt_only]);
            if (k < 0)
                return k;
            rep->n_bt_only++;
        }
    }
    return 0;
}

int bts_roster_compare(const bts_roster *r, bts_roster_report *rep)
{
    size_t n_bt = r && r->n_bt ? r->n_bt : 1, n_erp = r && r->n_erp ? r->n_erp : 1;
    int k;

    if (!r || !rep)
        return BTS_EINVAL;
    memset(rep, 0, sizeof(*rep));
    rep->mapped = calloc(n_bt, sizeof(*rep->mapped));
    rep->bt_only = calloc(n_bt, sizeof(*rep->bt_only));
    rep->leavers = calloc(n_bt, sizeof(*rep->leavers));
    rep->erp_only = calloc(n_erp, sizeof(*rep->erp_only));
    if (!rep->mapped || !rep->bt_only || !rep->leavers || !rep->erp_only) {
        bts_roster_report_clear(rep);
        return BTS_ENOMEM;
    }
    if ((k = compare_biotime(r, rep)) < 0) {
        bts_roster_report_clear(rep);
        return k;
    }
    for (size_t i = 0; i < r->n_erp; i++) {
        const bts_erp_person *e = &r->erp[i];
        const bts_bt_person *p = bt_find(r, e->code);
        if (*e->code && e->st == BTS_EMP_ACTIVE && (!p || p->resigned) &&
            bts_roster_erpnext(r, e->code) == e)
            rep->erp_only[rep->n_erp_only++] = e;
    }
    return 0;
}

void bts_roster_report_clear(bts_roster_report *rep)
{
    if (!rep)
        return;
    for (size_t i = 0; rep->bt_only && i < rep->n_bt_only; i++)
        free(rep->bt_only[i].cands);
    free(rep->mapped);
    free(rep->bt_only);
    free(rep->erp_only);
    free(rep->leavers);
    memset(rep, 0, sizeof(*rep));
}

bool bts_roster_needs_action(const bts_roster_report *rep)
{
    return rep->n_bt_only || rep->n_erp_only || rep->n_leavers;
}

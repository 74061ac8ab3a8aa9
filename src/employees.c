/* emp_code -> Employee: an open-addressing hash table (linear probing, FNV-1a), sized once
 * per load from the number of rows so it never grows, and rebuilt whole on every refresh. */
#include "bts/employees.h"
#include "bts/txn.h" /* bts_json_text */

#include <stdlib.h>
#include <string.h>

/* Longest code kept: BioTime's emp_code is far shorter, so a longer one can never match. */
#define EMP_CODE_MAX 256
#define EMP_MIN_SLOTS 16

struct bts_employees {
    bts_employee *slots; /* code == NULL marks an empty slot */
    size_t n_slots;      /* a power of two, at least twice the rows loaded */
    size_t count;
};

static uint64_t emp_hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* The slot holding code, or the empty slot where it would go. */
static bts_employee *emp_slot(bts_employee *slots, size_t n_slots, const char *code)
{
    size_t i = (size_t)emp_hash(code) & (n_slots - 1);

    while (slots[i].code && strcmp(slots[i].code, code) != 0)
        i = (i + 1) & (n_slots - 1);
    return &slots[i];
}

static void emp_slots_free(bts_employee *slots, size_t n_slots)
{
    for (size_t i = 0; slots && i < n_slots; i++) {
        free(slots[i].code);
        free(slots[i].name);
    }
    free(slots);
}

int bts_employees_new(bts_employees **ret)
{
    bts_employees *m;

    if (!ret)
        return BTS_EINVAL;
    m = calloc(1, sizeof(*m));
    if (!m)
        return BTS_ENOMEM;
    *ret = m;
    return 0;
}

void bts_employees_free(bts_employees *m)
{
    if (!m)
        return;
    emp_slots_free(m->slots, m->n_slots);
    free(m);
}

static const char *const emp_status_names[] = {
    [BTS_EMP_ACTIVE] = "Active", [BTS_EMP_SUSPENDED] = "Suspended", [BTS_EMP_LEFT] = "Left",
    [BTS_EMP_OTHER] = "", [BTS_EMP_INACTIVE] = "Inactive",
};

const char *bts_employees_status_str(bts_emp_status s)
{
    return (size_t)s < BTS_ARRAY_SIZE(emp_status_names) ? emp_status_names[s] : "";
}

bool bts_employee_accepts_checkins(const bts_employee *e)
{
    return e && e->status != BTS_EMP_INACTIVE;
}

/* Compared exactly, as HRMS does: "inactive" is not Inactive to it either. */
bts_emp_status bts_employees_status_parse(const char *s)
{
    for (size_t i = 0; s && i < BTS_ARRAY_SIZE(emp_status_names); i++)
        if (i != BTS_EMP_OTHER && strcmp(s, emp_status_names[i]) == 0)
            return (bts_emp_status)i;
    return BTS_EMP_OTHER;
}

static bts_emp_status emp_status_of(const cJSON *st)
{
    return bts_employees_status_parse(cJSON_GetStringValue(st));
}

/* Reads one row; false when it lacks a usable code or name. */
static bool emp_row(const cJSON *row, const char *field, char *code, size_t n,
                    const char **name, bts_emp_status *status)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(row, field);
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(row, "name");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(row, "status");

    /* A Data field is a string; a custom Int field arrives as a number. */
    if (!cJSON_IsString(it) && !cJSON_IsNumber(it))
        return false;
    if (bts_json_text(row, field, code, n) <= 0)
        return false;
    if (!cJSON_IsString(nm) || !nm->valuestring || !nm->valuestring[0])
        return false;
    *name = nm->valuestring;
    *status = emp_status_of(st);
    return true;
}

/* Which of two Employees with one code gets the punches: Active first (a reused badge
 * belongs to the current holder), then any HRMS accepts, Inactive last. */
static int emp_rank(bts_emp_status s)
{
    return s == BTS_EMP_ACTIVE ? 2 : s == BTS_EMP_INACTIVE ? 0 : 1;
}

/* Puts one employee in; on a duplicate code the first of the best rank wins. */
static int emp_insert(bts_employee *slots, size_t n_slots, const char *code, const char *name,
                      bts_emp_status status, size_t *count)
{
    bts_employee *e = emp_slot(slots, n_slots, code);
    char *dup;

    if (e->code && emp_rank(e->status) >= emp_rank(status))
        return 0;
    dup = strdup(name);
    if (!dup)
        return BTS_ENOMEM;
    if (!e->code) {
        e->code = strdup(code);
        if (!e->code) {
            free(dup);
            return BTS_ENOMEM;
        }
        (*count)++;
    }
    free(e->name);
    e->name = dup;
    e->status = status;
    return 0;
}

static size_t emp_table_size(size_t rows)
{
    size_t n = EMP_MIN_SLOTS;

    while (n < rows * 2)
        n *= 2;
    return n;
}

/* Built aside and swapped in on success, so a failed refresh keeps the previous map. */
int bts_employees_load(bts_employees *m, const cJSON *rows, const char *field)
{
    char code[EMP_CODE_MAX + 1];
    const cJSON *row;
    bts_employee *slots;
    size_t n_slots, count = 0;
    int r = 0;

    if (!m || !cJSON_IsArray(rows) || !field || !*field)
        return BTS_EINVAL;
    n_slots = emp_table_size((size_t)cJSON_GetArraySize(rows));
    slots = calloc(n_slots, sizeof(*slots));
    if (!slots)
        return BTS_ENOMEM;
    cJSON_ArrayForEach(row, rows) {
        const char *name;
        bts_emp_status status;

        if (!cJSON_IsObject(row) || !emp_row(row, field, code, sizeof(code), &name, &status))
            continue;
        r = emp_insert(slots, n_slots, code, name, status, &count);
        if (r < 0)
            goto out;
    }
    emp_slots_free(m->slots, m->n_slots);
    m->slots = slots;
    m->n_slots = n_slots;
    m->count = count;
    slots = NULL;
    r = (int)count;
out:
    emp_slots_free(slots, n_slots);
    return r;
}

const bts_employee *bts_employees_find(const bts_employees *m, const char *code)
{
    const bts_employee *e;

    if (!m || !m->slots || !code)
        return NULL;
    e = emp_slot(m->slots, m->n_slots, code);
    return e->code ? e : NULL;
}

size_t bts_employees_count(const bts_employees *m)
{
    return m ? m->count : 0;
}

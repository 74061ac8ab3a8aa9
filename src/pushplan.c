/* What a push changes in BioTime (CONTRACT.md §4b), decided from the roster alone so the
 * rules are tested without a server: push.c only carries the plan out. */
#include "bts/roster.h"

#include <stdlib.h>
#include <string.h>

void bts_push_ops_free(bts_push_op *ops, size_t n)
{
    for (size_t i = 0; ops && i < n; i++)
        free(ops[i].areas);
    free(ops);
}

static bool has_area(const int64_t *areas, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (areas[i] == id)
            return true;
    return false;
}

/* The person's areas plus the configured ones they lack; NULL (0) when none is missing.
 * Areas are only ever added: leaving one out would drop the person from its terminals. */
static int areas_to_add(const bts_bt_person *p, const bts_push_rules *rules, bts_push_op *op)
{
    size_t missing = 0;

    for (size_t i = 0; i < rules->n_areas; i++)
        missing += !has_area(p->areas, p->n_areas, rules->areas[i]);
    if (missing == 0)
        return 0;
    if (!(op->areas = calloc(p->n_areas + missing, sizeof(*op->areas))))
        return BTS_ENOMEM;
    if (p->n_areas) /* memcpy from NULL is undefined even for 0 bytes */
        memcpy(op->areas, p->areas, p->n_areas * sizeof(*op->areas));
    op->n_areas = p->n_areas;
    for (size_t i = 0; i < rules->n_areas; i++)
        if (!has_area(op->areas, op->n_areas, rules->areas[i]))
            op->areas[op->n_areas++] = rules->areas[i];
    return 0;
}

static int plan_create(const bts_erp_person *e, const bts_push_rules *rules, bts_push_op *op)
{
    size_t n = rules->n_areas ? rules->n_areas : rules->default_area > 0;

    *op = (bts_push_op){.kind = BTS_PUSH_CREATE, .erp = e};
    if (n == 0)
        return 1;
    if (!(op->areas = calloc(n, sizeof(*op->areas))))
        return BTS_ENOMEM;
    if (rules->n_areas)
        memcpy(op->areas, rules->areas, n * sizeof(*op->areas));
    else
        op->areas[0] = rules->default_area;
    op->n_areas = n;
    return 1;
}

/* The person this Employee had under the code it carried at the previous refresh, when
 * that code is now free: moving it keeps its biometrics, a create would double it. */
static const bts_bt_person *recoded_from(const bts_roster *r, const bts_erp_person *e,
                                         const bts_push_rules *rules)
{
    const char *old = rules->prev_code ? rules->prev_code(rules->ud, e->name) : NULL;
    const bts_bt_person *p;

    if (!old || strcmp(old, e->code) == 0 || bts_roster_erpnext(r, old))
        return NULL;
    p = bts_roster_biotime(r, old);
    return p && !p->resigned ? p : NULL;
}

static int plan_update(const bts_erp_person *e, const bts_bt_person *p,
                       const bts_push_rules *rules, bts_push_op *op)
{
    int r;

    *op = (bts_push_op){.kind = BTS_PUSH_UPDATE, .erp = e, .bt = p};
    op->rename = strcmp(e->first, p->first) != 0 || strcmp(e->last, p->last) != 0;
    if ((r = areas_to_add(p, rules, op)) < 0)
        return r;
    return op->rename || op->areas ? 1 : 0;
}

static int plan_resign(const bts_erp_person *e, const bts_bt_person *p,
                       const bts_push_rules *rules, bts_push_op *op)
{
    *op = (bts_push_op){.kind = BTS_PUSH_RESIGN, .erp = e, .bt = p};
    bts_strlcpy(op->date, *e->relieving ? e->relieving : rules->today, sizeof(op->date));
    return 1;
}

/* The operation for one Employee (1), or none (0). */
static int plan_one(const bts_roster *r, const bts_erp_person *e, const bts_push_rules *rules,
                    bts_push_op *op)
{
    const bts_bt_person *p = bts_roster_biotime(r, e->code);

    if (!*e->code || bts_roster_erpnext(r, e->code) != e)
        return 0; /* no code, or another Employee carrying the same code decides */
    switch (e->st) {
    case BTS_EMP_ACTIVE:
    case BTS_EMP_SUSPENDED:
        if (!p && (p = recoded_from(r, e, rules)) != NULL) {
            int k = plan_update(e, p, rules, op);
            op->recode = true;
            return k < 0 ? k : 1;
        }
        if (!p)
            return plan_create(e, rules, op);
        return p->resigned ? 0 : plan_update(e, p, rules, op);
    case BTS_EMP_LEFT:
        return rules->resign_leavers && p && !p->resigned ? plan_resign(e, p, rules, op) : 0;
    default:
        return 0; /* Inactive (and anything unknown): left alone */
    }
}

int bts_push_plan(const bts_roster *r, const bts_push_rules *rules, bts_push_op **ret,
                  size_t *ret_n)
{
    size_t n_erp = bts_roster_erpnext_count(r), n = 0;
    bts_push_op *ops;

    if (!r || !rules || !rules->today || !ret || !ret_n)
        return BTS_EINVAL;
    if (!(ops = calloc(n_erp ? n_erp : 1, sizeof(*ops))))
        return BTS_ENOMEM;
    for (size_t i = 0; i < n_erp; i++) {
        int k = plan_one(r, bts_roster_erpnext_at(r, i), rules, &ops[n]);
        if (k < 0) {
            bts_push_ops_free(ops, n);
            return k;
        }
        n += (size_t)k;
    }
    *ret = ops;
    *ret_n = n;
    return (int)n;
}

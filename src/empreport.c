/* --employees: one paged read of BioTime's personnel, one list request to ERPNext, the
 * comparison (roster.c), and the lists an operator acts on, each with its exact fix. */
#include "bts/empreport.h"
#include "bts/erpnext.h"
#include "bts/log.h"
#include "bts/personnel.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const bts_config *cfg;
    bts_roster *roster;
    bool resign_api;
    size_t erp_rows;
} report_ctx;

int bts_empreport_read_erpnext(struct bts_erpnext *erp, const char *field, bool only_set,
                               cJSON **ret_rows)
{
    char fields[400], filters[300], line[600];
    bts_frappe_error err;
    int r;

    snprintf(fields, sizeof(fields), "[\"name\",\"employee_name\",\"first_name\","
             "\"last_name\",\"status\",\"relieving_date\",\"%s\"]", field);
    snprintf(filters, sizeof(filters), "[[\"%s\",\"is\",\"set\"]]", field);
    r = bts_erpnext_list(erp, "Employee", fields, only_set ? filters : NULL, 0, "name asc",
                         ret_rows, &err);
    if (r < 0) {
        bts_frappe_error_format(&err, line, sizeof(line));
        bts_err("reading the Employee list from ERPNext: %s", line);
    }
    return r;
}

static int read_both(report_ctx *c)
{
    bts_biotime *bt = NULL;
    bts_erpnext *erp = NULL;
    cJSON *rows = NULL;
    int r;

    if ((r = bts_biotime_new(&c->cfg->biotime, &bt)) < 0 ||
        (r = bts_erpnext_new(&c->cfg->erpnext, &erp)) < 0)
        goto out;
    if ((r = bts_personnel_load(bt, c->cfg->biotime.page_size, c->roster, &c->resign_api)) < 0)
        goto out;
    if ((r = bts_empreport_read_erpnext(erp, c->cfg->erpnext.employee_field, false, &rows)) < 0)
        goto out;
    c->erp_rows = (size_t)cJSON_GetArraySize(rows);
    if ((r = bts_roster_add_erpnext(c->roster, rows, c->cfg->erpnext.employee_field)) >= 0)
        r = bts_roster_index(c->roster);
out:
    cJSON_Delete(rows);
    bts_erpnext_free(erp);
    bts_biotime_free(bt);
    return r;
}

/* "First Last" of a BioTime person. */
static void bt_name(const bts_bt_person *p, char *out, size_t n)
{
    snprintf(out, n, "%s%s%s", p->first, *p->first && *p->last ? " " : "", p->last);
}

static void print_fix(FILE *out, const char *field, const bts_bt_person *p,
                      const bts_erp_person *e)
{
    fprintf(out, "        set %s = %s on %s (%s)\n", field, p->code, e->name,
            *e->full ? e->full : e->first);
}

static void print_bt_only(FILE *out, const char *field, const bts_roster_report *rep)
{
    char name[520];

    fprintf(out, "\nIn BioTime only (no Employee carries the code): %zu\n", rep->n_bt_only);
    for (size_t i = 0; i < rep->n_bt_only; i++) {
        const bts_roster_unmapped *u = &rep->bt_only[i];
        bt_name(u->bt, name, sizeof(name));
        if (u->n_cands == 0)
            fprintf(out, "  %-8s %s: no Employee without %s has this name\n", u->bt->code,
                    name, field);
        else
            fprintf(out, "  %-8s %s: %zu Employee%s without %s match%s by name:\n",
                    u->bt->code, name, u->n_cands, u->n_cands == 1 ? "" : "s", field,
                    u->n_cands == 1 ? "es" : "");
        for (size_t k = 0; k < u->n_cands; k++)
            print_fix(out, field, u->bt, u->cands[k]);
    }
}

static void print_human(const report_ctx *c, const bts_roster_report *rep, FILE *out)
{
    const char *field = c->cfg->erpnext.employee_field;
    char name[520];

    fprintf(out, "BioTime: %zu employees; ERPNext: %zu Employees\n",
            bts_roster_biotime_count(c->roster), c->erp_rows);
    if (!c->resign_api)
        fprintf(out, "This BioTime has no resign API: resignations cannot be read, so every "
                "person it lists counts as active.\n");
    fprintf(out, "\nMapped (%s = emp_code): %zu\n", field, rep->n_mapped);
    for (size_t i = 0; i < rep->n_mapped; i++) {
        const bts_roster_pair *m = &rep->mapped[i];
        bt_name(m->bt, name, sizeof(name));
        fprintf(out, "  %-8s %s -> %s (%s, %s)%s\n", m->bt->code, name, m->erp->name,
                m->erp->full, m->erp->status, m->bt->resigned ? ", resigned in BioTime" : "");
    }
    print_bt_only(out, field, rep);
    fprintf(out, "\nIn ERPNext only (Active, %s set, not in BioTime): %zu\n", field,
            rep->n_erp_only);
    for (size_t i = 0; i < rep->n_erp_only; i++) {
        const bts_erp_person *e = rep->erp_only[i];
        const bts_bt_person *p = bts_roster_biotime(c->roster, e->code);
        fprintf(out, "  %-8s %s (%s)%s\n", e->code, e->name, e->full,
                p ? ": resigned in BioTime" : "");
    }
    fprintf(out, "\nLeavers (Left in ERPNext) still active in BioTime: %zu\n", rep->n_leavers);
    for (size_t i = 0; i < rep->n_leavers; i++) {
        const bts_roster_pair *l = &rep->leavers[i];
        fprintf(out, "  %-8s %s (%s), relieving date %s\n", l->bt->code, l->erp->name,
                l->erp->full, *l->erp->relieving ? l->erp->relieving : "not set");
    }
    size_t todo = rep->n_bt_only + rep->n_erp_only + rep->n_leavers;
    fprintf(out, "\n%s\n", todo ? "Action needed." : "Nothing needs action.");
}

static cJSON *json_erp(const bts_erp_person *e)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "employee", e->name);
    cJSON_AddStringToObject(o, "employee_name", e->full);
    cJSON_AddStringToObject(o, "status", e->status);
    return o;
}

static cJSON *json_bt(const bts_bt_person *p)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "emp_code", p->code);
    cJSON_AddNumberToObject(o, "biotime_id", (double)p->id);
    cJSON_AddStringToObject(o, "first_name", p->first);
    cJSON_AddStringToObject(o, "last_name", p->last);
    cJSON_AddBoolToObject(o, "resigned", p->resigned);
    return o;
}

static cJSON *json_pair(const bts_roster_pair *m)
{
    cJSON *o = json_bt(m->bt);

    cJSON_AddItemToObject(o, "erpnext", json_erp(m->erp));
    if (*m->erp->relieving)
        cJSON_AddStringToObject(cJSON_GetObjectItem(o, "erpnext"), "relieving_date",
                                m->erp->relieving);
    return o;
}

static cJSON *json_unmapped(const char *field, const bts_roster_unmapped *u)
{
    cJSON *o = json_bt(u->bt), *cands = cJSON_AddArrayToObject(o, "candidates");
    char fix[700];

    for (size_t k = 0; k < u->n_cands; k++) {
        cJSON *c = json_erp(u->cands[k]);
        snprintf(fix, sizeof(fix), "set %s = %s on %s (%s)", field, u->bt->code,
                 u->cands[k]->name, *u->cands[k]->full ? u->cands[k]->full : u->cands[k]->first);
        cJSON_AddStringToObject(c, "fix", fix);
        cJSON_AddItemToArray(cands, c);
    }
    return o;
}

static cJSON *json_report(const report_ctx *c, const bts_roster_report *rep)
{
    const char *field = c->cfg->erpnext.employee_field;
    cJSON *o = cJSON_CreateObject(), *a;

    cJSON_AddStringToObject(o, "employee_field", field);
    cJSON_AddNumberToObject(o, "biotime_employees", (double)bts_roster_biotime_count(c->roster));
    cJSON_AddNumberToObject(o, "erpnext_employees", (double)c->erp_rows);
    cJSON_AddBoolToObject(o, "resign_api", c->resign_api);
    a = cJSON_AddArrayToObject(o, "mapped");
    for (size_t i = 0; i < rep->n_mapped; i++)
        cJSON_AddItemToArray(a, json_pair(&rep->mapped[i]));
    a = cJSON_AddArrayToObject(o, "biotime_only");
    for (size_t i = 0; i < rep->n_bt_only; i++)
        cJSON_AddItemToArray(a, json_unmapped(field, &rep->bt_only[i]));
    a = cJSON_AddArrayToObject(o, "erpnext_only");
    for (size_t i = 0; i < rep->n_erp_only; i++) {
        cJSON *e = json_erp(rep->erp_only[i]);
        cJSON_AddStringToObject(e, "emp_code", rep->erp_only[i]->code);
        cJSON_AddItemToArray(a, e);
    }
    a = cJSON_AddArrayToObject(o, "leavers");
    for (size_t i = 0; i < rep->n_leavers; i++)
        cJSON_AddItemToArray(a, json_pair(&rep->leavers[i]));
    cJSON_AddBoolToObject(o, "needs_action", bts_roster_needs_action(rep));
    return o;
}

static int print_json(const report_ctx *c, const bts_roster_report *rep, FILE *out)
{
    cJSON *o = json_report(c, rep);
    char *text = o ? cJSON_Print(o) : NULL;

    if (text)
        fprintf(out, "%s\n", text);
    cJSON_free(text);
    cJSON_Delete(o);
    return text ? 0 : BTS_ENOMEM;
}

int bts_empreport(const bts_config *cfg, bool json, FILE *out)
{
    report_ctx c = {.cfg = cfg};
    bts_roster_report rep = {0};
    int r;

    if ((r = bts_roster_new(&c.roster)) < 0)
        return r;
    if ((r = read_both(&c)) < 0 || (r = bts_roster_compare(c.roster, &rep)) < 0)
        goto out;
    r = json ? print_json(&c, &rep, out) : 0;
    if (!json)
        print_human(&c, &rep, out);
    if (r == 0)
        r = bts_roster_needs_action(&rep) ? 1 : 0;
out:
    bts_roster_report_clear(&rep);
    bts_roster_free(c.roster);
    return r;
}

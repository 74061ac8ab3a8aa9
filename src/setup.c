/* --setup-doctypes (frappe-api.md §8.1): GET the DocType first and create it only on a 404,
 * so a second run changes nothing; an existing doctype is never altered (sites that ran the
 * original Frappe app keep their schema), only compared with what the sync writes. */
#include <stdio.h>
#include <string.h>

#include "bts/erpnext.h"
#include "bts/log.h"
#include "bts/setup.h"

#define FIELD_MAX 32 /* the missing-field masks are 32 bits wide */

/* The schema of the original biotime_api_integration app (CONTRACT.md §4). Every BioTime
 * field is Data: the Device Log is the raw record, and a Datetime field would refuse a
 * punch_time BioTime garbled (such rows are still kept, with synced = 0). */
static const bts_setup_field device_log_fields[] = {
    {"id", "BioTime ID", "Data", NULL, true, true, true},
    {"emp", "Employee Id on BioTime", "Data", NULL, false, false, true},
    {"emp_code", "Attendance Device ID (Biometric/RF tag ID)", "Data", NULL, false, true, true},
    {"first_name", "First Name", "Data", NULL, false, false, true},
    {"last_name", "Last Name", "Data", NULL, false, false, true},
    {"department", "Department", "Data", NULL, false, false, true},
    {"position", "Position", "Data", NULL, false, false, true},
    {"punch_time", "Punch Time", "Data", NULL, false, true, true},
    {"punch_state", "Punch State", "Data", NULL, false, false, true},
    {"punch_state_display", "Punch State Display", "Data", NULL, false, false, true},
    {"verify_type", "Verify Type", "Data", NULL, false, false, true},
    {"verify_type_display", "Verify Type Display", "Data", NULL, false, false, true},
    {"work_code", "Work Code", "Data", NULL, false, false, true},
    {"gps_location", "GPS Location", "Data", NULL, false, false, true},
    {"area_alias", "Area Alias", "Data", NULL, false, false, true},
    {"terminal_sn", "Device ID", "Data", NULL, false, true, true},
    {"temperature", "Device Temperature", "Data", NULL, false, false, true},
    {"is_mask", "Is Mask", "Data", NULL, false, false, true},
    {"terminal_alias", "Device Alias", "Data", NULL, false, false, true},
    {"upload_time", "Upload Time", "Data", NULL, false, false, true},
    {"synced", "Synced", "Check", NULL, false, true, true},
    {"employee_check_in", "Employee Checkin", "Link", "Employee Checkin", false, false, true},
    {"employee_id_on_system", "Employee Id on System", "Link", "Employee", false, false, true},
    /* ours: why a punch is parked; without it the reason is only in the daemon's log */
    {"sync_error", "Sync Error", "Small Text", NULL, false, false, false},
};

static const bts_setup_field sync_logs_fields[] = {
    {"title", "Title", "Data", NULL, false, true, true},
    {"response", "Response", "Long Text", NULL, false, false, true},
};

/* Who may use the doctypes. HR User is there because the sync's API user usually has only
 * HR User (enough for Employee Checkin) and must still write Device Logs and Sync Logs. */
static const struct {
    const char *role;
    bool del;
} perm_roles[] = {{"System Manager", true}, {"HR Manager", true}, {"HR User", false}};

const bts_setup_field *bts_setup_fields(bts_setup_kind kind, size_t *ret_n)
{
    if (kind == BTS_SETUP_DEVICE_LOG) {
        *ret_n = BTS_ARRAY_SIZE(device_log_fields);
        return device_log_fields;
    }
    *ret_n = BTS_ARRAY_SIZE(sync_logs_fields);
    return sync_logs_fields;
}

const char *bts_setup_doctype_name(const bts_config *cfg, bts_setup_kind kind)
{
    return kind == BTS_SETUP_DEVICE_LOG ? cfg->erpnext.device_log_doctype
                                        : cfg->erpnext.sync_log_doctype;
}

static bool doc_has_field(const cJSON *doc, const char *fieldname)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(doc, "fields")) {
        const char *fn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "fieldname"));
        if (fn && strcmp(fn, fieldname) == 0)
            return true;
    }
    return false;
}

uint32_t bts_setup_missing_mask(bts_setup_kind kind, const cJSON *doctype_doc)
{
    size_t n;
    const bts_setup_field *fields = bts_setup_fields(kind, &n);
    uint32_t mask = 0;
    for (size_t i = 0; i < n && i < FIELD_MAX; i++)
        if (!doc_has_field(doctype_doc, fields[i].fieldname))
            mask |= UINT32_C(1) << i;
    return mask;
}

int bts_setup_describe(bts_setup_kind kind, uint32_t mask, bool needed, bool optional,
                       char *out, size_t n)
{
    size_t nf, len = 0;
    const bts_setup_field *fields = bts_setup_fields(kind, &nf);
    int count = 0;
    if (n)
        out[0] = '\0';
    for (size_t i = 0; i < nf && i < FIELD_MAX; i++) {
        if (!(mask & (UINT32_C(1) << i)) || !(fields[i].needed ? needed : optional))
            continue;
        int w = snprintf(out + len, n > len ? n - len : 0, "%s%s", count ? ", " : "",
                         fields[i].fieldname);
        if (w > 0)
            len += (size_t)w;
        count++;
    }
    return count;
}

static cJSON *field_json(const bts_setup_field *f)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "fieldname", f->fieldname) ||
        !cJSON_AddStringToObject(o, "label", f->label) ||
        !cJSON_AddStringToObject(o, "fieldtype", f->fieldtype) ||
        (f->options && !cJSON_AddStringToObject(o, "options", f->options)) ||
        (f->key && (!cJSON_AddNumberToObject(o, "reqd", 1) ||
                    !cJSON_AddNumberToObject(o, "unique", 1))) ||
        (f->in_list_view && !cJSON_AddNumberToObject(o, "in_list_view", 1)) ||
        (strcmp(f->fieldtype, "Check") == 0 && !cJSON_AddStringToObject(o, "default", "0"))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *perm_json(const char *role, bool del)
{
    static const char *const rights[] = {"read", "write", "create", "report", "export"};
    cJSON *o = cJSON_CreateObject();
    bool ok = o && cJSON_AddStringToObject(o, "role", role) &&
              cJSON_AddNumberToObject(o, "delete", del ? 1 : 0);
    for (size_t i = 0; ok && i < BTS_ARRAY_SIZE(rights); i++)
        ok = cJSON_AddNumberToObject(o, rights[i], 1) != NULL;
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Fields and permission rows of a new DocType document. */
static int add_rows(cJSON *doc, bts_setup_kind kind)
{
    size_t n;
    const bts_setup_field *fields = bts_setup_fields(kind, &n);
    cJSON *fa = cJSON_AddArrayToObject(doc, "fields");
    cJSON *pa = cJSON_AddArrayToObject(doc, "permissions");
    if (!fa || !pa)
        return BTS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        cJSON *f = field_json(&fields[i]);
        if (!f || !cJSON_AddItemToArray(fa, f))
            return BTS_ENOMEM;
    }
    for (size_t i = 0; i < BTS_ARRAY_SIZE(perm_roles); i++) {
        cJSON *p = perm_json(perm_roles[i].role, perm_roles[i].del);
        if (!p || !cJSON_AddItemToArray(pa, p))
            return BTS_ENOMEM;
    }
    return 0;
}

/* custom = 1 works without developer_mode and writes no files into an app. Sync Logs are
 * named by hash: a "format:{title}-" name fails on titles holding '<' or '>' (error texts)
 * and its counter is shared site-wide (frappe-observed.md). */
static cJSON *doctype_json(const bts_config *cfg, bts_setup_kind kind)
{
    bool dl = kind == BTS_SETUP_DEVICE_LOG;
    cJSON *doc = cJSON_CreateObject();
    if (!doc || !cJSON_AddStringToObject(doc, "doctype", "DocType") ||
        !cJSON_AddStringToObject(doc, "name", bts_setup_doctype_name(cfg, kind)) ||
        !cJSON_AddStringToObject(doc, "module", "Custom") ||
        !cJSON_AddNumberToObject(doc, "custom", 1) ||
        !cJSON_AddStringToObject(doc, "autoname", dl ? "field:id" : "hash") ||
        !cJSON_AddStringToObject(doc, "naming_rule", dl ? "By fieldname" : "Random") ||
        !cJSON_AddStringToObject(doc, "sort_field", "creation") ||
        !cJSON_AddStringToObject(doc, "sort_order", "DESC") ||
        (!dl && !cJSON_AddStringToObject(doc, "title_field", "title")) ||
        add_rows(doc, kind) < 0) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

/* Prints why ERPNext said no, with the fix, and returns the error for main's exit code. */
static int setup_failed(FILE *out, const char *name, const char *what, int r,
                        const bts_frappe_error *err)
{
    char line[600];
    bts_frappe_error_format(err, line, sizeof(line));
    if (r == BTS_EAUTH && err->status == 403) {
        fprintf(out, "%s: FAILED: ERPNext refused to %s (%s): that needs the System Manager "
                "role; give it to the API user for this one-off setup, or run "
                "--setup-doctypes with a System Manager's api_key/api_secret\n", name, what,
                line);
        return BTS_EROLE;
    }
    if (r == BTS_EAUTH)
        fprintf(out, "%s: FAILED: ERPNext refused the API key (%s): check erpnext.api_key "
                "and erpnext.api_secret\n", name, line);
    else if (err->cls == BTS_FE_WRONG_SITE)
        fprintf(out, "%s: FAILED: %s: wrong host or site: set erpnext.url to the site's own "
                "name or erpnext.site_name\n", name, line);
    else
        fprintf(out, "%s: FAILED: could not %s: %s\n", name, what, line);
    return err->cls == BTS_FE_WRONG_SITE ? BTS_EAUTH : r;
}

static void report_existing(FILE *out, const char *name, bts_setup_kind kind, const cJSON *doc)
{
    char needed[512], optional[512];
    uint32_t mask = bts_setup_missing_mask(kind, doc);
    int nn = bts_setup_describe(kind, mask, true, false, needed, sizeof(needed));
    int no = bts_setup_describe(kind, mask, false, true, optional, sizeof(optional));
    if (!mask) {
        fprintf(out, "%s: exists, complete\n", name);
        return;
    }
    fprintf(out, "%s: exists, missing fields: %s%s%s\n", name, needed, nn && no ? ", " : "",
            optional);
    if (nn)
        fprintf(out, "  needed by the sync: %s: add them with Customize Form (same field "
                "names); until then the sync cannot store them\n", needed);
    if (no)
        fprintf(out, "  optional: %s: without it parked punches do not record why in "
                "ERPNext (the daemon's log still says)\n", optional);
}

/* Creates the doctype; a concurrent creator (409) counts as "exists". */
static int create(bts_erpnext *e, const bts_config *cfg, bts_setup_kind kind, FILE *out)
{
    const char *name = bts_setup_doctype_name(cfg, kind);
    bts_frappe_error err = {0};
    cJSON *doc = doctype_json(cfg, kind);
    int r = doc ? bts_erpnext_insert(e, doc, NULL, &err) : BTS_ENOMEM;
    if (r == 0) {
        fprintf(out, "%s: created\n", name);
        bts_notice("created the ERPNext doctype \"%s\"", name);
    } else if (r == BTS_EPERM && err.cls == BTS_FE_DUPLICATE_ENTRY) {
        r = 1; /* created meanwhile by someone else: look at it again */
    } else if (r != BTS_ENOMEM) {
        r = setup_failed(out, name, "create the DocType", r, &err);
    }
    cJSON_Delete(doc);
    return r;
}

static int setup_one(bts_erpnext *e, const bts_config *cfg, bts_setup_kind kind, FILE *out)
{
    const char *name = bts_setup_doctype_name(cfg, kind);
    for (int attempt = 0; attempt < 2; attempt++) {
        bts_frappe_error err = {0};
        cJSON *doc = NULL;
        int r = bts_erpnext_get(e, "DocType", name, &doc, &err);
        if (r == 0) {
            report_existing(out, name, kind, doc);
            cJSON_Delete(doc);
            return 0;
        }
        if (r != BTS_EPERM || err.cls != BTS_FE_NOT_FOUND)
            return setup_failed(out, name, "read the DocType", r, &err);
        if ((r = create(e, cfg, kind, out)) <= 0)
            return r;
    }
    fprintf(out, "%s: FAILED: ERPNext says it exists but cannot find it\n", name);
    return BTS_EPROTO;
}

int bts_setup_doctypes(const bts_config *cfg, FILE *out)
{
    static const bts_setup_kind kinds[] = {BTS_SETUP_DEVICE_LOG, BTS_SETUP_SYNC_LOGS};
    bts_erpnext *e = NULL;
    int r = bts_erpnext_new(&cfg->erpnext, &e);
    for (size_t i = 0; r == 0 && i < BTS_ARRAY_SIZE(kinds); i++)
        r = setup_one(e, cfg, kinds[i], out);
    bts_erpnext_free(e);
    return r;
}

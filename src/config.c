/* The configuration file (CONTRACT.md §3).
 *
 * One declarative table names every key with its type, default, range and place in
 * bts_config; loading, printing and freeing all walk it, so a new key is one row here.
 * Loading is a row of passes, each returning 0 or BTS_ECONFIG with
 * "FILE:LINE: group.key: what is wrong" in err: read the file, refuse unknown names, take
 * each value (type, range, check), read the secret files, demand the required keys, then
 * resolve what is derived (time zones). The first error wins: one clear message beats ten. */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "bts/config.h"
#include "bts/config_check.h"
#include "bts/config_include.h"
#include "bts/config_paths.h"
#include "bts/timeconv.h"

typedef enum {
    KEY_STRING,  /* char * */
    KEY_FILE,    /* char *: a file whose first line is the secret at .count */
    KEY_INT,     /* int within min..max */
    KEY_BOOL,    /* bool */
    KEY_ENUM,    /* int: the value of one of .choices, written by name */
    KEY_STRINGS, /* char ** with a size_t count at .count */
    KEY_INTS,    /* int * with a size_t count at .count, each within min..max */
    KEY_LOCATIONS, /* bts_location * with a size_t count at .count */
} key_type;

typedef struct {
    const char *name;
    int value;
} key_choice;

/* Further checks on a string (or on each string of an array); may normalise it in place.
 * Returns NULL when the value is good, else what is wrong with it. */
typedef const char *(*key_check)(char *value);

typedef struct {
    const char *group;
    const char *name;
    key_type type;
    size_t offset;        /* of the value in bts_config */
    size_t count;         /* arrays: of the element count; KEY_FILE: of the secret it fills */
    const char *def;      /* strings and enums */
    int def_int;          /* ints and bools */
    const int *def_ints;  /* int arrays */
    size_t n_def_ints;
    int min, max;         /* ints and the elements of int arrays */
    const key_choice *choices;
    key_check check;
    bool secret;          /* printed as "***", listed by bts_config_secrets */
    bool required;        /* must not be empty; the conditional ones are in loader_required */
} key;

/* The enum is stored through an int lvalue by the table. */
_Static_assert(sizeof(bts_auth_mode) == sizeof(int), "bts_auth_mode must be int-sized");


static const key_choice auth_choices[] = {
    {"jwt", BTS_AUTH_JWT}, {"token", BTS_AUTH_TOKEN}, {"basic", BTS_AUTH_BASIC}, {NULL, 0},
};
static const key_choice level_choices[] = {
    {"err", LOG_ERR}, {"warning", LOG_WARNING}, {"notice", LOG_NOTICE},
    {"info", LOG_INFO}, {"debug", LOG_DEBUG}, {NULL, 0},
};
static const int punch_in_default[] = {0, 3, 4};
static const int punch_out_default[] = {1, 2, 5};

#define AT(field) offsetof(bts_config, field)
#define K_STR(g, n, f, d, chk) \
    {.group = g, .name = n, .type = KEY_STRING, .offset = AT(f), .def = d, .check = chk}
#define K_REQ(g, n, f, chk) \
    {.group = g, .name = n, .type = KEY_STRING, .offset = AT(f), .def = "", .check = chk, \
     .required = true}
#define K_SECRET(g, n, f, req) \
    {.group = g, .name = n, .type = KEY_STRING, .offset = AT(f), .def = "", .secret = true, \
     .required = req}
#define K_FILE(g, n, f, secret_field) \
    {.group = g, .name = n, .type = KEY_FILE, .offset = AT(f), .count = AT(secret_field), \
     .def = ""}
#define K_INT(g, n, f, d, lo, hi) \
    {.group = g, .name = n, .type = KEY_INT, .offset = AT(f), .def_int = d, .min = lo, .max = hi}
#define K_BOOL(g, n, f, d) {.group = g, .name = n, .type = KEY_BOOL, .offset = AT(f), .def_int = d}
#define K_ENUM(g, n, f, d, ch) \
    {.group = g, .name = n, .type = KEY_ENUM, .offset = AT(f), .def = d, .choices = ch}
#define K_STRS(g, n, f, cnt, chk) \
    {.group = g, .name = n, .type = KEY_STRINGS, .offset = AT(f), .count = AT(cnt), .check = chk}
#define K_INTS(g, n, f, cnt, d, lo, hi) \
    {.group = g, .name = n, .type = KEY_INTS, .offset = AT(f), .count = AT(cnt), \
     .def_ints = d, .n_def_ints = BTS_ARRAY_SIZE(d), .min = lo, .max = hi}
#define K_LOCS(g, n, f, cnt) \
    {.group = g, .name = n, .type = KEY_LOCATIONS, .offset = AT(f), .count = AT(cnt)}

/* CONTRACT.md §3, in its order: bts_config_print follows this table. Keys of one group
 * must stay together. */
static const key keys[] = {
    K_REQ("biotime", "url", biotime.url, bts_config_check_url),
    K_STR("biotime", "name", biotime.name, "", bts_config_check_label),
    K_ENUM("biotime", "auth", biotime.auth, "jwt", auth_choices),
    K_STR("biotime", "username", biotime.username, "", NULL),
    K_SECRET("biotime", "password", biotime.password, false),
    K_FILE("biotime", "password_file", biotime.password_file, biotime.password),
    K_SECRET("biotime", "token", biotime.token, false),
    K_FILE("biotime", "token_file", biotime.token_file, biotime.token),
    K_STR("biotime", "company", biotime.company, "", NULL),
    K_INT("biotime", "page_size", biotime.page_size, 200, 1, 10000),
    K_INT("biotime", "timeout", biotime.timeout, 60, 1, 3600),
    K_STR("biotime", "timezone", biotime.timezone, "", bts_config_check_zone),
    K_STRS("biotime", "terminals", biotime.terminals, biotime.n_terminals, bts_config_check_nonempty),
    K_BOOL("biotime", "tls_verify", biotime.tls_verify, true),
    K_STR("biotime", "ca_file", biotime.ca_file, "", bts_config_check_readable),

    K_REQ("erpnext", "url", erpnext.url, bts_config_check_url),
    K_REQ("erpnext", "api_key", erpnext.api_key, NULL),
    K_SECRET("erpnext", "api_secret", erpnext.api_secret, true),
    K_FILE("erpnext", "api_secret_file", erpnext.api_secret_file, erpnext.api_secret),
    K_STR("erpnext", "site_name", erpnext.site_name, "", NULL),
    K_STR("erpnext", "timezone", erpnext.timezone, "", bts_config_check_zone),
    K_STR("erpnext", "employee_field", erpnext.employee_field, "attendance_device_id",
          bts_config_check_fieldname),
    K_BOOL("erpnext", "create_checkins", erpnext.create_checkins, true),
    K_STR("erpnext", "device_log_doctype", erpnext.device_log_doctype, "BioTime Device Log",
          bts_config_check_nonempty),
    K_STR("erpnext", "sync_log_doctype", erpnext.sync_log_doctype, "Sync Logs", bts_config_check_nonempty),
    K_INT("erpnext", "batch_size", erpnext.batch_size, 100, 1, 200),
    K_INT("erpnext", "connections", erpnext.connections, 4, 1, 32),
    K_INT("erpnext", "timeout", erpnext.timeout, 60, 1, 3600),
    K_STRS("erpnext", "shift_types", erpnext.shift_types, erpnext.n_shift_types, bts_config_check_nonempty),
    K_LOCS("erpnext", "locations", erpnext.locations, erpnext.n_locations),
    K_BOOL("erpnext", "tls_verify", erpnext.tls_verify, true),
    K_STR("erpnext", "ca_file", erpnext.ca_file, "", bts_config_check_readable),

    K_INT("sync", "interval", sync.interval, 15, 1, 86400),
    K_STR("sync", "start_date", sync.start_date, "", bts_config_check_date),
    K_INT("sync", "lookback_hours", sync.lookback_hours, 72, 0, 8760),
    K_STR("sync", "state_dir", sync.state_dir, "/var/lib/biotime-sync", bts_config_check_nonempty),
    K_INTS("sync", "punch_in", sync.punch_in, sync.n_punch_in, punch_in_default, 0, 255),
    K_INTS("sync", "punch_out", sync.punch_out, sync.n_punch_out, punch_out_default, 0, 255),
    K_STR("sync", "metrics_file", sync.metrics_file, "", bts_config_check_file_path),

    K_BOOL("employees", "push", employees.push, false),
    K_STR("employees", "department", employees.department, "", NULL),
    K_STRS("employees", "areas", employees.areas, employees.n_areas, bts_config_check_nonempty),
    K_BOOL("employees", "resign_leavers", employees.resign_leavers, true),

    K_ENUM("log", "level", log.level, "info", level_choices),
};

#define FIELD(cfg, off, type) ((type *)(void *)((char *)(cfg) + (off)))

typedef struct {
    config_t lc;
    const char *path;
    char *dir;          /* of the config file: relative secret files are found there */
    unsigned flags;     /* BTS_CONFIG_* */
    bts_config *cfg;
    char *err;
    size_t errlen;
} loader;

/* ---- errors ---- */

__attribute__((format(printf, 4, 0)))
static int loader_vfail(loader *l, const config_setting_t *s, const char *what,
                        const char *fmt, va_list ap) {
    const char *file = s && config_setting_source_file(s) ? config_setting_source_file(s)
                                                          : l->path;
    char msg[512], where[64] = "";

    if (!l->err || l->errlen == 0)
        return BTS_ECONFIG;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* Without a setting (the file itself, a missing group) there is no line to name. */
    if (s && config_setting_source_line(s) > 0)
        snprintf(where, sizeof(where), ":%u", (unsigned)config_setting_source_line(s));
    snprintf(l->err, l->errlen, "%s%s: %s%s%s", file, where, what ? what : "",
             what ? ": " : "", msg);
    return BTS_ECONFIG;
}

/* Records "FILE:LINE: what: message" for setting s (NULL: the file, no line). */
__attribute__((format(printf, 4, 5)))
static int loader_fail(loader *l, const config_setting_t *s, const char *what,
                       const char *fmt, ...) {
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = loader_vfail(l, s, what, fmt, ap);
    va_end(ap);
    return r;
}

/* "group.name", as errors name a key. */
static const char *key_what(const key *k, char buf[static 64]) {
    snprintf(buf, 64, "%s.%s", k->group, k->name);
    return buf;
}

/* As loader_fail, naming the key. */
__attribute__((format(printf, 4, 5)))
static int key_fail(loader *l, const key *k, const config_setting_t *s, const char *fmt, ...) {
    char what[64];
    va_list ap;
    int r;

    key_what(k, what);
    va_start(ap, fmt);
    r = loader_vfail(l, s, what, fmt, ap);
    va_end(ap);
    return r;
}

static int loader_oom(loader *l) {
    if (l->err && l->errlen > 0)
        snprintf(l->err, l->errlen, "%s: out of memory", l->path);
    return BTS_ENOMEM;
}

/* ---- the table ---- */

static const key *key_find(const char *group, const char *name) {
    for (size_t i = 0; i < BTS_ARRAY_SIZE(keys); i++)
        if (strcmp(keys[i].group, group) == 0 && strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static bool group_known(const char *group) {
    for (size_t i = 0; i < BTS_ARRAY_SIZE(keys); i++)
        if (strcmp(keys[i].group, group) == 0)
            return true;
    return false;
}

static const char *choice_name(const key_choice *choices, int value) {
    for (const key_choice *c = choices; c->name; c++)
        if (c->value == value)
            return c->name;
    return "?";
}

/* The setting of group.name, or else the group's (where a missing key would go), or NULL. */
static const config_setting_t *loader_where(const loader *l, const char *group,
                                            const char *name) {
    const config_setting_t *g = config_setting_get_member(config_root_setting(&l->lc), group);
    const config_setting_t *s = g && name ? config_setting_get_member(g, name) : NULL;

    return s ? s : g;
}

/* Replaces the string at *slot with a copy of value. */
static int str_set(char **slot, const char *value) {
    char *copy = strdup(value);

    if (!copy)
        return BTS_ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

/* Frees a string, first wiping it when it may hold a secret. */
static void str_free(char *s, bool wipe) {
    if (s && wipe)
        explicit_bzero(s, strlen(s));
    free(s);
}

static int key_default(bts_config *cfg, const key *k) {
    switch (k->type) {
    case KEY_STRING:
    case KEY_FILE:
        return str_set(FIELD(cfg, k->offset, char *), k->def);
    case KEY_INT:
        *FIELD(cfg, k->offset, int) = k->def_int;
        return 0;
    case KEY_BOOL:
        *FIELD(cfg, k->offset, bool) = k->def_int != 0;
        return 0;
    case KEY_ENUM:
        for (const key_choice *c = k->choices; c->name; c++)
            if (strcmp(c->name, k->def) == 0)
                *FIELD(cfg, k->offset, int) = c->value;
        return 0;
    case KEY_STRINGS:
    case KEY_LOCATIONS:
        return 0;
    case KEY_INTS:
        if (!(*FIELD(cfg, k->offset, int *) = calloc(k->n_def_ints, sizeof(int))))
            return BTS_ENOMEM;
        memcpy(*FIELD(cfg, k->offset, int *), k->def_ints, k->n_def_ints * sizeof(int));
        *FIELD(cfg, k->count, size_t) = k->n_def_ints;
        return 0;
    }
    return BTS_EINVAL;
}

static void key_free(bts_config *cfg, const key *k) {
    switch (k->type) {
    case KEY_STRING:
    case KEY_FILE:
        str_free(*FIELD(cfg, k->offset, char *), k->secret);
        break;
    case KEY_STRINGS:
        for (size_t i = 0; i < *FIELD(cfg, k->count, size_t); i++)
            free((*FIELD(cfg, k->offset, char **))[i]);
        free(*FIELD(cfg, k->offset, char **));
        break;
    case KEY_INTS:
        free(*FIELD(cfg, k->offset, int *));
        break;
    case KEY_LOCATIONS:
        for (size_t i = 0; i < *FIELD(cfg, k->count, size_t); i++)
            free((*FIELD(cfg, k->offset, bts_location *))[i].terminal);
        free(*FIELD(cfg, k->offset, bts_location *));
        *FIELD(cfg, k->offset, bts_location *) = NULL;
        *FIELD(cfg, k->count, size_t) = 0;
        break;
    case KEY_INT:
    case KEY_BOOL:
    case KEY_ENUM:
        break;
    }
}

void bts_config_free(bts_config *cfg) {
    if (!cfg)
        return;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(keys); i++)
        key_free(cfg, &keys[i]);
    free(cfg->path);
    free(cfg);
}

static int config_new(const char *path, bts_config **ret) {
    bts_config *cfg = calloc(1, sizeof(*cfg));
    int r = BTS_ENOMEM;

    if (!cfg || !(cfg->path = strdup(path)))
        goto out;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(keys); i++)
        if ((r = key_default(cfg, &keys[i])) < 0)
            goto out;
    *ret = cfg;
    cfg = NULL;
    r = 0;
out:
    bts_config_free(cfg);
    return r;
}

/* ---- reading the file ---- */

/* Refuses a file that other users may read (or write): it holds or guards secrets. */
static int loader_private(loader *l, int fd, const char *file, const config_setting_t *s,
                          const char *what) {
    struct stat st;

    if (fstat(fd, &st) < 0)
        return loader_fail(l, s, what, "%s: %s", file, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return loader_fail(l, s, what, "%s: not a regular file", file);
    if (st.st_mode & (S_IROTH | S_IWOTH))
        return loader_fail(l, s, what, "%s by other users (mode %04o): chmod o-%s %s",
                           st.st_mode & S_IROTH ? "readable" : "writable",
                           (unsigned)(st.st_mode & 07777),
                           st.st_mode & S_IWOTH ? (st.st_mode & S_IROTH ? "rw" : "w") : "r",
                           file);
    return 0;
}

static int loader_dir(loader *l) {
    char *copy = strdup(l->path);
    int err;

    if (!copy)
        return loader_oom(l);
    /* Absolute, so that -n shows where a secret really came from. */
    l->dir = realpath(dirname(copy), NULL);
    err = errno;
    free(copy);
    return l->dir ? 0 : loader_fail(l, NULL, NULL, "its directory: %s", strerror(err));
}

/* libconfig 1.5's scanner calls exit() on some bytes a text file never holds (a NUL in an
 * @include string was found by fuzzing): such a file is refused before it is parsed, so a
 * bad file on reload cannot stop the daemon. */
static int loader_text_only(loader *l, FILE *f) {
    long offset = 0;
    int c;

    while ((c = getc(f)) != EOF) {
        if (c == '\0')
            return loader_fail(l, NULL, NULL, "a NUL byte at offset %ld: not a text file",
                               offset);
        offset++;
    }
    if (ferror(f) || fseek(f, 0, SEEK_SET) != 0)
        return loader_fail(l, NULL, NULL, "%s", strerror(errno));
    return 0;
}

static int loader_read(loader *l) {
    FILE *f = NULL;
    int fd, r;

    fd = open(l->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return loader_fail(l, NULL, NULL, "%s", strerror(errno));
    /* The file is read through this descriptor, so the mode checked is the file's. */
    if ((r = loader_private(l, fd, l->path, NULL, NULL)) < 0)
        goto out;
    if (!(f = fdopen(fd, "r"))) {
        r = loader_fail(l, NULL, NULL, "%s", strerror(errno));
        goto out;
    }
    fd = -1;
    if ((r = loader_text_only(l, f)) < 0 || (r = loader_dir(l)) < 0)
        goto out;
    if ((r = bts_config_check_includes(l->path, l->dir, l->err, l->errlen)) < 0)
        goto out;
    config_set_include_dir(&l->lc, l->dir);
    if (!config_read(&l->lc, f)) {
        r = BTS_ECONFIG;
        if (l->err && l->errlen > 0)
            snprintf(l->err, l->errlen, "%s:%d: %s", config_error_file(&l->lc) ?
                     config_error_file(&l->lc) : l->path, config_error_line(&l->lc),
                     config_error_text(&l->lc));
    }
out:
    if (f)
        fclose(f);
    if (fd >= 0)
        close(fd);
    return r;
}

/* A misspelt key would otherwise be a silent default. */
static int loader_names(loader *l) {
    const config_setting_t *root = config_root_setting(&l->lc);

    for (int i = 0; i < config_setting_length(root); i++) {
        const config_setting_t *g = config_setting_get_elem(root, (unsigned)i);
        const char *group = config_setting_name(g);

        if (!group_known(group))
            return loader_fail(l, g, group, "unknown group (expected biotime, erpnext, sync, "
                               "employees or log)");
        if (!config_setting_is_group(g))
            return loader_fail(l, g, group, "must be a group: %s = { ... };", group);
        for (int j = 0; j < config_setting_length(g); j++) {
            const config_setting_t *s = config_setting_get_elem(g, (unsigned)j);
            char what[128];

            snprintf(what, sizeof(what), "%s.%s", group, config_setting_name(s));
            if (!key_find(group, config_setting_name(s)))
                return loader_fail(l, s, what, "unknown key");
        }
    }
    return 0;
}

/* ---- taking values ---- */

static const char *type_name(int type) {
    switch (type) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return "an integer";
    case CONFIG_TYPE_FLOAT: return "a number with a fraction";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "true or false";
    case CONFIG_TYPE_ARRAY: return "an array";
    case CONFIG_TYPE_LIST: return "a list";
    case CONFIG_TYPE_GROUP: return "a group";
    default: return "nothing";
    }
}

static bool type_is_int(int type) {
    return type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64;
}

static int key_type_fail(loader *l, const key *k, const config_setting_t *s,
                         const char *expected) {
    return key_fail(l, k, s, "expected %s, not %s", expected,
                    type_name(config_setting_type(s)));
}

/* The value of an integer setting, within the key's range. */
static int key_int(loader *l, const key *k, const config_setting_t *s, int *ret) {
    long long v;

    if (!type_is_int(config_setting_type(s)))
        return key_type_fail(l, k, s, "an integer");
    v = config_setting_get_int64(s);
    if (v < k->min || v > k->max)
        return key_fail(l, k, s, "%lld is out of range %d..%d", v, k->min, k->max);
    *ret = (int)v;
    return 0;
}

static int key_string(loader *l, const key *k, const config_setting_t *s, char **slot) {
    const char *why;
    int r;

    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return key_type_fail(l, k, s, "a string");
    if ((r = str_set(slot, config_setting_get_string(s))) < 0)
        return loader_oom(l);
    /* A secret is never quoted back, not even in an error. */
    if (k->check && (why = k->check(*slot)))
        return k->secret || !**slot ? key_fail(l, k, s, "%s", why)
                                    : key_fail(l, k, s, "%s (got \"%s\")", why, *slot);
    return 0;
}

static int key_enum(loader *l, const key *k, const config_setting_t *s, int *ret) {
    char names[128] = "";
    const char *v;

    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return key_type_fail(l, k, s, "a string");
    v = config_setting_get_string(s);
    for (const key_choice *c = k->choices; c->name; c++) {
        if (strcmp(c->name, v) == 0) {
            *ret = c->value;
            return 0;
        }
        snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
                 c == k->choices ? "" : " | ", c->name);
    }
    return key_fail(l, k, s, "\"%s\" is not one of %s", v, names);
}

/* An array or list: each element is taken as the table's element type. */
static int key_array(loader *l, const key *k, const config_setting_t *s) {
    bool ints = k->type == KEY_INTS;
    void *elems;
    unsigned n;
    int r;

    if (!config_setting_is_array(s) && !config_setting_is_list(s))
        return key_type_fail(l, k, s, ints ? "an array of integers" : "an array of strings");
    n = (unsigned)config_setting_length(s);
    if (!(elems = calloc(n ? n : 1, ints ? sizeof(int) : sizeof(char *))))
        return loader_oom(l);
    key_free(l->cfg, k);
    if (ints)
        *FIELD(l->cfg, k->offset, int *) = elems;
    else
        *FIELD(l->cfg, k->offset, char **) = elems;
    *FIELD(l->cfg, k->count, size_t) = n;
    for (unsigned i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, i);
        if ((r = ints ? key_int(l, k, e, &((int *)elems)[i])
                      : key_string(l, k, e, &((char **)elems)[i])) < 0)
            return r;
    }
    return 0;
}

/* ---- erpnext.locations ---- */

#define LOCATION_SHAPE "{ terminal = \"SN\"; latitude = 24.7136; longitude = 46.6753; }"

/* A coordinate: an integer or a number with a fraction, within -max..max. */
static int location_coord(loader *l, const config_setting_t *m, const char *what, double max,
                          double *ret) {
    int type = config_setting_type(m);
    double v;

    if (type == CONFIG_TYPE_FLOAT)
        v = config_setting_get_float(m);
    else if (type_is_int(type))
        v = (double)config_setting_get_int64(m);
    else
        return loader_fail(l, m, what, "expected a number, not %s", type_name(type));
    if (!(v >= -max && v <= max)) /* also refuses NaN */
        return loader_fail(l, m, what, "%.10g is out of range %g..%g", v, -max, max);
    *ret = v;
    return 0;
}

static int location_member(loader *l, const config_setting_t *m, const char *at,
                           bts_location *loc, unsigned *seen) {
    const char *name = config_setting_name(m);
    char what[96];

    snprintf(what, sizeof(what), "%s.%s", at, name);
    if (strcmp(name, "latitude") == 0) {
        *seen |= 1;
        return location_coord(l, m, what, 90, &loc->latitude);
    }
    if (strcmp(name, "longitude") == 0) {
        *seen |= 2;
        return location_coord(l, m, what, 180, &loc->longitude);
    }
    if (strcmp(name, "terminal") != 0)
        return loader_fail(l, m, what, "unknown key (expected terminal, latitude and "
                           "longitude)");
    *seen |= 4;
    if (config_setting_type(m) != CONFIG_TYPE_STRING)
        return loader_fail(l, m, what, "expected a string, not %s",
                           type_name(config_setting_type(m)));
    if (!*config_setting_get_string(m))
        return loader_fail(l, m, what, "empty: give the terminal's serial number");
    if (str_set(&loc->terminal, config_setting_get_string(m)) < 0)
        return loader_oom(l);
    return 0;
}

/* One element: { terminal = "SN"; latitude = ...; longitude = ...; }. */
static int location_take(loader *l, const key *k, const config_setting_t *e, unsigned i,
                         bts_location *loc) {
    char at[64];
    unsigned seen = 0;
    int r;

    snprintf(at, sizeof(at), "%s.%s[%u]", k->group, k->name, i);
    if (!config_setting_is_group(e))
        return loader_fail(l, e, at, "expected a group " LOCATION_SHAPE ", not %s",
                           type_name(config_setting_type(e)));
    for (int j = 0; j < config_setting_length(e); j++)
        if ((r = location_member(l, config_setting_get_elem(e, (unsigned)j), at, loc,
                                 &seen)) < 0)
            return r;
    if (seen != 7)
        return loader_fail(l, e, at, "needs terminal, latitude and longitude: " LOCATION_SHAPE);
    /* HRMS takes 0, 0 for "no coordinates" and refuses the checkin. */
    if (loc->latitude == 0 && loc->longitude == 0)
        return loader_fail(l, e, at, "latitude 0 and longitude 0 are \"no coordinates\" to "
                           "HRMS: give terminal %s's real position", loc->terminal);
    return 0;
}

/* A terminal listed twice would have two positions. */
static int locations_unique(loader *l, const config_setting_t *s, const bts_location *locs,
                            unsigned n) {
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = 0; j < i; j++)
            if (strcmp(locs[i].terminal, locs[j].terminal) == 0) {
                const config_setting_t *e =
                    config_setting_get_member(config_setting_get_elem(s, i), "terminal");
                char at[64];
                snprintf(at, sizeof(at), "erpnext.locations[%u].terminal", i);
                return loader_fail(l, e, at, "terminal \"%s\" is listed twice (also at "
                                   "line %u)", locs[i].terminal,
                                   config_setting_source_line(config_setting_get_elem(s, j)));
            }
    return 0;
}

static int key_locations(loader *l, const key *k, const config_setting_t *s) {
    bts_location *locs;
    unsigned n;
    int r;

    /* "()" is the empty list; "[]" an empty array: both mean none. */
    if (!config_setting_is_list(s) && !(config_setting_is_array(s) &&
                                        config_setting_length(s) == 0))
        return key_type_fail(l, k, s, "a list of groups ( " LOCATION_SHAPE " )");
    n = (unsigned)config_setting_length(s);
    if (!(locs = calloc(n ? n : 1, sizeof(*locs))))
        return loader_oom(l);
    key_free(l->cfg, k);
    *FIELD(l->cfg, k->offset, bts_location *) = locs;
    *FIELD(l->cfg, k->count, size_t) = n;
    for (unsigned i = 0; i < n; i++)
        if ((r = location_take(l, k, config_setting_get_elem(s, i), i, &locs[i])) < 0)
            return r;
    return locations_unique(l, s, locs, n);
}

static int key_take(loader *l, const key *k, const config_setting_t *s) {
    switch (k->type) {
    case KEY_STRING:
    case KEY_FILE:
        return key_string(l, k, s, FIELD(l->cfg, k->offset, char *));
    case KEY_INT:
        return key_int(l, k, s, FIELD(l->cfg, k->offset, int));
    case KEY_BOOL:
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return key_type_fail(l, k, s, "true or false");
        *FIELD(l->cfg, k->offset, bool) = config_setting_get_bool(s);
        return 0;
    case KEY_ENUM:
        return key_enum(l, k, s, FIELD(l->cfg, k->offset, int));
    case KEY_STRINGS:
    case KEY_INTS:
        return key_array(l, k, s);
    case KEY_LOCATIONS:
        return key_locations(l, k, s);
    }
    return BTS_EINVAL;
}

static int loader_values(loader *l) {
    for (size_t i = 0; i < BTS_ARRAY_SIZE(keys); i++) {
        const config_setting_t *g = loader_where(l, keys[i].group, NULL);
        const config_setting_t *s = g ? config_setting_get_member(g, keys[i].name) : NULL;
        int r;

        if (s && (r = key_take(l, &keys[i], s)) < 0)
            return r;
    }
    return 0;
}

/* ---- secrets ---- */

static char *path_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *p = malloc(n);

    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* A relative path is taken from the config file's directory, not from the cwd. */
static char *loader_path(const loader *l, const char *name) {
    return name[0] == '/' ? strdup(name) : path_join(l->dir, name);
}

/* The first line of the file at path, without its line ending. */
static int secret_read(loader *l, const key *k, const config_setting_t *s, const char *path,
                       char **ret) {
    char *line = NULL, what[64];
    size_t cap = 0;
    FILE *f = NULL;
    ssize_t n;
    int fd, r;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return key_fail(l, k, s, "%s: %s", path, strerror(errno));
    if ((r = loader_private(l, fd, path, s, key_what(k, what))) < 0)
        goto out;
    if (!(f = fdopen(fd, "r"))) {
        r = loader_oom(l);
        goto out;
    }
    fd = -1;
    n = getline(&line, &cap, f);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (n <= 0) {
        r = key_fail(l, k, s, "%s: %s", path, ferror(f) ? strerror(errno) : "empty");
        goto out;
    }
    *ret = line;
    line = NULL;
    r = 0;
out:
    if (line)
        explicit_bzero(line, cap); /* getline leaves it unterminated at end of file */
    free(line);
    if (f)
        fclose(f);
    if (fd >= 0)
        close(fd);
    return r;
}

/* Fills the secret of a *_file key from its file; path becomes the resolved path. */
static int loader_secret_file(loader *l, const key *k) {
    char **path = FIELD(l->cfg, k->offset, char *);
    char **secret = FIELD(l->cfg, k->count, char *);
    const config_setting_t *s = loader_where(l, k->group, k->name);
    char *resolved, *value = NULL, where[PATH_MAX + 160];
    int r;

    if (!**path)
        return 0;
    if (**secret)
        return key_fail(l, k, s, "set together with %.*s; keep one of the two",
                        (int)(strlen(k->name) - strlen("_file")), k->name);
    if (l->flags & BTS_CONFIG_NO_SECRETS)
        return 0;
    if ((r = bts_config_secret_find(*path, l->dir, &resolved, where, sizeof(where))) < 0)
        return r == BTS_ENOMEM ? loader_oom(l)
                               : key_fail(l, k, s, "\"%s\" is in none of %s", *path, where);
    if ((r = secret_read(l, k, s, resolved, &value)) < 0) {
        free(resolved);
        return r;
    }
    free(*path);
    *path = resolved;
    str_free(*secret, true);
    *secret = value;
    return 0;
}

/* A literal secret in an @include'd file needs that file as private as the main one. */
static int loader_secret_source(loader *l, const key *k) {
    const config_setting_t *s = loader_where(l, k->group, k->name);
    char what[64], *file;
    int fd, r;

    if (!s || s == loader_where(l, k->group, NULL) || !config_setting_source_file(s))
        return 0;
    /* libconfig names an included file as written: relative to the include directory. */
    if (!(file = loader_path(l, config_setting_source_file(s))))
        return loader_oom(l);
    if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
        r = key_fail(l, k, s, "%s: %s", file, strerror(errno));
        goto out;
    }
    r = loader_private(l, fd, file, s, key_what(k, what));
    close(fd);
out:
    free(file);
    return r;
}

static int loader_secrets(loader *l) {
    if (l->flags & BTS_CONFIG_NO_SECRETS)
        return 0;
    for (size_t i = 0; i < BTS_ARRAY_SIZE(keys); i++) {
        int r = keys[i].type == KEY_FILE ? loader_secret_file(l, &keys[i])
              : keys[i].secret           ? loader_secret_source(l, &keys[i])
                                         : 0;
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- cross-key rules ---- */

static int loader_missing(loader *l, const key *k, const char *why) {
    const config_setting_t *s = loader_where(l, k->group, k->name);

    if (!s)
        return key_fail(l, k, s, "required, and there is no %s = { ... }; group", k->group);
    if (k->secret)
        return key_fail(l, k, s, "required%s (set %s or %s_file)", why, k->name, k->name);
    return key_fail(l, k, s, "required%s", why);
}

static int loader_required(loader *l) {
    const bts_biotime_config *b = &l->cfg->biotime;
    bool static_token = b->auth == BTS_AUTH_TOKEN && *b->token;
    const char *why = b->auth == BTS_AUTH_TOKEN ? " with auth = \"token\" and no token"
                                                : "";

    bool no_secrets = l->flags & BTS_CONFIG_NO_SECRETS;

    for (size_t i = 0; i < BTS_ARRAY_SIZE(keys); i++)
        if (keys[i].required && !(keys[i].secret && no_secrets) &&
            !**FIELD(l->cfg, keys[i].offset, char *))
            return loader_missing(l, &keys[i], "");
    if (*b->token && b->auth != BTS_AUTH_TOKEN)
        return key_fail(l, key_find("biotime", "token"), loader_where(l, "biotime", "token"),
                        "a static token is only used with auth = \"token\" (auth is \"%s\")",
                        choice_name(auth_choices, (int)b->auth));
    if (static_token)
        return 0;
    if (!*b->username)
        return loader_missing(l, key_find("biotime", "username"), why);
    if (!*b->password && !no_secrets)
        return loader_missing(l, key_find("biotime", "password"), why);
    return 0;
}

/* The example config's placeholders, left in place, would only fail later and less
 * clearly (a login refused, a host not found): name them now. */
static int loader_placeholders(loader *l) {
    for (size_t i = 0; i < BTS_ARRAY_SIZE(keys); i++) {
        const key *k = &keys[i];
        const char *why;

        if (k->type != KEY_STRING ||
            !(why = bts_config_check_placeholder(*FIELD(l->cfg, k->offset, char *))))
            continue;
        if (k->secret) /* whatever it holds is not repeated */
            return key_fail(l, k, loader_where(l, k->group, k->name),
                            "still the example config's placeholder: set the real %s "
                            "(or %s_file)", k->name, k->name);
        return key_fail(l, k, loader_where(l, k->group, k->name), "%s", why);
    }
    return 0;
}

/* /etc/biotime-sync/NAME.conf keeps its state in /var/lib/biotime-sync/NAME, in the unit
 * (biotime-syncd@NAME) and by hand alike, unless it names another directory than the
 * main instance's default: a copy of the example config must not share that cursor. */
static int loader_instance(loader *l) {
    char *dir = NULL;
    int r;

    if (strcmp(l->cfg->sync.state_dir, key_find("sync", "state_dir")->def) != 0)
        return 0; /* another directory, named on purpose */
    if ((r = bts_config_instance_state_dir(l->dir, l->path, &dir)) <= 0)
        return r < 0 ? loader_oom(l) : 0;
    free(l->cfg->sync.state_dir);
    l->cfg->sync.state_dir = dir;
    return 0;
}

/* A punch_state code cannot be both IN and OUT. */
static int loader_punch_codes(loader *l) {
    const bts_sync_config *s = &l->cfg->sync;

    for (size_t i = 0; i < s->n_punch_out; i++)
        for (size_t j = 0; j < s->n_punch_in; j++)
            if (s->punch_out[i] == s->punch_in[j])
                return key_fail(l, key_find("sync", "punch_out"),
                                loader_where(l, "sync", "punch_out"),
                                "code %d is also in sync.punch_in", s->punch_out[i]);
    return 0;
}

/* "" zones: ERPNext's is the host's, BioTime's is ERPNext's. */
static int loader_zones(loader *l) {
    char host[128];
    int r;

    if (!*l->cfg->erpnext.timezone) {
        if ((r = bts_tz_host(host, sizeof(host))) < 0)
            return loader_fail(l, loader_where(l, "erpnext", "timezone"), "erpnext.timezone",
                               "the host's time zone is unknown; set it here");
        if (str_set(&l->cfg->erpnext.timezone, host) < 0)
            return loader_oom(l);
    }
    if (!*l->cfg->biotime.timezone &&
        str_set(&l->cfg->biotime.timezone, l->cfg->erpnext.timezone) < 0)
        return loader_oom(l);
    return 0;
}

int bts_config_load(const char *path, bts_config **ret, char *err, size_t errlen) {
    return bts_config_load_flags(path, 0, ret, err, errlen);
}

int bts_config_load_flags(const char *path, unsigned flags, bts_config **ret, char *err,
                          size_t errlen) {
    loader l = {.path = path, .flags = flags, .err = err, .errlen = errlen};
    int r;

    if (err && errlen > 0)
        err[0] = '\0';
    config_init(&l.lc);
    if ((r = config_new(path, &l.cfg)) < 0) {
        r = loader_oom(&l);
        goto out;
    }
    if ((r = loader_read(&l)) < 0 || (r = loader_names(&l)) < 0 ||
        (r = loader_values(&l)) < 0 || (r = loader_secrets(&l)) < 0 ||
        (r = loader_required(&l)) < 0 || (r = loader_placeholders(&l)) < 0 ||
        (r = loader_punch_codes(&l)) < 0 || (r = loader_zones(&l)) < 0 ||
        (r = loader_instance(&l)) < 0)
        goto out;
    *ret = l.cfg;
    l.cfg = NULL;
out:
    config_destroy(&l.lc);
    bts_config_free(l.cfg);
    free(l.dir);
    return r;
}

/* ---- output ---- */

/* A libconfig string literal. */
static void print_string(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < ' ' || c == 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void print_value(const bts_config *cfg, const key *k, FILE *out) {
    switch (k->type) {
    case KEY_STRING:
    case KEY_FILE: {
        const char *v = *FIELD(cfg, k->offset, char *);
        print_string(out, k->secret && *v ? "***" : v);
        break;
    }
    case KEY_INT:
        fprintf(out, "%d", *FIELD(cfg, k->offset, int));
        break;
    case KEY_BOOL:
        fputs(*FIELD(cfg, k->offset, bool) ? "true" : "false", out);
        break;
    case KEY_ENUM:
        print_string(out, choice_name(k->choices, *FIELD(cfg, k->offset, int)));
        break;
    case KEY_STRINGS:
    case KEY_INTS:
        fputc('[', out);
        for (size_t i = 0; i < *FIELD(cfg, k->count, size_t); i++) {
            fputs(i ? ", " : "", out);
            if (k->type == KEY_INTS)
                fprintf(out, "%d", (*FIELD(cfg, k->offset, int *))[i]);
            else
                print_string(out, (*FIELD(cfg, k->offset, char **))[i]);
        }
        fputc(']', out);
        break;
    case KEY_LOCATIONS:
        fputc('(', out);
        for (size_t i = 0; i < *FIELD(cfg, k->count, size_t); i++) {
            const bts_location *loc = &(*FIELD(cfg, k->offset, bts_location *))[i];
            fputs(i ? ", { terminal = " : " { terminal = ", out);
            print_string(out, loc->terminal);
            /* %.10g: the 7 decimals HRMS keeps, without trailing zeros */
            fprintf(out, "; latitude = %.10g; longitude = %.10g; }", loc->latitude,
                    loc->longitude);
        }
        fputs(*FIELD(cfg, k->count, size_t) ? " )" : ")", out);
        break;
    }
}

void bts_config_print(const bts_config *cfg, FILE *out) {
    const char *group = NULL;

    for (size_t i = 0; i < BTS_ARRAY_SIZE(keys); i++) {
        if (!group || strcmp(group, keys[i].group) != 0) {
            fprintf(out, "%s%s = {\n", group ? "};\n" : "", keys[i].group);
            group = keys[i].group;
        }
        fprintf(out, "  %s = ", keys[i].name);
        print_value(cfg, &keys[i], out);
        fputs(";\n", out);
    }
    if (group)
        fputs("};\n", out);
}

size_t bts_config_secrets(const bts_config *cfg, const char *ret[], size_t max) {
    size_t n = 0;

    for (size_t i = 0; i < BTS_ARRAY_SIZE(keys) && n + 1 < max; i++) {
        const char *v = keys[i].secret ? *FIELD(cfg, keys[i].offset, char *) : NULL;
        if (v && *v)
            ret[n++] = v;
    }
    if (max > 0)
        ret[n] = NULL;
    return n;
}

bool bts_config_terminal_selected(const bts_config *cfg, const char *sn)
{
    if (cfg->biotime.n_terminals == 0)
        return true;
    for (size_t i = 0; i < cfg->biotime.n_terminals; i++)
        if (strcmp(cfg->biotime.terminals[i], sn) == 0)
            return true;
    return false;
}

const bts_location *bts_config_location(const bts_config *cfg, const char *sn)
{
    for (size_t i = 0; sn && *sn && i < cfg->erpnext.n_locations; i++)
        if (strcmp(cfg->erpnext.locations[i].terminal, sn) == 0)
            return &cfg->erpnext.locations[i];
    return NULL;
}

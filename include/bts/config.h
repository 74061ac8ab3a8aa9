/* The configuration file (CONTRACT.md §3): a table-driven libconfig loader. */
#ifndef BTS_CONFIG_H
#define BTS_CONFIG_H

#include <stdio.h>
#include "bts/common.h"

typedef enum { BTS_AUTH_JWT, BTS_AUTH_TOKEN, BTS_AUTH_BASIC } bts_auth_mode;

typedef struct {
    char *url;          /* without trailing slash */
    char *name;         /* "" = plain Device Log ids */
    bts_auth_mode auth;
    char *username;
    char *password;     /* secret */
    char *password_file; /* "" or the resolved path password was read from */
    char *token;        /* secret: static pre-issued token, "" = log in */
    char *token_file;   /* "" or the resolved path token was read from */
    char *company;
    int page_size;
    int timeout;
    char *timezone;     /* resolved: never "" after load (falls back to erpnext.timezone) */
    char **terminals;
    size_t n_terminals;
    bool tls_verify;
    char *ca_file;
} bts_biotime_config;

/* erpnext.locations: a terminal's fixed coordinates, sent with each of its checkins. */
typedef struct {
    char *terminal;     /* serial number (terminal_sn) */
    double latitude;    /* -90..90 */
    double longitude;   /* -180..180 */
} bts_location;

typedef struct {
    char *url;          /* without trailing slash */
    char *api_key;
    char *api_secret;   /* secret */
    char *api_secret_file; /* "" or the resolved path api_secret was read from */
    char *site_name;    /* "" or sent as X-Frappe-Site-Name */
    char *timezone;     /* resolved: never "" after load (host zone) */
    char *employee_field;
    bool create_checkins;
    char *device_log_doctype;
    char *sync_log_doctype;
    int batch_size;
    int connections;
    int timeout;
    char **shift_types;
    size_t n_shift_types;
    bts_location *locations;
    size_t n_locations;
    bool tls_verify;
    char *ca_file;
} bts_erpnext_config;

typedef struct {
    int interval;
    char *start_date;   /* "" or YYYY-MM-DD */
    int lookback_hours;
    char *state_dir;
    int *punch_in;
    size_t n_punch_in;
    int *punch_out;
    size_t n_punch_out;
    char *metrics_file; /* "" or an absolute path: metrics for node_exporter */
} bts_sync_config;

typedef struct {
    bool push;          /* keep BioTime's personnel in line with ERPNext (CONTRACT.md §4b) */
    char *department;   /* dept_code for created employees; "" = BioTime's default */
    char **areas;       /* area_codes created employees get, existing ones gain */
    size_t n_areas;
    bool resign_leavers;
} bts_employees_config;

typedef struct {
    int level;          /* syslog priority: LOG_ERR .. LOG_DEBUG */
} bts_log_config;

typedef struct bts_config {
    char *path;
    bts_biotime_config biotime;
    bts_erpnext_config erpnext;
    bts_sync_config sync;
    bts_employees_config employees;
    bts_log_config log;
} bts_config;

/* Loads and validates path. On error returns BTS_ECONFIG and writes
 * "FILE:LINE: key: what is wrong" into err. */
int bts_config_load(const char *path, bts_config **ret, char *err, size_t errlen);
void bts_config_free(bts_config *cfg);

/* bts_config_load's flags. NO_SECRETS: the *_file secrets are not read (nor required), for
 * modes that use none (--status), so that a user who may not read them can still run it. */
enum { BTS_CONFIG_NO_SECRETS = 1 << 0 };
int bts_config_load_flags(const char *path, unsigned flags, bts_config **ret, char *err,
                          size_t errlen);

/* Prints the effective settings in libconfig syntax, every secret as "***". */
void bts_config_print(const bts_config *cfg, FILE *out);

/* Is the terminal with this serial one of biotime.terminals (or are all selected)? */
bool bts_config_terminal_selected(const bts_config *cfg, const char *sn);

/* The erpnext.locations entry of the terminal with this serial, or NULL. */
const bts_location *bts_config_location(const bts_config *cfg, const char *sn);

/* Every secret value of cfg (for the "no secret in any output" checks); NULL-terminated. */
size_t bts_config_secrets(const bts_config *cfg, const char *ret[], size_t max);

#endif

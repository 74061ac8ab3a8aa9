/* Decodes Frappe error bodies into one readable line and a class the sync acts on. */
#ifndef BTS_FRAPPE_ERROR_H
#define BTS_FRAPPE_ERROR_H

#include "bts/common.h"

typedef enum {
    BTS_FE_NONE,            /* not an error */
    BTS_FE_TRANSIENT,       /* network, 5xx (not a validation 500), 429, timeout */
    BTS_FE_AUTH,            /* 401, or 403 on our credentials */
    BTS_FE_DUPLICATE_LOG,   /* 417 "already has a log with the same timestamp" */
    BTS_FE_DUPLICATE_ENTRY, /* 409 DuplicateEntryError */
    BTS_FE_INACTIVE,        /* 417 InactiveEmployeeStatusError */
    BTS_FE_GEOLOCATION,     /* 417 latitude/longitude required */
    BTS_FE_NOT_FOUND,       /* 404 DoesNotExistError (JSON) */
    BTS_FE_WRONG_SITE,      /* 404 HTML: wrong host or site */
    BTS_FE_TOO_LARGE,       /* 413 */
    BTS_FE_PERMANENT,       /* any other refusal of this record */
} bts_fe_class;

typedef struct {
    long status;
    bts_fe_class cls;
    char exc_type[64];
    char message[512];      /* HTML stripped, one line */
    char checkin_name[140]; /* for BTS_FE_DUPLICATE_LOG: the existing checkin */
    long retry_after_s;
    int curl_error;         /* status 0: libcurl's error code (set by the client) */
    bool timed_out;         /* no answer came within the timeout */
} bts_frappe_error;

/* Decodes status + body (which may be NULL, HTML or JSON). Never fails. */
void bts_frappe_error_parse(long status, const char *content_type, const char *body, size_t len,
                            bts_frappe_error *ret);

/* "HTTP 417 ValidationError: message" */
void bts_frappe_error_format(const bts_frappe_error *e, char *out, size_t n);

/* Strips HTML tags and collapses white space, in place. */
void bts_strip_html(char *s);

#endif

/* BioTime's personnel API (shared/reference/biotime-personnel.md): every page of the
 * employees, departments, areas and resignations lists, and the writes a push makes. The
 * paths live here; biotime.c carries the requests (auth, re-login, triage of reads). */
#ifndef BTS_PERSONNEL_H
#define BTS_PERSONNEL_H

#include <cjson/cJSON.h>
#include "bts/biotime.h"

#define BTS_PERSONNEL_EMPLOYEES "/personnel/api/employees/"
#define BTS_PERSONNEL_DEPARTMENTS "/personnel/api/departments/"
#define BTS_PERSONNEL_AREAS "/personnel/api/areas/"
#define BTS_PERSONNEL_RESIGNS "/personnel/api/resigns/"

/* Sees each page's rows (borrowed); returns 0 to go on or a negative error to stop. */
typedef int (*bts_personnel_rows_fn)(void *ud, const cJSON *rows);

/* Every page of list path (one of the above), page_size rows a request. */
int bts_personnel_list(bts_biotime *b, const char *path, int64_t page_size,
                       bts_personnel_rows_fn fn, void *ud);

/* Every page of the resignations; 1 (fn never called) when this BioTime has no resign
 * API: it answers that path with an HTML page (BioTime 8.0, 9.0). */
int bts_personnel_resigns(bts_biotime *b, int64_t page_size, bts_personnel_rows_fn fn,
                          void *ud);

/* The answer to a write. */
typedef struct {
    long status;
    cJSON *body;          /* the parsed answer (success or field map), or NULL */
    char field[64];       /* a refusal: the first field BioTime named ("" if none) */
    char message[256];    /* ...and its message, or what was wrong with the answer */
    bool html;            /* BioTime answered HTML: the path does not exist there */
} bts_personnel_answer;

void bts_personnel_answer_clear(bts_personnel_answer *a);

/* METHOD path with body. 0 on a 2xx JSON answer; BTS_EPERM when BioTime refused it (400
 * with a field map, or another 4xx: field and message say what); BTS_EPROTO for an answer
 * that is not JSON (html tells an HTML page); BTS_ETRANSIENT, BTS_EAUTH as for reads. */
int bts_personnel_write(bts_biotime *b, const char *method, const char *path,
                        const cJSON *body, bts_personnel_answer *ret);

struct bts_roster;

/* Reads every BioTime employee and resignation into r (not yet indexed). *ret_resign_api
 * is false when this BioTime has no resign API (then nobody is known to be resigned). */
int bts_personnel_load(bts_biotime *b, int64_t page_size, struct bts_roster *r,
                       bool *ret_resign_api);

#endif

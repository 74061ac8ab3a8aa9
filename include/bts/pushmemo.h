/* What employees.push remembers across runs and restarts, in state_dir/employees-push.json:
 * each Employee's code at the last run (so a code changed in ERPNext moves the BioTime
 * person instead of creating a second one) and the writes BioTime refused (so an
 * unchanged refusal is not asked again). */
#ifndef BTS_PUSHMEMO_H
#define BTS_PUSHMEMO_H

#include "bts/roster.h"

#define BTS_PUSHMEMO_FILE "employees-push.json"

typedef struct bts_push_memo bts_push_memo;

/* Reads state_dir's file; a missing or unreadable one gives an empty memo (said). */
int bts_push_memo_new(const char *state_dir, bts_push_memo **ret);
void bts_push_memo_free(bts_push_memo *m);

/* The code this Employee carried at the last run, or NULL (a bts_push_prev_code_fn). */
const char *bts_push_memo_code(void *memo, const char *employee);

/* Did BioTime refuse this ask (a signature of what was asked) at the last run? */
bool bts_push_memo_refused(const bts_push_memo *m, const char *sig);

/* Notes a refusal (or a still-refused ask) of this run. */
void bts_push_memo_note(bts_push_memo *m, const char *sig);

/* The run is over: this run's refusals replace the last, each Employee's code of r is
 * kept (the old one while BioTime still holds the person under it), and the file is
 * rewritten when it changed. */
void bts_push_memo_commit(bts_push_memo *m, const bts_roster *r);

/* The run was a dry run or failed: forget this run's notes. */
void bts_push_memo_discard(bts_push_memo *m);

#endif

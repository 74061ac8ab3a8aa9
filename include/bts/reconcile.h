/* --reconcile: compares a punch-time range of BioTime with what ERPNext holds, day by day and
 * terminal by terminal, and lists every record that is missing or extra. Read-only. */
#ifndef BTS_RECONCILE_H
#define BTS_RECONCILE_H

#include <stdio.h>
#include "bts/config.h"

/* since/until: "YYYY-MM-DD HH:MM:SS" in BioTime's zone, inclusive; until NULL = now.
 * BioTime rows are filtered like the sync's (biotime.terminals, sync.start_date). A punch
 * is accounted for when its Device Log exists and, if synced = 1, the checkin it names
 * exists; a parked one (synced = 0) is accounted for too. Prints the table, one line per
 * problem record and a summary to out. Returns 0 when both sides agree, 1 when something
 * is missing or extra, BTS_EAUTH when a server refuses the reads (credentials, wrong site,
 * missing doctype), BTS_ETRANSIENT / BTS_EPROTO when it cannot be read now. */
int bts_reconcile(const bts_config *cfg, const char *since, const char *until, FILE *out);

#endif

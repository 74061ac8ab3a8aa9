/* The run loops: the long-lived daemon (deadlines, signals consumed synchronously, reload
 * = validate then swap) and --once. Both return a sysexits code for main(). */
#ifndef BTS_DAEMON_H
#define BTS_DAEMON_H

#include "bts/config.h"
#include "bts/sync.h"

enum {
    BTS_EXIT_OK = 0,
    BTS_EXIT_USAGE = 64,
    BTS_EXIT_UNAVAILABLE = 69,
    BTS_EXIT_SOFTWARE = 70,
    BTS_EXIT_TEMPFAIL = 75,
    BTS_EXIT_CONFIG = 78,
};

/* Blocks SIGTERM, SIGINT and SIGHUP (they are consumed by the loops) and installs the
 * HTTP abort hook that ends transfers when a stop is pending. */
void bts_daemon_signals_init(void);

/* Warnings an operator must see at every start (e.g. TLS verification turned off). */
void bts_daemon_warn_config(const bts_config *cfg);

/* Exit code for an error that ended a run. */
int bts_daemon_exit_code(int err);

/* Long-lived mode. *cfg may be replaced on reload (the caller frees what is left). */
int bts_daemon_run(bts_config **cfg);

/* --once (with its options): cycles until BioTime has nothing new. */
int bts_daemon_once(const bts_config *cfg, const bts_sync_options *opt);

#endif

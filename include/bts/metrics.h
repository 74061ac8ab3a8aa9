/* sync.metrics_file: the state's counters and gauges as a text file for node_exporter's
 * textfile collector, rewritten atomically (temp file, fsync, rename) after every cycle. */
#ifndef BTS_METRICS_H
#define BTS_METRICS_H

#include "bts/state.h"

/* The metrics text of st (owned by the caller). name is biotime.name: when set, every
 * sample carries name="..." so that the files of several instances can sit side by side
 * in one textfile directory without clashing. */
int bts_metrics_render(const bts_state *st, const char *name, char **ret);

/* Renders st and replaces path with it atomically, mode 0644 (node_exporter runs as
 * another user). err says what failed, naming the file. */
int bts_metrics_save(const char *path, const bts_state *st, const char *name, char *err,
                     size_t errlen);

#endif

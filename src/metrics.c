/* sync.metrics_file: the state as metrics for node_exporter's textfile collector.
 *
 * The format. node_exporter's textfile collector (every 1.x release; Debian 12 ships
 * 1.5.0) parses .prom files with expfmt.TextParser: the Prometheus text format 0.0.4, not
 * OpenMetrics. The two disagree on counters only: OpenMetrics names a counter family
 * without "_total" in "# TYPE" and adds the suffix to the sample, and TextParser takes
 * such a sample for a second, untyped family (the TYPE'd one, left empty, is dropped).
 * So counters are written the 0.0.4 way, "# TYPE" naming the sample itself
 * (biotime_syncd_records_read_total counter), as Prometheus' naming rules also ask. The
 * rest stays inside what both formats share: HELP and TYPE before the samples, counter and
 * gauge types only (TextParser refuses "info" and "unknown"), no "# UNIT" lines, no
 * timestamps (the collector skips a file that has them). The file ends with OpenMetrics'
 * "# EOF", which TextParser reads as a comment: a reader can tell a whole file from a cut
 * one. Values come from the state, so the counters run on across restarts. */
#include "bts/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_MODE 0644 /* node_exporter reads it as its own user */

enum metric_value {
    VALUE_U64,
    VALUE_I64,
    VALUE_MS_AS_SECONDS, /* a uint64_t of milliseconds, written in seconds */
};

struct metric {
    const char *name;
    const char *type;
    const char *help;
    enum metric_value value;
    size_t off;          /* of the value in bts_state */
    size_t erpnext_off;  /* per-server families: the ERPNext value (off: BioTime's) */
};

#define AT(f) offsetof(bts_state, f)
#define COUNTER(n, h, f) { "biotime_syncd_" n "_total", "counter", h, VALUE_U64, AT(f), 0 }
#define PER_SERVER(n, h, bt, erp) \
    { "biotime_syncd_" n "_total", "counter", h, VALUE_U64, AT(bt), AT(erp) }
#define GAUGE(n, h, v, f) { "biotime_syncd_" n, "gauge", h, v, AT(f), 0 }
static const struct metric metrics[] = {
    COUNTER("records_read", "BioTime transactions read (read again after a failed cycle: "
            "counted again).", total_read),
    COUNTER("checkins_written", "Employee Checkins created in ERPNext.", total_checkins),
    COUNTER("device_logs_written", "BioTime Device Logs created in ERPNext.",
            total_device_logs),
    COUNTER("records_duplicate", "Records ERPNext already had (counted as delivered).",
            total_duplicates),
    COUNTER("records_parked", "Punches kept as Device Logs with synced = 0: no Employee maps "
            "their emp_code.", total_parked),
    COUNTER("records_rejected", "Records BioTime sent unusable or ERPNext refused for good.",
            total_rejected),
    COUNTER("cycles", "Sync cycles run.", cycles),
    COUNTER("cycle_errors", "Sync cycles that ended early on an error.", total_errors),
    PER_SERVER("requests", "HTTP requests made, per server.", total_biotime_requests,
               total_erpnext_requests),
    PER_SERVER("request_failures", "HTTP requests that got no answer (connection, timeout, "
               "TLS) or a transient one (HTTP 408, 425, 429, 5xx), per server.",
               total_biotime_failures, total_erpnext_failures),
    GAUGE("cursor_id", "BioTime transaction id up to which ERPNext acknowledged every row.",
          VALUE_I64, last_id),
    GAUGE("parked_waiting", "Parked punches still waiting for an Employee.", VALUE_U64,
          parked_waiting),
    GAUGE("last_success_timestamp_seconds", "When the last cycle without an error ended "
          "(Unix time; 0: never).", VALUE_I64, last_success_at),
    GAUGE("last_cycle_timestamp_seconds", "When the last cycle ended (Unix time).", VALUE_I64,
          last_cycle_at),
    GAUGE("last_cycle_duration_seconds", "How long the last cycle took.",
          VALUE_MS_AS_SECONDS, last_duration_ms),
};
#undef AT
#undef COUNTER
#undef PER_SERVER
#undef GAUGE

static void metrics_value(FILE *f, const bts_state *st, enum metric_value v, size_t off)
{
    const void *p = (const char *)st + off;

    if (v == VALUE_I64) {
        fprintf(f, "%" PRId64 "\n", *(const int64_t *)p);
        return;
    }
    uint64_t u = *(const uint64_t *)p;
    if (v == VALUE_MS_AS_SECONDS)
        fprintf(f, "%" PRIu64 ".%03u\n", u / 1000, (unsigned)(u % 1000));
    else
        fprintf(f, "%" PRIu64 "\n", u);
}

/* name{labels}: the instance's name (if any) first, then one more label (if any). The
 * label values are a config label (letters, digits, . _ -) and constants: nothing to
 * escape. */
static void metrics_sample(FILE *f, const char *metric, const char *name, const char *label,
                           const char *value)
{
    bool named = name && *name;

    fputs(metric, f);
    if (!named && !label)
        return (void)fputc(' ', f);
    fputc('{', f);
    if (named)
        fprintf(f, "name=\"%s\"%s", name, label ? "," : "");
    if (label)
        fprintf(f, "%s=\"%s\"", label, value);
    fputs("} ", f);
}

static void metrics_family(FILE *f, const bts_state *st, const struct metric *m,
                           const char *name)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, m->type);
    if (!m->erpnext_off) {
        metrics_sample(f, m->name, name, NULL, NULL);
        metrics_value(f, st, m->value, m->off);
        return;
    }
    metrics_sample(f, m->name, name, "server", "biotime");
    metrics_value(f, st, m->value, m->off);
    metrics_sample(f, m->name, name, "server", "erpnext");
    metrics_value(f, st, m->value, m->erpnext_off);
}

int bts_metrics_render(const bts_state *st, const char *name, char **ret)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f;
    int r = BTS_ENOMEM;

    if (!st || !ret)
        return BTS_EINVAL;
    if (!(f = open_memstream(&buf, &len)))
        return BTS_ENOMEM;
    fputs("# HELP biotime_syncd_info The biotime-syncd that wrote this file.\n"
          "# TYPE biotime_syncd_info gauge\n", f);
    metrics_sample(f, "biotime_syncd_info", name, "version", BTS_VERSION);
    fputs("1\n", f);
    for (size_t i = 0; i < BTS_ARRAY_SIZE(metrics); i++)
        metrics_family(f, st, &metrics[i], name);
    fputs("# EOF\n", f);
    if (!ferror(f))
        r = 0;
    if (fclose(f) != 0)
        r = BTS_ENOMEM;
    if (r == 0)
        *ret = buf;
    else
        free(buf);
    return r;
}

/* path into its directory and file name, as bts_state_write_atomic_mode takes them. */
static int metrics_split(const char *path, char *dir, size_t dirlen, const char **base)
{
    const char *slash = strrchr(path, '/');
    size_t n;

    if (!slash) {
        bts_strlcpy(dir, ".", dirlen);
        *base = path;
        return *path ? 0 : BTS_EINVAL;
    }
    n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= dirlen || !slash[1])
        return BTS_EINVAL;
    memcpy(dir, path, n);
    dir[n] = '\0';
    *base = slash + 1;
    return 0;
}

int bts_metrics_save(const char *path, const bts_state *st, const char *name, char *err,
                     size_t errlen)
{
    char dir[PATH_MAX];
    const char *base;
    char *text = NULL;
    int r;

    if (!path || metrics_split(path, dir, sizeof(dir), &base) < 0) {
        snprintf(err, errlen, "%s: not a file path", path ? path : "(none)");
        return BTS_EINVAL;
    }
    if ((r = bts_metrics_render(st, name, &text)) < 0) {
        snprintf(err, errlen, "%s: cannot render the metrics: %s", path, bts_strerror(r));
        return r;
    }
    r = bts_state_write_atomic_mode(dir, base, text, strlen(text), METRICS_MODE, err, errlen);
    free(text);
    return r;
}

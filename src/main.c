/* biotime-syncd: argv, modes and exit codes; no logic (DESIGN.md §3). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bts/config.h"
#include "bts/daemon.h"
#include "bts/empreport.h"
#include "bts/http.h"
#include "bts/log.h"
#include "bts/notify.h"
#include "bts/probe.h"
#include "bts/reconcile.h"
#include "bts/setup.h"
#include "bts/state.h"
#include "bts/status.h"
#include "bts/timeconv.h"

#define DEFAULT_CONFIG "/etc/biotime-sync.conf"

typedef enum {
    MODE_DAEMON, MODE_CHECK, MODE_TEST, MODE_ONCE, MODE_SETUP, MODE_RECONCILE, MODE_STATUS,
    MODE_EMPLOYEES,
} run_mode;

typedef struct {
    const char *config;
    run_mode mode;
    bool dry_run, json, verbose;
    const char *since, *until;
} cli;

static void usage(FILE *out)
{
    fputs("Usage: biotime-syncd [-c FILE] [options]\n"
          "Moves attendance punches from a ZKTeco BioTime server into ERPNext.\n\n"
          "  -c, --config FILE      config file (default " DEFAULT_CONFIG ")\n"
          "  -n, --check-config     validate the config, print the effective settings\n"
          "      --test-connection  check both servers, the API user's rights and doctypes\n"
          "      --once             sync until BioTime has nothing new, then exit\n"
          "      --dry-run          with --once: print what would be written, write nothing\n"
          "      --since TIME       with --once: backfill from this punch time\n"
          "      --until TIME       with --since: upper bound\n"
          "      --setup-doctypes   create the BioTime Device Log and Sync Logs doctypes\n"
          "      --reconcile        with --since/--until: compare BioTime and ERPNext\n"
          "      --status [--json]  print the local state\n"
          "      --employees [--json]\n"
          "                         compare BioTime's personnel with ERPNext's Employees\n"
          "  -v, --verbose          debug logging\n"
          "  -V, --version          print the version\n"
          "  -h, --help             this help\n"
          "With no mode option it runs as the long-lived daemon.\n", out);
}

enum { OPT_TEST = 256, OPT_ONCE, OPT_DRY, OPT_SINCE, OPT_UNTIL, OPT_SETUP, OPT_RECONCILE,
       OPT_STATUS, OPT_JSON, OPT_EMPLOYEES };

static int set_mode(cli *c, run_mode m)
{
    if (c->mode != MODE_DAEMON && c->mode != m) {
        fprintf(stderr, "biotime-syncd: choose one mode option\n");
        return -1;
    }
    c->mode = m;
    return 0;
}

/* Returns -1 on a usage error, 1 when done (help/version), 0 to run. */
static int parse_args(int argc, char **argv, cli *c)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 'n'},
        {"test-connection", no_argument, NULL, OPT_TEST}, {"once", no_argument, NULL, OPT_ONCE},
        {"dry-run", no_argument, NULL, OPT_DRY}, {"since", required_argument, NULL, OPT_SINCE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"setup-doctypes", no_argument, NULL, OPT_SETUP},
        {"reconcile", no_argument, NULL, OPT_RECONCILE},
        {"status", no_argument, NULL, OPT_STATUS}, {"json", no_argument, NULL, OPT_JSON},
        {"employees", no_argument, NULL, OPT_EMPLOYEES},
        {"verbose", no_argument, NULL, 'v'}, {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int o, bad = 0;
    while ((o = getopt_long(argc, argv, "c:nvVh", opts, NULL)) != -1) {
        switch (o) {
        case 'c': c->config = optarg; break;
        case 'n': bad |= set_mode(c, MODE_CHECK); break;
        case OPT_TEST: bad |= set_mode(c, MODE_TEST); break;
        case OPT_ONCE: bad |= set_mode(c, MODE_ONCE); break;
        case OPT_SETUP: bad |= set_mode(c, MODE_SETUP); break;
        case OPT_RECONCILE: bad |= set_mode(c, MODE_RECONCILE); break;
        case OPT_STATUS: bad |= set_mode(c, MODE_STATUS); break;
        case OPT_EMPLOYEES: bad |= set_mode(c, MODE_EMPLOYEES); break;
        case OPT_DRY: c->dry_run = true; break;
        case OPT_JSON: c->json = true; break;
        case OPT_SINCE: c->since = optarg; break;
        case OPT_UNTIL: c->until = optarg; break;
        case 'v': c->verbose = true; break;
        case 'V': printf("biotime-syncd %s\n", BTS_VERSION); return 1;
        case 'h': usage(stdout); return 1;
        default: return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "biotime-syncd: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return bad ? -1 : 0;
}

/* "YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS" into the full form. */
static int normalise_time(const char *opt, const char *in, char out[BTS_TIME_LEN])
{
    struct tm tm;
    if (!in)
        return 0;
    if (bts_time_parse(in, true, &tm) < 0) {
        fprintf(stderr, "biotime-syncd: %s: '%s' is not \"YYYY-MM-DD\" or "
                "\"YYYY-MM-DD HH:MM:SS\"\n", opt, in);
        return -1;
    }
    strftime(out, BTS_TIME_LEN, "%Y-%m-%d %H:%M:%S", &tm);
    return 0;
}

static int check_combinations(const cli *c)
{
    const char *why = NULL;
    if (c->dry_run && c->mode != MODE_ONCE)
        why = "--dry-run goes with --once";
    else if (c->since && c->mode != MODE_ONCE && c->mode != MODE_RECONCILE)
        why = "--since goes with --once or --reconcile";
    else if (c->until && !c->since)
        why = "--until goes with --since";
    else if (c->mode == MODE_RECONCILE && !c->since)
        why = "--reconcile needs --since";
    else if (c->json && c->mode != MODE_STATUS && c->mode != MODE_EMPLOYEES)
        why = "--json goes with --status or --employees";
    if (why)
        fprintf(stderr, "biotime-syncd: %s\n", why);
    return why ? -1 : 0;
}

static int load_config(const cli *c, bts_config **cfg)
{
    char err[1024];
    /* --status reads only the state: the service user may run it without the secrets */
    unsigned flags = c->mode == MODE_STATUS ? BTS_CONFIG_NO_SECRETS : 0;
    if (bts_config_load_flags(c->config, flags, cfg, err, sizeof(err)) < 0) {
        bts_err("%s", err);
        return BTS_EXIT_CONFIG;
    }
    const char *dir = getenv("BTS_STATE_DIR"); /* an override; the units no longer set it */
    if (dir && *dir) {
        char *copy = strdup(dir);
        if (!copy)
            return BTS_EXIT_SOFTWARE;
        free((*cfg)->sync.state_dir);
        (*cfg)->sync.state_dir = copy;
    }
    const char *secrets[8];
    size_t n = bts_config_secrets(*cfg, secrets, BTS_ARRAY_SIZE(secrets));
    for (size_t i = 0; i < n; i++)
        bts_log_add_secret(secrets[i]);
    bts_log_set_level(c->verbose ? LOG_DEBUG : (*cfg)->log.level);
    bts_daemon_warn_config(*cfg);
    return 0;
}

static int run_once(const cli *c, const bts_config *cfg)
{
    char since[BTS_TIME_LEN] = "", until[BTS_TIME_LEN] = "";
    if (normalise_time("--since", c->since, since) < 0 ||
        normalise_time("--until", c->until, until) < 0)
        return BTS_EXIT_USAGE;
    bts_sync_options opt = {.dry_run = c->dry_run, .out = stdout,
                            .since = *since ? since : NULL, .until = *until ? until : NULL,
                            .progress = *since && isatty(STDOUT_FILENO), .once = true};
    return bts_daemon_once(cfg, &opt);
}

static int run_mode_with_config(const cli *c, bts_config **cfg)
{
    char err[512];
    switch (c->mode) {
    case MODE_CHECK:
        bts_config_print(*cfg, stdout);
        return BTS_EXIT_OK;
    case MODE_STATUS:
        return bts_status_print((*cfg)->sync.state_dir, c->json, stdout) < 0 ? BTS_EXIT_SOFTWARE
                                                                            : BTS_EXIT_OK;
    case MODE_ONCE:
        return run_once(c, *cfg);
    case MODE_SETUP:
        return bts_daemon_exit_code(bts_setup_doctypes(*cfg, stdout));
    case MODE_TEST:
        return bts_daemon_exit_code(bts_test_connection(*cfg, stdout));
    case MODE_EMPLOYEES: {
        int r = bts_empreport(*cfg, c->json, stdout);
        if (r == 0 || r == 1)
            return r; /* 1: something needs action */
        return r == BTS_ENOMEM || r == BTS_EINVAL ? BTS_EXIT_SOFTWARE : BTS_EXIT_UNAVAILABLE;
    }
    case MODE_RECONCILE: {
        char since[BTS_TIME_LEN] = "", until[BTS_TIME_LEN] = "";
        if (normalise_time("--since", c->since, since) < 0 ||
            normalise_time("--until", c->until, until) < 0)
            return BTS_EXIT_USAGE;
        if (*until && strcmp(since, until) > 0) {
            fprintf(stderr, "biotime-syncd: --since is after --until\n");
            return BTS_EXIT_USAGE;
        }
        int r = bts_reconcile(*cfg, since, *until ? until : NULL, stdout);
        return r == 1 ? 1 : bts_daemon_exit_code(r); /* 1: the two sides disagree */
    }
    case MODE_DAEMON:
        if (bts_state_dir_usable((*cfg)->sync.state_dir, err, sizeof(err)) < 0) {
            bts_err("%s", err);
            bts_notify_failed(err);
            return BTS_EXIT_CONFIG;
        }
        return bts_daemon_run(cfg);
    default:
        fprintf(stderr, "biotime-syncd: this mode is not available yet\n");
        return BTS_EXIT_USAGE;
    }
}

int main(int argc, char **argv)
{
    cli c = {.config = DEFAULT_CONFIG, .mode = MODE_DAEMON};
    bts_config *cfg = NULL;
    int k = parse_args(argc, argv, &c);
    if (k != 0)
        return k > 0 ? BTS_EXIT_OK : BTS_EXIT_USAGE;
    if (check_combinations(&c) < 0)
        return BTS_EXIT_USAGE;
    bts_log_init(c.verbose ? LOG_DEBUG : LOG_INFO);
    bts_daemon_signals_init();
    if (bts_http_global_init() < 0)
        return BTS_EXIT_SOFTWARE;
    int rc = load_config(&c, &cfg);
    if (rc == 0)
        rc = run_mode_with_config(&c, &cfg);
    else if (c.mode == MODE_DAEMON)
        bts_notify_failed(bts_log_last_error()); /* the config error, logged just now */
    bts_config_free(cfg);
    bts_http_global_cleanup();
    return rc;
}

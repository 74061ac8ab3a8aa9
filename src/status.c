/* --status reads the state directory only: it works while the daemon runs, and without
 * reaching either server. */
#include <stdlib.h>
#include <time.h>

#include "bts/state.h"
#include "bts/status.h"

static void when(int64_t t, char *out, size_t n)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (t <= 0 || !localtime_r(&tt, &tm) || strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(out, n, "never");
}

static void print_human(const bts_state *st, const char *dir, FILE *out)
{
    char last[32], ok[32], err_at[32];
    when(st->last_cycle_at, last, sizeof(last));
    when(st->last_success_at, ok, sizeof(ok));
    when(st->last_error_at, err_at, sizeof(err_at));
    fprintf(out, "state directory:   %s\n", dir);
    fprintf(out, "BioTime server:    %s\n", *st->biotime_url ? st->biotime_url : "(none yet)");
    fprintf(out, "cursor:            BioTime id %lld (found on page %lld of size %lld)\n",
            (long long)st->last_id, (long long)st->page_hint, (long long)st->hint_page_size);
    fprintf(out, "last cycle:        %s, %s: %llu read, %llu checkins, %llu Device Logs, "
            "%llu parked\n", last, *st->last_result ? st->last_result : "-",
            (unsigned long long)st->last_read, (unsigned long long)st->last_checkins,
            (unsigned long long)st->last_device_logs, (unsigned long long)st->last_parked);
    fprintf(out, "last success:      %s\n", ok);
    fprintf(out, "totals:            %llu read, %llu checkins, %llu Device Logs, %llu already "
            "there, %llu parked, %llu errors, %llu cycles\n",
            (unsigned long long)st->total_read, (unsigned long long)st->total_checkins,
            (unsigned long long)st->total_device_logs, (unsigned long long)st->total_duplicates,
            (unsigned long long)st->total_parked, (unsigned long long)st->total_errors,
            (unsigned long long)st->cycles);
    fprintf(out, "parked, waiting:   %llu", (unsigned long long)st->parked_waiting);
    for (size_t i = 0; i < st->n_unknown_codes; i++)
        fprintf(out, "%s%s", i == 0 ? " (unknown emp_code: " : ", ", st->unknown_codes[i]);
    fprintf(out, "%s\n", st->n_unknown_codes ? ")" : "");
    if (st->push_last_at) {
        char push_at[32];
        when(st->push_last_at, push_at, sizeof(push_at));
        fprintf(out, "employees push:    %s: %llu created, %llu renamed, %llu resigned, %llu "
                "refused; totals %llu, %llu, %llu, %llu\n", push_at,
                (unsigned long long)st->push_last_created,
                (unsigned long long)st->push_last_renamed,
                (unsigned long long)st->push_last_resigned,
                (unsigned long long)st->push_last_refused,
                (unsigned long long)st->push_created, (unsigned long long)st->push_renamed,
                (unsigned long long)st->push_resigned, (unsigned long long)st->push_refused);
    }
    if (*st->last_error)
        fprintf(out, "last error:        %s: %s\n", err_at, st->last_error);
    else
        fprintf(out, "last error:        none\n");
}

int bts_status_print(const char *dir, bool json, FILE *out)
{
    bts_state st;
    char err[512];
    int r = bts_state_load(dir, &st, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "biotime-syncd: %s\n", err);
        return r;
    }
    if (!json) {
        print_human(&st, dir, out);
        return 0;
    }
    char *text = bts_state_to_json(&st);
    if (!text)
        return BTS_ENOMEM;
    fprintf(out, "%s\n", text);
    free(text);
    return 0;
}

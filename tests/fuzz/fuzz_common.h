/* Helpers shared by the libFuzzer targets (tests/fuzz/fuzz_*.c). */
#ifndef BTS_FUZZ_COMMON_H
#define BTS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bts/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A heap copy of the input with a NUL after it (the input may hold NULs of its own). Exactly
 * size + 1 bytes, so ASan sees any read past the terminator. Out of memory ends the run:
 * libFuzzer's -rss_limit_mb/-malloc_limit_mb report that better than a silent skip. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* A property the target checks was broken: print what and crash, so libFuzzer saves the
 * input like any other crash. */
#define FUZZ_CHECK(cond, ...)                                                              \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "fuzz check failed at %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* The daemon's log lines would only slow the run down; BTS_FUZZ_LOG=1 keeps them (debug). */
static inline void fuzz_quiet_log(void)
{
    const char *v = getenv("BTS_FUZZ_LOG");

    bts_log_init(v && strcmp(v, "1") == 0 ? LOG_DEBUG : LOG_CRIT);
}

#endif

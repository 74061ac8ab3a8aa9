/* libFuzzer target: bts_jwt_exp on a token as the BioTime login answer may carry it. */
#include "bts/biotime.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_log();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *jwt = fuzz_cstr(data, size);
    int64_t exp = bts_jwt_exp(jwt);

    /* the caller treats anything <= 0 as "no expiry known"; a value is a Unix time */
    FUZZ_CHECK(exp == -1 || (exp > 0 && exp < 1000000000000LL), "exp %lld", (long long)exp);
    free(jwt);
    return 0;
}

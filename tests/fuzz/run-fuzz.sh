#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/ at the repository root,
# replays every regression input and seed once, then fuzzes each target for SECONDS seconds
# on a scratch copy of its corpus (the repository's corpus never grows).
#
#   tests/fuzz/run-fuzz.sh [SECONDS]      (default 20)
#
# Prints one "PASS: fuzz <target> (N runs)" or "FAIL: fuzz <target> ..." line per target and
# exits non-zero on any crash, leak, timeout or build failure. A crashing input is kept in
# build-fuzz/fuzz-artifacts/<target>/: add it to tests/fuzz/regressions/<target>/ once it is
# understood, so that every later run replays it.
#
# Environment: CC (default clang), FUZZ_TARGETS (space-separated subset, default all),
# FUZZ_JOBS (build parallelism, default nproc), BTS_FUZZ_LOG=1 (keep the daemon's log lines).
set -uo pipefail

secs=${1:-20}
if ! [[ $secs =~ ^[0-9]+$ ]] || ((secs < 1)); then
    echo "usage: $0 [SECONDS]" >&2
    exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$root/build-fuzz
all_targets=(biotime_page jwt frappe_error config time state personnel)
read -r -a targets <<<"${FUZZ_TARGETS:-${all_targets[*]}}"
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
flags=(-rss_limit_mb=2048 -timeout=10 -max_len=65536)

scratch=$(mktemp -d "${TMPDIR:-/tmp}/bts-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

echo "== configure and build ($build)"
if ! cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER="${CC:-clang}" -DBTS_FUZZ=ON \
        -DBTS_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DBTS_WERROR=ON >"$scratch/configure.log" 2>&1; then
    cat "$scratch/configure.log"
    echo "FAIL: fuzz build (cmake configure)"
    exit 1
fi
if ! cmake --build "$build" -j "$jobs" --target "${targets[@]/#/fuzz_}" \
        >"$scratch/build.log" 2>&1; then
    tail -n 60 "$scratch/build.log"
    echo "FAIL: fuzz build"
    exit 1
fi

# Sanitizer settings: leaks are failures, UBSan stops at the first report, stack traces are
# symbolized. fuzz_config's leak suppressions name libconfig's functions, and LeakSanitizer
# can only match a function name in a symbolized frame: without llvm-symbolizer every frame
# is a bare module offset and libconfig's own known leak would fail the replay. So the
# symbolizer (Debian's llvm-14, from tests/install-deps.sh) is required and named explicitly.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:symbolize=1}
if [[ -z ${ASAN_SYMBOLIZER_PATH:-} ]]; then
    for s in /usr/lib/llvm-14/bin/llvm-symbolizer /usr/bin/llvm-symbolizer-14 \
             "$(command -v llvm-symbolizer || true)"; do
        [[ -n $s && -x $s ]] && { export ASAN_SYMBOLIZER_PATH=$s; break; }
    done
fi
if [[ ! -x ${ASAN_SYMBOLIZER_PATH:-} ]]; then
    echo "FAIL: fuzz setup: no llvm-symbolizer (install llvm-14: bash tests/install-deps.sh);"
    echo "      leak suppressions match symbolized frames only"
    exit 1
fi

# fuzz_config's temp file lives under TMPDIR: in the scratch dir, a crash leaves nothing behind
export TMPDIR=$scratch

failed=0
for t in "${targets[@]}"; do
    bin=$build/tests/fuzz/fuzz_$t
    log=$scratch/$t.log
    if [[ ! -x $bin ]]; then
        echo "FAIL: fuzz $t (no binary $bin)"
        failed=1
        continue
    fi

    # 1. every regression input and seed, once (a list of files runs each one once)
    inputs=()
    for d in "$here/regressions/$t" "$here/corpus/$t"; do
        [[ -d $d ]] || continue
        while IFS= read -r -d '' f; do
            inputs+=("$f")
        done < <(find "$d" -type f ! -name '.*' -print0 | sort -z)
    done
    if ((${#inputs[@]})); then
        if ! "$bin" "${flags[@]}" "${inputs[@]}" </dev/null >"$log" 2>&1; then
            grep -E '^(Running|==[0-9]+==|SUMMARY|    #[0-9]|.*runtime error|fuzz check)' "$log" \
                | tail -n 40
            echo "FAIL: fuzz $t (replay of regressions/seeds crashed; log above)"
            failed=1
            continue
        fi
    fi

    # 2. fuzz for $secs seconds on a scratch copy of the corpus
    corpus=$scratch/corpus-$t
    artifacts=$build/fuzz-artifacts/$t
    mkdir -p "$corpus" "$artifacts"
    if [[ -d $here/corpus/$t ]]; then
        find "$here/corpus/$t" -maxdepth 1 -type f ! -name '.*' -exec cp -t "$corpus" {} +
    fi
    "$bin" "${flags[@]}" -seed="${BTS_FUZZ_SEED:-1}" -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$corpus" </dev/null >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    [[ -n $runs ]] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
    if ((rc == 0)) && ! grep -qE '^==[0-9]+==ERROR|runtime error:|^SUMMARY: ' "$log"; then
        echo "PASS: fuzz $t (${runs:-?} runs)"
    else
        grep -E '^(==[0-9]+==|SUMMARY|    #[0-9]|.*runtime error|fuzz check|artifact_prefix|Test unit written)' \
            "$log" | tail -n 60
        echo "FAIL: fuzz $t (exit $rc after ${runs:-?} runs; inputs in $artifacts)"
        failed=1
    fi
done
exit "$failed"

#!/usr/bin/env bash
# Installs what is missing, builds biotime-syncd and runs every test:
#   1. unit + integration tests (ctest) on a normal build,
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer,
#   3. the unit tests under valgrind memcheck (zero errors, zero leaks),
#   4. the fuzz targets for a bounded time, the Debian package check, a benchmark smoke run,
#   5. Release builds with gcc and clang and a build with Debian's dpkg-buildflags,
#   6. the README's service section under a real systemd (tests/systemd/run.sh).
# Every build here uses -DBTS_WERROR=ON: a new warning fails CI (but not a packager's build).
# Usage: tests/run-all.sh   (as root or with sudo: it installs Debian packages)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash tests/install-deps.sh

passed=0
failed=0
skipped=0
stage() { printf '\n==== %s ====\n' "$*"; }

# Runs ctest in a build dir and adds its counts to the totals.
run_ctest() {
  local dir=$1; shift
  local log
  log=$(mktemp)
  if (cd "$dir" && ctest --output-on-failure -j2 "$@") 2>&1 | tee "$log"; then :; fi
  local line total nfail
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of' "$log" | tail -1 || true)
  total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
  nfail=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$line")
  if [ -z "$line" ]; then total=0; nfail=1; fi
  passed=$((passed + total - nfail))
  failed=$((failed + nfail))
  rm -f "$log"
}

check() { # name command...: one pass/fail for a non-ctest check
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "PASS: $name"
  else failed=$((failed + 1)); echo "FAIL: $name"; fi
}

check_each() { # name command...: counts each PASS:/FAIL: line the command prints; a failed
  local name=$1 log rc=0 p f   # run that printed no FAIL: line counts as one failure; exit
  shift                        # status 77 (with a SKIP: line) counts as skipped
  log=$(mktemp)
  "$@" 2>&1 | tee "$log" || rc=$?
  p=$(grep -c '^PASS: ' "$log" || true)
  f=$(grep -c '^FAIL: ' "$log" || true)
  if [ "$rc" -eq 77 ] && [ "$f" -eq 0 ]; then skipped=$((skipped + 1)); rm -f "$log"; return; fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "FAIL: $name (exit status $rc)"; fi
  passed=$((passed + p))
  failed=$((failed + f))
  rm -f "$log"
}

stage "build (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBTS_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"

stage "unit and integration tests"
run_ctest build

stage "build and tests under ASan + UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DBTS_SANITIZE=ON -DBTS_WERROR=ON >/dev/null
cmake --build build-asan -j"$(nproc)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_ctest build-asan

stage "valgrind memcheck: unit tests, and the integration tests with the daemon under valgrind"
vg="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible --show-leak-kinds=definite,indirect,possible"
for t in build/tests/test_*; do
  [ -x "$t" ] || continue
  check "valgrind $(basename "$t")" env BTS_TEST_DATA="$root/tests/data" $vg "$t"
done
BTS_WRAPPER="$vg" run_ctest build -L integration

if [ -x tests/fuzz/run-fuzz.sh ]; then
  stage "fuzzing (bounded)"
  check "fuzz targets" tests/fuzz/run-fuzz.sh "${BTS_FUZZ_SECONDS:-20}"
fi

stage "Debian package"
check "package install/remove" bash .ci/package-check.sh build

stage "real systemd: the README's service section in a booted Debian 12 container"
check_each "real systemd" bash tests/systemd/run.sh build

if [ -x tests/bench/bench.py ]; then
  stage "benchmark smoke run (figures only, nothing asserted about speed)"
  check "benchmark smoke" python3 tests/bench/bench.py --binary build/biotime-syncd --punches 2000 --smoke
  check "latency benchmark smoke" python3 tests/bench/latency.py --binary build/biotime-syncd --smoke
fi

stage "release builds (-Werror): Release with gcc and clang, Debian's dpkg-buildflags"
# Fresh build dirs: a cached compiler or flags would hide what a packager sees.
release_build() { # dir [env...] -- cmake args...: configure and build, quietly unless it fails
  local dir=$1; shift
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
  rm -rf "$dir"
  local log
  log=$(mktemp)
  if env "${envs[@]}" cmake -S . -B "$dir" -DBTS_WERROR=ON "$@" >"$log" 2>&1 &&
     cmake --build "$dir" -j"$(nproc)" >>"$log" 2>&1; then
    rm -f "$log"
  else
    tail -n 40 "$log"; rm -f "$log"; return 1
  fi
}
check "Release build, gcc" release_build build-release-gcc CC=gcc -- \
  -DCMAKE_BUILD_TYPE=Release -DBTS_TESTS=OFF
check "Release build, clang" release_build build-release-clang CC=clang -- \
  -DCMAKE_BUILD_TYPE=Release -DBTS_TESTS=OFF
# As debhelper's cmake build does: dpkg-buildflags' CFLAGS with CPPFLAGS appended (cmake
# ignores CPPFLAGS), LDFLAGS, build type None, every hardening feature; tests included.
dpkg_flags=$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh)
check "dpkg-buildflags build (hardening=+all)" release_build build-dpkg-buildflags \
  CC=gcc "CFLAGS=$(eval "$dpkg_flags"; echo "$CFLAGS $CPPFLAGS")" \
  "LDFLAGS=$(eval "$dpkg_flags"; echo "$LDFLAGS")" -- -DCMAKE_BUILD_TYPE=None

stage "summary"
if [ "$skipped" -eq 0 ]; then echo "tests: $passed passed, $failed failed"
else echo "tests: $passed passed, $failed failed, $skipped skipped (see SKIP: above)"; fi
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# The README's test command: installs dependencies, builds, and runs every
# test through ctest — the normal build (g++), the whole suite again under
# AddressSanitizer + UndefinedBehaviorSanitizer together with a 30-second
# libFuzzer run of every fuzz harness (one clang build: libFuzzer needs
# clang, and clang compiles this code about twice as fast as g++ at -O0),
# and the concurrent tests under ThreadSanitizer (tests/tsan-tests.txt,
# clang). All three build with FOCAL_WERROR=ON: a compiler warning fails
# the run. Fails if any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
# Each stage's heading carries the seconds since the start: CI's budget is
# 40 minutes on two cores, and its log then shows where they went.
stage() { echo "== $* (at $(( $(date +%s) - start )) s)"; }
./scripts/install-deps.sh

stage "build (RelWithDebInfo)"
./scripts/build.sh build -DFOCAL_WERROR=ON
stage "ctest (build)"
ctest --test-dir build --output-on-failure -j 2

# A build directory keeps the compiler it was configured with: start afresh
# where an older checkout configured g++ for these two.
for d in build-asan build-tsan; do
  if [ -f "$d/CMakeCache.txt" ] && ! grep -q '^CMAKE_CXX_COMPILER:.*clang' "$d/CMakeCache.txt"; then
    rm -rf "$d"
  fi
done

stage "build (ASan + UBSan + libFuzzer harnesses, clang)"
CC=clang CXX=clang++ ./scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DFOCAL_SANITIZE=ON -DFOCAL_FUZZ=ON \
  -DFOCAL_BENCH=OFF -DFOCAL_WERROR=ON
stage "ctest (build-asan: every test, and fuzz-smoke-*: every harness for 30 s)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j 2

stage "build (ThreadSanitizer)"
# focald is an io thread + a SQLite writer thread (server/ARCHITECTURE.md);
# the tests below drive both, in process (unit) and as the real focald
# (integration: focald inherits TSAN_OPTIONS). tests/tsan.supp suppresses
# only Boost 1.74 Asio's reference-count fence. Any report fails the run:
# halt_on_error stops the process and log_path keeps every report, which
# is checked after ctest (a report inside focald would otherwise only end
# up in the hub's temporary directory).
# -O1 and line tables only: what TSan's manual recommends and what its
# reports use (function, file and line), at less compile time than -O2 -g.
CC=clang CXX=clang++ cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFOCAL_TSAN=ON \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" \
  -DFOCAL_BENCH=OFF -DFOCAL_WERROR=ON >/dev/null
cmake --build build-tsan -j "$(nproc)" --target focald focal focal_unit_tests focal_integration_tests
stage "ctest (build-tsan: concurrent tests)"
tsan_reports="$PWD/build-tsan/tsan-reports"
rm -rf "$tsan_reports"
mkdir -p "$tsan_reports"
tsan_rc=0
TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp halt_on_error=1 second_deadlock_stack=1 log_path=$tsan_reports/report" \
  ctest --test-dir build-tsan --output-on-failure -j 2 -R "$(cat tests/tsan-tests.txt | grep -v '^#' | paste -sd '|')" \
  || tsan_rc=$?
if compgen -G "$tsan_reports/report*" >/dev/null; then
  echo "ThreadSanitizer reports:"
  cat "$tsan_reports"/report*
  exit 1
fi
[ "$tsan_rc" -eq 0 ] || exit "$tsan_rc"

stage "all tests passed in $(( $(date +%s) - start )) s"

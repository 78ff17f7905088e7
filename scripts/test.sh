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

stage "build (RelWithDebInfo: -O2, line tables)"
# -O2 as shipped; debug information at -g1 (functions and line tables: what
# a backtrace in the log uses), not -g: full debug information was a third
# of g++'s time on the server's files (hub.cpp 21 s at -g, 14 s at -g1).
./scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" \
  -DFOCAL_WERROR=ON
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
# Line tables only: what a sanitizer's report uses (function, file, line),
# and less to compile and link than full debug information.
CC=clang CXX=clang++ ./scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DFOCAL_SANITIZE=ON -DFOCAL_FUZZ=ON \
  "-DCMAKE_CXX_FLAGS_DEBUG=-O0 -gline-tables-only" "-DCMAKE_C_FLAGS_DEBUG=-O0 -gline-tables-only" \
  -DFOCAL_BENCH=OFF -DFOCAL_WERROR=ON
stage "ctest (build-asan: every test, and fuzz-smoke-*: every harness for 30 s)"
# Three at a time on two cores: the fuzz smokes run for a fixed 30 s each
# and many integration tests wait on a hub, so a third slot keeps both cores
# busy (the tests never depend on how fast the machine is).
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j 3

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
# The test binaries are built from only the files that hold the tests
# listed in tests/tsan-tests.txt (FOCAL_TEST_ONLY); a pattern that no file
# or no built test matches fails the run, so a renamed test cannot drop out.
tsan_patterns=$(grep -v '^#' tests/tsan-tests.txt)
tsan_files=()
while IFS= read -r p; do
  kind=$(sed -E 's/^\^(unit|integration): .*/\1/' <<<"$p")
  name=$(sed -E 's/^\^(unit|integration): \?//' <<<"$p")
  # A string literal that starts with the name: TEST_CASE's or
  # TEST_CASE_METHOD's argument, which may be on a line of its own.
  mapfile -t found < <(grep -lE "\"$name" "tests/$kind"/*_test.cpp || true)
  if [ ${#found[@]} -eq 0 ]; then
    echo "tests/tsan-tests.txt: no file in tests/$kind has a test matching: $p" >&2
    exit 1
  fi
  tsan_files+=("${found[@]##*/}")
done <<<"$tsan_patterns"
tsan_only=$(printf '%s\n' "${tsan_files[@]}" | sort -u | paste -sd ';')
CC=clang CXX=clang++ cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFOCAL_TSAN=ON \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" \
  "-DFOCAL_TEST_ONLY=$tsan_only" -DFOCAL_BENCH=OFF -DFOCAL_WERROR=ON >/dev/null
cmake --build build-tsan -j "$(nproc)" --target focald focal focal_unit_tests focal_integration_tests
while IFS= read -r p; do
  if ! ctest --test-dir build-tsan -N -R "$p" | grep -q '^Total Tests: [1-9]'; then
    echo "tests/tsan-tests.txt: no test of build-tsan matches: $p" >&2
    exit 1
  fi
done <<<"$tsan_patterns"
stage "ctest (build-tsan: concurrent tests)"
tsan_reports="$PWD/build-tsan/tsan-reports"
rm -rf "$tsan_reports"
mkdir -p "$tsan_reports"
tsan_rc=0
TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp halt_on_error=1 second_deadlock_stack=1 log_path=$tsan_reports/report" \
  ctest --test-dir build-tsan --output-on-failure -j 2 -R "$(paste -sd '|' <<<"$tsan_patterns")" \
  || tsan_rc=$?
if compgen -G "$tsan_reports/report*" >/dev/null; then
  echo "ThreadSanitizer reports:"
  cat "$tsan_reports"/report*
  exit 1
fi
[ "$tsan_rc" -eq 0 ] || exit "$tsan_rc"

stage "all tests passed in $(( $(date +%s) - start )) s"

#!/usr/bin/env bash
# The README's test command: installs dependencies, builds, and runs every
# test through ctest — the normal build, the whole suite again under
# AddressSanitizer + UndefinedBehaviorSanitizer, and a 30-second libFuzzer
# run of every fuzz harness (clang). Fails if any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
./scripts/install-deps.sh

echo "== build (RelWithDebInfo)"
./scripts/build.sh build
echo "== ctest (build)"
ctest --test-dir build --output-on-failure -j 2

echo "== build (ASan + UBSan)"
./scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DFOCAL_SANITIZE=ON -DFOCAL_BENCH=OFF
echo "== ctest (build-asan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j 2

echo "== build (libFuzzer, clang)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFOCAL_SANITIZE=ON -DFOCAL_FUZZ=ON -DFOCAL_BENCH=OFF -DFOCAL_TESTS=OFF >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target fuzzers
echo "== fuzz smoke (every harness, 30 s each)"
ctest --test-dir build-fuzz --output-on-failure -j 2 -R '^fuzz-smoke-'

echo "== all tests passed in $(( $(date +%s) - start )) s"

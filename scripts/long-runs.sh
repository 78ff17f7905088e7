#!/usr/bin/env bash
# long-runs.sh [MINUTES] — the long reliability runs (docs/reliability.md),
# too long for CI:
#   * every libFuzzer harness for MINUTES minutes of wall time each (default
#     10, the issue's "10 CPU-minutes per harness"), PARALLEL at a time
#     (default 2), each on a copy of its seed corpus that grows as it runs;
#   * the power-loss sweep over every sync point, without its time budget
#     (FOCAL_POWERLOSS_FULL=1);
#   * the SIGKILL crash test with FOCAL_CRASH_KILLS kills (default 200).
# Builds what it needs in build-fuzz (clang, ASan+UBSan, libFuzzer) and
# build-rel (RelWithDebInfo). Logs and grown corpora go to
# build-fuzz/long-runs/; the summary lines are printed at the end.
# Crashes: build-fuzz/long-runs/NAME/artifacts/ (reproduce with
#   build-fuzz/tests/fuzz/focal_NAME_fuzz ARTIFACT).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
parallel=${PARALLEL:-2}
kills=${FOCAL_CRASH_KILLS:-200}
out=build-fuzz/long-runs

if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFOCAL_SANITIZE=ON -DFOCAL_FUZZ=ON -DFOCAL_BENCH=OFF -DFOCAL_TESTS=OFF >/dev/null
fi
cmake --build build-fuzz --target fuzzers -j "$parallel"
if [ ! -f build-rel/build.ninja ]; then
  cmake -S . -B build-rel -G Ninja -DFOCAL_BENCH=OFF >/dev/null
fi
cmake --build build-rel --target focal_unit_tests focal_integration_tests -j "$parallel"

mkdir -p "$out"
fuzz_one() {
  local name=$1 dir="$out/$1"
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp tests/fuzz/corpus/"$name"/* "$dir/corpus/"
  local start=$(date +%s) rc=0
  build-fuzz/tests/fuzz/focal_"$name"_fuzz "$dir/corpus" -max_total_time=$((minutes * 60)) \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
    >"$dir/log" 2>&1 || rc=$?
  local secs=$(( $(date +%s) - start ))
  local done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$dir/log" | tail -1)
  local execs=$(grep -E '^stat::number_of_executed_units' "$dir/log" | awk '{print $2}')
  local rate=$(grep -E '^stat::average_exec_per_sec' "$dir/log" | awk '{print $2}')
  echo "fuzz $name: ${secs}s, exit $rc, ${execs:-?} execs (${rate:-?}/s), corpus $(ls "$dir/corpus" | wc -l) files; ${done_line:-no DONE line (crashed?)}" \
    | tee "$dir/summary"
}

names=(frame bulletin keyfile config handler)
running=0
for n in "${names[@]}"; do
  fuzz_one "$n" &
  running=$((running + 1))
  if [ "$running" -ge "$parallel" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true

echo "== power-loss sweep (every sync point)"
FOCAL_POWERLOSS_FULL=1 build-rel/tests/focal_unit_tests '[powerloss]' 2>&1 \
  | grep -E '^durability-powerloss|passed|failed' | tee "$out/powerloss.log"

echo "== crash test ($kills SIGKILLs)"
FOCAL_CRASH_KILLS=$kills build-rel/tests/focal_integration_tests '[crash]' 2>&1 \
  | grep -E '^crash-durability|passed|failed' | tee "$out/crash.log"

echo "== summary"
cat "$out"/*/summary "$out/powerloss.log" "$out/crash.log"
if grep -q 'failed' "$out/powerloss.log" "$out/crash.log" || ls "$out"/*/artifacts/* >/dev/null 2>&1; then
  echo "long runs FOUND PROBLEMS (see $out)"
  exit 1
fi
echo "long runs passed"

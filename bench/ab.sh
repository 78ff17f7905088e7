#!/usr/bin/env bash
# ab.sh PAIRS "FOCAL-BENCH ARGS" FOCALD... — interleaved A/B runs of focal-bench.
#
# On a shared 2-vCPU machine the same build varies by 20 % between minutes,
# so builds are compared only in the same minutes: each round runs
# focal-bench once against each given focald binary, in turn, and prints one
# line per run (accepted/s, deliveries/s, end-to-end p50/p99 in ms, the hub's
# CPU per accepted bulletin, the load generator's CPU, and each hub thread's
# CPU in thread-id order: on 2 cores the io thread, two verify threads, the
# writer and the checkpointer).
#
#   bench/ab.sh 3 "--size 1024 --recipients 10 --clients 8 --count 20000" /tmp/focald-old build/server/focald
#
# FOCAL_BENCH: the focal-bench binary (default build/bench/focal-bench).
# Needs python3 to read focal-bench's --json-file.
set -euo pipefail
if [ $# -lt 3 ]; then
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
pairs=$1
args=$2
shift 2
bench=${FOCAL_BENCH:-$(dirname "$0")/../build/bench/focal-bench}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for _ in $(seq 1 "$pairs"); do
  for focald in "$@"; do
    # shellcheck disable=SC2086  # the arguments are meant to split
    if ! "$bench" --focald "$focald" $args --json-file "$out" >/dev/null 2>&1; then
      echo "$focald: focal-bench failed"
      continue
    fi
    python3 - "$focald" "$out" <<'PY'
import json, sys
d = json.load(open(sys.argv[2]))
threads = " ".join("%.2f" % t["cpu_s"] for t in sorted(d["cpu"]["hub_threads"], key=lambda t: t["tid"]))
print("%s acc/s %6.0f del/s %6.0f p50 %8.3f p99 %8.3f hub_us/acc %4.0f bench_cpu %.2f threads [%s]" % (
    sys.argv[1], d["accepted_per_s"], d["deliveries_per_s"], d["latency_ms"]["p50"], d["latency_ms"]["p99"],
    d["cpu"]["hub_us_per_accepted"], d["cpu"]["bench_s"], threads))
PY
  done
done

#!/usr/bin/env bash
# ir.sh "FOCAL-BENCH ARGS" FOCALD... — instructions per bulletin of each focald,
# counted by valgrind's callgrind, which a shared machine's noise does not change.
#
# Each focald serves the same focal-bench workload twice under callgrind, with
# --count SMALL and --count LARGE; the difference divided by LARGE − SMALL is
# the hub's instructions per bulletin without its fixed start-up cost (key
# unlock, log verification at start). Ed25519 verification is variable-time,
# and ids and keys are random per run, so two runs of one binary differ by
# about 1 %: a difference below that is no difference.
#
#   bench/ir.sh "--size 1024 --recipients 10 --clients 4" /work/bench-before/focald build/server/focald
#
# FOCAL_BENCH: the focal-bench binary (default build/bench/focal-bench);
# IR_SMALL, IR_LARGE: the two counts (default 200 and 2000).
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
args=$1
shift
bench=${FOCAL_BENCH:-$(dirname "$0")/../build/bench/focal-bench}
small=${IR_SMALL:-200}
large=${IR_LARGE:-2000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

total() {  # total() FOCALD COUNT — the hub's instructions for one run
  local out="$work/cg.$2"
  rm -f "$out".*
  # shellcheck disable=SC2086  # the arguments are meant to split
  "$bench" --focald "$1" --hub-wrapper "valgrind --tool=callgrind --callgrind-out-file=$out.%p" \
    --hub-start-timeout 600 --drain-timeout 600 $args --count "$2" >"$work/log" 2>&1 ||
    { echo "$1: focal-bench failed:" >&2; cat "$work/log" >&2; exit 1; }
  callgrind_annotate "$out".* 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}

for focald in "$@"; do
  a=$(total "$focald" "$small")
  b=$(total "$focald" "$large")
  echo "$focald: $(( (b - a) / (large - small) )) instructions per bulletin" \
    "(count $small: $a, count $large: $b)"
done

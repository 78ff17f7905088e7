#!/usr/bin/env bash
# agent_inbox.sh [RUNS] — `focal inbox` wall time and max RSS against a real
# hub, reading the key file (FOCAL_PASSPHRASE, Argon2id `moderate`, as every
# command did before focal unlock) and through the key agent (focal unlock).
#
# Makes a throw-away hub (focald init + run on 127.0.0.1), an admin and one
# member with a default (moderate) key file, three bulletins queued for the
# member, then runs `focal inbox` RUNS times (default 5) each way after one
# warm-up, under /usr/bin/time. Prints each run and the medians.
#
#   bench/agent_inbox.sh 5
#
# FOCAL, FOCALD: the binaries (default build/client/focal, build/server/focald).
set -euo pipefail
runs=${1:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
focal=${FOCAL:-$root/build/client/focal}
focald=${FOCALD:-$root/build/server/focald}
work=$(mktemp -d)
hub_pid=""
cleanup() {
  XDG_RUNTIME_DIR=$work/run "$focal" --profile-dir "$work/sg" --key "$work/sg.key" lock >/dev/null 2>&1 || true
  [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null && wait "$hub_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
export FOCAL_PASSPHRASE="bench passphrase, twelve plus"
mkdir -m 0700 "$work/run"

"$focal" keygen --member admin --out "$work/admin.key" --kdf interactive >/dev/null
"$focal" keygen --member sg-bench --out "$work/sg.key" >/dev/null  # the default KDF: moderate
ca=$("$focald" init "$work/hub" --admin-pub "$work/admin.key.pub" --json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["ca_file"])')
"$focald" run "$work/hub" --listen 127.0.0.1:0 >"$work/hub.log" 2>&1 &
hub_pid=$!
for _ in $(seq 1 200); do
  grep -q "focald listening on " "$work/hub.log" && break
  sleep 0.05
done
hub=$(sed -n 's/.*focald listening on \([^ ]*\).*/\1/p' "$work/hub.log" | head -1)
[ -n "$hub" ] || { cat "$work/hub.log"; exit 1; }

admin=(--hub "$hub" --ca "$ca" --key "$work/admin.key" --profile-dir "$work/admin")
sg=(--hub "$hub" --ca "$ca" --key "$work/sg.key" --profile-dir "$work/sg")
"$focal" "${admin[@]}" admin register "$work/sg.key.pub" --state SG --institution law-enforcement --name "SG bench" >/dev/null
for i in 1 2 3; do
  "$focal" "${admin[@]}" send --to sg-bench --tlp amber --category alert --title "Bench bulletin $i" \
    --body "body $i" >/dev/null 2>&1
done
"$focal" "${sg[@]}" inbox >/dev/null  # the profile verifies the log once

measure() {  # measure LABEL ENV... — RUNS timed inboxes; prints runs and medians
  local label=$1
  shift
  env "$@" "$focal" "${sg[@]}" inbox >/dev/null
  for _ in $(seq 1 "$runs"); do
    env "$@" /usr/bin/time -f "%e %M" "$focal" "${sg[@]}" inbox 2>&1 >/dev/null | tail -1
  done | python3 -c '
import statistics, sys
label = sys.argv[1]
rows = [tuple(map(float, l.split())) for l in sys.stdin if l.strip()]
for wall, rss in rows:
    print("%-10s wall %6.0f ms  max RSS %6.1f MB" % (label, wall * 1000, rss / 1024))
print("%-10s MEDIAN wall %6.0f ms  max RSS %6.1f MB" % (label, statistics.median(w for w, _ in rows) * 1000,
                                                       statistics.median(r for _, r in rows) / 1024))
' "$label"
}

measure key-file XDG_RUNTIME_DIR="$work/run"
XDG_RUNTIME_DIR=$work/run "$focal" "${sg[@]}" unlock >/dev/null
measure agent -u FOCAL_PASSPHRASE XDG_RUNTIME_DIR="$work/run"

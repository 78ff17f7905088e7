#!/usr/bin/env bash
# bench/peers.sh [BUILD_DIR] [ROUNDS] — Focal beside the peers a user would
# pick instead, in one go, so every figure in RESULTS.md is a ratio
# measured in the same run (issue 24). Per round, interleaved:
#   verify    libsodium Ed25519 verify of 1 KiB on one core (focal-crypto-bench)
#   focal     focal-bench ingest (1 KiB, 1 recipient) and fan-out (10 recipients)
#   jetstream NATS JetStream 2.9, file store, TLS: ingest, fan-out to 10 durable consumers
#   mosquitto mosquitto 2.0, QoS 1, TLS: ingest, fan-out to 10 persistent subscribers
# Neither peer verifies a signature or fsyncs each message (their defaults);
# Focal does both before it answers `accepted`.
#
# Needs (installed here when missing, as root): nats-server, mosquitto,
# libnats-dev, libmosquitto-dev; BUILD_DIR configured after they are
# installed builds jetstream-bench and mosquitto-bench. COUNT (default
# 100000) sets the messages per run. Each round also runs target 3's
# latency (10,000 bulletins paced at 1,000/s: end-to-end p50 and p99, and
# the p50 of the disk's fsync that focal-bench probes first), and again with
# the hub's database on tmpfs (/dev/shm), where an fsync costs nothing: the
# difference is the disk's share of the latency. BEFORE=FOCALD
# adds the same focal runs against an older focald binary in each round,
# right after the current one's, for a before/after in the same minutes.
# Prints one line per run and a table of medians with the ratios to the
# references.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-3}
count=${COUNT:-100000}

need=()
command -v nats-server >/dev/null || need+=(nats-server)
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
[ -f /usr/include/nats/nats.h ] || need+=(libnats-dev)
[ -f /usr/include/mosquitto.h ] || need+=(libmosquitto-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "peers.sh: installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
  cmake "$build" >/dev/null  # finds libnats / libmosquitto now
fi
cmake --build "$build" -j "$(nproc)" --target focal-bench focal-crypto-bench focald jetstream-bench mosquitto-bench >/dev/null

work=$(mktemp -d)
chmod 0755 "$work"  # mosquitto drops to its own user and reads the certificates as it
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# One CA and a server certificate for 127.0.0.1 (both peers use TLS, as focald does).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=peers-ca \
  -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$work/san.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial -days 2 \
  -extfile "$work/san.ext" -out "$work/server.crt" 2>/dev/null
chmod 0644 "$work"/*.key  # throwaway keys of this run, as above

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {  # PORT LOG: the server's log is shown when it never listens
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "peers.sh: nothing listens on port $1; $2 says:" >&2
  cat "$2" >&2
  return 1
}

nats_port=$(free_port)
mkdir -p "$work/js"
cat >"$work/nats.conf" <<CONF
listen: 127.0.0.1:$nats_port
jetstream { store_dir: "$work/js" }
tls { cert_file: "$work/server.crt", key_file: "$work/server.key" }
CONF
nats-server -c "$work/nats.conf" >"$work/nats.log" 2>&1 &
pids+=($!)

mqtt_port=$(free_port)
cat >"$work/mosquitto.conf" <<CONF
listener $mqtt_port 127.0.0.1
cafile $work/ca.crt
certfile $work/server.crt
keyfile $work/server.key
allow_anonymous true
max_inflight_messages 64
max_queued_messages 0
persistence false
CONF
mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
$mosquitto_bin -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
pids+=($!)
wait_port "$nats_port" "$work/nats.log"
wait_port "$mqtt_port" "$work/mosquitto.log"

results="$work/results"
: >"$results"
record() { echo "$1 $2" | tee -a "$results"; }
# KEY of a JSON document on stdin: focal-bench's file (one document over
# many lines) or the peers' one-line output.
json_rate() { python3 -c 'import json,sys; print(round(json.loads(sys.stdin.read())[sys.argv[1]]))' "$1"; }
# Latency of focal-bench's JSON file on stdin: "P50 P99 FSYNC_P50" in ms.
json_latency() {
  python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); f=d.get("disk_fsync_ms") or {}
print("%.3f %.3f %.3f" % (d["latency_ms"]["p50"], d["latency_ms"]["p99"], f.get("p50", float("nan"))))'
}
# focal-bench's three runs against focald binary $1, recorded with suffix $2.
focal_runs() {
  local hub=(--focald "$1")
  "$build/bench/focal-bench" "${hub[@]}" --count "$count" --recipients 1 --json-file "$work/f1.json" >/dev/null 2>&1 || true
  record "focal-ingest$2" "$(json_rate accepted_per_s <"$work/f1.json" 2>/dev/null || echo nan)"
  "$build/bench/focal-bench" "${hub[@]}" --count $((count / 5)) --recipients 10 --json-file "$work/f10.json" \
    >/dev/null 2>&1 || true
  record "focal-fanout$2" "$(json_rate deliveries_per_s <"$work/f10.json" 2>/dev/null || echo nan)"
  "$build/bench/focal-bench" "${hub[@]}" --rate 1000 --count 10000 --clients 4 --json-file "$work/fl.json" \
    >/dev/null 2>&1 || true
  read -r p50 p99 fs <<<"$(json_latency <"$work/fl.json" 2>/dev/null || echo "nan nan nan")"
  record "focal-p50$2" "$p50"
  record "focal-p99$2" "$p99"
  record "fsync-p50$2" "$fs"
  # The same paced run with the hub's database in memory (tmpfs: fsync
  # returns at once), to tell the hub's own latency from the disk's.
  if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
    TMPDIR=/dev/shm "$build/bench/focal-bench" "${hub[@]}" --rate 1000 --count 10000 --clients 4 \
      --json-file "$work/fm.json" >/dev/null 2>&1 || true
    read -r p50 p99 _ <<<"$(json_latency <"$work/fm.json" 2>/dev/null || echo "nan nan nan")"
    record "focal-p50-tmpfs$2" "$p50"
    record "focal-p99-tmpfs$2" "$p99"
  fi
  rm -f "$work/f1.json" "$work/f10.json" "$work/fl.json" "$work/fm.json"
}

for _ in $(seq "$rounds"); do
  # The "raw ops/s" column: libsodium's crypto_sign_verify_detached itself.
  v=$("$build/bench/focal-crypto-bench" 2>/dev/null | awk '/^verify 1 KiB/ {print $5; exit}')
  record verify "${v:-nan}"
  focal_runs "$build/server/focald" ""
  if [ -n "${BEFORE:-}" ]; then focal_runs "$BEFORE" -before; fi
  record jetstream-ingest "$("$build/bench/jetstream-bench" --url "tls://127.0.0.1:$nats_port" --ca "$work/ca.crt" \
    --mode ingest --count "$count" | json_rate rate)"
  record jetstream-fanout "$("$build/bench/jetstream-bench" --url "tls://127.0.0.1:$nats_port" --ca "$work/ca.crt" \
    --mode fanout --count $((count / 5)) | json_rate rate)"
  record mosquitto-ingest "$("$build/bench/mosquitto-bench" --port "$mqtt_port" --ca "$work/ca.crt" \
    --mode ingest --count "$count" | json_rate rate)"
  record mosquitto-fanout "$("$build/bench/mosquitto-bench" --port "$mqtt_port" --ca "$work/ca.crt" \
    --mode fanout --count $((count / 5)) | json_rate rate)"
done

python3 - "$results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    if v != "nan":
        runs.setdefault(k, []).append(float(v))
med = {k: statistics.median(v) for k, v in runs.items()}
def row(name, key, ref=None, unit="/s", fmt="{:,.0f}"):
    if key not in med:
        if key.endswith("-before"): return
        print(f"| {name} | (no run) | |"); return
    vals = ", ".join(fmt.format(x) for x in runs[key])
    if unit == " ms" and ref in med:
        ratio = f"{med[key] - med[ref]:+.3f} ms against {ref}"
    else:
        ratio = f"{med[key] / med[ref]:.2f}x {ref}" if ref in med else ""
    print(f"| {name} | {fmt.format(med[key])}{unit} ({vals}) | {ratio} |")
print("| measure | median (each run) | ratio |")
print("|---|---:|---|")
row("Ed25519 verify 1 KiB, one core", "verify")
for suffix, label in (("", ""), ("-before", " (BEFORE)")):
    row(f"Focal ingest, 1 KiB, 1 recipient{label}", "focal-ingest" + suffix, "verify")
row("JetStream ingest", "jetstream-ingest")
row("mosquitto QoS 1 ingest", "mosquitto-ingest")
for suffix, label in (("", ""), ("-before", " (BEFORE)")):
    row(f"Focal fan-out to 10, deliveries{label}", "focal-fanout" + suffix, "jetstream-fanout")
row("JetStream fan-out to 10, deliveries", "jetstream-fanout")
row("mosquitto fan-out to 10, deliveries", "mosquitto-fanout")
ms = dict(unit=" ms", fmt="{:.3f}")
for suffix, label in (("", ""), ("-before", " (BEFORE)")):
    row(f"disk fsync p50, 20 appends before the latency run{label}", "fsync-p50" + suffix, **ms)
    row(f"Focal end to end at 1,000/s, p50{label}", "focal-p50" + suffix, "fsync-p50" + suffix, **ms)
    row(f"Focal end to end at 1,000/s, p99{label}", "focal-p99" + suffix, **ms)
    row(f"The same with the database on tmpfs (no disk), p50{label}", "focal-p50-tmpfs" + suffix, **ms)
    row(f"The same with the database on tmpfs (no disk), p99{label}", "focal-p99-tmpfs" + suffix, **ms)
PY

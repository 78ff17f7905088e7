#!/usr/bin/env bash
# The README's demo command: installs dependencies, builds, then runs the main
# job for real on the embedded default (one SQLite file):
#   a hub is initialised and started; its admin registers two points of
#   contact of different member states; one sends an AMBER bulletin with an
#   attachment; the other receives it, verifies the signature against the
#   directory, decrypts it, saves the attachment and acknowledges; the sender
#   sees the delivery status. Second act: the secretariat and a dialogue
#   partner join, a summary record is approved by silence and names the
#   SOMTC focal points, a meeting with an invited partner gets its paper and
#   its summary record (approved by silence), an action item from it is
#   followed up by the state that owns it and shows in the meeting's report,
#   a need is met by a partner's offer, and a training programme is announced.
# Everything happens in a fresh temporary directory that is removed at the end
# (set FOCAL_DEMO_KEEP=1 to keep it).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh build >/dev/null
bin=$PWD/build
focald=$bin/server/focald
focal=$bin/client/focal

work=$(mktemp -d /tmp/focal-demo.XXXXXX)
hub_pid=""
cleanup() {
  [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null && wait "$hub_pid" 2>/dev/null || true
  if [ "${FOCAL_DEMO_KEEP:-0}" = 1 ]; then echo "demo files kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

# Demo passphrases; a real deployment types them at a prompt.
export FOCAL_PASSPHRASE="demo passphrase, not for production"

step "1. The first admin makes a key pair on their own machine; the hub is created with its public half"
show "$focal" keygen --member secretariat-admin --out "$work/admin.key" --kdf interactive
show "$focald" init "$work/hub" --name asean-wgcc-demo --listen 127.0.0.1:0 --admin-pub "$work/admin.key.pub" \
  --admin-name "WG on CC secretariat admin"

step "2. Start the hub"
"$focald" run "$work/hub" >"$work/hub.out" 2>"$work/hub.log" &
hub_pid=$!
for _ in $(seq 1 100); do
  grep -q 'focald listening on' "$work/hub.out" 2>/dev/null && break
  sleep 0.1
done
addr=$(sed -n 's/^focald listening on \(.*\)$/\1/p' "$work/hub.out")
[ -n "$addr" ] || { echo "hub did not start:"; cat "$work/hub.log"; exit 1; }
echo "hub listening on $addr (pid $hub_pid)"
common=(--hub "$addr" --ca "$work/hub/tls/cert.pem")
admin=("${common[@]}" --key "$work/admin.key" --profile-dir "$work/admin")
sg=("${common[@]}" --key "$work/sg.key" --profile-dir "$work/sg")
my=("${common[@]}" --key "$work/my.key" --profile-dir "$work/my")

step "3. Two points of contact make their keys on their own machines"
show "$focal" keygen --member sg-spf-cyber --out "$work/sg.key" --kdf interactive
show "$focal" keygen --member my-pdrm-ccid --out "$work/my.key" --kdf interactive

step "4. The admin registers them (signed entries in the hub's key directory log)"
show "$focal" "${admin[@]}" admin register "$work/sg.key.pub" --state SG --institution law-enforcement \
  --name "Singapore Police Force, Cybercrime Command"
show "$focal" "${admin[@]}" admin register "$work/my.key.pub" --state MY --institution law-enforcement \
  --name "Royal Malaysia Police, Commercial Crime Investigation Dept"
show "$focal" "${sg[@]}" directory

step "5. Singapore sends an AMBER alert with an attachment to Malaysia (sealed and signed locally)"
printf 'indicator,type\nlogin-verify-portal.example,domain\n203.0.113.45,ipv4\n' >"$work/iocs.csv"
id=$("$focal" "${sg[@]}" send --to my-pdrm-ccid --tlp amber --category alert --priority urgent \
  --title "Phishing kit targeting regional banks" \
  --body "A phishing kit impersonating two regional banks is being sold on a forum; indicators attached." \
  --attach "$work/iocs.csv")
echo "accepted bulletin $id"

step "6. Malaysia lists its inbox, reads and verifies the bulletin, saves the attachment"
show "$focal" "${my[@]}" inbox
mkdir -p "$work/received"
show "$focal" "${my[@]}" read "$id" --save-dir "$work/received"
cmp "$work/iocs.csv" "$work/received/iocs.csv" && echo "attachment matches the original byte for byte"

step "7. Malaysia acknowledges (signed); Singapore checks the delivery status"
show "$focal" "${my[@]}" ack "$id"
show "$focal" "${sg[@]}" status "$id"

step "8. What the hub stored: ciphertext only"
if grep -rq "Phishing kit" "$work/hub" 2>/dev/null; then
  echo "FAIL: plaintext title found in the hub directory"; exit 1
fi
echo "the title and body appear nowhere in the hub's database, WAL or logs"

# ---- Second act: running the working group (terms of reference §4, §9, §10) ----
# A summary record is approved by silence once its comment window closes.
wait_approved() {
  for _ in $(seq 1 100); do
    "$focal" --json "${sg[@]}" record-status "$1" | grep -q '"state": *"approved"' && return 0
    sleep 0.2
  done
  echo "FAIL: summary record $1 was not approved"; exit 1
}
sec=("${common[@]}" --key "$work/sec.key" --profile-dir "$work/sec")
jp=("${common[@]}" --key "$work/jp.key" --profile-dir "$work/jp")

step "9. The secretariat joins; a dialogue partner is admitted by consensus (every member state approves)"
show "$focal" keygen --member asean-sec --out "$work/sec.key" --kdf interactive
show "$focal" "${admin[@]}" admin register "$work/sec.key.pub" --state SG --institution secretariat \
  --name "WG on CC secretariat"
show "$focal" "${admin[@]}" admin role asean-sec --secretariat yes
show "$focal" keygen --member jp-npa-partner --out "$work/jp.key" --kdf interactive
proposal=$("$focal" --json "${admin[@]}" admin propose-admission "$work/jp.key.pub" --institution dialogue-partner \
  --name "National Police Agency of Japan" | sed -n 's/.*"proposal_id": *"\([0-9a-f]*\)".*/\1/p')
show "$focal" "${sg[@]}" approve "$proposal"
show "$focal" "${my[@]}" approve "$proposal"

step "10. The secretariat circulates the summary record; approved by silence when its comment window closes"
record=$("$focal" "${sec[@]}" send --summary-record --to members --tlp green --title "WG on CC 2026: summary record" \
  --body "1. Trends. 2. Malaysia circulates its unit contact list by the end of the quarter." --comment-window 3s)
echo "summary record $record"
wait_approved "$record"
show "$focal" "${sg[@]}" record-status "$record"

step "11. The secretariat records the SOMTC focal points, naming the approved record that decided them"
show "$focal" "${sec[@]}" role assign sg-spf-cyber --role somtc-focal-point --decision "$record"
show "$focal" "${sec[@]}" role assign my-pdrm-ccid --role somtc-focal-point --decision "$record"
show "$focal" "${jp[@]}" directory

step "12. A meeting with an invited dialogue partner: its paper reaches its participants only"
meeting=$("$focal" "${sec[@]}" meeting create --title "WG on CC 2027" --host-state MY \
  --date "$(date -u -d '+60 days' +%F)" --invite jp-npa-partner)
echo "meeting $meeting"
paper=$("$focal" "${sec[@]}" send --meeting "$meeting" --tlp amber --title "Provisional agenda" \
  --body "1. Opening. 2. Trends. 3. The work programme.")
show "$focal" "${jp[@]}" read "$paper"
show "$focal" "${sg[@]}" meeting show "$meeting"

step "13. The meeting's summary record goes to its participants and the SOMTC focal points; approved by silence"
minutes=$("$focal" "${sec[@]}" send --meeting "$meeting" --summary-record --tlp green \
  --title "WG on CC 2027: summary record" \
  --body "Malaysia circulates its unit contact list by the end of the quarter." --comment-window 3s)
echo "summary record $minutes"
wait_approved "$minutes"
show "$focal" "${my[@]}" record-status "$minutes"

step "14. The work programme: an action item for Malaysia from the meeting, updated by Malaysia, verified by everyone"
due=$(date -u -d '+30 days' +%F)
action=$("$focal" "${sec[@]}" action add --meeting "$meeting" --owner state:MY --due "$due" \
  --text "Circulate the national cybercrime unit contact list")
echo "action item $action"
show "$focal" "${my[@]}" action update "$action" --status done --note "Circulated to all points of contact"
show "$focal" "${sg[@]}" actions
"$focal" --json "${sg[@]}" actions | grep -q '"status": *"done"' || { echo "FAIL: the action is not done"; exit 1; }
show "$focal" "${my[@]}" meeting report "$meeting"

step "15. Needs and offers: Malaysia surfaces a need, Japan offers, Malaysia marks it met"
need=$("$focal" "${my[@]}" need --tlp green --title "Mobile device forensics training" \
  --body "20 investigators, second quarter of 2027")
offer=$("$focal" "${jp[@]}" offer "$need" --body "We host a two-week course in Tokyo and fund ten places")
show "$focal" "${my[@]}" need-met "$need" --offer "$offer" --body "Course agreed"
show "$focal" "${jp[@]}" needs
"$focal" --json "${jp[@]}" needs | grep -q '"status": *"met"' || { echo "FAIL: the need is not met"; exit 1; }

step "16. A regional training programme, with its date and place"
training=$("$focal" "${sec[@]}" send --category training --to all --tlp clear --title "Digital forensics course" \
  --date "$(date -u -d '+90 days' +%F)" --place "Singapore" --body "Five days; two seats per member state")
show "$focal" "${jp[@]}" read "$training"
step "demo complete"

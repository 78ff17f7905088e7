#!/usr/bin/env bash
# The package's checks, one ctest entry per mode (packaging/CMakeLists.txt):
#   check.sh deb-build    BUILD_DIR OUT_DIR   cpack -G DEB into OUT_DIR
#   check.sh deb-contents OUT_DIR VERSION     dpkg-deb -c / -I of that .deb
#   check.sh deb-lintian  OUT_DIR             lintian: no error (E:) tags
#   check.sh unit-security UNIT_FILE          systemd-analyze security <= 2.0
#   check.sh help-sync SRC_DIR FOCAL FOCALD   man pages and completion name
#                                             every command --help lists
#   check.sh monitoring-docs SRC_DIR          promtool accepts the example
#                                             scrape config and alert rules
# Exit 77 (ctest: skipped) only when a tool is missing; scripts/install-deps.sh
# installs every one of them.
set -euo pipefail

mode=$1
shift
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/install-deps.sh installs it)"; exit 77; }
  done
}
the_deb() {
  local debs=("$1"/focal_*.deb)
  [ -f "${debs[0]}" ] || fail "no focal_*.deb in $1 (the deb-build test makes it)"
  [ ${#debs[@]} -eq 1 ] || fail "more than one focal_*.deb in $1"
  echo "${debs[0]}"
}
# The subcommands a CLI11 --help lists under "Subcommands:".
subcommands() {
  "$@" --help | sed -n '/^Subcommands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }'
}

case $mode in
deb-build)
  need dpkg-shlibdeps dpkg-deb
  build=$1 out=$2
  rm -rf "$out"
  mkdir -p "$out"
  cpack=${CPACK:-cpack}
  "$cpack" -G DEB --config "$build/CPackConfig.cmake" -B "$out" >"$out/cpack.log" 2>&1 || { cat "$out/cpack.log"; fail "cpack"; }
  the_deb "$out"
  ;;

deb-contents)
  need dpkg-deb
  deb=$(the_deb "$1")
  version=$2
  listing=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
  for path in \
    ./usr/bin/focald ./usr/bin/focal ./lib/systemd/system/focald.service \
    ./usr/share/man/man1/focal.1.gz ./usr/share/man/man8/focald.8.gz ./usr/share/man/man5/focal.toml.5.gz \
    ./usr/share/bash-completion/completions/focal ./usr/share/bash-completion/completions/focald \
    ./usr/share/doc/focal/examples/focal.toml.example ./usr/share/doc/focal/copyright \
    ./usr/share/doc/focal/changelog.gz ./usr/share/doc/focal/README.md ./usr/share/doc/focal/PROTOCOL.md \
    ./usr/share/doc/focal/SECURITY.md ./usr/share/doc/focal/operations.md ./usr/share/doc/focal/attack-LICENSE.txt; do
    grep -qxF "$path" <<<"$listing" || fail "$deb lacks $path"
  done
  # Every file is root's; nothing outside the paths a package may own.
  if dpkg-deb -c "$deb" | awk '$2 != "root/root"' | grep -q .; then fail "a file not owned by root/root"; fi
  if grep -vE '^\./(usr/(bin|share)|lib/systemd/system)(/|$)|^\./$|^\./usr/$|^\./lib/$|^\./lib/systemd/$' <<<"$listing" | grep -q .; then
    fail "unexpected paths: $(grep -vE '^\./(usr/(bin|share)|lib/systemd/system)(/|$)|^\./$|^\./usr/$|^\./lib/$|^\./lib/systemd/$' <<<"$listing")"
  fi
  info=$(dpkg-deb -I "$deb")
  echo "$info"
  grep -qE "^ Version: ${version//./\\.}$" <<<"$info" || fail "Version is not $version"
  depends=$(sed -n 's/^ Depends: //p' <<<"$info")
  for lib in libsodium libssl libsqlite3 libcapnp libc6 adduser; do
    grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
  done
  dpkg-deb -I "$deb" postinst | grep -q "adduser --system" || fail "postinst does not create the focal user"
  # Stripped: no debug sections in the binaries.
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  dpkg-deb -x "$deb" "$tmp"
  for b in focal focald; do
    if readelf -S "$tmp/usr/bin/$b" | grep -q '\.debug_info'; then fail "/usr/bin/$b is not stripped"; fi
    # The stripped binaries run and name the package's version.
    "$tmp/usr/bin/$b" --version | grep -q "^$b $version" || fail "/usr/bin/$b --version is not $version"
  done
  echo "ok: $deb"
  ;;

deb-lintian)
  need lintian
  deb=$(the_deb "$1")
  # Warnings are allowed (listed for the reader); an error fails.
  report=$(lintian --allow-root --tag-display-limit 0 "$deb" 2>&1 || true)
  echo "$report"
  if grep -q '^E: ' <<<"$report"; then fail "lintian reports errors"; fi
  echo "ok: no lintian errors"
  ;;

unit-security)
  need systemd-analyze
  unit=$1
  report=$(systemd-analyze security --offline=true "$unit" 2>&1) || true
  line=$(grep 'Overall exposure level' <<<"$report") || { echo "$report"; fail "no overall exposure line"; }
  echo "$line"
  score=$(sed -n 's/.*: \([0-9.]*\) .*/\1/p' <<<"$line")
  [ -n "$score" ] || fail "cannot read the score in: $line"
  awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || { echo "$report"; fail "exposure $score is above 2.0"; }
  ;;

help-sync)
  src=$1 focal=$2 focald=$3
  man_focal=$src/packaging/man/focal.1 man_focald=$src/packaging/man/focald.8
  man_toml=$src/packaging/man/focal.toml.5
  comp_focal=$src/packaging/completion/focal comp_focald=$src/packaging/completion/focald
  # A static command list of a completion script: _NAME="a b c".
  listed() { sed -n "s/^$2=\"\(.*\)\"$/\1/p" "$1" | tr ' ' '\n' | sort; }
  # Each list, both ways: every command --help lists is named, none more.
  check_list() { # WHAT HELP_LIST COMPLETION_LIST MAN_PAGE MAN_PREFIX
    local cmd
    [ "$(sort <<<"$2")" = "$3" ] || fail "$1: the completion's list differs from --help: $(diff <(sort <<<"$2") <(echo "$3") | grep '^[<>]' | tr '\n' ' ')"
    for cmd in $2; do
      grep -qE "^\.B $4$cmd( |$)" "$5" || fail "$1: $5 does not describe '$4$cmd' (a '.B $4$cmd' line)"
    done
  }
  check_list "focal" "$(subcommands "$focal")" "$(listed "$comp_focal" _focal_commands)" "" "$man_focal"
  check_list "focal admin" "$(subcommands "$focal" admin)" "$(listed "$comp_focal" _focal_admin_commands)" "admin " "$man_focal"
  check_list "focal profile" "$(subcommands "$focal" profile)" "$(listed "$comp_focal" _focal_profile_commands)" "profile " "$man_focal"
  check_list "focal meeting" "$(subcommands "$focal" meeting)" "$(listed "$comp_focal" _focal_meeting_commands)" "meeting " "$man_focal"
  check_list "focal role" "$(subcommands "$focal" role)" "$(listed "$comp_focal" _focal_role_commands)" "role " "$man_focal"
  check_list "focal action" "$(subcommands "$focal" action)" "$(listed "$comp_focal" _focal_action_commands)" "action " "$man_focal"
  check_list "focald" "$(subcommands "$focald")" "$(listed "$comp_focald" _focald_commands)" "" "$man_focald"
  for cmd in $(listed "$comp_focal" _focal_commands); do
    case $cmd in admin | profile | meeting | role | action) continue ;; esac
    [ -z "$(subcommands "$focal" "$cmd")" ] || fail "focal $cmd has subcommands the completion does not list"
  done
  # Every global option of focal and every option of each focald command
  # appears in its man page.
  options() { "$@" --help | sed -n 's/^  \(-[A-Za-z],\)\{0,1\}\(--[A-Za-z0-9-]*\).*/\2/p'; }
  for opt in $(options "$focal"); do
    grep -qF -- "${opt//-/\\-}" "$man_focal" || fail "focal.1 does not describe $opt"
  done
  for cmd in "" $(subcommands "$focald"); do
    for opt in $(options "$focald" $cmd); do
      [ "$opt" = --test-clock ] && continue # tests only, not for operators
      grep -qF -- "${opt//-/\\-}" "$man_focald" || fail "focald.8 does not describe $opt${cmd:+ of $cmd}"
    done
  done
  # Every key of the example configuration is described in focal.toml(5).
  for key in $(sed -n 's/^\([a-z_0-9]*\) = .*/\1/p' "$src/packaging/focal.toml.example"); do
    grep -qxF ".B $key" "$man_toml" || fail "focal.toml.5 does not describe $key"
  done
  # The pages format without warnings.
  if command -v man >/dev/null; then
    for page in "$man_focal" "$man_focald" "$man_toml"; do
      warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
      [ -z "$warnings" ] || fail "$page: $warnings"
    done
  fi
  # The completion works: commands, nested commands, options from --help.
  if [ -f /usr/share/bash-completion/bash_completion ]; then
    complete_words() { # COMPLETION_FILE WORD...: what completes the last word
      PATH="$(dirname "$focal"):$(dirname "$focald"):$PATH" bash -c '
        source /usr/share/bash-completion/bash_completion
        source "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        "_$(basename "$1")"
        printf "%s\n" "${COMPREPLY[@]}"' _ "$@"
    }
    r=$(complete_words "$comp_focal" "$focal" verify-)
    [ "$r" = verify-log ] || fail "completion of 'focal verify-': '$r'"
    r=$(complete_words "$comp_focal" "$focal" ver)
    [ "$(echo $r)" = "verify verify-log" ] || fail "completion of 'focal ver': '$r'"
    r=$(complete_words "$comp_focal" "$focal" admin re)
    [ "$(echo $r)" = "register revoke reject" ] || fail "completion of 'focal admin re': '$r'"
    r=$(complete_words "$comp_focal" "$focal" send --tl)
    [ "$r" = --tlp ] || fail "completion of 'focal send --tl': '$r'"
    r=$(complete_words "$comp_focald" "$focald" run --log-)
    [ "$(echo $r)" = "--log-format --log-level" ] || fail "completion of 'focald run --log-': '$r'"
    r=$(complete_words "$comp_focald" "$focald" ch)
    [ "$r" = check ] || fail "completion of 'focald ch': '$r'"
  else
    echo "note: bash-completion is not installed: the completion scripts were not run"
  fi
  echo "ok: man pages and completion name every command"
  ;;

monitoring-docs)
  need promtool
  docs=$1/docs/monitoring
  promtool check config "$docs/prometheus.yml" || fail "promtool check config $docs/prometheus.yml"
  promtool check rules "$docs/focal-alerts.yml" || fail "promtool check rules $docs/focal-alerts.yml"
  echo "ok: the example Prometheus configuration and alert rules pass promtool"
  ;;

*)
  fail "unknown mode $mode"
  ;;
esac

#!/usr/bin/env bash
# Installs every Debian 12 package Focal needs to build, test, fuzz and demo.
# Run as root on a fresh machine. Idempotent.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev            # libFuzzer + sanitizer runtimes
  libboost-dev libboost-system-dev    # Asio 1.74
  libssl-dev openssl                  # TLS only
  libsodium-dev                       # all application crypto
  capnproto libcapnp-dev              # serialization only (capnp + kj)
  libsqlite3-dev sqlite3              # store (sqlite3 CLI used by tamper tests)
  catch2                              # Catch2 v2
  fiu-utils                           # libfiu fault injection (fiu-run -x) for the I/O fault test
  libcli11-dev libspdlog-dev libfmt-dev libtomlplusplus-dev nlohmann-json3-dev
  iso-codes                           # ISO 3166-1 data for scripts/gen-iso3166-table.py
  libsystemd-dev                      # sd_notify: focald's readiness under Type=notify
  dpkg-dev lintian                    # the package: cpack -G DEB's dpkg-shlibdeps, lintian (tests/packaging)
  systemd bash-completion man-db      # systemd-analyze security, completion and man page tests
  prometheus                          # promtool: the metrics exposition and the example alert rules
  ccache                              # compiler cache (CMakeLists.txt uses it when present): re-runs rebuild only what changed
  python3-jsonschema                  # tests/stix_validate.py: STIX exports against the OASIS schemas
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

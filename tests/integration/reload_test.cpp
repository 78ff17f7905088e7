// SIGHUP on a running focald (main.cpp reloadOnHangup, Hub::reloadTls):
// the TLS certificate and key are loaded again for new connections while
// open sessions keep theirs; a key that does not match is refused and the
// served certificate stays; focal.toml's [log] level applies.
#include "hub_fixture.hpp"

#include "tests/support/deadline.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>

using namespace focal;
using namespace focal::test;
using namespace std::chrono_literals;

namespace {

// A new self-signed P-256 certificate and key for 127.0.0.1, made by the
// openssl command (the integration tests do not link the hub's code).
void makeCertificate(const fs::path& cert, const fs::path& key) {
  const auto r = runProcess({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                             "-nodes", "-keyout", key.string(), "-out", cert.string(), "-days", "30", "-subj",
                             "/CN=focal-hub", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"});
  INFO(r.out << r.err);
  REQUIRE(r.exitCode == 0);
}

// Replaces `to` by `from`'s bytes (mode 0600, as init makes the key).
void replaceFile(const fs::path& from, const fs::path& to) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  fs::permissions(to, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
}

// Sends SIGHUP and waits until focald's log holds `line` once more than now.
void hangupAndWaitFor(Hub& hub, const std::string& line) {
  const auto seen = countOf(slurp(hub.dir() / "focald.err"), line);
  REQUIRE(::kill(hub.pid(), SIGHUP) == 0);
  INFO("focald's log: " << slurp(hub.dir() / "focald.err"));
  REQUIRE(test_support::waitUntil([&] { return countOf(slurp(hub.dir() / "focald.err"), line) > seen; }, 20s));
}

}  // namespace

TEST_CASE_METHOD(TwoMembers, "SIGHUP serves a new TLS certificate to new connections and open sessions go on",
                 "[integration][reload]") {
  TempDir work;
  const fs::path oldCa = work.path() / "old-ca.pem";
  fs::copy_file(hub.caFile(), oldCa);
  auto open = hub.connect(a.keys);
  open->subscribe();

  const fs::path tls = hub.caFile().parent_path();
  makeCertificate(work.path() / "new-cert.pem", work.path() / "new-key.pem");
  replaceFile(work.path() / "new-key.pem", tls / "key.pem");
  replaceFile(work.path() / "new-cert.pem", tls / "cert.pem");
  hangupAndWaitFor(hub, "TLS certificate reloaded");

  // A new connection gets the new certificate: the old pin refuses it, the
  // new one (the fixture's CA file is the replaced cert.pem) accepts it.
  {
    client::Connection pinnedToOld;
    CHECK_THROWS(pinnedToOld.connect(hub.host(), hub.port(), oldCa));
  }
  auto fresh = hub.connect(b.keys);
  fresh->ping();
  // The session opened before the reload kept its TLS session and serves.
  open->ping();
  fresh->send(sealTo(b.keys, {&a.keys}, "after the reload"));
  auto push = open->nextPush(10s);
  REQUIRE(push.has_value());
  CHECK(titleOf(*open, push->bulletin, a.keys) == "after the reload");

  // A key that does not match the certificate is refused; the certificate
  // served stays the one loaded before.
  makeCertificate(work.path() / "third-cert.pem", work.path() / "third-key.pem");
  replaceFile(work.path() / "third-key.pem", tls / "key.pem");
  hangupAndWaitFor(hub, "TLS reload refused, the current certificate stays");
  CHECK(countOf(slurp(hub.dir() / "focald.err"), "TLS certificate reloaded") == 1);
  hub.connect(a.keys)->ping();
  open->ping();
  CHECK(hub.running());
}

TEST_CASE_METHOD(OneMember, "SIGHUP applies focal.toml's log level", "[integration][reload]") {
  const fs::path config = hub.dir() / "focal.toml";
  std::string text = slurp(config);
  const auto at = text.find("\nlevel = \"info\"");
  REQUIRE(at != std::string::npos);
  text.replace(at, 15, "\nlevel = \"debug\"");
  std::ofstream(config, std::ios::trunc) << text;
  hangupAndWaitFor(hub, "log level debug (focal.toml [log] level)");
  // Debug lines now appear: a session's accept is one.
  hub.connect(a.keys)->ping();
  CHECK(test_support::waitUntil([&] { return slurp(hub.dir() / "focald.err").find("accepted from") != std::string::npos; },
                                10s));
}

// The hub directory's guards, unit by unit: the one-process lock, the
// checks focald runs before it starts (key file modes, certificate
// validity), the per-source limit in focal.toml, and the address key
// connections are counted under.
#include "server/certificate.hpp"
#include "server/config.hpp"
#include "server/hub.hpp"
#include "server/hub_lock.hpp"
#include "crypto/secure_file.hpp"
#include "server/startup.hpp"
#include "server_test_support.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

using namespace focal;
using namespace focal::server;
using namespace std::chrono_literals;
using focal::server::testing::TempDir;
using WallClock = std::chrono::system_clock;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A directory laid out as init lays it out, with a certificate valid for
// `validity` and keys of mode 0600.
Config hubFiles(const TempDir& dir, CertificateValidity validity) {
  std::filesystem::create_directories(dir / "tls");
  generateSelfSignedCertificate(dir / "tls/cert.pem", dir / "tls/key.pem", "focal-hub", {"127.0.0.1"}, validity);
  auto key = crypto::SigningKeyPair::generate();
  crypto::writeFileAtomic(dir / "hub.key", key.secretKey.view(), 0600);
  Config c;
  c.signingKey = dir / "hub.key";
  c.tlsCertificate = dir / "tls/cert.pem";
  c.tlsPrivateKey = dir / "tls/key.pem";
  return c;
}

CertificateValidity validNow() {
  const auto now = WallClock::now();
  return {now - 1h, now + 24h * 365};
}

}  // namespace

TEST_CASE("HubLock: a second holder is refused with the first one's pid - released when the holder goes",
          "[server][lock]") {
  TempDir dir;
  CHECK_FALSE(HubLock::holder(dir.path()).has_value());
  {
    auto lock = HubLock::acquire(dir.path());
    const auto holder = HubLock::holder(dir.path());
    REQUIRE(holder.has_value());
    CHECK(*holder == ::getpid());
    // flock is per open file: a second open in this same process conflicts,
    // as a second process would.
    try {
      (void)HubLock::acquire(dir.path());
      FAIL("locked twice");
    } catch (const HubLockHeld& e) {
      CHECK(e.holder() == std::optional<pid_t>(::getpid()));
      CHECK(contains(e.what(), "pid " + std::to_string(::getpid())));
      CHECK(contains(e.what(), dir.path().string()));
    }
    CHECK_THROWS_AS(HubLock::requireFree(dir.path()), HubLockHeld);
  }
  CHECK_FALSE(HubLock::holder(dir.path()).has_value());
  CHECK_NOTHROW(HubLock::requireFree(dir.path()));
  CHECK_NOTHROW(HubLock::acquire(dir.path()));
}

TEST_CASE("checkHubFiles: nothing to report for a fresh hub's files", "[server][startup]") {
  TempDir dir;
  const auto c = hubFiles(dir, validNow());
  CHECK(checkHubFiles(dir.path(), c, WallClock::now()).empty());
  CHECK(certificateWarnings(dir.path(), c, WallClock::now()).empty());
  CHECK(hubMadeCertificate(dir.path(), c));
}

TEST_CASE("checkHubFiles: a private key any group or other bit is set on is a problem naming the chmod",
          "[server][startup]") {
  TempDir dir;
  const auto c = hubFiles(dir, validNow());
  for (const auto& key : {c.signingKey, c.tlsPrivateKey}) {
    for (const mode_t mode : {mode_t{0640}, mode_t{0604}, mode_t{0610}, mode_t{0601}, mode_t{0660}, mode_t{0666}}) {
      INFO(key.string() << " " << std::oct << mode);
      REQUIRE(::chmod(key.c_str(), mode) == 0);
      const auto problems = checkHubFiles(dir.path(), c, WallClock::now());
      REQUIRE(problems.size() == 1);
      CHECK(contains(problems[0], key.string()));
      CHECK(contains(problems[0], "chmod 600 " + key.string()));
    }
    REQUIRE(::chmod(key.c_str(), 0600) == 0);
  }
  // 0400 is fine (read-only for the owner).
  REQUIRE(::chmod(c.signingKey.c_str(), 0400) == 0);
  CHECK(checkHubFiles(dir.path(), c, WallClock::now()).empty());
  // A missing key is a problem too.
  std::filesystem::remove(c.signingKey);
  CHECK(checkHubFiles(dir.path(), c, WallClock::now()).size() == 1);
}

TEST_CASE("checkHubFiles: a certificate outside its validity period, or unreadable, is a problem - one expiring "
          "within 30 days is a warning",
          "[server][startup][certificate]") {
  TempDir dir;
  const auto now = WallClock::now();
  SECTION("expired") {
    const auto c = hubFiles(dir, {now - 24h * 10, now - 1h});
    const auto problems = checkHubFiles(dir.path(), c, now);
    REQUIRE(problems.size() == 1);
    CHECK(contains(problems[0], "expired on"));
    CHECK(contains(problems[0], "focald init --renew-cert " + dir.path().string()));
  }
  SECTION("not yet valid") {
    const auto c = hubFiles(dir, {now + 1h, now + 24h * 10});
    const auto problems = checkHubFiles(dir.path(), c, now);
    REQUIRE(problems.size() == 1);
    CHECK(contains(problems[0], "not valid until"));
  }
  SECTION("expiring soon") {
    const auto c = hubFiles(dir, {now - 1h, now + 24h * 3});
    CHECK(checkHubFiles(dir.path(), c, now).empty());
    const auto warnings = certificateWarnings(dir.path(), c, now);
    REQUIRE(warnings.size() == 1);
    CHECK(contains(warnings[0], "expires on"));
  }
  SECTION("garbage") {
    auto c = hubFiles(dir, validNow());
    crypto::writeFileAtomic(c.tlsCertificate, crypto::asBytes(std::string("not a certificate")), 0644);
    CHECK(checkHubFiles(dir.path(), c, now).size() == 1);
  }
  SECTION("the operator's own certificate gets no --renew-cert hint") {
    auto c = hubFiles(dir, {now - 24h * 10, now - 1h});
    std::filesystem::rename(c.tlsCertificate, dir / "own.pem");
    c.tlsCertificate = dir / "own.pem";
    CHECK_FALSE(hubMadeCertificate(dir.path(), c));
    const auto problems = checkHubFiles(dir.path(), c, now);
    REQUIRE(problems.size() == 1);
    CHECK_FALSE(contains(problems[0], "--renew-cert"));
  }
}

TEST_CASE("certificateValidity reads back the period a certificate was made with", "[server][certificate]") {
  TempDir dir;
  const auto notBefore = WallClock::from_time_t(1'700'000'000);
  const auto notAfter = WallClock::from_time_t(1'800'000'000);
  generateSelfSignedCertificate(dir / "c.pem", dir / "k.pem", "x", {"localhost"}, {notBefore, notAfter});
  const auto v = certificateValidity(dir / "c.pem");
  CHECK(v.notBefore == notBefore);
  CHECK(v.notAfter == notAfter);
  CHECK(formatUtc(notBefore) == "2023-11-14 22:13:20 UTC");
}

TEST_CASE("max_unauthenticated_per_source: default 128, configurable, never 0", "[server][config]") {
  const std::string minimal = R"(
[hub]
id = "focal-hub"
listen = "127.0.0.1:7443"

[tls]
certificate = "tls/cert.pem"
private_key = "tls/key.pem"
)";
  auto c = parseConfig(minimal, "f.toml", "/d");
  REQUIRE(c.ok());
  CHECK(c->limits.maxUnauthenticatedPerSource == 128);
  auto set = parseConfig(minimal + "\n[limits]\nmax_unauthenticated_per_source = 5\n", "f.toml", "/d");
  REQUIRE(set.ok());
  CHECK(set->limits.maxUnauthenticatedPerSource == 5);
  CHECK_FALSE(parseConfig(minimal + "\n[limits]\nmax_unauthenticated_per_source = 0\n", "f.toml", "/d").ok());
  // What init writes carries it.
  Config written;
  written.limits.maxUnauthenticatedPerSource = 9;
  auto back = parseConfig(renderConfig(written), "f.toml", "/d");
  REQUIRE(back.ok());
  CHECK(back->limits.maxUnauthenticatedPerSource == 9);
}

TEST_CASE("Hub::sourceKey: IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by its /64", "[server][limits]") {
  CHECK(Hub::sourceKey(net::ip::make_address("192.0.2.7")) == "192.0.2.7");
  CHECK(Hub::sourceKey(net::ip::make_address("::ffff:192.0.2.7")) == "192.0.2.7");
  CHECK(Hub::sourceKey(net::ip::make_address("2001:db8:1:2:3:4:5:6")) == "2001:db8:1:2::/64");
  CHECK(Hub::sourceKey(net::ip::make_address("2001:db8:1:2:ffff::1")) == "2001:db8:1:2::/64");
}

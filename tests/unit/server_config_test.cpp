// focal.toml: what init writes parses back; typos, wrong types and values
// above the protocol's limits are errors that name file, line and key.
#include "server/config.hpp"

#include <catch2/catch.hpp>

using namespace focal::server;

namespace {

const char* const Minimal = R"(
[hub]
id = "focal-hub"
listen = "127.0.0.1:7443"

[tls]
certificate = "tls/cert.pem"
private_key = "/etc/focal/key.pem"
)";

std::string withLimits(const std::string& limits) { return std::string(Minimal) + "\n[limits]\n" + limits + "\n"; }

}  // namespace

TEST_CASE("a minimal configuration gets every default and resolves relative paths", "[server][config]") {
  auto c = parseConfig(Minimal, "focal.toml", "/srv/hub");
  REQUIRE(c.ok());
  CHECK(c->hubId == "focal-hub");
  CHECK(c->listenHost == "127.0.0.1");
  CHECK(c->listenPort == 7443);
  CHECK(c->database == "/srv/hub/focal.db");
  CHECK(c->signingKey == "/srv/hub/hub.key");
  CHECK(c->tlsCertificate == "/srv/hub/tls/cert.pem");
  CHECK(c->tlsPrivateKey == "/etc/focal/key.pem");  // absolute stays
  const Limits defaults;
  CHECK(c->limits.maxConnectionsPerMember == defaults.maxConnectionsPerMember);
  CHECK(c->limits.idleTimeoutMs == 300'000);
  CHECK(c->limits.maxFrameBytes == focal::protocol::MaxFrameBytes);
}

TEST_CASE("what renderConfig writes parses back to the same values", "[server][config]") {
  Config c;
  c.hubId = "asean-hub";
  c.listenHost = "::1";
  c.listenPort = 9000;
  c.limits.maxConnections = 77;
  c.limits.idleTimeoutMs = 12345;
  c.tlsCertificate = "tls/we\"ird.pem";
  auto back = parseConfig(renderConfig(c), "focal.toml", "/d");
  REQUIRE(back.ok());
  CHECK(back->hubId == "asean-hub");
  CHECK(back->listenHost == "::1");
  CHECK(back->listenPort == 9000);
  CHECK(back->limits.maxConnections == 77);
  CHECK(back->limits.idleTimeoutMs == 12345);
  CHECK(back->tlsCertificate == "/d/tls/we\"ird.pem");
}

TEST_CASE("an unknown key is an error naming file, line and key", "[server][config]") {
  auto c = parseConfig(withLimits("max_conections = 5"), "/srv/hub/focal.toml", "/srv/hub");
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().rfind("/srv/hub/focal.toml:11:", 0) == 0);
  CHECK(c.error().find("unknown key 'max_conections' in [limits]") != std::string::npos);

  auto top = parseConfig(std::string(Minimal) + "\n[hubb]\nid = 1\n", "f.toml", "/");
  REQUIRE_FALSE(top.ok());
  CHECK(top.error().find("'hubb'") != std::string::npos);
}

TEST_CASE("a value of the wrong type is an error naming the key", "[server][config]") {
  auto c = parseConfig(withLimits("idle_timeout_ms = \"5 minutes\""), "f.toml", "/");
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().find("f.toml:11:") == 0);
  CHECK(c.error().find("limits.idle_timeout_ms: expected an integer") != std::string::npos);

  auto id = parseConfig("[hub]\nid = 5\nlisten = \"a:1\"\n[tls]\ncertificate=\"c\"\nprivate_key=\"k\"\n", "f.toml", "/");
  REQUIRE_FALSE(id.ok());
  CHECK(id.error().find("hub.id: expected a string") != std::string::npos);
}

TEST_CASE("limits above the protocol's or below a safe floor are refused", "[server][config]") {
  auto big = parseConfig(withLimits("max_frame_bytes = 2000000"), "f.toml", "/");
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().find("out of range") != std::string::npos);
  CHECK_FALSE(parseConfig(withLimits("max_attachment_bytes = 2000000000"), "f.toml", "/").ok());
  CHECK_FALSE(parseConfig(withLimits("max_connections = 0"), "f.toml", "/").ok());
  CHECK_FALSE(parseConfig(withLimits("write_batch = -1"), "f.toml", "/").ok());
  auto ok = parseConfig(withLimits("max_frame_bytes = 524288\nmax_connections_per_member = 2"), "f.toml", "/");
  REQUIRE(ok.ok());
  CHECK(ok->limits.maxFrameBytes == 524288);
  CHECK(ok->limits.maxConnectionsPerMember == 2);
}

TEST_CASE("syntax errors, missing sections and bad values are reported", "[server][config]") {
  auto syntax = parseConfig("[hub\nid = \"x\"\n", "f.toml", "/");
  REQUIRE_FALSE(syntax.ok());
  CHECK(syntax.error().rfind("f.toml:1:", 0) == 0);
  CHECK_FALSE(parseConfig("[tls]\ncertificate=\"c\"\nprivate_key=\"k\"\n", "f.toml", "/").ok());
  CHECK_FALSE(parseConfig("[hub]\nid = \"x\"\nlisten = \"a:1\"\n", "f.toml", "/").ok());  // no [tls]
  auto badId = parseConfig("[hub]\nid = \"Focal Hub\"\nlisten = \"a:1\"\n[tls]\ncertificate=\"c\"\nprivate_key=\"k\"\n",
                           "f.toml", "/");
  REQUIRE_FALSE(badId.ok());
  CHECK(badId.error().find("hub.id") != std::string::npos);
  auto badListen = parseConfig("[hub]\nid = \"x1\"\nlisten = \"nohost\"\n[tls]\ncertificate=\"c\"\nprivate_key=\"k\"\n",
                               "f.toml", "/");
  REQUIRE_FALSE(badListen.ok());
  CHECK(badListen.error().find("hub.listen") != std::string::npos);
}

TEST_CASE("listen addresses parse with IPv4, names and bracketed IPv6", "[server][config]") {
  auto v4 = parseListenAddress("10.0.0.1:443");
  REQUIRE(v4.ok());
  CHECK(v4->host == "10.0.0.1");
  CHECK(v4->port == 443);
  auto v6 = parseListenAddress("[::1]:0");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->port == 0);
  CHECK(parseListenAddress("hub.example.org:7443")->host == "hub.example.org");
  CHECK_FALSE(parseListenAddress("::1:80").ok());
  CHECK_FALSE(parseListenAddress("host:65536").ok());
  CHECK_FALSE(parseListenAddress("host:").ok());
  CHECK_FALSE(parseListenAddress(":80").ok());
  CHECK_FALSE(parseListenAddress("host:8x").ok());
  CHECK(formatListenAddress("::1", 5) == "[::1]:5");
  CHECK(formatListenAddress("127.0.0.1", 5) == "127.0.0.1:5");
}

TEST_CASE("a listen host with brackets or spaces inside is refused, so every accepted address writes back",
          "[server][config]") {
  // Found by config_fuzz: "[[[200]:4" parsed to host "[[200", which
  // formatListenAddress wrote as "[[200:4" and the parser then refused.
  for (const char* bad : {"[[[200]:4", "[a b]:4", "a]b:4", "[\"x\"]:4", "[fe80::1\n]:4"}) {
    INFO(bad);
    CHECK_FALSE(parseListenAddress(bad).ok());
  }
  for (const char* good : {"[fe80::1%eth0]:4", "hub_1.example-org:9", "[::]:0", "0.0.0.0:7443"}) {
    INFO(good);
    auto a = parseListenAddress(good);
    REQUIRE(a.ok());
    auto again = parseListenAddress(formatListenAddress(a->host, a->port));
    REQUIRE(again.ok());
    CHECK(again->host == a->host);
    CHECK(again->port == a->port);
  }
}

TEST_CASE("retention is read per TLP level with conservative defaults and absurd values refused by key",
          "[server][config][retention]") {
  auto defaults = parseConfig(Minimal, "focal.toml", "/srv/hub");
  REQUIRE(defaults.ok());
  for (const auto& rule : defaults->retention.rules) {
    CHECK(rule.acknowledgedDays == RetentionPolicy::DefaultRule.acknowledgedDays);
    CHECK(rule.unacknowledgedDays == RetentionPolicy::DefaultRule.unacknowledgedDays);
  }
  auto set = parseConfig(std::string(Minimal) +
                             "\n[retention.amber-strict]\nacknowledged_days = 30\nunacknowledged_days = 0\n"
                             "[retention.red]\nacknowledged_days = 7\n",
                         "focal.toml", "/srv/hub");
  REQUIRE(set.ok());
  CHECK(set->retention.rules[3].acknowledgedDays == 30);
  CHECK(set->retention.rules[3].unacknowledgedDays == 0);  // never
  CHECK(set->retention.rules[4].acknowledgedDays == 7);
  CHECK(set->retention.rules[4].unacknowledgedDays == RetentionPolicy::DefaultRule.unacknowledgedDays);
  CHECK(set->retention.rules[0].acknowledgedDays == RetentionPolicy::DefaultRule.acknowledgedDays);

  const auto refused = [](const std::string& extra) {
    auto c = parseConfig(std::string(Minimal) + "\n" + extra + "\n", "focal.toml", "/srv/hub");
    REQUIRE_FALSE(c.ok());
    return c.error();
  };
  CHECK_THAT(refused("[retention.amber]\nacknowledged_days = -1"),
             Catch::Contains("retention.amber.acknowledged_days") && Catch::Contains("out of range"));
  CHECK_THAT(refused("[retention.green]\nunacknowledged_days = 100000"),
             Catch::Contains("retention.green.unacknowledged_days") && Catch::Contains("36500"));
  CHECK_THAT(refused("[retention.green]\nunacknowledged_days = \"30d\""), Catch::Contains("expected an integer"));
  CHECK_THAT(refused("[retention.amber]\nacknowleged_days = 3"), Catch::Contains("unknown key 'acknowleged_days'"));
  CHECK_THAT(refused("[retention.white]\nacknowledged_days = 3"), Catch::Contains("unknown TLP level 'white'"));
  CHECK_THAT(refused("[retention]\namber = 3"), Catch::Contains("retention.amber must be a table"));
}

TEST_CASE("renderConfig writes the retention policy and it parses back", "[server][config][retention]") {
  Config c;
  c.retention.rules[2] = RetentionRule{45, 120};
  auto back = parseConfig(renderConfig(c), "focal.toml", "/d");
  REQUIRE(back.ok());
  CHECK(back->retention.rules[2].acknowledgedDays == 45);
  CHECK(back->retention.rules[2].unacknowledgedDays == 120);
  CHECK(back->retention.rules[4].acknowledgedDays == RetentionPolicy::DefaultRule.acknowledgedDays);
}

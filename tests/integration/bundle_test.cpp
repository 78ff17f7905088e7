// Enrolment bundles (issue 26, "Enrolment pins the genesis"; PROTOCOL.md
// §11.3): `focald bundle` on a running hub, `focal profile init --bundle`,
// and a client with a pinned bundle refusing a log with another genesis,
// another hub key, or one that does not reach the bundle's head.
#include "hub_fixture.hpp"

#include "server/sqlite.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <fstream>

using namespace focal;
using namespace focal::test;
using nlohmann::json;
namespace sq = focal::server::sqlite;

namespace {

// "CODE: MESSAGE" of a failed --json command.
std::string refusalText(const json& j) {
  const auto& e = j.at("error");
  return e.at("code").get<std::string>() + ": " + e.at("message").get<std::string>();
}

// `focald bundle` of `hub` (clients are told the port the test hub runs on).
ProcessResult focaldBundle(const Hub& hub, const std::vector<std::string>& extra = {}) {
  return runProcess(concat({FOCALD_PATH, "bundle", hub.dir().string(), "--address", hub.address()}, extra));
}

void writeText(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

// Two members with key files, a bundle of the running hub, and homes.
struct Enrolment {
  Hub hub;
  TempDir home;
  fs::path bundleFile = home.path() / "hub.bundle.json";
  TestMember sg = withKeyFile("sg-spf-cyber", "SG");
  TestMember my = withKeyFile("my-pdrm-cyber", "MY");

  Enrolment() {
    const auto r = focaldBundle(hub, {"--out", bundleFile.string()});
    REQUIRE(r.exitCode == 0);
  }
  // `focal profile init` of a new profile under home/NAME.
  json enrol(const std::string& name, const TestMember& m, const fs::path& bundle, int exit = 0) const {
    return runCliJson({"--profile-dir", (home.path() / name).string(), "profile", "init", "--bundle", bundle.string(),
                       "--key", m.keyFile.string()},
                      exit);
  }
  // The profile's own settings, with the hub's current address (it moves on restart).
  std::vector<std::string> as(const std::string& name) const {
    return {"--profile-dir", (home.path() / name).string(), "--hub", hub.address(), "--timeout", "20"};
  }
  json bundle() const { return json::parse(slurp(bundleFile)); }
  TestMember withKeyFile(const std::string& id, const std::string& state) {
    return hub.createMember(id, state, wire::Institution::LAW_ENFORCEMENT, true);
  }
  void withDatabase(const std::function<void(sq::Database&)>& f) {
    auto db = sq::Database::open(hub.database(), sq::Database::Mode::ReadWrite);
    f(db);
  }
};

}  // namespace

TEST_CASE_METHOD(Enrolment, "A bundle from a running hub sets up profiles that send and read",
                 "[integration][bundle]") {
  struct stat st {};
  REQUIRE(::stat(bundleFile.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);
  // --out never overwrites.
  CHECK(focaldBundle(hub, {"--out", bundleFile.string()}).exitCode != 0);

  const auto shown = enrol("sg", sg, bundleFile);
  CHECK(shown.at("bundle_pinned") == true);
  CHECK(shown.at("pinned_genesis") == bundle().at("genesis_hash"));
  CHECK(shown.at("hub_address") == hub.address());
  struct stat ca {};
  REQUIRE(::stat(shown.at("ca_file").get<std::string>().c_str(), &ca) == 0);
  CHECK((ca.st_mode & 0777) == 0644);
  CHECK(slurp(shown.at("ca_file").get<std::string>()) == slurp(hub.caFile()));
  enrol("my", my, bundleFile);

  // Only the profile: no --hub, --ca or --key.
  const auto sent = runCliJson({"--profile-dir", (home.path() / "sg").string(), "send", "--to", "my-pdrm-cyber", "--tlp",
                                "green", "--category", "trend", "--title", "enrolled", "--body", "hello"});
  const auto read = runCliJson({"--profile-dir", (home.path() / "my").string(), "read", sent.at("bulletin_id")});
  CHECK(read.at("verified") == true);
  const auto v = runCliJson({"--profile-dir", (home.path() / "my").string(), "verify-log"});
  CHECK(v.at("bundle_pinned") == true);
  // A version-1 bundle (before witnesses) still enrols and pins.
  json v1 = bundle();
  v1["version"] = 1;
  v1["head"].erase("cosignatures");
  v1["witnesses"] = {{"keys", json::array()}, {"threshold", 0}};
  writeText(home.path() / "v1.json", v1.dump(2));
  enrol("old", sg, home.path() / "v1.json");
  CHECK(runCliJson({"--profile-dir", (home.path() / "old").string(), "verify-log"}).at("bundle_pinned") == true);
  // Without a bundle verify-log says so.
  const auto tofu = runCli(concat(hub.cliGlobals(sg.keyFile, home.path() / "tofu"), {"verify-log"}));
  CHECK(tofu.exitCode == 0);
  CHECK_THAT(tofu.out, Catch::Contains("No enrolment bundle is pinned"));
  CHECK(runCliJson(concat(hub.cliGlobals(sg.keyFile, home.path() / "tofu"), {"verify-log"})).at("bundle_pinned") ==
        false);
}

TEST_CASE_METHOD(Enrolment, "focald bundle prints public material only", "[integration][bundle]") {
  const auto r = focaldBundle(hub);
  REQUIRE(r.exitCode == 0);
  const json b = json::parse(r.out);
  CHECK(b.at("version") == 2);
  CHECK(b.at("witnesses").at("members").empty());
  CHECK(b.at("witnesses").at("threshold") == 0);
  CHECK(b.at("head").at("cosignatures").empty());
  CHECK(r.err.find("warning") == std::string::npos);
  const std::string hubKey = slurp(hub.dir() / "hub.key");
  REQUIRE(hubKey.size() == 64);
  CHECK(r.out.find(hubKey) == std::string::npos);
  CHECK(r.out.find(crypto::toHex(crypto::asBytes(hubKey))) == std::string::npos);
  CHECK(r.out.find(crypto::toHex(crypto::asBytes(hubKey.substr(0, 32)))) == std::string::npos);  // the seed
  // The TLS private key, line by line of its PEM body.
  std::istringstream tlsKey(slurp(hub.dir() / "tls" / "key.pem"));
  for (std::string line; std::getline(tlsKey, line);) {
    if (line.size() > 16 && line.find("-----") == std::string::npos) CHECK(r.out.find(line) == std::string::npos);
  }
  for (const auto& keyFile : {hub.adminKeyFile(), sg.keyFile}) {
    const std::string bytes = slurp(keyFile);
    REQUIRE(bytes.size() > 64);
    CHECK(r.out.find(bytes.substr(bytes.size() - 64)) == std::string::npos);
  }
  CHECK(r.out.find(TestPassphrase) == std::string::npos);
  // A wildcard listen address is not an address clients can use.
  CHECK(runProcess({FOCALD_PATH, "bundle", hub.dir().string(), "--address", "0.0.0.0:7443"}).exitCode != 0);
}

TEST_CASE_METHOD(Enrolment, "Tampered, truncated, oversize or unsupported bundles are refused with typed errors",
                 "[integration][bundle]") {
  const std::string text = slurp(bundleFile);
  const auto refused = [&](const std::string& name, const std::string& content, const std::string& code) {
    const fs::path file = home.path() / (name + ".json");
    writeText(file, content);
    const auto e = enrol(name, sg, file, 1);
    CHECK(e.at("error").at("code") == code);
    // Nothing was pinned or set.
    const auto shown = runCliJson({"--profile-dir", (home.path() / name).string(), "profile", "show"});
    CHECK(shown.at("bundle_pinned") == false);
    CHECK(shown.at("hub_address").is_null());
  };
  const auto edited = [&](const std::function<void(json&)>& f) {
    json b = bundle();
    f(b);
    return b.dump(2);
  };
  const auto flipHex = [](std::string s) {
    s[10] = s[10] == '0' ? '1' : '0';
    return s;
  };
  refused("truncated", text.substr(0, text.size() / 2), "bundle-malformed");
  refused("empty", "", "bundle-malformed");
  refused("oversize", text + std::string(70 * 1024, ' '), "bundle-too-large");
  refused("signature", edited([&](json& b) { b["head"]["signature"] = flipHex(b["head"]["signature"]); }),
          "bundle-bad-signature");
  refused("hub-key", edited([&](json& b) { b["hub_key"] = crypto::toHex(crypto::SigningKeyPair::generate().publicKey); }),
          "bundle-bad-signature");
  refused("size", edited([&](json& b) { b["head"]["size"] = b["head"]["size"].get<int>() + 1; }),
          "bundle-head-mismatch");
  refused("root", edited([&](json& b) { b["head"]["root"] = flipHex(b["head"]["root"]); }), "bundle-head-mismatch");
  refused("witness",
          edited([&](json& b) {
            b["witnesses"]["members"].push_back(
                {{"member_id", "wit-sg"}, {"key", crypto::toHex(crypto::SigningKeyPair::generate().publicKey)}});
            b["witnesses"]["threshold"] = 2;
          }),
          "bundle-malformed");
  refused("v1-witness",
          edited([&](json& b) {
            b["version"] = 1;
            b["head"].erase("cosignatures");
            b["witnesses"] = {{"keys", {crypto::toHex(crypto::SigningKeyPair::generate().publicKey)}}, {"threshold", 1}};
          }),
          "bundle-witnesses-unsupported");
  refused("version", edited([&](json& b) { b["version"] = 3; }), "bundle-unsupported");
  refused("unknown", edited([&](json& b) { b["extra"] = true; }), "bundle-malformed");
  refused("no-ca", edited([&](json& b) { b.erase("ca_certificate_pem"); }), "bundle-malformed");
}

TEST_CASE_METHOD(Enrolment, "A client enrolled with a bundle rejects a fabricated log with exit 3",
                 "[integration][bundle][tamper]") {
  enrol("sg", sg, bundleFile);
  SECTION("another genesis: the operator re-dates entry 0 and re-chains the log") {
    hub.stop();
    withDatabase([](sq::Database& db) {
      db.exec("UPDATE log_entries SET recorded_at_ms = recorded_at_ms + 1 WHERE idx = 0");
      db.exec("DELETE FROM log_heads");  // the liar signs a head over the new chain
    });
    hub.setExecutable(FOCAL_LYING_HUB_PATH);
    hub.start();
    auto e = runCliJson(concat(as("sg"), {"verify-log"}), 3);
    CHECK_THAT(refusalText(e), Catch::StartsWith("verification-failed") && Catch::Contains("genesis") &&
                                   Catch::Contains("enrolment bundle"));
    e = runCliJson(concat(as("sg"), {"directory"}), 3);
    CHECK_THAT(refusalText(e), Catch::Contains("genesis"));
  }
  SECTION("an older head than the bundle's (entries withheld)") {
    const auto size = bundle().at("head").at("size").get<std::uint64_t>();
    hub.stop();
    withDatabase([&](sq::Database& db) {
      db.exec(("DELETE FROM log_entries WHERE idx >= " + std::to_string(size - 1)).c_str());
      db.exec(("DELETE FROM log_heads WHERE size >= " + std::to_string(size)).c_str());
    });
    hub.start();  // the real focald serves the shorter log without complaint
    auto e = runCliJson(concat(as("sg"), {"verify-log"}), 3);
    CHECK_THAT(refusalText(e), Catch::Contains("fewer than the " + std::to_string(size)));
  }
  SECTION("a second hub with the same certificate, another hub key and genesis") {
    Hub other;
    other.stop();
    for (const char* f : {"cert.pem", "key.pem"}) {
      fs::copy_file(hub.dir() / "tls" / f, other.dir() / "tls" / f, fs::copy_options::overwrite_existing);
    }
    other.start();
    // A key the fabricated log admits (a lying hub would register the victim's own public key in it).
    auto e = runCliJson({"--profile-dir", (home.path() / "sg").string(), "--hub", other.address(), "--key",
                         other.adminKeyFile().string(), "verify-log"},
                        3);
    CHECK_THAT(refusalText(e), Catch::Contains("hub key") && Catch::Contains("enrolment bundle"));
    // A client without a bundle, pinning the same certificate, trusts it on first use.
    const auto tofu = runCli({"--profile-dir", (home.path() / "tofu").string(), "--hub", other.address(), "--ca",
                              hub.caFile().string(), "--key", other.adminKeyFile().string(), "verify-log"});
    CHECK(tofu.exitCode == 0);
  }
  SECTION("a bundle naming another genesis than the hub's log") {
    json b = bundle();
    std::string g = b["genesis_hash"];
    g[0] = g[0] == 'a' ? 'b' : 'a';
    b["genesis_hash"] = g;
    writeText(home.path() / "other-genesis.json", b.dump());
    enrol("pinned-elsewhere", sg, home.path() / "other-genesis.json");
    auto e = runCliJson(concat(as("pinned-elsewhere"), {"send", "--to", "my-pdrm-cyber", "--tlp", "green", "--category",
                                                        "trend", "--title", "t", "--body", "b"}),
                        3);
    CHECK_THAT(refusalText(e), Catch::Contains("genesis"));
  }
}

// Issue 20, "Pin the hub": the fingerprint focald init prints, pinned in
// the profile, checked by every command before it signs anything.
TEST_CASE_METHOD(Enrolment, "A pinned hub key: the right one works and another fails every command with exit 3",
                 "[integration][bundle][pin]") {
  std::string fingerprint;
  {
    auto c = hub.connect(sg.keys);
    fingerprint = crypto::fingerprint(c->session().hubId, c->session().hubKey);
  }
  const auto profile = home.path() / "joined";
  const std::vector<std::string> join = {"--profile-dir", profile.string(), "profile", "init", "--hub", hub.address(),
                                         "--ca", hub.caFile().string(), "--key", sg.keyFile.string()};

  // One step, without a bundle; the fingerprint as a person types it.
  std::string typed = fingerprint;
  typed.erase(std::remove(typed.begin(), typed.end(), ' '), typed.end());
  const auto shown = runCliJson(concat(join, {"--hub-key", typed}));
  CHECK(shown.at("pinned_hub_key") == fingerprint);
  CHECK(shown.at("bundle_pinned") == false);
  // The certificate now lives in the profile.
  const fs::path ca = shown.at("ca_file").get<std::string>();
  CHECK(ca.parent_path() == fs::absolute(profile).lexically_normal());
  CHECK(slurp(ca) == slurp(hub.caFile()));
  const std::vector<std::string> as = {"--profile-dir", profile.string()};
  runCliJson(concat(as, {"send", "--to", "my-pdrm-cyber", "--tlp", "green", "--category", "trend", "--title", "pinned",
                         "--body", "b"}));

  // Another fingerprint: every command stops, naming both.
  std::string wrong = fingerprint;
  wrong[0] = wrong[0] == '9' ? '8' : '9';
  runCliJson(concat(as, {"profile", "set", "--hub-key", wrong}));
  for (const std::vector<std::string>& cmd : {std::vector<std::string>{"inbox"}, {"directory"}, {"verify-log"}}) {
    const auto e = runCliJson(concat(as, cmd), 3);
    INFO(refusalText(e));
    CHECK_THAT(refusalText(e), Catch::StartsWith("verification-failed") && Catch::Contains(fingerprint) &&
                                   Catch::Contains("this profile pins " + wrong));
  }
  // --hub and --ca on the command line do not lift the pin.
  runCliJson(concat(as, {"--hub", hub.address(), "--ca", hub.caFile().string(), "inbox"}), 3);
  // And nothing was signed for that hub: it logged no authentication of
  // sg-spf-cyber after the pin changed (the line is logged before the
  // hub answers, so every earlier command's is already there).
  const auto authentications = [&] {
    const std::string log = slurp(hub.dir() / "focald.err");
    std::size_t n = 0;
    for (auto at = log.find("sg-spf-cyber authenticated from"); at != std::string::npos;
         at = log.find("sg-spf-cyber authenticated from", at + 1)) {
      ++n;
    }
    return n;
  };
  const auto before = authentications();
  CHECK(before > 0);  // the log is the one this hub writes
  runCliJson(concat(as, {"inbox"}), 3);
  CHECK(authentications() == before);

  // Not a fingerprint: refused before it is stored.
  const auto bad = runCliJson(concat(as, {"profile", "set", "--hub-key", "1234"}), 1);
  CHECK(bad.at("error").at("code") == "bad-fingerprint");
  CHECK(runCliJson(concat(as, {"profile", "show"})).at("pinned_hub_key") == wrong);
  // profile init needs a bundle, or all three of --hub, --ca and --hub-key.
  const auto partial = runCliJson({"--profile-dir", (home.path() / "partial").string(), "profile", "init", "--hub",
                                   hub.address(), "--key", sg.keyFile.string()},
                                  1);
  CHECK(partial.at("error").at("code") == "usage");
  // A bundle pins its hub key too.
  CHECK(enrol("by-bundle", sg, bundleFile).at("pinned_hub_key") == fingerprint);
}

TEST_CASE_METHOD(Enrolment, "A pinned bundle grown past its limit in the profile is refused, never read whole",
                 "[integration][bundle][hostile]") {
  enrol("sg", sg, bundleFile);
  const auto pinned = home.path() / "sg" / "bundle.json";
  REQUIRE(fs::exists(pinned));
  writeText(pinned, std::string(65 * 1024, ' ') + slurp(bundleFile));
  const auto e = runCliJson(concat(as("sg"), {"verify-log"}), 3);
  CHECK_THAT(refusalText(e), Catch::Contains("bundle pinned in") && Catch::Contains("cannot be read"));
}

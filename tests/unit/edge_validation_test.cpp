// Validation at the edge (issue 19, finding 3): member states are ISO
// 3166-1 alpha-2 codes and one of the hub's configured member states;
// ATT&CK ids come from the compiled-in Enterprise list; a new key file needs
// a passphrase of at least 12 characters.
#include "client/attack_techniques.hpp"
#include "crypto/keyfile.hpp"
#include "crypto/primitives.hpp"
#include "protocol/iso3166.hpp"
#include "server/config.hpp"
#include "server_test_support.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <unistd.h>

using namespace focal;

namespace {

using server::testing::MinimalHubConfig;

std::string withWorkingGroup(const std::string& body) {
  return std::string(MinimalHubConfig) + "\n[working_group]\n" + body + "\n";
}

}  // namespace

TEST_CASE("ISO 3166-1 alpha-2: assigned upper-case codes only", "[edge][iso3166]") {
  for (const char* code : {"BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "VN", "FR", "AX"}) {
    CHECK(protocol::isIso3166Alpha2(code));
  }
  for (const char* code : {"ZZ", "XX", "AA", "sg", "Sg", "S", "SGP", "", "S1", "UK"}) {
    CHECK_FALSE(protocol::isIso3166Alpha2(code));
  }
  CHECK(protocol::iso3166Name("MY") == "Malaysia");
  CHECK(protocol::iso3166Name("ZZ").empty());
}

TEST_CASE("focal.toml lists the working group's member states, ASEAN by default", "[edge][server][config]") {
  auto absent = server::parseConfig(MinimalHubConfig, "focal.toml", "/srv/hub");
  REQUIRE(absent);
  CHECK(absent->memberStates == std::vector<std::string>{"BN", "ID", "KH", "LA", "MM", "MY", "PH", "SG", "TH", "VN"});

  auto listed = server::parseConfig(withWorkingGroup(R"(member_states = ["SG", "FR", "MY"])"), "focal.toml", "/d");
  REQUIRE(listed);
  CHECK(listed->memberStates == std::vector<std::string>{"FR", "MY", "SG"});  // sorted
  // What init writes parses back to the same list.
  auto back = server::parseConfig(server::renderConfig(*listed), "focal.toml", "/d");
  REQUIRE(back);
  CHECK(back->memberStates == listed->memberStates);

  for (const char* bad : {R"(member_states = ["SG", "ZZ"])", R"(member_states = ["sg"])", R"(member_states = [])",
                          R"(member_states = ["SG", "SG"])", R"(member_states = "SG")", R"(member_states = [1])",
                          R"(member_state = ["SG"])"}) {
    INFO(bad);
    auto r = server::parseConfig(withWorkingGroup(bad), "focal.toml", "/d");
    REQUIRE_FALSE(r);
    CHECK(r.error().find("focal.toml:") == 0);  // names file, line and column
  }
}

TEST_CASE("ATT&CK v18.1 Enterprise techniques are compiled in with names and status", "[edge][attack]") {
  auto t = client::findAttackTechnique("T1566.002");
  REQUIRE(t);
  CHECK(t->name == "Spearphishing Link");
  CHECK(t->status == client::AttackStatus::Active);
  auto parent = client::findAttackTechnique("T1566");
  REQUIRE(parent);
  CHECK(parent->name == "Phishing");

  auto revoked = client::findAttackTechnique("T1002");
  REQUIRE(revoked);
  CHECK(revoked->name == "Data Compressed");
  CHECK(revoked->status == client::AttackStatus::Revoked);

  CHECK_FALSE(client::findAttackTechnique("T9999"));
  CHECK_FALSE(client::findAttackTechnique("foo"));
  CHECK_FALSE(client::findAttackTechnique("t1566"));  // callers normalise first
  CHECK_FALSE(client::findAttackTechnique(""));
  CHECK(client::normalizeAttackId(" t1566.002 ") == "T1566.002");
}

TEST_CASE("A deprecated ATT&CK technique is in the list and marked so", "[edge][attack]") {
  // T1043 Commonly Used Port is deprecated in ATT&CK v18.1.
  auto t = client::findAttackTechnique("T1043");
  REQUIRE(t);
  CHECK(t->name == "Commonly Used Port");
  CHECK(t->status == client::AttackStatus::Deprecated);
}

TEST_CASE("A new key file needs a passphrase of at least 12 characters", "[edge][keyfile]") {
  crypto::initialize();  // libsodium before sodium_malloc (idempotent)
  CHECK(crypto::MinNewPassphraseChars == 12);
  CHECK_FALSE(crypto::longEnoughForNewKeyFile(""));
  CHECK_FALSE(crypto::longEnoughForNewKeyFile("x"));
  CHECK_FALSE(crypto::longEnoughForNewKeyFile("elevenchars"));
  CHECK(crypto::longEnoughForNewKeyFile("twelve chars"));
  // Characters, not bytes: 11 two-byte characters are 22 bytes but too few.
  std::string eleven;
  for (int i = 0; i < 11; ++i) eleven += "\xc3\xa9";  // é
  CHECK(crypto::passphraseChars(eleven) == 11);
  CHECK_FALSE(crypto::longEnoughForNewKeyFile(eleven));
  CHECK(crypto::longEnoughForNewKeyFile(eleven + "\xc3\xa9"));

  char tmpl[] = "/tmp/focal-edge-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::filesystem::path dir(tmpl);
  const auto keys = crypto::MemberKeys::generate("sg-spf", 1'700'000'000'000);
  auto refused = crypto::writeKeyFile(dir / "short.key", keys, "short", crypto::KdfStrength::Interactive);
  REQUIRE_FALSE(refused);
  CHECK(refused.error() == crypto::KeyFileError::PassphraseTooShort);
  CHECK_FALSE(std::filesystem::exists(dir / "short.key"));
  CHECK_FALSE(std::filesystem::exists(dir / "short.key.tmp"));
  CHECK(crypto::writeKeyFile(dir / "long.key", keys, "a long enough passphrase", crypto::KdfStrength::Interactive));
  std::filesystem::remove_all(dir);
}

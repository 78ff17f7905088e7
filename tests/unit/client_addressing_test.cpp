// Address resolution against a key directory: groups, exclusions, and the
// refusals (unknown, revoked, uncertified keys).
#include "client/address_resolver.hpp"
#include "client/key_directory.hpp"
#include "client/profile.hpp"
#include "crypto/keyfile.hpp"
#include "client_test_support.hpp"

#include <catch2/catch.hpp>

using namespace focal;
using namespace focal::client;

namespace {

MemberRecord member(const std::string& id, const std::string& state, wire::Institution inst) {
  crypto::initialize();
  return testing::activeMember(crypto::MemberKeys::generate(id, 1000), state, inst);
}

std::vector<std::string> ids(const std::vector<protocol::RecipientKey>& r) {
  std::vector<std::string> out;
  for (const auto& k : r) out.push_back(k.memberId);
  return out;
}

HubDirectory sampleDirectory() {
  using I = wire::Institution;
  std::vector<MemberRecord> ms{
      member("sg-spf", "SG", I::LAW_ENFORCEMENT),   member("sg-csa", "SG", I::POLICY_SECURITY),
      member("my-pdrm", "MY", I::LAW_ENFORCEMENT),  member("th-tcsd", "TH", I::LAW_ENFORCEMENT),
      member("jp-npa", "", I::DIALOGUE_PARTNER),    member("acme-labs", "", I::RESOURCE_PANEL),
      member("secretariat", "", I::SECRETARIAT),    member("vn-old", "VN", I::LAW_ENFORCEMENT),
      member("ph-forged", "PH", I::LAW_ENFORCEMENT)};
  ms[7].active = false;  // revoked
  // The hub substitutes an encryption key the member never certified.
  ms[8].encryptionKey = crypto::BoxKeyPair::generate().publicKey;
  ms[8].certValid = false;
  return HubDirectory(std::move(ms));
}

}  // namespace

TEST_CASE("Group addresses resolve to active, certified members, without the sender", "[client][addressing]") {
  const auto dir = sampleDirectory();
  auto r = [&](std::vector<std::string> a) {
    auto res = resolveAddresses(dir, a, "sg-spf");
    REQUIRE(res.ok());
    return ids(res.value());
  };
  CHECK((r({"state:SG"})) == std::vector<std::string>{"sg-csa"});
  CHECK((r({"state:sg"})) == std::vector<std::string>{"sg-csa"});
  CHECK((r({"members"})) == std::vector<std::string>{"my-pdrm", "sg-csa", "th-tcsd"});
  CHECK((r({"partners"})) == std::vector<std::string>{"jp-npa"});
  CHECK((r({"resource-panel"})) == std::vector<std::string>{"acme-labs"});
  const auto all = (r({"all"}));
  CHECK(std::find(all.begin(), all.end(), "sg-spf") == all.end());
  CHECK(std::find(all.begin(), all.end(), "vn-old") == all.end());
  CHECK(std::find(all.begin(), all.end(), "ph-forged") == all.end());
  CHECK(all == std::vector<std::string>{"acme-labs", "jp-npa", "my-pdrm", "secretariat", "sg-csa", "th-tcsd"});
  // Overlaps are merged; a sender naming itself is included.
  CHECK((r({"my-pdrm", "state:MY", "sg-spf"})) == std::vector<std::string>{"my-pdrm", "sg-spf"});
  CHECK(splitList(" a, b ,,c ") == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("Unknown, revoked and uncertified recipients are refused with the reason", "[client][addressing]") {
  const auto dir = sampleDirectory();
  auto err = [&](std::vector<std::string> a) {
    auto res = resolveAddresses(dir, a, "sg-spf");
    REQUIRE_FALSE(res.ok());
    return res.error();
  };
  CHECK(err({"nobody"}).find("unknown recipient") != std::string::npos);
  CHECK(err({"vn-old"}).find("revoked") != std::string::npos);
  CHECK(err({"ph-forged"}).find("certificate") != std::string::npos);
  CHECK(err({"state:XX"}).find("no active member") != std::string::npos);
  CHECK(err({"state:SGP"}).find("two letters") != std::string::npos);
  CHECK(err({"state:VN"}).find("no active member") != std::string::npos);
  // A group that names nobody but the sender leaves nothing to seal for.
  auto onlyMe = resolveAddresses(dir, std::vector<std::string>{"state:TH"}, "th-tcsd");
  REQUIRE_FALSE(onlyMe.ok());
  CHECK(onlyMe.error().find("no recipients") != std::string::npos);
}

TEST_CASE("Host:port parsing accepts names, IPv4 and bracketed IPv6", "[client][profile]") {
  CHECK(parseHostPort("hub.example.org:7443")->first == "hub.example.org");
  CHECK(parseHostPort("127.0.0.1:1")->second == 1);
  CHECK(parseHostPort("[::1]:7443")->first == "::1");
  CHECK_FALSE(parseHostPort("hub").has_value());
  CHECK_FALSE(parseHostPort("hub:0").has_value());
  CHECK_FALSE(parseHostPort("hub:70000").has_value());
  CHECK_FALSE(parseHostPort(":7443").has_value());
  CHECK_FALSE(parseHostPort("hub:74x3").has_value());
}

// Issue 20, "Verify a colleague once": focal verify records a member whose
// safety number the user compared; when that member's identity key later
// changes, directory, inbox and read flag it until it is verified again
// (Signal's "safety number changed").
#include "hub_fixture.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace focal;
using namespace focal::test;
using nlohmann::json;

namespace {

std::string verificationOf(const json& directory, const std::string& id) {
  for (const auto& m : directory) {
    if (m.at("member_id") == id) return m.at("verification").get<std::string>();
  }
  FAIL("no " << id << " in the directory");
  return {};
}

}  // namespace

TEST_CASE("focal verify records a member and a later key change is flagged until verified again",
          "[integration][verify]") {
  Hub hub;
  TempDir home;
  const auto sg = hub.createMember("sg-spf-cyber", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  const auto my = hub.createMember("my-pdrm-cyber", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  const auto sgArgs = hub.cliGlobals(sg.keyFile, home.path() / "sg");
  const auto sendFromMy = [&](const fs::path& keyFile, const std::string& title) {
    return runCliJson(concat(hub.cliGlobals(keyFile, home.path() / "my"),
                             {"send", "--to", "sg-spf-cyber", "--tlp", "green", "--category", "trend", "--title", title,
                              "--body", "b"}))
        .at("bulletin_id")
        .get<std::string>();
  };

  CHECK(verificationOf(runCliJson(concat(sgArgs, {"directory"})), "my-pdrm-cyber") == "unverified");
  // Off a terminal it asks for --yes instead of guessing.
  CHECK(runCliJson(concat(sgArgs, {"verify", "my-pdrm-cyber"}), 1).at("error").at("code") == "not-confirmed");
  CHECK(verificationOf(runCliJson(concat(sgArgs, {"directory"})), "my-pdrm-cyber") == "unverified");

  const auto v = runCliJson(concat(sgArgs, {"verify", "my-pdrm-cyber", "--yes"}));
  CHECK(v.at("previously") == "unverified");
  CHECK(v.at("safety_number").get<std::string>().size() == 71);  // 12 groups of 5 digits
  CHECK(verificationOf(runCliJson(concat(sgArgs, {"directory"})), "my-pdrm-cyber") == "verified");
  const auto first = sendFromMy(my.keyFile, "before");
  CHECK(runCliJson(concat(sgArgs, {"inbox"}))[0].at("sender_verification") == "verified");
  CHECK(runCliJson(concat(sgArgs, {"read", first})).at("sender_verification") == "verified");

  // MY replaces its identity key: SG's client flags it everywhere.
  const auto newKey = home.path() / "my-2.key";
  runCliJson(concat(hub.cliGlobals(my.keyFile, home.path() / "my"), {"rotate-key", "--identity", "--out",
                                                                       newKey.string(), "--kdf", "interactive"}));
  CHECK(verificationOf(runCliJson(concat(sgArgs, {"directory"})), "my-pdrm-cyber") == "key-changed");
  const auto second = sendFromMy(newKey, "after");
  CHECK(runCliJson(concat(sgArgs, {"read", second})).at("sender_verification") == "key-changed");
  const auto text = runCli(concat(sgArgs, {"read", second}));
  CHECK_THAT(text.out, Catch::Contains("WARNING: the key changed since you verified my-pdrm-cyber"));
  const auto inbox = runCli(concat(sgArgs, {"inbox"}));
  CHECK_THAT(inbox.out, Catch::Contains("[KEY CHANGED since you verified my-pdrm-cyber"));
  CHECK_THAT(runCli(concat(sgArgs, {"directory"})).out, Catch::Contains("(KEY CHANGED since you verified it)"));

  // Verified again: the flag goes.
  CHECK(runCliJson(concat(sgArgs, {"verify", "my-pdrm-cyber", "--yes"})).at("previously") == "key-changed");
  CHECK(runCliJson(concat(sgArgs, {"read", second})).at("sender_verification") == "verified");
  CHECK(runCliJson(concat(sgArgs, {"verify", "sg-spf-cyber", "--yes"}), 1).at("error").at("code") == "usage");
}

// Short ids (issue 20): commands that take a bulletin or proposal id take a
// unique prefix of at least six hex digits of one this profile knows (the
// README writes `focal read 3f0c...`).
#include "hub_fixture.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace focal;
using namespace focal::test;
using nlohmann::json;

TEST_CASE("read, ack, status and approve take a unique prefix of an id", "[integration][short-ids]") {
  Hub hub;
  TempDir home;
  const auto sg = hub.createMember("sg-spf-cyber", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  const auto my = hub.createMember("my-pdrm-cyber", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  const auto sgArgs = concat(hub.cliGlobals(sg.keyFile, home.path() / "sg"), {"--json"});
  const auto myArgs = concat(hub.cliGlobals(my.keyFile, home.path() / "my"), {"--json"});
  const auto send = [&](const std::string& title) {
    return runCliJson(concat(sgArgs, {"send", "--to", "my-pdrm-cyber", "--tlp", "green", "--category", "trend",
                                      "--title", title, "--body", "b"}))
        .at("bulletin_id")
        .get<std::string>();
  };
  const std::string first = send("first");
  const std::string second = send("second");

  // Before the inbox made them known, a prefix names nothing.
  auto unknown = runCliJson(concat(myArgs, {"read", first.substr(0, 8)}), 1);
  CHECK(unknown.at("error").at("code") == "unknown-id");
  CHECK_THAT(unknown.at("error").at("message").get<std::string>(), Catch::Contains("focal inbox"));

  runCliJson(concat(myArgs, {"inbox"}));
  std::string upper = first.substr(0, 8);
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  CHECK(runCliJson(concat(myArgs, {"read", upper})).at("bulletin_id") == first);
  CHECK(runCliJson(concat(myArgs, {"ack", second.substr(0, 6)})).dump().find(second) != std::string::npos);
  // The sender's own copy is known to its profile too.
  CHECK(runCliJson(concat(sgArgs, {"status", second.substr(0, 10)})).at("bulletin_id") == second);

  auto shortest = runCliJson(concat(myArgs, {"read", first.substr(0, 5)}), 1);
  CHECK(shortest.at("error").at("code") == "bad-id");

  // Proposals: from the hub's listing.
  const auto candidate = home.path() / "acme.key";
  runCliJson({"keygen", "--member", "acme-labs", "--out", candidate.string(), "--kdf", "interactive"});
  const auto adminArgs = concat(hub.cliGlobals(hub.adminKeyFile(), home.path() / "admin"), {"--json"});
  const auto pid = runCliJson(concat(adminArgs, {"admin", "propose-admission", candidate.string() + ".pub", "--name",
                                                "ACME", "--institution", "resource-panel"}))
                       .at("proposal_id")
                       .get<std::string>();
  const auto decided = runCliJson(concat(sgArgs, {"approve", pid.substr(0, 7)}));
  CHECK(decided.at("proposal_id") == pid);
}

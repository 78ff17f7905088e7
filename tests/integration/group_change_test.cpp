// Group changes are visible (issue 27), with the real focald and focal: when
// state:MY resolves to other members or keys than at the sender's previous
// send to it, `focal send` lists who joined and whose key changed, and a
// script is refused until it says --yes.
#include "hub_fixture.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace focal;
using namespace focal::test;
using nlohmann::json;
using Catch::Matchers::Contains;

TEST_CASE("A send to a group whose members or keys changed since the last send shows the change and needs --yes",
          "[integration][group-change]") {
  Hub hub;
  TempDir home;
  const auto sg = hub.createMember("sg-spf", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  const auto myA = hub.createMember("my-pdrm", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  const auto sgArgs = hub.cliGlobals(sg.keyFile, home.path() / "sg");
  const auto myArgs = hub.cliGlobals(myA.keyFile, home.path() / "my");
  const auto send = [&](const std::string& title, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = concat(sgArgs, {"send", "--to", "state:MY", "--tlp", "green", "--category",
                                                    "trend", "--title", title, "--body", title});
    return concat(args, extra);
  };
  const auto queued = [&] { return runCliJson(concat(myArgs, {"inbox"})).size(); };

  // First send to the group: nothing to compare with.
  CHECK(runCliJson(send("first")).at("group_changes").empty());

  // A second member of MY is registered: the next send names it and is
  // refused without --yes, before anything reaches the hub.
  const auto myB = hub.createMember("my-nacsa", "MY");
  const auto refused = runCli(concat({"--json"}, send("second")));
  INFO(refused.out << refused.err);
  CHECK(refused.exitCode == 1);
  CHECK(json::parse(refused.out).at("error").at("code") == "group-changed");
  CHECK_THAT(refused.err, Contains("state:MY has changed since your last send") && Contains("+ my-nacsa (joined)"));
  CHECK(queued() == 1);

  // With --yes it goes, and says what changed.
  const auto sent = runCliJson(send("second", {"--yes"}));
  REQUIRE(sent.at("group_changes").size() == 1);
  CHECK(sent.at("group_changes")[0].at("address") == "state:MY");
  CHECK(sent.at("group_changes")[0].at("joined") == json::array({"my-nacsa"}));
  CHECK(sent.at("group_changes")[0].at("key_changed").empty());
  CHECK(queued() == 2);

  // Nothing changed since: no question.
  CHECK(runCliJson(send("third")).at("group_changes").empty());

  // my-pdrm rotates its encryption key: the next send to state:MY names it.
  runCliJson(concat(myArgs, {"rotate-key", "--out", (home.path() / "my-2.key").string(), "--kdf", "interactive"}));
  const auto rotated = runCli(send("fourth"));
  CHECK(rotated.exitCode == 1);
  CHECK_THAT(rotated.err, Contains("~ my-pdrm (new encryption key"));
  const auto after = runCliJson(send("fourth", {"--yes"}));
  REQUIRE(after.at("group_changes").size() == 1);
  CHECK(after.at("group_changes")[0].at("key_changed") == json::array({"my-pdrm"}));

  // A member sent to by name is not a group: never asked about.
  CHECK(runCliJson(concat(sgArgs, {"send", "--to", "my-nacsa", "--tlp", "green", "--category", "trend", "--title",
                                   "named", "--body", "named"}))
            .at("group_changes")
            .empty());
}

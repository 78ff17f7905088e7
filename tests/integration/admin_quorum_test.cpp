// Admins by quorum against a real focald and the real focal CLI (issue 27,
// PROTOCOL.md §11.7): a hub made with two first admins (SG and MY) and
// k = 2. One admin's directory change is a pending proposal until the other
// approves; the hub refuses one admin's own log entry; an admin's rotation
// of a member's keys waits 72 h (test clock), the member is warned and may
// object, and after the delay the hub appends it by itself.
#include "hub_fixture.hpp"

#include "client/client_error.hpp"
#include "crypto/keyfile.hpp"
#include "tests/support/deadline.hpp"
#include "tests/support/log_events.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace focal;
using namespace focal::test;
using nlohmann::json;

namespace {

constexpr std::int64_t Hour = 3'600'000;

// `focal --json GLOBALS COMMAND`, its clock `advanceMs` ahead of the real
// time (the hub's test clock is moved the same way).
ProcessResult cli(const std::vector<std::string>& globals, const std::vector<std::string>& command,
                  std::int64_t advanceMs = 0) {
  std::vector<std::string> argv{FOCAL_CLI_PATH, "--json"};
  argv.insert(argv.end(), globals.begin(), globals.end());
  argv.insert(argv.end(), command.begin(), command.end());
  auto r = runProcess(argv, {{"FOCAL_PASSPHRASE", TestPassphrase},
                             {"FOCAL_TEST_CLOCK_ADVANCE_MS", std::to_string(advanceMs)}});
  INFO("focal " << command.front() << " -> exit " << r.exitCode << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exitCode == 0);
  return r;
}

// A quorum hub: the fixture's admin (SG) and my-admin (MY), k = 2, the
// default 72 h delay, on a test clock.
struct QuorumHub {
  TempDir home;
  fs::path myKey = makeKeyFileWithPublic(home.path(), "my-admin");
  Hub hub{HubOptions{{}, true, {"--admin-state", "SG", "--co-admin", myKey.string() + ".pub:MY"}}};
  std::vector<std::string> sgAdmin = hub.cliGlobals(hub.adminKeyFile(), home.path() / "sg-admin-profile");
  std::vector<std::string> myAdmin = hub.cliGlobals(myKey, home.path() / "my-admin-profile");

  // Registers `id` of `state` through both admins; returns its key file.
  fs::path registerByQuorum(const std::string& id, const std::string& state) {
    const fs::path key = makeKeyFileWithPublic(home.path(), id);
    const auto proposed = json::parse(cli(sgAdmin, {"admin", "register", key.string() + ".pub", "--state", state,
                                                    "--institution", "law-enforcement", "--name", id})
                                          .out);
    REQUIRE(proposed.at("pending") == true);
    const auto approved = json::parse(cli(myAdmin, {"admin", "approve", proposed.at("proposal_id")}).out);
    REQUIRE(approved.at("log_index").is_number());
    return key;
  }
  json lastEntry(const std::vector<std::string>& who, std::int64_t advanceMs = 0) {
    return json::parse(cli(who, {"admin", "log"}, advanceMs).out).at("entries").back();
  }
  std::uint64_t logSize(const std::vector<std::string>& who, std::int64_t advanceMs = 0) {
    return json::parse(cli(who, {"admin", "log"}, advanceMs).out).at("entries").size();
  }
};

}  // namespace

TEST_CASE_METHOD(QuorumHub, "admin quorum: a registration by one admin waits for an admin of another member state",
                 "[integration][quorum]") {
  const auto before = logSize(myAdmin);
  const fs::path key = makeKeyFileWithPublic(home.path(), "sg-police");
  const auto proposed = json::parse(cli(sgAdmin, {"admin", "register", key.string() + ".pub", "--state", "SG",
                                                  "--institution", "law-enforcement", "--name", "SG police"})
                                        .out);
  CHECK(proposed.at("pending") == true);
  CHECK(proposed.at("approvals_needed") == 1);
  const std::string id = proposed.at("proposal_id");
  CHECK(logSize(myAdmin) == before);  // nothing in the log yet

  // The proposer cannot complete it alone.
  const auto self = runCli(concat(sgAdmin, {"admin", "approve", id.substr(0, 8)}));
  CHECK(self.exitCode == 2);
  CHECK(self.err.find("another admin approves") != std::string::npos);

  const auto pending = json::parse(cli(myAdmin, {"admin", "pending"}).out);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].at("member_id") == "sg-police");
  CHECK(pending[0].at("action") == "register");
  CHECK(pending[0].at("approvals_needed") == 1);

  const auto approved = json::parse(cli(myAdmin, {"admin", "approve", id.substr(0, 8)}).out);
  CHECK(approved.at("state") == "adopted");
  const auto log = json::parse(cli(myAdmin, {"admin", "log"}).out).at("entries");
  CHECK(log.back().at("kind") == "admin-action");
  CHECK(log.back().at("change") == "register");
  CHECK(log.back().at("member_id") == "sg-police");
  CHECK(log.back().at("approvals") == 1);
  // The new member works: it authenticates and sees itself.
  const auto members = json::parse(cli(hub.cliGlobals(key, home.path() / "sg-police-profile"), {"admin", "list"}).out);
  CHECK(std::any_of(members.begin(), members.end(), [](const json& m) { return m.at("member_id") == "sg-police"; }));
  CHECK(json::parse(cli(myAdmin, {"admin", "pending"}).out).empty());
}

TEST_CASE_METHOD(QuorumHub, "admin quorum: the hub refuses one admin's own directory entry", "[integration][quorum]") {
  const auto keys = crypto::MemberKeys::generate("xx-lookalike", nowMs());
  auto c = hub.connect(hub.adminKeys());
  capnp::MallocMessageBuilder event;
  auto e = event.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(nowMs());
  test_support::events::fillRegistration(e, {"xx-lookalike", "SG"}, keys.publicKeys());
  try {
    c->admin(event);
    FAIL("the hub appended one admin's registration");
  } catch (const client::HubError& r) {
    CHECK(r.code() == wire::ErrorCode::POLICY_DENIED);
    CHECK_THAT(r.hubMessage(), Catch::Contains("one admin may not register members alone"));
  }
}

TEST_CASE_METHOD(QuorumHub,
                 "admin quorum: an admin's rotation of a member's keys waits 72 h, warns the member, who may object",
                 "[integration][quorum]") {
  const fs::path memberKey = registerByQuorum("my-poc", "MY");
  const auto member = hub.cliGlobals(memberKey, home.path() / "my-poc-profile");
  cli(member, {"directory"});  // the member's profile starts watching its entries

  // What an admin can propose without the member: a new encryption key.
  const auto newPub = [&](const std::string& name) {
    auto fresh = crypto::MemberKeys::generate("my-poc", nowMs());
    auto current = crypto::readKeyFile(memberKey, TestPassphrase);
    REQUIRE(current);
    fresh.identity = std::move(current->identity);
    const fs::path pub = home.path() / name;
    std::ofstream(pub) << crypto::formatPublicKeys(fresh.publicKeys());
    return pub;
  };
  // Two rotations, each approved by the MY admin.
  const auto first = json::parse(cli(sgAdmin, {"admin", "rotate", "my-poc", newPub("r1.pub").string()}).out);
  REQUIRE(first.at("pending") == true);
  CHECK(first.at("effective_not_before").is_string());
  const std::string firstId = first.at("proposal_id");
  CHECK(json::parse(cli(myAdmin, {"admin", "approve", firstId}).out).at("state") == "open");  // the delay runs
  const auto second = json::parse(cli(sgAdmin, {"admin", "rotate", "my-poc", newPub("r2.pub").string()}).out);
  const std::string secondId = second.at("proposal_id");
  CHECK(json::parse(cli(myAdmin, {"admin", "approve", secondId}).out).at("state") == "open");
  const auto size = logSize(myAdmin);

  // The member's next command warns, naming each proposal and how to object.
  const auto inbox = cli(member, {"inbox"});
  CHECK(inbox.err.find("proposes to rotate YOUR keys") != std::string::npos);
  CHECK(inbox.err.find("focal reject " + firstId.substr(0, 8)) != std::string::npos);
  CHECK(inbox.err.find("focal reject " + secondId.substr(0, 8)) != std::string::npos);
  // It objects to the first one only.
  cli(member, {"reject", firstId.substr(0, 8)});

  // Past the delay the hub appends the second rotation by itself; the
  // first, objected to, never.
  const std::int64_t later = 72 * Hour + 60'000;
  hub.advanceClock(later);
  test_support::waitUntil([&] { return logSize(myAdmin, later) == size + 1; }, std::chrono::seconds(30));
  REQUIRE(logSize(myAdmin, later) == size + 1);
  const auto entry = lastEntry(myAdmin, later);
  CHECK(entry.at("kind") == "admin-action");
  CHECK(entry.at("proposal_id") == secondId);
  CHECK(entry.at("change") == "rotate-encryption");

  // Self-monitoring: the entry about my-poc that my-poc did not sign.
  const auto after = cli(member, {"inbox"}, later);
  CHECK(after.err.find("ALARM my-poc@") != std::string::npos);
  const auto alarms = json::parse(cli(member, {"alarms"}, later).out).at("alarms");
  REQUIRE(alarms.size() == 1);
  CHECK(alarms[0].at("kind") == "rotate-encryption");
  CHECK(alarms[0].at("author_id") == hub.adminKeys().memberId);
}

// Self-monitoring and the honest verify-log against a real focald and the
// real focal CLI: an entry about a member that the member did not sign (an
// admin's rotation of its keys) raises an alarm its next command shows until
// `focal alarms --ack`; the member's own rotation does not; and verify-log
// names the head the profile held before the run and the entries added
// since, marking those about a member the user corresponded with.
#include "hub_fixture.hpp"

#include "crypto/keyfile.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace focal;
using namespace focal::test;
using nlohmann::json;

namespace {

// SG and MY, each with a key file and a CLI profile; the admin's CLI.
struct WatchedMembers {
  Hub hub;
  TempDir home;
  std::vector<std::string> adminArgs = hub.cliGlobals(hub.adminKeyFile(), home.path() / "admin-profile");
  TestMember sg = withKeyFile("sg-spf-cyber", "SG");
  TestMember my = withKeyFile("my-pdrm-cyber", "MY");
  std::vector<std::string> sgArgs = argsOf(sg);
  std::vector<std::string> myArgs = argsOf(my);

  TestMember withKeyFile(const std::string& id, const std::string& state) {
    return hub.createMember(id, state, wire::Institution::LAW_ENFORCEMENT, true);
  }
  std::vector<std::string> argsOf(const TestMember& m) const {
    return hub.cliGlobals(m.keyFile, home.path() / (m.id() + "-profile"));
  }

  // What an admin can log without the member: a new encryption key for
  // `who` (certified by its identity key, as `admin rotate` requires), as a
  // public key file. The member's key file no longer matches it.
  fs::path rotationByAdmin(const TestMember& who) {
    auto fresh = crypto::MemberKeys::generate(who.id(), nowMs());
    auto current = crypto::readKeyFile(who.keyFile, TestPassphrase);
    REQUIRE(current);
    fresh.identity = std::move(current->identity);
    const fs::path pub = home.path() / (who.id() + "-by-admin.pub");
    std::ofstream(pub) << crypto::formatPublicKeys(fresh.publicKeys());
    runCliJson(concat(adminArgs, {"admin", "rotate", who.id(), pub.string()}));
    return pub;
  }
};

ProcessResult cli(const std::vector<std::string>& globals, const std::vector<std::string>& command) {
  auto r = runCli(concat(concat(globals, {"--json"}), command));
  INFO("focal " << command.front() << " -> exit " << r.exitCode << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exitCode == 0);
  return r;
}

}  // namespace

TEST_CASE_METHOD(WatchedMembers,
                 "Self-monitoring: an admin's rotation of V's keys makes V's next commands show an alarm until V "
                 "acknowledges it",
                 "[integration][self-monitoring]") {
  cli(myArgs, {"directory"});  // the profile starts watching here
  CHECK(json::parse(cli(myArgs, {"alarms"}).out).at("alarms").empty());

  rotationByAdmin(my);
  const std::string admin = hub.adminKeys().memberId;
  for (int run = 0; run < 2; ++run) {  // shown by every command until acknowledged
    const auto next = cli(myArgs, {"inbox"});
    CHECK(countOf(next.err, "ALARM my-pdrm-cyber@") == 1);
    CHECK(next.err.find("was signed by " + admin + ", not by you") != std::string::npos);
    CHECK(next.err.find("focal alarms --ack") != std::string::npos);
  }
  // Other members are not alarmed by it.
  CHECK(cli(sgArgs, {"inbox"}).err.find("ALARM") == std::string::npos);

  const auto listed = json::parse(cli(myArgs, {"alarms"}).out).at("alarms");
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].at("kind") == "rotate-encryption");
  CHECK(listed[0].at("author_id") == admin);
  CHECK(listed[0].at("member_id") == "my-pdrm-cyber");
  const std::string id = listed[0].at("alarm_id");

  const auto acked = json::parse(cli(myArgs, {"alarms", "--ack", id}).out);
  CHECK(acked.at("acknowledged_ids") == json::array({id}));
  CHECK(cli(myArgs, {"inbox"}).err.find("ALARM") == std::string::npos);
  CHECK(runCli(concat(myArgs, {"alarms", "--ack", id})).exitCode == 5);  // gone
}

TEST_CASE_METHOD(WatchedMembers, "Self-monitoring: a member's own rotate-key from its profile raises no alarm",
                 "[integration][self-monitoring]") {
  cli(sgArgs, {"directory"});
  const fs::path next = home.path() / "sg-2.key";
  cli(sgArgs, {"rotate-key", "--out", next.string()});
  const auto after = runCli(concat(hub.cliGlobals(next, home.path() / "sg-profile"), {"--json", "inbox"}));
  CHECK(after.exitCode == 0);
  CHECK(after.err.find("ALARM") == std::string::npos);
  CHECK(json::parse(cli(sgArgs, {"alarms"}).out).at("alarms").empty());
}

TEST_CASE_METHOD(WatchedMembers,
                 "verify-log names the head the profile held before the run and the entries added since",
                 "[integration][self-monitoring]") {
  // SG corresponds with MY, then verifies.
  cli(sgArgs, {"send", "--to", "my-pdrm-cyber", "--tlp", "amber", "--category", "alert", "--title", "Hello",
               "--body", "b"});
  const auto first = json::parse(cli(sgArgs, {"verify-log"}).out);
  const auto size = first.at("entry_count").get<std::uint64_t>();
  CHECK(first.at("added_entries").empty());

  hub.createMember("th-tcsd", "TH");
  rotationByAdmin(my);
  const auto second = json::parse(cli(sgArgs, {"verify-log"}).out);
  CHECK(second.at("previous_entry_count") == size);
  CHECK(second.at("previous_head_signed_at") == first.at("head_signed_at"));
  CHECK(second.at("entry_count") == size + 2);
  const auto added = second.at("added_entries");
  REQUIRE(added.size() == 2);
  CHECK(added[0].at("log_index") == size);
  CHECK(added[0].at("kind") == "register");
  CHECK(added[0].at("member_id") == "th-tcsd");
  CHECK(added[0].at("correspondent") == false);
  CHECK(added[1].at("kind") == "rotate-encryption");
  CHECK(added[1].at("member_id") == "my-pdrm-cyber");
  CHECK(added[1].at("correspondent") == true);
  CHECK(added[1].at("about_you") == false);

  // The text names the old size and the new entries.
  hub.createMember("vn-a05", "VN");
  const auto text = runCli(concat(sgArgs, {"verify-log"}));
  REQUIRE(text.exitCode == 0);
  CHECK(text.out.find("held before this run: " + std::to_string(size + 2) + " entries") != std::string::npos);
  CHECK(text.out.find("1 entry added since:") != std::string::npos);
  CHECK(text.out.find("about vn-a05") != std::string::npos);
}

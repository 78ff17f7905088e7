// Summary records and the silence procedure against a real focald whose
// clock the test moves (focald run --test-clock FILE): the real CLI sends,
// comments, asks for the state, withdraws and verifies the log; refusals
// the CLI cannot produce are sent through the client library.
//
// Clock arithmetic: members sign with the real time and the hub accepts
// timestamps within ±10 minutes of its clock, so every test moves the hub
// clock by at most a few minutes and uses comment windows that fit.
#include "hub_fixture.hpp"

#include "client/client_error.hpp"
#include "protocol/consensus.hpp"
#include "protocol/log.hpp"
#include "protocol/records.hpp"
#include "server/sqlite.hpp"
#include "tests/support/deadline.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <thread>

using namespace focal;
using namespace focal::test;
using nlohmann::json;
namespace sq = focal::server::sqlite;

namespace {

// A member with a key file and a CLI profile of its own.
struct CliMember {
  TestMember member;
  std::vector<std::string> args;
};

CliMember cliMember(Hub& hub, const TempDir& home, const std::string& id, const std::string& state,
                    wire::Institution institution = wire::Institution::LAW_ENFORCEMENT) {
  CliMember m;
  m.member = hub.createMember(id, state, institution, true);
  m.args = hub.cliGlobals(m.member.keyFile, home.path() / (id + "-profile"));
  return m;
}

// Two points of contact of SG, one of MY, a dialogue partner and the
// secretariat, each with a CLI profile; and the admin's CLI arguments.
struct AseanWorld {
  Hub hub;
  TempDir home;
  CliMember sg1 = cliMember(hub, home, "sg-spf-cyber", "SG");
  CliMember sg2 = cliMember(hub, home, "sg-csa-policy", "SG", wire::Institution::POLICY_SECURITY);
  CliMember my = cliMember(hub, home, "my-pdrm-cyber", "MY");
  CliMember partner = cliMember(hub, home, "jp-npa-partner", "", wire::Institution::DIALOGUE_PARTNER);
  CliMember sec = cliMember(hub, home, "sg-asean-sec", "SG", wire::Institution::SECRETARIAT);
  std::vector<std::string> adminArgs = hub.cliGlobals(hub.adminKeyFile(), home.path() / "admin-profile");
};

// A hub on a test clock, the secretariat that circulates summary records,
// and two points of contact who comment.
struct SilenceProcedure {
  Hub hub{HubOptions{.limits = {}, .testClock = true}};
  TempDir home;
  CliMember sec = cliMember(hub, home, "sg-asean-sec", "SG", wire::Institution::SECRETARIAT);
  CliMember my = cliMember(hub, home, "my-pdrm-cyber", "MY");
  CliMember th = cliMember(hub, home, "th-tcsd", "TH");
};

// Two member states that decide on the admin's amendment proposals.
struct AmendmentVoters {
  Hub hub;
  TempDir home;
  CliMember sg = cliMember(hub, home, "sg-spf-cyber", "SG");
  CliMember my = cliMember(hub, home, "my-pdrm-cyber", "MY");
  std::vector<std::string> adminArgs = hub.cliGlobals(hub.adminKeyFile(), home.path() / "admin-profile");
};

// The hub closes deadlines on its own task: wait (bounded) for the state.
json waitForState(const std::vector<std::string>& args, const std::string& id, const std::string& state) {
  json st;
  const bool reached = test_support::waitUntil(
      [&] {
        st = runCliJson(concat(args, {"record-status", id}));
        return st.at("state") == state;
      },
      std::chrono::seconds(60), std::chrono::milliseconds(50));
  if (!reached) FAIL("record " << id << " never reached " << state << "; last: " << st.dump());
  return st;
}

std::string sendRecord(const CliMember& from, const std::string& to, const std::string& window,
                       const std::string& revises = "") {
  std::vector<std::string> cmd{"send", "--summary-record", "--to", to, "--tlp", "green", "--title",
                               "WG on CC summary record", "--body", "1. Opening. 2. Trends. 3. Next meeting.",
                               "--comment-window", window};
  if (!revises.empty()) {
    cmd.push_back("--revises");
    cmd.push_back(revises);
  }
  return runCliJson(concat(from.args, cmd)).at("bulletin_id").get<std::string>();
}

wire::ErrorCode commentRefusal(Hub& hub, const TestMember& who, const crypto::BulletinId& record,
                               const crypto::BoxPublicKey& senderKey, bool objection = false) {
  auto c = hub.connect(who.keys);
  try {
    c->comment(protocol::makeComment(record, objection, "late", senderKey, who.keys, nowMs()));
  } catch (const client::HubError& e) {
    return e.code();
  }
  return wire::ErrorCode::INTERNAL;  // accepted: the caller's CHECK fails
}

crypto::BulletinId idOf(const std::string& hex) { return *crypto::BulletinId::fromBytes(*crypto::fromHex(hex)); }

}  // namespace

TEST_CASE_METHOD(SilenceProcedure,
                 "Silence procedure: without objection the hub approves the record at the deadline, also after a "
                 "restart",
                 "[integration][consensus]") {
  const auto id = sendRecord(sec, "my-pdrm-cyber,th-tcsd", "90s");
  auto st = runCliJson(concat(sec.args, {"record-status", id}));
  CHECK(st.at("state") == "pending");
  CHECK(st.at("outcome_log_index").is_null());
  // MY reads and acknowledges it; TH stays silent.
  auto read = runCliJson(concat(my.args, {"read", id}));
  CHECK(read.at("summary_record") == true);
  CHECK(read.at("comment_deadline_at").is_string());
  runCliJson(concat(my.args, {"ack", id}));

  hub.advanceClock(100'000);
  st = waitForState(sec.args, id, "approved");
  CHECK(st.at("outcome_log_index").get<std::uint64_t>() > 0);
  CHECK(st.at("acknowledged_by_ids") == json::array({"my-pdrm-cyber"}));
  CHECK(st.at("comments").empty());
  // A recipient sees the same, and its client verifies the log with the
  // hub-signed recordApproved entry in it.
  CHECK(runCliJson(concat(th.args, {"record-status", id})).at("state") == "approved");
  runCliJson(concat(th.args, {"verify-log"}));
  // Too late to comment now.
  CHECK(commentRefusal(hub, th.member, idOf(id), sec.member.keys.encryption.publicKey) ==
        wire::ErrorCode::POLICY_DENIED);

  // A deadline that passes while the hub is down is closed at startup.
  const auto second = sendRecord(sec, "my-pdrm-cyber", "4m");
  hub.stop();
  hub.advanceClock(300'000);
  hub.start();  // on a new port
  sec.args = hub.cliGlobals(sec.member.keyFile, home.path() / "sg-asean-sec-profile");
  my.args = hub.cliGlobals(my.member.keyFile, home.path() / "my-pdrm-cyber-profile");
  auto st2 = waitForState(sec.args, second, "approved");
  CHECK(st2.at("outcome_log_index").get<std::uint64_t>() > st.at("outcome_log_index").get<std::uint64_t>());
  runCliJson(concat(my.args, {"verify-log"}));
}

TEST_CASE_METHOD(SilenceProcedure,
                 "Silence procedure: an objection blocks approval, a revision supersedes, a retraction withdraws, and "
                 "refusals",
                 "[integration][consensus]") {
  auto ph = cliMember(hub, home, "ph-nbi-cyber", "PH");
  const auto& secKey = sec.member.keys.encryption.publicKey;

  // Only the secretariat circulates summary records.
  auto refused = runCliJson(concat(my.args, {"send", "--summary-record", "--to", "th-tcsd", "--tlp", "green", "--title",
                                          "not mine to send", "--body", "x"}),
                         2);
  CHECK(refused.at("error").at("code") == "forbidden");

  const auto disputed = sendRecord(sec, "my-pdrm-cyber,th-tcsd", "90s");
  const auto control = sendRecord(sec, "my-pdrm-cyber", "90s");

  runCliJson(concat(my.args, {"comment", disputed, "--text", "Fine by Malaysia"}));
  runCliJson(concat(th.args, {"comment", disputed, "--text", "Item 2 misquotes Thailand", "--objection"}));
  // Refusals: a member the record was not sent to, the sender itself, a
  // second (different) comment by the same member, a comment on a bulletin
  // that is not a summary record.
  CHECK(commentRefusal(hub, ph.member, idOf(disputed), secKey) == wire::ErrorCode::NOT_FOUND);
  CHECK(commentRefusal(hub, sec.member, idOf(disputed), secKey) == wire::ErrorCode::FORBIDDEN);
  CHECK(commentRefusal(hub, th.member, idOf(disputed), secKey, true) == wire::ErrorCode::DUPLICATE);
  const auto plain = runCliJson(concat(sec.args, {"send", "--to", "ph-nbi-cyber", "--tlp", "green", "--category",
                                               "other", "--title", "plain", "--body", "x"}))
                         .at("bulletin_id")
                         .get<std::string>();
  CHECK(commentRefusal(hub, ph.member, idOf(plain), secKey) == wire::ErrorCode::INVALID_REQUEST);
  auto cli = runCliJson(concat(ph.args, {"comment", plain, "--text", "x"}), 1);
  CHECK(cli.at("error").at("code") == "not-a-record");

  // Before the deadline the objection already shows.
  auto st = runCliJson(concat(sec.args, {"record-status", disputed}));
  CHECK(st.at("state") == "objected");
  REQUIRE(st.at("comments").size() == 2);
  // The sender reads the comments' sealed text; the hub could not.
  CHECK(st.at("comments")[1].at("member_id") == "th-tcsd");
  CHECK(st.at("comments")[1].at("objection") == true);
  CHECK(st.at("comments")[1].at("text") == "Item 2 misquotes Thailand");
  CHECK(runCliJson(concat(my.args, {"record-status", disputed})).at("comments")[1].at("text").is_null());
  // A member who holds neither record is told nothing.
  CHECK(runCliJson(concat(ph.args, {"record-status", disputed}), 5).at("error").at("code") == "not-found");

  // The deadline passes: the control record is approved in the same pass
  // that leaves the disputed one objected.
  hub.advanceClock(100'000);
  waitForState(sec.args, control, "approved");
  st = runCliJson(concat(sec.args, {"record-status", disputed}));
  CHECK(st.at("state") == "objected");
  CHECK(st.at("outcome_log_index").is_null());

  // The secretariat circulates a revision: the old record is superseded.
  const auto revision = sendRecord(sec, "my-pdrm-cyber,th-tcsd", "5m", disputed);
  CHECK(runCliJson(concat(sec.args, {"record-status", disputed})).at("state") == "superseded");
  CHECK(runCliJson(concat(sec.args, {"record-status", revision})).at("state") == "pending");
  // A closed record cannot be revised again.
  auto again = runCliJson(concat(sec.args, {"send", "--summary-record", "--to", "my-pdrm-cyber", "--tlp", "green",
                                         "--title", "again", "--body", "x", "--revises", disputed}),
                       2);
  CHECK(again.at("error").at("code") == "policy-denied");

  // ... and withdraws the revision by retracting it.
  runCliJson(concat(sec.args, {"retract", revision, "--reason", "to be discussed at the next meeting"}));
  CHECK(runCliJson(concat(sec.args, {"record-status", revision})).at("state") == "withdrawn");
  CHECK(commentRefusal(hub, my.member, idOf(revision), secKey) == wire::ErrorCode::POLICY_DENIED);
  runCliJson(concat(th.args, {"verify-log"}));
}

TEST_CASE_METHOD(AseanWorld,
                 "Admission by consensus: every member state with a point of contact must approve, once per state",
                 "[integration][consensus]") {

  // The candidate makes its own key pair.
  const auto candKey = home.path() / "acme.key";
  runCliJson({"keygen", "--member", "acme-labs", "--out", candKey.string(), "--kdf", "interactive"});
  const auto pub = candKey.string() + ".pub";

  // Only an admin proposes.
  auto notAdmin = runCliJson(concat(sg1.args, {"admin", "propose-admission", pub, "--name", "ACME Threat Labs"}), 2);
  CHECK(notAdmin.at("error").at("code") == "forbidden");
  const auto pid = runCliJson(concat(adminArgs, {"admin", "propose-admission", pub, "--institution", "resource-panel",
                                              "--name", "ACME Threat Labs", "--expires", "14d"}))
                       .at("proposal_id")
                       .get<std::string>();
  auto listed = runCliJson(concat(my.args, {"proposals"}));
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].at("state") == "open");
  CHECK(listed[0].at("missing_states") == json::array({"MY", "SG"}));

  // Not points of contact of a member state: a dialogue partner, the
  // secretariat, the admin (policy-security without a state).
  for (const auto& args : {partner.args, sec.args, adminArgs}) {
    auto r = runCliJson(concat(args, {"approve", pid}), 2);
    CHECK(r.at("error").at("code") == "forbidden");
  }
  // Two points of contact of Singapore are one state.
  CHECK(runCliJson(concat(sg1.args, {"approve", pid})).at("state") == "open");
  CHECK(runCliJson(concat(sg2.args, {"approve", pid})).at("state") == "open");
  listed = runCliJson(concat(my.args, {"proposals"}));
  CHECK(listed[0].at("missing_states") == json::array({"MY"}));
  CHECK(runCliJson(concat(sg1.args, {"approve", pid}), 2).at("error").at("code") == "duplicate");
  CHECK(runCliJson(concat(sg1.args, {"directory"})).dump().find("acme-labs") == std::string::npos);

  // Malaysia completes the consensus: the member is admitted by a hub-signed
  // log entry that every client re-verifies.
  CHECK(runCliJson(concat(my.args, {"approve", pid})).at("state") == "adopted");
  listed = runCliJson(concat(sg1.args, {"proposals"}));
  CHECK(listed[0].at("state") == "adopted");
  CHECK(listed[0].at("outcome_log_index").get<std::uint64_t>() > 0);
  CHECK(runCliJson(concat(partner.args, {"directory"})).dump().find("acme-labs") != std::string::npos);
  runCliJson(concat(partner.args, {"verify-log"}));
  runCliJson(concat(sg2.args, {"verify-log"}));
  // The admitted member can use the hub.
  auto candKeys = crypto::readKeyFile(candKey, TestPassphrase);
  REQUIRE(candKeys);
  CHECK_NOTHROW(hub.connect(*candKeys));
  // A decision on a closed proposal is refused.
  CHECK(runCliJson(concat(sg2.args, {"reject", pid}), 2).at("error").at("code") == "policy-denied");

  // A rejection ends a proposal.
  const auto key2 = home.path() / "other.key";
  runCliJson({"keygen", "--member", "other-labs", "--out", key2.string(), "--kdf", "interactive"});
  const auto pid2 = runCliJson(concat(adminArgs, {"admin", "propose-admission", key2.string() + ".pub", "--name",
                                               "Other Labs"}))
                        .at("proposal_id")
                        .get<std::string>();
  // The newly admitted resource-panel member does not decide either.
  const auto acmeArgs = hub.cliGlobals(candKey, home.path() / "acme-profile");
  CHECK(runCliJson(concat(acmeArgs, {"approve", pid2}), 2).at("error").at("code") == "forbidden");
  CHECK(runCliJson(concat(sg1.args, {"reject", pid2})).at("state") == "rejected");
  CHECK(runCliJson(concat(my.args, {"approve", pid2}), 2).at("error").at("code") == "policy-denied");
  CHECK(runCliJson(concat(sg1.args, {"directory"})).dump().find("other-labs") == std::string::npos);
}

TEST_CASE("Admission by consensus: an expired proposal cannot be approved", "[integration][consensus]") {
  HubOptions options;
  options.testClock = true;
  Hub hub(options);
  TempDir home;
  auto sg = cliMember(hub, home, "sg-spf-cyber", "SG");
  const auto adminArgs = hub.cliGlobals(hub.adminKeyFile(), home.path() / "admin-profile");
  const auto key = home.path() / "late.key";
  runCliJson({"keygen", "--member", "late-labs", "--out", key.string(), "--kdf", "interactive"});
  const auto pid = runCliJson(concat(adminArgs, {"admin", "propose-admission", key.string() + ".pub", "--name",
                                              "Late Labs", "--expires", "90s"}))
                       .at("proposal_id")
                       .get<std::string>();
  hub.advanceClock(120'000);
  CHECK(runCliJson(concat(sg.args, {"proposals"}))[0].at("state") == "expired");
  CHECK(runCliJson(concat(sg.args, {"approve", pid}), 2).at("error").at("code") == "policy-denied");
  CHECK(runCliJson(concat(sg.args, {"directory"})).dump().find("late-labs") == std::string::npos);
}

// ---- amendments by consensus (terms of reference §IX) -------------------------------------

namespace {

const std::string AmendmentText =
    "Para 10: the summary record is considered approved unless comments are received within ten days.";

std::string proposeAmendment(const std::vector<std::string>& adminArgs, const std::string& text,
                             const std::string& expires = "14d") {
  auto r = runCliJson(concat(adminArgs, {"admin", "propose-amendment", "--text", text, "--expires", expires}));
  CHECK(r.at("kind") == "amendment");
  return r.at("proposal_id").get<std::string>();
}

json listed(const std::vector<std::string>& args, const std::string& pid) {
  for (const auto& p : runCliJson(concat(args, {"proposals"}))) {
    if (p.at("proposal_id") == pid) return p;
  }
  FAIL("proposal " << pid << " is not listed");
  return {};
}

// The entries of `focal admin log --json` of kind `kind`.
std::vector<json> logEntriesOfKind(const std::vector<std::string>& adminArgs, const std::string& kind) {
  std::vector<json> out;
  const auto log = runCliJson(concat(adminArgs, {"admin", "log"}));
  for (const auto& e : log.at("entries")) {
    if (e.at("kind") == kind) out.push_back(e);
  }
  return out;
}

wire::ErrorCode proposeRefusal(Hub& hub, const std::string& text) {
  auto c = hub.connect(hub.adminKeys());
  try {
    c->propose(protocol::makeAmendmentProposal(text, hub.adminKeys(), nowMs(), nowMs() + 86'400'000));
  } catch (const client::HubError& e) {
    return e.code();
  }
  return wire::ErrorCode::INTERNAL;  // accepted: the caller's CHECK fails
}

}  // namespace

TEST_CASE_METHOD(AseanWorld,
                 "Amendment by consensus: adopted when a point of contact of every member state approved, logged, "
                 "and re-verified by every client",
                 "[integration][consensus][amendment]") {

  // Only an admin proposes; the text must be there and fit.
  auto notAdmin = runCliJson(concat(sg1.args, {"admin", "propose-amendment", "--text", AmendmentText}), 2);
  CHECK(notAdmin.at("error").at("code") == "forbidden");
  CHECK(runCliJson(concat(adminArgs, {"admin", "propose-amendment"}), 1).at("error").at("code") == "bad-text");
  CHECK(proposeRefusal(hub, "") == wire::ErrorCode::INVALID_REQUEST);
  CHECK(proposeRefusal(hub, std::string(protocol::MaxAmendmentTextBytes + 1, 'x')) == wire::ErrorCode::INVALID_REQUEST);

  // From a file, as a change to the terms of reference would be written.
  const auto textFile = home.path() / "tor-para-10.txt";
  { std::ofstream(textFile) << AmendmentText; }
  const auto pid = runCliJson(concat(adminArgs, {"admin", "propose-amendment", "--text-file", textFile.string()}))
                       .at("proposal_id")
                       .get<std::string>();
  auto p = listed(my.args, pid);
  CHECK(p.at("kind") == "amendment");
  CHECK(p.at("text") == AmendmentText);
  CHECK(p.at("state") == "open");
  CHECK(p.at("missing_states") == json::array({"MY", "SG"}));

  // Not points of contact of a member state: a dialogue partner, the
  // secretariat, the admin (without a state).
  for (const auto& args : {partner.args, sec.args, adminArgs}) {
    auto r = runCliJson(concat(args, {"approve", pid}), 2);
    CHECK(r.at("error").at("code") == "forbidden");
    CHECK_THAT(r.at("error").at("message").get<std::string>(), Catch::Contains("point of contact of a member state"));
  }
  // Two points of contact of Singapore are one state; a second decision by
  // the same member is refused.
  auto first = runCliJson(concat(sg1.args, {"approve", pid}));
  CHECK(first.at("kind") == "amendment");
  CHECK(first.at("state") == "open");
  CHECK(runCliJson(concat(sg2.args, {"approve", pid})).at("state") == "open");
  CHECK(runCliJson(concat(sg1.args, {"approve", pid}), 2).at("error").at("code") == "duplicate");
  p = listed(sg1.args, pid);
  CHECK(p.at("approved_states") == json::array({"SG"}));
  CHECK(p.at("missing_states") == json::array({"MY"}));
  CHECK(p.at("outcome_log_index").is_null());
  CHECK(logEntriesOfKind(adminArgs, "amendment").empty());

  // Malaysia completes it: a hub-signed amendment entry with one approval per state.
  CHECK(runCliJson(concat(my.args, {"approve", pid})).at("state") == "adopted");
  p = listed(partner.args, pid);
  CHECK(p.at("state") == "adopted");
  const auto index = p.at("outcome_log_index").get<std::uint64_t>();
  const auto entries = logEntriesOfKind(adminArgs, "amendment");
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].at("log_index") == index);
  CHECK(entries[0].at("proposal_id") == pid);
  CHECK(entries[0].at("text") == AmendmentText);
  CHECK(entries[0].at("approvals") == 2);
  CHECK(entries[0].at("author_id") == runCliJson(concat(adminArgs, {"admin", "log"})).at("hub_id"));
  // Every client re-verifies it, a fresh one from entry 0 too; the directory is unchanged.
  for (const auto* m : {&partner, &sg2, &my}) runCliJson(concat(m->args, {"verify-log"}));
  runCliJson(concat(hub.cliGlobals(sec.member.keyFile, home.path() / "fresh-profile"), {"verify-log"}));
  CHECK(runCliJson(concat(sg1.args, {"directory"})).dump() == runCliJson(concat(sg2.args, {"directory"})).dump());
  // A decision on an adopted proposal is refused; focald replays the entry at restart.
  CHECK(runCliJson(concat(sg2.args, {"reject", pid}), 2).at("error").at("code") == "policy-denied");
  hub.restart();
  my.args = hub.cliGlobals(my.member.keyFile, home.path() / "my-pdrm-cyber-profile");
  runCliJson(concat(my.args, {"verify-log"}));
  CHECK(listed(my.args, pid).at("state") == "adopted");
}

TEST_CASE_METHOD(AmendmentVoters, "Amendment by consensus: a missing state keeps it open, one rejection ends it",
                 "[integration][consensus][amendment]") {
  auto th = cliMember(hub, home, "th-tcsd", "TH");

  const auto pid = proposeAmendment(adminArgs, "Para 5: the WG on CC convenes twice a year.");
  CHECK(runCliJson(concat(sg.args, {"approve", pid})).at("state") == "open");
  CHECK(runCliJson(concat(my.args, {"approve", pid})).at("state") == "open");
  // Thailand has not decided: the amendment stays open, naming it.
  auto p = listed(sg.args, pid);
  CHECK(p.at("state") == "open");
  CHECK(p.at("missing_states") == json::array({"TH"}));
  CHECK(logEntriesOfKind(adminArgs, "amendment").empty());
  // Thailand objects: one rejection ends it, whatever came before.
  auto rejected = runCliJson(concat(th.args, {"reject", pid}));
  CHECK(rejected.at("decision") == "reject");
  CHECK(rejected.at("state") == "rejected");
  p = listed(my.args, pid);
  CHECK(p.at("state") == "rejected");
  CHECK(p.at("rejected_by_ids") == json::array({"th-tcsd"}));
  CHECK(p.at("outcome_log_index").is_null());
  CHECK(runCliJson(concat(th.args, {"approve", pid}), 2).at("error").at("code") == "policy-denied");
  CHECK(logEntriesOfKind(adminArgs, "amendment").empty());
  runCliJson(concat(th.args, {"verify-log"}));
}

TEST_CASE_METHOD(AmendmentVoters,
                 "Consensus: an approval made before its author rotated its identity key still counts, at the hub and "
                 "in every client",
                 "[integration][consensus][amendment]") {
  const auto pid = proposeAmendment(adminArgs, "Para 7: resource panel requests go to both co-chairs.");
  CHECK(runCliJson(concat(sg.args, {"approve", pid})).at("state") == "open");
  // Singapore's point of contact replaces its identity key after approving.
  const auto sgNew = home.path() / "sg-2.key";
  runCliJson(concat(sg.args, {"rotate-key", "--out", sgNew.string(), "--identity", "--kdf", "interactive"}));
  const auto sgArgs2 = hub.cliGlobals(sgNew, home.path() / "sg-spf-cyber-profile");
  // The listing still verifies Singapore's decision (under its old key).
  CHECK(listed(sgArgs2, pid).at("missing_states") == json::array({"MY"}));
  // Malaysia completes the consensus: adopted, with Singapore's approval
  // signed by a key that is no longer its current one.
  CHECK(runCliJson(concat(my.args, {"approve", pid})).at("state") == "adopted");
  CHECK(listed(my.args, pid).at("state") == "adopted");
  REQUIRE(logEntriesOfKind(adminArgs, "amendment").size() == 1);
  runCliJson(concat(my.args, {"verify-log"}));
  runCliJson(concat(sgArgs2, {"verify-log"}));
  runCliJson(concat(hub.cliGlobals(my.member.keyFile, home.path() / "fresh-profile"), {"verify-log"}));
  // The hub replays the same rule at startup.
  hub.restart();
  runCliJson(concat(hub.cliGlobals(my.member.keyFile, home.path() / "my-pdrm-cyber-profile"), {"verify-log"}));
}

TEST_CASE_METHOD(AmendmentVoters,
                 "A forged or tampered amendment entry served by the hub fails every client's log verification",
                 "[integration][consensus][amendment][tamper]") {
  const auto pid = proposeAmendment(adminArgs, AmendmentText);
  runCliJson(concat(sg.args, {"approve", pid}));
  runCliJson(concat(my.args, {"approve", pid}));
  const auto index = listed(sg.args, pid).at("outcome_log_index").get<std::uint64_t>();
  hub.stop();

  // The operator holds the hub key: it can sign any entry it likes. What it
  // cannot make is the admin's and the states' signatures.
  crypto::Bytes keyBytes(64);
  {
    std::ifstream in(hub.dir() / "hub.key", std::ios::binary);
    in.read(reinterpret_cast<char*>(keyBytes.data()), 64);
    REQUIRE(in.gcount() == 64);
  }
  const auto hubKey = crypto::SigningKeyPair::fromSecret(*crypto::SigningSecretKey::fromBytes(keyBytes));
  crypto::Bytes stored;
  {
    auto db = sq::Database::open(hub.database(), sq::Database::Mode::ReadOnly);
    auto s = db.prepare("SELECT event FROM log_entries WHERE idx = ?1");
    s->bind(1, static_cast<std::int64_t>(index));
    REQUIRE(s->step());
    stored = s->columnBlob(0);
  }
  auto original = protocol::decode<wire::LogEvent>(stored);
  REQUIRE(original);
  REQUIRE(original->root().which() == wire::LogEvent::AMENDMENT);
  const auto outcome = original->root().getAmendment();
  REQUIRE(outcome.getApprovals().size() == 2);
  // Re-signs a rewritten entry at `index` with the hub key.
  auto forge = [&](const std::function<void(wire::LogEvent::Builder)>& build) {
    capnp::MallocMessageBuilder mb;
    auto e = mb.initRoot<wire::LogEvent>();
    e.setIssuedAtMs(original->root().getIssuedAtMs());
    e.setPosition(original->root().getPosition());  // the hub signs its own entries' places too
    build(e);
    auto signedEvent = protocol::signLogEvent(mb, hubKey.secretKey);
    auto db = sq::Database::open(hub.database(), sq::Database::Mode::ReadWrite);
    auto s = db.prepare("UPDATE log_entries SET event = ?2, signature = ?3 WHERE idx = ?1");
    s->bind(1, static_cast<std::int64_t>(index))
        .bind(2, crypto::ByteView(signedEvent.event))
        .bind(3, signedEvent.signature.view());
    s->run();
    db.exec("DELETE FROM log_heads");  // the liar signs a head over what it serves
  };
  std::string expected;
  SECTION("a member state's approval left out") {
    forge([&](wire::LogEvent::Builder e) {
      auto a = e.initAmendment();
      a.setProposal(outcome.getProposal());
      auto approvals = a.initApprovals(1);
      for (auto d : outcome.getApprovals()) {
        auto parsed = protocol::decode<wire::Decision>(protocol::view(d.getBody()));
        if (parsed && protocol::view(parsed->root().getMemberId()) == "sg-spf-cyber") approvals.setWithCaveats(0, d);
      }
    });
    expected = "member state MY has not approved";
  }
  SECTION("one state's approval counted twice") {
    forge([&](wire::LogEvent::Builder e) {
      auto a = e.initAmendment();
      a.setProposal(outcome.getProposal());
      auto approvals = a.initApprovals(3);
      for (unsigned i = 0; i < 2; ++i) approvals.setWithCaveats(i, outcome.getApprovals()[i]);
      approvals.setWithCaveats(2, outcome.getApprovals()[0]);
    });
    expected = "approves twice";
  }
  SECTION("another text, validly signed by the admin, under the approvals of the real one") {
    const auto other = protocol::makeAmendmentProposal("Para 10: the secretariat approves summary records alone.",
                                                       hub.adminKeys(), nowMs(), nowMs() + 86'400'000);
    forge([&](wire::LogEvent::Builder e) {
      auto a = e.initAmendment();
      auto prop = a.initProposal();
      prop.setBody(protocol::kjBytes(other.body));
      prop.setSignature(protocol::kjBytes(other.signature.view()));
      a.setApprovals(outcome.getApprovals());
    });
    expected = "for another proposal";
  }
  SECTION("the amendment passed off as an admission") {
    forge([&](wire::LogEvent::Builder e) {
      auto a = e.initAdmission();
      a.setProposal(outcome.getProposal());
      a.setApprovals(outcome.getApprovals());
    });
    expected = "admission without a proposal";
  }
  // The real focald refuses to serve it ...
  CHECK_THROWS(hub.start());
  // ... a hub that serves it anyway is caught by a client that verified the
  // log before and by one that never saw it.
  hub.setExecutable(FOCAL_LYING_HUB_PATH);
  hub.start();
  auto seen = runCliJson(concat(hub.cliGlobals(sg.member.keyFile, home.path() / "sg-spf-cyber-profile"), {"verify-log"}), 3);
  CHECK_THAT(seen.at("error").at("message").get<std::string>(),
             Catch::Contains("fork") && Catch::Contains("entry " + std::to_string(index) + " differs"));
  auto fresh = runCliJson(concat(hub.cliGlobals(sg.member.keyFile, home.path() / "fresh-profile"), {"verify-log"}), 3);
  CHECK_THAT(fresh.at("error").at("message").get<std::string>(),
             Catch::Contains("log entry " + std::to_string(index)) && Catch::Contains(expected));
}

// The working group's meetings (issue 25, PROTOCOL.md §12.8) against a real
// focald: the secretariat creates a meeting with an invited resource-panel
// member, its papers reach exactly the participants, its summary record is
// bound to it and approved by silence, and the report shows the outcome.
// Every role check has its refusal here.
#include "hub_fixture.hpp"

#include "client/client_error.hpp"
#include "crypto/primitives.hpp"
#include "protocol/meeting.hpp"
#include "protocol/records.hpp"
#include "protocol/work_programme.hpp"
#include "tests/support/deadline.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

using namespace focal;
using namespace focal::test;
using nlohmann::json;

namespace {

struct MeetingMember {
  TestMember member;
  std::vector<std::string> args;
};

MeetingMember meetingMember(Hub& hub, const TempDir& home, const std::string& id, const std::string& state,
                            wire::Institution institution = wire::Institution::LAW_ENFORCEMENT) {
  MeetingMember m;
  m.member = hub.createMember(id, state, institution, true);
  m.args = hub.cliGlobals(m.member.keyFile, home.path() / (id + "-profile"));
  return m;
}

// Two member states, the secretariat, two dialogue partners (one invited)
// and a resource-panel member admitted by consensus (invited), on a hub
// whose clock the test moves (the summary record's comment window).
struct MeetingWorld {
  Hub hub{HubOptions{.limits = {}, .testClock = true}};
  TempDir home;
  MeetingMember sec = meetingMember(hub, home, "sg-asean-sec", "SG", wire::Institution::SECRETARIAT);
  MeetingMember sg = meetingMember(hub, home, "sg-spf-cyber", "SG");
  MeetingMember my = meetingMember(hub, home, "my-pdrm-cyber", "MY");
  MeetingMember jp = meetingMember(hub, home, "jp-npa-partner", "", wire::Institution::DIALOGUE_PARTNER);
  MeetingMember au = meetingMember(hub, home, "au-afp-partner", "", wire::Institution::DIALOGUE_PARTNER);
  MeetingMember panel = [this] {
    MeetingMember m;
    m.member = hub.admitByConsensus("rp-expert", wire::Institution::RESOURCE_PANEL,
                                    {&sg.member.keys, &my.member.keys}, true);
    m.args = hub.cliGlobals(m.member.keyFile, home.path() / "rp-expert-profile");
    return m;
  }();

  std::string createMeeting() {
    auto made = runCliJson(concat(sec.args, {"meeting", "create", "--title", "WG on CC 2027", "--host-state", "sg",
                                             "--date", "2027-03-15", "--invite", "rp-expert", "--invite",
                                             "jp-npa-partner"}));
    return made.at("meeting_id").get<std::string>();
  }
};

std::set<std::string> idsOf(const json& list) {
  std::set<std::string> out;
  for (const auto& v : list) out.insert(v.get<std::string>());
  return out;
}

bool inboxHas(const std::vector<std::string>& args, const std::string& id) {
  const auto inbox = runCliJson(concat(args, {"inbox"}));
  return std::any_of(inbox.begin(), inbox.end(), [&](const json& i) { return i.at("bulletin_id") == id; });
}

int exitOf(const std::vector<std::string>& args) { return runCli(args).exitCode; }

}  // namespace

TEST_CASE_METHOD(MeetingWorld,
                 "Meetings: the secretariat creates one with invited members and its paper reaches exactly its "
                 "participants",
                 "[integration][meetings]") {
  const auto id = createMeeting();
  // Listed, verified, to the delegations and the invited; not to a partner
  // who was not invited.
  for (const auto* who : {&sg, &my, &jp, &panel, &sec}) {
    const auto list = runCliJson(concat(who->args, {"meeting", "list"}));
    REQUIRE(list.at("meetings").size() == 1);
    CHECK(list.at("meetings")[0].at("meeting_id") == id);
    CHECK(list.at("meetings")[0].at("host_state") == "SG");
    CHECK(idsOf(list.at("meetings")[0].at("invited_ids")) == std::set<std::string>{"jp-npa-partner", "rp-expert"});
  }
  CHECK(runCliJson(concat(au.args, {"meeting", "list"})).at("meetings").empty());
  CHECK(exitOf(concat(au.args, {"meeting", "show", id})) == 5);

  // A paper to the whole meeting: the delegations and the invited, by default.
  const auto paper = runCliJson(concat(sec.args, {"send", "--meeting", id.substr(0, 8), "--tlp", "amber", "--title",
                                                  "Provisional agenda", "--body", "1. Opening"}));
  CHECK(idsOf(paper.at("recipient_ids")) ==
        std::set<std::string>{"jp-npa-partner", "my-pdrm-cyber", "rp-expert", "sg-spf-cyber"});
  const auto paperId = paper.at("bulletin_id").get<std::string>();
  const auto read = runCliJson(concat(jp.args, {"read", paperId}));
  CHECK(read.at("category") == "meeting-document");
  CHECK_FALSE(inboxHas(au.args, paperId));
  const auto shown = runCliJson(concat(my.args, {"meeting", "show", id}));
  REQUIRE(shown.at("papers").size() == 1);
  CHECK(shown.at("papers")[0].at("bulletin_id") == paperId);
  CHECK(idsOf(shown.at("participant_ids")).count("au-afp-partner") == 0);

  // TLP and addresses unchanged: GREEN to members reaches no partner or
  // panel member, even an invited one.
  const auto members = runCliJson(concat(sec.args, {"send", "--meeting", id, "--to", "members", "--tlp", "green",
                                                    "--title", "Delegations only", "--body", "x"}));
  CHECK(idsOf(members.at("recipient_ids")) == std::set<std::string>{"my-pdrm-cyber", "sg-spf-cyber"});
  CHECK_FALSE(inboxHas(jp.args, members.at("bulletin_id").get<std::string>()));

  // A meeting paper for a partner who was not invited: the hub refuses it.
  CHECK(exitOf(concat(sec.args, {"--json", "send", "--meeting", id, "--to", "au-afp-partner,my-pdrm-cyber", "--tlp",
                                 "green", "--title", "Misaddressed", "--body", "x"})) == 2);
  // Nor to a meeting that does not exist (the client finds none).
  CHECK(exitOf(concat(sec.args, {"send", "--meeting", std::string(32, 'a'), "--tlp", "green", "--title", "x",
                                 "--body", "x"})) == 5);
  // A member-state participant may table a paper too.
  const auto fromMy = runCliJson(concat(my.args, {"send", "--meeting", id, "--tlp", "green", "--title",
                                                  "MY country report", "--body", "x"}));
  CHECK(idsOf(fromMy.at("recipient_ids")).count("rp-expert") == 1);
}

TEST_CASE_METHOD(MeetingWorld, "Meetings: only the secretariat creates one and the hub checks every field",
                 "[integration][meetings]") {
  // A point of contact, a partner, a panel member: forbidden (exit 2).
  for (const auto* who : {&my, &jp, &panel}) {
    auto r = runCli(concat(who->args, {"--json", "meeting", "create", "--title", "Mine", "--host-state", "MY",
                                       "--date", "2027-01-10"}));
    CHECK(r.exitCode == 2);
    CHECK(r.out.find("forbidden") != std::string::npos);
  }
  // Invitations go to partners and the panel; a delegation member is refused.
  CHECK(exitOf(concat(sec.args, {"meeting", "create", "--title", "x", "--host-state", "SG", "--date", "2027-01-10",
                                 "--invite", "my-pdrm-cyber"})) == 2);
  // A host state with no delegation on this hub.
  CHECK(exitOf(concat(sec.args, {"meeting", "create", "--title", "x", "--host-state", "VN", "--date",
                                 "2027-01-10"})) == 2);
  // Bad input never leaves the client.
  CHECK(exitOf(concat(sec.args, {"meeting", "create", "--title", "x", "--host-state", "SG", "--date",
                                 "2027-02-30"})) == 1);
  CHECK(exitOf(concat(sec.args, {"meeting", "create", "--title", "x", "--host-state", "XX", "--date",
                                 "2027-02-01"})) == 1);
  CHECK(exitOf(concat(sec.args, {"meeting", "create", "--title", "two\nlines", "--host-state", "SG", "--date",
                                 "2027-02-01"})) == 1);

  // Through the library: a record signed by a point of contact naming the
  // secretariat as author fails the signature check under its session key;
  // one naming itself is forbidden; a malformed date is invalidRequest.
  auto c = hub.connect(my.member.keys);
  protocol::MeetingDraft d{"Forged", "SG", "2027-05-01", {}};
  try {
    (void)c->createMeeting(protocol::makeMeeting(d, my.member.keys, nowMs()));
    FAIL("a point of contact created a meeting");
  } catch (const client::HubError& e) {
    CHECK(e.code() == wire::ErrorCode::FORBIDDEN);
  }
  auto s = hub.connect(sec.member.keys);
  d.date = "2027-13-01";
  try {
    (void)s->createMeeting(protocol::makeMeeting(d, sec.member.keys, nowMs()));
    FAIL("a meeting with month 13 was accepted");
  } catch (const client::HubError& e) {
    CHECK(e.code() == wire::ErrorCode::INVALID_REQUEST);
  }
  // Nothing was stored by the refusals.
  CHECK(runCliJson(concat(sec.args, {"meeting", "list"})).at("meetings").empty());
}

TEST_CASE_METHOD(MeetingWorld,
                 "Meetings: the summary record is bound to its meeting and the report shows its approval from the log",
                 "[integration][meetings]") {
  const auto id = createMeeting();
  const auto paper = runCliJson(concat(sec.args, {"send", "--meeting", id, "--tlp", "green", "--title", "Agenda",
                                                  "--body", "1. Opening"}));
  const auto record = runCliJson(concat(sec.args, {"send", "--meeting", id, "--summary-record", "--tlp", "green",
                                                   "--title", "WG on CC 2027 summary record", "--body", "Agreed.",
                                                   "--comment-window", "90s"}));
  const auto recordId = record.at("bulletin_id").get<std::string>();
  CHECK(idsOf(record.at("recipient_ids")).count("rp-expert") == 1);
  // A summary record is the secretariat's even when bound to a meeting.
  CHECK(exitOf(concat(my.args, {"send", "--meeting", id, "--summary-record", "--tlp", "green", "--title", "x",
                                "--body", "x"})) == 2);
  hub.advanceClock(100'000);
  REQUIRE(test_support::waitUntil(
      [&] { return runCliJson(concat(sec.args, {"record-status", recordId})).at("state") == "approved"; },
      std::chrono::seconds(60), std::chrono::milliseconds(50)));

  // The report, as a delegation member who holds both: JSON and Markdown.
  const auto report = runCliJson(concat(my.args, {"meeting", "report", id}));
  CHECK(report.at("meeting_id") == id);
  REQUIRE(report.at("summary_records").size() == 1);
  CHECK(report.at("summary_records")[0].at("bulletin_id") == recordId);
  CHECK(report.at("summary_records")[0].at("state") == "approved");
  CHECK(report.at("summary_records")[0].at("approval_log_index").get<std::uint64_t>() > 0);
  REQUIRE(report.at("papers").size() == 1);
  CHECK(report.at("papers")[0].at("bulletin_id") == paper.at("bulletin_id"));
  const auto out = home.path() / "report.md";
  REQUIRE(runCli(concat(my.args, {"meeting", "report", id, "--out", out.string()})).exitCode == 0);
  std::ifstream f(out);
  const std::string md((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CHECK(md.find("# Report to the SOMTC: WG on CC 2027") != std::string::npos);
  CHECK(md.find("approved, recorded in the directory log at entry") != std::string::npos);
  CHECK(md.find("Agenda") != std::string::npos);
  // Not replaced without --force.
  CHECK(exitOf(concat(my.args, {"meeting", "report", id, "--out", out.string()})) == 1);
}

TEST_CASE_METHOD(MeetingWorld,
                 "Roles: the secretariat records focal points and the chair from an approved record, and the chair "
                 "proposes an admission",
                 "[integration][meetings][roles]") {
  // The decision: a summary record approved by silence.
  const auto record = runCliJson(concat(sec.args, {"send", "--summary-record", "--to", "members", "--tlp", "green",
                                                   "--title", "Appointments 2027", "--body",
                                                   "SG and MY name their SOMTC focal points; MY chairs 2027.",
                                                   "--comment-window", "90s"}));
  const auto decision = record.at("bulletin_id").get<std::string>();
  // Before the decision is in the log, no role can name it.
  CHECK(runCliJson(concat(sec.args, {"role", "assign", "sg-spf-cyber", "--role", "somtc-focal-point", "--decision",
                                     decision}),
                   2)
            .at("error")
            .at("code") == "policy-denied");
  hub.advanceClock(100'000);
  REQUIRE(test_support::waitUntil(
      [&] { return runCliJson(concat(sec.args, {"record-status", decision})).at("state") == "approved"; },
      std::chrono::seconds(60), std::chrono::milliseconds(50)));

  const auto fp = runCliJson(concat(sec.args, {"role", "assign", "sg-spf-cyber", "--role", "somtc-focal-point",
                                               "--decision", decision}));
  CHECK(fp.at("log_index").get<std::uint64_t>() > 0);
  runCliJson(concat(sec.args, {"role", "assign", "my-pdrm-cyber", "--role", "somtc-focal-point", "--decision", decision}));
  runCliJson(concat(sec.args, {"role", "assign", "my-pdrm-cyber", "--role", "chair", "--term", "2027", "--decision",
                               decision}));
  // Refusals: a second focal point for SG, a non-secretariat setting roles,
  // a partner as chair.
  CHECK(runCliJson(concat(sec.args, {"role", "assign", "sg-asean-sec", "--role", "somtc-focal-point", "--decision",
                                     decision}),
                   2)
            .at("error")
            .at("code") == "policy-denied");
  CHECK(runCliJson(concat(my.args, {"role", "assign", "sg-spf-cyber", "--role", "co-chair", "--term", "2027",
                                    "--decision", decision}),
                   2)
            .at("error")
            .at("code") == "forbidden");
  CHECK(runCliJson(concat(sec.args, {"role", "assign", "jp-npa-partner", "--role", "co-chair", "--term", "2027",
                                     "--decision", decision}),
                   2)
            .at("error")
            .at("code") == "invalid-request");

  // Every client sees the roles from its verified log.
  const auto dir = runCliJson(concat(jp.args, {"directory"}));
  std::map<std::string, json> roles;
  for (const auto& m : dir) roles[m.at("member_id").get<std::string>()] = m.at("wg_roles");
  REQUIRE(roles.at("my-pdrm-cyber").size() == 2);
  CHECK(roles.at("sg-spf-cyber")[0].at("role") == "somtc-focal-point");
  CHECK(roles.at("sg-asean-sec").empty());
  runCliJson(concat(jp.args, {"verify-log"}));

  // The address reaches exactly the focal points.
  const auto sent = runCliJson(concat(sec.args, {"send", "--to", "somtc-focal-points", "--tlp", "green", "--category",
                                                 "other", "--title", "Draft for your comments", "--body", "x"}));
  CHECK(idsOf(sent.at("recipient_ids")) == std::set<std::string>{"my-pdrm-cyber", "sg-spf-cyber"});

  // The chair proposes a resource-panel admission; a point of contact may not.
  const auto key = home.path() / "acme.key";
  runCliJson({"keygen", "--member", "acme-labs", "--out", key.string(), "--kdf", "interactive"});
  CHECK(runCliJson(concat(sg.args, {"admin", "propose-admission", key.string() + ".pub", "--name", "ACME Labs"}), 2)
            .at("error")
            .at("code") == "forbidden");
  const auto pid = runCliJson(concat(my.args, {"admin", "propose-admission", key.string() + ".pub", "--name",
                                               "ACME Labs"}))
                       .at("proposal_id")
                       .get<std::string>();
  runCliJson(concat(sg.args, {"approve", pid}));
  const auto adopted = runCliJson(concat(my.args, {"approve", pid}));
  CHECK(adopted.at("state") == "adopted");
  // Every client verifies the admission its chair proposed.
  runCliJson(concat(jp.args, {"verify-log"}));
  CHECK(runCliJson(concat(jp.args, {"directory"})).dump().find("acme-labs") != std::string::npos);
}

// Issue 25's "done when", end to end on one hub: the meeting, its paper,
// its summary record through the SOMTC focal points, the work programme and
// a need met by a dialogue partner's offer.
TEST_CASE_METHOD(MeetingWorld,
                 "Working group end to end: a meeting with an invited panel member and its paper and summary record "
                 "and an action item done and a need met",
                 "[integration][meetings][work-programme][needs]") {
  // The SOMTC focal points, appointed on an approved record.
  const auto appointments = runCliJson(concat(sec.args, {"send", "--summary-record", "--to", "members", "--tlp",
                                                         "green", "--title", "Appointments", "--body",
                                                         "SG and MY name their SOMTC focal points.",
                                                         "--comment-window", "90s"}))
                                .at("bulletin_id")
                                .get<std::string>();
  hub.advanceClock(100'000);
  REQUIRE(test_support::waitUntil(
      [&] { return runCliJson(concat(sec.args, {"record-status", appointments})).at("state") == "approved"; },
      std::chrono::seconds(60), std::chrono::milliseconds(50)));
  runCliJson(concat(my.args, {"directory"}));  // MY's profile judges the log from here on
  for (const char* fp : {"sg-spf-cyber", "my-pdrm-cyber"}) {
    runCliJson(concat(sec.args, {"role", "assign", fp, "--role", "somtc-focal-point", "--decision", appointments}));
  }
  // An appointment is the secretariat's by design: no self-monitoring alarm
  // for the member appointed (its keys and admin rights are untouched).
  runCliJson(concat(my.args, {"directory"}));
  CHECK(runCliJson(concat(my.args, {"alarms"})).at("alarms").empty());

  // The meeting, with an invited resource-panel member; its paper reaches
  // exactly the participants.
  const auto id = createMeeting();
  const auto paper = runCliJson(concat(sec.args, {"send", "--meeting", id, "--tlp", "amber", "--title",
                                                  "Provisional agenda", "--body", "1. Opening"}));
  CHECK(idsOf(paper.at("recipient_ids")) ==
        std::set<std::string>{"jp-npa-partner", "my-pdrm-cyber", "rp-expert", "sg-spf-cyber"});
  CHECK(inboxHas(panel.args, paper.at("bulletin_id").get<std::string>()));
  CHECK_FALSE(inboxHas(au.args, paper.at("bulletin_id").get<std::string>()));

  // The summary record names the meeting, reaches the focal points and is
  // approved by silence.
  const auto recordId = runCliJson(concat(sec.args, {"send", "--meeting", id, "--summary-record", "--tlp", "green",
                                                     "--title", "WG on CC 2027 summary record", "--body",
                                                     "MY circulates its contact list.", "--comment-window", "200s"}))
                            .at("bulletin_id")
                            .get<std::string>();
  for (const auto* fp : {&sg, &my}) {
    const auto read = runCliJson(concat(fp->args, {"read", recordId}));
    CHECK(read.at("bulletin_id") == recordId);
  }
  // The hub's clock is 100 s ahead of the clients' already; 250 s more
  // passes the 200 s window and stays within the clock-skew limit (10 min).
  hub.advanceClock(250'000);
  REQUIRE(test_support::waitUntil(
      [&] { return runCliJson(concat(sec.args, {"record-status", recordId})).at("state") == "approved"; },
      std::chrono::seconds(60), std::chrono::milliseconds(50)));

  // An action item from the meeting, owned by MY, updated by MY's point of
  // contact and seen done, verified, by another state.
  const auto action = runCliJson(concat(sec.args, {"action", "add", "--meeting", id.substr(0, 8), "--owner", "state:MY",
                                                   "--due", "2030-06-30", "--text", "Circulate the contact list"}));
  CHECK(action.at("meeting_id") == id);
  CHECK(action.at("record_id").is_null());
  const auto actionId = action.at("action_id").get<std::string>();
  CHECK(runCliJson(concat(sg.args, {"action", "update", actionId, "--status", "done"}), 2).at("error").at("code") ==
        "forbidden");
  runCliJson(concat(my.args, {"action", "update", actionId, "--status", "done", "--note", "Circulated"}));
  const auto actions = runCliJson(concat(sg.args, {"actions", "--meeting", id}));
  REQUIRE(actions.at("actions").size() == 1);
  const auto& item = actions.at("actions")[0];
  CHECK(item.at("status") == "done");
  CHECK(item.at("verified") == true);
  CHECK(item.at("meeting_id") == id);
  REQUIRE(item.at("updates").size() == 1);
  CHECK(item.at("updates")[0].at("author_id") == "my-pdrm-cyber");
  CHECK(item.at("updates")[0].at("verified") == true);
  // The report for the SOMTC carries the record's approval and the item.
  const auto report = runCliJson(concat(my.args, {"meeting", "report", id}));
  CHECK(report.at("summary_records")[0].at("state") == "approved");
  REQUIRE(report.at("action_items").size() == 1);
  CHECK(report.at("action_items")[0].at("status") == "done");
  CHECK(report.at("action_items")[0].at("updated_by") == "my-pdrm-cyber");
  // A dialogue partner does not see the work programme in the report.
  CHECK(runCliJson(concat(jp.args, {"meeting", "report", id})).at("action_items").is_null());

  // A need from MY gets an offer from a dialogue partner and is marked met.
  const auto need = runCliJson(concat(my.args, {"need", "--tlp", "green", "--title", "Mobile forensics training",
                                                "--body", "20 investigators"}))
                        .at("bulletin_id")
                        .get<std::string>();
  const auto offer = runCliJson(concat(jp.args, {"offer", need, "--body", "We host the course"}))
                         .at("bulletin_id")
                         .get<std::string>();
  runCliJson(concat(my.args, {"need-met", need, "--offer", offer}));
  const auto seen = runCliJson(concat(jp.args, {"needs"})).at("needs").at(0);
  CHECK(seen.at("status") == "met");
  CHECK(seen.at("met_by_offer_id") == offer);
}

// ---- a resource-panel admission limited to named meetings (PROTOCOL.md §12.5) ----

namespace {

crypto::BulletinId meetingIdOf(const std::string& hex) {
  auto bytes = crypto::fromHex(hex);
  REQUIRE(bytes);
  auto id = crypto::BulletinId::fromBytes(*bytes);
  REQUIRE(id);
  return *id;
}

std::string errorCodeOf(const json& refused) { return refused.at("error").at("code").get<std::string>(); }

}  // namespace

TEST_CASE_METHOD(MeetingWorld,
                 "Panel limited to meetings: focal propose-admission names them and every client sees the limit",
                 "[integration][meetings][panel]") {
  const auto id = createMeeting();
  const auto adminArgs = hub.cliGlobals(hub.adminKeyFile(), home.path() / "admin-profile");
  const auto key = home.path() / "acme.key";
  runCliJson({"keygen", "--member", "acme-labs", "--out", key.string(), "--kdf", "interactive"});
  const std::string pub = key.string() + ".pub";

  // A meeting the hub does not hold: notFound, and nothing is proposed.
  const auto unknown = runCliJson(concat(adminArgs, {"admin", "propose-admission", pub, "--name", "ACME Labs",
                                                     "--meeting", std::string(32, 'b')}),
                                  5);
  CHECK(errorCodeOf(unknown) == "not-found");
  CHECK_THAT(unknown.at("error").at("message").get<std::string>(), Catch::Contains(std::string(32, 'b')));
  const auto before = runCliJson(concat(sg.args, {"proposals"}));  // rp-expert's admission only
  REQUIRE(before.size() == 1);
  CHECK(before[0].at("candidate_id") == "rp-expert");
  CHECK(before[0].at("candidate_meeting_ids").empty());
  // Only a resource-panel admission names meetings.
  CHECK(errorCodeOf(runCliJson(concat(adminArgs, {"admin", "propose-admission", pub, "--name", "ACME Labs",
                                                  "--institution", "dialogue-partner", "--meeting", id}),
                               1)) == "meeting-not-panel");

  const auto proposed = runCliJson(concat(adminArgs, {"admin", "propose-admission", pub, "--name", "ACME Labs",
                                                      "--meeting", id}));
  CHECK(proposed.at("meeting_ids") == json::array({id}));
  const auto pid = proposed.at("proposal_id").get<std::string>();
  // The points of contact see the limit before they approve.
  bool shown = false;
  for (const auto& item : runCliJson(concat(sg.args, {"proposals"}))) {
    if (item.at("proposal_id") == pid) shown = item.at("candidate_meeting_ids") == json::array({id});
  }
  CHECK(shown);
  runCliJson(concat(sg.args, {"approve", pid}));
  CHECK(runCliJson(concat(my.args, {"approve", pid})).at("state") == "adopted");

  // Every client reads the limit from the verified admission entry.
  runCliJson(concat(jp.args, {"verify-log"}));
  for (const auto* who : {&jp, &sg}) {
    const auto dir = runCliJson(concat(who->args, {"directory"}));
    std::map<std::string, json> limits;
    for (const auto& m : dir) limits[m.at("member_id").get<std::string>()] = m.at("meeting_ids");
    CHECK(limits.at("acme-labs") == json::array({id}));
    CHECK(limits.at("rp-expert").empty());
  }
  const auto text = runCli(concat(sg.args, {"directory"}));
  CHECK(text.out.find("[meeting " + id + " only]") != std::string::npos);
  bool logged = false;
  const auto log = runCliJson(concat(sg.args, {"admin", "log"}));
  for (const auto& e : log.at("entries")) {
    if (e.at("candidate_id") == "acme-labs") logged = e.at("meeting_ids") == json::array({id});
  }
  CHECK(logged);
}

TEST_CASE_METHOD(MeetingWorld,
                 "Panel limited to meetings: only its meetings reach it and no group or other meeting does",
                 "[integration][meetings][panel]") {
  const auto id = createMeeting();
  const auto other = runCliJson(concat(sec.args, {"meeting", "create", "--title", "WG on CC 2028", "--host-state",
                                                  "MY", "--date", "2028-03-15"}))
                         .at("meeting_id")
                         .get<std::string>();
  MeetingMember limited;
  limited.member = hub.admitByConsensus("rp-limited", wire::Institution::RESOURCE_PANEL,
                                        {&sg.member.keys, &my.member.keys}, true, {meetingIdOf(id)});
  limited.args = hub.cliGlobals(limited.member.keyFile, home.path() / "rp-limited-profile");

  // It takes part in its meeting without an invitation, and in no other.
  const auto mine = runCliJson(concat(limited.args, {"meeting", "list"})).at("meetings");
  REQUIRE(mine.size() == 1);
  CHECK(mine[0].at("meeting_id") == id);
  CHECK(idsOf(runCliJson(concat(sg.args, {"meeting", "show", id})).at("participant_ids")).count("rp-limited") == 1);
  CHECK(idsOf(runCliJson(concat(sg.args, {"meeting", "show", other})).at("participant_ids")).count("rp-limited") == 0);
  CHECK(exitOf(concat(limited.args, {"meeting", "show", other})) == 5);

  // A paper of its meeting reaches it by default (named, so AMBER too).
  const auto paper = runCliJson(concat(sec.args, {"send", "--meeting", id, "--tlp", "amber", "--title", "Agenda",
                                                  "--body", "1. Opening"}));
  CHECK(idsOf(paper.at("recipient_ids")).count("rp-limited") == 1);
  CHECK(inboxHas(limited.args, paper.at("bulletin_id").get<std::string>()));

  // A general resource-panel bulletin, and one to all, do not reach it.
  const auto panelWide = runCliJson(concat(my.args, {"send", "--to", "resource-panel", "--tlp", "green", "--category",
                                                     "other", "--title", "Call for experts", "--body", "x"}));
  CHECK(idsOf(panelWide.at("recipient_ids")) == std::set<std::string>{"rp-expert"});
  const auto toAll = runCliJson(concat(my.args, {"send", "--to", "all", "--tlp", "green", "--category", "other",
                                                 "--title", "To everyone", "--body", "x"}));
  CHECK(idsOf(toAll.at("recipient_ids")).count("rp-limited") == 0);
  CHECK(idsOf(toAll.at("recipient_ids")).count("rp-expert") == 1);
  CHECK_FALSE(inboxHas(limited.args, panelWide.at("bulletin_id").get<std::string>()));
  CHECK_FALSE(inboxHas(limited.args, toAll.at("bulletin_id").get<std::string>()));

  // Named outside its meetings: the client refuses, and so does the hub
  // for a client that tries anyway.
  CHECK(exitOf(concat(my.args, {"send", "--to", "rp-limited", "--tlp", "green", "--title", "Direct", "--body", "x"})) ==
        1);
  CHECK(exitOf(concat(sec.args, {"send", "--meeting", other, "--to", "members,rp-limited", "--tlp", "green",
                                 "--title", "Other meeting", "--body", "x"})) == 1);
  auto c = hub.connect(my.member.keys);
  auto direct = hubRefusal([&] {
    (void)c->send(sealDraft(draftTo({&limited.member.keys}, "Direct", wire::Tlp::GREEN), my.member.keys,
                            crypto::ContentKey::random()));
  });
  CHECK(direct.code() == wire::ErrorCode::POLICY_DENIED);
  CHECK_THAT(direct.hubMessage(), Catch::Contains("meeting limit rule") && Catch::Contains("rp-limited") &&
                                      Catch::Contains(id));
  auto otherPaper = draftTo({&limited.member.keys, &my.member.keys}, "Other meeting", wire::Tlp::GREEN,
                            wire::Category::MEETING_DOCUMENT);
  otherPaper.meetingId = meetingIdOf(other);
  auto s = hub.connect(sec.member.keys);
  auto elsewhere = hubRefusal([&] {
    (void)s->send(sealDraft(otherPaper, sec.member.keys, crypto::ContentKey::random()));
  });
  CHECK(elsewhere.code() == wire::ErrorCode::POLICY_DENIED);
  CHECK_THAT(elsewhere.hubMessage(), Catch::Contains("rp-limited"));

  // Forwarded to it, a bulletin bound to no meeting: the client refuses
  // (the sender's forward of its own bulletin to all), and so does the hub
  // for a forward record made anyway (PROTOCOL.md §12.5, SECURITY.md §9).
  const auto cliForward =
      runCliJson(concat(my.args, {"forward", toAll.at("bulletin_id").get<std::string>(), "--to", "rp-limited"}), 1);
  CHECK(cliForward.at("error").at("code") == "bad-address");
  CHECK_THAT(cliForward.at("error").at("message").get<std::string>(),
             Catch::Contains("meeting limit rule") && Catch::Contains("rp-limited"));
  const auto generalKey = crypto::ContentKey::random();
  const auto general = sealDraft(draftTo({&sg.member.keys}, "General", wire::Tlp::GREEN), my.member.keys, generalKey);
  (void)c->send(general);
  protocol::ForwardDraft onward;
  onward.originalHeader = general.header;
  onward.contentKey = &generalKey;
  onward.addresses = {"rp-limited"};
  onward.recipients = {protocol::RecipientKey{"rp-limited", limited.member.keys.encryption.publicKey}};
  auto forwardRecord = protocol::makeForward(onward, my.member.keys, nowMs());
  REQUIRE(forwardRecord);
  auto forwarded = hubRefusal([&] { (void)c->forward(*forwardRecord); });
  CHECK(forwarded.code() == wire::ErrorCode::POLICY_DENIED);
  CHECK_THAT(forwarded.hubMessage(), Catch::Contains("meeting limit rule") && Catch::Contains("rp-limited") &&
                                         Catch::Contains("bound to no meeting"));

  // Not invited to another meeting: the client refuses, the hub refuses a
  // record made anyway, naming the member and the meeting.
  CHECK(runCliJson(concat(sec.args, {"meeting", "create", "--title", "Side event", "--host-state", "SG", "--date",
                                     "2027-09-01", "--invite", "rp-limited"}),
                   1)
            .at("error")
            .at("code") == "meeting-limited");
  const auto forged = protocol::makeMeeting(protocol::MeetingDraft{"Side event", "SG", "2027-09-01", {"rp-limited"}},
                                            sec.member.keys, nowMs());
  const auto forgedId = protocol::readMeeting(forged.body);
  REQUIRE(forgedId);
  auto invite = hubRefusal([&] { (void)s->createMeeting(forged); });
  CHECK(invite.code() == wire::ErrorCode::POLICY_DENIED);
  CHECK_THAT(invite.hubMessage(), Catch::Contains("rp-limited") && Catch::Contains(crypto::toHex(forgedId->id)));
  CHECK(runCliJson(concat(sec.args, {"meeting", "list"})).at("meetings").size() == 2);
}

// PROTOCOL.md §12.10: an action item naming a meeting the hub does not
// hold is notFound. The CLI resolves the meeting first, so the request is
// made through the client library, as a hostile or stale client would.
TEST_CASE_METHOD(MeetingWorld, "Work programme: an action item for a meeting the hub does not hold is notFound",
                 "[integration][meetings][work-programme]") {
  createMeeting();
  auto c = hub.connect(sec.member.keys);
  const auto actionId = crypto::BulletinId::fromBytes(crypto::Bytes(16, 0x5a)).value();
  const auto text = sealDraft(draftTo({&my.member.keys}, "Circulate the list"), sec.member.keys,
                              crypto::ContentKey::random(), actionId);
  protocol::ActionItemDraft d{actionId, meetingIdOf(std::string(32, 'c')), std::nullopt, "state:MY", "2030-06-30",
                              crypto::hash256(text.header)};
  auto e = hubRefusal([&] { (void)c->addAction(protocol::makeActionItem(d, sec.member.keys, nowMs()), text); });
  CHECK(e.code() == wire::ErrorCode::NOT_FOUND);
  CHECK_THAT(e.hubMessage(), Catch::Contains("no meeting " + std::string(32, 'c')));
  CHECK(runCliJson(concat(sg.args, {"actions"})).at("actions").empty());
}

TEST_CASE_METHOD(MeetingWorld, "Work programme: the chair adds an action item and another member sees it verified",
                 "[integration][meetings][work-programme][roles]") {
  const auto id = createMeeting();
  const auto decision = runCliJson(concat(sec.args, {"send", "--summary-record", "--to", "members", "--tlp", "green",
                                                     "--title", "Appointments 2027", "--body", "MY chairs 2027.",
                                                     "--comment-window", "90s"}))
                            .at("bulletin_id")
                            .get<std::string>();
  hub.advanceClock(100'000);
  REQUIRE(test_support::waitUntil(
      [&] { return runCliJson(concat(sec.args, {"record-status", decision})).at("state") == "approved"; },
      std::chrono::seconds(60), std::chrono::milliseconds(50)));
  // Before the appointment the point of contact may not add one.
  CHECK_THAT(runCliJson(concat(my.args, {"action", "add", "--meeting", id, "--owner", "state:SG", "--due",
                                         "2030-06-30", "--text", "Host the visit"}),
                        2)
                 .at("error")
                 .at("message")
                 .get<std::string>(),
             Catch::Contains("only the secretariat, the chair or a co-chair"));
  runCliJson(concat(sec.args, {"role", "assign", "my-pdrm-cyber", "--role", "chair", "--term", "2027", "--decision",
                               decision}));
  const auto added = runCliJson(concat(my.args, {"action", "add", "--meeting", id, "--owner", "state:SG", "--due",
                                                 "2030-06-30", "--text", "Host the unit visit"}));
  const auto actionId = added.at("action_id").get<std::string>();
  const auto list = runCliJson(concat(sg.args, {"actions", "--meeting", id}));
  REQUIRE(list.at("actions").size() == 1);
  const auto& item = list.at("actions")[0];
  CHECK(item.at("action_id") == actionId);
  CHECK(item.at("author_id") == "my-pdrm-cyber");
  CHECK(item.at("verified") == true);
  CHECK(item.at("text") == "Host the unit visit");
  CHECK(item.at("owner") == "state:SG");
  // The owning state's point of contact updates it; the chair's item
  // stays verified with the update.
  runCliJson(concat(sg.args, {"action", "update", actionId, "--status", "done", "--note", "Visit held"}));
  const auto done = runCliJson(concat(my.args, {"actions"})).at("actions").at(0);
  CHECK(done.at("status") == "done");
  CHECK(done.at("verified") == true);
  CHECK(done.at("updates").at(0).at("verified") == true);
}

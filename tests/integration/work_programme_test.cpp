// The working group's own procedures of issue 25 that follow up its
// meetings (terms of reference §4(c)-(e), §9): the work programme (action
// items, updates by the owning state, reminders), needs and offers, and
// training. Against a real focald, through the real CLI; what the CLI
// refuses to produce (a met notice from another state, an update the hub
// never accepted) is made through the client library or by editing the
// hub's database, as a hostile member or hub would.
#include "hub_fixture.hpp"

#include "client/connection.hpp"
#include "protocol/work_programme.hpp"
#include "server/sqlite.hpp"
#include "tests/support/deadline.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace focal;
using namespace focal::test;
using nlohmann::json;
namespace sq = focal::server::sqlite;

namespace {

struct WgMember {
  TestMember member;
  std::vector<std::string> args;
};

WgMember wgMember(Hub& hub, const TempDir& home, const std::string& id, const std::string& state,
                  wire::Institution institution = wire::Institution::LAW_ENFORCEMENT) {
  WgMember m;
  m.member = hub.createMember(id, state, institution, true);
  m.args = hub.cliGlobals(m.member.keyFile, home.path() / (id + "-profile"));
  return m;
}

// The secretariat, points of contact of MY (two) and TH, and a dialogue partner.
struct WorkingGroup {
  Hub hub;
  TempDir home;
  WgMember sec = wgMember(hub, home, "sg-asean-sec", "SG", wire::Institution::SECRETARIAT);
  WgMember my = wgMember(hub, home, "my-pdrm-cyber", "MY");
  WgMember my2 = wgMember(hub, home, "my-nacsa-policy", "MY", wire::Institution::POLICY_SECURITY);
  WgMember th = wgMember(hub, home, "th-tcsd", "TH");
  WgMember partner = wgMember(hub, home, "jp-npa-partner", "", wire::Institution::DIALOGUE_PARTNER);

  void refreshArgs() {
    for (auto* m : {&sec, &my, &my2, &th, &partner}) {
      m->args = hub.cliGlobals(m->member.keyFile, home.path() / (m->member.id() + "-profile"));
    }
  }
};

std::string day(int fromToday) { return protocol::dayText(nowMs() + fromToday * protocol::DayMs); }

std::string summaryRecord(const WgMember& sec) {
  return runCliJson(concat(sec.args, {"send", "--summary-record", "--to", "members", "--tlp", "green", "--title",
                                      "WG on CC 2026 summary record", "--body", "1. Contact lists. 2. Training.",
                                      "--comment-window", "7d"}))
      .at("bulletin_id")
      .get<std::string>();
}

std::string addAction(const WgMember& by, const std::string& record, const std::string& owner, const std::string& due,
                      const std::string& text) {
  return runCliJson(concat(by.args, {"action", "add", "--record", record, "--owner", owner, "--due", due, "--text", text}))
      .at("action_id")
      .get<std::string>();
}

json onlyAction(const WgMember& who) {
  auto list = runCliJson(concat(who.args, {"actions"}));
  REQUIRE(list.at("actions").size() == 1);
  return list.at("actions").at(0);
}

}  // namespace

TEST_CASE_METHOD(WorkingGroup,
                 "Work programme: the secretariat adds an item for a state, its point of contact updates it, and "
                 "every member state sees who did what verified",
                 "[integration][work-programme]") {
  const auto record = summaryRecord(sec);
  const auto id = addAction(sec, record, "state:MY", day(30), "Circulate the national contact list");
  auto item = onlyAction(my);
  CHECK(item.at("action_id") == id);
  CHECK(item.at("verified") == true);
  CHECK(item.at("status") == "open");
  CHECK(item.at("owner") == "state:MY");
  CHECK(item.at("owner_state") == "MY");
  CHECK(item.at("record_id") == record);
  CHECK(item.at("author_id") == "sg-asean-sec");
  CHECK(item.at("text") == "Circulate the national contact list");
  CHECK(item.at("overdue") == false);

  // Any point of contact of MY may update it; each update is chained.
  runCliJson(concat(my.args, {"action", "update", id.substr(0, 8), "--status", "in-progress", "--note", "Drafted"}));
  runCliJson(concat(my2.args, {"action", "update", id, "--status", "done", "--note", "Sent on 12 March"}));

  // Another state's point of contact, and the secretariat, see it done, verified.
  for (const auto* who : {&th, &sec}) {
    auto seen = onlyAction(*who);
    CHECK(seen.at("verified") == true);
    CHECK(seen.at("status") == "done");
    REQUIRE(seen.at("updates").size() == 2);
    CHECK(seen.at("updates").at(0).at("author_id") == "my-pdrm-cyber");
    CHECK(seen.at("updates").at(0).at("status") == "in-progress");
    CHECK(seen.at("updates").at(0).at("note") == "Drafted");
    CHECK(seen.at("updates").at(1).at("author_id") == "my-nacsa-policy");
    CHECK(seen.at("updates").at(1).at("note") == "Sent on 12 March");
    CHECK(seen.at("updates").at(1).at("verified") == true);
  }
  // Filters.
  CHECK(runCliJson(concat(th.args, {"actions", "--state", "TH"})).at("actions").empty());
  CHECK(runCliJson(concat(th.args, {"actions", "--state", "my"})).at("actions").size() == 1);
  CHECK(runCliJson(concat(th.args, {"actions", "--overdue"})).at("actions").empty());

  // The hub holds no text or note in the clear.
  auto db = sq::Database::open(hub.database(), sq::Database::Mode::ReadOnly);
  auto s = db.prepare("SELECT count(*) FROM actions WHERE instr(text_ciphertext, CAST('contact list' AS BLOB)) > 0");
  REQUIRE(s->step());
  CHECK(s->columnInt(0) == 0);
}

TEST_CASE_METHOD(WorkingGroup, "Work programme: every role check is the hub's", "[integration][work-programme]") {
  const auto record = summaryRecord(sec);
  // Only the secretariat adds.
  auto refused = runCliJson(concat(my.args, {"action", "add", "--record", record, "--owner", "state:MY", "--due", day(9),
                                             "--text", "Do it"}),
                            2);
  CHECK_THAT(refused.at("error").at("message").get<std::string>(), Catch::Contains("only the secretariat"));
  // An owner nobody represents, a partner as owner.
  runCliJson(concat(sec.args, {"action", "add", "--record", record, "--owner", "state:VN", "--due", day(9), "--text", "x"}), 2);
  runCliJson(concat(sec.args, {"action", "add", "--record", record, "--owner", "jp-npa-partner", "--due", day(9), "--text",
                               "x"}),
             2);
  // Not a summary record; malformed input.
  runCliJson(concat(sec.args, {"action", "add", "--record", std::string(32, 'a'), "--owner", "state:MY", "--due", day(9),
                               "--text", "x"}),
             5);
  runCliJson(concat(sec.args, {"action", "add", "--record", record, "--owner", "state:MY", "--due", "2026-02-30", "--text",
                               "x"}),
             1);
  runCliJson(concat(sec.args, {"action", "add", "--record", record, "--owner", "MY", "--due", day(9), "--text", "x"}), 1);

  const auto id = addAction(sec, record, "my-pdrm-cyber", day(9), "Nominate two trainers");
  // A point of contact of another state cannot update it, nor can the
  // secretariat or a partner (who may not even see it).
  auto other = runCliJson(concat(th.args, {"action", "update", id, "--status", "done"}), 2);
  CHECK_THAT(other.at("error").at("message").get<std::string>(), Catch::Contains("only a point of contact of MY"));
  runCliJson(concat(sec.args, {"action", "update", id, "--status", "done"}), 2);
  auto partnerList = runCliJson(concat(partner.args, {"actions"}), 2);
  CHECK_THAT(partnerList.at("error").at("message").get<std::string>(), Catch::Contains("work programme rule"));
  runCliJson(concat(my.args, {"action", "update", id, "--status", "open"}), 1);
  // The owning state's other point of contact may (a member owner stands for its state).
  runCliJson(concat(my2.args, {"action", "update", id, "--status", "dropped"}));
  CHECK(onlyAction(th).at("status") == "dropped");

  // Through the client library: an update signed against a stale chain tip,
  // and one whose record names someone else as author.
  auto listing = hub.connect(my.member.keys)->listActions();
  REQUIRE(listing.items.size() == 1);
  auto parsed = protocol::readActionItem(listing.items[0].item.record.body);
  REQUIRE(parsed);
  const auto item = *parsed;
  protocol::ActionUpdateDraft stale{item.actionId, wire::ActionStatus::DONE, item.bodyHash, std::nullopt};
  auto c = hub.connect(my.member.keys);
  auto e = hubRefusal([&] { c->updateAction(protocol::makeActionUpdate(stale, my.member.keys, nowMs()), nullptr); });
  CHECK(e.code() == wire::ErrorCode::INVALID_REQUEST);
  CHECK_THAT(e.hubMessage(), Catch::Contains("updated meanwhile"));
  auto c2 = hub.connect(my2.member.keys);
  auto forged = hubRefusal([&] { c2->updateAction(protocol::makeActionUpdate(stale, my.member.keys, nowMs()), nullptr); });
  CHECK(forged.code() == wire::ErrorCode::BAD_SIGNATURE);
}

TEST_CASE_METHOD(WorkingGroup, "Work programme: an update the hub never accepted is refused by every verifying client",
                 "[integration][work-programme]") {
  const auto record = summaryRecord(sec);
  const auto id = addAction(sec, record, "state:MY", day(20), "Report on the joint operation");
  runCliJson(concat(my.args, {"action", "update", id, "--status", "in-progress"}));
  // TH's key signs a "done" on MY's item, chained correctly; a hostile hub
  // serves it from its database.
  auto listing = hub.connect(my.member.keys)->listActions();
  const auto& entry = listing.items.at(0);
  const auto tip = crypto::hash256(crypto::ByteView(entry.updates.at(0).record.body));
  auto parsed = protocol::readActionItem(entry.item.record.body);
  REQUIRE(parsed);
  const auto item = *parsed;
  const auto fake = protocol::makeActionUpdate({item.actionId, wire::ActionStatus::DONE, tip, std::nullopt}, th.member.keys,
                                               nowMs());
  hub.stop();
  {
    auto db = sq::Database::open(hub.database(), sq::Database::Mode::ReadWrite);
    auto s = db.prepare(
        "INSERT INTO action_updates(action_id, author_id, body_hash, body, signature, recorded_at_ms) "
        "VALUES(?1, 'th-tcsd', ?2, ?3, ?4, 0)");
    s->bind(1, item.actionId.view())
        .bind(2, crypto::hash256(crypto::ByteView(fake.body)).view())
        .bind(3, crypto::ByteView(fake.body))
        .bind(4, fake.signature.view());
    s->run();
  }
  hub.start();
  refreshArgs();
  for (const auto* who : {&my, &th, &sec}) {
    auto list = runCliJson(concat(who->args, {"actions"}), 3);
    const auto& seen = list.at("actions").at(0);
    CHECK(seen.at("verified") == false);
    CHECK(seen.at("status") == "in-progress");  // the last verified update's
    CHECK(seen.at("updates").size() == 1);
    CHECK_THAT(seen.at("refusals").at(0).get<std::string>(),
               Catch::Contains("update 2 refused") && Catch::Contains("not a point of contact of MY"));
  }
  // Nobody signs onto a chain that does not verify.
  runCliJson(concat(my.args, {"action", "update", id, "--status", "done"}), 3);
}

TEST_CASE("Work programme: owners are reminded of items due within 7 days at most once a day",
          "[integration][work-programme]") {
  Hub hub{HubOptions{.limits = {}, .testClock = true}};
  TempDir home;
  auto sec = wgMember(hub, home, "sg-asean-sec", "SG", wire::Institution::SECRETARIAT);
  auto my = wgMember(hub, home, "my-pdrm-cyber", "MY");
  auto th = wgMember(hub, home, "th-tcsd", "TH");
  const auto record = summaryRecord(sec);
  const auto soon = addAction(sec, record, "state:MY", day(3), "Due soon");
  addAction(sec, record, "state:MY", day(40), "Due later");
  addAction(sec, record, "state:TH", day(2), "Another state's");

  auto owner = hub.connect(my.member.keys);
  owner->subscribeActions();
  auto other = hub.connect(th.member.keys);
  std::vector<client::ActionReminderInfo> got;
  auto collect = [&](std::size_t n) {
    return test_support::waitUntil(
        [&] {
          owner->ping();  // reminders that arrive meanwhile are buffered
          while (auto r = owner->nextReminder()) got.push_back(*r);
          return got.size() >= n;
        },
        std::chrono::seconds(30), std::chrono::milliseconds(10));
  };
  REQUIRE(collect(1));
  CHECK(crypto::toHex(got[0].actionId) == soon);
  CHECK(got[0].owner == "state:MY");
  CHECK(got[0].dueDay == day(3));
  CHECK(got[0].overdue == false);
  // TH's session did not subscribe: nothing reaches it, and MY gets no reminder of TH's item.
  owner->ping();
  while (auto r = owner->nextReminder()) got.push_back(*r);
  CHECK(got.size() == 1);
  CHECK_FALSE(other->nextReminder());

  // The next day (hub clock), once more; then four days on, overdue. The
  // hub is restarted across each jump of its clock (a running hub's clock
  // moves a day only in a day), and the owner connects again.
  auto nextDay = [&](std::int64_t days) {
    owner.reset();
    hub.stop();
    hub.advanceClock(days * protocol::DayMs);
    hub.start();
    owner = hub.connect(my.member.keys);
    owner->subscribeActions();
  };
  nextDay(1);
  REQUIRE(collect(2));
  CHECK(crypto::toHex(got[1].actionId) == soon);
  nextDay(4);
  REQUIRE(collect(3));
  CHECK(got[2].overdue == true);
  // Many passes ran in between; none reminded the same item twice a day.
  owner->ping();
  while (auto r = owner->nextReminder()) got.push_back(*r);
  CHECK(got.size() == 3);
}

TEST_CASE_METHOD(WorkingGroup,
                 "Needs and offers: a need gets an offer from a dialogue partner, its state marks it met, and a notice "
                 "from another state is refused",
                 "[integration][needs]") {
  const auto need = runCliJson(concat(my.args, {"need", "--tlp", "green", "--title", "Mobile forensics training",
                                                "--body", "20 investigators, Q2 2027"}))
                        .at("bulletin_id")
                        .get<std::string>();
  // Only a member state surfaces one.
  runCliJson(concat(partner.args, {"need", "--tlp", "green", "--title", "x", "--body", "y"}), 1);
  // The partner sees it (GREEN: members, partners and the panel) and offers.
  auto open = runCliJson(concat(partner.args, {"needs", "--open"}));
  REQUIRE(open.at("needs").size() == 1);
  CHECK(open.at("needs").at(0).at("status") == "open");
  const auto offer = runCliJson(concat(partner.args, {"offer", need, "--body", "We host the course and fund 10 places"}))
                         .at("bulletin_id")
                         .get<std::string>();
  // Both MY points of contact see the offer (addressed to state:MY).
  for (const auto* who : {&my, &my2}) {
    auto seen = runCliJson(concat(who->args, {"needs"})).at("needs").at(0);
    REQUIRE(seen.at("offers").size() == 1);
    CHECK(seen.at("offers").at(0).at("bulletin_id") == offer);
    CHECK(seen.at("offers").at(0).at("sender").at("member_id") == "jp-npa-partner");
  }
  // Another state may not mark it met (the CLI refuses) ...
  runCliJson(concat(th.args, {"need-met", need, "--offer", offer}), 1);
  // ... and a notice it sends anyway, through the library, is not believed.
  {
    auto c = hub.connect(th.member.keys);
    auto draft = draftTo({&my.member.keys, &partner.member.keys}, "Met", wire::Tlp::GREEN, wire::Category::NEED);
    draft.replyTo = *crypto::BulletinId::fromBytes(*crypto::fromHex(need));
    draft.metOffer = *crypto::BulletinId::fromBytes(*crypto::fromHex(offer));
    draft.hubId = c->session().hubId;
    c->send(sealDraft(draft, th.member.keys, crypto::ContentKey::random()));
  }
  auto seen = runCliJson(concat(my.args, {"needs"})).at("needs").at(0);
  CHECK(seen.at("status") == "open");
  REQUIRE(seen.at("refused_notices").size() == 1);
  CHECK(seen.at("refused_notices").at(0).at("sender_id") == "th-tcsd");
  CHECK_THAT(seen.at("refused_notices").at(0).at("reason").get<std::string>(), Catch::Contains("not a point of contact"));

  // The owning state marks it met with the partner's offer.
  runCliJson(concat(my2.args, {"need-met", need, "--offer", offer, "--body", "Course agreed for May"}));
  for (const auto* who : {&my, &partner}) {
    auto met = runCliJson(concat(who->args, {"needs"})).at("needs").at(0);
    CHECK(met.at("status") == "met");
    CHECK(met.at("met_by_offer_id") == offer);
    CHECK(met.at("met_by_id") == "my-nacsa-policy");
  }
  CHECK(runCliJson(concat(partner.args, {"needs", "--open"})).at("needs").empty());
  // An offer on something that is not a need is refused.
  runCliJson(concat(partner.args, {"offer", offer, "--body", "x"}), 1);
}

TEST_CASE_METHOD(WorkingGroup, "Training: a programme carries its signed date and place", "[integration][needs]") {
  const auto id = runCliJson(concat(sec.args, {"send", "--category", "training", "--to", "all", "--tlp", "clear", "--title",
                                               "Digital forensics course", "--date", "2027-03-08..2027-03-12", "--place",
                                               "Singapore", "--body", "Two seats per state"}))
                      .at("bulletin_id")
                      .get<std::string>();
  auto read = runCliJson(concat(partner.args, {"read", id}));
  CHECK(read.at("category") == "training");
  CHECK(read.at("event_date") == "2027-03-08..2027-03-12");
  CHECK(read.at("event_place") == "Singapore");
  CHECK(read.at("met_offer_id").is_null());
  // A training needs both; nothing else carries them; dates are checked.
  runCliJson(concat(sec.args, {"send", "--category", "training", "--to", "all", "--tlp", "clear", "--title", "t", "--body",
                               "b", "--date", "2027-03-08"}),
             1);
  runCliJson(concat(sec.args, {"send", "--category", "trend", "--to", "all", "--tlp", "clear", "--title", "t", "--body",
                               "b", "--date", "2027-03-08", "--place", "x"}),
             1);
  runCliJson(concat(sec.args, {"send", "--category", "training", "--to", "all", "--tlp", "clear", "--title", "t", "--body",
                               "b", "--date", "2027-03-12..2027-03-08", "--place", "x"}),
             1);
}

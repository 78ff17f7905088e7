// Entries bound to their place (issue 26, PROTOCOL.md §11.1, log v2), end to
// end: a hub operator who holds the hub key edits focal.db while the hub is
// stopped and serves the result with the lying hub (tests/lying_hub), which
// re-chains the entries as stored and signs a matching head. Every author
// signed its entry's position (hub id, index, previous entry hash) and
// issuedAtMs with the event, so a client refuses a dropped entry with later
// ones renumbered, reordered entries, a replayed admin event, a recordedAtMs
// earlier than the previous entry's and one far from the event's issuedAtMs
// -- also when it verified none of the edited entries before. And an
// admin's client signs again when another entry took its place first.
#include "hub_fixture.hpp"

#include "client/key_directory.hpp"
#include "client/verified_log.hpp"
#include "server/sqlite.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <capnp/message.h>

#include <algorithm>
#include <functional>

using namespace focal;
using namespace focal::test;
using nlohmann::json;
namespace sq = focal::server::sqlite;

namespace {

// 0 genesis, 1 admin, 2 sg, 3 my; SG's profile verified these 4 entries
// before the admin's later changes (each test makes its own).
struct PlacedLog {
  Hub hub;
  TempDir home;
  TestMember sg = hub.createMember("sg-spf-cyber", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  TestMember my = hub.createMember("my-pdrm-cyber", "MY");  // only SG runs the CLI

  PlacedLog() { REQUIRE(runCliJson(concat(sgArgs(), {"verify-log"})).at("entry_count") == 4); }

  std::vector<std::string> sgArgs(const std::string& profile = "sg") const {
    return hub.cliGlobals(sg.keyFile, home.path() / profile);
  }
  void adminDoes(const std::vector<std::string>& command) {
    runCliJson(concat(hub.cliGlobals(hub.adminKeyFile(), home.path() / "admin"), command));
  }
  // Stops the hub, edits its database, serves it with the lying hub (which
  // signs a head over the entries as they now stand).
  void serveEdited(const std::function<void(sq::Database&)>& edit) {
    hub.stop();
    {
      auto db = sq::Database::open(hub.database(), sq::Database::Mode::ReadWrite);
      edit(db);
      db.exec("DELETE FROM log_heads");
    }
    hub.setExecutable(FOCAL_LYING_HUB_PATH);
    hub.start();
  }
  // SG sends to MY: exit 3 is a refusal by log verification.
  json sendToMy(int exit, const std::string& profile = "sg") const {
    return runCliJson(concat(sgArgs(profile), {"send", "--to", "my-pdrm-cyber", "--tlp", "green", "--category",
                                               "trend", "--title", "t", "--body", "b"}),
                      exit);
  }
};

std::string errorOf(const json& j) { return j.at("error").at("message").get<std::string>(); }

}  // namespace

TEST_CASE_METHOD(PlacedLog, "A dropped revocation with the later entries renumbered and re-chained is refused",
                 "[integration][log][position][tamper]") {
  adminDoes({"admin", "revoke", "my-pdrm-cyber", "--reason", "laptop stolen"});  // entry 4
  hub.createMember("th-rtp-cyber", "TH");                                          // entry 5
  serveEdited([](sq::Database& db) {
    db.exec("DELETE FROM log_entries WHERE idx = 4");
    db.exec("UPDATE log_entries SET idx = idx - 1 WHERE idx > 4");
  });
  // SG verified up to entry 3: the renumbered entry 4 was signed for entry 5.
  const auto e = sendToMy(3);
  CHECK_THAT(errorOf(e), Catch::Contains("log entry 4") && Catch::Contains("signed it for entry 5"));
  // A client that never saw this hub refuses it the same way.
  CHECK_THAT(errorOf(sendToMy(3, "fresh")), Catch::Contains("log entry 4"));
}

TEST_CASE_METHOD(PlacedLog, "Two entries swapped and re-chained are refused by a client that verified neither",
                 "[integration][log][position][tamper]") {
  hub.createMember("th-rtp-cyber", "TH");  // entry 4
  hub.createMember("vn-mps-cyber", "VN");  // entry 5
  serveEdited([](sq::Database& db) {
    db.exec("UPDATE log_entries SET idx = -1 WHERE idx = 4");
    db.exec("UPDATE log_entries SET idx = 4 WHERE idx = 5");
    db.exec("UPDATE log_entries SET idx = 5 WHERE idx = -1");
  });
  CHECK_THAT(errorOf(sendToMy(3)), Catch::Contains("log entry 4") && Catch::Contains("signed it for entry 5"));
}

TEST_CASE_METHOD(PlacedLog, "An admin's role change appended again later is refused as a replay",
                 "[integration][log][position][tamper]") {
  adminDoes({"admin", "role", "sg-spf-cyber", "--admin", "yes"});  // entry 4
  adminDoes({"admin", "role", "sg-spf-cyber", "--admin", "no"});   // entry 5
  serveEdited([](sq::Database& db) {
    db.exec("INSERT INTO log_entries(idx, recorded_at_ms, author_id, author_key, event, signature, entry_hash) "
            "SELECT 6, recorded_at_ms + 1000, author_id, author_key, event, signature, entry_hash "
            "FROM log_entries WHERE idx = 4");
  });
  CHECK_THAT(errorOf(sendToMy(3)), Catch::Contains("log entry 6") && Catch::Contains("entry 4"));
}

TEST_CASE_METHOD(PlacedLog, "A recordedAtMs moved back before the previous entry, or far from issuedAtMs, is refused",
                 "[integration][log][position][tamper]") {
  hub.createMember("th-rtp-cyber", "TH");  // entry 4
  hub.createMember("vn-mps-cyber", "VN");  // entry 5
  SECTION("backwards") {
    serveEdited([](sq::Database& db) {
      db.exec("UPDATE log_entries SET recorded_at_ms = "
              "(SELECT recorded_at_ms FROM log_entries WHERE idx = 4) - 1 WHERE idx = 5");
    });
    CHECK_THAT(errorOf(sendToMy(3)), Catch::Contains("log entry 5") && Catch::Contains("before entry 4"));
  }
  SECTION("a day after it was issued") {
    serveEdited([](sq::Database& db) {
      db.exec("UPDATE log_entries SET recorded_at_ms = recorded_at_ms + 86400000 WHERE idx = 5");
    });
    CHECK_THAT(errorOf(sendToMy(3)), Catch::Contains("log entry 5") && Catch::Contains("issued"));
  }
}

TEST_CASE("An admin event signed for a place another entry took is signed again for the next place",
          "[integration][log][position]") {
  Hub hub;
  auto admin = hub.connect(hub.adminKeys());
  client::HubDirectory::fetch(*admin);    // this connection verified 2 entries
  hub.createMember("sg-spf-cyber", "SG");  // entry 2, appended over another connection
  capnp::MallocMessageBuilder event;
  auto e = event.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(nowMs());
  auto r = e.initRoleChange();
  r.setMemberId("sg-spf-cyber");
  r.setIsSecretariat(true);
  // Signed first for entry 2: refused as stale; verified again and signed
  // for entry 3.
  CHECK(admin->admin(event).index == 3);
  CHECK(admin->verifiedLog()->size() == 3);
  const auto audit = admin->audit(0);
  CHECK(std::any_of(audit.begin(), audit.end(), [](const client::AuditRow& row) {
    return row.event == "admin.refused" && row.detail.find("signed it for entry 2") != std::string::npos;
  }));
}

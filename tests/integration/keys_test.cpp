// Key management and the verifiable directory log (issue 4), end to end:
// rotate / revoke / role round trips through the real hub and CLI, the audit
// trail, revoked members locked out (new and open sessions), old key files
// opening old bulletins, and a lying hub caught by its clients: entries
// edited, deleted or reordered in SQLite while the hub is stopped, an older
// head served, and a fork served to two clients.
#include "hub_fixture.hpp"

#include "client/client_error.hpp"
#include "server/sqlite.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <functional>

using namespace focal;
using namespace focal::test;
using nlohmann::json;
namespace sq = focal::server::sqlite;

namespace {

// The error message of a failed --json command.
std::string errorOf(const json& j) { return j.at("error").at("message").get<std::string>(); }

TestMember keyFileMember(Hub& hub, const std::string& id, const std::string& state) {
  return hub.createMember(id, state, wire::Institution::LAW_ENFORCEMENT, true);
}

// Two members with key files (for the CLI), and a home for their profiles.
struct KeyFileMembers {
  Hub hub;
  TempDir home;
  TestMember sg = keyFileMember(hub, "sg-spf-cyber", "SG");
  TestMember my = keyFileMember(hub, "my-pdrm-cyber", "MY");
};

void withDatabase(const Hub& hub, const std::function<void(sq::Database&)>& f) {
  auto db = sq::Database::open(hub.database(), sq::Database::Mode::ReadWrite);
  f(db);
}

// Replaces the first occurrence of `from` in the event of entry `idx`.
void replaceInEvent(sq::Database& db, std::uint64_t idx, crypto::ByteView from, crypto::ByteView to) {
  crypto::Bytes event;
  {
    auto s = db.prepare("SELECT event FROM log_entries WHERE idx = ?1");
    s->bind(1, static_cast<std::int64_t>(idx));
    REQUIRE(s->step());
    event = s->columnBlob(0);
  }
  auto at = std::search(event.begin(), event.end(), from.begin(), from.end());
  REQUIRE(at != event.end());
  std::copy(to.begin(), to.end(), at);
  auto s = db.prepare("UPDATE log_entries SET event = ?2 WHERE idx = ?1");
  s->bind(1, static_cast<std::int64_t>(idx)).bind(2, crypto::ByteView(event));
  s->run();
}

// Forces the encryption key of `member` on `hub` to `pk` (admin-signed).
void adminRotate(Hub& hub, const fs::path& adminProfile, const std::string& member, const crypto::PublicKeys& pk,
                 const fs::path& dir) {
  const auto pub = dir / (member + "-new.pub");
  std::ofstream(pub) << crypto::formatPublicKeys(pk);
  runCliJson(concat(hub.cliGlobals(hub.adminKeyFile(), adminProfile), {"admin", "rotate", member, pub.string()}));
}

// A member's new encryption key (same identity), certified by its identity.
crypto::PublicKeys newEncryptionKey(const crypto::MemberKeys& keys) {
  auto fresh = crypto::MemberKeys::generate(keys.memberId, nowMs());
  fresh.identity = crypto::SigningKeyPair::fromSecret(keys.identity.secretKey.clone());
  return fresh.publicKeys();
}

}  // namespace

TEST_CASE_METHOD(KeyFileMembers, "Admin rotate, revoke, role, list, log and audit round trip through the CLI",
                 "[integration][keys]") {
  const auto admin = hub.cliGlobals(hub.adminKeyFile(), home.path() / "admin");
  const auto sgArgs = hub.cliGlobals(sg.keyFile, home.path() / "sg");

  const auto row = [](const json& list, const std::string& id) {
    auto it = std::find_if(list.begin(), list.end(), [&](const json& m) { return m.at("member_id") == id; });
    REQUIRE(it != list.end());
    return *it;
  };
  auto list = runCliJson(concat(admin, {"admin", "list"}));
  REQUIRE(list.size() == 3);
  CHECK(row(list, "sg-spf-cyber").at("status") == "active");

  // The member's own rotation, signed by its current identity key.
  const auto sg2 = home.path() / "sg2.key";
  auto rot = runCliJson(concat(sgArgs, {"rotate-key", "--out", sg2.string(), "--kdf", "interactive"}));
  CHECK(rot.at("rotated") == "encryption");
  CHECK(fs::exists(sg2));
  // A member cannot rotate someone else's key (the hub refuses: exit 2).
  std::ofstream(home.path() / "my-new.pub") << crypto::formatPublicKeys(newEncryptionKey(my.keys));
  auto refused = runCliJson(concat(sgArgs, {"admin", "rotate", "my-pdrm-cyber", (home.path() / "my-new.pub").string()}), 2);
  CHECK(refused.at("error").at("code") == "forbidden");
  // An admin-forced rotation.
  auto forced = runCliJson(concat(admin, {"admin", "rotate", "my-pdrm-cyber", (home.path() / "my-new.pub").string()}));
  CHECK(forced.at("action") == "rotate-encryption");
  // Roles and revocation, with a reason.
  runCliJson(concat(admin, {"admin", "role", "my-pdrm-cyber", "--secretariat", "yes"}));
  auto rev = runCliJson(concat(admin, {"admin", "revoke", "my-pdrm-cyber", "--reason", "left the institution"}));
  const auto revokedAt = rev.at("log_index").get<std::uint64_t>();

  auto log = runCliJson(concat(admin, {"admin", "log", "--from", "4"}));
  std::vector<std::string> kinds;
  for (const auto& e : log.at("entries")) kinds.push_back(e.at("kind"));
  CHECK(kinds == std::vector<std::string>{"rotate-encryption", "rotate-encryption", "role-change", "revoke"});
  CHECK(log.at("entries").back().at("reason") == "left the institution");
  CHECK(log.at("entries").back().at("log_index") == revokedAt);
  CHECK(log.at("entries")[0].at("author_id") == "sg-spf-cyber");

  list = runCliJson(concat(admin, {"admin", "list"}));
  const auto myRow = row(list, "my-pdrm-cyber");
  CHECK(myRow.at("status") == "revoked");
  CHECK(myRow.at("secretariat") == true);
  CHECK(myRow.at("revoke_reason") == "left the institution");

  // The revoked member cannot authenticate (and that is audited).
  auto locked = runCliJson(concat(hub.cliGlobals(my.keyFile, home.path() / "my"), {"directory"}), 2);
  CHECK(locked.at("error").at("code") == "revoked-key");

  auto audit = runCliJson(concat(admin, {"admin", "audit"}));
  CHECK(audit.at("verified") == true);
  std::vector<std::string> events;
  for (const auto& e : audit.at("entries")) events.push_back(e.at("event"));
  const auto has = [&](const std::string& ev) { return std::find(events.begin(), events.end(), ev) != events.end(); };
  CHECK(has("admin.register"));
  CHECK(has("admin.rotate-encryption"));
  CHECK(has("admin.revoke"));
  CHECK(has("admin.role-change"));
  CHECK(has("admin.refused"));
  CHECK(has("auth.revoked"));
  // Only admins read the audit trail.
  auto denied = runCliJson(concat(sgArgs, {"admin", "audit"}), 2);
  CHECK(denied.at("error").at("code") == "forbidden");

  // An edited row breaks the chain; a truncated trail is caught against the
  // last row this profile saw.
  hub.stop();
  withDatabase(hub, [](sq::Database& db) { db.exec("UPDATE audit SET detail = 'nothing happened' WHERE idx = 1"); });
  hub.start();
  auto caught = runCliJson(concat(hub.cliGlobals(hub.adminKeyFile(), home.path() / "admin"), {"admin", "audit"}), 3);
  CHECK_THAT(errorOf(caught), Catch::Contains("entry 1"));
  hub.stop();
  withDatabase(hub, [](sq::Database& db) { db.exec("DELETE FROM audit WHERE idx >= 1"); });
  hub.start();
  caught = runCliJson(concat(hub.cliGlobals(hub.adminKeyFile(), home.path() / "admin"), {"admin", "audit"}), 3);
  CHECK_THAT(errorOf(caught), Catch::Contains("truncated"));
}

TEST_CASE_METHOD(TwoMembers, "A revoked member cannot authenticate and its open session is closed",
                 "[integration][keys]") {
  auto bSession = hub.connect(b.keys);
  bSession->subscribe();
  auto aSession = hub.connect(a.keys);

  auto admin = hub.connect(hub.adminKeys());
  capnp::MallocMessageBuilder event;
  auto e = event.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(nowMs());
  auto r = e.initRevoke();
  r.setMemberId(b.id());
  r.setReason("device lost");
  admin->admin(event);

  // The open session is closed by the hub with revokedKey.
  bool closed = false;
  try {
    for (int i = 0; i < 50 && !closed; ++i) {
      bSession->ping();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  } catch (const client::HubError& err) {
    closed = err.code() == wire::ErrorCode::REVOKED_KEY;
  } catch (const client::TransportError&) {
    closed = true;
  }
  CHECK(closed);
  // A new session is refused.
  const auto newSession = hubRefusal([&] { hub.connect(b.keys); }, "a revoked member authenticated");
  CHECK(newSession.code() == wire::ErrorCode::REVOKED_KEY);
  // Nobody can send to the revoked member any more.
  const auto refusal = hubRefusal([&] { aSession->send(sealTo(a.keys, {&b.keys}, "to a revoked member")); },
                                  "a bulletin to a revoked member was accepted");
  CHECK(refusal.code() == wire::ErrorCode::REVOKED_KEY);
}

TEST_CASE_METHOD(KeyFileMembers,
                 "A rotated key file still opens bulletins queued for the old key, and new ones use the new key",
                 "[integration][keys]") {
  const auto sgArgs = hub.cliGlobals(sg.keyFile, home.path() / "sg");
  auto before = runCliJson(concat(sgArgs, {"send", "--to", "my-pdrm-cyber", "--tlp", "green", "--category", "trend",
                                        "--title", "before rotation", "--body", "old key"}));

  const auto my2 = home.path() / "my2.key";
  runCliJson(concat(hub.cliGlobals(my.keyFile, home.path() / "my-rotate"),
                 {"rotate-key", "--out", my2.string(), "--kdf", "interactive"}));
  auto after = runCliJson(concat(sgArgs, {"send", "--to", "my-pdrm-cyber", "--tlp", "green", "--category", "trend",
                                       "--title", "after rotation", "--body", "new key"}));

  // The old key file (same identity) opens the old bulletin, not the new one.
  auto oldRead = runCliJson(concat(hub.cliGlobals(my.keyFile, home.path() / "my-old"), {"read", before.at("bulletin_id")}));
  CHECK(oldRead.at("body") == "old key");
  runCliJson(concat(hub.cliGlobals(my.keyFile, home.path() / "my-old"), {"read", after.at("bulletin_id")}), 3);
  // The new file opens both (it keeps the earlier encryption key).
  auto newRead = runCliJson(concat(hub.cliGlobals(my2, home.path() / "my-new"), {"read", after.at("bulletin_id")}));
  CHECK(newRead.at("body") == "new key");
  auto oldWithNew = runCliJson(concat(hub.cliGlobals(my2, home.path() / "my-new"), {"read", before.at("bulletin_id")}));
  CHECK(oldWithNew.at("body") == "old key");
}

TEST_CASE_METHOD(KeyFileMembers,
                 "Identity rotation: the old identity is locked out, bulletins it signed before still verify",
                 "[integration][keys]") {
  const auto send = [&](const fs::path& key, const fs::path& profile, const std::string& title) {
    return runCliJson(concat(hub.cliGlobals(key, profile), {"send", "--to", "my-pdrm-cyber", "--tlp", "green",
                                                          "--category", "trend", "--title", title, "--body", title}));
  };
  auto before = send(sg.keyFile, home.path() / "sg", "signed by the old identity");
  const auto sg2 = home.path() / "sg2.key";
  auto rot = runCliJson(concat(hub.cliGlobals(sg.keyFile, home.path() / "sg"),
                            {"rotate-key", "--out", sg2.string(), "--identity", "--kdf", "interactive"}));
  CHECK(rot.at("rotated") == "identity+encryption");
  CHECK(rot.at("fingerprint") != crypto::fingerprint(sg.id(), sg.keys.identity.publicKey));
  // The replaced identity key cannot authenticate any more.
  auto old = runCliJson(concat(hub.cliGlobals(sg.keyFile, home.path() / "sg-old"), {"directory"}), 2);
  CHECK(old.at("error").at("code") == "unauthenticated");
  auto after = send(sg2, home.path() / "sg-new", "signed by the new identity");

  const auto myArgs = hub.cliGlobals(my.keyFile, home.path() / "my");
  auto fp = runCliJson(concat(myArgs, {"fingerprint", "sg-spf-cyber"}));
  CHECK(fp.at("fingerprint") == rot.at("fingerprint"));
  auto r1 = runCliJson(concat(myArgs, {"read", before.at("bulletin_id")}));
  CHECK(r1.at("body") == "signed by the old identity");
  CHECK(r1.at("key_warning").is_null());
  CHECK(r1.at("sender").at("fingerprint") == crypto::fingerprint(sg.id(), sg.keys.identity.publicKey));
  auto r2 = runCliJson(concat(myArgs, {"read", after.at("bulletin_id")}));
  CHECK(r2.at("body") == "signed by the new identity");
  CHECK(r2.at("sender").at("fingerprint") == rot.at("fingerprint"));
}

TEST_CASE_METHOD(KeyFileMembers,
                 "Bulletins signed before the sender's revocation are marked with the time the log gives",
                 "[integration][keys]") {
  auto sent = runCliJson(concat(hub.cliGlobals(sg.keyFile, home.path() / "sg"),
                             {"send", "--to", "my-pdrm-cyber", "--tlp", "green", "--category", "trend", "--title",
                              "signed before", "--body", "b"}));
  runCliJson(concat(hub.cliGlobals(hub.adminKeyFile(), home.path() / "admin"),
                 {"admin", "revoke", "sg-spf-cyber", "--key", crypto::toHex(sg.keys.identity.publicKey), "--reason",
                  "key compromised"}));
  auto read = runCliJson(concat(hub.cliGlobals(my.keyFile, home.path() / "my"), {"read", sent.at("bulletin_id")}));
  CHECK(read.at("verified") == true);
  CHECK(read.at("key_warning") == "signed by a key since revoked");
}

// ---- a lying hub -------------------------------------------------------------------------

// A hub with 6 log entries; SG's profile verified the first 4 (genesis,
// admin, sg, my); then the admin rotated MY's key (entry 4) and registered
// TH (entry 5). The hub is stopped, ready to be tampered with.
struct TamperedHub : KeyFileMembers {
  crypto::PublicKeys myNew = newEncryptionKey(my.keys);
  fs::path sgProfile = home.path() / "sg";

  TamperedHub() {
    auto first = runCliJson(concat(sgArgs(), {"verify-log"}));
    REQUIRE(first.at("entry_count") == 4);
    adminRotate(hub, home.path() / "admin", "my-pdrm-cyber", myNew, home.path());
    hub.createMember("th-rtp-cyber", "TH");
    hub.stop();
  }
  std::vector<std::string> sgArgs(const fs::path& profile = {}) const {
    return hub.cliGlobals(sg.keyFile, profile.empty() ? sgProfile : profile);
  }
  // SG's profile verifies all 6 entries on the honest hub first.
  void verifyEverything() {
    hub.start();
    REQUIRE(runCliJson(concat(sgArgs(), {"verify-log"})).at("entry_count") == 6);
    hub.stop();
  }
  void tamper(const std::function<void(sq::Database&)>& f) { withDatabase(hub, f); }
  void startLiar() {
    hub.setExecutable(FOCAL_LYING_HUB_PATH);
    hub.start();
  }
  // SG sends to MY; `exit` 3 = the client refused (verification failed).
  json sendToMy(int exit, const fs::path& profile = {}) const {
    return runCliJson(concat(sgArgs(profile), {"send", "--to", "my-pdrm-cyber", "--tlp", "green", "--category", "trend",
                                            "--title", "t", "--body", "b"}),
                   exit);
  }
};

TEST_CASE_METHOD(TamperedHub, "A log entry's key edited in SQLite is caught by its author's signature",
                 "[integration][keys][tamper]") {
  const auto mallory = crypto::BoxKeyPair::generate();
  tamper([&](sq::Database& db) {
    replaceInEvent(db, 4, myNew.encryption.view(), mallory.publicKey.view());
    db.exec("DELETE FROM log_heads");  // the liar re-signs a matching head
  });
  startLiar();
  auto e = sendToMy(3);
  CHECK_THAT(errorOf(e), Catch::Contains("log entry 4") && Catch::Contains("signature"));
  // A client that never connected before catches it the same way.
  e = sendToMy(3, home.path() / "fresh");
  CHECK_THAT(errorOf(e), Catch::Contains("log entry 4"));
}

TEST_CASE_METHOD(TamperedHub, "A deleted log entry is caught: as a gap, or renumbered against the stored head",
                 "[integration][keys][tamper]") {
  SECTION("gap") {
    tamper([&](sq::Database& db) {
      db.exec("DELETE FROM log_entries WHERE idx = 4");
      db.exec("DELETE FROM log_heads");
    });
    startLiar();
    CHECK_THAT(errorOf(sendToMy(3)), Catch::Contains("log entry 4 is missing"));
  }
  SECTION("renumbered") {
    verifyEverything();
    tamper([&](sq::Database& db) {
      db.exec("DELETE FROM log_entries WHERE idx = 4");
      db.exec("UPDATE log_entries SET idx = idx - 1 WHERE idx > 4");
      db.exec("DELETE FROM log_heads");
    });
    startLiar();
    CHECK_THAT(errorOf(sendToMy(3)), Catch::Contains("rolled-back"));
  }
}

TEST_CASE_METHOD(TamperedHub, "Reordered log entries are caught and the first differing entry is named",
                 "[integration][keys][tamper]") {
  verifyEverything();
  tamper([&](sq::Database& db) {
    db.exec("UPDATE log_entries SET idx = -1 WHERE idx = 4");
    db.exec("UPDATE log_entries SET idx = 4 WHERE idx = 5");
    db.exec("UPDATE log_entries SET idx = 5 WHERE idx = -1");
    db.exec("DELETE FROM log_heads");
  });
  startLiar();
  CHECK_THAT(errorOf(sendToMy(3)), Catch::Contains("fork") && Catch::Contains("entry 4 differs"));
  auto v = runCliJson(concat(sgArgs(), {"verify-log"}), 3);
  CHECK_THAT(errorOf(v), Catch::Contains("entry 4"));
}

TEST_CASE_METHOD(TamperedHub, "An older head, or entries cut from the end, is caught as a rolled-back log",
                 "[integration][keys][tamper]") {
  verifyEverything();
  SECTION("the head replaced by an older one") {
    tamper([&](sq::Database& db) { db.exec("DELETE FROM log_heads WHERE size > 4"); });
    startLiar();
    CHECK_THAT(errorOf(sendToMy(3)), Catch::Contains("rolled-back") && Catch::Contains("verified 6"));
  }
  SECTION("entries removed from the end, served by the real focald") {
    tamper([&](sq::Database& db) {
      db.exec("DELETE FROM log_entries WHERE idx >= 4");
      db.exec("DELETE FROM log_heads WHERE size > 4");
    });
    hub.start();  // focald replays the shorter log without complaint
    CHECK_THAT(errorOf(sendToMy(3)), Catch::Contains("rolled-back"));
  }
}

TEST_CASE("A fork served to two clients is caught by each when it sees the other branch", "[integration][keys][tamper]") {
  Hub a;
  TempDir home;
  auto sg = keyFileMember(a, "sg-spf-cyber", "SG");
  auto my = keyFileMember(a, "my-pdrm-cyber", "MY");
  a.stop();
  auto b = a.copyStopped();
  a.start();
  b->start();
  // Each branch gives MY another encryption key (both admin-signed, both valid).
  adminRotate(a, home.path() / "admin-a", "my-pdrm-cyber", newEncryptionKey(my.keys), home.path());
  adminRotate(*b, home.path() / "admin-b", "my-pdrm-cyber", newEncryptionKey(my.keys), home.path());

  const auto send = [&](const Hub& hub, const fs::path& profile, int exit) {
    return runCliJson(concat(hub.cliGlobals(sg.keyFile, profile), {"send", "--to", "my-pdrm-cyber", "--tlp", "green",
                                                                 "--category", "trend", "--title", "t", "--body", "b"}),
                   exit);
  };
  // Client 1 trusts branch A first, client 2 branch B; each alone sees a valid log.
  send(a, home.path() / "client1", 0);
  send(*b, home.path() / "client2", 0);
  // Shown the other branch, each refuses to seal to MY's key.
  auto e1 = send(*b, home.path() / "client1", 3);
  CHECK_THAT(errorOf(e1), Catch::Contains("fork") && Catch::Contains("entry 4 differs"));
  auto e2 = send(a, home.path() / "client2", 3);
  CHECK_THAT(errorOf(e2), Catch::Contains("fork"));
  // Members who each only ever see their own branch catch the split view by
  // comparing heads read out over another channel.
  const std::string h1 = runCliJson(concat(a.cliGlobals(sg.keyFile, home.path() / "client1"), {"verify-log"})).at("head");
  auto cmp = runCliJson(concat(b->cliGlobals(sg.keyFile, home.path() / "client2"), {"verify-log", "--compare", h1}), 3);
  CHECK(cmp.at("compared")[0].at("result") == "split-view");
  auto same = runCliJson(concat(a.cliGlobals(sg.keyFile, home.path() / "client1"), {"verify-log", "--compare", h1}));
  CHECK(same.at("compared")[0].at("result") == "consistent");
  runCliJson(concat(a.cliGlobals(sg.keyFile, home.path() / "client1"), {"verify-log", "--compare", "12x:00"}), 1);
  // The fingerprint command uses verified keys only, so it refuses too.
  auto fp = runCliJson(concat(b->cliGlobals(sg.keyFile, home.path() / "client1"), {"fingerprint", "my-pdrm-cyber"}), 3);
  CHECK_THAT(errorOf(fp), Catch::Contains("inconsistent"));
}

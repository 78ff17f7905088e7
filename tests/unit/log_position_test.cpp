// Log v2 (issue 26, PROTOCOL.md §11.1): every author signs its entry's
// place (hub id, index, previous entry hash) with the event, the rules
// refuse a misplaced, repeated, backdated or far-from-issued entry, a v1
// log moves to v2 with a hub-signed checkpoint at startup (the entries
// before it still verify under the v1 rules, also for a client that
// verified them before), and the hub answers a stale position with
// stalePosition and an unpositioned event in v2 with invalidRequest.
#include "client/log_verifier.hpp"
#include "protocol/directory_log.hpp"
#include "protocol/log.hpp"
#include "server/directory.hpp"
#include "server/startup.hpp"
#include "server_test_support.hpp"
#include "tests/support/in_process_hub.hpp"
#include "tests/support/log_events.hpp"
#include "tests/support/raw_client.hpp"

#include <catch2/catch.hpp>

#include <limits>
#include <memory>

using namespace focal;
using namespace focal::test_support::events;
using wire::ErrorCode;
using server::Result;

namespace {

const std::string HubId = "hub-x";

// A log built through the hub's own check / prepare / apply, as
// LogAppender and `focald init` build it.
struct Log {
  bool ready = (crypto::initialize(), true);
  crypto::SigningKeyPair hub = crypto::SigningKeyPair::generate();
  crypto::MemberKeys admin = crypto::MemberKeys::generate("adm-a", T0);
  server::Directory dir;
  std::vector<server::StoredLogEntry> entries;
  std::int64_t at = T0;

  explicit Log(std::uint32_t version) {
    add(genesis(HubId, hub, T0, version), HubId, hub.publicKey);
    auto reg = registration({"adm-a", "SG", wire::Institution::SECRETARIAT, true}, admin.publicKeys(),
                            admin.identity.secretKey);
    add(version >= 2 ? mine(reg) : reg, "adm-a", admin.identity.publicKey);
  }
  protocol::LogPosition next() const { return {HubId, dir.size(), dir.root()}; }
  // `ev` signed again by the admin for the next place.
  protocol::SignedEvent mine(const protocol::SignedEvent& ev) const {
    return positioned(ev, next(), admin.identity.secretKey);
  }
  Result<Ok> offer(const protocol::SignedEvent& ev, const std::string& authorId,
                   const crypto::SigningPublicKey& authorKey, std::int64_t recordedAtMs) const {
    return dir.check(ev.event, ev.signature, authorId, authorKey, std::nullopt, recordedAtMs, recordedAtMs);
  }
  Result<Ok> offer(const protocol::SignedEvent& ev) const { return offer(ev, "adm-a", admin.identity.publicKey, at + 1); }
  void add(const protocol::SignedEvent& ev, const std::string& authorId, const crypto::SigningPublicKey& authorKey) {
    const auto ok = offer(ev, authorId, authorKey, ++at);
    INFO((ok ? "" : ok.error().message));
    REQUIRE(ok);
    entries.push_back(dir.prepare(ev.event, ev.signature, authorId, authorKey, at));
    dir.apply(entries.back());
  }
  void add(const protocol::SignedEvent& ev) { add(ev, "adm-a", admin.identity.publicKey); }
  // Registers a new member `id` (positioned in v2).
  void registerNew(const std::string& id) {
    auto keys = crypto::MemberKeys::generate(id, T0);
    auto ev = registration({id, "MY"}, keys.publicKeys(), admin.identity.secretKey);
    add(dir.log().version() >= 2 ? mine(ev) : ev);
  }
};

void refused(const Result<Ok>& r, ErrorCode code, const std::string& words) {
  REQUIRE_FALSE(r);
  CHECK(r.error().code == code);
  CHECK_THAT(r.error().message, Catch::Contains(words));
}

}  // namespace

TEST_CASE("log v2: each entry must carry the place its author signed it for", "[protocol][log][position]") {
  Log log(2);
  CHECK(log.dir.log().version() == 2);
  log.registerNew("my-le");
  const auto bob = crypto::MemberKeys::generate("th-bob", T0);
  const auto reg = registration({"th-bob", "TH"}, bob.publicKeys(), log.admin.identity.secretKey);
  const auto sk = log.admin.identity.secretKey.clone();
  auto at = log.next();

  SECTION("the right place") { CHECK(log.offer(log.mine(reg))); }
  SECTION("no position") { refused(log.offer(reg), ErrorCode::INVALID_REQUEST, "position"); }
  SECTION("signed for the entry before (the log grew in between)") {
    at.index -= 1;
    refused(log.offer(positioned(reg, at, sk)), ErrorCode::STALE_POSITION, "signed it for entry 2");
  }
  SECTION("signed for a later entry (entries before it were dropped)") {
    at.index += 1;
    refused(log.offer(positioned(reg, at, sk)), ErrorCode::STALE_POSITION, "signed it for entry 4");
  }
  SECTION("signed for another hub") {
    at.hubId = "hub-y";
    refused(log.offer(positioned(reg, at, sk)), ErrorCode::STALE_POSITION, "hub 'hub-y'");
  }
  SECTION("signed after another entry (the log before it was changed)") {
    at.prevEntryHash = log.entries[1].entryHash;
    refused(log.offer(positioned(reg, at, sk)), ErrorCode::STALE_POSITION, "another entry");
  }
}

TEST_CASE("log v2: an event appears once, times never go back and stay near issuedAtMs", "[protocol][log][position]") {
  Log log(2);
  const auto bob = crypto::MemberKeys::generate("th-bob", T0);
  const auto roleUp = log.mine(roleChange("adm-a", true, log.admin.identity.secretKey));
  log.add(roleUp);
  SECTION("the same bytes again: signed for the entry they took (in v2 the duplicate rule is never reached)") {
    refused(log.offer(roleUp), ErrorCode::STALE_POSITION, "signed it for entry 2");
  }
  const auto reg = log.mine(registration({"th-bob", "TH"}, bob.publicKeys(), log.admin.identity.secretKey));
  SECTION("recorded before the previous entry") {
    refused(log.offer(reg, "adm-a", log.admin.identity.publicKey, log.at - 1), ErrorCode::INVALID_REQUEST,
            "recorded before entry 2");
  }
  SECTION("recorded at the previous entry's time") {
    CHECK(log.offer(reg, "adm-a", log.admin.identity.publicKey, log.at));
  }
  SECTION("recorded further from issuedAtMs than the window") {
    const auto late = T0 + protocol::LogIssueWindowMs + 1;
    refused(log.offer(reg, "adm-a", log.admin.identity.publicKey, late), ErrorCode::STALE_TIMESTAMP, "minutes apart");
    CHECK(log.offer(reg, "adm-a", log.admin.identity.publicKey, T0 + protocol::LogIssueWindowMs));
  }
}

TEST_CASE("log v1: unpositioned entries still verify, a repeated event does not", "[protocol][log][position]") {
  Log log(1);
  CHECK(log.dir.log().version() == 1);
  const auto up = roleChange("adm-a", true, log.admin.identity.secretKey);
  log.add(up);
  log.registerNew("my-le");
  refused(log.offer(up), ErrorCode::DUPLICATE, "the same event as entry 2");
  // Times are not judged before v2 (hub clocks of old logs may have stepped back).
  log.at -= 10;
  log.registerNew("th-le");
}

TEST_CASE("log versions: only the hub moves a v1 log to v2, once, and v2 rules hold from the checkpoint on",
          "[protocol][log][position]") {
  Log log(1);
  log.registerNew("my-le");
  SECTION("a member may not write the checkpoint") {
    refused(log.offer(logVersion(log.admin.identity.secretKey, log.next())), ErrorCode::FORBIDDEN, "hub key");
  }
  SECTION("only version 2") {
    refused(log.offer(logVersion(log.hub.secretKey, log.next(), T0, 3), HubId, log.hub.publicKey, log.at + 1),
            ErrorCode::INVALID_REQUEST, "log version");
  }
  SECTION("the checkpoint is itself positioned") {
    auto at = log.next();
    at.index += 1;
    refused(log.offer(logVersion(log.hub.secretKey, at), HubId, log.hub.publicKey, log.at + 1),
            ErrorCode::STALE_POSITION, "signed it for entry 4");
  }
  SECTION("from the checkpoint on") {
    log.add(logVersion(log.hub.secretKey, log.next()), HubId, log.hub.publicKey);
    CHECK(log.dir.log().version() == 2);
    const auto bob = crypto::MemberKeys::generate("th-bob", T0);
    const auto reg = registration({"th-bob", "TH"}, bob.publicKeys(), log.admin.identity.secretKey);
    refused(log.offer(reg), ErrorCode::INVALID_REQUEST, "position");
    CHECK(log.offer(log.mine(reg)));
    refused(log.offer(logVersion(log.hub.secretKey, log.next()), HubId, log.hub.publicKey, log.at + 1),
            ErrorCode::INVALID_REQUEST, "only move a v1 log to v2");
  }
}

TEST_CASE("a v1 log gets its checkpoint at startup, verified on by a client that verified the v1 part",
          "[server][log][position]") {
  test_support::TempDir tmp;
  const auto dbPath = server::testing::createHubDatabase(tmp);
  Log log(1);
  log.registerNew("my-le");
  log.add(revocation("my-le", {}, log.admin.identity.secretKey));
  {
    auto db = server::sqlite::Database::open(dbPath, server::sqlite::Database::Mode::ReadWrite);
    for (const auto& e : log.entries) {
      auto h = protocol::signLogHead(HubId, e.index + 1, e.entryHash, e.recordedAtMs, log.hub.secretKey);
      REQUIRE(server::Store::appendLogEntry(db, e, server::StoredHead{e.index + 1, h.head, h.signature}));
    }
  }
  // A client verified the v1 log before the hub was upgraded.
  client::LogVerifier client;
  for (const auto& e : log.entries) REQUIRE(client.append(server::testing::clientRecord(e)));

  server::Config config;
  config.hubId = HubId;
  config.database = dbPath;
  server::ManualClock clock(log.at + 1000);
  auto restart = [&] {
    server::Store store(server::sqlite::Database::open(dbPath, server::sqlite::Database::Mode::ReadOnly));
    auto dir = server::loadDirectory(store, config, log.hub, clock);
    return std::pair{std::move(dir),
                     store.logEntries(0, std::numeric_limits<std::uint32_t>::max(),
                                      std::numeric_limits<std::size_t>::max())};
  };
  auto [dir, stored] = restart();
  REQUIRE(dir.size() == log.entries.size() + 1);
  CHECK(dir.log().version() == 2);
  REQUIRE(stored.size() == dir.size());
  const auto checkpoint = protocol::decode<wire::LogEvent>(stored.back().event);
  REQUIRE(checkpoint);
  CHECK(checkpoint->root().which() == wire::LogEvent::LOG_VERSION);

  // The client goes on from where it was; a fresh client verifies all.
  REQUIRE(client.append(server::testing::clientRecord(stored.back())));
  const client::SignedHeadBytes head{dir.head().head, crypto::Bytes(dir.head().signature.view().begin(),
                                                                    dir.head().signature.view().end())};
  CHECK(client.checkHead(head));
  client::LogVerifier fresh;
  for (const auto& e : stored) REQUIRE(fresh.append(server::testing::clientRecord(e)));
  CHECK(fresh.root() == client.root());

  // v2 from here: an unpositioned admin event is refused; a second
  // restart appends nothing more.
  const auto bob = crypto::MemberKeys::generate("th-bob", T0);
  const auto reg = registration({"th-bob", "TH"}, bob.publicKeys(), log.admin.identity.secretKey, clock.nowMs());
  refused(dir.check(reg.event, reg.signature, "adm-a", log.admin.identity.publicKey, clock.nowMs()),
          ErrorCode::INVALID_REQUEST, "position");
  CHECK(restart().first.size() == dir.size());
}

TEST_CASE("hub: a new log is v2 from its genesis, and the hub refuses unpositioned and stale admin events",
          "[server][hub][log][position]") {
  test_support::InProcessHub h;
  test_support::RawClient adminSession(h);
  REQUIRE(adminSession.authenticate(h.admin));
  const auto& sk = h.admin.identity.secretKey;
  auto keys = crypto::MemberKeys::generate("th-bob", h.clock.nowMs());
  const auto reg = registration({"th-bob", "TH"}, keys.publicKeys(), sk, h.clock.nowMs());

  auto code = [](const test_support::ServerFrame& f) {
    REQUIRE(f.root().isError());
    return f.root().getError().getCode();
  };
  CHECK(code(adminSession.admin(reg)) == ErrorCode::INVALID_REQUEST);  // no position in a v2 log
  // Signed for the place before the current head: stale.
  server::Store store(server::sqlite::Database::open(h.config.database, server::sqlite::Database::Mode::ReadOnly));
  const auto entries = store.logEntries(0, 10, std::numeric_limits<std::size_t>::max());
  REQUIRE(entries.size() == 2);
  const auto genesisEvent = protocol::decode<wire::LogEvent>(entries[0].event);
  REQUIRE(genesisEvent);
  CHECK(genesisEvent->root().getGenesis().getLogVersion() == protocol::CurrentLogVersion);
  const auto stale = positioned(reg, protocol::LogPosition{h.config.hubId, 1, entries[0].entryHash}, sk);
  CHECK(code(adminSession.admin(stale)) == ErrorCode::STALE_POSITION);
  // Signed for the next place: appended.
  const auto ok = adminSession.admin(reg, sk);
  REQUIRE(ok.root().isAdmin());
  CHECK(ok.root().getAdmin().getIndex() == 2);
}

// Issue 27: one admin key cannot seat a resource-panel member (terms of
// reference §7); only an admission, the consensus of every member state,
// can. Old (v1) entries keep their meaning.
TEST_CASE("log v2: a resource-panel member joins only by consensus and both the hub and a client refuse a register",
          "[protocol][log][position][consensus]") {
  crypto::initialize();  // before the keys below (ctest runs each test alone)
  const auto expert = crypto::MemberKeys::generate("rp-expert", T0);
  const auto reg = [&](const Log& log) {
    return registration({"rp-expert", "", wire::Institution::RESOURCE_PANEL}, expert.publicKeys(),
                        log.admin.identity.secretKey);
  };
  SECTION("v2: the hub refuses it") {
    Log log(2);
    refused(log.offer(log.mine(reg(log))), ErrorCode::POLICY_DENIED,
            "resource-panel member rp-expert may join only by the consensus of every member state");
    // A dialogue partner, also without a state, is still an admin's to register.
    const auto partner = crypto::MemberKeys::generate("us-partner", T0);
    CHECK(log.offer(log.mine(registration({"us-partner", "", wire::Institution::DIALOGUE_PARTNER},
                                          partner.publicKeys(), log.admin.identity.secretKey))));
  }
  SECTION("v2: a client fed a log with it refuses the entry") {
    Log log(2);
    client::LogVerifier v;
    for (const auto& e : log.entries) REQUIRE(v.append(server::testing::clientRecord(e)));
    const auto forged = log.mine(reg(log));
    const auto entry = log.dir.prepare(forged.event, forged.signature, "adm-a", log.admin.identity.publicKey, log.at + 1);
    const auto r = v.append(server::testing::clientRecord(entry));
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains("only by the consensus of every member state"));
  }
  SECTION("v1: a register made before the rule still verifies") {
    Log log(1);
    log.add(reg(log));
    CHECK(log.dir.log().find("rp-expert") != nullptr);
  }
}

// keyFileStatus (client/key_status.hpp): is a key file the member's current
// one, and if not, which log entry ended it (issue 19, finding 1).
#include "client/key_status.hpp"
#include "tests/support/log_events.hpp"

#include <catch2/catch.hpp>

using namespace focal;
using namespace focal::test_support::events;
using client::KeyFileStatus;
using client::LogEntryRecord;

namespace {

struct Entries {
  bool ready = (crypto::initialize(), true);
  std::vector<LogEntryRecord> list;
  void add(const std::string& author, const protocol::SignedEvent& e) {
    LogEntryRecord r;
    r.index = list.size();
    r.recordedAtMs = T0 + 1000 * static_cast<std::int64_t>(list.size());
    r.authorId = author;
    r.event = e.event;
    list.push_back(std::move(r));
  }
};

KeyFileStatus statusOf(const Entries& e, const crypto::MemberKeys& k) {
  return client::keyFileStatus(e.list, k.memberId, k.identity.publicKey, k.encryption.publicKey);
}

// The key file a rotation writes: new keys (the identity kept unless `identity`).
crypto::MemberKeys rotated(const crypto::MemberKeys& from, bool identity) {
  auto fresh = crypto::MemberKeys::generate(from.memberId, T0);
  if (!identity) fresh.identity = crypto::SigningKeyPair::fromSecret(from.identity.secretKey.clone());
  return fresh;
}

}  // namespace

TEST_CASE("A key file is current until a rotation or revocation ends it, and the entry is named",
          "[client][keys]") {
  Entries log;
  const auto admin = crypto::MemberKeys::generate("admin", T0);
  const auto th1 = crypto::MemberKeys::generate("th-ttc", T0);
  log.add("hub", registration({"admin", "SG", wire::Institution::SECRETARIAT, true}, admin.publicKeys(),
                              admin.identity.secretKey));
  log.add("admin", registration({"th-ttc", "TH"}, th1.publicKeys(), admin.identity.secretKey));
  CHECK(statusOf(log, th1).state == KeyFileStatus::State::Current);
  CHECK(client::describeKeyFileStatus(statusOf(log, th1)).empty());

  // Encryption rotation: th1 is stale, its identity still logs in.
  const auto th2 = rotated(th1, false);
  log.add("th-ttc", rotation(false, "th-ttc", th1.encryption.publicKey.view(), th2.publicKeys(), th1.identity.secretKey));
  auto s1 = statusOf(log, th1);
  CHECK(s1.state == KeyFileStatus::State::Superseded);
  REQUIRE(s1.ended);
  CHECK(s1.ended->change == KeyFileStatus::Change::EncryptionReplaced);
  CHECK(s1.ended->index == 2);
  CHECK(s1.ended->atMs == T0 + 2000);
  CHECK(s1.ended->author == "th-ttc");
  CHECK(s1.identityCurrent);
  CHECK_FALSE(s1.identityEnded);
  REQUIRE(s1.currentEncryption);
  CHECK(*s1.currentEncryption == th2.encryption.publicKey);
  CHECK_THAT(client::describeKeyFileStatus(s1), Catch::Contains("encryption key of this key file was replaced at "
                                                                "directory-log entry 2"));
  CHECK(statusOf(log, th2).state == KeyFileStatus::State::Current);

  // Identity rotation: th1 and th2 can no longer log in, from entry 3.
  const auto th3 = rotated(th2, true);
  log.add("th-ttc", rotation(true, "th-ttc", th2.identity.publicKey.view(), th3.publicKeys(), th2.identity.secretKey));
  for (const auto* old : {&th1, &th2}) {
    auto s = statusOf(log, *old);
    CHECK(s.state == KeyFileStatus::State::Superseded);
    CHECK_FALSE(s.identityCurrent);
    REQUIRE(s.identityEnded);
    CHECK(s.identityEnded->change == KeyFileStatus::Change::IdentityReplaced);
    CHECK(s.identityEnded->index == 3);
  }
  CHECK(statusOf(log, th1).ended->index == 2);  // what made th1 stale came first
  CHECK(statusOf(log, th3).state == KeyFileStatus::State::Current);

  // A file the log never named (a rotation that did not reach it, another member's keys).
  const auto stray = rotated(th3, false);
  auto s = statusOf(log, stray);
  CHECK(s.state == KeyFileStatus::State::Unknown);
  CHECK(s.identityCurrent);
  CHECK_FALSE(client::describeKeyFileStatus(s).empty());
  auto other = crypto::MemberKeys::generate("xx-other", T0);
  CHECK(statusOf(log, other).state == KeyFileStatus::State::Unknown);
  CHECK_FALSE(statusOf(log, other).currentIdentity);

  SECTION("revoking the current encryption key ends the file, the identity still logs in") {
    log.add("admin", revocation("th-ttc", th3.encryption.publicKey.view(), admin.identity.secretKey));
    auto r = statusOf(log, th3);
    CHECK(r.state == KeyFileStatus::State::Superseded);
    CHECK(r.ended->change == KeyFileStatus::Change::KeyRevoked);
    CHECK(r.ended->reason == "test");
    CHECK(r.identityCurrent);
  }
  SECTION("revoking the member ends every file, with the reason") {
    log.add("admin", revocation("th-ttc", {}, admin.identity.secretKey));
    auto r = statusOf(log, th3);
    CHECK(r.state == KeyFileStatus::State::Superseded);
    REQUIRE(r.identityEnded);
    CHECK(r.identityEnded->change == KeyFileStatus::Change::MemberRevoked);
    CHECK(r.identityEnded->index == 4);
    CHECK_FALSE(r.currentIdentity);
    CHECK_THAT(client::describeEnding(*r.identityEnded), Catch::Contains("the member was revoked") &&
                                                              Catch::Contains(": test"));
  }
  SECTION("an entry that does not decode is skipped, not trusted") {
    LogEntryRecord junk;
    junk.index = log.list.size();
    junk.event = {0xff, 0x00, 0x13};
    log.list.push_back(junk);
    CHECK(statusOf(log, th3).state == KeyFileStatus::State::Current);
  }
}

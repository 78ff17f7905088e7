// The directory is derived from the log: replaying register, rotate and
// revoke entries gives the expected members and keys; every entry is
// checked for its author's right and signature; a tampered log does not
// replay.
#include "crypto/keyfile.hpp"
#include "protocol/log.hpp"
#include "server/directory.hpp"
#include "tests/support/log_events.hpp"

#include <capnp/message.h>
#include <catch2/catch.hpp>

using namespace focal;
using namespace focal::server;
using protocol::kjBytes;
using namespace focal::test_support::events;

namespace {

// A log under construction: each append goes through check, prepare, apply
// exactly as the hub does.
struct Log {
  Directory dir;
  std::vector<StoredLogEntry> entries;

  Result<Ok> append(const protocol::SignedEvent& ev, const std::string& authorId,
                    const crypto::SigningPublicKey& authorKey, std::optional<std::int64_t> now = T0) {
    auto ok = dir.check(ev.event, ev.signature, authorId, authorKey, now);
    if (!ok) return ok;
    auto entry = dir.prepare(ev.event, ev.signature, authorId, authorKey, T0 + static_cast<std::int64_t>(entries.size()));
    dir.apply(entry);
    entries.push_back(entry);
    return Ok{};
  }
};

struct CryptoReady {
  CryptoReady() { crypto::initialize(); }  // before any member below allocates a secret
};

struct Fixture {
  CryptoReady ready;
  crypto::SigningKeyPair hub = crypto::SigningKeyPair::generate();
  crypto::MemberKeys admin = crypto::MemberKeys::generate("admin", T0);
  crypto::MemberKeys alice = crypto::MemberKeys::generate("sg-alice", T0);
  crypto::MemberKeys bob = crypto::MemberKeys::generate("th-bob", T0);
  Log log;

  Fixture() {
    REQUIRE(log.append(genesis("focal-hub", hub), "focal-hub", hub.publicKey).ok());
    REQUIRE(log.append(registration({"admin", "SG", wire::Institution::POLICY_SECURITY, true}, admin.publicKeys(),
                                    admin.identity.secretKey),
                       "admin", admin.identity.publicKey)
                .ok());
    REQUIRE(log.append(registration({"sg-alice"}, alice.publicKeys(), admin.identity.secretKey), "admin",
                       admin.identity.publicKey)
                .ok());
  }
  Result<Ok> asAdmin(const protocol::SignedEvent& ev) { return log.append(ev, "admin", admin.identity.publicKey); }
};

}  // namespace

TEST_CASE("replaying register, rotate and revoke entries rebuilds the directory", "[server][directory]") {
  Fixture f;
  REQUIRE(f.asAdmin(registration({"th-bob", "TH"}, f.bob.publicKeys(), f.admin.identity.secretKey)).ok());

  // Alice rotates her own encryption key.
  auto alice2 = withNewEncryption(f.alice, T0 + 1);
  REQUIRE(f.log.append(rotation(false, "sg-alice", f.alice.encryption.publicKey.view(), alice2.publicKeys(),
                                f.alice.identity.secretKey),
                       "sg-alice", f.alice.identity.publicKey)
              .ok());
  // The admin replaces Bob's identity key.
  auto bob2 = crypto::MemberKeys::generate("th-bob", T0 + 2);
  REQUIRE(f.asAdmin(rotation(true, "th-bob", f.bob.identity.publicKey.view(), bob2.publicKeys(),
                             f.admin.identity.secretKey))
              .ok());
  // ...and revokes Alice.
  REQUIRE(f.asAdmin(revocation("sg-alice", {}, f.admin.identity.secretKey)).ok());

  auto replayed = Directory::replay(f.log.entries);
  REQUIRE(replayed.ok());
  const Directory& d = replayed.value();
  CHECK(d.hubId() == "focal-hub");
  CHECK(d.hubKey() == f.hub.publicKey);
  CHECK(d.size() == 7);
  CHECK(d.root() == f.log.entries.back().entryHash);
  CHECK(d.members().size() == 3);

  const MemberRecord* admin = d.find("admin");
  REQUIRE(admin);
  CHECK(admin->isAdmin);
  CHECK(admin->active());
  CHECK(admin->logIndex == 1);

  const MemberRecord* alice = d.find("sg-alice");
  REQUIRE(alice);
  CHECK(alice->encryptionKey == alice2.encryption.publicKey);
  CHECK(alice->identityKey == f.alice.identity.publicKey);
  REQUIRE(alice->previousEncryptionKeys.size() == 1);
  CHECK(alice->previousEncryptionKeys[0] == f.alice.encryption.publicKey);
  CHECK(alice->memberRevoked);
  CHECK_FALSE(alice->active());
  CHECK(alice->logIndex == 6);

  const MemberRecord* bob = d.find("th-bob");
  REQUIRE(bob);
  CHECK(bob->state == "TH");
  CHECK(bob->identityKey == bob2.identity.publicKey);
  CHECK(bob->encryptionKey == bob2.encryption.publicKey);
  REQUIRE(bob->identityHistory.size() == 2);
  CHECK(bob->identityHistory[0].key == f.bob.identity.publicKey);
  CHECK(bob->active());
}

TEST_CASE("an event whose signature does not verify is refused", "[server][directory][security]") {
  Fixture f;
  auto ev = registration({"th-bob"}, f.bob.publicKeys(), f.admin.identity.secretKey);
  auto tampered = ev;
  tampered.event.back() ^= 1;
  CHECK(f.asAdmin(tampered).error().code == wire::ErrorCode::BAD_SIGNATURE);
  auto badSig = ev;
  badSig.signature.bytes[5] ^= 1;
  CHECK(f.asAdmin(badSig).error().code == wire::ErrorCode::BAD_SIGNATURE);
  // Signed by someone else but claimed by the admin.
  auto byAlice = registration({"th-bob"}, f.bob.publicKeys(), f.alice.identity.secretKey);
  CHECK(f.asAdmin(byAlice).error().code == wire::ErrorCode::BAD_SIGNATURE);
  // Signed and claimed by Alice with a key that is not her current one.
  CHECK(f.log.append(byAlice, "sg-alice", f.bob.identity.publicKey).error().code == wire::ErrorCode::BAD_SIGNATURE);
  CHECK(f.log.dir.size() == 3);
}

TEST_CASE("a log with a tampered or reordered entry does not replay", "[server][directory][security]") {
  Fixture f;
  REQUIRE(f.asAdmin(registration({"th-bob"}, f.bob.publicKeys(), f.admin.identity.secretKey)).ok());
  REQUIRE(Directory::replay(f.log.entries).ok());

  SECTION("an event byte changed") {
    auto entries = f.log.entries;
    entries[3].event[entries[3].event.size() / 2] ^= 1;
    auto r = Directory::replay(entries);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("log entry 3") != std::string::npos);
  }
  SECTION("a recorded time changed breaks the hash chain") {
    auto entries = f.log.entries;
    entries[2].recordedAtMs += 1;
    auto r = Directory::replay(entries);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("hash chain") != std::string::npos);
  }
  SECTION("an entry removed") {
    auto entries = f.log.entries;
    entries.erase(entries.begin() + 2);
    CHECK_FALSE(Directory::replay(entries).ok());
  }
  SECTION("a log that does not start with the genesis") {
    auto entries = f.log.entries;
    entries.erase(entries.begin());
    CHECK_FALSE(Directory::replay(entries).ok());
  }
}

TEST_CASE("only admins register, revoke and change roles", "[server][directory]") {
  Fixture f;
  auto byAlice = registration({"th-bob"}, f.bob.publicKeys(), f.alice.identity.secretKey);
  CHECK(f.log.append(byAlice, "sg-alice", f.alice.identity.publicKey).error().code == wire::ErrorCode::FORBIDDEN);
  CHECK(f.log.append(revocation("admin", {}, f.alice.identity.secretKey), "sg-alice", f.alice.identity.publicKey)
            .error()
            .code == wire::ErrorCode::FORBIDDEN);
  CHECK(f.log.append(roleChange("sg-alice", true, f.alice.identity.secretKey), "sg-alice", f.alice.identity.publicKey)
            .error()
            .code == wire::ErrorCode::FORBIDDEN);
  // Alice may not rotate Bob's keys, but may rotate her own.
  REQUIRE(f.asAdmin(registration({"th-bob"}, f.bob.publicKeys(), f.admin.identity.secretKey)).ok());
  auto bob2 = withNewEncryption(f.bob, T0);
  CHECK(f.log.append(rotation(false, "th-bob", f.bob.encryption.publicKey.view(), bob2.publicKeys(),
                              f.alice.identity.secretKey),
                     "sg-alice", f.alice.identity.publicKey)
            .error()
            .code == wire::ErrorCode::FORBIDDEN);
}

TEST_CASE("registrations are validated", "[server][directory]") {
  Fixture f;
  const auto& adminKey = f.admin.identity.secretKey;
  CHECK(f.asAdmin(registration({"sg-alice"}, crypto::MemberKeys::generate("sg-alice", T0).publicKeys(), adminKey))
            .error()
            .code == wire::ErrorCode::INVALID_REQUEST);  // exists
  CHECK(f.asAdmin(registration({"Bad_Id"}, crypto::MemberKeys::generate("Bad_Id", T0).publicKeys(), adminKey))
            .error()
            .code == wire::ErrorCode::INVALID_REQUEST);
  CHECK(f.asAdmin(registration({"all"}, crypto::MemberKeys::generate("all", T0).publicKeys(), adminKey))
            .error()
            .code == wire::ErrorCode::INVALID_REQUEST);  // a group address
  CHECK(f.asAdmin(registration({"th-bob", "th"}, f.bob.publicKeys(), adminKey)).error().code ==
        wire::ErrorCode::INVALID_REQUEST);  // state not upper case
  CHECK(f.asAdmin(registration({"th-bob", "TH", wire::Institution::UNSET}, f.bob.publicKeys(), adminKey))
            .error()
            .code == wire::ErrorCode::INVALID_REQUEST);
  // Certificate made for another member id.
  CHECK(f.asAdmin(registration({"th-carol"}, f.bob.publicKeys(), adminKey)).error().code ==
        wire::ErrorCode::BAD_SIGNATURE);
  // An identity key already used by another member (with a valid
  // certificate for the new id).
  auto reuse = withNewEncryption(f.alice, T0);
  reuse.memberId = "sg-alice2";
  CHECK(f.asAdmin(registration({"sg-alice2"}, reuse.publicKeys(), adminKey)).error().code ==
        wire::ErrorCode::INVALID_REQUEST);
  CHECK(f.log.dir.find("sg-alice2") == nullptr);
  // Partners have no state.
  CHECK(f.asAdmin(registration({"eu-partner", "", wire::Institution::DIALOGUE_PARTNER},
                               crypto::MemberKeys::generate("eu-partner", T0).publicKeys(), adminKey))
            .ok());
}

TEST_CASE("an admin request outside the clock window is refused", "[server][directory]") {
  Fixture f;
  auto ev = registration({"th-bob"}, f.bob.publicKeys(), f.admin.identity.secretKey, T0 - 11 * 60 * 1000);
  CHECK(f.log.append(ev, "admin", f.admin.identity.publicKey, T0).error().code == wire::ErrorCode::STALE_TIMESTAMP);
  // Replay does not re-check times.
  CHECK(f.log.append(ev, "admin", f.admin.identity.publicKey, std::nullopt).ok());
}

TEST_CASE("rotations must name the current key and bring a new one", "[server][directory]") {
  Fixture f;
  auto alice2 = withNewEncryption(f.alice, T0);
  // previousKey is not the current encryption key.
  CHECK(f.log.append(rotation(false, "sg-alice", alice2.encryption.publicKey.view(), alice2.publicKeys(),
                              f.alice.identity.secretKey),
                     "sg-alice", f.alice.identity.publicKey)
            .error()
            .code == wire::ErrorCode::INVALID_REQUEST);
  // An encryption rotation may not change the identity key.
  auto other = crypto::MemberKeys::generate("sg-alice", T0);
  CHECK(f.log.append(rotation(false, "sg-alice", f.alice.encryption.publicKey.view(), other.publicKeys(),
                              f.alice.identity.secretKey),
                     "sg-alice", f.alice.identity.publicKey)
            .error()
            .code == wire::ErrorCode::INVALID_REQUEST);
  // Re-using the current key is not a rotation.
  CHECK(f.log.append(rotation(false, "sg-alice", f.alice.encryption.publicKey.view(), f.alice.publicKeys(),
                              f.alice.identity.secretKey),
                     "sg-alice", f.alice.identity.publicKey)
            .error()
            .code == wire::ErrorCode::INVALID_REQUEST);
  // Rotating an unknown member.
  CHECK(f.asAdmin(rotation(false, "xx-nobody", f.alice.encryption.publicKey.view(), alice2.publicKeys(),
                           f.admin.identity.secretKey))
            .error()
            .code == wire::ErrorCode::UNKNOWN_RECIPIENT);
}

TEST_CASE("a revoked identity key makes the member inactive until an admin replaces it", "[server][directory]") {
  Fixture f;
  REQUIRE(f.asAdmin(revocation("sg-alice", f.alice.identity.publicKey.view(), f.admin.identity.secretKey)).ok());
  const MemberRecord* alice = f.log.dir.find("sg-alice");
  REQUIRE(alice);
  CHECK_FALSE(alice->active());
  CHECK(alice->isRevokedKey(f.alice.identity.publicKey.view()));
  // Alice cannot act with the revoked key, not even to rotate it.
  auto selfRotate = crypto::MemberKeys::generate("sg-alice", T0);
  CHECK(f.log.append(rotation(true, "sg-alice", f.alice.identity.publicKey.view(), selfRotate.publicKeys(),
                              f.alice.identity.secretKey),
                     "sg-alice", f.alice.identity.publicKey)
            .error()
            .code == wire::ErrorCode::FORBIDDEN);
  // An admin installs a new identity: active again.
  REQUIRE(f.asAdmin(rotation(true, "sg-alice", f.alice.identity.publicKey.view(), selfRotate.publicKeys(),
                             f.admin.identity.secretKey))
              .ok());
  CHECK(f.log.dir.find("sg-alice")->active());
  // A key of another member cannot be revoked in Alice's name.
  CHECK(f.asAdmin(revocation("sg-alice", f.admin.identity.publicKey.view(), f.admin.identity.secretKey))
            .error()
            .code == wire::ErrorCode::INVALID_REQUEST);
}

TEST_CASE("the hub is never left without an active admin", "[server][directory]") {
  Fixture f;
  CHECK(f.asAdmin(revocation("admin", {}, f.admin.identity.secretKey)).error().code ==
        wire::ErrorCode::INVALID_REQUEST);
  CHECK(f.asAdmin(roleChange("admin", false, f.admin.identity.secretKey)).error().code ==
        wire::ErrorCode::INVALID_REQUEST);
  // With a second admin, the first may step down.
  REQUIRE(f.asAdmin(roleChange("sg-alice", true, f.admin.identity.secretKey)).ok());
  CHECK(f.asAdmin(roleChange("admin", false, f.admin.identity.secretKey)).ok());
  CHECK_FALSE(f.log.dir.find("admin")->isAdmin);
}

TEST_CASE("only entry 1 may be a self-registration, and only of an admin", "[server][directory]") {
  crypto::initialize();
  crypto::SigningKeyPair hub = crypto::SigningKeyPair::generate();
  Log log;
  auto first = crypto::MemberKeys::generate("admin", T0);
  // Entry 0 must be a genesis signed by the key it names.
  auto other = crypto::SigningKeyPair::generate();
  CHECK(log.append(genesis("focal-hub", hub), "focal-hub", other.publicKey).error().code ==
        wire::ErrorCode::BAD_SIGNATURE);
  CHECK(log.append(registration({"admin", "SG", wire::Institution::POLICY_SECURITY, true}, first.publicKeys(),
                                first.identity.secretKey),
                   "admin", first.identity.publicKey)
            .error()
            .code == wire::ErrorCode::INVALID_REQUEST);
  REQUIRE(log.append(genesis("focal-hub", hub), "focal-hub", hub.publicKey).ok());
  // A non-admin first member is refused.
  CHECK(log.append(registration({"admin"}, first.publicKeys(), first.identity.secretKey), "admin",
                   first.identity.publicKey)
            .error()
            .code == wire::ErrorCode::INVALID_REQUEST);
  REQUIRE(log.append(registration({"admin", "SG", wire::Institution::POLICY_SECURITY, true}, first.publicKeys(),
                                  first.identity.secretKey),
                     "admin", first.identity.publicKey)
              .ok());
  // From now on a self-registration is just a registration by a non-member.
  auto intruder = crypto::MemberKeys::generate("xx-intruder", T0);
  CHECK(log.append(registration({"xx-intruder", "SG", wire::Institution::POLICY_SECURITY, true},
                                intruder.publicKeys(), intruder.identity.secretKey),
                   "xx-intruder", intruder.identity.publicKey)
            .error()
            .code == wire::ErrorCode::FORBIDDEN);
  // A second genesis is refused.
  CHECK(log.append(genesis("focal-hub", hub), "focal-hub", hub.publicKey).error().code ==
        wire::ErrorCode::INVALID_REQUEST);
}

TEST_CASE("entry 1 may be signed by the hub key the genesis names - no later entry and no other key may",
          "[server][directory]") {
  crypto::initialize();
  crypto::SigningKeyPair hub = crypto::SigningKeyPair::generate();
  auto first = crypto::MemberKeys::generate("admin", T0);
  const MemberSpec spec{"admin", "SG", wire::Institution::POLICY_SECURITY, true};
  SECTION("another key under the hub's id, or the hub's key under another id, is refused") {
    Log log;
    REQUIRE(log.append(genesis("focal-hub", hub), "focal-hub", hub.publicKey).ok());
    auto other = crypto::SigningKeyPair::generate();
    CHECK(log.append(registration(spec, first.publicKeys(), other.secretKey), "focal-hub", other.publicKey)
              .error()
              .code == wire::ErrorCode::BAD_SIGNATURE);
    CHECK(log.append(registration(spec, first.publicKeys(), hub.secretKey), "someone", hub.publicKey).error().code ==
          wire::ErrorCode::BAD_SIGNATURE);
  }
  SECTION("the hub registers the first admin; the hub may not register anyone after it") {
    Log log;
    REQUIRE(log.append(genesis("focal-hub", hub), "focal-hub", hub.publicKey).ok());
    REQUIRE(log.append(registration(spec, first.publicKeys(), hub.secretKey), "focal-hub", hub.publicKey).ok());
    REQUIRE(log.dir.find("admin") != nullptr);
    CHECK(log.dir.find("admin")->isAdmin);
    auto second = crypto::MemberKeys::generate("sg-second", T0);
    CHECK(log.append(registration({"sg-second", "SG", wire::Institution::POLICY_SECURITY, true},
                                  second.publicKeys(), hub.secretKey),
                     "focal-hub", hub.publicKey)
              .error()
              .code == wire::ErrorCode::FORBIDDEN);
  }
}

TEST_CASE("a recordApproved outcome is accepted only from the hub key and well formed", "[server][directory][consensus]") {
  Fixture f;
  // The hub's own entry.
  REQUIRE(f.log.append(recordApproved(f.hub.secretKey, {"sg-alice"}), "focal-hub", f.hub.publicKey).ok());
  // An admin cannot claim a silence procedure's outcome.
  auto byAdmin = f.asAdmin(recordApproved(f.admin.identity.secretKey, {"sg-alice"}));
  REQUIRE_FALSE(byAdmin.ok());
  CHECK(byAdmin.error().code == wire::ErrorCode::FORBIDDEN);
  // Nor can anyone claim the hub id with another key.
  CHECK_FALSE(f.log.append(recordApproved(f.admin.identity.secretKey, {}), "focal-hub", f.admin.identity.publicKey).ok());
  // Malformed: unsorted lists, a short record id.
  CHECK_FALSE(f.log.append(recordApproved(f.hub.secretKey, {"th-bob", "sg-alice"}), "focal-hub", f.hub.publicKey).ok());
  CHECK_FALSE(f.log.append(recordApproved(f.hub.secretKey, {}, {}, 8), "focal-hub", f.hub.publicKey).ok());
  // The outcome changes no member, and the whole log replays.
  auto replayed = Directory::replay(f.log.entries);
  REQUIRE(replayed);
  CHECK(replayed->size() == f.log.entries.size());
  CHECK(replayed->members().size() == 2);
}

TEST_CASE("an identity rotation may keep the current encryption key but not bring back an earlier one",
          "[server][directory]") {
  // PROTOCOL.md §11.1: "no key may be reused" excludes every key any member
  // holds or held, except that a rotateIdentity may carry the member's own
  // current encryption key over, certified again by the new identity key.
  Fixture f;
  const auto oldEnc = f.alice.encryption.publicKey;
  // An encryption rotation first, so sg-alice has an earlier encryption key.
  auto alice2 = withNewEncryption(f.alice, T0);
  REQUIRE(f.log.append(rotation(false, "sg-alice", f.alice.encryption.publicKey.view(), alice2.publicKeys(),
                                f.alice.identity.secretKey),
                       "sg-alice", f.alice.identity.publicKey)
              .ok());
  // A new identity bringing back the earlier encryption key: refused.
  crypto::MemberKeys back = crypto::MemberKeys::generate("sg-alice", T0);
  back.encryption = crypto::BoxKeyPair::fromSecret(f.alice.encryption.secretKey.clone());
  REQUIRE(back.encryption.publicKey == oldEnc);
  CHECK(f.log.append(rotation(true, "sg-alice", f.alice.identity.publicKey.view(), back.publicKeys(),
                              f.alice.identity.secretKey),
                     "sg-alice", f.alice.identity.publicKey)
            .error()
            .code == wire::ErrorCode::INVALID_REQUEST);
  // A new identity keeping the current encryption key: accepted.
  crypto::MemberKeys keep = crypto::MemberKeys::generate("sg-alice", T0);
  keep.encryption = crypto::BoxKeyPair::fromSecret(alice2.encryption.secretKey.clone());
  CHECK(f.log.append(rotation(true, "sg-alice", f.alice.identity.publicKey.view(), keep.publicKeys(),
                              f.alice.identity.secretKey),
                     "sg-alice", f.alice.identity.publicKey)
            .ok());
  const MemberRecord* m = f.log.dir.find("sg-alice");
  REQUIRE(m != nullptr);
  CHECK(m->identityKey == keep.identity.publicKey);
  CHECK(m->encryptionKey == alice2.encryption.publicKey);
}

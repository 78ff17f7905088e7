// Which key a client accepts on a retraction or a forward record. Neither
// record is bound to the key that signed the bulletin: the hub takes it
// under its author's identity key of the moment. So the client accepts the
// author's key of that moment from the verified history (after an identity
// rotation, the new key), and refuses a key that was revoked or replaced
// before the record's own time.
#include "client/bulletin_reader.hpp"
#include "client/key_directory.hpp"
#include "crypto/keyfile.hpp"
#include "protocol/records.hpp"
#include "client_test_support.hpp"
#include "protocol_test_support.hpp"

#include <catch2/catch.hpp>

using namespace focal;
using namespace focal::client;
using Catch::Matchers::Contains;

namespace {

constexpr std::int64_t CreatedAt = 1'000'000;
constexpr std::int64_t RotatedAt = 2'000'000;  // old identity key replaced
constexpr std::int64_t RevokedAt = 4'000'000;  // new identity key revoked (when a case says so)

// A refusal whose reason names `why`.
template <class T>
void checkRefused(const Expected<T, std::string>& r, const char* why) {
  INFO("expected a refusal naming: " << why);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error(), Contains(why));
}

// A member that rotated its identity key at RotatedAt: `old` then `now`.
MemberRecord rotated(const crypto::MemberKeys& old, const crypto::MemberKeys& now, const std::string& state,
                     wire::Institution inst, std::int64_t newKeyRevokedAt = 0) {
  auto m = testing::activeMember(now, state, inst);
  m.identityHistory = {{old.identity.publicKey, RotatedAt, 0}, {now.identity.publicKey, 0, newKeyRevokedAt}};
  if (newKeyRevokedAt != 0) {
    m.active = false;
    m.revokedAtMs = newKeyRevokedAt;
  }
  return m;
}

struct World {
  // First member: libsodium must be ready before the keys below are made.
  bool sodiumReady = (crypto::initialize(), true);
  crypto::MemberKeys senderOld = crypto::MemberKeys::generate("my-le", CreatedAt - 1);
  crypto::MemberKeys senderNew = crypto::MemberKeys::generate("my-le", RotatedAt);
  crypto::MemberKeys forwarderOld = crypto::MemberKeys::generate("sg-le", CreatedAt - 1);
  crypto::MemberKeys forwarderNew = crypto::MemberKeys::generate("sg-le", RotatedAt);
  crypto::MemberKeys reader = crypto::MemberKeys::generate("sg-ps", CreatedAt - 1);
  crypto::ContentKey key = crypto::ContentKey::random();

  // AMBER from my-le (old key, before its rotation) to sg-le.
  protocol::SealedBulletin bulletin() const {
    const auto d = protocol::testing::draftTo(forwarderOld, wire::Tlp::AMBER, wire::Category::ALERT);
    auto s = protocol::sealBulletin(d, senderOld, key, CreatedAt);
    REQUIRE(s);
    return std::move(s).value();
  }

  HubDirectory directory(std::int64_t senderNewKeyRevokedAt = 0) const {
    return HubDirectory({rotated(senderOld, senderNew, "MY", wire::Institution::LAW_ENFORCEMENT, senderNewKeyRevokedAt),
                         rotated(forwarderOld, forwarderNew, "SG", wire::Institution::LAW_ENFORCEMENT),
                         testing::activeMember(reader, "SG", wire::Institution::POLICY_SECURITY)});
  }

  Expected<protocol::RetractionInfo, std::string> retract(const crypto::MemberKeys& by, std::int64_t at,
                                                          std::int64_t senderNewKeyRevokedAt = 0) const {
    const auto b = bulletin();
    const auto r = protocol::makeRetraction(b.id, "test artefact", by, at);
    return verifyRetractionOf(RawBulletin::fromSealed(b), directory(senderNewKeyRevokedAt), r.body,
                              crypto::Bytes(r.signature.bytes.begin(), r.signature.bytes.end()));
  }

  Expected<OpenedMessage, std::string> openForward(const crypto::MemberKeys& by, std::int64_t at) const {
    const auto b = bulletin();
    protocol::ForwardDraft d;
    d.originalHeader = b.header;
    d.contentKey = &key;
    d.addresses = {"sg-ps"};
    d.recipients = {protocol::RecipientKey{"sg-ps", reader.encryption.publicKey}};
    auto r = protocol::makeForward(d, by, at);
    REQUIRE(r);
    const std::pair<crypto::Bytes, crypto::Bytes> record{
        r->body, crypto::Bytes(r->signature.bytes.begin(), r->signature.bytes.end())};
    return openReceived(RawBulletin::fromSealed(b), directory(), reader, &record);
  }
};

}  // namespace

TEST_CASE("A retraction signed with the sender's identity key of its time is accepted after an identity rotation",
          "[client][records]") {
  World w;
  auto after = w.retract(w.senderNew, RotatedAt + 1000);
  INFO((after ? "" : after.error()));
  REQUIRE(after);
  CHECK(after->reason == "test artefact");
  CHECK(after->senderId == "my-le");
  // Made before the rotation with the key of that time: also accepted.
  CHECK(w.retract(w.senderOld, RotatedAt - 1000));
}

TEST_CASE("A retraction signed with a replaced or revoked key after it ended is refused", "[client][records]") {
  World w;
  checkRefused(w.retract(w.senderOld, RotatedAt + 1000), "after that key was replaced");

  checkRefused(w.retract(w.senderNew, RevokedAt + 1000, RevokedAt), "after that key was revoked");
  // Before the revocation it stands (like a bulletin signed before it).
  CHECK(w.retract(w.senderNew, RevokedAt - 1000, RevokedAt));
}

TEST_CASE("A retraction by anyone but the bulletin's sender is refused", "[client][records]") {
  World w;
  // A recipient retracting in its own name, with its own valid key.
  checkRefused(w.retract(w.forwarderNew, RotatedAt + 1000), "retraction refused");
  // The sender's name with a key the log never gave it.
  auto stranger = crypto::MemberKeys::generate("my-le", RotatedAt);
  checkRefused(w.retract(stranger, RotatedAt + 1000), "signature does not verify");
}

TEST_CASE("A forward record signed with the forwarder's key of its time opens after the forwarder rotated",
          "[client][records]") {
  World w;
  auto old = w.openForward(w.forwarderOld, RotatedAt - 1000);
  INFO((old ? "" : old.error()));
  REQUIRE(old);
  CHECK(old->forwardedBy->forwarderId == "sg-le");
  CHECK(old->body == "b");
  auto fresh = w.openForward(w.forwarderNew, RotatedAt + 1000);
  INFO((fresh ? "" : fresh.error()));
  CHECK(fresh);
  // The replaced key used after its replacement: refused.
  checkRefused(w.openForward(w.forwarderOld, RotatedAt + 1000), "revoked or replaced");
  // A key the log never gave the forwarder.
  auto stranger = crypto::MemberKeys::generate("sg-le", RotatedAt);
  checkRefused(w.openForward(stranger, RotatedAt + 1000), "forward record by 'sg-le' refused");
}

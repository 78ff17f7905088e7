// Directory log: the entry hash chain is exactly the documented byte layout,
// deterministic, and changes with every field; heads and events verify only
// under the right key and context.
#include "crypto/keyfile.hpp"
#include "protocol/log.hpp"
#include "protocol/signing.hpp"

#include <capnp/message.h>
#include <catch2/catch.hpp>

using namespace focal;
using namespace focal::protocol;
using crypto::Bytes;
using crypto::ByteView;

namespace {

template <class F>
F patterned(std::uint8_t seed) {
  F f;
  for (std::size_t i = 0; i < F::size; ++i) f.bytes[i] = static_cast<std::uint8_t>(seed + i);
  return f;
}

void putBe(Bytes& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// The layout of PROTOCOL.md written out independently of logEntryHash.
crypto::Hash256 referenceEntryHash(std::uint64_t index, const crypto::Hash256& prev, std::int64_t recordedAtMs,
                                   ByteView event, const crypto::SigningPublicKey& author,
                                   const crypto::Signature& sig) {
  Bytes m;
  const std::string_view ctx = "focal/v1/log-entry";
  m.insert(m.end(), ctx.begin(), ctx.end());
  m.push_back(0);
  putBe(m, index);
  m.insert(m.end(), prev.bytes.begin(), prev.bytes.end());
  putBe(m, static_cast<std::uint64_t>(recordedAtMs));
  std::uint8_t eventHash[32];
  crypto_generichash(eventHash, sizeof eventHash, event.data(), event.size(), nullptr, 0);
  m.insert(m.end(), eventHash, eventHash + 32);
  m.insert(m.end(), author.bytes.begin(), author.bytes.end());
  m.insert(m.end(), sig.bytes.begin(), sig.bytes.end());
  crypto::Hash256 out;
  crypto_generichash(out.data(), out.size, m.data(), m.size(), nullptr, 0);
  return out;
}

Bytes genesisEvent(std::string_view hubId, const crypto::SigningPublicKey& hubKey) {
  capnp::MallocMessageBuilder m;
  auto e = m.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(1'700'000'000'000);
  auto g = e.initGenesis();
  g.setHubId(capnp::Text::Reader(hubId.data(), hubId.size()));
  g.setHubKey(kjBytes(hubKey.view()));
  return toBytes(m);
}

}  // namespace

TEST_CASE("The log entry hash follows the documented byte layout", "[protocol][log]") {
  crypto::initialize();
  const Bytes event = {1, 2, 3, 4, 5, 6, 7, 8};
  const auto prev = patterned<crypto::Hash256>(0x10);
  const auto author = patterned<crypto::SigningPublicKey>(0x20);
  const auto sig = patterned<crypto::Signature>(0x30);
  for (std::int64_t t : {std::int64_t{0}, std::int64_t{1'700'000'000'000}, std::int64_t{-1}}) {
    CHECK(logEntryHash(7, prev, t, event, author, sig) == referenceEntryHash(7, prev, t, event, author, sig));
  }
  CHECK(logGenesisPrev() == crypto::Hash256{});
  // Test vector for PROTOCOL.md: every input zero or empty.
  const auto zero = logEntryHash(0, crypto::Hash256{}, 0, ByteView{}, crypto::SigningPublicKey{}, crypto::Signature{});
  CHECK(crypto::toHex(zero) == crypto::toHex(referenceEntryHash(0, {}, 0, {}, {}, {})));
}

TEST_CASE("The log entry hash is deterministic and changes with every field", "[protocol][log]") {
  crypto::initialize();
  const Bytes event = {9, 8, 7};
  const auto prev = patterned<crypto::Hash256>(1);
  const auto author = patterned<crypto::SigningPublicKey>(2);
  const auto sig = patterned<crypto::Signature>(3);
  const auto base = logEntryHash(5, prev, 1000, event, author, sig);
  CHECK(logEntryHash(5, prev, 1000, event, author, sig) == base);

  auto flipped = [](auto f, std::size_t i) { f.bytes[i] ^= 1; return f; };
  CHECK_FALSE(logEntryHash(6, prev, 1000, event, author, sig) == base);
  CHECK_FALSE(logEntryHash(5, flipped(prev, 31), 1000, event, author, sig) == base);
  CHECK_FALSE(logEntryHash(5, prev, 1001, event, author, sig) == base);
  CHECK_FALSE(logEntryHash(5, prev, -1000, event, author, sig) == base);
  CHECK_FALSE(logEntryHash(5, prev, 1000, Bytes{9, 8, 6}, author, sig) == base);
  CHECK_FALSE(logEntryHash(5, prev, 1000, Bytes{9, 8, 7, 0}, author, sig) == base);
  CHECK_FALSE(logEntryHash(5, prev, 1000, event, flipped(author, 0), sig) == base);
  CHECK_FALSE(logEntryHash(5, prev, 1000, event, author, flipped(sig, 63)) == base);
}

TEST_CASE("A chain of entries: changing an early entry changes every later hash", "[protocol][log]") {
  crypto::initialize();
  auto hub = crypto::SigningKeyPair::generate();
  std::vector<Bytes> events;
  for (int i = 0; i < 4; ++i) events.push_back(Bytes(static_cast<std::size_t>(8 * (i + 1)), static_cast<std::uint8_t>(i)));
  auto chain = [&](const std::vector<Bytes>& evs) {
    std::vector<crypto::Hash256> hashes;
    crypto::Hash256 prev = logGenesisPrev();
    for (std::size_t i = 0; i < evs.size(); ++i) {
      const auto sig = crypto::sign(context::LogEvent, evs[i], hub.secretKey);
      prev = logEntryHash(i, prev, 1000 + static_cast<std::int64_t>(i), evs[i], hub.publicKey, sig);
      hashes.push_back(prev);
    }
    return hashes;
  };
  const auto a = chain(events);
  CHECK(chain(events) == a);  // Ed25519 is deterministic, so is the chain
  auto altered = events;
  altered[1][0] ^= 0xff;
  const auto b = chain(altered);
  CHECK(b[0] == a[0]);
  for (std::size_t i = 1; i < a.size(); ++i) CHECK_FALSE(b[i] == a[i]);
}

TEST_CASE("A signed log head verifies under the hub key and nowhere else", "[protocol][log]") {
  crypto::initialize();
  auto hub = crypto::SigningKeyPair::generate();
  auto other = crypto::SigningKeyPair::generate();
  const auto root = patterned<crypto::Hash256>(0x42);
  const SignedHead head = signLogHead("hub.aseanwgc", 12, root, 1'700'000'000'500, hub.secretKey);

  auto ok = verifyLogHead(head.head, head.signature, hub.publicKey);
  REQUIRE(ok.ok());
  CHECK(view(ok->root().getHubId()) == "hub.aseanwgc");
  CHECK(ok->root().getSize() == 12);
  CHECK(Bytes(ok->root().getRootHash().begin(), ok->root().getRootHash().end()) == Bytes(root.bytes.begin(), root.bytes.end()));
  CHECK(ok->root().getTimeMs() == 1'700'000'000'500);
  CHECK(crypto::verify(context::LogHead, head.head, head.signature, hub.publicKey));

  auto wrongKey = verifyLogHead(head.head, head.signature, other.publicKey);
  REQUIRE_FALSE(wrongKey.ok());
  CHECK(wrongKey.error() == LogError::BadSignature);

  Bytes tampered = head.head;
  tampered[tampered.size() - 9] ^= 1;
  auto t = verifyLogHead(tampered, head.signature, hub.publicKey);
  REQUIRE_FALSE(t.ok());
  CHECK(t.error() == LogError::BadSignature);

  // The same bytes signed for another purpose are not a head.
  const auto eventSig = crypto::sign(context::LogEvent, head.head, hub.secretKey);
  CHECK_FALSE(verifyLogHead(head.head, eventSig, hub.publicKey).ok());

  // Validly signed garbage is malformed, not accepted.
  const Bytes junk(24, 0xab);
  auto m = verifyLogHead(junk, crypto::sign(context::LogHead, junk, hub.secretKey), hub.publicKey);
  REQUIRE_FALSE(m.ok());
  CHECK(m.error() == LogError::Malformed);

  CHECK(std::string(describe(LogError::Malformed)).back() == '.');
  CHECK(std::string(describe(LogError::BadSignature)).back() == '.');
}

TEST_CASE("A signed log event verifies under its author's key and context", "[protocol][log]") {
  crypto::initialize();
  auto admin = crypto::SigningKeyPair::generate();
  auto member = crypto::MemberKeys::generate("sg-csa", 1'600'000'000'000);
  const auto pub = member.publicKeys();

  capnp::MallocMessageBuilder m;
  auto e = m.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(1'700'000'000'000);
  auto r = e.initRegister();
  auto info = r.initMember();
  info.setId("sg-csa");
  info.setName("Cyber Security Agency");
  info.setState("SG");
  info.setInstitution(wire::Institution::POLICY_SECURITY);
  auto keys = r.initKeys();
  keys.setIdentityKey(kjBytes(pub.identity.view()));
  keys.setEncryptionKey(kjBytes(pub.encryption.view()));
  keys.setEncKeyCreatedAtMs(pub.createdAtMs);
  keys.setEncKeyCert(kjBytes(pub.encCert.view()));
  const SignedEvent signed_ = signLogEvent(m, admin.secretKey);
  CHECK(signed_.event == toBytes(m));

  auto ok = verifyLogEvent(signed_.event, signed_.signature, admin.publicKey);
  REQUIRE(ok.ok());
  REQUIRE(ok->root().which() == wire::LogEvent::REGISTER);
  CHECK(view(ok->root().getRegister().getMember().getId()) == "sg-csa");
  CHECK(ok->root().getRegister().getKeys().getEncKeyCreatedAtMs() == pub.createdAtMs);

  auto bad = verifyLogEvent(signed_.event, signed_.signature, member.identity.publicKey);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error() == LogError::BadSignature);
  const auto headSig = crypto::sign(context::LogHead, signed_.event, admin.secretKey);
  CHECK_FALSE(verifyLogEvent(signed_.event, headSig, admin.publicKey).ok());

  // Genesis by the hub key round-trips the same way.
  auto hub = crypto::SigningKeyPair::generate();
  const Bytes genesis = genesisEvent("hub.aseanwgc", hub.publicKey);
  auto g = verifyLogEvent(genesis, crypto::sign(context::LogEvent, genesis, hub.secretKey), hub.publicKey);
  REQUIRE(g.ok());
  REQUIRE(g->root().which() == wire::LogEvent::GENESIS);
  CHECK(view(g->root().getGenesis().getHubId()) == "hub.aseanwgc");
}

TEST_CASE("The authentication message is nonce, exporter, hub key and the length-prefixed member id", "[protocol][auth]") {
  const auto nonce = patterned<crypto::Challenge>(0x01);
  std::array<std::uint8_t, context::TlsExporterBytes> exporter{};
  for (std::size_t i = 0; i < exporter.size(); ++i) exporter[i] = static_cast<std::uint8_t>(0x40 + i);
  const auto hubKey = patterned<crypto::SigningPublicKey>(0x80);
  const Bytes m = authMessage(nonce, exporter, hubKey, "sg-csa");
  REQUIRE(m.size() == 32 + 32 + 32 + 2 + 6);
  CHECK(Bytes(m.begin(), m.begin() + 32) == Bytes(nonce.bytes.begin(), nonce.bytes.end()));
  CHECK(Bytes(m.begin() + 32, m.begin() + 64) == Bytes(exporter.begin(), exporter.end()));
  CHECK(Bytes(m.begin() + 64, m.begin() + 96) == Bytes(hubKey.bytes.begin(), hubKey.bytes.end()));
  CHECK(m[96] == 0);
  CHECK(m[97] == 6);
  CHECK(std::string(m.begin() + 98, m.end()) == "sg-csa");
}

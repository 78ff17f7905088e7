// What the hub must refuse: spoofed senders, tampered bulletins, unknown
// recipients, oversize and garbage frames, idle unauthenticated peers. After
// each, the hub keeps serving others.
#include "hub_fixture.hpp"

#include "client/bulletin_reader.hpp"
#include "client/client_error.hpp"
#include "client/key_directory.hpp"

#include <catch2/catch.hpp>

using namespace focal;
using namespace focal::test;
using namespace std::chrono_literals;

namespace {

wire::ErrorCode refusalOf(client::Connection& c, const protocol::SealedBulletin& s) {
  try {
    c.send(s);
  } catch (const client::HubError& e) {
    return e.code();
  }
  FAIL("the hub accepted it");
  return wire::ErrorCode::INTERNAL;
}

// Reads the challenge, then returns the next frame (an error is expected).
std::optional<protocol::Parsed<wire::ServerFrame>> afterChallenge(client::Connection& c) {
  auto challenge = c.receiveFrame(5s);
  REQUIRE(challenge.has_value());
  REQUIRE(challenge->root().isChallenge());
  return std::nullopt;
}

// The next frame must be an error with `code`, then the connection closes.
void expectErrorThenClose(client::Connection& c, wire::ErrorCode code) {
  auto f = c.receiveFrame(5s);
  REQUIRE(f.has_value());
  REQUIRE(f->root().isError());
  CHECK(f->root().getError().getCode() == code);
  CHECK_THROWS_AS(c.receiveFrame(5s), client::TransportError);
}

void hubStillServes(Hub& hub, const crypto::MemberKeys& someone) {
  auto c = hub.connect(someone);
  CHECK_NOTHROW(c->ping());
}

crypto::Bytes frameOf(std::uint32_t length, std::uint8_t fill) {
  crypto::Bytes b{static_cast<std::uint8_t>(length >> 24), static_cast<std::uint8_t>(length >> 16),
                  static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length)};
  b.resize(4 + length, fill);
  return b;
}

}  // namespace

TEST_CASE_METHOD(ThreeMembers, "A session cannot send a bulletin that names another member as its sender",
                 "[integration]") {
  auto session = hub.connect(a.keys);
  // Properly signed by B, but sent over A's session.
  CHECK(refusalOf(*session, sealTo(b.keys, {&c.keys}, "from b?")) == wire::ErrorCode::FORBIDDEN);
  // Names B but signed with A's own key.
  crypto::MemberKeys forged;
  forged.memberId = "my-pdrm";
  forged.identity = crypto::SigningKeyPair::fromSecret(a.keys.identity.secretKey.clone());
  forged.encryption = crypto::BoxKeyPair::fromSecret(a.keys.encryption.secretKey.clone());
  CHECK(refusalOf(*session, sealTo(forged, {&c.keys}, "still from a")) == wire::ErrorCode::FORBIDDEN);
  CHECK(hub.connect(c.keys)->fetch(0).items.empty());
}

TEST_CASE_METHOD(TwoMembers, "Tampered bulletins are refused by the hub and, with the reason, by a recipient",
                 "[integration]") {
  auto session = hub.connect(a.keys);

  auto badCipher = sealTo(a.keys, {&b.keys}, "t");
  badCipher.ciphertext[badCipher.ciphertext.size() / 2] ^= 0x01;
  CHECK(refusalOf(*session, badCipher) == wire::ErrorCode::INVALID_REQUEST);

  auto badHeader = sealTo(a.keys, {&b.keys}, "t");
  badHeader.header[badHeader.header.size() - 20] ^= 0x01;
  const auto code = refusalOf(*session, badHeader);
  CHECK((code == wire::ErrorCode::BAD_SIGNATURE || code == wire::ErrorCode::INVALID_REQUEST));

  // A recipient handed tampered bytes (by a hub or a disk) refuses them too.
  auto rc = hub.connect(b.keys);
  const auto dir = client::HubDirectory::fetch(*rc);
  const auto good = client::RawBulletin::fromSealed(sealTo(a.keys, {&b.keys}, "fine"));
  REQUIRE(client::openReceived(good, dir, b.keys).ok());

  auto cipherTampered = good;
  cipherTampered.ciphertext[3] ^= 0x80;
  auto r1 = client::openReceived(cipherTampered, dir, b.keys);
  REQUIRE_FALSE(r1.ok());
  CHECK(r1.error() == protocol::describe(protocol::OpenError::HashMismatch));

  auto headerTampered = good;
  headerTampered.header[headerTampered.header.size() - 20] ^= 0x01;
  auto r2 = client::openReceived(headerTampered, dir, b.keys);
  REQUIRE_FALSE(r2.ok());
  INFO(r2.error());
  CHECK_FALSE(r2.error().empty());

  auto sigTampered = good;
  sigTampered.signature[0] ^= 0x01;
  auto r3 = client::openReceived(sigTampered, dir, b.keys);
  REQUIRE_FALSE(r3.ok());
  CHECK(r3.error() == protocol::describe(protocol::OpenError::BadSignature));

  // A bulletin signed by a key the directory does not give for its sender.
  crypto::MemberKeys impostor = crypto::MemberKeys::generate("sg-spf", nowMs());
  auto r4 = client::openReceived(client::RawBulletin::fromSealed(sealTo(impostor, {&b.keys}, "x")), dir, b.keys);
  REQUIRE_FALSE(r4.ok());
  CHECK(r4.error() == protocol::describe(protocol::OpenError::UnexpectedSender));
}

TEST_CASE_METHOD(OneMember, "A bulletin for a recipient the directory does not know is refused", "[integration]") {
  auto ghost = crypto::MemberKeys::generate("nobody-here", nowMs());
  auto session = hub.connect(a.keys);
  CHECK(refusalOf(*session, sealTo(a.keys, {&ghost}, "to nobody")) == wire::ErrorCode::UNKNOWN_RECIPIENT);
  CHECK_NOTHROW(session->ping());  // a typed refusal does not end the session
}

TEST_CASE_METHOD(OneMember, "A 1 GiB length prefix gets frame-too-large and the connection is closed",
                 "[integration]") {
  SECTION("before authentication") {
    auto c = hub.connectRaw();
    afterChallenge(*c);
    c->sendRawBytes(crypto::Bytes{0x40, 0x00, 0x00, 0x00});
    expectErrorThenClose(*c, wire::ErrorCode::FRAME_TOO_LARGE);
  }
  SECTION("after authentication") {
    auto c = hub.connect(a.keys);
    c->sendRawBytes(crypto::Bytes{0x40, 0x00, 0x00, 0x00});
    expectErrorThenClose(*c, wire::ErrorCode::FRAME_TOO_LARGE);
  }
  hubStillServes(hub, a.keys);
}

TEST_CASE_METHOD(OneMember, "Garbage gets malformed-frame and a closed connection, and the hub still serves others",
                 "[integration]") {
  auto other = hub.connect(a.keys);
  SECTION("before authentication") {
    auto c = hub.connectRaw();
    afterChallenge(*c);
    c->sendRawBytes(frameOf(64, 0xA5));
    expectErrorThenClose(*c, wire::ErrorCode::MALFORMED_FRAME);
  }
  SECTION("after authentication") {
    auto c = hub.connect(a.keys);
    c->sendRawBytes(frameOf(64, 0xFF));
    expectErrorThenClose(*c, wire::ErrorCode::MALFORMED_FRAME);
  }
  CHECK_NOTHROW(other->ping());
  hubStillServes(hub, a.keys);
}

TEST_CASE("An unauthenticated connection that stays idle is dropped after the deadline", "[integration]") {
  Hub hub(HubOptions{{{"unauthenticated_timeout_ms", "500"}}});
  auto a = hub.createMember("sg-spf", "SG");
  auto c = hub.connectRaw();
  afterChallenge(*c);
  const auto start = std::chrono::steady_clock::now();
  bool closed = false;
  try {
    auto f = c->receiveFrame(5s);  // a timeout error frame, or the close itself
    if (f) {
      REQUIRE(f->root().isError());
      CHECK(f->root().getError().getCode() == wire::ErrorCode::TIMEOUT);
      (void)c->receiveFrame(5s);
    }
  } catch (const client::TransportError&) {
    closed = true;
  }
  CHECK(closed);
  CHECK(std::chrono::steady_clock::now() - start < 4s);
  hubStillServes(hub, a.keys);
}

TEST_CASE("A member who connects and disconnects again and again is never refused for too many connections",
          "[integration]") {
  // Regression: after a client closed without a TLS close_notify, the hub's
  // session waited on a read that never completed and the socket sat in
  // CLOSE-WAIT until the idle timeout, so a member running one CLI command
  // after another hit the per-member connection limit.
  Hub hub(HubOptions{{{"max_connections_per_member", "2"}}});
  auto a = hub.createMember("sg-spf", "SG");
  for (int i = 0; i < 12; ++i) {
    INFO("connection " << i);
    auto c = hub.connect(a.keys);
    CHECK_NOTHROW(c->ping());
  }
  // Two at once are still allowed, and a third is refused: the limit holds.
  auto first = hub.connect(a.keys);
  auto second = hub.connect(a.keys);
  const auto refusal = hubRefusal([&] { hub.connect(a.keys); }, "a third connection was allowed");
  CHECK(refusal.code() == wire::ErrorCode::TOO_MANY_CONNECTIONS);
}

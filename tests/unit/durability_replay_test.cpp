// Replay and time against a real hub in process (tests/reliability/
// in_process_hub.hpp). What server_hub_test.cpp already covers is not
// repeated here: a signature over another TLS session's exporter, an
// identical resend on the same session, createdAt 11 minutes in the past.
// Added here:
//  - the exact bytes of a captured Authenticate frame, replayed on a new
//    connection (while the original session is alive, and after it closed),
//    are refused with `unauthenticated` and the connection is closed;
//  - a Send frame replayed byte for byte on another session of the same
//    member, and twice back to back so both land in one commit group, is an
//    idempotent success: the first acceptance time is reported, and the
//    recipient's queue holds the bulletin once;
//  - the ±10 minute window at its edges, in both directions: exactly ±10 min
//    is accepted, one millisecond beyond is `stale-timestamp`;
//  - a verbatim resend after the hub's clock moved past the window is
//    refused (`stale-timestamp`, PROTOCOL.md §8.3 checks time before
//    duplicates) and queues nothing twice.
#include "tests/reliability/in_process_hub.hpp"

#include <catch2/catch.hpp>

using namespace focal;
using namespace focal::reliability;
using wire::ErrorCode;

namespace {

constexpr std::int64_t Window = protocol::MaxClockSkewMs;

protocol::SealedBulletin seal(const crypto::MemberKeys& from, const crypto::MemberKeys& to, std::int64_t createdAtMs) {
  protocol::BulletinDraft d;
  d.hubId = "focal-hub";  // the test hub (seal v2 binds its id)
  d.tlp = wire::Tlp::GREEN;
  d.category = wire::Category::TREND;
  d.title = "replay";
  d.body = "body";
  d.addresses.push_back(to.memberId);
  d.recipients.push_back(protocol::RecipientKey{to.memberId, to.encryption.publicKey});
  auto sealed = protocol::sealBulletin(d, from, crypto::ContentKey::random(), createdAtMs);
  REQUIRE(sealed.ok());
  return std::move(sealed).value();
}

// A Send frame's exact bytes (id 77), to be written verbatim more than once.
crypto::Bytes sendFrame(const protocol::SealedBulletin& b, std::uint64_t id = 77) {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ClientFrame>();
  f.setId(id);
  protocol::toWire(b, f.initSend().initBulletin());
  return protocol::toFrame(m);
}

protocol::Parsed<wire::ServerFrame> replyTo(RawClient& c, std::uint64_t id) {
  for (;;) {
    auto f = c.read();
    REQUIRE(f);
    if (f->root().getId() == id) return std::move(*f);
  }
}

ErrorCode errorOf(const protocol::Parsed<wire::ServerFrame>& f) {
  INFO(describe(f));
  REQUIRE(f.root().which() == wire::ServerFrame::ERROR);
  return f.root().getError().getCode();
}

std::size_t queued(RawClient& c) {
  auto page = c.call([](wire::ClientFrame::Builder f) { f.initFetch().setAfterSeq(0); });
  REQUIRE(page.root().which() == wire::ServerFrame::DELIVERIES);
  return page.root().getDeliveries().getItems().size();
}

}  // namespace

TEST_CASE("replay: a captured Authenticate frame replayed on a new connection is refused",
          "[durability][replay][security]") {
  InProcessHub h;
  auto original = std::make_unique<RawClient>(h);
  const crypto::Bytes captured = original->authenticate("admin", h.admin.identity);

  SECTION("while the original session is alive") {
    RawClient thief(h);
    thief.writeRaw(captured);
    CHECK(thief.finalError() == ErrorCode::UNAUTHENTICATED);
    // The original session is unaffected.
    CHECK(original->call([](wire::ClientFrame::Builder f) { f.setPing(); }).root().which() == wire::ServerFrame::PONG);
  }
  SECTION("after the original session closed") {
    original.reset();
    RawClient thief(h);
    thief.writeRaw(captured);
    CHECK(thief.finalError() == ErrorCode::UNAUTHENTICATED);
  }
  SECTION("followed by requests: none is served") {
    RawClient thief(h);
    thief.writeRaw(captured);
    thief.send([](wire::ClientFrame::Builder f) { f.initDirectory(); });
    std::optional<protocol::Parsed<wire::ServerFrame>> f;
    bool sawDirectory = false;
    while ((f = thief.read())) sawDirectory = sawDirectory || f->root().which() == wire::ServerFrame::DIRECTORY;
    CHECK_FALSE(sawDirectory);
  }
}

TEST_CASE_METHOD(HubWithAliceAndBob,
                 "replay: a bulletin resent verbatim is an idempotent success, queued once", "[durability][replay]") {
  RawClient bobSession(h);
  bobSession.authenticate("th-bob", bob.identity);

  SECTION("on another session of the sender, later") {
    const auto b = seal(alice, bob, h.clock.nowMs());
    const auto frame = sendFrame(b);
    // The frame on a new session of the sender: accepted, as a first send
    // or (`already`) as a resend; returns the acceptance time.
    const auto sendOnNewSession = [&](bool already) {
      RawClient c(h);
      c.authenticate("sg-alice", alice.identity);
      c.writeRaw(frame);
      auto reply = replyTo(c, 77);
      INFO(describe(reply));
      REQUIRE(reply.root().which() == wire::ServerFrame::ACCEPTED);
      CHECK(reply.root().getAccepted().getAlreadyAccepted() == already);
      return reply.root().getAccepted().getAcceptedAtMs();
    };
    const auto firstAcceptedAt = sendOnNewSession(false);
    h.clock.advance(5 * 60 * 1000);  // five minutes later, still inside the window
    CHECK(sendOnNewSession(true) == firstAcceptedAt);
    CHECK(queued(bobSession) == 1);
  }
  SECTION("twice back to back, so both are in flight together") {
    const auto b = seal(alice, bob, h.clock.nowMs());
    RawClient s(h);
    s.authenticate("sg-alice", alice.identity);
    crypto::Bytes both = sendFrame(b, 77);
    const auto second = sendFrame(b, 78);
    both.insert(both.end(), second.begin(), second.end());
    s.writeRaw(both);  // one write: the hub reads both before either commits
    std::optional<protocol::Parsed<wire::ServerFrame>> r1, r2;
    while (!r1 || !r2) {
      auto f = s.read();
      REQUIRE(f);
      if (f->root().getId() == 77) r1.emplace(std::move(*f));
      else if (f->root().getId() == 78) r2.emplace(std::move(*f));
    }
    INFO(describe(*r1) << " / " << describe(*r2));
    REQUIRE(r1->root().which() == wire::ServerFrame::ACCEPTED);
    REQUIRE(r2->root().which() == wire::ServerFrame::ACCEPTED);
    // Exactly one of them stored it.
    CHECK(r1->root().getAccepted().getAlreadyAccepted() != r2->root().getAccepted().getAlreadyAccepted());
    CHECK(r1->root().getAccepted().getAcceptedAtMs() == r2->root().getAccepted().getAcceptedAtMs());
    CHECK(queued(bobSession) == 1);
  }
}

TEST_CASE_METHOD(HubWithAliceAndBob,
                 "time: createdAt is accepted up to exactly ±10 minutes from the hub clock and refused beyond",
          "[durability][replay][time]") {
  RawClient a(h);
  a.authenticate("sg-alice", alice.identity);
  const auto send = [&](std::int64_t offsetMs) {
    const auto b = seal(alice, bob, h.clock.nowMs() + offsetMs);
    return a.call([&](wire::ClientFrame::Builder f) { protocol::toWire(b, f.initSend().initBulletin()); });
  };
  CHECK(send(-Window).root().which() == wire::ServerFrame::ACCEPTED);
  CHECK(send(+Window).root().which() == wire::ServerFrame::ACCEPTED);
  CHECK(errorOf(send(-Window - 1)) == ErrorCode::STALE_TIMESTAMP);
  CHECK(errorOf(send(+Window + 1)) == ErrorCode::STALE_TIMESTAMP);
  CHECK(errorOf(send(+11 * 60 * 1000)) == ErrorCode::STALE_TIMESTAMP);
  CHECK(errorOf(send(-24ll * 60 * 60 * 1000)) == ErrorCode::STALE_TIMESTAMP);
}

TEST_CASE_METHOD(HubWithAliceAndBob,
                 "time: a verbatim resend after the window has passed is accepted again and queues nothing twice",
          "[durability][replay][time]") {
  RawClient bobSession(h);
  bobSession.authenticate("th-bob", bob.identity);
  RawClient a(h);
  a.authenticate("sg-alice", alice.identity);

  const auto b = seal(alice, bob, h.clock.nowMs());
  a.writeRaw(sendFrame(b));
  REQUIRE(replyTo(a, 77).root().which() == wire::ServerFrame::ACCEPTED);
  h.clock.advance(Window + 1);
  a.writeRaw(sendFrame(b));
  // PROTOCOL.md §8.3: a refused send is compared with what is stored; a
  // client that lost the first `accepted` and retries this late is told
  // alreadyAccepted, so it never re-seals under a new id.
  auto again = replyTo(a, 77);
  REQUIRE(again.root().which() == wire::ServerFrame::ACCEPTED);
  CHECK(again.root().getAccepted().getAlreadyAccepted());
  CHECK(queued(bobSession) == 1);
}

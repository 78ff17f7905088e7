// Delivery semantics against the real hub: push, offline queue and paging,
// durability across a restart, acknowledgement, idempotent resend.
#include "hub_fixture.hpp"

#include "client/bulletin_reader.hpp"
#include "client/client_error.hpp"
#include "client/key_directory.hpp"

#include <catch2/catch.hpp>

using namespace focal;
using namespace focal::test;
using namespace std::chrono_literals;

TEST_CASE_METHOD(TwoMembers, "A bulletin sent to an online subscriber is pushed to it and verifies", "[integration]") {
  auto rc = hub.connect(b.keys);
  rc->subscribe();
  auto sc = hub.connect(a.keys);
  const auto sealed = sealTo(a.keys, {&b.keys}, "pushed title");
  const auto acc = sc->send(sealed);
  CHECK(acc.id == sealed.id);
  CHECK_FALSE(acc.alreadyAccepted);

  auto push = rc->nextPush(10s);
  REQUIRE(push.has_value());
  CHECK(push->seq > 0);
  CHECK(titleOf(*rc, push->bulletin, b.keys) == "pushed title");
}

TEST_CASE_METHOD(TwoMembers, "Bulletins for an offline member wait and are fetched oldest first, page by page",
                 "[integration]") {
  std::vector<crypto::BulletinId> sent;
  {
    auto sc = hub.connect(a.keys);
    for (int i = 0; i < 5; ++i) {
      auto s = sealTo(a.keys, {&b.keys}, "offline " + std::to_string(i));
      sc->send(s);
      sent.push_back(s.id);
    }
  }
  auto rc = hub.connect(b.keys);
  std::vector<crypto::BulletinId> got;
  std::uint64_t after = 0;
  int pages = 0;
  for (;;) {
    auto page = rc->fetch(after, 2);
    ++pages;
    REQUIRE(page.items.size() <= 2);
    for (const auto& d : page.items) {
      CHECK(d.seq > after);  // increasing
      after = d.seq;
      got.push_back(*d.bulletin.claimedId());
    }
    if (!page.more) break;
    REQUIRE(pages < 10);
  }
  CHECK(pages == 3);
  CHECK(got == sent);  // oldest first
  CHECK(titleOf(*rc, rc->fetch(0, 1).items.at(0).bulletin, b.keys) == "offline 0");
}

TEST_CASE_METHOD(TwoMembers, "The queue survives a restart of the hub between send and receive", "[integration]") {
  const auto sealed = sealTo(a.keys, {&b.keys}, "durable");
  hub.connect(a.keys)->send(sealed);
  hub.restart();
  auto rc = hub.connect(b.keys);
  auto page = rc->fetch(0);
  REQUIRE(page.items.size() == 1);
  CHECK(*page.items[0].bulletin.claimedId() == sealed.id);
  CHECK(titleOf(*rc, page.items[0].bulletin, b.keys) == "durable");
}

TEST_CASE_METHOD(ThreeMembers, "An acknowledged bulletin leaves the queue and the sender sees it acknowledged",
                 "[integration]") {
  auto sc = hub.connect(a.keys);
  const auto sealed = sealTo(a.keys, {&b.keys, &c.keys}, "ack me");
  sc->send(sealed);

  auto states = sc->status(sealed.id);
  REQUIRE(states.size() == 2);
  for (const auto& s : states) CHECK(s.state == wire::DeliveryState::QUEUED);

  auto rc = hub.connect(b.keys);
  REQUIRE(rc->fetch(0).items.size() == 1);
  const std::vector<crypto::BulletinId> ids{sealed.id};
  CHECK(rc->ack(ids) == 1);
  CHECK(rc->fetch(0).items.empty());

  states = sc->status(sealed.id);
  REQUIRE(states.size() == 2);
  for (const auto& s : states) {
    if (s.memberId == "my-pdrm") {
      CHECK(s.state == wire::DeliveryState::ACKNOWLEDGED);
      CHECK(s.ackedAtMs > 0);
    } else {
      CHECK(s.memberId == "th-tcsd");
      CHECK(s.state == wire::DeliveryState::QUEUED);
    }
  }
  // Someone else's bulletin's status is not visible to a recipient.
  const auto refusal = hubRefusal([&] { (void)hub.connect(c.keys)->status(sealed.id); },
                                  "status of another member's bulletin was answered");
  CHECK(refusal.code() == wire::ErrorCode::NOT_FOUND);
}

TEST_CASE_METHOD(TwoMembers,
                 "An identical resend is idempotent success and the same id with other bytes is a duplicate",
                 "[integration]") {
  auto sc = hub.connect(a.keys);
  const auto sealed = sealTo(a.keys, {&b.keys}, "once");
  CHECK_FALSE(sc->send(sealed).alreadyAccepted);
  CHECK(sc->send(sealed).alreadyAccepted);

  const auto other = sealDraft(draftTo({&b.keys}, "other bytes"), a.keys, crypto::ContentKey::random(), sealed.id);
  const auto refusal = hubRefusal([&] { sc->send(other); }, "a different bulletin under an existing id was accepted");
  CHECK(refusal.code() == wire::ErrorCode::DUPLICATE);
  // Delivered once.
  CHECK(hub.connect(b.keys)->fetch(0).items.size() == 1);
}

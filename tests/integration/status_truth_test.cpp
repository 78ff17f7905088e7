// `status` tells what the hub knows at once (PROTOCOL.md §10): a bulletin
// the hub has pushed or handed out in a fetch reply is "delivered", with a
// time, in the very next status answer, although the delivered mark is
// still waiting to ride in a commit group (server/ARCHITECTURE.md); the
// time does not change once the mark is committed; and "acknowledged"
// always comes with a delivery time. No sleeps: each check is the next
// request after the action it depends on.
#include "hub_fixture.hpp"

#include "client/client_error.hpp"

#include <catch2/catch.hpp>

using namespace focal;
using namespace focal::test;
using namespace std::chrono_literals;

namespace {
const client::RecipientState& stateOf(const std::vector<client::RecipientState>& states, const std::string& member) {
  for (const auto& s : states) {
    if (s.memberId == member) return s;
  }
  FAIL("no status row for " << member);
  throw std::logic_error("unreachable");
}
}  // namespace

TEST_CASE_METHOD(ThreeMembers,
                 "Status says delivered, with a time, right after a fetch reply, and keeps that time once committed",
                 "[integration][status]") {
  auto sc = hub.connect(a.keys);
  const auto sealed = sealTo(a.keys, {&b.keys, &c.keys}, "status at once");
  const auto acc = sc->send(sealed);

  auto rc = hub.connect(b.keys);
  REQUIRE(rc->fetch(0).items.size() == 1);

  // The very next request: the mark is at most in memory on the hub.
  const auto states = sc->status(sealed.id);
  REQUIRE(states.size() == 2);
  const auto& mine = stateOf(states, "my-pdrm");
  CHECK(mine.state == wire::DeliveryState::DELIVERED);
  CHECK(mine.deliveredAtMs >= mine.queuedAtMs);
  CHECK(mine.deliveredAtMs >= acc.acceptedAtMs);
  CHECK(mine.ackedAtMs == 0);
  CHECK(stateOf(states, "th-tcsd").state == wire::DeliveryState::QUEUED);
  CHECK(stateOf(states, "th-tcsd").deliveredAtMs == 0);

  // A restart commits every mark (shutdown flushes them at once); the time
  // read back from the database is the one reported before.
  const std::int64_t reported = mine.deliveredAtMs;
  rc.reset();
  sc.reset();
  hub.restart();
  const auto after = hub.connect(a.keys)->status(sealed.id);
  CHECK(stateOf(after, "my-pdrm").state == wire::DeliveryState::DELIVERED);
  CHECK(stateOf(after, "my-pdrm").deliveredAtMs == reported);
}

TEST_CASE_METHOD(TwoMembers, "Status says delivered right after a push", "[integration][status]") {
  auto rc = hub.connect(b.keys);
  rc->subscribe();
  auto sc = hub.connect(a.keys);
  const auto sealed = sealTo(a.keys, {&b.keys}, "pushed");
  sc->send(sealed);
  REQUIRE(rc->nextPush(30s).has_value());

  const auto states = sc->status(sealed.id);
  REQUIRE(states.size() == 1);
  CHECK(states[0].state == wire::DeliveryState::DELIVERED);
  CHECK(states[0].deliveredAtMs >= states[0].queuedAtMs);
}

TEST_CASE_METHOD(ThreeMembers, "Acknowledged always comes with a delivery time", "[integration][status]") {
  auto sc = hub.connect(a.keys);
  const auto sealed = sealTo(a.keys, {&b.keys, &c.keys}, "ack at once");
  sc->send(sealed);
  const std::vector<crypto::BulletinId> ids{sealed.id};

  // my-pdrm fetches and acks at once: the delivered mark may still be
  // waiting while the ack is committed.
  auto rb = hub.connect(b.keys);
  REQUIRE(rb->fetch(0).items.size() == 1);
  CHECK(rb->ack(ids) == 1);
  // th-tcsd acks an id it never fetched (it learnt it elsewhere): the hub
  // recorded no delivery at all.
  auto rt = hub.connect(c.keys);
  CHECK(rt->ack(ids) == 1);

  auto check = [&](const std::vector<client::RecipientState>& states) {
    REQUIRE(states.size() == 2);
    for (const auto& s : states) {
      CHECK(s.state == wire::DeliveryState::ACKNOWLEDGED);
      CHECK(s.deliveredAtMs > 0);
      CHECK(s.deliveredAtMs <= s.ackedAtMs);
    }
    // The one never delivered by the hub: the ack time, the latest it can
    // have been delivered.
    CHECK(stateOf(states, "th-tcsd").deliveredAtMs == stateOf(states, "th-tcsd").ackedAtMs);
  };
  const auto now = sc->status(sealed.id);
  check(now);
  rb.reset();
  rt.reset();
  sc.reset();
  hub.restart();
  const auto later = hub.connect(a.keys)->status(sealed.id);
  check(later);
  CHECK(stateOf(later, "my-pdrm").deliveredAtMs == stateOf(now, "my-pdrm").deliveredAtMs);
}

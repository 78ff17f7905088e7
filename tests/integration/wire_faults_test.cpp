// The core integration cases through the userspace fault proxy
// (fault_proxy.hpp): latency and byte-by-byte delivery, resets in the middle
// of an upload (resume), lost requests and lost replies around an ack,
// half-open connections, and a reset subscriber that reconnects and
// resumes from its last seen sequence number without losing a bulletin.
#include "hub_fixture.hpp"
#include "fault_proxy.hpp"

#include "client/client_error.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace focal;
using namespace focal::test;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<client::Connection> viaProxy(const Hub& hub, const FaultProxy& proxy, const crypto::MemberKeys& keys,
                                             std::chrono::milliseconds timeout = 10s,
                                             client::ConnectOptions options = {}) {
  options.timeout = timeout;
  auto c = std::make_unique<client::Connection>(options);
  c->connect("127.0.0.1", proxy.port(), hub.caFile());
  c->authenticate(keys);
  return c;
}

// The two members and a fault proxy in front of the hub.
struct ProxiedMembers : TwoMembers {
  FaultProxy proxy{"127.0.0.1", hub.port()};
};

}  // namespace

TEST_CASE_METHOD(ProxiedMembers, "Wire faults: send and receive over 30 ms latency and byte-by-byte delivery",
                 "[integration][wire]") {
  proxy.faults().latencyMs = 30;
  proxy.faults().byteByByte = true;
  auto rc = viaProxy(hub, proxy, b.keys);
  rc->subscribe();
  auto sc = viaProxy(hub, proxy, a.keys);
  const auto sealed = sealTo(a.keys, {&b.keys}, "through the proxy", std::string(20 * 1024, 'z'));
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(sc->send(sealed).id == sealed.id);
  auto push = rc->nextPush(20s);
  REQUIRE(push.has_value());
  CHECK(std::chrono::steady_clock::now() - t0 >= 60ms);  // the latency was really there
  proxy.faults().byteByByte = false;
  proxy.faults().latencyMs = 0;
  CHECK(titleOf(*rc, push->bulletin, b.keys) == "through the proxy");
  const std::vector<crypto::BulletinId> ids{sealed.id};
  CHECK(rc->ack(ids) == 1);
}

TEST_CASE_METHOD(ProxiedMembers,
                 "Wire faults: an upload reset mid-chunk resumes on a new connection and the download matches",
                 "[integration][wire]") {
  TempDir work;
  const auto file = randomAttachment(work.path(), "evidence.bin", 1200 * 1024, 5);
  const auto& blob = file.blob;

  client::ConnectOptions oneChunk;
  oneChunk.chunkWindow = 1;
  {
    auto first = viaProxy(hub, proxy, a.keys, 10s, oneChunk);
    // RST once 800 KiB more went up: inside the second chunk.
    proxy.faults().resetAfterUpBytes = 800 * 1024;
    CHECK_THROWS_AS(first->uploadBlob(blob.reader(), blob.size(), blob.hash()), client::TransportError);
    CHECK(proxy.resets() >= 1);
  }
  proxy.faults().resetAfterUpBytes = 0;
  proxy.faults().latencyMs = 5;
  std::uint64_t resumedAt = ~0ull;
  auto second = viaProxy(hub, proxy, a.keys, 10s, oneChunk);
  second->uploadBlob(blob.reader(), blob.size(), blob.hash(), [&](std::uint64_t done, std::uint64_t) {
    if (resumedAt == ~0ull) resumedAt = done;
  });
  CHECK(resumedAt == protocol::MaxChunkBytes);  // the first chunk was not sent again

  auto d = draftTo({&b.keys}, "evidence", wire::Tlp::AMBER, wire::Category::TOOL);
  d.attachments.push_back(file.entry("application/octet-stream"));
  second->send(sealDraft(d, a.keys, file.contentKey));

  auto rc = viaProxy(hub, proxy, b.keys);
  CHECK(saveOnlyAttachment(*rc, b.keys, work.path(), "received.bin").content == file.plain);
}

TEST_CASE_METHOD(ProxiedMembers,
                 "Wire faults: a lost ack request and a lost ack reply are both repaired by acking again",
                 "[integration][wire]") {
  const auto s1 = sealTo(a.keys, {&b.keys}, "one");
  const auto s2 = sealTo(a.keys, {&b.keys}, "two");
  {
    auto sc = hub.connect(a.keys);
    sc->send(s1);
    sc->send(s2);
  }
  const std::vector<crypto::BulletinId> ack1{s1.id}, ack2{s2.id};

  // Lost request: nothing reaches the hub, the client times out.
  {
    auto rc = viaProxy(hub, proxy, b.keys, 1s);
    REQUIRE(rc->fetch(0).items.size() == 2);
    proxy.faults().blackhole = true;
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(rc->ack(ack1), client::TransportError);
    CHECK(std::chrono::steady_clock::now() - t0 < 3s);
    proxy.faults().blackhole = false;
  }
  // Lost reply: the ack is applied, its answer vanishes.
  {
    auto rc = viaProxy(hub, proxy, b.keys, 1s);
    CHECK(rc->fetch(0).items.size() == 2);  // the lost ack changed nothing
    proxy.faults().blackholeDown = true;
    CHECK_THROWS_AS(rc->ack(ack2), client::TransportError);
    proxy.faults().blackholeDown = false;
  }
  auto rc = viaProxy(hub, proxy, b.keys);
  auto left = rc->fetch(0);
  REQUIRE(left.items.size() == 1);  // s2's ack landed although its reply was lost
  CHECK(*left.items.at(0).bulletin.claimedId() == s1.id);
  CHECK(rc->ack(ack2) == 0);  // acking again is harmless
  CHECK(rc->ack(ack1) == 1);
  CHECK(rc->fetch(0).items.empty());
}

TEST_CASE("Wire faults: a half-open connection times out on the client and is closed on the hub",
          "[integration][wire]") {
  Hub hub(HubOptions{{{"idle_timeout_ms", "2000"}}});
  auto a = hub.createMember("sg-spf", "SG");
  FaultProxy proxy("127.0.0.1", hub.port());
  auto c = viaProxy(hub, proxy, a.keys, 1500ms);
  c->ping();
  proxy.halfOpenAll();
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(c->ping(), client::TransportError);
  const auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(waited >= 1s);
  CHECK(waited < 4s);
  // A fresh connection through the same proxy works.
  CHECK_NOTHROW(viaProxy(hub, proxy, a.keys)->ping());

  // The other half: the client vanishes without a FIN (blackhole), the hub
  // closes the session at its idle deadline.
  auto d = viaProxy(hub, proxy, a.keys);
  proxy.faults().blackhole = true;
  d.reset();
  for (int i = 0; i < 60 && proxy.live() > 0; ++i) std::this_thread::sleep_for(100ms);
  proxy.faults().blackhole = false;
  CHECK(proxy.live() == 0);  // hub's FIN reached the proxy: the hub ended it
}

TEST_CASE_METHOD(ProxiedMembers,
                 "Wire faults: a subscriber reset again and again resumes from its last sequence and loses nothing",
                 "[integration][wire]") {
  proxy.faults().latencyMs = 2;
  std::set<std::string> sent, got;
  std::uint64_t lastSeq = 0;
  int resets = 0, duplicates = 0;
  auto sc = hub.connect(a.keys);
  auto take = [&](const client::Delivery& d) {
    lastSeq = std::max(lastSeq, d.seq);
    const auto id = crypto::toHex(*d.bulletin.claimedId());
    if (!got.insert(id).second) ++duplicates;
  };
  for (int round = 0; round < 6; ++round) {
    try {
      auto rc = viaProxy(hub, proxy, b.keys, 2s);
      // Resume: what was queued since the last seen seq, then pushes.
      for (;;) {
        auto page = rc->fetch(lastSeq);
        for (const auto& d : page.items) take(d);
        if (!page.more) break;
      }
      rc->subscribe();
      bool broken = false;
      for (int i = 0; i < 10; ++i) {
        auto s = sealTo(a.keys, {&b.keys}, "r" + std::to_string(round) + "-" + std::to_string(i));
        sc->send(s);
        sent.insert(crypto::toHex(s.id));
        if (i == 5) {
          proxy.resetAll();
          ++resets;
        }
        if (!broken) {
          try {
            if (auto p = rc->nextPush(200ms)) take(*p);
          } catch (const client::TransportError&) {
            broken = true;  // the reset: keep sending, reconnect next round
          }
        }
      }
    } catch (const client::TransportError&) {
      // the reset: reconnect in the next round
    }
  }
  auto rc = viaProxy(hub, proxy, b.keys);
  for (;;) {
    auto page = rc->fetch(lastSeq);
    for (const auto& d : page.items) take(d);
    if (!page.more) break;
  }
  CHECK(resets == 6);
  CHECK(sent.size() == 60);
  CHECK(got == sent);
  INFO("duplicates " << duplicates);
  CHECK(duplicates == 0);  // resuming from the last seq never repeats one
}

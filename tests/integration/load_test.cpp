// Many sessions at once: a reader that never reads must not stall anyone,
// and a hundred concurrent clients get every bulletin exactly once.
#include "hub_fixture.hpp"

#include "client/client_error.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <barrier>
#include <mutex>
#include <random>
#include <set>

using namespace focal;
using namespace focal::test;
using namespace std::chrono_literals;

TEST_CASE("A subscriber that never reads does not stall other members", "[integration]") {
  // Small outbound queue so the slow consumer overflows quickly.
  Hub hub(HubOptions{{{"outbound_queue_bytes", "2097152"}, {"outbound_queue_frames", "16"}}});
  auto sender = hub.createMember("sg-spf", "SG");
  auto slow = hub.createMember("my-pdrm", "MY");
  auto fast = hub.createMember("th-tcsd", "TH");

  auto slowConn = hub.connect(slow.keys);
  slowConn->subscribe();  // ...and never reads again

  client::ConnectOptions tight;
  tight.timeout = 10s;  // a stalled hub fails the test instead of hanging it
  auto fastConn = hub.connect(fast.keys, tight);
  fastConn->subscribe();
  auto sendConn = hub.connect(sender.keys, tight);

  const std::string big(400 * 1024, 'x');  // ~400 KiB of ciphertext each
  constexpr int Bulletins = 40;            // ~16 MiB pushed at the slow reader
  std::set<crypto::BulletinId> sentToFast;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < Bulletins; ++i) {
    auto s = sealTo(sender.keys, {&slow.keys, &fast.keys}, "bulk " + std::to_string(i), big);
    sendConn->send(s);
    sentToFast.insert(s.id);
    // The fast reader keeps receiving while the slow one is backed up.
    while (auto p = fastConn->nextPush(0ms)) sentToFast.erase(*p->bulletin.claimedId());
  }
  while (!sentToFast.empty()) {
    auto p = fastConn->nextPush(10s);
    REQUIRE(p.has_value());
    sentToFast.erase(*p->bulletin.claimedId());
  }
  CHECK(std::chrono::steady_clock::now() - start < 60s);
  // Nothing is lost for the slow consumer: its queue still holds everything.
  auto later = hub.connect(slow.keys);
  std::size_t queued = 0;
  std::uint64_t after = 0;
  for (;;) {
    auto page = later->fetch(after, 16);
    queued += page.items.size();
    if (!page.items.empty()) after = page.items.back().seq;
    if (!page.more) break;
  }
  CHECK(queued == Bulletins);
}

TEST_CASE("A hundred concurrent clients sending to each other get every bulletin exactly once", "[integration]") {
  Hub hub;
  constexpr int Clients = 100;
  constexpr int PerClient = 5;
  std::vector<std::string> ids;
  for (int i = 0; i < Clients; ++i) ids.push_back("poc-" + std::to_string(i));
  const auto members = hub.createMembers(ids, "SG");

  // expected[r] = ids of bulletins addressed to member r
  std::vector<std::set<crypto::BulletinId>> expected(Clients);
  std::vector<std::vector<protocol::SealedBulletin>> outbox(Clients);
  std::mt19937 rng(42);
  for (int i = 0; i < Clients; ++i) {
    for (int k = 0; k < PerClient; ++k) {
      std::set<int> to;
      while (to.size() < 3) {
        int r = static_cast<int>(rng() % Clients);
        if (r != i) to.insert(r);
      }
      std::vector<const crypto::MemberKeys*> recipients;
      for (int r : to) recipients.push_back(&members[r].keys);
      outbox[i].push_back(sealTo(members[i].keys, recipients, "load " + std::to_string(i) + "/" + std::to_string(k)));
      for (int r : to) expected[r].insert(outbox[i].back().id);
    }
  }

  std::vector<std::multiset<crypto::BulletinId>> received(Clients);
  std::vector<std::string> failures(Clients);
  std::atomic<int> accepted{0};
  std::barrier allSent(Clients);
  std::vector<std::thread> threads;
  for (int i = 0; i < Clients; ++i) {
    threads.emplace_back([&, i] {
      bool arrived = false;
      try {
        client::ConnectOptions o;
        o.timeout = 60s;
        auto c = hub.connect(members[i].keys, o);
        c->subscribe();
        // Send twice: the resend must be deduplicated by id.
        for (int round = 0; round < 2; ++round) {
          for (const auto& r : c->sendPipelined(outbox[i])) {
            if (!r.accepted) throw std::runtime_error("refused: " + r.message);
            if (round == 0) ++accepted;
          }
        }
        allSent.arrive_and_wait();
        arrived = true;
        // Pushes and a fetch overlap; count each delivery, then dedup by id.
        while (auto p = c->nextPush(200ms)) received[i].insert(*p->bulletin.claimedId());
        std::uint64_t after = 0;
        for (;;) {
          auto page = c->fetch(after);
          for (const auto& d : page.items) {
            received[i].insert(*d.bulletin.claimedId());
            after = d.seq;
          }
          if (!page.more) break;
        }
      } catch (const std::exception& e) {
        failures[i] = e.what();
        if (!arrived) allSent.arrive_and_drop();
      }
    });
  }
  for (auto& t : threads) t.join();

  for (int i = 0; i < Clients; ++i) {
    INFO("client " << i << ": " << failures[i]);
    REQUIRE(failures[i].empty());
  }
  CHECK(accepted == Clients * PerClient);
  for (int r = 0; r < Clients; ++r) {
    std::set<crypto::BulletinId> unique(received[r].begin(), received[r].end());
    INFO("member " << r);
    CHECK(unique == expected[r]);
    // At-least-once on the wire (a push and a fetch may both carry one), and
    // each id appears at most twice (never a third copy from the resend).
    for (const auto& id : unique) CHECK(received[r].count(id) <= 2);
  }
}

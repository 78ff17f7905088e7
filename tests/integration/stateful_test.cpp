// Stateful interaction test: a seeded random sequence of hub operations
// (send, receive pushes, fetch, ack, reconnect, drop every connection,
// restart the hub) against a model of what must hold:
//   * every accepted bulletin reaches each of its recipients at least once
//     (push or fetch) and opens with that recipient's key;
//   * nothing reaches a member it was not addressed to;
//   * a fetch returns exactly the model's queue for that member (modulo
//     the operations whose outcome a dropped connection hid: a send or an
//     ack whose answer was lost, resolved by retrying later);
//   * duplicates (a bulletin seen twice by one member, push + fetch) are
//     counted and reported, not failed: delivery is at-least-once.
// The seed is printed on failure; FOCAL_SEED=N replays it, FOCAL_STATEFUL_STEPS
// sets the length (default 300; scripts/long-runs.sh uses more).
// Connections go through the fault proxy so "drop" is a real TCP reset.
#include "hub_fixture.hpp"
#include "fault_proxy.hpp"

#include "client/bulletin_reader.hpp"
#include "client/client_error.hpp"
#include "client/key_directory.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <set>

using namespace focal;
using namespace focal::test;
using namespace std::chrono_literals;

namespace {

using Id = std::string;  // hex bulletin id

struct Peer {
  TestMember member;
  std::unique_ptr<client::Connection> conn;
  std::optional<client::HubDirectory> dir;
  bool wantSubscribed = false;
  std::set<Id> delivered;     // seen at least once (push or fetch)
  std::set<Id> pending;       // model: queued at the hub, not acked
  std::set<Id> maybeAcked;    // an ack whose answer was lost
  std::map<Id, int> seen;     // times seen, for duplicates
};

}  // namespace

TEST_CASE("Stateful: random sends, pushes, fetches, acks, drops and restarts agree with the model",
          "[integration][stateful]") {
  std::uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("FOCAL_SEED")) seed = std::stoull(s);
  int steps = 300;
  if (const char* s = std::getenv("FOCAL_STATEFUL_STEPS")) steps = std::stoi(s);
  INFO("replay with FOCAL_SEED=" << seed);
  std::mt19937_64 rng(seed);
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };

  Hub hub;
  FaultProxy proxy("127.0.0.1", hub.port());
  std::vector<Peer> peers;
  for (auto& m : hub.createMembers({"sg-spf", "my-pdrm", "th-tcsd", "ph-pnp"}, "SG")) {
    peers.push_back(Peer{std::move(m), nullptr, std::nullopt, false, {}, {}, {}, {}});
  }
  std::map<Id, std::set<std::size_t>> addressedTo;            // accepted (or maybe) bulletin -> recipients
  std::map<Id, protocol::SealedBulletin> unconfirmed;         // send whose answer was lost
  std::map<Id, std::size_t> unconfirmedSender;
  std::set<Id> accepted;
  int transportErrors = 0, drops = 0, restarts = 0, sends = 0, acks = 0, fetches = 0, pushes = 0;

  auto connected = [&](Peer& p) -> client::Connection& {
    if (!p.conn || !p.conn->isOpen()) {
      client::ConnectOptions o;
      o.timeout = 5s;
      p.conn = std::make_unique<client::Connection>(o);
      p.conn->connect("127.0.0.1", proxy.port(), hub.caFile());
      p.conn->authenticate(p.member.keys);
      p.dir = client::HubDirectory::fetch(*p.conn);
      if (p.wantSubscribed) p.conn->subscribe();
    }
    return *p.conn;
  };
  std::map<Id, crypto::BulletinId> idOf;
  int duplicatePushes = 0;
  auto receive = [&](std::size_t who, const client::RawBulletin& raw, bool push) {
    Peer& p = peers[who];
    const auto claimed = raw.claimedId();
    REQUIRE(claimed.has_value());
    const Id id = crypto::toHex(*claimed);
    INFO("member " << p.member.id() << " got " << id);
    REQUIRE(addressedTo.count(id) == 1);       // a bulletin the model knows
    REQUIRE(addressedTo[id].count(who) == 1);  // ... addressed to this member
    auto opened = client::openReceived(raw, *p.dir, p.member.keys);
    REQUIRE(opened.ok());                      // readable by its recipient
    // A push of something this member already has (an unacked bulletin is
    // fetched again by design; that is not counted).
    if (push && p.delivered.count(id) == 1) ++duplicatePushes;
    p.delivered.insert(id);
    ++p.seen[id];
  };
  auto drainPushes = [&](std::size_t who) {
    Peer& p = peers[who];
    if (!p.conn || !p.conn->isOpen()) return;
    while (auto d = p.conn->nextPush(0ms)) {
      receive(who, d->bulletin, true);
      ++pushes;
    }
  };
  // Everything queued for `who`, compared with the model.
  auto fetchAll = [&](std::size_t who) {
    Peer& p = peers[who];
    auto& c = connected(p);
    std::set<Id> queued;
    std::uint64_t after = 0;
    for (;;) {
      auto page = c.fetch(after);
      for (const auto& d : page.items) {
        after = d.seq;
        receive(who, d.bulletin, false);
        queued.insert(crypto::toHex(*d.bulletin.claimedId()));
      }
      if (!page.more) break;
    }
    ++fetches;
    for (const auto& id : p.pending) {
      INFO("queued at the model, missing at the hub: " << id);
      CHECK((queued.count(id) == 1 || p.maybeAcked.count(id) == 1));
    }
    for (const auto& id : queued) {
      INFO("queued at the hub, not in the model: " << id);
      CHECK((p.pending.count(id) == 1 || unconfirmed.count(id) == 1));
    }
    // What the hub still queues was not acked; what it dropped was.
    for (auto it = p.maybeAcked.begin(); it != p.maybeAcked.end();) {
      if (queued.count(*it) == 0) p.pending.erase(*it);
      it = p.maybeAcked.erase(it);
    }
  };
  auto confirmSend = [&](const Id& id, std::size_t from) {
    (void)from;
    accepted.insert(id);
    for (auto r : addressedTo[id]) peers[r].pending.insert(id);
    unconfirmed.erase(id);
    unconfirmedSender.erase(id);
  };
  auto resendUnconfirmed = [&]() {
    for (auto it = unconfirmed.begin(); it != unconfirmed.end();) {
      const Id id = it->first;
      auto& s = peers[unconfirmedSender[id]];
      connected(s).send(it->second);  // idempotent: accepted or alreadyAccepted
      ++it;
      confirmSend(id, 0);
    }
  };

  for (int step = 0; step < steps; ++step) {
    const std::size_t who = pick(peers.size());
    Peer& p = peers[who];
    const double op = std::uniform_real_distribution<double>(0, 1)(rng);
    INFO("step " << step << " member " << p.member.id() << " op " << op);
    try {
      if (op < 0.40) {  // send to 1..3 others
        std::vector<const crypto::MemberKeys*> to;
        std::set<std::size_t> idx;
        const std::size_t n = 1 + pick(3);
        while (idx.size() < n) {
          const auto r = pick(peers.size());
          if (r != who) idx.insert(r);
          if (idx.size() == peers.size() - 1) break;
        }
        for (auto r : idx) to.push_back(&peers[r].member.keys);
        auto sealed = sealTo(p.member.keys, to, "step " + std::to_string(step));
        const Id id = crypto::toHex(sealed.id);
        idOf.emplace(id, sealed.id);
        addressedTo[id] = idx;
        unconfirmed.emplace(id, sealed);
        unconfirmedSender[id] = who;
        auto& c = connected(p);
        const auto acc = c.send(sealed);
        CHECK_FALSE(acc.alreadyAccepted);
        confirmSend(id, who);
        ++sends;
      } else if (op < 0.55) {  // subscribe / receive pushes
        if (!p.wantSubscribed) {
          p.wantSubscribed = true;
          connected(p).subscribe();
        }
        connected(p).ping();  // lets pushes arrive
        drainPushes(who);
      } else if (op < 0.70) {
        fetchAll(who);
      } else if (op < 0.85) {  // ack some delivered, still pending ids
        std::vector<crypto::BulletinId> ids;
        std::vector<Id> hex;
        for (const auto& id : p.delivered) {
          if (p.pending.count(id) && !p.maybeAcked.count(id) && chance(0.6)) {
            hex.push_back(id);
            ids.push_back(idOf.at(id));
          }
        }
        if (!ids.empty()) {
          for (const auto& h : hex) p.maybeAcked.insert(h);
          const auto removed = connected(p).ack(ids);
          CHECK(removed == ids.size());
          for (const auto& h : hex) {
            p.pending.erase(h);
            p.maybeAcked.erase(h);
          }
          ++acks;
        }
      } else if (op < 0.92) {  // reconnect this member cleanly
        drainPushes(who);
        p.conn.reset();
        (void)connected(p);
      } else if (op < 0.98) {  // drop every connection (TCP reset)
        for (std::size_t i = 0; i < peers.size(); ++i) drainPushes(i);
        proxy.resetAll();
        ++drops;
        std::this_thread::sleep_for(30ms);
      } else {  // restart the hub
        for (std::size_t i = 0; i < peers.size(); ++i) drainPushes(i);
        hub.restart();
        proxy.setTargetPort(hub.port());
        ++restarts;
      }
    } catch (const client::TransportError& e) {
      ++transportErrors;
      p.conn.reset();
    } catch (const client::HubError& e) {
      // `unavailable` is retryable by contract (a hub restarting); anything
      // else is a failure.
      INFO(e.what());
      REQUIRE(e.code() == wire::ErrorCode::UNAVAILABLE);
      ++transportErrors;
      p.conn.reset();
    }
    if (step % 25 == 24) {
      try {
        resendUnconfirmed();
      } catch (const client::TransportError&) {
        ++transportErrors;
      } catch (const client::HubError& e) {
        // A session of the hub before a restart said "shutting down".
        REQUIRE(e.code() == wire::ErrorCode::UNAVAILABLE);
        ++transportErrors;
        for (auto& q : peers) q.conn.reset();
      }
    }
  }

  // Settle: no faults; every unconfirmed send resolved; every member fetches.
  for (auto& p : peers) p.conn.reset();
  resendUnconfirmed();
  for (std::size_t i = 0; i < peers.size(); ++i) {
    fetchAll(i);
    Peer& p = peers[i];
    for (const auto& id : accepted) {
      if (addressedTo[id].count(i) == 0) continue;
      INFO("accepted bulletin never reached " << p.member.id() << ": " << id);
      CHECK(p.delivered.count(id) == 1);
    }
  }
  WARN("stateful seed " << seed << ": " << steps << " steps, " << sends << " sends (" << accepted.size()
                        << " accepted), " << pushes << " pushes, " << fetches << " fetches, " << acks << " acks, "
                        << drops << " drops, " << restarts << " restarts, " << transportErrors
                        << " transport errors, " << duplicatePushes << " duplicate pushes (at-least-once)");
  CHECK(accepted.size() + unconfirmed.size() == addressedTo.size());
  CHECK(unconfirmed.empty());
}

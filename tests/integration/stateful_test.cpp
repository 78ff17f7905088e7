// Stateful interaction test: a seeded random sequence of hub operations
// (send, receive pushes, fetch, ack, reconnect, drop every connection,
// restart the hub, rotate a member's keys, revoke a member or its key)
// against a model of what must hold:
//   * every accepted bulletin reaches each of its live recipients at least
//     once (push or fetch), opens and verifies with that recipient's key file
//     (client::openReceived against the directory the client verified), and
//     carries the title the model sealed;
//   * nothing reaches a member it was not addressed to, and each recipient
//     entry names exactly the encryption key the sender's verified directory
//     gave at sealing time (so nothing is sealed to a replaced key);
//   * a fetch returns exactly the model's queue for that member (modulo
//     the operations whose outcome a dropped connection hid: a send or an
//     ack whose answer was lost, resolved by retrying later);
//   * rotate key: the member runs the real `focal rotate-key` (CLI
//     subprocess; half of them with --identity) and continues with the key
//     file it wrote. Per SECURITY.md §5 / PROTOCOL.md §8.3 step 6 that file
//     keeps the earlier encryption keys, so bulletins queued for the old key
//     must still open with it; later sends resolve the new key from the
//     verified log; a send sealed to the replaced key is refused
//     (`policyDenied`, PROTOCOL.md §8.3 hub checks) and never delivered; a
//     replaced identity key no longer authenticates (`unauthenticated`).
//     Bulletins the member signed before an identity rotation still verify
//     (PROTOCOL.md §11.1: createdAt before the replacement);
//   * revoke: the admin runs the real `focal admin revoke` (the member, or
//     its identity key). Afterwards the member cannot authenticate
//     (`revokedKey`), a send addressed to it is refused (`revokedKey`) and
//     never delivered, and nothing reaches it; bulletins already accepted
//     for live recipients are still delivered to them, including those the
//     revoked member signed before its revocation, which open with the
//     warning "signed by a key since revoked" (PROTOCOL.md §11.1);
//   * duplicates (a bulletin seen twice by one member, push + fetch) are
//     counted and reported, not failed: delivery is at-least-once.
// The seed is printed on failure; FOCAL_SEED=N replays the sequence of
// operations (pushes race with the test thread, so their counts may vary),
// FOCAL_STATEFUL_STEPS sets the length (default 300; scripts/long-runs.sh
// uses more).
// Connections go through the fault proxy so "drop" is a real TCP reset; the
// CLI subprocesses talk to the hub directly.
#include "hub_fixture.hpp"
#include "fault_proxy.hpp"

#include "client/address_resolver.hpp"
#include "client/bulletin_reader.hpp"
#include "client/client_error.hpp"
#include "client/key_directory.hpp"
#include "protocol/bulletin.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
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
  fs::path profile;  // the CLI's profile directory for this member
  std::unique_ptr<client::Connection> conn;
  std::optional<client::HubDirectory> dir;
  bool wantSubscribed = false;
  bool revoked = false;
  int generation = 0;         // key files written by rotate-key
  std::set<Id> delivered;     // seen at least once (push or fetch)
  std::set<Id> pending;       // model: queued at the hub, not acked
  std::set<Id> maybeAcked;    // an ack whose answer was lost
  std::map<Id, int> seen;     // times seen, for duplicates
};

const char* const SinceRevoked = "signed by a key since revoked";

std::string joined(const std::string& text) { return text.size() > 2000 ? text.substr(0, 2000) + "..." : text; }

}  // namespace

TEST_CASE("Stateful: random sends, pushes, fetches, acks, drops, restarts, key rotations and revocations agree with the model",
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
  TempDir home;
  FaultProxy proxy("127.0.0.1", hub.port());
  std::vector<Peer> peers;
  // Key files (Interactive KDF) so that the CLI can rotate them.
  const std::vector<std::pair<std::string, std::string>> who0{
      {"sg-spf", "SG"}, {"my-pdrm", "MY"}, {"th-tcsd", "TH"}, {"ph-pnp", "PH"}, {"id-polri", "ID"}};
  for (const auto& [id, state] : who0) {
    Peer p;
    p.member = hub.createMember(id, state, wire::Institution::LAW_ENFORCEMENT, true);
    p.profile = home.path() / ("profile-" + id);
    peers.push_back(std::move(p));
  }
  // A revocation may leave at least this many live members (so sends keep
  // having recipients and the model keeps something to check).
  constexpr std::size_t MinLive = 3;

  std::map<Id, std::set<std::size_t>> addressedTo;            // accepted (or maybe) bulletin -> recipients
  std::map<Id, std::map<std::size_t, crypto::BoxPublicKey>> sealedKey;  // ... and the key sealed to for each
  std::map<Id, std::size_t> senderOf;
  std::map<Id, std::string> titleOf;
  std::map<Id, crypto::SigningPublicKey> signerOf;  // the identity key that signed it
  std::vector<crypto::SigningPublicKey> revokedSigners;  // revoked keys (a revoked member: all it held)
  std::map<Id, protocol::SealedBulletin> unconfirmed;         // send whose answer was lost
  std::set<Id> accepted;
  std::set<Id> refusedIds;  // refused by design (sealed to a replaced or revoked key): never delivered
  int transportErrors = 0, drops = 0, restarts = 0, sends = 0, acks = 0, fetches = 0, pushes = 0;
  int rotations = 0, identityRotations = 0, revocations = 0, keyRevocations = 0, refusedAsDesigned = 0;
  int openedWithOldKey = 0, openedSinceRevoked = 0;

  auto liveIndexes = [&] {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < peers.size(); ++i) {
      if (!peers[i].revoked) out.push_back(i);
    }
    return out;
  };
  auto connected = [&](Peer& p) -> client::Connection& {
    REQUIRE_FALSE(p.revoked);  // the model never lets a revoked member connect here
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
  std::map<std::size_t, std::vector<crypto::SigningPublicKey>> identitiesHeld;  // per member, oldest first
  for (std::size_t i = 0; i < peers.size(); ++i) identitiesHeld[i].push_back(peers[i].member.keys.identity.publicKey);
  auto receive = [&](std::size_t who, const client::RawBulletin& raw, bool push) {
    Peer& p = peers[who];
    const auto claimed = raw.claimedId();
    REQUIRE(claimed.has_value());
    const Id id = crypto::toHex(*claimed);
    INFO("member " << p.member.id() << " got " << id);
    REQUIRE_FALSE(p.revoked);                  // nothing reaches a revoked member
    REQUIRE(refusedIds.count(id) == 0);        // nor a bulletin the hub refused
    REQUIRE(addressedTo.count(id) == 1);       // a bulletin the model knows
    REQUIRE(addressedTo[id].count(who) == 1);  // ... addressed to this member
    // The recipient entry names the key the sender sealed to, nothing else.
    auto sig = crypto::Signature::fromBytes(raw.signature);
    REQUIRE(sig.has_value());
    auto header = protocol::verifyHeader(raw.header, *sig);
    REQUIRE(header.ok());
    int entries = 0;
    for (auto r : header->root().getRecipients()) {
      if (protocol::view(r.getMemberId()) != p.member.id()) continue;
      ++entries;
      auto key = crypto::BoxPublicKey::fromBytes(protocol::view(r.getEncryptionKey()));
      REQUIRE(key.has_value());
      CHECK(*key == sealedKey[id].at(who));
      if (!(*key == p.member.keys.encryption.publicKey)) ++openedWithOldKey;
    }
    CHECK(entries == 1);
    auto opened = client::openReceived(raw, *p.dir, p.member.keys);
    INFO("open: " << (opened.ok() ? std::string("ok") : opened.error()));
    REQUIRE(opened.ok());                      // readable by its recipient
    CHECK(opened->title == titleOf[id]);
    const bool signerRevoked =
        std::find(revokedSigners.begin(), revokedSigners.end(), signerOf.at(id)) != revokedSigners.end();
    if (signerRevoked) {
      CHECK(opened->keyWarning == SinceRevoked);
      ++openedSinceRevoked;
    } else {
      CHECK(opened->keyWarning.empty());
    }
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
  auto confirmSend = [&](const Id& id) {
    accepted.insert(id);
    for (auto r : addressedTo[id]) peers[r].pending.insert(id);
    unconfirmed.erase(id);
  };
  auto resendUnconfirmed = [&]() {
    for (auto it = unconfirmed.begin(); it != unconfirmed.end();) {
      const Id id = it->first;
      auto& s = peers[senderOf[id]];
      connected(s).send(it->second);  // idempotent: accepted or alreadyAccepted
      ++it;
      confirmSend(id);
    }
  };
  // Drains what arrived, then closes every connection: after a directory
  // change each client reconnects and verifies the log again, as the CLI
  // does at every command.
  auto closeAll = [&] {
    for (std::size_t i = 0; i < peers.size(); ++i) drainPushes(i);
    for (auto& q : peers) q.conn.reset();
  };
  // A bulletin from `from` sealed to `keys` for `to` (the sender's own
  // choice of key, bypassing its directory): the hub must refuse it with
  // `expect`, and nobody may ever receive it.
  auto sendRefused = [&](std::size_t from, const std::string& to, const crypto::BoxPublicKey& key, wire::ErrorCode expect,
                         const std::string& what) {
    protocol::BulletinDraft d;
    d.hubId = "focal-hub";  // the test hub (seal v2 binds its id)
    d.tlp = wire::Tlp::AMBER;
    d.category = wire::Category::TREND;
    d.title = what;
    d.body = what;
    d.addresses.push_back(to);
    d.recipients.push_back(protocol::RecipientKey{to, key});
    auto sealed = protocol::sealBulletin(d, peers[from].member.keys, crypto::ContentKey::random(), nowMs());
    REQUIRE(sealed.ok());
    refusedIds.insert(crypto::toHex(sealed->id));
    INFO(what);
    try {
      (void)connected(peers[from]).send(*sealed);
      FAIL("the hub accepted " << what);
    } catch (const client::HubError& e) {
      INFO(e.what());
      CHECK(e.code() == expect);
      ++refusedAsDesigned;
    }
  };
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    auto r = runCli(args);
    std::string line;
    for (const auto& a : args) line += " " + a;
    INFO("focal" << line << " -> exit " << r.exitCode
                  << "\nstdout: " << joined(r.out) << "\nstderr: " << joined(r.err));
    REQUIRE(r.exitCode == 0);
  };
  auto withArgs = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };

  auto rotate = [&](std::size_t who, bool identity) {
    Peer& p = peers[who];
    // Sends sealed before the change are settled first: a lost send sealed
    // to (or by) the replaced key could not be resent after it.
    resendUnconfirmed();
    closeAll();
    const fs::path out = home.path() / (p.member.id() + "-" + std::to_string(++p.generation) + ".key");
    std::vector<std::string> args{"rotate-key", "--out", out.string(), "--kdf", "interactive"};
    if (identity) args.push_back("--identity");
    cli(withArgs(hub.cliGlobals(p.member.keyFile, p.profile), args));
    auto loaded = crypto::readKeyFile(out, TestPassphrase);
    REQUIRE(loaded.ok());
    crypto::MemberKeys old = std::move(p.member.keys);
    const auto oldEnc = old.encryption.publicKey;
    CHECK_FALSE(loaded->encryption.publicKey == oldEnc);
    CHECK((loaded->identity.publicKey == old.identity.publicKey) == !identity);
    bool keepsOld = false;
    for (const auto& k : loaded->previousEncryption) keepsOld = keepsOld || k.publicKey == oldEnc;
    CHECK(keepsOld);  // SECURITY.md §5: the new file keeps the earlier encryption keys
    p.member.keys = std::move(loaded).value();
    p.member.keyFile = out;
    if (identity) identitiesHeld[who].push_back(p.member.keys.identity.publicKey);
    ++rotations;
    if (identity) {
      ++identityRotations;
      // The replaced identity key no longer authenticates.
      try {
        (void)hub.connect(old);
        FAIL("a replaced identity key authenticated");
      } catch (const client::HubError& e) {
        INFO(e.what());
        CHECK(e.code() == wire::ErrorCode::UNAUTHENTICATED);
      }
    }
    // A sender that seals to the replaced encryption key is refused.
    const auto live = liveIndexes();
    if (live.size() > 1) {
      std::size_t from = live[pick(live.size())];
      if (from == who) from = live[(std::find(live.begin(), live.end(), who) - live.begin() + 1) % live.size()];
      sendRefused(from, p.member.id(), oldEnc, wire::ErrorCode::POLICY_DENIED, "a bulletin sealed to a replaced key");
    }
  };
  auto revoke = [&](std::size_t target, bool byKey) {
    Peer& t = peers[target];
    resendUnconfirmed();
    closeAll();
    std::vector<std::string> args{"admin", "revoke", t.member.id(), "--reason", "stateful test"};
    if (byKey) {
      args.push_back("--key");
      args.push_back(crypto::toHex(t.member.keys.identity.publicKey));
    }
    cli(withArgs(hub.cliGlobals(hub.adminKeyFile(), home.path() / "profile-admin"), args));
    t.revoked = true;
    // PROTOCOL.md §11.1: revoking the member ends every identity key it
    // held; revoking a key ends that key only (earlier, replaced keys keep
    // their clean period).
    if (byKey) revokedSigners.push_back(t.member.keys.identity.publicKey);
    else revokedSigners.insert(revokedSigners.end(), identitiesHeld[target].begin(), identitiesHeld[target].end());
    t.wantSubscribed = false;
    ++revocations;
    if (byKey) ++keyRevocations;
    // It can no longer authenticate...
    try {
      (void)hub.connect(t.member.keys);
      FAIL("a revoked member authenticated");
    } catch (const client::HubError& e) {
      INFO(e.what());
      CHECK(e.code() == wire::ErrorCode::REVOKED_KEY);
    }
    // ...and nobody can address it any more (with the key it held).
    const auto live = liveIndexes();
    sendRefused(live[pick(live.size())], t.member.id(), t.member.keys.encryption.publicKey, wire::ErrorCode::REVOKED_KEY,
                "a bulletin sealed to a revoked member");
  };

  // At least one rotation and one revocation in every run, whatever the seed.
  const int forceRotateAt = steps / 3, forceRevokeAt = (2 * steps) / 3;
  for (int step = 0; step < steps; ++step) {
    const auto live = liveIndexes();
    const std::size_t who = live[pick(live.size())];
    Peer& p = peers[who];
    double op = std::uniform_real_distribution<double>(0, 1)(rng);
    // From the forced step on, until it has happened: an attempt can end in
    // a transport error of a fault step before it (seen under ASan), which
    // the loop counts and carries on from.
    if (step >= forceRotateAt && rotations == 0) op = 0.975;
    if (step >= forceRevokeAt && revocations == 0) op = 0.995;
    INFO("step " << step << " member " << p.member.id() << " op " << op);
    try {
      if (op < 0.38) {  // send to 1..3 live others, keys from the sender's verified directory
        std::set<std::size_t> idx;
        const std::size_t n = std::min<std::size_t>(1 + pick(3), live.size() - 1);
        while (idx.size() < n) {
          const auto r = live[pick(live.size())];
          if (r != who) idx.insert(r);
        }
        if (idx.empty()) continue;
        auto& c = connected(p);
        std::vector<std::string> addresses;
        for (auto r : idx) addresses.push_back(peers[r].member.id());
        auto resolved = client::resolveAddresses(*p.dir, addresses, p.member.id());
        INFO((resolved.ok() ? std::string() : resolved.error()));
        REQUIRE(resolved.ok());
        protocol::BulletinDraft d;
        d.hubId = "focal-hub";  // the test hub (seal v2 binds its id)
        d.tlp = wire::Tlp::AMBER;
        d.category = wire::Category::TREND;
        d.title = "step " + std::to_string(step);
        d.body = "from " + p.member.id();
        d.addresses = addresses;
        d.recipients = *resolved;
        auto sealedOr = protocol::sealBulletin(d, p.member.keys, crypto::ContentKey::random(), nowMs());
        REQUIRE(sealedOr.ok());
        auto sealed = std::move(sealedOr).value();
        const Id id = crypto::toHex(sealed.id);
        idOf.emplace(id, sealed.id);
        addressedTo[id] = idx;
        for (const auto& rk : *resolved) {
          for (auto r : idx) {
            if (peers[r].member.id() != rk.memberId) continue;
            // The verified directory gives the key the model says is current.
            CHECK(rk.encryptionKey == peers[r].member.keys.encryption.publicKey);
            sealedKey[id].emplace(r, rk.encryptionKey);
          }
        }
        REQUIRE(sealedKey[id].size() == idx.size());
        senderOf[id] = who;
        titleOf[id] = d.title;
        signerOf.emplace(id, p.member.keys.identity.publicKey);
        unconfirmed.emplace(id, sealed);
        const auto acc = c.send(sealed);
        CHECK_FALSE(acc.alreadyAccepted);
        confirmSend(id);
        ++sends;
      } else if (op < 0.53) {  // subscribe / receive pushes
        if (!p.wantSubscribed) {
          p.wantSubscribed = true;
          connected(p).subscribe();
        }
        connected(p).ping();  // lets pushes arrive
        drainPushes(who);
      } else if (op < 0.68) {
        fetchAll(who);
      } else if (op < 0.83) {  // ack some delivered, still pending ids
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
      } else if (op < 0.90) {  // reconnect this member cleanly
        drainPushes(who);
        p.conn.reset();
        (void)connected(p);
      } else if (op < 0.95) {  // drop every connection (TCP reset)
        for (std::size_t i = 0; i < peers.size(); ++i) drainPushes(i);
        proxy.resetAll();
        ++drops;
        std::this_thread::sleep_for(30ms);
      } else if (op < 0.97) {  // restart the hub
        for (std::size_t i = 0; i < peers.size(); ++i) drainPushes(i);
        hub.restart();
        proxy.setTargetPort(hub.port());
        ++restarts;
      } else if (op < 0.99) {  // rotate this member's keys (half the time the identity key too)
        rotate(who, chance(0.5));
      } else if (live.size() > MinLive) {  // the admin revokes a live member, or its identity key
        revoke(who, chance(0.5));
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

  // Settle: no faults; every unconfirmed send resolved; every live member
  // fetches everything it was sent, including what revoked members signed
  // before their revocation and what was also addressed to them.
  for (auto& p : peers) p.conn.reset();
  resendUnconfirmed();
  int toRevokedNeverDelivered = 0, stillDeliveredFromRevoked = 0;
  for (std::size_t i = 0; i < peers.size(); ++i) {
    Peer& p = peers[i];
    if (p.revoked) {
      // Nothing more can reach it: it cannot authenticate.
      try {
        (void)hub.connect(p.member.keys);
        FAIL("revoked member " << p.member.id() << " authenticated");
      } catch (const client::HubError& e) {
        CHECK(e.code() == wire::ErrorCode::REVOKED_KEY);
      }
      for (const auto& id : accepted) {
        if (addressedTo[id].count(i) == 1 && p.delivered.count(id) == 0) ++toRevokedNeverDelivered;
      }
      continue;
    }
    fetchAll(i);
    for (const auto& id : accepted) {
      if (addressedTo[id].count(i) == 0) continue;
      INFO("accepted bulletin never reached " << p.member.id() << ": " << id);
      CHECK(p.delivered.count(id) == 1);
      if (peers[senderOf[id]].revoked) ++stillDeliveredFromRevoked;  // sent before the revocation
    }
  }
  int duplicateDeliveries = 0;
  for (const auto& p : peers) {
    for (const auto& [id, n] : p.seen) duplicateDeliveries += n - 1;
  }
  WARN("stateful seed " << seed << ": " << steps << " steps, " << sends << " sends (" << accepted.size()
                        << " accepted), " << pushes << " pushes, " << fetches << " fetches, " << acks << " acks, "
                        << drops << " drops, " << restarts << " restarts, " << rotations << " key rotations ("
                        << identityRotations << " with identity), " << revocations << " revocations (" << keyRevocations
                        << " of a key), " << refusedAsDesigned << " sends refused as designed (replaced/revoked key), "
                        << openedWithOldKey << " opened with a pre-rotation key, " << openedSinceRevoked
                        << " opened from a since-revoked sender (" << stillDeliveredFromRevoked
                        << " checked at the end), " << toRevokedNeverDelivered
                        << " queued for revoked members and never delivered, " << transportErrors
                        << " transport errors, " << duplicatePushes << " duplicate pushes, " << duplicateDeliveries
                        << " deliveries beyond the first (at-least-once)");
  CHECK(accepted.size() + unconfirmed.size() == addressedTo.size());
  CHECK(unconfirmed.empty());
  CHECK(rotations >= 1);
  CHECK(revocations >= 1);
}

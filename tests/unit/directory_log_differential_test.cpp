// Differential test of the directory log's two readers: the hub path
// (server::Directory::replay, what focald runs at startup) and the client
// path (client::LogVerifier, what every client runs on the entries it
// fetches) must judge the same entry sequences identically, entry by entry:
// both accept, or both refuse the same entry with the same sentence (which
// names the same protocol::LogRule). Sequences are built with the real
// signing code (valid ones, grown with the hub's own check as the oracle)
// and then mutated: altered signature or bytes, another author or author
// key, reordered, repeated or dropped entries, re-signed by someone else or
// by a replaced key, a field changed and properly re-signed, a zero time;
// and the place and time rules of log v2 (half the sequences are v2 logs,
// every event signed for its place): an entry dropped or two swapped with
// the rest renumbered and re-chained, an event replayed at the end, an
// event signed for another place, a recordedAtMs that goes back or lies
// far from issuedAtMs.
//
// Seeded: the actions and mutations are a function of the seed (key bytes
// are fresh; no verdict depends on them). FOCAL_DIFF_SEQUENCES sets the
// count (default 2000).
#include "client/log_verifier.hpp"
#include "protocol/consensus.hpp"
#include "crypto/primitives.hpp"
#include "protocol/limits.hpp"
#include "protocol/log.hpp"
#include "protocol/signing.hpp"
#include "server/directory.hpp"
#include "tests/support/log_events.hpp"

#include <capnp/message.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <memory>
#include <random>

using namespace focal;
using namespace focal::test_support::events;

namespace {

// One entry as a hub would store and serve it, with the key that signed it
// (for mutations that re-sign).
struct Entry : server::StoredLogEntry {  // entryHash unused: stored() chains it
  std::shared_ptr<const crypto::MemberKeys> signer;  // null: the hub key
};

Entry entryOf(std::uint64_t index, std::int64_t at, const std::string& authorId, const crypto::SigningPublicKey& authorKey,
              const protocol::SignedEvent& ev, std::shared_ptr<const crypto::MemberKeys> signer) {
  return Entry{{index, at, authorId, authorKey, ev.event, ev.signature, {}}, std::move(signer)};
}

struct Verdict {
  bool ok = true;
  std::string error;
};

const std::vector<std::string> Ids = {"adm-a", "adm-b", "sg-le", "sg-ps", "my-le", "th-le", "vn-ps", "acme-labs",
                                      "sec-x", "dp-y"};
const std::vector<std::string> States = {"SG", "MY", "TH", "VN", ""};
const std::vector<wire::Institution> Institutions = {
    wire::Institution::LAW_ENFORCEMENT, wire::Institution::POLICY_SECURITY, wire::Institution::SECRETARIAT,
    wire::Institution::DIALOGUE_PARTNER, wire::Institution::RESOURCE_PANEL};

// ---- the two paths -----------------------------------------------------------------------

std::vector<server::StoredLogEntry> stored(const std::vector<Entry>& seq) {
  std::vector<server::StoredLogEntry> out;
  crypto::Hash256 chain{};
  for (std::size_t i = 0; i < seq.size(); ++i) {
    const auto& e = seq[i];
    server::StoredLogEntry s = e;
    chain = protocol::logEntryHash(e.index, i == 0 ? protocol::logGenesisPrev() : chain, e.recordedAtMs, e.event,
                                   e.authorKey, e.signature);
    s.entryHash = chain;
    out.push_back(std::move(s));
  }
  return out;
}

client::LogEntryRecord record(const Entry& e) {
  client::LogEntryRecord r;
  r.index = e.index;
  r.recordedAtMs = e.recordedAtMs;
  r.authorId = e.authorId;
  r.authorKey.assign(e.authorKey.view().begin(), e.authorKey.view().end());
  r.event = e.event;
  r.signature.assign(e.signature.view().begin(), e.signature.view().end());
  return r;
}

// Both paths over `seq`; on agreement with both accepting, the member
// tables they derived must match too.
void compare(const std::vector<Entry>& seq, std::uint64_t seed, std::string_view mutation) {
  auto hub = server::Directory::replay(stored(seq));
  client::LogVerifier verifier;
  Verdict clientVerdict;
  for (const auto& e : seq) {
    if (auto ok = verifier.append(record(e)); !ok) {
      clientVerdict = {false, ok.error()};
      break;
    }
  }
  const Verdict hubVerdict = hub ? Verdict{} : Verdict{false, hub.error()};
  INFO("seed " << seed << ", mutation " << mutation << ", " << seq.size() << " entries");
  INFO("hub: " << (hubVerdict.ok ? "accepts" : hubVerdict.error));
  INFO("client: " << (clientVerdict.ok ? "accepts" : clientVerdict.error));
  REQUIRE(hubVerdict.ok == clientVerdict.ok);
#ifndef FOCAL_DIFF_OLD  // the copies before protocol/directory_log worded refusals differently
  REQUIRE(hubVerdict.error == clientVerdict.error);
#endif
  if (!hub) return;
  REQUIRE(hub->root() == verifier.root());
  const auto records = verifier.records();
  REQUIRE(records.size() == hub->members().size());
  for (const auto& r : records) {
    const auto* m = hub->find(r.id);
    REQUIRE(m != nullptr);
    CHECK(m->active() == r.active);
    CHECK(m->isAdmin == r.isAdmin);
    CHECK(m->identityKey == r.identityKey);
    CHECK(m->encryptionKey == r.encryptionKey);
  }
}

// ---- building valid sequences ------------------------------------------------------------

// One candidate entry, and the keys its member holds if it is accepted.
struct Action {
  protocol::SignedEvent event;
  std::string authorId;
  std::shared_ptr<const crypto::MemberKeys> signer;  // null: the hub key
  std::string memberId;
  std::shared_ptr<crypto::MemberKeys> newKeys;
};

// Grows a log by random actions, keeping those the hub's own check accepts
// (the oracle), and now and then one it refuses as the last entry.
class Builder {
 public:
  Builder(std::mt19937_64& rng, const crypto::SigningKeyPair& hub, std::uint32_t version)
      : rng_(rng), hub_(hub), version_(version) {
    auto admin = std::make_shared<crypto::MemberKeys>(crypto::MemberKeys::generate("adm-a", T0));
    add({genesis("hub-x", hub_, T0, version), "hub-x", nullptr, {}, nullptr});
    Action first{registration({"adm-a", "SG", wire::Institution::SECRETARIAT, true}, admin->publicKeys(),
                              admin->identity.secretKey),
                 "adm-a", admin, "adm-a", admin};
    place(first);
    add(std::move(first));
  }

  // Returns false once a refused entry ended the sequence.
  bool step() {
    Action a = action();
    place(a);
    const auto& authorKey = a.signer ? a.signer->identity.publicKey : hub_.publicKey;
    if (oracle_.check(a.event.event, a.event.signature, a.authorId, authorKey, std::nullopt, nextTime())) {
      add(std::move(a));
      return true;
    }
    if (pick(8) != 0) return true;
    push(a);
    return false;
  }

  std::vector<Entry> entries;
  // Every key set a member held, the current one last.
  std::map<std::string, std::vector<std::shared_ptr<crypto::MemberKeys>>> held;

 private:
  std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
  template <class T>
  const T& any(const std::vector<T>& v) {
    return v[pick(v.size())];
  }
  std::int64_t nextTime() const { return T0 + 1000 * static_cast<std::int64_t>(entries.size() + 1); }
  // v2: the event signed again for the next place, as its author would.
  void place(Action& a) const {
    if (version_ < 2) return;
    a.event = positioned(a.event, protocol::LogPosition{"hub-x", oracle_.size(), oracle_.root()},
                         a.signer ? a.signer->identity.secretKey : hub_.secretKey);
  }

  void push(const Action& a) {
    entries.push_back(
        entryOf(entries.size(), nextTime(), a.authorId, a.signer ? a.signer->identity.publicKey : hub_.publicKey, a.event,
                a.signer));
  }
  void add(Action a) {
    push(a);
    const auto& e = entries.back();
    oracle_.apply(oracle_.prepare(e.event, e.signature, e.authorId, e.authorKey, e.recordedAtMs));
    if (a.newKeys) held[a.memberId].push_back(a.newKeys);
  }
  std::shared_ptr<crypto::MemberKeys> current(const std::string& id) {
    auto it = held.find(id);
    return it == held.end() ? nullptr : it->second.back();
  }
  // A member to act as author: usually an active admin, sometimes anyone.
  std::string author() {
    std::vector<std::string> ids;
    for (const auto& [id, k] : held) {
      const auto* m = oracle_.find(id);
      if (pick(4) == 0 || (m != nullptr && m->isAdmin && m->active())) ids.push_back(id);
    }
    return ids.empty() ? held.begin()->first : any(ids);
  }
  std::string target() {
    if (pick(10) == 0) return "nobody-here";
    auto it = held.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(pick(held.size())));
    return it->first;
  }

  Action action();
  Action consensus(bool admission);

  std::mt19937_64& rng_;
  const crypto::SigningKeyPair& hub_;
  std::uint32_t version_;
  server::Directory oracle_;
};

Action Builder::consensus(bool admission) {
  const auto proposer = current(author());
  Action a{{}, oracle_.hubId(), nullptr, {}, nullptr};
  protocol::SignedRecordBytes proposal;
  if (admission) {
    a.memberId = any(Ids);
    a.newKeys = std::make_shared<crypto::MemberKeys>(crypto::MemberKeys::generate(a.memberId, T0));
    protocol::AdmissionDraft d;
    d.memberId = a.memberId;
    d.name = "Admitted " + a.memberId;
    d.state = pick(3) == 0 ? any(States) : "";
    d.institution = any(Institutions);
    d.keys = a.newKeys->publicKeys();
    proposal = protocol::makeAdmissionProposal(d, *proposer, T0, T0 + 1'000'000'000);
  } else {
    proposal = protocol::makeAmendmentProposal("Article " + std::to_string(pick(100)), *proposer, T0, T0 + 1'000'000'000);
  }
  // One approval per state with a point of contact (sometimes one missing,
  // a rejection, or one counted twice).
  std::vector<protocol::SignedRecordBytes> approvals;
  std::set<std::string> done;
  for (const auto& [id, m] : oracle_.members()) {
    if (!protocol::isStatePoc(*oracle_.consensusMember(id)) || done.contains(m.state) || pick(12) == 0) continue;
    done.insert(m.state);
    approvals.push_back(protocol::makeDecision(proposal.body, pick(20) != 0, *current(id), T0));
  }
  if (pick(10) == 0 && !approvals.empty()) approvals.push_back(approvals.front());
  a.event = adoption(admission, hub_.secretKey, proposal, approvals);
  return a;
}

Action Builder::action() {
  const std::string authorId = author();
  const auto signer = current(authorId);
  const auto& sk = signer->identity.secretKey;
  Action a{{}, authorId, signer, target(), nullptr};
  const auto targetKeys = current(a.memberId);
  switch (pick(9)) {
    case 0:
    case 1: {  // register
      a.memberId = any(Ids);
      a.newKeys = std::make_shared<crypto::MemberKeys>(crypto::MemberKeys::generate(a.memberId, T0));
      a.event = registration({a.memberId, any(States), any(Institutions), pick(4) == 0}, a.newKeys->publicKeys(), sk);
      return a;
    }
    case 2:  // rotate encryption
    case 3: {  // rotate identity
      const bool identity = pick(2) == 0;
      const auto& base = targetKeys ? *targetKeys : *signer;
      a.newKeys = std::make_shared<crypto::MemberKeys>(identity ? crypto::MemberKeys::generate(a.memberId, T0 + 7)
                                                                 : withNewEncryption(base, T0 + 5));
      a.newKeys->memberId = a.memberId;
      const auto prev = identity ? base.identity.publicKey.view() : base.encryption.publicKey.view();
      a.event = rotation(identity, a.memberId, prev, a.newKeys->publicKeys(), sk);
      return a;
    }
    case 4: {  // revoke a member, or one of the keys it holds or held
      crypto::Bytes key;
      if (targetKeys && pick(2) == 0) {
        const auto& h = held[a.memberId];
        const auto& k = *h[pick(h.size())];
        const auto v = pick(2) == 0 ? k.identity.publicKey.view() : k.encryption.publicKey.view();
        key.assign(v.begin(), v.end());
      }
      a.event = revocation(a.memberId, key, sk);
      return a;
    }
    case 5: a.event = roleChange(a.memberId, pick(2) == 0, sk); return a;
    case 6: {  // recordApproved, by the hub (or, now and then, by a member)
      const bool byHub = pick(6) != 0;
      a.event = recordApproved(byHub ? hub_.secretKey : sk, {"adm-a", "sg-le"});
      if (byHub) a = Action{a.event, oracle_.hubId(), nullptr, {}, nullptr};
      return a;
    }
    case 7: return consensus(true);
    default: return consensus(false);
  }
}

// ---- mutations ---------------------------------------------------------------------------

// Rebuilds `e`'s event with one field changed and signs it again with the
// key that signed it (so only the rules, not the signature, can refuse it).
void changeField(Entry& e, std::mt19937_64& rng, const crypto::SigningKeyPair& hub) {
  auto parsed = protocol::decode<wire::LogEvent>(e.event);
  if (!parsed) return;
  capnp::MallocMessageBuilder m;
  m.setRoot(parsed->root());
  auto ev = m.getRoot<wire::LogEvent>();
  const auto choice = rng() % 6;
  const std::string hostile = "Evil\x1b[2J\nzz-fake-row";
  switch (ev.which()) {
    case wire::LogEvent::REGISTER: {
      auto info = ev.getRegister().getMember();
      if (choice == 0) info.setName(hostile);
      if (choice == 1) info.setState("sg");
      if (choice == 2) info.setInstitution(static_cast<wire::Institution>(99));
      if (choice == 3) info.setId("Bad Id");
      if (choice == 4) info.setId("members");
      if (choice == 5) ev.getRegister().getKeys().setIdentityKey(protocol::kjBytes(crypto::Bytes(31, 1)));
      break;
    }
    case wire::LogEvent::ROTATE_ENCRYPTION:
    case wire::LogEvent::ROTATE_IDENTITY: {
      auto r = ev.isRotateIdentity() ? ev.getRotateIdentity() : ev.getRotateEncryption();
      if (choice < 2) r.setPreviousKey(protocol::kjBytes(crypto::Bytes(32, 3)));
      if (choice == 2) r.setMemberId("x\x7fy");
      if (choice == 3) r.setMemberId("nobody-here");
      if (choice >= 4) r.getKeys().setEncKeyCreatedAtMs(r.getKeys().getEncKeyCreatedAtMs() + 1);  // certificate breaks
      break;
    }
    case wire::LogEvent::REVOKE: {
      auto r = ev.getRevoke();
      if (choice < 2) r.setReason(hostile);
      if (choice == 2) r.setKey(protocol::kjBytes(crypto::Bytes(32, 4)));
      if (choice == 3) r.setMemberId("\u202eadm-a");
      if (choice >= 4) r.setReason(std::string(protocol::MaxTextFieldBytes + 1, 'r'));
      break;
    }
    case wire::LogEvent::ROLE_CHANGE: ev.getRoleChange().setMemberId(choice < 3 ? "nobody-here" : "adm\tb"); break;
    case wire::LogEvent::RECORD_APPROVED: ev.getRecordApproved().setDeadlineMs(0); break;
    default: ev.setIssuedAtMs(ev.getIssuedAtMs() + 1); break;
  }
  auto signedEvent = protocol::signLogEvent(m, e.signer ? e.signer->identity.secretKey : hub.secretKey);
  e.event = signedEvent.event;
  e.signature = signedEvent.signature;
}

// Indices 0, 1, 2, ... again after entries were moved (the chain is
// recomputed by stored(): a hub that re-chains and re-signs its heads).
void renumber(std::vector<Entry>& seq) {
  for (std::size_t i = 0; i < seq.size(); ++i) seq[i].index = i;
}

// The place and time mutations of log v2 (cases 12-17 of mutate()).
std::string mutatePlace(std::vector<Entry>& seq, std::size_t k, std::mt19937_64& rng, const crypto::SigningKeyPair& hub,
                        unsigned which) {
  const auto n = seq.size();
  Entry& e = seq[k];
  switch (which) {
    case 12:
      seq.erase(seq.begin() + static_cast<std::ptrdiff_t>(k));
      renumber(seq);
      return "dropped, renumbered";
    case 13:
      if (k + 1 < n) std::swap(seq[k], seq[k + 1]);
      renumber(seq);
      return "reordered, renumbered";
    case 14:
      seq.push_back(seq[k]);
      renumber(seq);
      return "replayed at the end";
    case 15: {  // signed, by its own author, for the place before or after, or for none
      auto parsed = protocol::decode<wire::LogEvent>(e.event);
      if (!parsed || !parsed->root().hasPosition()) return "none";
      if (rng() % 3 == 0) {
        capnp::MallocMessageBuilder m;
        m.setRoot(parsed->root());
        m.getRoot<wire::LogEvent>().disownPosition();
        const auto bare = protocol::signLogEvent(m, e.signer ? e.signer->identity.secretKey : hub.secretKey);
        e.event = bare.event;
        e.signature = bare.signature;
        return "signed for no place";
      }
      const auto p = parsed->root().getPosition();
      const auto prev = crypto::Hash256::fromBytes(protocol::view(p.getPrevEntryHash()));
      if (!prev) return "none";
      const protocol::LogPosition at{std::string(protocol::view(p.getHubId())),
                                     p.getIndex() + (rng() % 2 == 0 ? 1 : -1), *prev};
      const auto moved = positioned({e.event, e.signature}, at, e.signer ? e.signer->identity.secretKey : hub.secretKey);
      e.event = moved.event;
      e.signature = moved.signature;
      return "signed for another place";
    }
    case 16: e.recordedAtMs = seq[k - 1].recordedAtMs - 1; return "recorded before the previous entry";
    default: e.recordedAtMs += 2 * protocol::LogIssueWindowMs; return "recorded far from issuedAtMs";
  }
}

std::string mutate(std::vector<Entry>& seq, const Builder& b, std::mt19937_64& rng, const crypto::SigningKeyPair& hub) {
  const auto n = seq.size();
  const auto k = 1 + rng() % (n - 1);  // never the genesis alone: a log of one entry stays too simple
  Entry& e = seq[k];
  const auto which = static_cast<unsigned>(rng() % 18);
  if (which >= 12) return mutatePlace(seq, k, rng, hub, which);
  switch (which) {
    case 0: return "none";
    case 1: e.signature.bytes[rng() % 64] ^= 1; return "signature byte";
    case 2: e.event[rng() % e.event.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255); return "event byte";
    case 3: e.authorId = seq[1 + rng() % (n - 1)].authorId + (rng() % 2 ? "" : "x"); return "author id";
    case 4: e.authorKey = seq[rng() % n].authorKey; return "author key";
    case 5:
      if (k + 1 < n) std::swap(seq[k], seq[k + 1]);
      return "reordered";
    case 6: seq.insert(seq.begin() + static_cast<std::ptrdiff_t>(k), seq[k]); return "repeated";
    case 7: seq.erase(seq.begin() + static_cast<std::ptrdiff_t>(k)); return "dropped";
    case 8: {  // signed by another member (or the hub), as that member
      const auto& other = seq[1 + rng() % (n - 1)];
      auto parsed = crypto::Bytes(e.event);
      e.signer = other.signer;
      e.authorId = other.authorId;
      e.authorKey = other.authorKey;
      e.signature = crypto::sign(protocol::context::LogEvent, parsed, e.signer ? e.signer->identity.secretKey : hub.secretKey);
      return "signed by another author";
    }
    case 9: {  // signed with a key the author held before (replaced or revoked)
      auto it = b.held.find(e.authorId);
      if (it == b.held.end() || it->second.size() < 2) return "none";
      const auto& old = *it->second.front();
      e.authorKey = old.identity.publicKey;
      e.signature = crypto::sign(protocol::context::LogEvent, e.event, old.identity.secretKey);
      return "replaced key used";
    }
    case 10: changeField(e, rng, hub); return "field changed, re-signed";
    default: e.recordedAtMs = 0; return "zero time";  // 11
  }
}

struct Pool {
  bool ready = (crypto::initialize(), true);
  crypto::SigningKeyPair hub = crypto::SigningKeyPair::generate();
};

std::size_t sequences() {
  const char* env = std::getenv("FOCAL_DIFF_SEQUENCES");
  return env != nullptr ? static_cast<std::size_t>(std::strtoul(env, nullptr, 10)) : 2000;
}

}  // namespace

TEST_CASE("hub and client judge the same random log sequences identically, entry by entry",
          "[protocol][log][differential]") {
  Pool pool;
  const std::size_t total = sequences();
  // A few hundred valid logs, each read as is and under many mutations.
  const std::size_t perBase = 8;
  for (std::uint64_t base = 0; base * perBase < total; ++base) {
    std::mt19937_64 rng(0x5eed0000 + base);
    Builder b(rng, pool.hub, base % 2 == 0 ? protocol::LogVersion2 : protocol::LogVersion1);
    const auto steps = 3 + rng() % 12;
    for (std::size_t i = 0; i < steps && b.step(); ++i) {
    }
    compare(b.entries, base, "as built");
    for (std::size_t m = 1; m < perBase; ++m) {
      auto seq = b.entries;
      const auto what = mutate(seq, b, rng, pool.hub);
      compare(seq, base * perBase + m, what);
    }
  }
}

// Findings of this test run against the two copies the rules had before
// protocol/directory_log: hub and client disagreed on the first two (the
// client accepted the name and kept the member active); the one rule now
// judges all three alike on both sides.
TEST_CASE("hub and client agree on a name with control characters, a zero-time revocation and an oversized event",
          "[protocol][log][differential]") {
  Pool pool;
  auto admin = std::make_shared<crypto::MemberKeys>(crypto::MemberKeys::generate("adm-a", T0));
  auto bob = crypto::MemberKeys::generate("th-bob", T0);
  std::vector<Entry> seq;
  auto add = [&](const protocol::SignedEvent& ev, const std::string& authorId,
                 std::shared_ptr<const crypto::MemberKeys> signer, std::int64_t at) {
    seq.push_back(entryOf(seq.size(), at, authorId, signer ? signer->identity.publicKey : pool.hub.publicKey, ev, signer));
  };
  add(genesis("hub-x", pool.hub), "hub-x", nullptr, T0);
  add(registration({"adm-a", "SG", wire::Institution::SECRETARIAT, true}, admin->publicKeys(), admin->identity.secretKey),
      "adm-a", admin, T0);
  SECTION("a member name with an escape and a line break (the client used to accept it)") {
    MemberSpec spec{"th-bob", "TH", wire::Institution::LAW_ENFORCEMENT, false, "Bob\x1b[2J\nzz-fake-row"};
    add(registration(spec, bob.publicKeys(), admin->identity.secretKey), "adm-a", admin, T0 + 1);
    compare(seq, 0, "hostile name");
    CHECK_FALSE(server::Directory::replay(stored(seq)));
  }
  SECTION("a member revoked at time 0 stays revoked (the client used to treat it as active)") {
    add(registration({"th-bob", "TH"}, bob.publicKeys(), admin->identity.secretKey), "adm-a", admin, T0 + 1);
    add(revocation("th-bob", {}, admin->identity.secretKey), "adm-a", admin, 0);
    auto bob2 = withNewEncryption(bob, T0 + 2);
    add(rotation(false, "th-bob", bob.encryption.publicKey.view(), bob2.publicKeys(), admin->identity.secretKey), "adm-a",
        admin, T0 + 3);
    compare(seq, 0, "zero-time revocation");
    auto hub = server::Directory::replay(stored(seq));
    REQUIRE_FALSE(hub);
    CHECK_THAT(hub.error(), Catch::Contains("member th-bob is revoked"));
  }
  SECTION("an event over 64 KiB is refused for its size by both (the hub had no such limit of its own)") {
    add(recordApproved(pool.hub.secretKey, {}, {}), "hub-x", nullptr, T0 + 1);
    const protocol::SignedRecordBytes huge{crypto::Bytes(64 * 1024, 1), crypto::Signature{}};
    add(adoption(false, pool.hub.secretKey, huge, {}), "hub-x", nullptr, T0 + 2);
    compare(seq, 0, "oversized");
    auto hub = server::Directory::replay(stored(seq));
    REQUIRE_FALSE(hub);
    CHECK_THAT(hub.error(), Catch::Contains("larger than 64 KiB"));
  }
}

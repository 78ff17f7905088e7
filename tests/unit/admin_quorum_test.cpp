// Admins by quorum (issue 27, PROTOCOL.md §11.7): where the genesis names a
// quorum k >= 2, no single admin's entry changes another member, an
// adminAction needs k admin signatures from two member states, another
// member's key rotation waits the policy's delay, a proposal is adopted
// once, and no change leaves fewer than k admins. Each refusal is checked
// at the hub (server::Directory, as LogAppender checks an append) and at a
// client fed a forged log (client::LogVerifier), which share one rule.
#include "client/log_verifier.hpp"
#include "protocol/admin_quorum.hpp"
#include "server/directory.hpp"
#include "server_test_support.hpp"
#include "tests/support/log_events.hpp"

#include <catch2/catch.hpp>

using namespace focal;
using namespace focal::test_support::events;
using wire::ErrorCode;
using server::Result;

namespace {

const std::string HubId = "hub-q";
constexpr std::int64_t Hour = 3'600'000;

protocol::AdminPolicy policy(std::uint32_t k, std::uint32_t first, std::int64_t delay = 72 * Hour) {
  protocol::AdminPolicy p;
  p.named = true;
  p.quorum = k;
  p.firstAdmins = first;
  p.forcedRotationDelayMs = delay;
  return p;
}

// A v2 log with a quorum of 2 and three first admins: sg-a and sg-c of
// SG, my-b of MY, and a point of contact th-poc registered by the quorum.
struct QuorumLog {
  bool ready = (crypto::initialize(), true);
  crypto::SigningKeyPair hub = crypto::SigningKeyPair::generate();
  crypto::MemberKeys a = crypto::MemberKeys::generate("sg-a", T0);
  crypto::MemberKeys b = crypto::MemberKeys::generate("my-b", T0);
  crypto::MemberKeys c = crypto::MemberKeys::generate("sg-c", T0);
  crypto::MemberKeys poc = crypto::MemberKeys::generate("th-poc", T0);
  server::Directory dir;
  std::vector<server::StoredLogEntry> entries;
  std::int64_t at = T0;

  explicit QuorumLog(const protocol::AdminPolicy& p = policy(2, 3)) {
    add(genesisWithAdmins(HubId, hub, p, T0), HubId, hub.publicKey);
    for (const auto* m : {&a, &b, &c}) {
      const std::string state = m->memberId.substr(0, 2) == "sg" ? "SG" : "MY";
      addByHub(registration({m->memberId, state, wire::Institution::POLICY_SECURITY, true}, m->publicKeys(),
                            hub.secretKey, at));
      if (dir.size() - 1 == p.firstAdmins) break;
    }
  }
  protocol::LogPosition next() const { return {HubId, dir.size(), dir.root()}; }
  protocol::SignedEvent by(const protocol::SignedEvent& ev, const crypto::MemberKeys& author) const {
    return positioned(ev, next(), author.identity.secretKey);
  }
  Result<Ok> offer(const protocol::SignedEvent& ev, const std::string& authorId,
                   const crypto::SigningPublicKey& authorKey, std::int64_t recordedAtMs) const {
    return dir.check(ev.event, ev.signature, authorId, authorKey, std::nullopt, recordedAtMs, recordedAtMs);
  }
  Result<Ok> offerBy(const protocol::SignedEvent& ev, const crypto::MemberKeys& author) const {
    return offer(by(ev, author), author.memberId, author.identity.publicKey, at + 1);
  }
  // The adminAction of `proposal` with `approvals`, by the hub, recorded at `when`.
  protocol::SignedEvent action(const protocol::SignedRecordBytes& proposal,
                               const std::vector<protocol::SignedRecordBytes>& approvals, std::int64_t when) const {
    return positioned(outcome(wire::LogEvent::ADMIN_ACTION, hub.secretKey, proposal, approvals, when), next(),
                      hub.secretKey);
  }
  Result<Ok> offerAction(const protocol::SignedRecordBytes& proposal,
                         const std::vector<protocol::SignedRecordBytes>& approvals, std::int64_t when) const {
    return offer(action(proposal, approvals, when), HubId, hub.publicKey, when);
  }
  void add(const protocol::SignedEvent& ev, const std::string& authorId, const crypto::SigningPublicKey& authorKey,
           std::int64_t when = 0) {
    const std::int64_t t = when == 0 ? ++at : (at = when);
    const auto ok = offer(ev, authorId, authorKey, t);
    INFO((ok ? "" : ok.error().message));
    REQUIRE(ok);
    entries.push_back(dir.prepare(ev.event, ev.signature, authorId, authorKey, t));
    dir.apply(entries.back());
  }
  void addByHub(const protocol::SignedEvent& ev) { add(positioned(ev, next(), hub.secretKey), HubId, hub.publicKey); }
  void addAction(const protocol::SignedRecordBytes& proposal,
                 const std::vector<protocol::SignedRecordBytes>& approvals, std::int64_t when) {
    add(action(proposal, approvals, when), HubId, hub.publicKey, when);
  }
  // A client that verified the log so far, then is fed `ev` as the next entry.
  Expected<Ok, std::string> clientAccepts(const protocol::SignedEvent& ev, const std::string& authorId,
                                          const crypto::SigningPublicKey& authorKey, std::int64_t when) const {
    client::LogVerifier v;
    for (const auto& e : entries) REQUIRE(v.append(server::testing::clientRecord(e)));
    return v.append(server::testing::clientRecord(dir.prepare(ev.event, ev.signature, authorId, authorKey, when)));
  }
  protocol::SignedEvent registerPoc(const crypto::SigningSecretKey& author) const {
    return registration({"th-poc", "TH"}, poc.publicKeys(), author, at);
  }
};

void refused(const Result<Ok>& r, ErrorCode code, const std::string& words) {
  REQUIRE_FALSE(r);
  CHECK(r.error().code == code);
  CHECK_THAT(r.error().message, Catch::Contains(words));
}

}  // namespace

TEST_CASE("admin quorum: one admin's register revoke role change or rotation of another member is refused by the hub and a client",
          "[protocol][log][quorum]") {
  QuorumLog log;
  SECTION("register") {
    refused(log.offerBy(log.registerPoc(log.a.identity.secretKey), log.a), ErrorCode::POLICY_DENIED,
            "one admin may not register members alone");
    const auto forged = log.by(log.registerPoc(log.a.identity.secretKey), log.a);
    const auto r = log.clientAccepts(forged, "sg-a", log.a.identity.publicKey, log.at + 1);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains("needs the admin quorum"));
  }
  // Each refused by the hub, then by a client fed a log that has it.
  const auto bothRefuse = [&log](const protocol::SignedEvent& unpositioned, const std::string& words) {
    refused(log.offerBy(unpositioned, log.a), ErrorCode::POLICY_DENIED, words);
    const auto r = log.clientAccepts(log.by(unpositioned, log.a), "sg-a", log.a.identity.publicKey, log.at + 1);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains(words));
  };
  SECTION("revoke") {
    bothRefuse(revocation("my-b", log.b.identity.publicKey.view(), log.a.identity.secretKey, log.at),
               "revoke members or keys alone");
  }
  SECTION("role change") { bothRefuse(roleChange("my-b", false, log.a.identity.secretKey), "change roles alone"); }
  SECTION("another member's rotation") {
    const auto fresh = crypto::MemberKeys::generate("my-b", T0);
    bothRefuse(rotation(true, "my-b", log.b.identity.publicKey.view(), fresh.publicKeys(), log.a.identity.secretKey,
                        log.at),
               "rotate another member's keys");
  }
  SECTION("a member's own rotation stays its own entry") {
    const auto fresh = withNewEncryption(log.b, T0);
    CHECK(log.offerBy(rotation(false, "my-b", log.b.encryption.publicKey.view(), fresh.publicKeys(),
                               log.b.identity.secretKey, log.at),
                      log.b));
  }
}

TEST_CASE("admin quorum: an adminAction needs k admins of two member states", "[protocol][log][quorum]") {
  QuorumLog log;
  const auto proposal = changeProposal(log.registerPoc(log.a.identity.secretKey), log.a, log.at);
  const std::int64_t when = log.at + 1000;
  SECTION("the proposer alone") {
    refused(log.offerAction(proposal, {}, when), ErrorCode::POLICY_DENIED, "1 of the 2 admin signatures");
    const auto r = log.clientAccepts(log.action(proposal, {}, when), HubId, log.hub.publicKey, when);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains("1 of the 2 admin signatures"));
  }
  SECTION("two admins of one state") {
    refused(log.offerAction(proposal, {protocol::makeDecision(proposal.body, true, log.c, log.at)}, when),
            ErrorCode::POLICY_DENIED, "not from two member states");
  }
  SECTION("the proposer approving its own change counts once") {
    refused(log.offerAction(proposal, {protocol::makeDecision(proposal.body, true, log.a, log.at)}, when),
            ErrorCode::POLICY_DENIED, "sg-a signs twice");
  }
  SECTION("an approval by a member who is not an admin") {
    QuorumLog l2;
    const auto p2 = changeProposal(l2.registerPoc(l2.a.identity.secretKey), l2.a, l2.at);
    l2.addAction(p2, {protocol::makeDecision(p2.body, true, l2.b, l2.at)}, l2.at + 1000);
    const auto other = crypto::MemberKeys::generate("my-x", T0);
    const auto p3 = changeProposal(registration({"my-x", "MY"}, other.publicKeys(), l2.a.identity.secretKey, l2.at),
                                   l2.a, l2.at);
    refused(l2.offerAction(p3, {protocol::makeDecision(p3.body, true, l2.poc, l2.at)}, l2.at + 1000),
            ErrorCode::POLICY_DENIED, "th-poc is not an active admin");
  }
  SECTION("a forged approval") {
    auto approval = protocol::makeDecision(proposal.body, true, log.b, log.at);
    approval.body.back() ^= 1;
    refused(log.offerAction(proposal, {approval}, when), ErrorCode::POLICY_DENIED, "approval");
  }
  SECTION("two states: adopted, and the same proposal never again") {
    const auto approval = protocol::makeDecision(proposal.body, true, log.b, log.at);
    log.addAction(proposal, {approval}, when);
    REQUIRE(log.dir.find("th-poc") != nullptr);
    client::LogVerifier v;
    for (const auto& e : log.entries) REQUIRE(v.append(server::testing::clientRecord(e)));
    CHECK(v.find("th-poc") != nullptr);
    // A role change granted, taken back, then replayed by the hub.
    const auto grant = changeProposal(roleChange("th-poc", true, log.a.identity.secretKey), log.a, log.at);
    log.addAction(grant, {protocol::makeDecision(grant.body, true, log.b, log.at)}, log.at + 1000);
    REQUIRE(log.dir.find("th-poc")->isAdmin);
    const auto removal = changeProposal(roleChange("th-poc", false, log.a.identity.secretKey), log.a, log.at);
    log.addAction(removal, {protocol::makeDecision(removal.body, true, log.b, log.at)}, log.at + 1000);
    REQUIRE_FALSE(log.dir.find("th-poc")->isAdmin);
    refused(log.offerAction(grant, {protocol::makeDecision(grant.body, true, log.b, log.at)}, log.at + 1000),
            ErrorCode::DUPLICATE, "already adopted at entry");
  }
}

TEST_CASE("admin quorum: another member's key rotation takes effect only after the delay", "[protocol][log][quorum]") {
  QuorumLog log;
  const auto admit = changeProposal(log.registerPoc(log.a.identity.secretKey), log.a, log.at);
  log.addAction(admit, {protocol::makeDecision(admit.body, true, log.b, log.at)}, log.at + 1000);
  const auto fresh = crypto::MemberKeys::generate("th-poc", T0);
  const std::int64_t created = log.at;
  const auto proposal = changeProposal(rotation(true, "th-poc", log.poc.identity.publicKey.view(), fresh.publicKeys(),
                                                log.a.identity.secretKey, created),
                                       log.a, created);
  const auto approval = protocol::makeDecision(proposal.body, true, log.b, created);
  SECTION("before the delay") {
    refused(log.offerAction(proposal, {approval}, created + Hour), ErrorCode::POLICY_DENIED, "may take effect only at");
    const auto r =
        log.clientAccepts(log.action(proposal, {approval}, created + Hour), HubId, log.hub.publicKey, created + Hour);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains("may take effect only at"));
  }
  SECTION("after the delay") {
    log.addAction(proposal, {approval}, created + 72 * Hour + 1);
    CHECK(log.dir.find("th-poc")->identityKey == fresh.identity.publicKey);
  }
}

TEST_CASE("admin quorum: no change leaves fewer than k admins of two states", "[protocol][log][quorum]") {
  QuorumLog log;
  // Revoking the only MY admin leaves SG alone.
  const auto proposal =
      changeProposal(revocation("my-b", {}, log.a.identity.secretKey, log.at), log.a, log.at);
  refused(log.offerAction(proposal, {protocol::makeDecision(proposal.body, true, log.b, log.at)}, log.at + 1000),
          ErrorCode::POLICY_DENIED, "fewer than 2 active admins from two member states");
}

TEST_CASE("admin quorum: the genesis policy and the first admins are checked", "[protocol][log][quorum]") {
  crypto::initialize();
  const auto hub = crypto::SigningKeyPair::generate();
  server::Directory dir;
  const auto offerGenesis = [&](const protocol::AdminPolicy& p) {
    const auto g = genesisWithAdmins(HubId, hub, p);
    return dir.check(g.event, g.signature, HubId, hub.publicKey, std::nullopt, T0, T0);
  };
  refused(offerGenesis(policy(3, 2)), ErrorCode::INVALID_REQUEST, "admin quorum k must be 1..2");
  refused(offerGenesis(policy(1, 0)), ErrorCode::INVALID_REQUEST, "first admins are 1..16");
  refused(offerGenesis(policy(1, 1, 31LL * 24 * Hour)), ErrorCode::INVALID_REQUEST, "0..30 days");
  SECTION("k = 2 with first admins of one state cannot start") {
    const auto a = crypto::MemberKeys::generate("sg-a", T0);
    const auto c = crypto::MemberKeys::generate("sg-c", T0);
    server::Directory d;
    const auto g = genesisWithAdmins(HubId, hub, policy(2, 2));
    REQUIRE(d.check(g.event, g.signature, HubId, hub.publicKey, std::nullopt, T0, T0));
    d.apply(d.prepare(g.event, g.signature, HubId, hub.publicKey, T0));
    const auto regA = positioned(registration({"sg-a", "SG", wire::Institution::POLICY_SECURITY, true},
                                              a.publicKeys(), hub.secretKey),
                                 {HubId, d.size(), d.root()}, hub.secretKey);
    REQUIRE(d.check(regA.event, regA.signature, HubId, hub.publicKey, std::nullopt, T0, T0));
    d.apply(d.prepare(regA.event, regA.signature, HubId, hub.publicKey, T0));
    const auto regC = positioned(registration({"sg-c", "SG", wire::Institution::POLICY_SECURITY, true},
                                              c.publicKeys(), hub.secretKey),
                                 {HubId, d.size(), d.root()}, hub.secretKey);
    refused(d.check(regC.event, regC.signature, HubId, hub.publicKey, std::nullopt, T0, T0),
            ErrorCode::INVALID_REQUEST, "the first admins are not from two member states");
  }
}

// Working-group roles in the directory log (PROTOCOL.md §12.7): the rules
// every client's log verifier applies to a `wgRole` entry, so a role the
// hub invents, one signed by a non-secretariat member, a second SOMTC focal
// point for a state or one naming no recorded decision fails verification.
#include "client/log_verifier.hpp"
#include "protocol/distribution.hpp"
#include "tests/support/log_events.hpp"

#include <catch2/catch.hpp>

using namespace focal;
using namespace focal::test_support::events;
using client::LogEntryRecord;
using client::LogVerifier;

namespace {

using Role = wire::WorkingGroupRole;

protocol::SignedEvent makeSecretariat(const std::string& memberId, const crypto::SigningSecretKey& author) {
  capnp::MallocMessageBuilder m;
  auto e = m.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(T0);
  auto r = e.initRoleChange();
  r.setMemberId(text(memberId));
  r.setIsAdmin(true);
  r.setIsSecretariat(true);
  return protocol::signLogEvent(m, author);
}

protocol::SignedEvent wgRole(const std::string& memberId, Role role, const std::string& term, bool assign,
                             const crypto::Bytes& decision, const crypto::SigningSecretKey& author) {
  capnp::MallocMessageBuilder m;
  auto e = m.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(T0);
  auto r = e.initWgRole();
  r.setMemberId(text(memberId));
  r.setRole(role);
  r.setTerm(text(term));
  r.setAssign(assign);
  r.setDecisionId(kjBytes(decision));
  return protocol::signLogEvent(m, author);
}

// A log: the hub, an admin made secretariat, two SG points of contact, one
// MY, a dialogue partner, and a summary record approved by silence (its id
// is sixteen 7s: the decision the role entries name).
struct RoleLog {
  bool ready = (crypto::initialize(), true);
  crypto::SigningKeyPair hub = crypto::SigningKeyPair::generate();
  std::string hubId = "test-hub";
  crypto::MemberKeys sec = crypto::MemberKeys::generate("sg-sec", T0);
  crypto::MemberKeys alice = crypto::MemberKeys::generate("sg-alice", T0);
  crypto::MemberKeys carol = crypto::MemberKeys::generate("sg-carol", T0);
  crypto::MemberKeys bob = crypto::MemberKeys::generate("my-bob", T0);
  crypto::MemberKeys partner = crypto::MemberKeys::generate("jp-partner", T0);
  const crypto::Bytes decision = crypto::Bytes(16, 7);
  LogVerifier verifier;
  crypto::Hash256 root{};
  std::uint64_t size = 0;
  std::int64_t now = T0;

  RoleLog() {
    REQUIRE(add(hubId, hub.publicKey, genesis(hubId, hub)));
    REQUIRE(add("sg-sec", sec.identity.publicKey,
                registration({"sg-sec", "SG", wire::Institution::SECRETARIAT, true}, sec.publicKeys(), sec.identity.secretKey)));
    REQUIRE(add("sg-sec", sec.identity.publicKey, makeSecretariat("sg-sec", sec.identity.secretKey)));
    REQUIRE(add("sg-sec", sec.identity.publicKey, registration({"sg-alice"}, alice.publicKeys(), sec.identity.secretKey)));
    REQUIRE(add("sg-sec", sec.identity.publicKey, registration({"sg-carol"}, carol.publicKeys(), sec.identity.secretKey)));
    REQUIRE(add("sg-sec", sec.identity.publicKey, registration({"my-bob", "MY"}, bob.publicKeys(), sec.identity.secretKey)));
    REQUIRE(add("sg-sec", sec.identity.publicKey,
                registration({"jp-partner", "", wire::Institution::DIALOGUE_PARTNER}, partner.publicKeys(),
                             sec.identity.secretKey)));
    REQUIRE(add(hubId, hub.publicKey, recordApproved(hub.secretKey, {"sg-alice"})));
  }

  LogEntryRecord next(const std::string& authorId, const crypto::SigningPublicKey& key, const protocol::SignedEvent& e) {
    LogEntryRecord r;
    r.index = size;
    r.recordedAtMs = now + 1000;
    r.authorId = authorId;
    r.authorKey.assign(key.view().begin(), key.view().end());
    r.event = e.event;
    r.signature.assign(e.signature.view().begin(), e.signature.view().end());
    return r;
  }
  Expected<Ok, std::string> add(const std::string& authorId, const crypto::SigningPublicKey& key,
                                const protocol::SignedEvent& e) {
    auto r = next(authorId, key, e);
    auto ok = verifier.append(r);
    if (ok) {
      now = r.recordedAtMs;
      ++size;
    }
    return ok;
  }
  // By the secretariat.
  Expected<Ok, std::string> bySec(const std::string& member, Role role, const std::string& term, bool assign = true,
                                  const crypto::Bytes& decisionId = {}) {
    return add("sg-sec", sec.identity.publicKey,
               wgRole(member, role, term, assign, decisionId.empty() ? decision : decisionId, sec.identity.secretKey));
  }
  const client::MemberRecord& member(const std::string& id) const {
    static std::vector<client::MemberRecord> records;
    records = verifier.records();
    for (const auto& m : records) {
      if (m.id == id) return m;
    }
    FAIL("no member " << id);
    return records.front();
  }
};

}  // namespace

TEST_CASE("wgRole: the secretariat records a SOMTC focal point and chairs with a decision the log holds",
          "[protocol][log][roles]") {
  RoleLog l;
  REQUIRE(l.bySec("sg-alice", Role::SOMTC_FOCAL_POINT, ""));
  REQUIRE(l.bySec("my-bob", Role::SOMTC_FOCAL_POINT, ""));
  REQUIRE(l.bySec("sg-carol", Role::CHAIR, "2027"));
  REQUIRE(l.bySec("my-bob", Role::CO_CHAIR, "2027"));
  REQUIRE(l.bySec("sg-alice", Role::CHAIR, std::string(32, 'a')));  // chair of one meeting
  CHECK(l.member("sg-alice").holds(Role::SOMTC_FOCAL_POINT, ""));
  CHECK(l.member("sg-alice").holds(Role::CHAIR, std::string(32, 'a')));
  CHECK(l.member("sg-carol").holds(Role::CHAIR, "2027"));
  CHECK(l.member("my-bob").consensus().isChair);
  CHECK_FALSE(l.member("sg-sec").consensus().isChair);

  // somtc-focal-points reaches exactly the focal points.
  const auto addr = protocol::parseAddress("somtc-focal-points");
  REQUIRE(addr);
  CHECK(addr->kind == protocol::AddressKind::SomtcFocalPoints);
  CHECK(protocol::isGroupAddressWord("somtc-focal-points"));
  CHECK_FALSE(protocol::isRegistrableMemberId("somtc-focal-points"));

  // Ending a role frees it: a new focal point for SG, a new chair for 2027.
  REQUIRE(l.bySec("sg-alice", Role::SOMTC_FOCAL_POINT, "", false));
  CHECK_FALSE(l.member("sg-alice").holds(Role::SOMTC_FOCAL_POINT, ""));
  REQUIRE(l.bySec("sg-carol", Role::SOMTC_FOCAL_POINT, ""));
  REQUIRE(l.bySec("sg-carol", Role::CHAIR, "2027", false));
  REQUIRE(l.bySec("sg-alice", Role::CHAIR, "2027"));
}

TEST_CASE("wgRole: every rule is the log verifier's, so a forged or wrong role entry fails verification",
          "[protocol][log][roles]") {
  RoleLog l;
  REQUIRE(l.bySec("sg-alice", Role::SOMTC_FOCAL_POINT, ""));
  REQUIRE(l.bySec("sg-carol", Role::CHAIR, "2027"));

  SECTION("a point of contact is not the secretariat") {
    auto r = l.add("my-bob", l.bob.identity.publicKey,
                   wgRole("my-bob", Role::CHAIR, "2028", true, l.decision, l.bob.identity.secretKey));
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains("only the secretariat may set working-group roles"));
  }
  SECTION("the chair is not the secretariat either") {
    auto r = l.add("sg-carol", l.carol.identity.publicKey,
                   wgRole("my-bob", Role::CO_CHAIR, "2027", true, l.decision, l.carol.identity.secretKey));
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains("not secretariat"));
  }
  SECTION("the hub key cannot write one") {
    auto r = l.add(l.hubId, l.hub.publicKey, wgRole("my-bob", Role::CHAIR, "2028", true, l.decision, l.hub.secretKey));
    REQUIRE_FALSE(r);
  }
  SECTION("a role entry signed with a key other than the secretariat's") {
    auto r = l.add("sg-sec", l.sec.identity.publicKey,
                   wgRole("my-bob", Role::CHAIR, "2028", true, l.decision, l.bob.identity.secretKey));
    REQUIRE_FALSE(r);
  }
  SECTION("a second SOMTC focal point for the same state") {
    auto r = l.bySec("sg-carol", Role::SOMTC_FOCAL_POINT, "");
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains("SG already has a SOMTC focal point (sg-alice)"));
  }
  SECTION("a second chair for the same year") {
    auto r = l.bySec("my-bob", Role::CHAIR, "2027");
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains("sg-carol already holds chair 2027"));
  }
  SECTION("a decision the log does not hold") {
    auto r = l.bySec("my-bob", Role::CHAIR, "2028", true, crypto::Bytes(16, 8));
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains("neither an approved summary record nor an adopted amendment"));
  }
  SECTION("a member without a member state") {
    auto r = l.bySec("jp-partner", Role::CO_CHAIR, "2027");
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains("no member state"));
  }
  SECTION("malformed terms and roles") {
    CHECK_FALSE(l.bySec("my-bob", Role::CHAIR, "27"));
    CHECK_FALSE(l.bySec("my-bob", Role::CHAIR, ""));
    CHECK_FALSE(l.bySec("my-bob", Role::CHAIR, std::string(32, 'A')));
    CHECK_FALSE(l.bySec("my-bob", Role::SOMTC_FOCAL_POINT, "2027"));
    CHECK_FALSE(l.bySec("my-bob", Role::UNSET, "2027"));
    CHECK_FALSE(l.bySec("my-bob", Role::CHAIR, "2028", true, crypto::Bytes(15, 7)));
    CHECK_FALSE(l.bySec("nobody-here", Role::CHAIR, "2028"));
  }
  SECTION("ending a role the member does not hold") {
    auto r = l.bySec("my-bob", Role::CHAIR, "2027", false);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains("my-bob does not hold chair 2027"));
  }
}

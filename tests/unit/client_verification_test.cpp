// client/consensus_verifier.hpp: the library API the `focal proposals`,
// `approve`, `reject` and `record-status` commands call. A listing verifies
// only when the proposal is an admin's and every decision is its member's,
// for this proposal; the tally counts states, not points of contact; a
// comment verifies under its author's key, for this record, and its text
// opens for the record's sender. The audit trail verifies as one hash
// chain (client/audit_trail.hpp).
#include "client/audit_trail.hpp"
#include "client/client_error.hpp"
#include "client/consensus_verifier.hpp"
#include "crypto/keyfile.hpp"
#include "protocol/consensus.hpp"
#include "protocol/log.hpp"
#include "protocol/message.hpp"
#include "protocol/records.hpp"
#include "protocol/text.hpp"

#include <capnp/message.h>
#include <catch2/catch.hpp>

using namespace focal;
using namespace focal::client;

namespace {

constexpr std::int64_t T0 = 1'700'000'000'000;

// A member as a hub's Directory frame lists it (the certificate is checked
// by fromWire, as for any listing).
MemberRecord memberOf(const crypto::MemberKeys& keys, const std::string& state, wire::Institution inst,
                      bool isAdmin = false) {
  capnp::MallocMessageBuilder message;
  auto listed = message.initRoot<wire::DirectoryMember>();
  listed.setStatus(wire::MemberStatus::ACTIVE);
  auto info = listed.initInfo();
  info.setId(protocol::asText(keys.memberId));
  info.setName(protocol::asText("Member " + keys.memberId));
  info.setState(protocol::asText(state));
  info.setInstitution(inst);
  info.setIsAdmin(isAdmin);
  const auto pk = keys.publicKeys();
  auto set = listed.initKeys();
  set.setEncKeyCreatedAtMs(pk.createdAtMs);
  set.setEncKeyCert(protocol::kjBytes(pk.encCert.view()));
  set.setEncryptionKey(protocol::kjBytes(pk.encryption.view()));
  set.setIdentityKey(protocol::kjBytes(pk.identity.view()));
  auto m = MemberRecord::fromWire(listed.asReader());
  REQUIRE(m.usable());
  return m;
}

RawRecord raw(const protocol::SignedRecordBytes& r) {
  return RawRecord{r.body, crypto::Bytes(r.signature.view().begin(), r.signature.view().end())};
}

// admin (SG secretariat, not a point of contact), sg-alice and sg-carol (SG
// points of contact), my-bob (MY point of contact): SG and MY must consent.
struct World {
  bool sodiumReady = (crypto::initialize(), true);
  crypto::MemberKeys admin = crypto::MemberKeys::generate("admin", T0 - 10);
  crypto::MemberKeys alice = crypto::MemberKeys::generate("sg-alice", T0 - 10);
  crypto::MemberKeys carol = crypto::MemberKeys::generate("sg-carol", T0 - 10);
  crypto::MemberKeys bob = crypto::MemberKeys::generate("my-bob", T0 - 10);
  crypto::MemberKeys panel = crypto::MemberKeys::generate("acme-labs", T0 - 10);
  HubDirectory dir{{memberOf(admin, "SG", wire::Institution::SECRETARIAT, true),
                    memberOf(alice, "SG", wire::Institution::LAW_ENFORCEMENT),
                    memberOf(bob, "MY", wire::Institution::LAW_ENFORCEMENT),
                    memberOf(carol, "SG", wire::Institution::POLICY_SECURITY)}};

  protocol::SignedRecordBytes admission(const crypto::MemberKeys& by) const {
    protocol::AdmissionDraft d;
    d.memberId = "acme-labs";
    d.name = "ACME";
    d.institution = wire::Institution::RESOURCE_PANEL;
    d.keys = panel.publicKeys();
    return protocol::makeAdmissionProposal(d, by, T0, T0 + 86'400'000);
  }
};

}  // namespace

TEST_CASE("A verified listing counts member states, not points of contact", "[client][consensus]") {
  World w;
  const auto proposal = w.admission(w.admin);
  ProposalListing listing{raw(proposal),
                          {raw(protocol::makeDecision(proposal.body, true, w.alice, T0)),
                           raw(protocol::makeDecision(proposal.body, true, w.carol, T0)),
                           raw(protocol::makeDecision(proposal.body, false, w.bob, T0))},
                          wire::ProposalState::OPEN,
                          0};
  const auto v = verifyListing(listing, w.dir);
  CHECK(v.kind == wire::Proposal::ADMISSION);
  CHECK(v.proposer == "admin");
  CHECK(v.member == "acme-labs");
  CHECK(v.memberInstitution == wire::Institution::RESOURCE_PANEL);
  CHECK(v.id == listedProposalId(listing));
  CHECK(v.proposalBody == proposal.body);

  const auto required = statesWithPocs(w.dir);
  CHECK(required == std::set<std::string>{"MY", "SG"});
  const auto t = tallyDecisions(v, w.dir, required);
  CHECK(t.approvedBy == std::vector<std::string>{"sg-alice", "sg-carol"});
  CHECK(t.rejectedBy == std::vector<std::string>{"my-bob"});
  CHECK(t.approvedStates == std::set<std::string>{"SG"});
  CHECK(t.missingStates == std::vector<std::string>{"MY"});
}

TEST_CASE("A listing the hub forged or mixed up does not verify", "[client][consensus]") {
  World w;
  const auto proposal = w.admission(w.admin);

  SECTION("a proposal by a member who is not an admin") {
    ProposalListing listing{raw(w.admission(w.alice)), {}, wire::ProposalState::OPEN, 0};
    CHECK_THROWS_AS(verifyListing(listing, w.dir), VerifyError);
  }
  SECTION("a decision whose signature was tampered with") {
    auto decision = raw(protocol::makeDecision(proposal.body, true, w.bob, T0));
    decision.signature[0] ^= 1;
    ProposalListing listing{raw(proposal), {decision}, wire::ProposalState::OPEN, 0};
    CHECK_THROWS_AS(verifyListing(listing, w.dir), VerifyError);
  }
  SECTION("a decision on another proposal") {
    const auto other = w.admission(w.admin);
    ProposalListing listing{raw(proposal), {raw(protocol::makeDecision(other.body, true, w.bob, T0))},
                            wire::ProposalState::OPEN, 0};
    CHECK_THROWS_AS(verifyListing(listing, w.dir), VerifyError);
  }
  SECTION("a proposal that does not parse") {
    ProposalListing listing{RawRecord{crypto::Bytes{1, 2, 3}, crypto::Bytes(64)}, {}, wire::ProposalState::OPEN, 0};
    CHECK(listedProposalId(listing).empty());
    CHECK_THROWS_AS(verifyListing(listing, w.dir), VerifyError);
  }
}

TEST_CASE("Comments verify under their author's key and open for the record's sender", "[client][consensus]") {
  World w;
  const auto recordId = *crypto::BulletinId::fromBytes(crypto::Bytes(16, 7));
  const auto otherId = *crypto::BulletinId::fromBytes(crypto::Bytes(16, 8));
  // bob sent the record: alice's comment is sealed to his encryption key.
  const auto bobKey = w.bob.publicKeys().encryption;
  RecordStatusInfo status;
  status.recordId = recordId;
  status.comments = {raw(protocol::makeComment(recordId, true, "Item 4: MY, not TH", bobKey, w.alice, T0))};

  const auto forBob = verifyComments(status, recordId, w.dir, w.bob);
  REQUIRE(forBob.size() == 1);
  CHECK(forBob[0].memberId == "sg-alice");
  CHECK(forBob[0].objection);
  CHECK(forBob[0].sealed);
  CHECK(forBob[0].text == std::optional<std::string>("Item 4: MY, not TH"));
  // Anyone else sees that a text exists, not the text.
  const auto forCarol = verifyComments(status, recordId, w.dir, w.carol);
  REQUIRE(forCarol.size() == 1);
  CHECK(forCarol[0].sealed);
  CHECK_FALSE(forCarol[0].text);

  SECTION("a comment on another record") {
    CHECK_THROWS_AS(verifyComments(status, otherId, w.dir, w.bob), VerifyError);
  }
  SECTION("a comment without text shows as one, for the sender") {
    status.comments = {raw(protocol::makeComment(recordId, false, "", bobKey, w.alice, T0))};
    const auto v = verifyComments(status, recordId, w.dir, w.bob);
    REQUIRE(v.size() == 1);
    CHECK_FALSE(v[0].sealed);
    CHECK_FALSE(v[0].text);
    CHECK(v[0].carriedHeadCheck.empty());  // no head, and a directory without a log
  }
  SECTION("a comment by someone outside the directory") {
    const auto stranger = crypto::MemberKeys::generate("xx-eve", T0);
    status.comments = {raw(protocol::makeComment(recordId, false, "", bobKey, stranger, T0))};
    CHECK_THROWS_AS(verifyComments(status, recordId, w.dir, w.bob), VerifyError);
  }
}

TEST_CASE("An audit trail verifies only as one unbroken hash chain from entry 0", "[client][audit]") {
  std::vector<AuditRow> rows;
  crypto::Hash256 prev{};
  for (std::uint64_t i = 0; i < 3; ++i) {
    const auto h = protocol::auditEntryHash(i, prev, T0 + static_cast<std::int64_t>(i), "admin.register", "admin",
                                            "127.0.0.1", "log entry " + std::to_string(i));
    rows.push_back(AuditRow{i, T0 + static_cast<std::int64_t>(i), "admin.register", "admin", "127.0.0.1",
                            "log entry " + std::to_string(i), crypto::Bytes(h.view().begin(), h.view().end())});
    prev = h;
  }
  CHECK_NOTHROW(verifyAuditChain(rows));
  SECTION("an edited detail") {
    rows[1].detail = "log entry 7";
    CHECK_THROWS_AS(verifyAuditChain(rows), VerifyError);
  }
  SECTION("a missing entry") {
    rows.erase(rows.begin() + 1);
    CHECK_THROWS_AS(verifyAuditChain(rows), VerifyError);
  }
  SECTION("two entries swapped") {
    std::swap(rows[1], rows[2]);
    CHECK_THROWS_AS(verifyAuditChain(rows), VerifyError);
  }
}

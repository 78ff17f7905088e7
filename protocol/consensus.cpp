#include "protocol/consensus.hpp"

#include "crypto/primitives.hpp"
#include "protocol/signing.hpp"

#include <capnp/message.h>

#include <algorithm>

namespace focal::protocol {

namespace {

Expected<Ok, std::string> no(std::string why) { return Expected<Ok, std::string>(unexpected(std::move(why))); }

bool sameBytes(ByteView a, ByteView b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

}  // namespace

bool isStatePoc(const ConsensusMember& m) {
  return m.active && m.state.size() == 2 &&
         (m.institution == wire::Institution::LAW_ENFORCEMENT || m.institution == wire::Institution::POLICY_SECURITY);
}

SignedRecordBytes makeAdmissionProposal(const AdmissionDraft& d, const crypto::MemberKeys& proposer, std::int64_t nowMs,
                                        std::int64_t expiresAtMs) {
  capnp::MallocMessageBuilder m;
  auto p = m.initRoot<wire::Proposal>();
  crypto::Bytes id(16);
  crypto::randomFill(id);
  p.setProposalId(kjBytes(id));
  p.setProposerId(proposer.memberId);
  p.setCreatedAtMs(nowMs);
  p.setExpiresAtMs(expiresAtMs);
  auto r = p.initAdmission();
  auto info = r.initMember();
  info.setId(d.memberId);
  info.setName(d.name);
  info.setState(d.state);
  info.setInstitution(d.institution);
  auto k = r.initKeys();
  k.setIdentityKey(kjBytes(d.keys.identity.view()));
  k.setEncryptionKey(kjBytes(d.keys.encryption.view()));
  k.setEncKeyCreatedAtMs(d.keys.createdAtMs);
  k.setEncKeyCert(kjBytes(d.keys.encCert.view()));
  return signRecord(context::Proposal, m, proposer.identity.secretKey);
}

SignedRecordBytes makeDecision(ByteView proposalBody, bool approve, const crypto::MemberKeys& member,
                               std::int64_t nowMs) {
  auto parsed = decode<wire::Proposal>(proposalBody);
  capnp::MallocMessageBuilder m;
  auto dcs = m.initRoot<wire::Decision>();
  if (parsed) dcs.setProposalId(parsed->root().getProposalId());
  const auto hash = crypto::hash256(proposalBody);
  dcs.setProposalHash(kjBytes(hash.view()));
  dcs.setMemberId(member.memberId);
  dcs.setApprove(approve);
  dcs.setDecidedAtMs(nowMs);
  return signRecord(context::Decision, m, member.identity.secretKey);
}

Expected<Ok, std::string> verifyAdmission(wire::LogEvent::Admission::Reader admission, std::int64_t atMs,
                                          const ConsensusLookup& find, const std::set<std::string>& required) {
  const auto pbody = view(admission.getProposal().getBody());
  const auto psig = crypto::Signature::fromBytes(view(admission.getProposal().getSignature()));
  auto proposal = decode<wire::Proposal>(pbody);
  if (!proposal || !psig) return no("the admission's proposal is malformed");
  const auto p = proposal->root();
  if (p.which() != wire::Proposal::ADMISSION) return no("the proposal is not an admission");
  if (p.getProposalId().size() != 16) return no("the proposal id is not 16 bytes");
  const std::string proposerId(view(p.getProposerId()));
  const auto proposer = find(proposerId);
  if (!proposer || !proposer->active || !proposer->isAdmin) {
    return no("the proposal's author " + proposerId + " is not an active admin");
  }
  if (!crypto::verify(context::Proposal, pbody, *psig, proposer->identityKey)) {
    return no("the proposal's signature does not verify under " + proposerId + "'s identity key");
  }
  if (atMs > p.getExpiresAtMs()) return no("the proposal had expired when it was adopted");
  if (required.empty()) return no("no member state has an active point of contact");
  const auto phash = crypto::hash256(pbody);
  std::set<std::string> approved;
  for (auto a : admission.getApprovals()) {
    const auto body = view(a.getBody());
    const auto sig = crypto::Signature::fromBytes(view(a.getSignature()));
    auto d = decode<wire::Decision>(body);
    if (!d || !sig) return no("an approval is malformed");
    const auto r = d->root();
    const std::string memberId(view(r.getMemberId()));
    const auto member = find(memberId);
    if (!member) return no("an approval names an unknown member " + memberId);
    if (!crypto::verify(context::Decision, body, *sig, member->identityKey)) {
      return no("the approval of " + memberId + " does not verify under its identity key");
    }
    if (!sameBytes(view(r.getProposalId()), view(p.getProposalId())) ||
        !sameBytes(view(r.getProposalHash()), phash.view())) {
      return no("the approval of " + memberId + " is for another proposal");
    }
    if (!r.getApprove()) return no("the decision of " + memberId + " is a rejection");
    if (!isStatePoc(*member)) return no(memberId + " is not an active point of contact of a member state");
    if (!required.contains(member->state)) return no("state " + member->state + " is not a required state");
    if (!approved.insert(member->state).second) return no("member state " + member->state + " approves twice");
  }
  for (const auto& s : required) {
    if (!approved.contains(s)) return no("member state " + s + " has not approved");
  }
  return Ok{};
}

}  // namespace focal::protocol

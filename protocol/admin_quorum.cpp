// Admins by quorum (see admin_quorum.hpp).
#include "protocol/admin_quorum.hpp"

#include "crypto/primitives.hpp"
#include "protocol/signing.hpp"

#include <capnp/message.h>

#include <algorithm>

namespace focal::protocol {

namespace {

using W = wire::LogEvent;
using AC = wire::AdminChange;

template <class T>
Expected<T, std::string> refuse(std::string why) {
  return Expected<T, std::string>(unexpected(std::move(why)));
}

bool sameBytes(ByteView a, ByteView b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

}  // namespace

Expected<AdminPolicy, std::string> readAdminPolicy(wire::AdminPolicy::Reader p) {
  AdminPolicy out;
  out.named = true;
  out.quorum = p.getQuorum();
  out.firstAdmins = p.getFirstAdmins();
  out.forcedRotationDelayMs = p.getForcedRotationDelayMs();
  if (out.firstAdmins < 1 || out.firstAdmins > MaxFirstAdmins) {
    return refuse<AdminPolicy>("the first admins are 1.." + std::to_string(MaxFirstAdmins) + ", not " + std::to_string(out.firstAdmins));
  }
  if (out.quorum < 1 || out.quorum > out.firstAdmins) {
    return refuse<AdminPolicy>(
        "the admin quorum k must be 1.." + std::to_string(out.firstAdmins) + " (the first admins), not " +
        std::to_string(out.quorum));
  }
  if (out.forcedRotationDelayMs < 0 || out.forcedRotationDelayMs > MaxForcedRotationDelayMs) {
    return refuse<AdminPolicy>("the forced-rotation delay must be 0..30 days");
  }
  return out;
}

void writeAdminPolicy(wire::AdminPolicy::Builder out, const AdminPolicy& p) {
  out.setQuorum(p.quorum);
  out.setFirstAdmins(p.firstAdmins);
  out.setForcedRotationDelayMs(p.forcedRotationDelayMs);
}

std::string singleAdminWarning(const AdminPolicy& p) {
  return p.named ? "this hub's directory log lets ONE admin key register, revoke and rotate members (admin quorum 1: "
                   "a single-admin test hub); a hub in service needs k >= 2 admins from two member states"
                 : "this hub's directory log names no admin quorum (made before admins by quorum): ONE admin key "
                   "can register, revoke and rotate members";
}

bool copyAdminChange(wire::AdminChange::Builder out, W::Reader e) {
  switch (e.which()) {
    case W::REGISTER: out.setRegister(e.getRegister()); return true;
    case W::REVOKE: out.setRevoke(e.getRevoke()); return true;
    case W::ROTATE_ENCRYPTION: out.setRotateEncryption(e.getRotateEncryption()); return true;
    case W::ROTATE_IDENTITY: out.setRotateIdentity(e.getRotateIdentity()); return true;
    case W::ROLE_CHANGE: out.setRoleChange(e.getRoleChange()); return true;
    default: return false;
  }
}

void copyChangeEvent(W::Builder out, AC::Reader c) {
  switch (c.which()) {
    case AC::REGISTER: out.setRegister(c.getRegister()); break;
    case AC::REVOKE: out.setRevoke(c.getRevoke()); break;
    case AC::ROTATE_ENCRYPTION: out.setRotateEncryption(c.getRotateEncryption()); break;
    case AC::ROTATE_IDENTITY: out.setRotateIdentity(c.getRotateIdentity()); break;
    case AC::ROLE_CHANGE: out.setRoleChange(c.getRoleChange()); break;
  }
}

std::string_view adminChangeTarget(AC::Reader c) {
  switch (c.which()) {
    case AC::REGISTER: return view(c.getRegister().getMember().getId());
    case AC::REVOKE: return view(c.getRevoke().getMemberId());
    case AC::ROTATE_ENCRYPTION: return view(c.getRotateEncryption().getMemberId());
    case AC::ROTATE_IDENTITY: return view(c.getRotateIdentity().getMemberId());
    case AC::ROLE_CHANGE: return view(c.getRoleChange().getMemberId());
  }
  return {};
}

const char* adminChangeName(AC::Reader c) {
  switch (c.which()) {
    case AC::REGISTER: return "register";
    case AC::REVOKE: return "revoke";
    case AC::ROTATE_ENCRYPTION: return "rotate-encryption";
    case AC::ROTATE_IDENTITY: return "rotate-identity";
    case AC::ROLE_CHANGE: return "role-change";
  }
  return "unknown";
}

bool isForcedRotation(AC::Reader c, std::string_view proposerId) {
  const bool rotation = c.which() == AC::ROTATE_ENCRYPTION || c.which() == AC::ROTATE_IDENTITY;
  return rotation && adminChangeTarget(c) != proposerId;
}

SignedRecordBytes makeAdminChangeProposal(W::Reader event, const crypto::Keyring& proposer, std::int64_t nowMs,
                                          std::int64_t expiresAtMs) {
  capnp::MallocMessageBuilder m;
  auto p = initProposal(m, proposer, nowMs, expiresAtMs);
  if (!copyAdminChange(p.initAdminChange(), event)) throw std::logic_error("not an admin change");
  return signRecord(context::Proposal, m, proposer);
}

Expected<QuorumSigners, std::string> countAdminSigners(W::Admission::Reader outcome, std::int64_t atMs,
                                                       const ConsensusLookup& find) {
  const auto pbody = view(outcome.getProposal().getBody());
  const auto psig = crypto::Signature::fromBytes(view(outcome.getProposal().getSignature()));
  auto proposal = decode<wire::Proposal>(pbody);
  if (!proposal || !psig) return refuse<QuorumSigners>("the entry's proposal is malformed");
  const auto p = proposal->root();
  if (p.which() != wire::Proposal::ADMIN_CHANGE) return refuse<QuorumSigners>("the proposal is not an admin change");
  if (p.getProposalId().size() != 16) return refuse<QuorumSigners>("the proposal id is not 16 bytes");
  const std::string proposerId(view(p.getProposerId()));
  const auto proposer = find(proposerId);
  if (!proposer || !proposer->active || !proposer->isAdmin) {
    return refuse<QuorumSigners>("the proposal's author " + proposerId + " is not an active admin");
  }
  if (!signedWithKeyOfTheTime(*proposer, context::Proposal, pbody, *psig, p.getCreatedAtMs())) {
    return refuse<QuorumSigners>("the proposal's signature does not verify under the identity key " + proposerId +
                                 " held when it was made");
  }
  if (atMs > p.getExpiresAtMs()) return refuse<QuorumSigners>("the proposal had expired when it was adopted");
  QuorumSigners out;
  out.members.push_back(proposerId);
  if (!proposer->state.empty()) out.states.insert(proposer->state);
  const auto phash = crypto::hash256(pbody);
  for (auto a : outcome.getApprovals()) {
    const auto body = view(a.getBody());
    const auto sig = crypto::Signature::fromBytes(view(a.getSignature()));
    auto d = decode<wire::Decision>(body);
    if (!d || !sig) return refuse<QuorumSigners>("an approval is malformed");
    const auto r = d->root();
    const std::string memberId(view(r.getMemberId()));
    const auto member = find(memberId);
    if (!member) return refuse<QuorumSigners>("an approval names an unknown member " + memberId);
    if (!member->active || !member->isAdmin) return refuse<QuorumSigners>(memberId + " is not an active admin");
    if (!signedWithKeyOfTheTime(*member, context::Decision, body, *sig, r.getDecidedAtMs())) {
      return refuse<QuorumSigners>("the approval of " + memberId +
                                   " does not verify under the identity key it held when it decided");
    }
    if (!sameBytes(view(r.getProposalId()), view(p.getProposalId())) ||
        !sameBytes(view(r.getProposalHash()), phash.view())) {
      return refuse<QuorumSigners>("the approval of " + memberId + " is for another proposal");
    }
    if (!r.getApprove()) return refuse<QuorumSigners>("the decision of " + memberId + " is a rejection");
    if (std::find(out.members.begin(), out.members.end(), memberId) != out.members.end()) {
      return refuse<QuorumSigners>(memberId + " signs twice");
    }
    out.members.push_back(memberId);
    if (!member->state.empty()) out.states.insert(member->state);
  }
  return out;
}

std::optional<std::string> quorumShortfall(const QuorumSigners& signers, const AdminPolicy& policy) {
  if (signers.members.size() < policy.quorum) {
    return std::to_string(signers.members.size()) + " of the " + std::to_string(policy.quorum) +
           " admin signatures the quorum needs";
  }
  if (policy.quorum >= 2 && signers.states.size() < 2) {
    return "the admins who signed are not from two member states";
  }
  return std::nullopt;
}

}  // namespace focal::protocol

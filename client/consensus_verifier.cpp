// Verification of consensus listings and summary-record comments
// (client/consensus_verifier.hpp), moved out of the `focal` commands so a
// script or another client checks the hub's listings the same way.
#include "client/consensus_verifier.hpp"

#include "client/log_gossip.hpp"

#include "client/client_error.hpp"
#include "crypto/primitives.hpp"
#include "protocol/admin_quorum.hpp"
#include "protocol/consensus.hpp"
#include "protocol/message.hpp"
#include "protocol/records.hpp"
#include "protocol/signing.hpp"

#include <fmt/format.h>

namespace focal::client {

VerifiedProposal verifyListing(const ProposalListing& p, const HubDirectory& dir) {
  VerifiedProposal v;
  v.proposalBody = p.proposal.body;
  auto parsed = protocol::decode<wire::Proposal>(p.proposal.body);
  if (!parsed) throw VerifyError("a listed proposal is malformed");
  const auto root = parsed->root();
  if (root.which() != wire::Proposal::ADMISSION && root.which() != wire::Proposal::ADMIN_CHANGE &&
      !(root.which() == wire::Proposal::AMENDMENT && protocol::validAmendmentText(protocol::view(root.getAmendment())))) {
    throw VerifyError("a listed proposal is malformed");
  }
  v.id = crypto::toHex(protocol::view(root.getProposalId()));
  v.proposer = std::string(protocol::view(root.getProposerId()));
  const MemberRecord* admin = dir.find(v.proposer);
  const auto sig = crypto::Signature::fromBytes(p.proposal.signature);
  // An admission may come from the chair or a co-chair too (PROTOCOL.md §12.7).
  const bool mayPropose =
      admin != nullptr && (admin->isAdmin || (root.which() == wire::Proposal::ADMISSION &&
                                              (admin->holdsRole(wire::WorkingGroupRole::CHAIR) ||
                                               admin->holdsRole(wire::WorkingGroupRole::CO_CHAIR))));
  if (!mayPropose || !sig ||
      !protocol::signedWithKeyOfTheTime(consensusMemberOf(*admin, admin->active), protocol::context::Proposal,
                                        p.proposal.body, *sig, root.getCreatedAtMs())) {
    throw VerifyError("proposal " + v.id + " is not signed by an admin (or, for an admission, the chair) of the "
                      "verified directory");
  }
  v.kind = root.which();
  if (root.which() == wire::Proposal::ADMISSION) {
    auto info = root.getAdmission().getMember();
    v.member = std::string(protocol::view(info.getId()));
    v.memberName = std::string(protocol::view(info.getName()));
    v.memberInstitution = info.getInstitution();
    auto meetings = protocol::readProposalMeetings(root);
    if (!meetings) throw VerifyError("proposal " + v.id + ": " + meetings.error());
    for (const auto& m : *meetings) v.meetings.push_back(crypto::toHex(m.view()));
  } else if (root.which() == wire::Proposal::ADMIN_CHANGE) {
    const auto c = root.getAdminChange();
    v.change = protocol::adminChangeName(c);
    v.member = std::string(protocol::adminChangeTarget(c));
    if (c.which() == wire::AdminChange::REGISTER) {
      v.memberName = std::string(protocol::view(c.getRegister().getMember().getName()));
      v.memberInstitution = c.getRegister().getMember().getInstitution();
    }
    v.forcedRotation = protocol::isForcedRotation(c, v.proposer);
  } else {
    v.text = std::string(protocol::view(root.getAmendment()));
  }
  v.expiresAtMs = root.getExpiresAtMs();
  v.createdAtMs = root.getCreatedAtMs();
  v.state = p.state;
  v.outcomeIndex = p.outcomeIndex;
  const auto hash = crypto::hash256(p.proposal.body);
  for (const auto& d : p.decisions) {
    auto dp = protocol::decode<wire::Decision>(d.body);
    if (!dp) throw VerifyError("a decision on " + v.id + " is malformed");
    const std::string who(protocol::view(dp->root().getMemberId()));
    const MemberRecord* m = dir.find(who);
    const auto dsig = crypto::Signature::fromBytes(d.signature);
    if (m == nullptr || !dsig ||
        !protocol::signedWithKeyOfTheTime(consensusMemberOf(*m, m->active), protocol::context::Decision, d.body, *dsig,
                                          dp->root().getDecidedAtMs()) ||
        crypto::toHex(protocol::view(dp->root().getProposalId())) != v.id ||
        !(crypto::Hash256::fromBytes(protocol::view(dp->root().getProposalHash())) == std::optional(hash))) {
      throw VerifyError("the decision of " + who + " on " + v.id + " does not verify");
    }
    v.decisions.emplace_back(who, dp->root().getApprove());
  }
  return v;
}

std::optional<crypto::Bytes> decisionHead(const Connection& conn, const HubDirectory& dir, const VerifiedProposal& v,
                                          const crypto::Keyring& me) {
  const MemberRecord* proposer = dir.find(v.proposer);
  const auto& to = proposer != nullptr && proposer->usable() ? proposer->encryptionKey : me.encryption.publicKey;
  const auto id = crypto::fromHex(v.id);
  if (!id) return std::nullopt;
  return sealedHeadFor(conn, protocol::HeadCarrier::Decision, *id, to, me);
}

std::vector<std::string> checkDecisionHeads(const ProposalListing& p, const VerifiedProposal& v, const HubDirectory& dir,
                                            const crypto::Keyring& me) {
  std::vector<std::string> out(v.decisions.size());
  const auto id = crypto::fromHex(v.id);
  if (p.decisionHeads.size() != v.decisions.size() || !id || !dir.verifiedLog()) return out;
  for (std::size_t i = 0; i < v.decisions.size(); ++i) {
    if (p.decisionHeads[i].empty()) continue;
    const auto& who = v.decisions[i].first;
    const MemberRecord* author = dir.find(who);
    out[i] = carriedHeadCheckName(
        author == nullptr
            ? CarriedHeadCheck::Invalid
            : checkSealedHead(*dir.verifiedLog(), protocol::HeadCarrier::Decision, p.decisionHeads[i], *id, *author, me,
                              fmt::format("the decision of {} on proposal {}", who, v.id)));
  }
  return out;
}

nlohmann::json decisionHeadsJson(const VerifiedProposal& v, const std::vector<std::string>& checks) {
  nlohmann::json out = nlohmann::json::array();
  for (std::size_t i = 0; i < v.decisions.size() && i < checks.size(); ++i) {
    if (!checks[i].empty()) out.push_back({{"member_id", v.decisions[i].first}, {"head", checks[i]}});
  }
  return out;
}

std::string listedProposalId(const ProposalListing& p) {
  auto parsed = protocol::decode<wire::Proposal>(p.proposal.body);
  return parsed ? crypto::toHex(protocol::view(parsed->root().getProposalId())) : std::string();
}

std::set<std::string> statesWithPocs(const HubDirectory& dir) {
  return protocol::requiredStates(dir.members(), [](const MemberRecord& m) {
    return protocol::StateSeat{m.state, m.institution, m.active};
  });
}

ProposalTally tallyDecisions(const VerifiedProposal& v, const HubDirectory& dir, const std::set<std::string>& required) {
  ProposalTally t;
  auto& approvedStates = t.approvedStates;
  for (const auto& [who, approve] : v.decisions) {
    (approve ? t.approvedBy : t.rejectedBy).push_back(who);
    const MemberRecord* m = dir.find(who);
    if (approve && m != nullptr && protocol::isStatePoc(consensusMemberOf(*m, m->active))) {
      approvedStates.insert(m->state);
    }
  }
  for (const auto& s : required) {
    if (!approvedStates.contains(s)) t.missingStates.push_back(s);
  }
  return t;
}

std::vector<VerifiedComment> verifyComments(const RecordStatusInfo& status, const crypto::BulletinId& recordId,
                                            const HubDirectory& dir, const crypto::Keyring& me) {
  std::vector<VerifiedComment> out;
  for (const auto& c : status.comments) {
    const auto who = protocol::peekCommenter(c.body);
    const MemberRecord* author = who ? dir.find(*who) : nullptr;
    const auto sig = crypto::Signature::fromBytes(c.signature);
    if (author == nullptr || !sig) throw VerifyError("a comment names no known member");
    auto info = protocol::verifyComment(c.body, *sig, author->identityKey);
    if (!info || !(info->recordId == recordId) || info->memberId != *who) {
      throw VerifyError("the comment of " + *who + " does not verify");
    }
    VerifiedComment v{info->memberId, info->objection, info->commentedAtMs, !info->sealedText.empty(), std::nullopt, {}};
    if (v.sealed) {
      auto opened = protocol::openComment(info->sealedText, me);
      if (opened) v.text = opened->text;
      // Gossip (PROTOCOL.md §11.4, §12.4): only the record's sender opens it.
      if (opened && opened->logHead && dir.verifiedLog()) {
        const SignedHeadBytes carried{opened->logHead->head, crypto::Bytes(opened->logHead->signature.view().begin(),
                                                                           opened->logHead->signature.view().end())};
        v.carriedHeadCheck = carriedHeadCheckName(checkCarriedHead(
            *dir.verifiedLog(), carried, fmt::format("the comment of {} on record {}", v.memberId, crypto::toHex(recordId))));
      }
      if (opened && opened->payloadVersion > 0 && opened->text.empty()) {  // a head and no text: as a bare comment
        v.text.reset();
        v.sealed = false;
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace focal::client

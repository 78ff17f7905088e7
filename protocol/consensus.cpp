#include "protocol/consensus.hpp"

#include "crypto/primitives.hpp"
#include "protocol/limits.hpp"
#include "protocol/signing.hpp"

#include <capnp/message.h>

#include <algorithm>

namespace focal::protocol {

namespace {

Expected<Ok, std::string> no(std::string why) { return Expected<Ok, std::string>(unexpected(std::move(why))); }

bool sameBytes(ByteView a, ByteView b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

}  // namespace

// A proposal's common part (a fresh random id, the proposer, its times);
// the caller sets what it proposes.
wire::Proposal::Builder initProposal(capnp::MessageBuilder& m, const crypto::Keyring& proposer, std::int64_t nowMs,
                                     std::int64_t expiresAtMs) {
  auto p = m.initRoot<wire::Proposal>();
  crypto::Bytes id(16);
  crypto::randomFill(id);
  p.setProposalId(kjBytes(id));
  p.setProposerId(asText(proposer.memberId));
  p.setCreatedAtMs(nowMs);
  p.setExpiresAtMs(expiresAtMs);
  return p;
}

bool isStatePoc(const StateSeat& m) {
  return m.active && m.state.size() == 2 &&
         (m.institution == wire::Institution::LAW_ENFORCEMENT || m.institution == wire::Institution::POLICY_SECURITY);
}

bool isStatePoc(const ConsensusMember& m) { return isStatePoc(StateSeat{m.state, m.institution, m.active}); }

SignedRecordBytes makeAdmissionProposal(const AdmissionDraft& d, const crypto::Keyring& proposer, std::int64_t nowMs,
                                        std::int64_t expiresAtMs) {
  capnp::MallocMessageBuilder m;
  auto p = initProposal(m, proposer, nowMs, expiresAtMs);
  auto r = p.initAdmission();
  auto info = r.initMember();
  info.setId(asText(d.memberId));
  info.setName(asText(d.name));
  info.setState(asText(d.state));
  info.setInstitution(d.institution);
  auto k = r.initKeys();
  k.setIdentityKey(kjBytes(d.keys.identity.view()));
  k.setEncryptionKey(kjBytes(d.keys.encryption.view()));
  k.setEncKeyCreatedAtMs(d.keys.createdAtMs);
  k.setEncKeyCert(kjBytes(d.keys.encCert.view()));
  if (!d.meetings.empty()) {
    std::vector<crypto::BulletinId> ids = d.meetings;
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    auto list = p.initMeetings(static_cast<unsigned>(ids.size()));
    for (unsigned i = 0; i < ids.size(); ++i) list.set(i, kjBytes(ids[i].view()));
  }
  return signRecord(context::Proposal, m, proposer);
}

SignedRecordBytes makeAmendmentProposal(std::string_view text, const crypto::Keyring& proposer, std::int64_t nowMs,
                                        std::int64_t expiresAtMs) {
  capnp::MallocMessageBuilder m;
  initProposal(m, proposer, nowMs, expiresAtMs).setAmendment(asText(text));
  return signRecord(context::Proposal, m, proposer);
}

bool validAmendmentText(std::string_view text) { return !text.empty() && text.size() <= MaxAmendmentTextBytes; }

Expected<std::vector<crypto::BulletinId>, std::string> readProposalMeetings(wire::Proposal::Reader p) {
  using Result = Expected<std::vector<crypto::BulletinId>, std::string>;
  std::vector<crypto::BulletinId> out;
  if (!p.hasMeetings()) return out;  // proposals made before the field: not limited
  const auto list = p.getMeetings();
  if (list.size() == 0) return out;
  if (p.which() != wire::Proposal::ADMISSION ||
      p.getAdmission().getMember().getInstitution() != wire::Institution::RESOURCE_PANEL) {
    return Result(unexpected(std::string("only the admission of a resource-panel member names meetings")));
  }
  if (list.size() > MaxAdmissionMeetings) {
    return Result(unexpected("an admission names at most " + std::to_string(MaxAdmissionMeetings) + " meetings"));
  }
  for (auto id : list) {
    auto m = crypto::BulletinId::fromBytes(view(id));
    if (!m) return Result(unexpected(std::string("a meeting id of the admission is not 16 bytes")));
    if (!out.empty() && !(out.back() < *m)) {
      return Result(unexpected(std::string("the admission's meeting ids are not strictly ascending")));
    }
    out.push_back(*m);
  }
  return out;
}

bool signedWithKeyOfTheTime(const ConsensusMember& m, std::string_view context, ByteView body,
                            const crypto::Signature& signature, std::int64_t atMs) {
  if (m.identityHistory.empty()) return crypto::verify(context, body, signature, m.identityKey);
  for (const auto& period : m.identityHistory) {
    if (!crypto::verify(context, body, signature, period.key)) continue;
    // The key that made the signature; it must still have been the
    // member's at the record's own time.
    if (period.replacedAtMs != 0 && atMs > period.replacedAtMs) return false;
    if (period.revokedAtMs != 0 && atMs > period.revokedAtMs) return false;
    return true;
  }
  return false;
}

SignedRecordBytes makeDecision(ByteView proposalBody, bool approve, const crypto::Keyring& member,
                               std::int64_t nowMs) {
  auto parsed = decode<wire::Proposal>(proposalBody);
  capnp::MallocMessageBuilder m;
  auto dcs = m.initRoot<wire::Decision>();
  if (parsed) dcs.setProposalId(parsed->root().getProposalId());
  const auto hash = crypto::hash256(proposalBody);
  dcs.setProposalHash(kjBytes(hash.view()));
  dcs.setMemberId(asText(member.memberId));
  dcs.setApprove(approve);
  dcs.setDecidedAtMs(nowMs);
  return signRecord(context::Decision, m, member);
}

Expected<Ok, std::string> verifyAdoption(wire::LogEvent::Admission::Reader outcome, wire::Proposal::Which kind,
                                         std::int64_t atMs, const ConsensusLookup& find,
                                         const std::set<std::string>& required) {
  const auto pbody = view(outcome.getProposal().getBody());
  const auto psig = crypto::Signature::fromBytes(view(outcome.getProposal().getSignature()));
  auto proposal = decode<wire::Proposal>(pbody);
  if (!proposal || !psig) return no("the entry's proposal is malformed");
  const auto p = proposal->root();
  if (p.which() != kind) {
    return no(kind == wire::Proposal::ADMISSION ? "the proposal is not an admission" : "the proposal is not an amendment");
  }
  if (kind == wire::Proposal::AMENDMENT && !validAmendmentText(view(p.getAmendment()))) {
    return no("the amendment's text is empty or longer than 16384 bytes");
  }
  if (p.getProposalId().size() != 16) return no("the proposal id is not 16 bytes");
  if (auto meetings = readProposalMeetings(p); !meetings) return no(meetings.error());
  const std::string proposerId(view(p.getProposerId()));
  const auto proposer = find(proposerId);
  // SECURITY: an admission may also come from the chair or a co-chair
  // (terms of reference §7, PROTOCOL.md §12.7); an amendment only from an admin.
  const bool mayPropose =
      proposer && proposer->active && (proposer->isAdmin || (kind == wire::Proposal::ADMISSION && proposer->isChair));
  if (!mayPropose) {
    return no("the proposal's author " + proposerId +
              (kind == wire::Proposal::ADMISSION ? " is neither an active admin nor the chair or a co-chair"
                                                 : " is not an active admin"));
  }
  if (!signedWithKeyOfTheTime(*proposer, context::Proposal, pbody, *psig, p.getCreatedAtMs())) {
    return no("the proposal's signature does not verify under the identity key " + proposerId + " held when it was made");
  }
  if (atMs > p.getExpiresAtMs()) return no("the proposal had expired when it was adopted");
  if (required.empty()) return no("no member state has an active point of contact");
  const auto phash = crypto::hash256(pbody);
  std::set<std::string> approved;
  for (auto a : outcome.getApprovals()) {
    const auto body = view(a.getBody());
    const auto sig = crypto::Signature::fromBytes(view(a.getSignature()));
    auto d = decode<wire::Decision>(body);
    if (!d || !sig) return no("an approval is malformed");
    const auto r = d->root();
    const std::string memberId(view(r.getMemberId()));
    const auto member = find(memberId);
    if (!member) return no("an approval names an unknown member " + memberId);
    if (!signedWithKeyOfTheTime(*member, context::Decision, body, *sig, r.getDecidedAtMs())) {
      return no("the approval of " + memberId + " does not verify under the identity key it held when it decided");
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

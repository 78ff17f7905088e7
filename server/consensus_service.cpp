#include "server/consensus_service.hpp"

#include "crypto/primitives.hpp"
#include "protocol/distribution.hpp"
#include "protocol/limits.hpp"
#include "protocol/log.hpp"
#include "protocol/message.hpp"
#include "protocol/signing.hpp"
#include "protocol/text.hpp"
#include "server/policy.hpp"
#include "protocol/names.hpp"
#include "protocol/admin_quorum.hpp"

#include <spdlog/spdlog.h>

namespace focal::server {

namespace {

using crypto::Bytes;
using protocol::view;
using wire::ErrorCode;

// The log event that adopts `row`: its proposal and one approval per state.
bool buildAdoption(capnp::MessageBuilder& mb, const ProposalRow& row, wire::Proposal::Reader proposal,
                   const std::map<std::string, const StoredRecord*>& byState, std::int64_t now) {
  const bool isAdmission = proposal.which() == wire::Proposal::ADMISSION;
  auto e = mb.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(now);
  auto adm = isAdmission ? e.initAdmission() : e.initAmendment();
  auto prop = adm.initProposal();
  prop.setBody(protocol::kjBytes(row.record.body));
  prop.setSignature(protocol::kjBytes(row.record.signature));
  auto approvals = adm.initApprovals(static_cast<unsigned>(byState.size()));
  unsigned i = 0;
  for (const auto& [state, rec] : byState) {
    approvals[i].setBody(protocol::kjBytes(rec->body));
    approvals[i].setSignature(protocol::kjBytes(rec->signature));
    ++i;
  }
  return isAdmission;
}

}  // namespace

// ---- proposals ----------------------------------------------------------------------------

// The member to admit must be registrable now (it is checked again, in
// full, when the admission entry is appended).
Result<Ok> ConsensusService::checkAdmission(wire::LogEvent::Register::Reader r) const {
  const auto newId = view(r.getMember().getId());
  const auto name = view(r.getMember().getName());
  if (const auto problem = protocol::checkSingleLineText(name); problem != protocol::TextProblem::None) {
    return fail(ErrorCode::INVALID_REQUEST, std::string("the member name ") + protocol::describe(problem));
  }
  if (directory_.find(newId) != nullptr) return fail(ErrorCode::INVALID_REQUEST, "member " + std::string(newId) + " already exists");
  if (auto ok = checkNewMemberState(memberStates_, view(r.getMember().getState())); !ok) return fail(ok.error());
  if (r.getMember().getIsAdmin() || r.getMember().getIsSecretariat()) {
    return fail(ErrorCode::INVALID_REQUEST, "an admission grants no admin or secretariat role");
  }
  crypto::PublicKeys pk;
  pk.memberId = std::string(newId);
  auto identity = crypto::SigningPublicKey::fromBytes(view(r.getKeys().getIdentityKey()));
  auto enc = crypto::BoxPublicKey::fromBytes(view(r.getKeys().getEncryptionKey()));
  auto cert = crypto::Signature::fromBytes(view(r.getKeys().getEncKeyCert()));
  if (!identity || !enc || !cert) return fail(ErrorCode::INVALID_REQUEST, "a key or certificate has the wrong length");
  pk.identity = *identity;
  pk.encryption = *enc;
  pk.createdAtMs = r.getKeys().getEncKeyCreatedAtMs();
  pk.encCert = *cert;
  if (!pk.certValid()) return fail(ErrorCode::BAD_SIGNATURE, "the encryption key certificate does not verify");
  return Ok{};
}

Result<Ok> ConsensusService::checkProposal(const Caller& caller, wire::Proposal::Reader p, std::int64_t now) const {
  if (view(p.getProposerId()) != caller.memberId) {
    return fail(ErrorCode::FORBIDDEN, "a proposal names its author in proposerId: you");
  }
  const MemberRecord* me = directory_.find(caller.memberId);
  const bool chair = me != nullptr && me->chairs();
  if (me == nullptr || !me->active() || !(me->isAdmin || (chair && p.which() == wire::Proposal::ADMISSION))) {
    return fail(ErrorCode::FORBIDDEN, p.which() == wire::Proposal::ADMISSION
                                          ? "only an admin, the chair or a co-chair proposes an admission"
                                          : "only an admin proposes");
  }
  if (auto ok = checkClockSkew(p.getCreatedAtMs(), now, "createdAtMs"); !ok) return fail(ok.error());
  if (p.getExpiresAtMs() <= now || p.getExpiresAtMs() - now > MaxProposalLifetimeMs) {
    return fail(ErrorCode::INVALID_REQUEST, "expiresAtMs must be in the future and within 90 days");
  }
  // A panel admission limited to named meetings (PROTOCOL.md §12.5): the
  // list's shape is a log rule; that each meeting exists is the hub's.
  auto meetings = protocol::readProposalMeetings(p);
  if (!meetings) return fail(ErrorCode::INVALID_REQUEST, meetings.error());
  for (const auto& id : *meetings) {
    if (!store_.meeting(id)) {
      return fail(ErrorCode::NOT_FOUND, "no meeting " + crypto::toHex(id) +
                                            ": an admission is limited only to meetings the secretariat created");
    }
  }
  if (p.which() == wire::Proposal::AMENDMENT) {
    // An amendment is a text the member states adopt; the hub checks only
    // its size (what it says is for the points of contact to judge).
    if (!protocol::validAmendmentText(view(p.getAmendment()))) {
      return fail(ErrorCode::INVALID_REQUEST, "an amendment's text is 1.." +
                                                  std::to_string(protocol::MaxAmendmentTextBytes) + " bytes");
    }
    // SECURITY: every point of contact is shown it (PROTOCOL.md §3, "Text fields").
    if (const auto problem = protocol::checkMultiLineText(view(p.getAmendment())); problem != protocol::TextProblem::None) {
      return fail(ErrorCode::INVALID_REQUEST, std::string("the amendment's text ") + protocol::describe(problem));
    }
    return Ok{};
  }
  if (p.which() == wire::Proposal::ADMIN_CHANGE) return directory_.checkProposedChange(p.getAdminChange(), caller.memberId);
  if (p.which() != wire::Proposal::ADMISSION) {
    return fail(ErrorCode::INVALID_REQUEST, "a proposal is an admission, an amendment or an admin change");
  }
  return checkAdmission(p.getAdmission());
}

net::awaitable<Result<Recorded>> ConsensusService::propose(Caller caller, SignedBody checked, wire::Proposal::Reader p) {
  const auto proposalId = crypto::BulletinId::fromBytes(view(p.getProposalId()));
  if (!proposalId) co_return fail(ErrorCode::INVALID_REQUEST, "proposal ids are 16 bytes");
  const std::int64_t now = clock_.nowMs();
  if (auto ok = checkProposal(caller, p, now); !ok) co_return fail(ok.error());
  auto record = std::make_shared<StoredRecord>(StoredRecord{std::move(checked.body), std::move(checked.signature)});
  const std::int64_t expires = p.getExpiresAtMs();
  auto job = store::StoreProposal{*proposalId, caller.memberId, record, expires, now};
  auto outcome = co_await commits_.submit(std::move(job), net::use_awaitable);
  if (!outcome) co_return fail(outcome.error());
  if (!outcome->already) {
    if (p.which() == wire::Proposal::ADMISSION) {
      spdlog::info("proposal {} by {}: admit {}{}", crypto::toHex(*proposalId), caller.memberId,
                   std::string(view(p.getAdmission().getMember().getId())),
                   p.getMeetings().size() == 0 ? std::string()
                                               : " to " + std::to_string(p.getMeetings().size()) + " named meeting(s) only");
    } else if (p.which() == wire::Proposal::ADMIN_CHANGE) {
      spdlog::info("proposal {} by {}: {} {}", crypto::toHex(*proposalId), caller.memberId,
                   protocol::adminChangeName(p.getAdminChange()),
                   std::string(protocol::adminChangeTarget(p.getAdminChange())));
    } else {
      spdlog::info("proposal {} by {}: amendment of {} bytes", crypto::toHex(*proposalId), caller.memberId,
                   p.getAmendment().size());
    }
    audit_.audit("admin.propose", caller.memberId, caller.remote, "proposal " + crypto::toHex(*proposalId));
  }
  if (p.which() == wire::Proposal::ADMIN_CHANGE && !outcome->already) {
    // k = 1 needs nobody else: adopted now, or when its delay ends.
    auto guard = co_await log_.lock();
    if (!guard) co_return fail(ErrorCode::UNAVAILABLE, "too many log changes waiting", 1000);
    const std::int64_t now = clock_.nowMs();
    auto adopted = co_await adoptIfAgreed(caller, *guard, *proposalId, now);
    if (!adopted) co_return fail(adopted.error());
  }
  co_return Recorded{*proposalId, outcome->recordedAtMs};
}

// ---- decisions and adoption ---------------------------------------------------------------

// An admin change is decided by the other active admins (approve or
// reject) and, for a rotation of its keys, by the member itself (reject
// only: its objection). Returns what the log line calls the decider.
Result<std::string> ConsensusService::checkAdminDecider(const Caller& caller, wire::Proposal::Reader p,
                                                        bool approve) const {
  const MemberRecord* m = directory_.find(caller.memberId);
  const auto change = p.getAdminChange();
  if (m != nullptr && m->active() && protocol::isForcedRotation(change, view(p.getProposerId())) &&
      protocol::adminChangeTarget(change) == caller.memberId) {
    if (approve) return fail(ErrorCode::FORBIDDEN, "a member does not approve a rotation of its own keys; it may object");
    return std::string("objection of the member");
  }
  if (m == nullptr || !m->active() || !m->isAdmin) {
    return fail(ErrorCode::FORBIDDEN, "admin quorum: only an active admin decides on an admin change");
  }
  if (view(p.getProposerId()) == caller.memberId && approve) {
    return fail(ErrorCode::FORBIDDEN, "admin quorum: the proposer's signature already counts; another admin approves");
  }
  return "admin" + (m->state.empty() ? std::string() : " of " + m->state);
}

Result<std::string> ConsensusService::checkDecider(const Caller& caller) const {
  const auto me = directory_.consensusMember(caller.memberId);
  if (me && protocol::isStatePoc(*me)) return me->state;
  const MemberRecord* m = directory_.find(caller.memberId);
  return fail(ErrorCode::FORBIDDEN,
              "consensus rule: only a point of contact of a member state decides; " + caller.memberId + " is " +
                  (m == nullptr ? std::string("unknown")
                                : std::string(protocol::institutionName(m->institution)) +
                                      (m->state.empty() ? " without a member state" : " of " + m->state)));
}

net::awaitable<Result<Recorded>> ConsensusService::decide(Caller caller, SignedBody checked, wire::Decision::Reader d) {
  const auto proposalId = crypto::BulletinId::fromBytes(view(d.getProposalId()));
  const auto proposalHash = crypto::Hash256::fromBytes(view(d.getProposalHash()));
  if (!proposalId || !proposalHash) co_return fail(ErrorCode::INVALID_REQUEST, "proposalId is 16 bytes, proposalHash 32");
  if (view(d.getMemberId()) != caller.memberId) {
    co_return fail(ErrorCode::FORBIDDEN, "a decision names its author in memberId: you");
  }
  const bool approve = d.getApprove();

  // Decisions and adoption are serialised with every other log append.
  auto guard = co_await log_.lock();
  if (!guard) co_return fail(ErrorCode::UNAVAILABLE, "too many log changes waiting", 1000);
  const std::int64_t now = clock_.nowMs();
  if (auto ok = checkClockSkew(d.getDecidedAtMs(), now, "decidedAtMs"); !ok) co_return fail(ok.error());
  auto row = store_.proposal(*proposalId);
  if (!row) co_return fail(ErrorCode::NOT_FOUND, "no proposal " + crypto::toHex(*proposalId));
  auto stored = protocol::decode<wire::Proposal>(row->record.body);
  if (!stored) co_return fail(ErrorCode::INTERNAL, "internal error");
  const auto state = stored->root().which() == wire::Proposal::ADMIN_CHANGE
                         ? checkAdminDecider(caller, stored->root(), approve)
                         : checkDecider(caller);
  if (!state) co_return fail(state.error());
  if (!(crypto::hash256(row->record.body) == *proposalHash)) {
    co_return fail(ErrorCode::INVALID_REQUEST, "proposalHash is not the hash of the proposal's bytes");
  }
  if (row->state != wire::ProposalState::OPEN) co_return fail(ErrorCode::POLICY_DENIED, "consensus rule: the proposal is closed");
  if (now > row->expiresAtMs) co_return fail(ErrorCode::POLICY_DENIED, "consensus rule: the proposal has expired");

  auto record = std::make_shared<StoredRecord>(StoredRecord{std::move(checked.body), std::move(checked.signature)});
  auto job = store::StoreDecision{*proposalId, caller.memberId, approve, record, std::move(checked.sealedHead), now};
  auto outcome = co_await commits_.submit(std::move(job), net::use_awaitable);
  if (!outcome) co_return fail(outcome.error());
  spdlog::info("proposal {}: {} by {} ({})", crypto::toHex(*proposalId), approve ? "approval" : "rejection",
               caller.memberId, state.value());
  if (approve && !outcome->already) {
    auto adopted = co_await adoptIfAgreed(caller, *guard, *proposalId, now);
    if (!adopted) co_return fail(adopted.error());
  }
  if (!approve) waiting_.erase(*proposalId);
  co_return Recorded{*proposalId, outcome->recordedAtMs};
}

std::map<std::string, const StoredRecord*> ConsensusService::approvalsByState(const ProposalRow& row) const {
  const auto required = directory_.requiredStates();
  std::map<std::string, const StoredRecord*> byState;
  for (const auto& dec : row.decisions) {
    if (!dec.approve) continue;
    const auto m = directory_.consensusMember(dec.memberId);
    if (!m || !protocol::isStatePoc(*m) || !required.contains(m->state) || byState.contains(m->state)) continue;
    const auto sig = crypto::Signature::fromBytes(dec.record.signature);
    auto parsedDecision = protocol::decode<wire::Decision>(dec.record.body);
    // Counted under the key the member held when it decided (it may have
    // rotated its identity key since), exactly as clients judge the entry.
    if (!sig || !parsedDecision ||
        !protocol::signedWithKeyOfTheTime(*m, protocol::context::Decision, dec.record.body, *sig,
                                          parsedDecision->root().getDecidedAtMs())) {
      continue;
    }
    byState.emplace(m->state, &dec.record);
  }
  return byState;
}

// Adopted when one point of contact of every member state with an active
// point of contact approved (a second approval from a state adds nothing).
net::awaitable<Result<Ok>> ConsensusService::adoptIfAgreed(const Caller& caller, const AsyncMutex::Guard& held,
                                                           const crypto::BulletinId& proposalId, std::int64_t now) {
  auto row = store_.proposal(proposalId);
  if (!row || row->state != wire::ProposalState::OPEN || now > row->expiresAtMs) {
    waiting_.erase(proposalId);
    co_return Ok{};
  }
  {
    auto kind = protocol::decode<wire::Proposal>(row->record.body);
    if (kind && kind->root().which() == wire::Proposal::ADMIN_CHANGE) {
      co_return co_await adoptAdminChange(caller, held, *row, now);
    }
  }
  const auto required = directory_.requiredStates();
  const auto byState = approvalsByState(*row);
  if (required.empty() || byState.size() != required.size()) co_return Ok{};
  auto storedProposal = protocol::decode<wire::Proposal>(row->record.body);
  if (!storedProposal) co_return fail(ErrorCode::INTERNAL, "internal error");
  capnp::MallocMessageBuilder mb;
  const bool isAdmission = buildAdoption(mb, *row, storedProposal->root(), byState, now);
  auto makeJob = [pid = proposalId](auto entry, auto head) {
    return store::AdoptProposal{pid, entry, head};
  };
  auto appended = co_await log_.append(held, log_.hubDraft(mb, now, std::nullopt, now), makeJob);
  if (!appended) {
    if (appended.error().stage != LogAppender::Failure::Stage::Refused) co_return fail(appended.error().error);
    spdlog::warn("proposal {} not adopted: {}", crypto::toHex(proposalId), appended.error().error.message);
    co_return Ok{};
  }
  const auto index = appended->entry->index;
  if (isAdmission) {
    spdlog::info("proposal {} adopted by every member state: log entry {} admits {}", crypto::toHex(proposalId), index,
                 appended->changed);
    audit_.audit("consensus.admission", "-", caller.remote, "log entry " + std::to_string(index) + ": " + appended->changed);
  } else {
    spdlog::info("proposal {} adopted by every member state: log entry {} records the amendment",
                 crypto::toHex(proposalId), index);
    audit_.audit("consensus.amendment", "-", caller.remote,
                 "log entry " + std::to_string(index) + ": proposal " + crypto::toHex(proposalId));
  }
  co_return Ok{};
}

// The adminAction entry for `row`: its proposal and every approval that
// counts (an active admin other than the proposer, signed with the key of
// its time; one per admin).
void ConsensusService::buildAdminAction(capnp::MessageBuilder& mb, const ProposalRow& row,
                                        wire::Proposal::Reader proposal, std::int64_t now) const {
  std::vector<const StoredRecord*> counted;
  std::set<std::string> seen{std::string(view(proposal.getProposerId()))};
  for (const auto& dec : row.decisions) {
    const auto m = directory_.consensusMember(dec.memberId);
    const auto sig = crypto::Signature::fromBytes(dec.record.signature);
    auto parsed = protocol::decode<wire::Decision>(dec.record.body);
    if (!dec.approve || !m || !m->active || !m->isAdmin || !sig || !parsed || seen.contains(dec.memberId) ||
        !protocol::signedWithKeyOfTheTime(*m, protocol::context::Decision, dec.record.body, *sig,
                                          parsed->root().getDecidedAtMs())) {
      continue;
    }
    seen.insert(dec.memberId);
    counted.push_back(&dec.record);
  }
  auto e = mb.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(now);
  auto a = e.initAdminAction();
  a.initProposal().setBody(protocol::kjBytes(row.record.body));
  a.getProposal().setSignature(protocol::kjBytes(row.record.signature));
  auto approvals = a.initApprovals(static_cast<unsigned>(counted.size()));
  for (unsigned i = 0; i < counted.size(); ++i) {
    approvals[i].setBody(protocol::kjBytes(counted[i]->body));
    approvals[i].setSignature(protocol::kjBytes(counted[i]->signature));
  }
}

// Appends the adminAction when the quorum signed and, for another member's
// key rotation, its delay has passed (until then it waits: adoptDueChanges).
net::awaitable<Result<Ok>> ConsensusService::adoptAdminChange(const Caller& caller, const AsyncMutex::Guard& held,
                                                              const ProposalRow& row, std::int64_t now) {
  auto proposal = protocol::decode<wire::Proposal>(row.record.body);
  if (!proposal) co_return fail(ErrorCode::INTERNAL, "internal error");
  const auto p = proposal->root();
  capnp::MallocMessageBuilder mb;
  buildAdminAction(mb, row, p, now);
  auto signers = protocol::countAdminSigners(mb.getRoot<wire::LogEvent>().asReader().getAdminAction(), now,
                                             [this](std::string_view m) { return directory_.consensusMember(m); });
  if (!signers || protocol::quorumShortfall(*signers, directory_.adminPolicy())) {
    waiting_.erase(row.id);  // the next approval tries again
    co_return Ok{};
  }
  if (protocol::isForcedRotation(p.getAdminChange(), view(p.getProposerId())) &&
      now < p.getCreatedAtMs() + directory_.adminPolicy().forcedRotationDelayMs) {
    waiting_.insert(row.id);
    co_return Ok{};
  }
  waiting_.erase(row.id);
  const auto proposalId = row.id;
  auto makeJob = [pid = proposalId](auto entry, auto head) { return store::AdoptProposal{pid, entry, head}; };
  auto appended = co_await log_.append(held, log_.hubDraft(mb, now, std::nullopt, now), makeJob);
  if (!appended) {
    if (appended.error().stage != LogAppender::Failure::Stage::Refused) co_return fail(appended.error().error);
    spdlog::warn("admin change {} not adopted: {}", crypto::toHex(proposalId), appended.error().error.message);
    co_return Ok{};
  }
  const auto index = appended->entry->index;
  spdlog::info("admin change {} adopted by {} admins: log entry {} ({} {})", crypto::toHex(proposalId),
               signers->members.size(), index, protocol::adminChangeName(p.getAdminChange()), appended->changed);
  audit_.audit("admin.quorum", "-", caller.remote,
               "log entry " + std::to_string(index) + ": " + protocol::adminChangeName(p.getAdminChange()) + " " +
                   appended->changed);
  co_return Ok{};
}

net::awaitable<void> ConsensusService::adoptDueChanges() {
  if (!scanned_) {
    // Changes that reached their quorum before a restart wait again here.
    scanned_ = true;
    for (const auto& row : store_.proposals(MaxListedProposals)) {
      auto p = protocol::decode<wire::Proposal>(row.record.body);
      if (row.state == wire::ProposalState::OPEN && p && p->root().which() == wire::Proposal::ADMIN_CHANGE) {
        waiting_.insert(row.id);
      }
    }
  }
  if (waiting_.empty()) co_return;
  const std::vector<crypto::BulletinId> ids(waiting_.begin(), waiting_.end());
  // Named, not a temporary in the co_await expression (g++ 12 coroutines).
  const Caller byTimer{"-", {}, "hub"};
  for (const auto& id : ids) {
    auto guard = co_await log_.lock();
    if (!guard) co_return;  // busy: the next pass retries
    const std::int64_t now = clock_.nowMs();
    auto adopted = co_await adoptIfAgreed(byTimer, *guard, id, now);
    if (!adopted) spdlog::warn("admin change {}: {}", crypto::toHex(id), adopted.error().message);
  }
}

Result<std::vector<ProposalRow>> ConsensusService::listProposals(const std::string& memberId, std::int64_t& nowMs) {
  const MemberRecord* me = directory_.find(memberId);
  if (me == nullptr || !me->active()) return fail(ErrorCode::REVOKED_KEY, "your membership or key is revoked");
  auto rows = store_.proposals(MaxListedProposals);
  nowMs = clock_.nowMs();
  return rows;
}

}  // namespace focal::server

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
  if (me == nullptr || !me->active() || !me->isAdmin) return fail(ErrorCode::FORBIDDEN, "only an admin proposes");
  if (auto ok = checkClockSkew(p.getCreatedAtMs(), now, "createdAtMs"); !ok) return fail(ok.error());
  if (p.getExpiresAtMs() <= now || p.getExpiresAtMs() - now > MaxProposalLifetimeMs) {
    return fail(ErrorCode::INVALID_REQUEST, "expiresAtMs must be in the future and within 90 days");
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
  if (p.which() != wire::Proposal::ADMISSION) {
    return fail(ErrorCode::INVALID_REQUEST, "a proposal is an admission or an amendment");
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
      spdlog::info("proposal {} by {}: admit {}", crypto::toHex(*proposalId), caller.memberId,
                   std::string(view(p.getAdmission().getMember().getId())));
    } else {
      spdlog::info("proposal {} by {}: amendment of {} bytes", crypto::toHex(*proposalId), caller.memberId,
                   p.getAmendment().size());
    }
    audit_.audit("admin.propose", caller.memberId, caller.remote, "proposal " + crypto::toHex(*proposalId));
  }
  co_return Recorded{*proposalId, outcome->recordedAtMs};
}

// ---- decisions and adoption ---------------------------------------------------------------

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
  const auto state = checkDecider(caller);
  if (!state) co_return fail(state.error());
  if (!(crypto::hash256(row->record.body) == *proposalHash)) {
    co_return fail(ErrorCode::INVALID_REQUEST, "proposalHash is not the hash of the proposal's bytes");
  }
  if (row->state != wire::ProposalState::OPEN) co_return fail(ErrorCode::POLICY_DENIED, "consensus rule: the proposal is closed");
  if (now > row->expiresAtMs) co_return fail(ErrorCode::POLICY_DENIED, "consensus rule: the proposal has expired");

  auto record = std::make_shared<StoredRecord>(StoredRecord{std::move(checked.body), std::move(checked.signature)});
  auto job = store::StoreDecision{*proposalId, caller.memberId, approve, record, now};
  auto outcome = co_await commits_.submit(std::move(job), net::use_awaitable);
  if (!outcome) co_return fail(outcome.error());
  spdlog::info("proposal {}: {} by {} ({})", crypto::toHex(*proposalId), approve ? "approval" : "rejection",
               caller.memberId, state.value());
  if (approve && !outcome->already) {
    auto adopted = co_await adoptIfAgreed(caller, *guard, *proposalId, now);
    if (!adopted) co_return fail(adopted.error());
  }
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
  if (!row || row->state != wire::ProposalState::OPEN) co_return Ok{};
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

Result<std::vector<ProposalRow>> ConsensusService::listProposals(const std::string& memberId, std::int64_t& nowMs) {
  const MemberRecord* me = directory_.find(memberId);
  if (me == nullptr || !me->active()) return fail(ErrorCode::REVOKED_KEY, "your membership or key is revoked");
  auto rows = store_.proposals(MaxListedProposals);
  nowMs = clock_.nowMs();
  return rows;
}

}  // namespace focal::server

// Summary records and the silence procedure (PROTOCOL.md §12.4, DESIGN.md
// §9): comments by the record's recipients and the procedure's state. The
// outcome at the deadline is the hub's (Hub::closeDueRecords), not a
// request's.
//
// SECURITY: a comment is checked like every signed record (size, signature
// under the SESSION's identity key over the exact bytes, structure, author =
// session, clock), then against the record: only its original recipients
// comment, only while its window is open, once each.
#include "server/request_handler.hpp"

#include "crypto/primitives.hpp"
#include "protocol/limits.hpp"
#include "protocol/names.hpp"
#include "protocol/log.hpp"
#include "protocol/signing.hpp"
#include "server/frames.hpp"
#include "server/hub.hpp"
#include "server/session.hpp"

#include <spdlog/spdlog.h>

#include <map>

namespace focal::server {

namespace {

using crypto::Bytes;
using protocol::view;
using wire::ErrorCode;

const char* stateName(wire::RecordState s) { return protocol::recordStateName(s); }

}  // namespace

net::awaitable<Result<Bytes>> RequestHandler::comment(std::shared_ptr<Session> session, std::uint64_t id,
                                                      wire::SignedRecord::Reader req) {
  const auto body = view(req.getBody());
  if (body.empty()) co_return fail(ErrorCode::INVALID_REQUEST, "empty comment");
  if (body.size() > MaxRecordBytes) co_return fail(ErrorCode::TOO_LARGE, "comment too large");
  const auto sig = crypto::Signature::fromBytes(view(req.getSignature()));
  if (!sig) co_return fail(ErrorCode::BAD_SIGNATURE, "the signature must be 64 bytes");
  if (!crypto::verify(protocol::context::Comment, body, *sig, session->identityKey())) {
    co_return fail(ErrorCode::BAD_SIGNATURE, "the comment's signature does not verify under your identity key");
  }
  auto parsed = protocol::decode<wire::Comment>(body);
  if (!parsed) co_return fail(ErrorCode::INVALID_REQUEST, "the comment does not parse: " + parsed.error().message);
  const auto c = parsed->root();
  const auto recordId = crypto::BulletinId::fromBytes(view(c.getRecordId()));
  if (!recordId) co_return fail(ErrorCode::INVALID_REQUEST, "record ids are 16 bytes");
  if (view(c.getMemberId()) != session->memberId()) {
    co_return fail(ErrorCode::FORBIDDEN, "a comment names its author in memberId: you");
  }
  if (c.getSealedText().size() > MaxCommentTextBytes) co_return fail(ErrorCode::TOO_LARGE, "comment text too large");
  const std::int64_t now = hub_.clock().nowMs();
  const std::int64_t skew = c.getCommentedAtMs() - now;
  if (skew > protocol::MaxClockSkewMs || skew < -protocol::MaxClockSkewMs) {
    co_return fail(ErrorCode::STALE_TIMESTAMP, "commentedAtMs is more than " +
                                                   std::to_string(protocol::MaxClockSkewMs / 60000) +
                                                   " minutes from the hub's clock");
  }

  const MemberRecord* me = hub_.directory().find(session->memberId());
  if (me == nullptr || !me->active()) co_return fail(ErrorCode::REVOKED_KEY, "your membership or key is revoked");
  const auto held = hub_.store().heldThroughForward(session->memberId(), *recordId);
  auto row = hub_.store().summaryRecord(*recordId);
  if (!held) {
    if (row && row->senderId == session->memberId()) {
      co_return fail(ErrorCode::FORBIDDEN, "silence procedure rule: the record's sender does not comment on it");
    }
    // A member the record was not addressed to learns nothing about it.
    co_return fail(ErrorCode::NOT_FOUND, "no summary record " + crypto::toHex(*recordId) + " addressed to you");
  }
  if (!row) co_return fail(ErrorCode::INVALID_REQUEST, "bulletin " + crypto::toHex(*recordId) + " is not a summary record");
  if (*held) {
    co_return fail(ErrorCode::POLICY_DENIED,
                   "silence procedure rule: only the record's original recipients comment; you received it through a "
                   "forward");
  }
  if (row->state != wire::RecordState::PENDING && row->state != wire::RecordState::OBJECTED) {
    co_return fail(ErrorCode::POLICY_DENIED, std::string("silence procedure rule: the record is ") +
                                                 stateName(row->state) + "; comments are closed");
  }
  if (now >= row->deadlineMs) {
    co_return fail(ErrorCode::POLICY_DENIED, "silence procedure rule: the comment window closed at " +
                                                 std::to_string(row->deadlineMs) + " (Unix ms)");
  }
  auto comment = std::make_shared<NewComment>();
  comment->recordId = *recordId;
  comment->memberId = session->memberId();
  comment->objection = c.getObjection();
  comment->record = StoredRecord{Bytes(body.begin(), body.end()), Bytes(sig->bytes.begin(), sig->bytes.end())};
  comment->recordedAtMs = now;
  auto job = [comment](sqlite::Database& db) { return Store::insertComment(db, *comment); };
  auto outcome = co_await hub_.commits().submit<RecordOutcome>(std::move(job), net::use_awaitable);
  if (!outcome) co_return fail(outcome.error());
  if (!outcome->already) {
    spdlog::info("summary record {}: {} by {}", crypto::toHex(*recordId), comment->objection ? "objection" : "comment",
                 session->memberId());
  }
  co_return frames::recorded(id, recordId->view(), outcome->recordedAtMs);
}

Result<Bytes> RequestHandler::recordStatus(const Session& session, std::uint64_t id,
                                           wire::RecordStatusQuery::Reader req) {
  const auto recordId = crypto::BulletinId::fromBytes(view(req.getRecordId()));
  if (!recordId) return fail(ErrorCode::INVALID_REQUEST, "record ids are 16 bytes");
  auto row = hub_.store().summaryRecord(*recordId);
  // Visible to its sender, whoever holds it, the secretariat and admins;
  // anyone else gets the answer an unknown id gets.
  const MemberRecord* me = hub_.directory().find(session.memberId());
  const bool privileged = me != nullptr && me->active() && (me->isAdmin || me->isSecretariat);
  if (!row || !(privileged || row->senderId == session.memberId() ||
                hub_.store().heldThroughForward(session.memberId(), *recordId))) {
    return fail(ErrorCode::NOT_FOUND, "no summary record " + crypto::toHex(*recordId) + " visible to you");
  }
  return frames::recordStatus(id, *row);
}

}  // namespace focal::server

// ---- admission by consensus ------------------------------------------------------------------

namespace focal::server {

namespace {

struct CheckedRecord {
  crypto::Bytes body;
  crypto::Bytes signature;
};

Result<CheckedRecord> checkSigned(wire::SignedRecord::Reader r, std::string_view context, const Session& session,
                                  const char* what) {
  const auto body = protocol::view(r.getBody());
  if (body.empty()) return fail(wire::ErrorCode::INVALID_REQUEST, std::string("empty ") + what);
  if (body.size() > RequestHandler::MaxRecordBytes) return fail(wire::ErrorCode::TOO_LARGE, std::string(what) + " too large");
  const auto sig = crypto::Signature::fromBytes(protocol::view(r.getSignature()));
  if (!sig) return fail(wire::ErrorCode::BAD_SIGNATURE, "the signature must be 64 bytes");
  if (!crypto::verify(context, body, *sig, session.identityKey())) {
    return fail(wire::ErrorCode::BAD_SIGNATURE, std::string("the ") + what + "'s signature does not verify under your identity key");
  }
  return CheckedRecord{crypto::Bytes(body.begin(), body.end()), crypto::Bytes(sig->bytes.begin(), sig->bytes.end())};
}

Result<Ok> withinSkew(std::int64_t atMs, std::int64_t nowMs, const char* field) {
  const std::int64_t skew = atMs - nowMs;
  if (skew > protocol::MaxClockSkewMs || skew < -protocol::MaxClockSkewMs) {
    return fail(wire::ErrorCode::STALE_TIMESTAMP, std::string(field) + " is more than " +
                                                      std::to_string(protocol::MaxClockSkewMs / 60000) +
                                                      " minutes from the hub's clock");
  }
  return Ok{};
}

const char* institutionText(wire::Institution i) { return protocol::institutionName(i); }

}  // namespace

net::awaitable<Result<Bytes>> RequestHandler::propose(std::shared_ptr<Session> session, std::uint64_t id,
                                                      wire::SignedRecord::Reader req) {
  auto checked = checkSigned(req, protocol::context::Proposal, *session, "proposal");
  if (!checked) co_return fail(checked.error());
  auto parsed = protocol::decode<wire::Proposal>(checked->body);
  if (!parsed) co_return fail(ErrorCode::INVALID_REQUEST, "the proposal does not parse: " + parsed.error().message);
  const auto p = parsed->root();
  const auto proposalId = crypto::BulletinId::fromBytes(view(p.getProposalId()));
  if (!proposalId) co_return fail(ErrorCode::INVALID_REQUEST, "proposal ids are 16 bytes");
  if (view(p.getProposerId()) != session->memberId()) {
    co_return fail(ErrorCode::FORBIDDEN, "a proposal names its author in proposerId: you");
  }
  const Directory& dir = hub_.directory();
  const MemberRecord* me = dir.find(session->memberId());
  if (me == nullptr || !me->active() || !me->isAdmin) co_return fail(ErrorCode::FORBIDDEN, "only an admin proposes");
  const std::int64_t now = hub_.clock().nowMs();
  if (auto ok = withinSkew(p.getCreatedAtMs(), now, "createdAtMs"); !ok) co_return fail(ok.error());
  if (p.getExpiresAtMs() <= now || p.getExpiresAtMs() - now > MaxProposalLifetimeMs) {
    co_return fail(ErrorCode::INVALID_REQUEST, "expiresAtMs must be in the future and within 90 days");
  }
  if (p.which() == wire::Proposal::AMENDMENT) {
    // An amendment is a text the member states adopt; the hub checks only
    // its size (what it says is for the points of contact to judge).
    if (!protocol::validAmendmentText(view(p.getAmendment()))) {
      co_return fail(ErrorCode::INVALID_REQUEST, "an amendment's text is 1.." +
                                                     std::to_string(protocol::MaxAmendmentTextBytes) + " bytes");
    }
    // SECURITY: every point of contact is shown it (PROTOCOL.md §3, "Text fields").
    if (const auto problem = protocol::checkMultiLineText(view(p.getAmendment())); problem != protocol::TextProblem::None) {
      co_return fail(ErrorCode::INVALID_REQUEST, std::string("the amendment's text ") + protocol::describe(problem));
    }
  } else if (p.which() != wire::Proposal::ADMISSION) {
    co_return fail(ErrorCode::INVALID_REQUEST, "a proposal is an admission or an amendment");
  } else {
    // The member to admit must be registrable now (it is checked again, in
    // full, when the admission entry is appended).
    auto r = p.getAdmission();
    const auto newId = view(r.getMember().getId());
    const auto name = view(r.getMember().getName());
    if (const auto problem = protocol::checkSingleLineText(name); problem != protocol::TextProblem::None) {
      co_return fail(ErrorCode::INVALID_REQUEST, std::string("the member name ") + protocol::describe(problem));
    }
    if (dir.find(newId) != nullptr) co_return fail(ErrorCode::INVALID_REQUEST, "member " + std::string(newId) + " already exists");
    if (auto ok = hub_.checkNewMemberState(view(r.getMember().getState())); !ok) co_return fail(ok.error());
    if (r.getMember().getIsAdmin() || r.getMember().getIsSecretariat()) {
      co_return fail(ErrorCode::INVALID_REQUEST, "an admission grants no admin or secretariat role");
    }
    crypto::PublicKeys pk;
    pk.memberId = std::string(newId);
    auto identity = crypto::SigningPublicKey::fromBytes(view(r.getKeys().getIdentityKey()));
    auto enc = crypto::BoxPublicKey::fromBytes(view(r.getKeys().getEncryptionKey()));
    auto cert = crypto::Signature::fromBytes(view(r.getKeys().getEncKeyCert()));
    if (!identity || !enc || !cert) co_return fail(ErrorCode::INVALID_REQUEST, "a key or certificate has the wrong length");
    pk.identity = *identity;
    pk.encryption = *enc;
    pk.createdAtMs = r.getKeys().getEncKeyCreatedAtMs();
    pk.encCert = *cert;
    if (!pk.certValid()) co_return fail(ErrorCode::BAD_SIGNATURE, "the encryption key certificate does not verify");
  }
  auto record = std::make_shared<StoredRecord>(StoredRecord{std::move(checked->body), std::move(checked->signature)});
  const std::int64_t expires = p.getExpiresAtMs();
  auto job = [pid = *proposalId, member = session->memberId(), record, expires, now](sqlite::Database& db) {
    return Store::insertProposal(db, pid, member, *record, expires, now);
  };
  auto outcome = co_await hub_.commits().submit<RecordOutcome>(std::move(job), net::use_awaitable);
  if (!outcome) co_return fail(outcome.error());
  if (!outcome->already) {
    if (p.which() == wire::Proposal::ADMISSION) {
      spdlog::info("proposal {} by {}: admit {}", crypto::toHex(*proposalId), session->memberId(),
                   std::string(view(p.getAdmission().getMember().getId())));
    } else {
      spdlog::info("proposal {} by {}: amendment of {} bytes", crypto::toHex(*proposalId), session->memberId(),
                   p.getAmendment().size());
    }
    hub_.audit("admin.propose", session->memberId(), session->remote(), "proposal " + crypto::toHex(*proposalId));
  }
  co_return frames::recorded(id, proposalId->view(), outcome->recordedAtMs);
}

net::awaitable<Result<Bytes>> RequestHandler::decide(std::shared_ptr<Session> session, std::uint64_t id,
                                                     wire::SignedRecord::Reader req) {
  auto checked = checkSigned(req, protocol::context::Decision, *session, "decision");
  if (!checked) co_return fail(checked.error());
  auto parsed = protocol::decode<wire::Decision>(checked->body);
  if (!parsed) co_return fail(ErrorCode::INVALID_REQUEST, "the decision does not parse: " + parsed.error().message);
  const auto d = parsed->root();
  const auto proposalId = crypto::BulletinId::fromBytes(view(d.getProposalId()));
  const auto proposalHash = crypto::Hash256::fromBytes(view(d.getProposalHash()));
  if (!proposalId || !proposalHash) co_return fail(ErrorCode::INVALID_REQUEST, "proposalId is 16 bytes, proposalHash 32");
  if (view(d.getMemberId()) != session->memberId()) {
    co_return fail(ErrorCode::FORBIDDEN, "a decision names its author in memberId: you");
  }
  const bool approve = d.getApprove();

  // Decisions and adoption are serialised with every other log append.
  auto guard = co_await hub_.adminMutex().lock();
  if (!guard) co_return fail(ErrorCode::UNAVAILABLE, "too many log changes waiting", 1000);
  Directory& dir = hub_.directory();
  const std::int64_t now = hub_.clock().nowMs();
  if (auto ok = withinSkew(d.getDecidedAtMs(), now, "decidedAtMs"); !ok) co_return fail(ok.error());
  auto row = hub_.store().proposal(*proposalId);
  if (!row) co_return fail(ErrorCode::NOT_FOUND, "no proposal " + crypto::toHex(*proposalId));
  const auto me = dir.consensusMember(session->memberId());
  if (!me || !protocol::isStatePoc(*me)) {
    const MemberRecord* m = dir.find(session->memberId());
    co_return fail(ErrorCode::FORBIDDEN,
                   "consensus rule: only a point of contact of a member state decides; " + session->memberId() + " is " +
                       (m == nullptr ? std::string("unknown")
                                     : std::string(institutionText(m->institution)) +
                                           (m->state.empty() ? " without a member state" : " of " + m->state)));
  }
  if (!(crypto::hash256(row->record.body) == *proposalHash)) {
    co_return fail(ErrorCode::INVALID_REQUEST, "proposalHash is not the hash of the proposal's bytes");
  }
  if (row->state != wire::ProposalState::OPEN) co_return fail(ErrorCode::POLICY_DENIED, "consensus rule: the proposal is closed");
  if (now > row->expiresAtMs) co_return fail(ErrorCode::POLICY_DENIED, "consensus rule: the proposal has expired");

  auto record = std::make_shared<StoredRecord>(StoredRecord{std::move(checked->body), std::move(checked->signature)});
  auto job = [pid = *proposalId, member = session->memberId(), approve, record, now](sqlite::Database& db) {
    return Store::insertDecision(db, pid, member, approve, *record, now);
  };
  auto outcome = co_await hub_.commits().submit<RecordOutcome>(std::move(job), net::use_awaitable);
  if (!outcome) co_return fail(outcome.error());
  spdlog::info("proposal {}: {} by {} ({})", crypto::toHex(*proposalId), approve ? "approval" : "rejection",
               session->memberId(), me->state);
  if (!approve || outcome->already) co_return frames::recorded(id, proposalId->view(), outcome->recordedAtMs);

  // Adopted when one point of contact of every member state with an active
  // point of contact approved (a second approval from a state adds nothing).
  row = hub_.store().proposal(*proposalId);
  if (!row || row->state != wire::ProposalState::OPEN) co_return frames::recorded(id, proposalId->view(), outcome->recordedAtMs);
  const auto required = dir.requiredStates();
  std::map<std::string, const StoredRecord*> byState;
  for (const auto& dec : row->decisions) {
    if (!dec.approve) continue;
    const auto m = dir.consensusMember(dec.memberId);
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
  if (required.empty() || byState.size() != required.size()) {
    co_return frames::recorded(id, proposalId->view(), outcome->recordedAtMs);
  }
  auto storedProposal = protocol::decode<wire::Proposal>(row->record.body);
  if (!storedProposal) co_return fail(ErrorCode::INTERNAL, "internal error");
  const bool isAdmission = storedProposal->root().which() == wire::Proposal::ADMISSION;
  capnp::MallocMessageBuilder mb;
  auto e = mb.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(now);
  auto adm = isAdmission ? e.initAdmission() : e.initAmendment();
  auto prop = adm.initProposal();
  prop.setBody(protocol::kjBytes(row->record.body));
  prop.setSignature(protocol::kjBytes(row->record.signature));
  auto approvals = adm.initApprovals(static_cast<unsigned>(byState.size()));
  unsigned i = 0;
  for (const auto& [state, rec] : byState) {
    approvals[i].setBody(protocol::kjBytes(rec->body));
    approvals[i].setSignature(protocol::kjBytes(rec->signature));
    ++i;
  }
  auto signedEvent = protocol::signLogEvent(mb, hub_.hubKey().secretKey);
  if (auto ok = dir.check(signedEvent.event, signedEvent.signature, dir.hubId(), hub_.hubKey().publicKey, std::nullopt, now);
      !ok) {
    spdlog::warn("proposal {} not adopted: {}", crypto::toHex(*proposalId), ok.error().message);
    co_return frames::recorded(id, proposalId->view(), outcome->recordedAtMs);
  }
  auto entry = std::make_shared<const StoredLogEntry>(
      dir.prepare(std::move(signedEvent.event), signedEvent.signature, dir.hubId(), hub_.hubKey().publicKey, now));
  auto head = std::make_shared<const StoredHead>(hub_.signHead(entry->index + 1, entry->entryHash, now));
  auto adopt = [pid = *proposalId, entry, head](sqlite::Database& db) { return Store::adoptProposal(db, pid, *entry, *head); };
  auto adopted = co_await hub_.commits().submit<Ok>(std::move(adopt), net::use_awaitable);
  if (!adopted) co_return fail(adopted.error());
  std::string changed;
  try {
    changed = dir.apply(*entry);
  } catch (const std::exception& ex) {
    spdlog::critical("log entry {} committed but not applied ({}); stopping the hub", entry->index, ex.what());
    hub_.stop();
    co_return fail(ErrorCode::INTERNAL, "internal error");
  }
  dir.setHead(*head);
  if (isAdmission) {
    spdlog::info("proposal {} adopted by every member state: log entry {} admits {}", crypto::toHex(*proposalId),
                 entry->index, changed);
    hub_.audit("consensus.admission", "-", session->remote(), "log entry " + std::to_string(entry->index) + ": " + changed);
  } else {
    spdlog::info("proposal {} adopted by every member state: log entry {} records the amendment",
                 crypto::toHex(*proposalId), entry->index);
    hub_.audit("consensus.amendment", "-", session->remote(),
               "log entry " + std::to_string(entry->index) + ": proposal " + crypto::toHex(*proposalId));
  }
  co_return frames::recorded(id, proposalId->view(), outcome->recordedAtMs);
}

Result<Bytes> RequestHandler::listProposals(const Session& session, std::uint64_t id) {
  const MemberRecord* me = hub_.directory().find(session.memberId());
  if (me == nullptr || !me->active()) return fail(ErrorCode::REVOKED_KEY, "your membership or key is revoked");
  return frames::proposals(id, hub_.store().proposals(MaxListedProposals), hub_.clock().nowMs());
}

}  // namespace focal::server

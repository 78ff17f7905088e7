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
#include "protocol/signing.hpp"
#include "server/frames.hpp"
#include "server/hub.hpp"
#include "server/session.hpp"

#include <spdlog/spdlog.h>

namespace focal::server {

namespace {

using crypto::Bytes;
using protocol::view;
using wire::ErrorCode;

const char* stateName(wire::RecordState s) {
  switch (s) {
    case wire::RecordState::PENDING: return "pending";
    case wire::RecordState::APPROVED: return "approved";
    case wire::RecordState::OBJECTED: return "objected";
    case wire::RecordState::WITHDRAWN: return "withdrawn";
    case wire::RecordState::SUPERSEDED: return "superseded";
  }
  return "unknown";
}

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
  if (!parsed) co_return fail(ErrorCode::INVALID_REQUEST, "the comment does not parse");
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

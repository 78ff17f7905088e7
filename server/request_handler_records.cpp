// The request handler's signed records: forward, permit, retract
// (PROTOCOL.md §12.1-12.3), comments on summary records (§12.4), proposals
// and decisions (§12.5); and the record and proposal queries.
//
// SECURITY: each record is checked in the same order: size, signature over
// the exact bytes under the SESSION's identity key (so the author is the
// authenticated member, whatever the record claims), structure; the
// service then checks the author fields against the session, the clock,
// and only then the rules.
#include "server/request_handler.hpp"

#include "crypto/primitives.hpp"
#include "protocol/signing.hpp"
#include "protocol/work_programme.hpp"
#include "server/action_service.hpp"
#include "server/consensus_service.hpp"
#include "server/frames.hpp"
#include "server/records_service.hpp"
#include "server/session.hpp"
#include "server/witness_service.hpp"

#include <type_traits>

namespace focal::server {

namespace {

using crypto::Bytes;
using protocol::view;
using wire::ErrorCode;

// Size, then signature over the exact body under the session's key.
Result<SignedBody> checkSignedRecord(wire::SignedRecord::Reader r, std::string_view context, const Session& session,
                                     const char* what) {
  const auto body = view(r.getBody());
  if (body.empty()) return fail(ErrorCode::INVALID_REQUEST, std::string("empty ") + what);
  if (body.size() > RequestHandler::MaxRecordBytes) return fail(ErrorCode::TOO_LARGE, std::string(what) + " too large");
  const auto sig = crypto::Signature::fromBytes(view(r.getSignature()));
  if (!sig) return fail(ErrorCode::BAD_SIGNATURE, "the signature must be 64 bytes");
  if (!crypto::verify(context, body, *sig, session.identityKey())) {
    return fail(ErrorCode::BAD_SIGNATURE, std::string("the ") + what + "'s signature does not verify under your identity key");
  }
  return SignedBody{Bytes(body.begin(), body.end()), Bytes(sig->bytes.begin(), sig->bytes.end())};
}

// The signing context of a record type, and its name in refusals.
struct RecordKind {
  std::string_view context;
  const char* what;
};

template <class T>
constexpr RecordKind recordKind() {
  namespace ctx = protocol::context;
  if constexpr (std::is_same_v<T, wire::ForwardRecord>) return {ctx::Forward, "forward record"};
  else if constexpr (std::is_same_v<T, wire::Permission>) return {ctx::Permission, "permission"};
  else if constexpr (std::is_same_v<T, wire::Retraction>) return {ctx::Retraction, "retraction"};
  else if constexpr (std::is_same_v<T, wire::Comment>) return {ctx::Comment, "comment"};
  else if constexpr (std::is_same_v<T, wire::Proposal>) return {ctx::Proposal, "proposal"};
  else if constexpr (std::is_same_v<T, wire::Meeting>) return {ctx::Meeting, "meeting record"};
  else return {ctx::Decision, "decision"};
}

// Checks and decodes a signed record of type T, hands it to
// (service.*serve)(Caller, SignedBody, T::Reader) -> awaitable<Result<Recorded>>,
// and answers `recorded`.
template <class T, class Service>
net::awaitable<Result<Bytes>> serveRecord(const Session& session, std::uint64_t id, wire::SignedRecord::Reader req,
                                          Service& service,
                                          net::awaitable<Result<Recorded>> (Service::*serve)(Caller, SignedBody,
                                                                                              typename T::Reader),
                                          Bytes sealedHead = {}) {
  constexpr RecordKind kind = recordKind<T>();
  auto checked = checkSignedRecord(req, kind.context, session, kind.what);
  if (!checked) co_return fail(checked.error());
  checked->sealedHead = std::move(sealedHead);
  auto parsed = protocol::decode<T>(checked->body);
  if (!parsed) {
    co_return fail(ErrorCode::INVALID_REQUEST,
                   std::string("the ") + kind.what + " does not parse: " + parsed.error().message);
  }
  auto done = co_await (service.*serve)(callerOf(session), std::move(*checked), parsed->root());
  if (!done) co_return fail(done.error());
  co_return frames::recorded(id, done->id.view(), done->atMs);
}

}  // namespace

net::awaitable<Result<Bytes>> RequestHandler::record(std::shared_ptr<Session> session, std::uint64_t id,
                                                     const wire::ClientFrame::Reader& f) {
  using C = wire::ClientFrame;
  using RS = RecordsService;
  using CS = ConsensusService;
  const Session& s = *session;
  switch (f.which()) {
    case C::FORWARD: co_return co_await serveRecord<wire::ForwardRecord>(s, id, f.getForward(), s_.records, &RS::forward);
    case C::PERMIT: co_return co_await serveRecord<wire::Permission>(s, id, f.getPermit(), s_.records, &RS::permit);
    case C::RETRACT: co_return co_await serveRecord<wire::Retraction>(s, id, f.getRetract(), s_.records, &RS::retract);
    case C::COMMENT: co_return co_await serveRecord<wire::Comment>(s, id, f.getComment(), s_.records, &RS::comment);
    case C::PROPOSE: co_return co_await serveRecord<wire::Proposal>(s, id, f.getPropose(), s_.consensus, &CS::propose);
    case C::DECIDE: co_return co_await serveRecord<wire::Decision>(s, id, f.getDecide(), s_.consensus, &CS::decide);
    case C::CREATE_MEETING:
      co_return co_await serveRecord<wire::Meeting>(s, id, f.getCreateMeeting(), s_.records, &RS::createMeeting);
    case C::DECIDE_WITH_HEAD: {
      const auto d = f.getDecideWithHead();
      const auto head = view(d.getSealedHead());
      if (head.empty() || head.size() > protocol::MaxSealedHeadBytes) {
        co_return fail(ErrorCode::INVALID_REQUEST,
                       "a sealed head is 1.." + std::to_string(protocol::MaxSealedHeadBytes) + " bytes");
      }
      co_return co_await serveRecord<wire::Decision>(s, id, d.getDecision(), s_.consensus, &CS::decide,
                                                     Bytes(head.begin(), head.end()));
    }
    default: co_return fail(ErrorCode::INVALID_REQUEST, "this request is not supported by this hub");
  }
}

net::awaitable<Result<Bytes>> RequestHandler::action(std::shared_ptr<Session> session, std::uint64_t id,
                                                     const wire::ClientFrame::Reader& f) {
  const bool add = f.isAddAction();
  const auto post = add ? f.getAddAction() : f.getUpdateAction();
  const char* what = add ? "action item" : "action update";
  auto checked = checkSignedRecord(post.getRecord(), add ? protocol::context::ActionItem : protocol::context::ActionUpdate,
                                   *session, what);
  if (!checked) co_return fail(checked.error());
  Result<Recorded> done = fail(ErrorCode::INTERNAL, "unreachable");
  if (add) {
    if (!post.hasSealed()) co_return fail(ErrorCode::INVALID_REQUEST, "an action item carries its sealed text");
    done = co_await s_.actions.add(callerOf(*session), std::move(*checked), post.getSealed());
  } else {
    std::optional<wire::Bulletin::Reader> note;
    if (post.hasSealed()) note = post.getSealed();
    done = co_await s_.actions.update(callerOf(*session), std::move(*checked), note);
  }
  if (!done) co_return fail(done.error());
  co_return frames::recorded(id, done->id.view(), done->atMs);
}

Result<Bytes> RequestHandler::listActions(const Session& session, std::uint64_t id) {
  auto rows = s_.actions.list(callerOf(session));
  if (!rows) return fail(rows.error());
  return frames::actions(id, *rows, protocol::MaxFrameBytes - FrameHeadroomBytes);
}

net::awaitable<Result<Bytes>> RequestHandler::cosign(std::shared_ptr<Session> session, std::uint64_t id,
                                                     wire::Cosignature::Reader req) {
  auto c = protocol::readCosignature(req);
  if (!c) co_return fail(ErrorCode::INVALID_REQUEST, c.error());
  auto atMs = co_await s_.witnesses.cosign(callerOf(*session), std::move(*c));
  if (!atMs) co_return fail(atMs.error());
  co_return frames::recorded(id, {}, *atMs);
}

Result<Bytes> RequestHandler::recordStatus(const Session& session, std::uint64_t id,
                                           wire::RecordStatusQuery::Reader req) {
  const auto recordId = crypto::BulletinId::fromBytes(view(req.getRecordId()));
  if (!recordId) return fail(ErrorCode::INVALID_REQUEST, "record ids are 16 bytes");
  auto row = s_.records.recordStatus(session.memberId(), *recordId);
  if (!row) return fail(row.error());
  return frames::recordStatus(id, *row);
}

Result<Bytes> RequestHandler::listMeetings(const Session& session, std::uint64_t id) {
  return frames::meetings(id, s_.records.meetings(session.memberId()));
}

Result<Bytes> RequestHandler::listProposals(const Session& session, std::uint64_t id) {
  std::int64_t nowMs = 0;
  auto rows = s_.consensus.listProposals(session.memberId(), nowMs);
  if (!rows) return fail(rows.error());
  return frames::proposals(id, *rows, nowMs, session.memberId());
}

}  // namespace focal::server

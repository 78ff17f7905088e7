// The request handler's dispatch and the requests about bulletins, the log
// and uploads: wire in, one service call, frame out (request_handler.hpp).
#include "server/request_handler.hpp"

#include "crypto/primitives.hpp"
#include "protocol/bulletin.hpp"
#include "protocol/limits.hpp"
#include "protocol/signing.hpp"
#include "server/admin_service.hpp"
#include "server/bulletin_service.hpp"
#include "server/frames.hpp"
#include "server/metrics.hpp"
#include "server/session.hpp"
#include "server/verify_pool.hpp"
#include "server/wire_fields.hpp"

#include <algorithm>
#include <limits>

namespace focal::server {

namespace {

using crypto::Bytes;
using protocol::view;
using wire::ErrorCode;

// What VerifyPool computes for a bulletin: the header verified under the
// key it names (protocol::verifyHeader), and whether the ciphertext is the
// one the signed header describes (contentSize, contentHash).
struct BulletinChecks {
  Expected<protocol::Parsed<wire::BulletinHeader>, protocol::OpenError> parsed;
  bool contentMatches = false;
};

BulletinChecks checkBulletin(crypto::ByteView header, const crypto::Signature& signature, crypto::ByteView ciphertext) {
  BulletinChecks c{protocol::verifyHeader(header, signature)};
  if (c.parsed) {
    const auto h = c.parsed->root();
    const auto expected = fixedField<crypto::Hash256>(h.getContentHash());  // length checked by verifyHeader
    c.contentMatches = h.getContentSize() == ciphertext.size() && expected && crypto::hash256(ciphertext) == *expected;
  }
  return c;
}

// The refusal for a header that did not verify or parse.
HubError headerRefusal(protocol::OpenError error, crypto::ByteView header) {
  switch (error) {
    case protocol::OpenError::UnsupportedVersion:
      return HubError{ErrorCode::UNSUPPORTED_VERSION, "unsupported bulletin version or cipher suite"};
    case protocol::OpenError::BadSignature:
      return HubError{ErrorCode::BAD_SIGNATURE, "the bulletin header's signature does not verify"};
    default: {
      // Over a count limit is tooLarge (PROTOCOL.md §14), anything else
      // malformed is invalidRequest.
      auto raw = protocol::decode<wire::BulletinHeader>(header);
      if (raw) {
        const auto h = raw->root();
        if (h.getRecipients().size() > protocol::MaxRecipients || h.getAddresses().size() > protocol::MaxAddresses ||
            h.getAttachments().size() > protocol::MaxAttachments) {
          return HubError{ErrorCode::TOO_LARGE, "too many recipients, addresses or attachments"};
        }
      }
      // Name the field (PROTOCOL.md §8.2, §8.6), e.g. an unset TLP, or
      // the text field that is not valid text (NUL, invalid UTF-8): the
      // sender learns which one, never a cut value.
      std::string defect = raw ? protocol::headerDefect(header)
                               : "the bulletin header is malformed: " + raw.error().message;
      return HubError{ErrorCode::INVALID_REQUEST, defect.empty() ? "the bulletin header is malformed" : defect};
    }
  }
}

}  // namespace

Caller callerOf(const Session& session) { return Caller{session.memberId(), session.identityKey(), session.remote()}; }

net::awaitable<Result<Bytes>> RequestHandler::handle(std::shared_ptr<Session> session,
                                                     const protocol::Parsed<wire::ClientFrame>& frame) {
  const auto f = frame.root();
  const std::uint64_t id = f.getId();
  switch (f.which()) {
    case wire::ClientFrame::SEND: {
      auto sent = co_await send(session, id, f.getSend());
      if (sent) {
        s_.metrics.bulletinsAccepted.add();
      } else {
        s_.metrics.bulletinRefused(static_cast<unsigned>(sent.error().code));
      }
      co_return sent;
    }
    case wire::ClientFrame::FETCH: co_return fetch(*session, id, f.getFetch());
    case wire::ClientFrame::ACK: co_return co_await ack(session, id, f.getAck());
    case wire::ClientFrame::STATUS: co_return status(*session, id, f.getStatus());
    case wire::ClientFrame::DIRECTORY: co_return frames::directory(id, s_.directory);
    case wire::ClientFrame::LOG: co_return log(id, f.getLog());
    case wire::ClientFrame::ADMIN: co_return co_await admin(session, id, f.getAdmin());
    case wire::ClientFrame::AUDIT: co_return audit(*session, id, f.getAudit());
    case wire::ClientFrame::BEGIN_UPLOAD: co_return co_await beginUpload(session, id, f.getBeginUpload());
    case wire::ClientFrame::UPLOAD_CHUNK: co_return co_await uploadChunk(session, id, f.getUploadChunk());
    case wire::ClientFrame::DOWNLOAD: co_return download(*session, id, f.getDownload());
    case wire::ClientFrame::SUBSCRIBE:
      session->subscribe();
      co_return frames::subscribed(id);
    case wire::ClientFrame::PING: co_return frames::pong(id);
    case wire::ClientFrame::AUTHENTICATE: co_return fail(ErrorCode::INVALID_REQUEST, "already authenticated");
    case wire::ClientFrame::FORWARD:
    case wire::ClientFrame::PERMIT:
    case wire::ClientFrame::RETRACT:
    case wire::ClientFrame::COMMENT:
    case wire::ClientFrame::PROPOSE:
    case wire::ClientFrame::DECIDE:
    case wire::ClientFrame::DECIDE_WITH_HEAD:
    case wire::ClientFrame::CREATE_MEETING: co_return co_await record(session, id, f);
    case wire::ClientFrame::RECORD_STATUS: co_return recordStatus(*session, id, f.getRecordStatus());
    case wire::ClientFrame::LIST_PROPOSALS: co_return listProposals(*session, id);
    case wire::ClientFrame::LIST_MEETINGS: co_return listMeetings(*session, id);
    case wire::ClientFrame::COSIGN: co_return co_await cosign(session, id, f.getCosign());
    case wire::ClientFrame::ADD_ACTION:
    case wire::ClientFrame::UPDATE_ACTION: co_return co_await action(session, id, f);
    case wire::ClientFrame::LIST_ACTIONS: co_return listActions(*session, id);
    case wire::ClientFrame::SUBSCRIBE_ACTIONS:
      session->subscribeActions();
      co_return frames::subscribed(id);
    default:
      // A request kind from a newer client.
      co_return fail(ErrorCode::INVALID_REQUEST, "this request is not supported by this hub");
  }
}

// ---- send ------------------------------------------------------------------------------

net::awaitable<Result<Bytes>> RequestHandler::send(std::shared_ptr<Session> session, std::uint64_t id,
                                                   wire::SendBulletin::Reader req) {
  const auto b = req.getBulletin();
  const auto header = view(b.getHeader());
  const auto ciphertext = view(b.getCiphertext());
  // SECURITY: sizes first, before hashing or parsing anything.
  if (header.size() > protocol::MaxHeaderBytes) co_return fail(ErrorCode::TOO_LARGE, "bulletin header too large");
  if (ciphertext.size() > protocol::MaxContentBytes) {
    co_return fail(ErrorCode::TOO_LARGE, "bulletin content over " + std::to_string(protocol::MaxContentBytes) +
                                             " bytes; use attachments");
  }
  const auto signature = fixedField<crypto::Signature>(b.getSignature());
  if (!signature) co_return fail(ErrorCode::BAD_SIGNATURE, "the signature must be 64 bytes");

  // The signature and the content hash are the CPU-heavy part (Ed25519,
  // BLAKE2b of up to MaxContentBytes): on a VerifyPool worker while other
  // requests are in flight, so the io thread serves them meanwhile and the
  // checks of concurrent bulletins use every core; inline when this is the
  // only request, where two thread switches would only add latency. The
  // results are acted upon below in the same order either way.
  auto checkJob = [header, sig = *signature, ciphertext] { return checkBulletin(header, sig, ciphertext); };
  // (No co_await inside a conditional expression: g++ 12 miscompiles the
  // temporaries of one.)
  std::optional<BulletinChecks> checks;
  if (s_.verifier.inlineOnly() || s_.requests.inFlight() <= 1) {
    checks.emplace(checkJob());
  } else {
    checks.emplace(co_await s_.verifier.run<BulletinChecks>(std::move(checkJob), net::use_awaitable));
  }
  auto& parsed = checks->parsed;
  if (!parsed) co_return fail(headerRefusal(parsed.error(), header));
  auto accepted = co_await s_.bulletins.accept(callerOf(*session), parsed->root(),
                                               BulletinService::Submitted{header, *signature, ciphertext,
                                                                          checks->contentMatches});
  if (!accepted) co_return fail(accepted.error());
  co_return frames::accepted(id, accepted->id, accepted->atMs, accepted->already);
}

// ---- fetch / ack / status -----------------------------------------------------------------

Result<Bytes> RequestHandler::fetch(const Session& session, std::uint64_t id, wire::Fetch::Reader req) {
  std::uint32_t limit = req.getLimit();
  if (limit == 0 || limit > protocol::MaxFetchPage) limit = protocol::MaxFetchPage;
  const std::uint64_t after = std::min<std::uint64_t>(req.getAfterSeq(), std::numeric_limits<std::int64_t>::max());
  auto page = s_.bulletins.fetch(session.memberId(), static_cast<std::int64_t>(after), limit,
                                 protocol::MaxFrameBytes - FrameHeadroomBytes);
  return frames::deliveries(id, page);
}

net::awaitable<Result<Bytes>> RequestHandler::ack(std::shared_ptr<Session> session, std::uint64_t id,
                                                  wire::Ack::Reader req) {
  const auto body = view(req.getBody());
  if (body.size() > protocol::MaxAckBodyBytes) co_return fail(ErrorCode::TOO_LARGE, "ack too large");
  const auto signature = fixedField<crypto::Signature>(req.getSignature());
  if (!signature) co_return fail(ErrorCode::BAD_SIGNATURE, "the signature must be 64 bytes");
  // SECURITY: verify the exact bytes before parsing them.
  if (!crypto::verify(protocol::context::Ack, body, *signature, session->identityKey())) {
    co_return fail(ErrorCode::BAD_SIGNATURE, "the ack's signature does not verify under your identity key");
  }
  auto parsed = protocol::decode<wire::AckBody>(body);
  if (!parsed) co_return fail(ErrorCode::INVALID_REQUEST, "the ack body does not parse: " + parsed.error().message);
  const auto a = parsed->root();
  if (view(a.getMemberId()) != session->memberId()) {
    co_return fail(ErrorCode::FORBIDDEN, "an ack may only acknowledge your own deliveries");
  }
  const auto list = a.getBulletinIds();
  if (list.size() == 0) co_return fail(ErrorCode::INVALID_REQUEST, "an ack names at least one bulletin");
  if (list.size() > protocol::MaxAckBatch) {
    co_return fail(ErrorCode::TOO_LARGE, "at most " + std::to_string(protocol::MaxAckBatch) + " ids per ack");
  }
  std::vector<crypto::BulletinId> ids;
  ids.reserve(list.size());
  for (auto d : list) {
    auto bid = fixedField<crypto::BulletinId>(d);
    if (!bid) co_return fail(ErrorCode::INVALID_REQUEST, "bulletin ids are 16 bytes");
    ids.push_back(*bid);
  }
  // The sealed heads (gossip, PROTOCOL.md §11.4): none, or one per id, each
  // opaque to the hub (sealed to the bulletin's sender) and bounded.
  const auto sealed = a.getSealedHeads();
  if (sealed.size() != 0 && sealed.size() != list.size()) {
    co_return fail(ErrorCode::INVALID_REQUEST, "an ack carries no sealed head or one per bulletin id");
  }
  if (sealed.size() > protocol::MaxAckBatchWithHeads) {
    co_return fail(ErrorCode::TOO_LARGE, "at most " + std::to_string(protocol::MaxAckBatchWithHeads) +
                                             " ids per ack that carries sealed heads");
  }
  std::vector<crypto::Bytes> heads;
  heads.reserve(sealed.size());
  for (auto h : sealed) {
    const auto bytes = view(h);
    if (bytes.empty() || bytes.size() > protocol::MaxSealedHeadBytes) {
      co_return fail(ErrorCode::INVALID_REQUEST, "a sealed head is 1.." + std::to_string(protocol::MaxSealedHeadBytes) +
                                                     " bytes");
    }
    heads.emplace_back(bytes.begin(), bytes.end());
  }
  auto removed =
      co_await s_.bulletins.ack(session->memberId(), std::move(ids), std::move(heads), body, *signature);
  if (!removed) co_return fail(removed.error());
  s_.metrics.acks.add(*removed);
  co_return frames::acked(id, *removed);
}

Result<Bytes> RequestHandler::status(const Session& session, std::uint64_t id, wire::StatusQuery::Reader req) {
  const auto bid = fixedField<crypto::BulletinId>(req.getBulletinId());
  if (!bid) return fail(ErrorCode::INVALID_REQUEST, "bulletin ids are 16 bytes");
  auto st = s_.bulletins.status(session.memberId(), *bid);
  if (!st) return fail(st.error());
  return frames::status(id, *bid, *st);
}

// ---- directory log -----------------------------------------------------------------------

Result<Bytes> RequestHandler::log(std::uint64_t id, wire::LogQuery::Reader req) {
  std::uint32_t limit = req.getLimit();
  if (limit == 0 || limit > protocol::MaxLogPage) limit = protocol::MaxLogPage;
  const auto page = s_.admin.logPage(req.getFrom(), limit, protocol::MaxFrameBytes - FrameHeadroomBytes);
  return frames::logPage(id, page.entries, page.head);
}

net::awaitable<Result<Bytes>> RequestHandler::admin(std::shared_ptr<Session> session, std::uint64_t id,
                                                    wire::AdminRequest::Reader req) {
  const auto event = view(req.getEvent());
  if (event.size() > MaxAdminEventBytes) co_return fail(ErrorCode::TOO_LARGE, "log event too large");
  const auto signature = fixedField<crypto::Signature>(req.getSignature());
  if (!signature) co_return fail(ErrorCode::BAD_SIGNATURE, "the signature must be 64 bytes");
  auto appended = co_await s_.admin.append(callerOf(*session), Bytes(event.begin(), event.end()), *signature);
  if (!appended) co_return fail(appended.error());
  auto reply = frames::adminResult(id, appended->index, appended->head);
  if (appended->endsCallerSession) {
    // The change ends the requester's own session (it replaced or revoked
    // its own identity key): answer before the closing frame, so the client
    // learns the index of its entry. The copy Session::serve sends after the
    // close is dropped.
    session->send(reply);
  }
  s_.admin.enforce(appended->changed);
  co_return reply;
}

Result<Bytes> RequestHandler::audit(const Session& session, std::uint64_t id, wire::AuditQuery::Reader req) {
  std::uint32_t limit = req.getLimit();
  if (limit == 0 || limit > protocol::MaxLogPage) limit = protocol::MaxLogPage;
  const std::uint64_t from = std::min<std::uint64_t>(req.getFrom(), std::numeric_limits<std::int64_t>::max());
  const auto rows = s_.admin.auditPage(session.memberId(), from, limit, protocol::MaxFrameBytes - FrameHeadroomBytes);
  if (!rows) return fail(rows.error());
  return frames::auditPage(id, rows.value());
}

// ---- uploads and downloads --------------------------------------------------------------------

net::awaitable<Result<Bytes>> RequestHandler::beginUpload(std::shared_ptr<Session> session, std::uint64_t id,
                                                          wire::BeginUpload::Reader req) {
  const std::uint64_t size = req.getSize();
  if (auto ok = s_.bulletins.checkUploadSize(size); !ok) co_return fail(ok.error());
  const auto hash = fixedField<crypto::Hash256>(req.getBlobHash());
  if (!hash) co_return fail(ErrorCode::INVALID_REQUEST, "blob hashes are 32 bytes");
  auto position = co_await s_.bulletins.beginUpload(session->memberId(), *hash, size);
  if (!position) co_return fail(position.error());
  co_return frames::uploadReady(id, position->id, position->offset);
}

net::awaitable<Result<Bytes>> RequestHandler::uploadChunk(std::shared_ptr<Session> session, std::uint64_t id,
                                                          wire::UploadChunk::Reader req) {
  const std::uint64_t uploadId = req.getUploadId();
  const auto data = view(req.getData());
  if (data.empty()) co_return fail(ErrorCode::INVALID_REQUEST, "empty chunk");
  if (data.size() > protocol::MaxChunkBytes) {
    co_return fail(ErrorCode::TOO_LARGE, "chunks are limited to " + std::to_string(protocol::MaxChunkBytes) + " bytes");
  }
  auto result = co_await s_.bulletins.uploadChunk(session->memberId(), uploadId, req.getOffset(), data);
  if (!result) co_return fail(result.error());
  co_return frames::uploadProgress(id, uploadId, result->received, result->complete);
}

Result<Bytes> RequestHandler::download(const Session& session, std::uint64_t id, wire::Download::Reader req) {
  const auto bid = fixedField<crypto::BulletinId>(req.getBulletinId());
  const auto hash = fixedField<crypto::Hash256>(req.getBlobHash());
  if (!bid || !hash) return fail(ErrorCode::INVALID_REQUEST, "bulletin ids are 16 bytes and blob hashes 32");
  std::uint32_t length = req.getLength();
  if (length == 0 || length > protocol::MaxChunkBytes) length = static_cast<std::uint32_t>(protocol::MaxChunkBytes);
  auto slice = s_.bulletins.download(session.memberId(), *bid, *hash, req.getOffset(), length);
  if (!slice) return fail(slice.error());
  return frames::blobChunk(id, *hash, *slice);
}

}  // namespace focal::server

#include "server/request_handler.hpp"

#include "crypto/primitives.hpp"
#include "protocol/bulletin.hpp"
#include "protocol/blob_layout.hpp"
#include "protocol/limits.hpp"
#include "protocol/names.hpp"
#include "protocol/signing.hpp"
#include "server/frames.hpp"
#include "server/hub.hpp"
#include "server/identifiers.hpp"
#include "server/policy.hpp"
#include "server/session.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

namespace focal::server {

namespace {

using crypto::Bytes;
using protocol::view;
using wire::ErrorCode;

template <class F>
std::optional<F> fixedField(capnp::Data::Reader d) {
  return F::fromBytes(view(d));
}

const char* eventName(wire::LogEvent::Which w) { return protocol::logEventName(w); }

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

// Clears the "rebuilding" mark of an upload on every path out of scope.
struct RebuildMark {
  std::unordered_set<std::uint64_t>& set;
  std::uint64_t id;
  ~RebuildMark() { set.erase(id); }
};

}  // namespace

net::awaitable<Result<Bytes>> RequestHandler::handle(std::shared_ptr<Session> session,
                                                     const protocol::Parsed<wire::ClientFrame>& frame) {
  const auto f = frame.root();
  const std::uint64_t id = f.getId();
  switch (f.which()) {
    case wire::ClientFrame::SEND: co_return co_await send(session, id, f.getSend());
    case wire::ClientFrame::FETCH: co_return fetch(*session, id, f.getFetch());
    case wire::ClientFrame::ACK: co_return co_await ack(session, id, f.getAck());
    case wire::ClientFrame::STATUS: co_return status(*session, id, f.getStatus());
    case wire::ClientFrame::DIRECTORY: co_return frames::directory(id, hub_.directory());
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
    case wire::ClientFrame::FORWARD: co_return co_await forward(session, id, f.getForward());
    case wire::ClientFrame::PERMIT: co_return co_await permit(session, id, f.getPermit());
    case wire::ClientFrame::RETRACT: co_return co_await retract(session, id, f.getRetract());
    case wire::ClientFrame::COMMENT: co_return co_await comment(session, id, f.getComment());
    case wire::ClientFrame::RECORD_STATUS: co_return recordStatus(*session, id, f.getRecordStatus());
    case wire::ClientFrame::PROPOSE: co_return co_await propose(session, id, f.getPropose());
    case wire::ClientFrame::DECIDE: co_return co_await decide(session, id, f.getDecide());
    case wire::ClientFrame::LIST_PROPOSALS: co_return listProposals(*session, id);
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
  if (hub_.verifier().inlineOnly() || hub_.requestsInFlight() <= 1) {
    checks.emplace(checkJob());
  } else {
    checks.emplace(co_await hub_.verifier().run<BulletinChecks>(std::move(checkJob), net::use_awaitable));
  }
  auto& parsed = checks->parsed;
  if (!parsed) {
    switch (parsed.error()) {
      case protocol::OpenError::UnsupportedVersion:
        co_return fail(ErrorCode::UNSUPPORTED_VERSION, "unsupported bulletin version or cipher suite");
      case protocol::OpenError::BadSignature:
        co_return fail(ErrorCode::BAD_SIGNATURE, "the bulletin header's signature does not verify");
      default: {
        // Over a count limit is tooLarge (PROTOCOL.md §14), anything else
        // malformed is invalidRequest.
        auto raw = protocol::decode<wire::BulletinHeader>(header);
        if (raw) {
          const auto h = raw->root();
          if (h.getRecipients().size() > protocol::MaxRecipients || h.getAddresses().size() > protocol::MaxAddresses ||
              h.getAttachments().size() > protocol::MaxAttachments) {
            co_return fail(ErrorCode::TOO_LARGE, "too many recipients, addresses or attachments");
          }
        }
        // Name the field (PROTOCOL.md §8.2, §8.6), e.g. an unset TLP, or
        // the text field that is not valid text (NUL, invalid UTF-8): the
        // sender learns which one, never a cut value.
        std::string defect = raw ? protocol::headerDefect(header)
                                 : "the bulletin header is malformed: " + raw.error().message;
        co_return fail(ErrorCode::INVALID_REQUEST, defect.empty() ? "the bulletin header is malformed" : defect);
      }
    }
  }
  const auto h = parsed->root();
  const Directory& dir = hub_.directory();

  // The sender is the session, never what the header claims.
  if (view(h.getSenderId()) != session->memberId() ||
      !(fixedField<crypto::SigningPublicKey>(h.getSenderKey()) == std::optional(session->identityKey()))) {
    co_return fail(ErrorCode::FORBIDDEN, "sender does not match the authenticated session");
  }
  const MemberRecord* sender = dir.find(session->memberId());
  if (sender == nullptr || !sender->active() || !(sender->identityKey == session->identityKey())) {
    co_return fail(ErrorCode::REVOKED_KEY, "your membership or key is revoked");
  }
  // A resend of a bulletin this hub already accepted, with the same bytes,
  // is an idempotent success whatever has changed since: the clock moved on
  // (a client retrying after a lost reply, hours later), a recipient rotated
  // or was revoked, the directory changed what an address resolves to. So a
  // refusal from here on is first checked against what is stored. Only the
  // sender's own session gets here (checked above), so this tells nobody
  // else anything.
  const auto bulletinId = *fixedField<crypto::BulletinId>(h.getBulletinId());  // length checked by verifyHeader
  auto refuse = [&](HubError e) -> Result<Bytes> {
    if (auto at = hub_.store().acceptedWithSameBytes(bulletinId, header, *signature, ciphertext)) {
      return frames::accepted(id, bulletinId, *at, true);
    }
    return fail(std::move(e));
  };
  const std::int64_t now = hub_.clock().nowMs();
  const std::int64_t skew = h.getCreatedAtMs() - now;
  if (skew > protocol::MaxClockSkewMs || skew < -protocol::MaxClockSkewMs) {
    co_return refuse(HubError{ErrorCode::STALE_TIMESTAMP, "createdAtMs is more than " +
                                                   std::to_string(protocol::MaxClockSkewMs / 60000) +
                                                   " minutes from the hub's clock"});
  }
  if (!checks->contentMatches) {
    co_return refuse(HubError{ErrorCode::INVALID_REQUEST, "the ciphertext does not match the header's contentHash/contentSize"});
  }

  // Policy (server/policy.hpp): markings, then who it may reach.
  if (h.getTlp() == wire::Tlp::UNSET) co_return refuse(HubError{ErrorCode::INVALID_REQUEST, "the bulletin has no TLP label"});
  if (auto ok = checkMarkings(h); !ok) co_return refuse(ok.error());

  auto bulletin = std::make_shared<NewBulletin>();
  // Summary records (PROTOCOL.md §12.4): the secretariat circulates them,
  // with a comment deadline in the future; a revision replaces an open one.
  const bool isRecord = h.getKind() == wire::BulletinKind::SUMMARY_RECORD;
  if (!isRecord && h.getKind() != wire::BulletinKind::BULLETIN) {
    co_return refuse(HubError{ErrorCode::INVALID_REQUEST, "unknown bulletin kind"});
  }
  if (!isRecord && (h.getCommentDeadlineMs() != 0 || h.getRevises().size() != 0)) {
    co_return refuse(HubError{ErrorCode::INVALID_REQUEST, "only a summary record carries a comment deadline or revises"});
  }
  if (isRecord) {
    if (!sender->isSecretariat) {
      co_return refuse(HubError{ErrorCode::FORBIDDEN, "summary record rule: only the secretariat circulates summary records; " +
                                               sender->id + " is not secretariat"});
    }
    const std::int64_t deadline = h.getCommentDeadlineMs();
    if (deadline <= now) co_return refuse(HubError{ErrorCode::INVALID_REQUEST, "the comment deadline is not in the future"});
    if (deadline - now > MaxCommentWindowMs) {
      co_return refuse(HubError{ErrorCode::INVALID_REQUEST, "the comment window is longer than 366 days"});
    }
    NewBulletin::SummaryRecord sr;
    sr.deadlineMs = deadline;
    if (h.getRevises().size() != 0) {
      const auto revised = fixedField<crypto::BulletinId>(h.getRevises());  // 16 bytes: checked by verifyHeader
      auto old = hub_.store().summaryRecord(*revised);
      if (!old) co_return refuse(HubError{ErrorCode::NOT_FOUND, "no summary record " + crypto::toHex(*revised) + " to revise"});
      if (old->state != wire::RecordState::PENDING && old->state != wire::RecordState::OBJECTED) {
        co_return refuse(HubError{ErrorCode::POLICY_DENIED, "summary record rule: only a pending or objected record can be "
                                                 "revised; " + crypto::toHex(*revised) + " is closed"});
      }
      sr.revises = *revised;
    }
    bulletin->summaryRecord = sr;
  }
  bulletin->id = bulletinId;
  for (auto r : h.getRecipients()) {
    const auto memberId = view(r.getMemberId());
    const MemberRecord* m = dir.find(memberId);
    if (m == nullptr) co_return refuse(HubError{ErrorCode::UNKNOWN_RECIPIENT, "unknown recipient " + std::string(memberId)});
    if (!m->active()) co_return refuse(HubError{ErrorCode::REVOKED_KEY, "recipient " + m->id + " is revoked"});
    const auto key = fixedField<crypto::BoxPublicKey>(r.getEncryptionKey());
    if (!key || !(*key == m->encryptionKey)) co_return refuse(HubError{ErrorCode::POLICY_DENIED, "stale key for " + m->id});
    bulletin->recipients.push_back(NewBulletin::Recipient{m->id, *key});
  }
  if (auto ok = checkDistribution(dir, session->memberId(), h); !ok) co_return refuse(ok.error());
  for (auto a : h.getAttachments()) {
    if (a.getSize() == 0 || a.getSize() > hub_.limits().maxAttachmentBytes) {
      co_return refuse(HubError{ErrorCode::TOO_LARGE, "attachment size out of range"});
    }
    bulletin->attachments.push_back(NewBulletin::Attachment{*fixedField<crypto::Hash256>(a.getBlobHash()), a.getSize()});
  }
  bulletin->senderId = session->memberId();
  bulletin->senderKey = session->identityKey();
  bulletin->header.assign(header.begin(), header.end());
  bulletin->signature = *signature;
  bulletin->ciphertext.assign(ciphertext.begin(), ciphertext.end());
  bulletin->createdAtMs = h.getCreatedAtMs();
  bulletin->acceptedAtMs = now;
  bulletin->tlp = static_cast<int>(h.getTlp());
  bulletin->kind = static_cast<int>(h.getKind());

  auto job = [bulletin](sqlite::Database& db) { return Store::insertBulletin(db, *bulletin); };
  auto outcome = co_await hub_.commits().submit<SendOutcome>(std::move(job), net::use_awaitable);
  if (!outcome) co_return fail(outcome.error());
  if (!outcome->alreadyAccepted) {
    // debug, not info: one synchronous log write per bulletin on the io
    // thread costs every session latency when the log's disk is slow; the
    // acceptance itself is in the database, where `status` reads it.
    spdlog::debug("bulletin {} accepted from {}: {} recipients, {} bytes", crypto::toHex(bulletin->id),
                 bulletin->senderId, bulletin->recipients.size(), bulletin->header.size() + bulletin->ciphertext.size());
    hub_.pushDeliveries(outcome->queued, now, bulletin->header, bulletin->signature.view(), bulletin->ciphertext);
  }
  co_return frames::accepted(id, bulletin->id, outcome->acceptedAtMs, outcome->alreadyAccepted);
}

// ---- fetch / ack / status -----------------------------------------------------------------

Result<Bytes> RequestHandler::fetch(const Session& session, std::uint64_t id, wire::Fetch::Reader req) {
  std::uint32_t limit = req.getLimit();
  if (limit == 0 || limit > protocol::MaxFetchPage) limit = protocol::MaxFetchPage;
  const std::uint64_t after = std::min<std::uint64_t>(req.getAfterSeq(), std::numeric_limits<std::int64_t>::max());
  auto page = hub_.store().fetch(session.memberId(), static_cast<std::int64_t>(after), limit,
                                 protocol::MaxFrameBytes - FrameHeadroomBytes);
  std::vector<std::int64_t> seqs;
  seqs.reserve(page.items.size());
  for (const auto& item : page.items) seqs.push_back(item.seq);
  if (!seqs.empty()) hub_.markDelivered(seqs);
  return frames::deliveries(id, page);
}

net::awaitable<Result<Bytes>> RequestHandler::ack(std::shared_ptr<Session> session, std::uint64_t id,
                                                  wire::Ack::Reader req) {
  const auto body = view(req.getBody());
  if (body.size() > MaxAckBodyBytes) co_return fail(ErrorCode::TOO_LARGE, "ack too large");
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
  const std::int64_t now = hub_.clock().nowMs();
  // The signed ack is kept as proof of receipt when it removed something
  // (a replayed ack removes nothing and costs no storage).
  auto job = [ids = std::move(ids), member = session->memberId(), now, bodyBytes = Bytes(body.begin(), body.end()),
              sig = *signature](sqlite::Database& db) -> Result<std::uint32_t> {
    const std::uint32_t removed = Store::acknowledge(db, member, ids, now);
    if (removed > 0) Store::recordAck(db, member, bodyBytes, sig, now);
    return removed;
  };
  // Essential: deletes queue rows and keeps one small proof row, so it is
  // still served on a full disk from the space reserve (CommitQueue).
  auto removed =
      co_await hub_.commits().submit<std::uint32_t>(std::move(job), net::use_awaitable, CommitQueue::WriteClass::Essential);
  if (!removed) co_return fail(removed.error());
  co_return frames::acked(id, *removed);
}

Result<Bytes> RequestHandler::status(const Session& session, std::uint64_t id, wire::StatusQuery::Reader req) {
  const auto bid = fixedField<crypto::BulletinId>(req.getBulletinId());
  if (!bid) return fail(ErrorCode::INVALID_REQUEST, "bulletin ids are 16 bytes");
  auto st = hub_.store().status(*bid);
  const MemberRecord* me = hub_.directory().find(session.memberId());
  const bool admin = me != nullptr && me->isAdmin;
  // The same answer for "no such bulletin" and "not yours to ask about".
  if (!st || (st->senderId != session.memberId() && !admin)) return fail(ErrorCode::NOT_FOUND, "no such bulletin of yours");
  // What the hub did, not only what it committed: delivered marks still
  // waiting for the writer count (PROTOCOL.md §10).
  hub_.mergeUncommittedMarks(*st);
  for (auto& r : st->recipients) {
    // Acknowledged implies delivered: an entry acked without a recorded
    // delivery (the member had the bulletin by other means, or its mark was
    // dropped) reports the ack time, the latest it can have arrived.
    if (r.ackedAtMs != 0 && r.deliveredAtMs == 0) r.deliveredAtMs = r.ackedAtMs;
  }
  return frames::status(id, *bid, *st);
}

// ---- directory log -----------------------------------------------------------------------

Result<Bytes> RequestHandler::log(std::uint64_t id, wire::LogQuery::Reader req) {
  const Directory& dir = hub_.directory();
  std::uint32_t limit = req.getLimit();
  if (limit == 0 || limit > protocol::MaxLogPage) limit = protocol::MaxLogPage;
  const std::uint64_t from = req.getFrom();
  std::vector<StoredLogEntry> entries;
  // Only entries covered by the head we return (an entry committed but not
  // yet applied is left for the next query).
  if (from < dir.size()) {
    limit = static_cast<std::uint32_t>(std::min<std::uint64_t>(limit, dir.size() - from));
    entries = hub_.store().logEntries(from, limit, protocol::MaxFrameBytes - FrameHeadroomBytes);
  }
  return frames::logPage(id, entries, dir.head());
}

net::awaitable<Result<Bytes>> RequestHandler::admin(std::shared_ptr<Session> session, std::uint64_t id,
                                                    wire::AdminRequest::Reader req) {
  const auto event = view(req.getEvent());
  if (event.size() > MaxAdminEventBytes) co_return fail(ErrorCode::TOO_LARGE, "log event too large");
  const auto signature = fixedField<crypto::Signature>(req.getSignature());
  if (!signature) co_return fail(ErrorCode::BAD_SIGNATURE, "the signature must be 64 bytes");

  // One admin change at a time: each is checked against the directory as it
  // will stand when its entry is appended.
  auto guard = co_await hub_.adminMutex().lock();
  if (!guard) co_return fail(ErrorCode::UNAVAILABLE, "too many admin requests waiting", 1000);

  Directory& dir = hub_.directory();
  const std::int64_t now = hub_.clock().nowMs();
  if (auto ok = dir.check(event, *signature, session->memberId(), session->identityKey(), now); !ok) {
    hub_.audit("admin.refused", session->memberId(), session->remote(), ok.error().message);
    co_return fail(ok.error());
  }
  // A new member's state: an ISO 3166-1 code of this working group (the
  // log's own rule is only "two upper-case letters").
  if (auto parsed = protocol::decode<wire::LogEvent>(event);
      parsed && parsed->root().which() == wire::LogEvent::REGISTER) {
    if (auto ok = hub_.checkNewMemberState(view(parsed->root().getRegister().getMember().getState())); !ok) {
      hub_.audit("admin.refused", session->memberId(), session->remote(), ok.error().message);
      co_return fail(ok.error());
    }
  }
  auto entry = std::make_shared<const StoredLogEntry>(
      dir.prepare(Bytes(event.begin(), event.end()), *signature, session->memberId(), session->identityKey(), now));
  auto head = std::make_shared<const StoredHead>(hub_.signHead(entry->index + 1, entry->entryHash, now));
  auto job = [entry, head](sqlite::Database& db) { return Store::appendLogEntry(db, *entry, *head); };
  auto result = co_await hub_.commits().submit<Ok>(std::move(job), net::use_awaitable);
  if (!result) co_return fail(result.error());

  std::string changed;
  try {
    changed = dir.apply(*entry);
  } catch (const std::exception& e) {
    // The entry is committed but the directory could not take it: our bug.
    // Serving on with a directory that disagrees with the log would enforce
    // the wrong keys, so the hub stops; a restart replays the log.
    spdlog::critical("log entry {} committed but not applied ({}); stopping the hub", entry->index, e.what());
    hub_.stop();
    co_return fail(ErrorCode::INTERNAL, "internal error");
  }
  dir.setHead(*head);
  auto parsedEvent = protocol::decode<wire::LogEvent>(entry->event);
  spdlog::info("log entry {} appended by {}: {} {}", entry->index, session->memberId(),
               parsedEvent ? eventName(parsedEvent->root().which()) : "?", changed);
  hub_.audit(std::string("admin.") + (parsedEvent ? eventName(parsedEvent->root().which()) : "?"),
             session->memberId(), session->remote(), "log entry " + std::to_string(entry->index) + ": " + changed);
  auto reply = frames::adminResult(id, entry->index, *head);
  const MemberRecord* self = dir.find(session->memberId());
  if (self == nullptr || !self->active() || !(self->identityKey == session->identityKey())) {
    // The change ends the requester's own session (it replaced or revoked
    // its own identity key): answer before the closing frame, so the client
    // learns the index of its entry. The copy Session::serve sends after the
    // close is dropped.
    session->send(reply);
  }
  hub_.enforceDirectory(changed);
  co_return reply;
}

Result<Bytes> RequestHandler::audit(const Session& session, std::uint64_t id, wire::AuditQuery::Reader req) {
  const MemberRecord* me = hub_.directory().find(session.memberId());
  if (me == nullptr || !me->isAdmin || !me->active()) return fail(ErrorCode::FORBIDDEN, "only admins may read the audit trail");
  std::uint32_t limit = req.getLimit();
  if (limit == 0 || limit > protocol::MaxLogPage) limit = protocol::MaxLogPage;
  const std::uint64_t from = std::min<std::uint64_t>(req.getFrom(), std::numeric_limits<std::int64_t>::max());
  const auto rows = hub_.store().auditEntries(from, limit, protocol::MaxFrameBytes - FrameHeadroomBytes);
  return frames::auditPage(id, rows);
}

// ---- uploads and downloads --------------------------------------------------------------------

net::awaitable<Result<Bytes>> RequestHandler::beginUpload(std::shared_ptr<Session> session, std::uint64_t id,
                                                          wire::BeginUpload::Reader req) {
  const std::uint64_t size = req.getSize();
  if (size == 0) co_return fail(ErrorCode::INVALID_REQUEST, "an upload must not be empty");
  if (size > hub_.limits().maxAttachmentBytes) {
    co_return fail(ErrorCode::TOO_LARGE, "attachments are limited to " +
                                             std::to_string(hub_.limits().maxAttachmentBytes) + " bytes");
  }
  if (!protocol::isAttachmentBlobSize(size)) {
    co_return fail(ErrorCode::INVALID_REQUEST,
                   "no attachment stream is " + std::to_string(size) +
                       " bytes: 24 + 262161 per full chunk + a final chunk of 17..262160 (PROTOCOL.md 9.1)");
  }
  const auto hash = fixedField<crypto::Hash256>(req.getBlobHash());
  if (!hash) co_return fail(ErrorCode::INVALID_REQUEST, "blob hashes are 32 bytes");

  const std::int64_t now = hub_.clock().nowMs();
  const std::uint32_t maxOpen = hub_.limits().maxOpenUploadsPerMember;
  auto job = [member = session->memberId(), h = *hash, size, now, maxOpen](sqlite::Database& db) {
    return Store::beginUpload(db, member, h, size, now, maxOpen);
  };
  auto row = co_await hub_.commits().submit<UploadRow>(std::move(job), net::use_awaitable);
  if (!row) co_return fail(row.error());
  if (row->complete) co_return frames::uploadReady(id, row->id, row->size);

  UploadTracker& uploads = hub_.uploads();
  const UploadTracker::State* known = uploads.find(row->id);
  if (known == nullptr || known->next != row->received) {
    // Resuming after a restart, an eviction or a failed chunk: recompute the
    // hash of what is stored, one chunk at a time, yielding between chunks
    // so other sessions are served meanwhile.
    if (rebuilding_.contains(row->id)) co_return fail(ErrorCode::UNAVAILABLE, "the upload is being resumed", 500);
    rebuilding_.insert(row->id);
    RebuildMark mark{rebuilding_, row->id};
    uploads.erase(row->id);
    crypto::Hasher hasher;
    std::uint64_t offset = 0;
    auto ex = co_await net::this_coro::executor;
    while (offset < row->received) {
      auto chunk = hub_.store().chunkAt(row->id, offset);
      if (!chunk || chunk->empty()) {
        spdlog::error("upload {}: stored chunks have a gap at {}", row->id, offset);
        co_return fail(ErrorCode::INTERNAL, "internal error");
      }
      hasher.update(*chunk);
      offset += chunk->size();
      co_await net::post(ex, net::use_awaitable);
    }
    if (offset != row->received) co_return fail(ErrorCode::INTERNAL, "internal error");
    uploads.put(row->id, UploadTracker::State{row->ownerId, row->blobHash, row->size, row->received, hasher});
  }
  co_return frames::uploadReady(id, row->id, row->received);
}

net::awaitable<Result<Bytes>> RequestHandler::uploadChunk(std::shared_ptr<Session> session, std::uint64_t id,
                                                          wire::UploadChunk::Reader req) {
  const std::uint64_t uploadId = req.getUploadId();
  const std::uint64_t offset = req.getOffset();
  const auto data = view(req.getData());
  if (data.empty()) co_return fail(ErrorCode::INVALID_REQUEST, "empty chunk");
  if (data.size() > protocol::MaxChunkBytes) {
    co_return fail(ErrorCode::TOO_LARGE, "chunks are limited to " + std::to_string(protocol::MaxChunkBytes) + " bytes");
  }
  UploadTracker& uploads = hub_.uploads();
  UploadTracker::State* st = uploads.find(uploadId);
  if (st == nullptr || st->ownerId != session->memberId()) {
    co_return fail(ErrorCode::NOT_FOUND, "no upload " + std::to_string(uploadId) +
                                             " in progress; send beginUpload to resume");
  }
  if (offset != st->next) {
    co_return fail(ErrorCode::INVALID_REQUEST, "chunk offset " + std::to_string(offset) +
                                                   " does not continue the upload at " + std::to_string(st->next));
  }
  if (data.size() > st->size - st->next) co_return fail(ErrorCode::INVALID_REQUEST, "chunk runs past the blob size");
  st->hasher.update(data);
  st->next += data.size();
  bool hashMatches = false;
  if (st->next == st->size) {
    crypto::Hasher copy = st->hasher;
    hashMatches = copy.finish() == st->blobHash;
  }
  // `st` is not used after this point: the tracker may change while we wait.
  auto job = [uploadId, member = session->memberId(), offset, bytes = Bytes(data.begin(), data.end()), hashMatches](
                 sqlite::Database& db) { return Store::appendChunk(db, uploadId, member, offset, bytes, hashMatches); };
  auto result = co_await hub_.commits().submit<ChunkOutcome>(std::move(job), net::use_awaitable);
  if (!result) {
    uploads.erase(uploadId);
    co_return fail(result.error());
  }
  if (result->rejected) {
    uploads.erase(uploadId);
    spdlog::info("upload {} of {} rejected: hash mismatch", uploadId, session->memberId());
    co_return fail(ErrorCode::INVALID_REQUEST, "the uploaded blob does not match its hash; the upload was deleted");
  }
  if (result->complete) {
    uploads.erase(uploadId);
    spdlog::info("upload {} of {} complete", uploadId, session->memberId());
  }
  co_return frames::uploadProgress(id, uploadId, result->received, result->complete);
}

Result<Bytes> RequestHandler::download(const Session& session, std::uint64_t id, wire::Download::Reader req) {
  const auto bid = fixedField<crypto::BulletinId>(req.getBulletinId());
  const auto hash = fixedField<crypto::Hash256>(req.getBlobHash());
  if (!bid || !hash) return fail(ErrorCode::INVALID_REQUEST, "bulletin ids are 16 bytes and blob hashes 32");
  std::uint32_t length = req.getLength();
  if (length == 0 || length > protocol::MaxChunkBytes) length = static_cast<std::uint32_t>(protocol::MaxChunkBytes);
  auto slice = hub_.store().download(session.memberId(), *bid, *hash, req.getOffset(), length);
  if (!slice) return fail(slice.error());
  return frames::blobChunk(id, *hash, *slice);
}

}  // namespace focal::server

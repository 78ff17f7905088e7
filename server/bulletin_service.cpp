#include "server/bulletin_service.hpp"

#include "crypto/primitives.hpp"
#include "protocol/blob_layout.hpp"
#include "protocol/limits.hpp"
#include "protocol/meeting.hpp"
#include "protocol/message.hpp"
#include "server/config.hpp"
#include "server/policy.hpp"
#include "server/wire_fields.hpp"

#include <spdlog/spdlog.h>

namespace focal::server {

namespace {

using crypto::Bytes;
using protocol::view;
using wire::ErrorCode;

// Clears the "rebuilding" mark of an upload on every path out of scope.
struct RebuildMark {
  std::unordered_set<std::uint64_t>& set;
  std::uint64_t id;
  ~RebuildMark() { set.erase(id); }
};

}  // namespace

// ---- send ------------------------------------------------------------------------------

Result<const MemberRecord*> BulletinService::checkSender(const Caller& caller, wire::BulletinHeader::Reader h) const {
  // The sender is the session, never what the header claims.
  if (view(h.getSenderId()) != caller.memberId ||
      !(fixedField<crypto::SigningPublicKey>(h.getSenderKey()) == std::optional(caller.identityKey))) {
    return fail(ErrorCode::FORBIDDEN, "sender does not match the authenticated session");
  }
  const MemberRecord* sender = directory_.find(caller.memberId);
  if (sender == nullptr || !sender->active() || !(sender->identityKey == caller.identityKey)) {
    return fail(ErrorCode::REVOKED_KEY, "your membership or key is revoked");
  }
  return sender;
}

net::awaitable<Result<BulletinService::Accepted>> BulletinService::accept(Caller caller, wire::BulletinHeader::Reader h,
                                                                          Submitted b) {
  auto sender = checkSender(caller, h);
  if (!sender) co_return fail(sender.error());
  // A resend of a bulletin this hub already accepted, with the same bytes,
  // is an idempotent success whatever has changed since: the clock moved on
  // (a client retrying after a lost reply, hours later), a recipient rotated
  // or was revoked, the directory changed what an address resolves to. So a
  // refusal from here on is first checked against what is stored. Only the
  // sender's own session gets here (checked above), so this tells nobody
  // else anything.
  const auto bulletinId = *fixedField<crypto::BulletinId>(h.getBulletinId());  // length checked by verifyHeader
  const std::int64_t now = clock_.nowMs();
  auto judged = judge(caller, **sender, h, b, now);
  if (!judged) {
    if (auto at = store_.acceptedWithSameBytes(bulletinId, b.header, b.signature, b.ciphertext)) {
      co_return Accepted{bulletinId, *at, true};
    }
    co_return fail(judged.error());
  }
  auto bulletin = std::move(*judged);
  auto job = store::StoreBulletin{bulletin};
  auto outcome = co_await commits_.submit(std::move(job), net::use_awaitable);
  if (!outcome) co_return fail(outcome.error());
  if (!outcome->alreadyAccepted) {
    // debug, not info: one synchronous log write per bulletin on the io
    // thread costs every session latency when the log's disk is slow; the
    // acceptance itself is in the database, where `status` reads it.
    spdlog::debug("bulletin {} accepted from {}: {} recipients, {} bytes", crypto::toHex(bulletin->id),
                 bulletin->senderId, bulletin->recipients.size(), bulletin->header.size() + bulletin->ciphertext.size());
    deliveries_.pushDeliveries(outcome->queued, now, bulletin->header, bulletin->signature.view(), bulletin->ciphertext);
  }
  co_return Accepted{bulletin->id, outcome->acceptedAtMs, outcome->alreadyAccepted};
}

// Every rule a refusal may come from once the sender is known (the caller
// first looks for an identical accepted bulletin), in the order the
// protocol names them; the bulletin to store when all pass.
Result<std::shared_ptr<NewBulletin>> BulletinService::judge(const Caller& caller, const MemberRecord& sender,
                                                            wire::BulletinHeader::Reader h, const Submitted& b,
                                                            std::int64_t now) {
  if (auto ok = checkClockSkew(h.getCreatedAtMs(), now, "createdAtMs"); !ok) return fail(ok.error());
  // Seal v2 binds the hub id into the content: one sealed for another hub
  // is refused here as its recipients would refuse it. Seal v1 (no key
  // commitment) only during the transition (PROTOCOL.md §8.1).
  if (h.getSuite() == wire::CIPHER_SUITE_V2 && view(h.getHubId()) != directory_.hubId()) {
    return fail(ErrorCode::INVALID_REQUEST, "the bulletin is sealed for another hub (hubId " +
                                                std::string(view(h.getHubId())) + "), not " + directory_.hubId());
  }
  if (h.getSuite() == wire::CIPHER_SUITE && now >= limits_.sealV1RefusedFromMs) {
    return fail(ErrorCode::UNSUPPORTED_VERSION,
                "seal v1 bulletins (no key commitment) are refused after " +
                    formatSealV1Until(limits_.sealV1RefusedFromMs) + " ([hub] accept_seal_v1_until): upgrade focal");
  }
  if (!b.contentMatches) {
    return fail(ErrorCode::INVALID_REQUEST, "the ciphertext does not match the header's contentHash/contentSize");
  }
  // Policy (server/policy.hpp): markings, then who it may reach.
  if (h.getTlp() == wire::Tlp::UNSET) return fail(ErrorCode::INVALID_REQUEST, "the bulletin has no TLP label");
  if (auto ok = checkMarkings(h); !ok) return fail(ok.error());

  auto bulletin = std::make_shared<NewBulletin>();
  auto record = checkSummaryRecord(sender, h, now);
  if (!record) return fail(record.error());
  bulletin->summaryRecord = *record;
  bulletin->id = *fixedField<crypto::BulletinId>(h.getBulletinId());
  if (auto ok = resolveRecipients(caller, h, *bulletin); !ok) return fail(ok.error());
  if (auto ok = checkMeeting(h); !ok) return fail(ok.error());
  for (auto a : h.getAttachments()) {
    if (a.getSize() == 0 || a.getSize() > limits_.maxAttachmentBytes) {
      return fail(ErrorCode::TOO_LARGE, "attachment size out of range");
    }
    bulletin->attachments.push_back(NewBulletin::Attachment{*fixedField<crypto::Hash256>(a.getBlobHash()), a.getSize()});
  }
  bulletin->senderId = caller.memberId;
  bulletin->senderKey = caller.identityKey;
  bulletin->header.assign(b.header.begin(), b.header.end());
  bulletin->signature = b.signature;
  bulletin->ciphertext.assign(b.ciphertext.begin(), b.ciphertext.end());
  bulletin->createdAtMs = h.getCreatedAtMs();
  bulletin->acceptedAtMs = now;
  bulletin->tlp = static_cast<int>(h.getTlp());
  bulletin->kind = static_cast<int>(h.getKind());
  return bulletin;
}

// Summary records (PROTOCOL.md §12.4): the secretariat circulates them,
// with a comment deadline in the future; a revision replaces an open one.
Result<std::optional<NewBulletin::SummaryRecord>> BulletinService::checkSummaryRecord(const MemberRecord& sender,
                                                                                      wire::BulletinHeader::Reader h,
                                                                                      std::int64_t now) {
  const bool isRecord = h.getKind() == wire::BulletinKind::SUMMARY_RECORD;
  if (!isRecord && h.getKind() != wire::BulletinKind::BULLETIN) {
    return fail(ErrorCode::INVALID_REQUEST, "unknown bulletin kind");
  }
  if (!isRecord && (h.getCommentDeadlineMs() != 0 || h.getRevises().size() != 0)) {
    return fail(ErrorCode::INVALID_REQUEST, "only a summary record carries a comment deadline or revises");
  }
  if (!isRecord) return std::optional<NewBulletin::SummaryRecord>{};
  if (!sender.isSecretariat) {
    return fail(ErrorCode::FORBIDDEN, "summary record rule: only the secretariat circulates summary records; " +
                                          sender.id + " is not secretariat");
  }
  const std::int64_t deadline = h.getCommentDeadlineMs();
  if (deadline <= now) return fail(ErrorCode::INVALID_REQUEST, "the comment deadline is not in the future");
  if (deadline - now > MaxCommentWindowMs) {
    return fail(ErrorCode::INVALID_REQUEST, "the comment window is longer than 366 days");
  }
  NewBulletin::SummaryRecord sr;
  sr.deadlineMs = deadline;
  if (h.getRevises().size() != 0) {
    const auto revised = fixedField<crypto::BulletinId>(h.getRevises());  // 16 bytes: checked by verifyHeader
    auto old = store_.summaryRecord(*revised);
    if (!old) return fail(ErrorCode::NOT_FOUND, "no summary record " + crypto::toHex(*revised) + " to revise");
    if (old->state != wire::RecordState::PENDING && old->state != wire::RecordState::OBJECTED) {
      return fail(ErrorCode::POLICY_DENIED, "summary record rule: only a pending or objected record can be "
                                            "revised; " + crypto::toHex(*revised) + " is closed");
    }
    sr.revises = *revised;
  }
  return std::optional(sr);
}

// Each recipient known, active and named with its current key; then the
// distribution rules over the addresses.
Result<Ok> BulletinService::resolveRecipients(const Caller& caller, wire::BulletinHeader::Reader h,
                                              NewBulletin& bulletin) const {
  for (auto r : h.getRecipients()) {
    const auto key = fixedField<crypto::BoxPublicKey>(r.getEncryptionKey());
    auto recipient = checkRecipient(directory_, view(r.getMemberId()), key);
    if (!recipient) return fail(recipient.error());
    bulletin.recipients.push_back(std::move(*recipient));
  }
  return checkDistribution(directory_, caller.memberId, h);
}

// A paper or summary record bound to a meeting (PROTOCOL.md §12.8): the
// meeting exists and every recipient takes part in it (a member with a
// member state, or invited). The TLP rules above still apply.
Result<Ok> BulletinService::checkMeeting(wire::BulletinHeader::Reader h) {
  if (h.getMeetingId().size() == 0) return Ok{};
  const auto meetingId = *fixedField<crypto::BulletinId>(h.getMeetingId());  // 16 bytes: checked by verifyHeader
  auto row = store_.meeting(meetingId);
  auto info = row ? protocol::readMeeting(row->record.body)
                  : Expected<protocol::MeetingInfo, std::string>(unexpected(std::string("not stored")));
  if (!info) return fail(ErrorCode::NOT_FOUND, "no meeting " + crypto::toHex(meetingId));
  for (auto r : h.getRecipients()) {
    const MemberRecord* m = directory_.find(view(r.getMemberId()));  // known and active: checked before
    if (m != nullptr && info->hasParticipant(m->id, m->state, m->meetings)) continue;
    return fail(ErrorCode::POLICY_DENIED, "meeting rule: " + std::string(view(r.getMemberId())) +
                                              " does not take part in meeting " + crypto::toHex(meetingId) +
                                              " (neither a member state's delegation nor invited, nor admitted to it)");
  }
  return Ok{};
}

// ---- fetch / ack / status -----------------------------------------------------------------

FetchPage BulletinService::fetch(const std::string& memberId, std::int64_t afterSeq, std::uint32_t limit,
                                 std::size_t maxBytes) {
  auto page = store_.fetch(memberId, afterSeq, limit, maxBytes);
  std::vector<std::int64_t> seqs;
  seqs.reserve(page.items.size());
  for (const auto& item : page.items) seqs.push_back(item.seq);
  if (!seqs.empty()) deliveries_.markDelivered(seqs);
  return page;
}

net::awaitable<Result<std::uint32_t>> BulletinService::ack(const std::string& memberId,
                                                           std::vector<crypto::BulletinId> ids,
                                                           std::vector<crypto::Bytes> heads, crypto::ByteView body,
                                                           const crypto::Signature& signature) {
  const std::int64_t now = clock_.nowMs();
  // The signed ack is kept as proof of receipt when it removed something
  // (a replayed ack removes nothing and costs no storage). Essential: still
  // served on a full disk from the space reserve (CommitQueue).
  auto job = store::Acknowledge{memberId, std::move(ids), std::move(heads), Bytes(body.begin(), body.end()), signature,
                                now};
  co_return co_await commits_.submit(std::move(job), net::use_awaitable);
}

Result<BulletinStatus> BulletinService::status(const std::string& memberId, const crypto::BulletinId& id) {
  auto st = store_.status(id);
  const MemberRecord* me = directory_.find(memberId);
  const bool admin = me != nullptr && me->isAdmin;
  // The same answer for "no such bulletin" and "not yours to ask about".
  if (!st || (st->senderId != memberId && !admin)) return fail(ErrorCode::NOT_FOUND, "no such bulletin of yours");
  // What the hub did, not only what it committed: delivered marks still
  // waiting for the writer count (PROTOCOL.md §10).
  deliveries_.mergeUncommittedMarks(*st);
  for (auto& r : st->recipients) {
    // Acknowledged implies delivered: an entry acked without a recorded
    // delivery (the member had the bulletin by other means, or its mark was
    // dropped) reports the ack time, the latest it can have arrived.
    if (r.ackedAtMs != 0 && r.deliveredAtMs == 0) r.deliveredAtMs = r.ackedAtMs;
  }
  return std::move(*st);
}

// ---- uploads and downloads --------------------------------------------------------------------

Result<Ok> BulletinService::checkUploadSize(std::uint64_t size) const {
  if (size == 0) return fail(ErrorCode::INVALID_REQUEST, "an upload must not be empty");
  if (size > limits_.maxAttachmentBytes) {
    return fail(ErrorCode::TOO_LARGE, "attachments are limited to " + std::to_string(limits_.maxAttachmentBytes) +
                                             " bytes");
  }
  if (!protocol::isAttachmentBlobSize(size)) {
    return fail(ErrorCode::INVALID_REQUEST,
                   "no attachment stream is " + std::to_string(size) +
                       " bytes: 24 + 262161 per full chunk + a final chunk of 17..262160 (PROTOCOL.md 9.1)");
  }
  return Ok{};
}

net::awaitable<Result<BulletinService::UploadPosition>> BulletinService::beginUpload(const std::string& memberId,
                                                                                     const crypto::Hash256& hash,
                                                                                     std::uint64_t size) {
  if (auto ok = checkUploadSize(size); !ok) co_return fail(ok.error());
  const std::int64_t now = clock_.nowMs();
  const std::uint32_t maxOpen = limits_.maxOpenUploadsPerMember;
  auto job = store::BeginUpload{memberId, hash, size, now, maxOpen};
  auto row = co_await commits_.submit(std::move(job), net::use_awaitable);
  if (!row) co_return fail(row.error());
  if (row->complete) co_return UploadPosition{row->id, row->size};
  const UploadTracker::State* known = uploads_.find(row->id);
  if (known == nullptr || known->next != row->received) {
    auto rebuilt = co_await rebuildHash(*row);
    if (!rebuilt) co_return fail(rebuilt.error());
  }
  co_return UploadPosition{row->id, row->received};
}

// Resuming after a restart, an eviction or a failed chunk: recompute the
// hash of what is stored, one chunk at a time, yielding between chunks so
// other sessions are served meanwhile.
net::awaitable<Result<Ok>> BulletinService::rebuildHash(const UploadRow& row) {
  if (rebuilding_.contains(row.id)) co_return fail(ErrorCode::UNAVAILABLE, "the upload is being resumed", 500);
  rebuilding_.insert(row.id);
  RebuildMark mark{rebuilding_, row.id};
  uploads_.erase(row.id);
  crypto::Hasher hasher;
  std::uint64_t offset = 0;
  auto ex = co_await net::this_coro::executor;
  while (offset < row.received) {
    auto chunk = store_.chunkAt(row.id, offset);
    if (!chunk || chunk->empty()) {
      spdlog::error("upload {}: stored chunks have a gap at {}", row.id, offset);
      co_return fail(ErrorCode::INTERNAL, "internal error");
    }
    hasher.update(*chunk);
    offset += chunk->size();
    co_await net::post(ex, net::use_awaitable);
  }
  if (offset != row.received) co_return fail(ErrorCode::INTERNAL, "internal error");
  uploads_.put(row.id, UploadTracker::State{row.ownerId, row.blobHash, row.size, row.received, hasher});
  co_return Ok{};
}

net::awaitable<Result<ChunkOutcome>> BulletinService::uploadChunk(const std::string& memberId, std::uint64_t uploadId,
                                                                  std::uint64_t offset, crypto::ByteView data) {
  UploadTracker::State* st = uploads_.find(uploadId);
  if (st == nullptr || st->ownerId != memberId) {
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
  auto job = store::AppendChunk{uploadId, memberId, offset, Bytes(data.begin(), data.end()), hashMatches};
  auto result = co_await commits_.submit(std::move(job), net::use_awaitable);
  if (!result) {
    uploads_.erase(uploadId);
    co_return fail(result.error());
  }
  if (result->rejected) {
    uploads_.erase(uploadId);
    spdlog::info("upload {} of {} rejected: hash mismatch", uploadId, memberId);
    co_return fail(ErrorCode::INVALID_REQUEST, "the uploaded blob does not match its hash; the upload was deleted");
  }
  if (result->complete) {
    uploads_.erase(uploadId);
    spdlog::info("upload {} of {} complete", uploadId, memberId);
  }
  co_return std::move(*result);
}

Result<BlobSlice> BulletinService::download(const std::string& memberId, const crypto::BulletinId& id,
                                            const crypto::Hash256& hash, std::uint64_t offset, std::uint32_t length) {
  return store_.download(memberId, id, hash, offset, length);
}

}  // namespace focal::server

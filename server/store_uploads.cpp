// The uploads aggregate of the store: attachment blobs, uploaded in chunks
// by their owner (resumable after a restart), attached to bulletins, served
// in slices to the bulletin's sender and recipients, purged when abandoned
// or unreferenced (store::BeginUpload, AppendChunk, PurgeGarbage).
#include "server/store.hpp"
#include "server/store_internal.hpp"
#include "protocol/limits.hpp"

#include <fmt/chrono.h>

#include <algorithm>
#include <ctime>
#include <stdexcept>
#include <string>

namespace focal::server {

using namespace store_detail;

Result<UploadRow> Store::beginUpload(sqlite::Database& db, std::string_view ownerId, const crypto::Hash256& hash,
                                     std::uint64_t size, std::int64_t nowMs, std::uint32_t maxOpenUploads) {
  {
    auto s = db.prepare("SELECT id, size, received, complete FROM blobs WHERE owner_id = ?1 AND hash = ?2");
    s->bind(1, ownerId).bind(2, hash.view());
    if (s->step()) {
      if (u64(s->columnInt(1)) != size) {
        return fail(wire::ErrorCode::INVALID_REQUEST,
                    "an upload of blob " + crypto::toHex(hash) + " with a different size exists");
      }
      return UploadRow{u64(s->columnInt(0)), std::string(ownerId), hash, size, u64(s->columnInt(2)),
                       s->columnInt(3) != 0};
    }
  }
  {
    auto s = db.prepare("SELECT count(*) FROM blobs WHERE owner_id = ?1 AND complete = 0");
    s->bind(1, ownerId);
    if (s->step() && u64(s->columnInt(0)) >= maxOpenUploads) {
      return fail(wire::ErrorCode::RATE_LIMITED,
                  "too many unfinished uploads; finish or abandon one (limit " + std::to_string(maxOpenUploads) + ")",
                  60'000);
    }
  }
  auto s = db.prepare(
      "INSERT INTO blobs(hash, owner_id, size, received, complete, created_at_ms) VALUES(?1, ?2, ?3, 0, 0, ?4)");
  s->bind(1, hash.view()).bind(2, ownerId).bind(3, i64(size)).bind(4, nowMs);
  s->run();
  return UploadRow{u64(db.lastInsertRowid()), std::string(ownerId), hash, size, 0, false};
}

Result<ChunkOutcome> Store::appendChunk(sqlite::Database& db, std::uint64_t uploadId, std::string_view ownerId,
                                        std::uint64_t offset, crypto::ByteView data, bool hashMatches) {
  std::uint64_t size = 0;
  std::uint64_t received = 0;
  {
    auto s = db.prepare("SELECT owner_id, size, received, complete FROM blobs WHERE id = ?1");
    s->bind(1, i64(uploadId));
    // An upload of another member is reported exactly like a missing one.
    if (!s->step() || s->columnText(0) != ownerId) {
      return fail(wire::ErrorCode::NOT_FOUND, "no upload " + std::to_string(uploadId));
    }
    size = u64(s->columnInt(1));
    received = u64(s->columnInt(2));
    if (s->columnInt(3) != 0) return fail(wire::ErrorCode::INVALID_REQUEST, "the upload is already complete");
  }
  if (data.empty()) return fail(wire::ErrorCode::INVALID_REQUEST, "empty chunk");
  if (offset != received) {
    return fail(wire::ErrorCode::INVALID_REQUEST, "chunk offset " + std::to_string(offset) +
                                                      " does not continue the upload at " + std::to_string(received));
  }
  if (data.size() > size - received) return fail(wire::ErrorCode::INVALID_REQUEST, "chunk runs past the blob size");

  const std::uint64_t now = received + data.size();
  if (now == size && !hashMatches) {
    auto del = db.prepare("DELETE FROM blobs WHERE id = ?1");  // chunks cascade
    del->bind(1, i64(uploadId));
    del->run();
    return ChunkOutcome{0, false, true};
  }
  {
    auto s = db.prepare("INSERT INTO blob_chunks(blob_id, offset, data) VALUES(?1, ?2, ?3)");
    s->bind(1, i64(uploadId)).bind(2, i64(offset)).bind(3, data);
    s->run();
  }
  auto s = db.prepare("UPDATE blobs SET received = ?2, complete = ?3 WHERE id = ?1");
  s->bind(1, i64(uploadId)).bind(2, i64(now)).bind(3, std::int64_t{now == size ? 1 : 0});
  s->run();
  return ChunkOutcome{now, now == size, false};
}

std::uint64_t Store::purgeGarbage(sqlite::Database& db, std::int64_t nowMs) {
  auto s = db.prepare(
      "DELETE FROM blobs WHERE created_at_ms < ?1 AND (complete = 0 OR NOT EXISTS "
      "(SELECT 1 FROM bulletin_blobs bb WHERE bb.blob_id = blobs.id))");
  s->bind(1, nowMs - GarbageAgeMs);
  s->run();
  return u64(db.changes());
}

// ---- reads ------------------------------------------------------------------------

Result<BlobSlice> Store::download(std::string_view memberId, const crypto::BulletinId& id,
                                  const crypto::Hash256& hash, std::uint64_t offset, std::uint32_t length) {
  // SECURITY: a bulletin the member neither sent nor receives, and a blob not
  // attached to it, are reported identically, so the answer reveals nothing.
  const auto hidden = [] {
    return fail(wire::ErrorCode::NOT_FOUND, "no such bulletin or attachment visible to you");
  };
  {
    auto s = db_.prepare(
        "SELECT b.sender_id = ?2 OR EXISTS(SELECT 1 FROM deliveries d WHERE d.bulletin_id = b.id AND "
        "d.member_id = ?2) FROM bulletins b WHERE b.id = ?1");
    s->bind(1, id.view()).bind(2, memberId);
    if (!s->step()) {
      // A purged bulletin says so to whoever names its id (an unguessable
      // 128-bit value its parties saw): its recipients learn why the
      // attachment is gone. The tombstone holds no content.
      if (auto gone = expiredBulletin(db_, id)) {
        return fail(wire::ErrorCode::EXPIRED,
                    "bulletin " + crypto::toHex(id) + " and its attachments were purged under the hub's retention "
                    "policy on " + fmt::format("{:%Y-%m-%d %H:%M} UTC", fmt::gmtime(static_cast<std::time_t>(gone->purgedAtMs / 1000))));
      }
      return hidden();
    }
    if (s->columnInt(0) == 0) return hidden();
  }
  std::int64_t blobId = 0;
  std::uint64_t total = 0;
  {
    auto s = db_.prepare(
        "SELECT bb.blob_id, bl.size FROM bulletin_blobs bb JOIN blobs bl ON bl.id = bb.blob_id "
        "WHERE bb.bulletin_id = ?1 AND bb.hash = ?2 AND bl.complete = 1 LIMIT 1");
    s->bind(1, id.view()).bind(2, hash.view());
    if (!s->step()) return hidden();
    blobId = s->columnInt(0);
    total = u64(s->columnInt(1));
  }
  if (offset > total) return fail(wire::ErrorCode::INVALID_REQUEST, "offset past the end of the blob");
  const std::uint64_t end = offset + std::min<std::uint64_t>(length, total - offset);
  BlobSlice out{offset, {}, total};
  out.data.reserve(static_cast<std::size_t>(end - offset));
  if (end == offset) return out;
  // Chunks are contiguous and at most MaxChunkBytes long, so the first one
  // that overlaps [offset, end) starts no earlier than offset - MaxChunkBytes.
  const std::int64_t earliest = i64(offset) - static_cast<std::int64_t>(protocol::MaxChunkBytes);
  auto s = db_.prepare(
      "SELECT offset, data FROM blob_chunks WHERE blob_id = ?1 AND offset >= ?2 AND offset < ?3 ORDER BY offset");
  s->bind(1, blobId).bind(2, earliest).bind(3, i64(end));
  while (s->step()) {
    const std::uint64_t chunkStart = u64(s->columnInt(0));
    const auto data = s->columnBlobView(1);
    const std::uint64_t chunkEnd = chunkStart + data.size();
    if (chunkEnd <= offset) continue;
    const std::uint64_t from = std::max(chunkStart, offset);
    const std::uint64_t to = std::min(chunkEnd, end);
    out.data.insert(out.data.end(), data.begin() + static_cast<std::ptrdiff_t>(from - chunkStart),
                    data.begin() + static_cast<std::ptrdiff_t>(to - chunkStart));
  }
  if (out.data.size() != end - offset) throw std::runtime_error("stored blob has a gap");
  return out;
}

std::optional<UploadRow> Store::upload(std::uint64_t id) {
  auto s = db_.prepare("SELECT owner_id, hash, size, received, complete FROM blobs WHERE id = ?1");
  s->bind(1, i64(id));
  if (!s->step()) return std::nullopt;
  return UploadRow{id, s->columnText(0), fixedColumn<crypto::Hash256>(*s, 1, "blob hash"), u64(s->columnInt(2)),
                   u64(s->columnInt(3)), s->columnInt(4) != 0};
}

std::optional<crypto::Bytes> Store::chunkAt(std::uint64_t uploadId, std::uint64_t offset) {
  auto s = db_.prepare("SELECT data FROM blob_chunks WHERE blob_id = ?1 AND offset = ?2");
  s->bind(1, i64(uploadId)).bind(2, i64(offset));
  if (!s->step()) return std::nullopt;
  return s->columnBlob(0);
}

}  // namespace focal::server

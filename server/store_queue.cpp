// The queue aggregate of the store: bulletins, their deliveries (one queue
// entry per recipient, the seq a client's fetch cursor counts), delivered
// marks and acknowledgements with their signed proofs. Writes run on the
// commit queue's connection (store::StoreBulletin, Acknowledge,
// MarkDelivered); reads on the io thread's.
#include "server/store.hpp"
#include "server/store_internal.hpp"
#include <string>

namespace focal::server {

using namespace store_detail;

namespace {

// Per-item framing overhead of a Delivery inside a Deliveries frame (struct
// words, pointers, padding), generous.
constexpr std::size_t DeliveryOverheadBytes = 64;

// The silence procedure of a new summary record, and the end of the one it
// revises (re-checked here: only a pending or objected record is revised).
Result<Ok> insertSummaryRecord(sqlite::Database& db, const NewBulletin& b) {
  if (b.summaryRecord->revises) {
    auto s = db.prepare("UPDATE summary_records SET state = ?2, closed_at_ms = ?3 "
                        "WHERE bulletin_id = ?1 AND state IN (?4, ?5)");
    s->bind(1, b.summaryRecord->revises->view())
        .bind(2, RecordSuperseded)
        .bind(3, b.acceptedAtMs)
        .bind(4, RecordPending)
        .bind(5, RecordObjected);
    s->run();
    if (db.changes() != 1) {
      return fail(wire::ErrorCode::POLICY_DENIED, "summary record rule: only a pending or objected record can be "
                                                  "revised; " + crypto::toHex(*b.summaryRecord->revises) + " is not");
    }
  }
  auto s = db.prepare(
      "INSERT INTO summary_records(bulletin_id, sender_id, deadline_ms, revises, state) VALUES(?1, ?2, ?3, ?4, ?5)");
  s->bind(1, b.id.view()).bind(2, b.senderId).bind(3, b.summaryRecord->deadlineMs);
  if (b.summaryRecord->revises) {
    s->bind(4, b.summaryRecord->revises->view());
  } else {
    s->bindNull(4);
  }
  s->bind(5, RecordPending);
  s->run();
  return Ok{};
}

}  // namespace

Result<SendOutcome> Store::insertBulletin(sqlite::Database& db, const NewBulletin& b) {
  {
    auto s = db.prepare("SELECT header, signature, ciphertext, accepted_at_ms FROM bulletins WHERE id = ?1");
    s->bind(1, b.id.view());
    if (s->step()) {
      if (sameBytes(s->columnBlobView(0), b.header) && sameBytes(s->columnBlobView(1), b.signature.view()) &&
          sameBytes(s->columnBlobView(2), b.ciphertext)) {
        return SendOutcome{s->columnInt(3), true, {}};
      }
      return fail(wire::ErrorCode::DUPLICATE,
                  "bulletin " + crypto::toHex(b.id) + " was already accepted with different bytes");
    }
  }
  // SECURITY/retention: a purged id is never stored again (a resend would
  // bring back what the policy removed, and queue it to every recipient).
  if (auto gone = expiredBulletin(db, b.id)) {
    return fail(wire::ErrorCode::EXPIRED, "bulletin " + crypto::toHex(b.id) +
                                              " was purged under the hub's retention policy; its id is not accepted "
                                              "again (send it as a new bulletin)");
  }

  std::vector<std::int64_t> blobIds;
  blobIds.reserve(b.attachments.size());
  for (const auto& a : b.attachments) {
    auto s = db.prepare("SELECT id, size FROM blobs WHERE owner_id = ?1 AND hash = ?2 AND complete = 1");
    s->bind(1, b.senderId).bind(2, a.blobHash.view());
    if (!s->step()) {
      return fail(wire::ErrorCode::NOT_FOUND,
                  "attachment " + crypto::toHex(a.blobHash) + " is not a completed upload of the sender");
    }
    if (u64(s->columnInt(1)) != a.size) {
      return fail(wire::ErrorCode::INVALID_REQUEST,
                  "attachment " + crypto::toHex(a.blobHash) + " has a different size than the upload");
    }
    blobIds.push_back(s->columnInt(0));
  }

  {
    auto s = db.prepare(
        "INSERT INTO bulletins(id, sender_id, sender_key, header, signature, ciphertext, created_at_ms, "
        "accepted_at_ms, tlp, kind, size) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    s->bind(1, b.id.view())
        .bind(2, b.senderId)
        .bind(3, b.senderKey.view())
        .bind(4, b.header)
        .bind(5, b.signature.view())
        .bind(6, b.ciphertext)
        .bind(7, b.createdAtMs)
        .bind(8, b.acceptedAtMs)
        .bind(9, std::int64_t{b.tlp})
        .bind(10, std::int64_t{b.kind})
        .bind(11, static_cast<std::int64_t>(b.header.size() + b.ciphertext.size()));
    s->run();
  }

  SendOutcome out;
  out.acceptedAtMs = b.acceptedAtMs;
  out.queued.reserve(b.recipients.size());
  for (const auto& r : b.recipients) {
    auto s = db.prepare(
        "INSERT INTO deliveries(bulletin_id, member_id, enc_key, queued_at_ms) VALUES(?1, ?2, ?3, ?4)");
    s->bind(1, b.id.view()).bind(2, r.memberId).bind(3, r.encryptionKey.view()).bind(4, b.acceptedAtMs);
    s->run();
    out.queued.push_back(QueuedDelivery{r.memberId, db.lastInsertRowid()});
  }
  if (b.summaryRecord) {
    if (auto ok = insertSummaryRecord(db, b); !ok) return fail(ok.error());
  }
  for (std::size_t i = 0; i < blobIds.size(); ++i) {
    auto s = db.prepare("INSERT INTO bulletin_blobs(bulletin_id, idx, blob_id, hash) VALUES(?1, ?2, ?3, ?4)");
    s->bind(1, b.id.view())
        .bind(2, static_cast<std::int64_t>(i))
        .bind(3, blobIds[i])
        .bind(4, b.attachments[i].blobHash.view());
    s->run();
  }
  return out;
}

// Acks and delivered marks name many rows at once (an ack up to
// MaxAckBatch ids, a marks round every seq pushed in 25 ms). They run
// InListChunk rows per statement (an IN list of bound parameters), the rest
// one statement per row: each statement run has a fixed cost (reset, bind,
// the VM's start and halt, the statement journal) that a chunk pays once.
// A row named twice in one chunk is matched once. Both statements are
// static text: `fixed` leading parameters, then the rows' values.
namespace {

constexpr std::size_t InListChunk = 16;

std::string inListSql(std::string_view head, int fixed) {
  std::string s(head);
  s += " IN (";
  for (std::size_t i = 0; i < InListChunk; ++i) {
    if (i > 0) s += ", ";
    s += "?" + std::to_string(fixed + 1 + static_cast<int>(i));
  }
  return s + ")";
}

// Runs the chunked statement over `items`, then the single-row one over
// what is left; returns the rows changed. bindFixed(statement) binds
// parameters 1..fixed, bindItem(statement, index, item) one row's value.
template <class T, class BindFixed, class BindItem>
std::uint32_t updateRows(sqlite::Database& db, const std::string& chunkSql, const char* oneSql, int fixed,
                         std::span<const T> items, BindFixed bindFixed, BindItem bindItem) {
  std::uint32_t changed = 0;
  std::size_t i = 0;
  for (; i + InListChunk <= items.size(); i += InListChunk) {
    auto s = db.prepare(chunkSql.c_str());
    bindFixed(*s);
    for (std::size_t k = 0; k < InListChunk; ++k) bindItem(*s, fixed + 1 + static_cast<int>(k), items[i + k]);
    s->run();
    changed += static_cast<std::uint32_t>(db.changes());
  }
  for (; i < items.size(); ++i) {
    auto s = db.prepare(oneSql);
    bindFixed(*s);
    bindItem(*s, fixed + 1, items[i]);
    s->run();
    changed += static_cast<std::uint32_t>(db.changes());
  }
  return changed;
}

}  // namespace

std::uint32_t Store::acknowledge(sqlite::Database& db, std::string_view memberId,
                                 std::span<const crypto::BulletinId> ids, std::span<const crypto::Bytes> heads,
                                 std::int64_t nowMs) {
  if (!heads.empty()) {
    // One row at a time: the head is kept only for an id this ack
    // acknowledged (a resent ack changes nothing and stores nothing).
    if (heads.size() != ids.size()) throw std::logic_error("one sealed head per acknowledged id");
    auto update = db.prepare(
        "UPDATE deliveries SET acked_at_ms = ?1 WHERE member_id = ?2 AND acked_at_ms IS NULL AND bulletin_id = ?3");
    auto keep = db.prepare("INSERT OR IGNORE INTO ack_heads(bulletin_id, member_id, sealed) VALUES(?1, ?2, ?3)");
    std::uint32_t changed = 0;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      update->reset();
      update->bind(1, nowMs).bind(2, memberId).bind(3, ids[i].view());
      update->run();
      const auto n = static_cast<std::uint32_t>(db.changes());
      if (n == 0) continue;
      changed += n;
      keep->reset();
      keep->bind(1, ids[i].view()).bind(2, memberId).bind(3, crypto::ByteView(heads[i]));
      keep->run();
    }
    return changed;
  }
  static const std::string chunkSql =
      inListSql("UPDATE deliveries SET acked_at_ms = ?1 WHERE member_id = ?2 AND acked_at_ms IS NULL AND bulletin_id", 2);
  return updateRows(
      db, chunkSql,
      "UPDATE deliveries SET acked_at_ms = ?1 WHERE member_id = ?2 AND acked_at_ms IS NULL AND bulletin_id = ?3", 2,
      ids, [&](sqlite::Statement& s) { s.bind(1, nowMs).bind(2, memberId); },
      [](sqlite::Statement& s, int index, const crypto::BulletinId& id) { s.bind(index, id.view()); });
}

void Store::recordAck(sqlite::Database& db, std::string_view memberId, crypto::ByteView body,
                      const crypto::Signature& signature, std::int64_t nowMs) {
  auto s = db.prepare("INSERT INTO acks(member_id, body, signature, received_at_ms) VALUES(?1, ?2, ?3, ?4)");
  s->bind(1, memberId).bind(2, body).bind(3, signature.view()).bind(4, nowMs);
  s->run();
}

void Store::markDelivered(sqlite::Database& db, std::span<const DeliveredMark> marks) {
  // ?1.. pairs (seq, time): "CASE seq WHEN ?1 THEN ?2 WHEN ?3 THEN ?4 ..."
  // and "seq IN (?1, ?3, ...)". First delivery wins (IS NULL), so a second
  // fetch of an unacknowledged entry keeps the first time.
  static const std::string chunkSql = [] {
    std::string cases, in;
    for (std::size_t k = 0; k < InListChunk; ++k) {
      const auto seq = std::to_string(2 * k + 1), at = std::to_string(2 * k + 2);
      cases += " WHEN ?" + seq + " THEN ?" + at;
      in += (k == 0 ? "?" : ", ?") + seq;
    }
    return "UPDATE deliveries SET delivered_at_ms = CASE seq" + cases +
           " END WHERE delivered_at_ms IS NULL AND seq IN (" + in + ")";
  }();
  std::size_t i = 0;
  for (; i + InListChunk <= marks.size(); i += InListChunk) {
    auto s = db.prepare(chunkSql.c_str());
    for (std::size_t k = 0; k < InListChunk; ++k) {
      s->bind(static_cast<int>(2 * k + 1), marks[i + k].seq).bind(static_cast<int>(2 * k + 2), marks[i + k].atMs);
    }
    s->run();
  }
  for (; i < marks.size(); ++i) {
    auto s = db.prepare("UPDATE deliveries SET delivered_at_ms = ?2 WHERE delivered_at_ms IS NULL AND seq = ?1");
    s->bind(1, marks[i].seq).bind(2, marks[i].atMs);
    s->run();
  }
}

void Store::markDelivered(sqlite::Database& db, std::span<const std::int64_t> seqs, std::int64_t nowMs) {
  std::vector<DeliveredMark> marks;
  marks.reserve(seqs.size());
  for (auto seq : seqs) marks.push_back(DeliveredMark{seq, nowMs});
  markDelivered(db, marks);
}

// ---- reads ------------------------------------------------------------------------

FetchPage Store::fetch(std::string_view memberId, std::int64_t afterSeq, std::uint32_t limit, std::size_t maxBytes) {
  FetchPage page;
  if (limit == 0) return page;
  auto s = db_.prepare(
      "SELECT d.seq, d.queued_at_ms, b.header, b.signature, b.ciphertext, f.body, f.signature, r.body, r.signature "
      "FROM deliveries d JOIN bulletins b ON b.id = d.bulletin_id "
      "LEFT JOIN forwards f ON f.id = d.forward_id "
      "LEFT JOIN retractions r ON d.retraction = 1 AND r.bulletin_id = d.bulletin_id "
      "WHERE d.member_id = ?1 AND d.acked_at_ms IS NULL AND d.seq > ?2 ORDER BY d.seq LIMIT ?3");
  s->bind(1, memberId).bind(2, afterSeq).bind(3, std::int64_t{limit} + 1);
  std::size_t total = 0;
  while (s->step()) {
    if (page.items.size() == limit) {
      page.more = true;
      break;
    }
    std::size_t bytes = DeliveryOverheadBytes;
    for (int c = 2; c <= 8; ++c) bytes += s->columnBlobView(c).size();
    if (!page.items.empty() && total + bytes > maxBytes) {
      page.more = true;
      break;
    }
    total += bytes;
    page.items.push_back(FetchedDelivery{s->columnInt(0), s->columnInt(1), s->columnBlob(2), s->columnBlob(3),
                                         s->columnBlob(4), StoredRecord{s->columnBlob(5), s->columnBlob(6)},
                                         StoredRecord{s->columnBlob(7), s->columnBlob(8)}});
  }
  return page;
}

std::optional<BulletinStatus> Store::status(const crypto::BulletinId& id) {
  BulletinStatus out;
  {
    auto s = db_.prepare("SELECT sender_id FROM bulletins WHERE id = ?1");
    s->bind(1, id.view());
    if (!s->step()) {
      // A bulletin retention purged answers with its tombstone.
      auto gone = expiredBulletin(db_, id);
      if (!gone) return std::nullopt;
      out.senderId = gone->senderId;
      out.purgedAtMs = gone->purgedAtMs;
      return out;
    }
    out.senderId = s->columnText(0);
  }
  auto s = db_.prepare(
      "SELECT d.member_id, d.queued_at_ms, d.delivered_at_ms, d.acked_at_ms, d.seq, h.sealed FROM deliveries d "
      "LEFT JOIN ack_heads h ON h.bulletin_id = d.bulletin_id AND h.member_id = d.member_id "
      "WHERE d.bulletin_id = ?1 AND d.retraction = 0 ORDER BY d.member_id");
  s->bind(1, id.view());
  while (s->step()) {
    out.recipients.push_back(RecipientState{s->columnInt(4), s->columnText(0), s->columnInt(1),
                                            s->columnIsNull(2) ? 0 : s->columnInt(2),
                                            s->columnIsNull(3) ? 0 : s->columnInt(3),
                                            s->columnIsNull(5) ? crypto::Bytes{} : s->columnBlob(5)});
  }
  return out;
}

std::optional<BulletinRow> Store::bulletin(const crypto::BulletinId& id) {
  auto s = db_.prepare(
      "SELECT sender_id, header, signature, ciphertext, EXISTS(SELECT 1 FROM retractions r WHERE r.bulletin_id = ?1) "
      "FROM bulletins WHERE id = ?1");
  s->bind(1, id.view());
  if (!s->step()) return std::nullopt;
  return BulletinRow{s->columnText(0), s->columnBlob(1), s->columnBlob(2), s->columnBlob(3), s->columnInt(4) != 0};
}

std::optional<std::int64_t> Store::acceptedWithSameBytes(const crypto::BulletinId& id, crypto::ByteView header,
                                                         const crypto::Signature& signature,
                                                         crypto::ByteView ciphertext) {
  auto s = db_.prepare("SELECT header, signature, ciphertext, accepted_at_ms FROM bulletins WHERE id = ?1");
  s->bind(1, id.view());
  if (!s->step()) return std::nullopt;
  if (!sameBytes(s->columnBlobView(0), header) || !sameBytes(s->columnBlobView(1), signature.view()) ||
      !sameBytes(s->columnBlobView(2), ciphertext)) {
    return std::nullopt;
  }
  return s->columnInt(3);
}

}  // namespace focal::server

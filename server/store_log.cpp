// The directory log and audit trail of the store: the log's entries with
// the signed head of every size (store::AppendLogEntry; approvals and
// admissions append theirs in store_consensus.cpp), and the hash-chained
// audit rows (store::AppendAudit).
#include "server/store.hpp"
#include "server/store_internal.hpp"
#include "protocol/log.hpp"

#include <string>

namespace focal::server {

using namespace store_detail;

namespace {

// Per-item framing overhead of a LogEntry inside a frame, generous.
constexpr std::size_t LogEntryOverheadBytes = 128;

}  // namespace

Result<Ok> Store::appendLogEntry(sqlite::Database& db, const StoredLogEntry& e, const StoredHead& head) {
  {
    auto s = db.prepare("SELECT count(*) FROM log_entries");
    if (!s->step() || u64(s->columnInt(0)) != e.index) {
      return fail(wire::ErrorCode::INTERNAL, "log index out of sequence");
    }
  }
  if (head.size != e.index + 1) return fail(wire::ErrorCode::INTERNAL, "log head does not match the entry");
  {
    auto s = db.prepare(
        "INSERT INTO log_entries(idx, recorded_at_ms, author_id, author_key, event, signature, entry_hash) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    s->bind(1, i64(e.index))
        .bind(2, e.recordedAtMs)
        .bind(3, e.authorId)
        .bind(4, e.authorKey.view())
        .bind(5, e.event)
        .bind(6, e.signature.view())
        .bind(7, e.entryHash.view());
    s->run();
  }
  auto s = db.prepare("INSERT INTO log_heads(size, head, signature) VALUES(?1, ?2, ?3)");
  s->bind(1, i64(head.size)).bind(2, head.head).bind(3, head.signature.view());
  s->run();
  return Ok{};
}

Result<Ok> Store::refreshHead(sqlite::Database& db, const StoredHead& head) {
  {
    auto s = db.prepare("SELECT count(*) FROM log_entries");
    if (!s->step() || u64(s->columnInt(0)) != head.size) return fail(wire::ErrorCode::INTERNAL, "refreshed head is not for the log's size");
  }
  auto s = db.prepare(
      "INSERT INTO log_heads(size, head, signature) VALUES(?1, ?2, ?3) "
      "ON CONFLICT(size) DO UPDATE SET head = excluded.head, signature = excluded.signature");
  s->bind(1, i64(head.size)).bind(2, head.head).bind(3, head.signature.view());
  s->run();
  return Ok{};
}

void Store::ensureAuditTable(sqlite::Database& db) {
  db.exec(
      "CREATE TABLE IF NOT EXISTS audit(idx INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, event TEXT NOT NULL, "
      "actor TEXT NOT NULL, remote TEXT NOT NULL, detail TEXT NOT NULL, hash BLOB NOT NULL CHECK (length(hash) = 32))");
}

Result<std::uint64_t> Store::appendAudit(sqlite::Database& db, const AuditRecord& r) {
  ensureAuditTable(db);
  std::uint64_t index = 0;
  crypto::Hash256 prev{};
  {
    auto s = db.prepare("SELECT idx, hash FROM audit ORDER BY idx DESC LIMIT 1");
    if (s->step()) {
      index = u64(s->columnInt(0)) + 1;
      prev = fixedColumn<crypto::Hash256>(*s, 1, "audit hash");
    }
  }
  const auto hash = protocol::auditEntryHash(index, prev, r.timeMs, r.event, r.actor, r.remote, r.detail);
  auto s = db.prepare("INSERT INTO audit(idx, time_ms, event, actor, remote, detail, hash) VALUES(?1,?2,?3,?4,?5,?6,?7)");
  s->bind(1, i64(index)).bind(2, r.timeMs).bind(3, r.event).bind(4, r.actor).bind(5, r.remote).bind(6, r.detail);
  s->bind(7, hash.view());
  s->run();
  return index;
}

// ---- reads ------------------------------------------------------------------------

std::vector<StoredLogEntry> Store::logEntries(std::uint64_t from, std::uint32_t limit, std::size_t maxBytes) {
  std::vector<StoredLogEntry> out;
  auto s = db_.prepare(
      "SELECT idx, recorded_at_ms, author_id, author_key, event, signature, entry_hash FROM log_entries "
      "WHERE idx >= ?1 ORDER BY idx LIMIT ?2");
  s->bind(1, i64(from)).bind(2, std::int64_t{limit});
  std::size_t total = 0;
  while (s->step()) {
    const std::size_t bytes = s->columnBlobView(4).size() + s->columnText(2).size() + LogEntryOverheadBytes;
    if (!out.empty() && total + bytes > maxBytes) break;
    total += bytes;
    StoredLogEntry e;
    e.index = u64(s->columnInt(0));
    e.recordedAtMs = s->columnInt(1);
    e.authorId = s->columnText(2);
    e.authorKey = fixedColumn<crypto::SigningPublicKey>(*s, 3, "log author key");
    e.event = s->columnBlob(4);
    e.signature = fixedColumn<crypto::Signature>(*s, 5, "log signature");
    e.entryHash = fixedColumn<crypto::Hash256>(*s, 6, "log entry hash");
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<AuditRecord> Store::auditEntries(std::uint64_t from, std::uint32_t limit, std::size_t maxBytes) {
  std::vector<AuditRecord> out;
  auto s = db_.prepare(
      "SELECT idx, time_ms, event, actor, remote, detail, hash FROM audit WHERE idx >= ?1 ORDER BY idx LIMIT ?2");
  s->bind(1, i64(from)).bind(2, std::int64_t{limit});
  std::size_t total = 0;
  while (s->step()) {
    AuditRecord r;
    r.index = u64(s->columnInt(0));
    r.timeMs = s->columnInt(1);
    r.event = s->columnText(2);
    r.actor = s->columnText(3);
    r.remote = s->columnText(4);
    r.detail = s->columnText(5);
    r.hash = fixedColumn<crypto::Hash256>(*s, 6, "audit hash");
    const std::size_t bytes = r.event.size() + r.actor.size() + r.remote.size() + r.detail.size() + 128;
    if (!out.empty() && total + bytes > maxBytes) break;
    total += bytes;
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<std::string> Store::lastAuditDetail(std::string_view event) {
  auto s = db_.prepare("SELECT detail FROM audit WHERE event = ?1 ORDER BY idx DESC LIMIT 1");
  s->bind(1, event);
  if (!s->step()) return std::nullopt;
  return s->columnText(0);
}

Result<Ok> Store::storeCosignature(sqlite::Database& db, std::uint64_t size, const protocol::Cosignature& c) {
  auto s = db.prepare(
      "INSERT OR REPLACE INTO cosignatures(witness_id, size, head, head_signature, cosigned_at_ms, signature) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
  s->bind(1, c.witnessId).bind(2, i64(size)).bind(3, c.head).bind(4, c.headSignature.view());
  s->bind(5, c.cosignedAtMs).bind(6, c.signature.view());
  s->run();
  return Ok{};
}

std::vector<protocol::Cosignature> Store::cosignatures(std::uint64_t size) {
  std::vector<protocol::Cosignature> out;
  auto s = db_.prepare(
      "SELECT witness_id, head, head_signature, cosigned_at_ms, signature FROM cosignatures WHERE size = ?1 "
      "ORDER BY witness_id");
  s->bind(1, i64(size));
  while (s->step()) {
    out.push_back(protocol::Cosignature{s->columnText(0), s->columnBlob(1),
                                        fixedColumn<crypto::Signature>(*s, 2, "head signature"), s->columnInt(3),
                                        fixedColumn<crypto::Signature>(*s, 4, "cosignature")});
  }
  return out;
}

std::optional<StoredHead> Store::head(std::uint64_t size) {
  auto s = db_.prepare("SELECT head, signature FROM log_heads WHERE size = ?1");
  s->bind(1, i64(size));
  if (!s->step()) return std::nullopt;
  return StoredHead{size, s->columnBlob(0), fixedColumn<crypto::Signature>(*s, 1, "head signature")};
}

}  // namespace focal::server

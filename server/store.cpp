#include "server/store.hpp"

#include "protocol/limits.hpp"
#include "protocol/log.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace focal::server {

namespace {

// Version 1 (minus the queue, which version 2 replaced). Every table is STRICT-free on purpose (SQLite 3.37+ only);
// types are enforced by CHECK constraints where they matter for safety.
constexpr const char* SchemaSql = R"sql(
CREATE TABLE bulletins(
  id             BLOB PRIMARY KEY CHECK (length(id) = 16),
  sender_id      TEXT NOT NULL,
  sender_key     BLOB NOT NULL CHECK (length(sender_key) = 32),
  header         BLOB NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64),
  ciphertext     BLOB NOT NULL,
  created_at_ms  INTEGER NOT NULL,
  accepted_at_ms INTEGER NOT NULL,
  tlp            INTEGER NOT NULL,
  kind           INTEGER NOT NULL,
  size           INTEGER NOT NULL
);
CREATE TABLE blobs(
  id            INTEGER PRIMARY KEY,
  hash          BLOB NOT NULL CHECK (length(hash) = 32),
  owner_id      TEXT NOT NULL,
  size          INTEGER NOT NULL CHECK (size > 0),
  received      INTEGER NOT NULL DEFAULT 0,
  complete      INTEGER NOT NULL DEFAULT 0,
  created_at_ms INTEGER NOT NULL,
  UNIQUE(owner_id, hash)
);
CREATE TABLE blob_chunks(
  blob_id INTEGER NOT NULL REFERENCES blobs(id) ON DELETE CASCADE,
  offset  INTEGER NOT NULL,
  data    BLOB NOT NULL,
  PRIMARY KEY(blob_id, offset)
);
CREATE TABLE bulletin_blobs(
  bulletin_id BLOB NOT NULL REFERENCES bulletins(id),
  idx         INTEGER NOT NULL,
  blob_id     INTEGER NOT NULL REFERENCES blobs(id),
  hash        BLOB NOT NULL,
  PRIMARY KEY(bulletin_id, idx)
);
CREATE INDEX bulletin_blobs_blob ON bulletin_blobs(blob_id);
CREATE TABLE acks(
  id             INTEGER PRIMARY KEY,
  member_id      TEXT NOT NULL,
  body           BLOB NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64),
  received_at_ms INTEGER NOT NULL
);
CREATE TABLE log_entries(
  idx            INTEGER PRIMARY KEY,
  recorded_at_ms INTEGER NOT NULL,
  author_id      TEXT NOT NULL,
  author_key     BLOB NOT NULL CHECK (length(author_key) = 32),
  event          BLOB NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64),
  entry_hash     BLOB NOT NULL CHECK (length(entry_hash) = 32)
);
CREATE TABLE log_heads(
  size      INTEGER PRIMARY KEY,
  head      BLOB NOT NULL,
  signature BLOB NOT NULL CHECK (length(signature) = 64)
);
CREATE TABLE IF NOT EXISTS audit(
  idx     INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
  event   TEXT NOT NULL,
  actor   TEXT NOT NULL,
  remote  TEXT NOT NULL,
  detail  TEXT NOT NULL,
  hash    BLOB NOT NULL CHECK (length(hash) = 32)
);
)sql";

// Version 2: the working group's records (forwards, retractions, H2
// permissions), and the queue with the columns they need.
constexpr const char* WorkingGroupSql = R"sql(
CREATE TABLE forwards(
  id             BLOB PRIMARY KEY CHECK (length(id) = 16),
  bulletin_id    BLOB NOT NULL REFERENCES bulletins(id),
  forwarder_id   TEXT NOT NULL,
  body           BLOB NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64),
  recorded_at_ms INTEGER NOT NULL
);
CREATE TABLE retractions(
  bulletin_id    BLOB PRIMARY KEY REFERENCES bulletins(id),
  body           BLOB NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64),
  recorded_at_ms INTEGER NOT NULL
);
CREATE TABLE permissions(
  bulletin_id    BLOB NOT NULL REFERENCES bulletins(id),
  member_id      TEXT NOT NULL,
  body           BLOB NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64),
  recorded_at_ms INTEGER NOT NULL,
  PRIMARY KEY(bulletin_id, member_id)
);
)sql";

// The queue. forward_id: the forward that brought the bulletin to this
// member (NULL for an original recipient). retraction = 1: the entry
// announces the bulletin's retraction; it is queued even for a member who
// already acknowledged the bulletin, so it has its own row. An ack of a
// bulletin id acknowledges every entry of that id.
//
// Version 4 (for the writer's cost per delivery, bench/RESULTS.md):
// - seq without AUTOINCREMENT. No row is ever deleted (an ack sets
//   acked_at_ms; status reads the rows), so max(seq) + 1, which SQLite gives
//   a new row, is above every seq ever handed out, as AUTOINCREMENT made
//   sure at the price of reading and rewriting sqlite_sequence (a page of
//   its own in the WAL) in every statement that queues.
// - The queue index holds only unacknowledged entries: an ack removes one
//   index entry instead of moving it, and the index stays the size of
//   what is pending.
constexpr const char* DeliveriesSql = R"sql(
CREATE TABLE deliveries(
  seq             INTEGER PRIMARY KEY,
  bulletin_id     BLOB NOT NULL REFERENCES bulletins(id),
  member_id       TEXT NOT NULL,
  enc_key         BLOB NOT NULL CHECK (length(enc_key) = 32),
  queued_at_ms    INTEGER NOT NULL,
  delivered_at_ms INTEGER,
  acked_at_ms     INTEGER,
  forward_id      BLOB REFERENCES forwards(id),
  retraction      INTEGER NOT NULL DEFAULT 0 CHECK (retraction IN (0, 1)),
  UNIQUE(bulletin_id, member_id, retraction)
);
CREATE INDEX deliveries_queue ON deliveries(member_id, seq) WHERE acked_at_ms IS NULL;
)sql";

// Version 3: consensus procedures. summary_records: one row per summary
// record bulletin (state = wire::RecordState; outcome_index = the log entry
// of its recordApproved, 0 = none). comments: one signed Comment per
// (record, member). proposals / decisions: signed Proposal and Decision
// records (state = wire::ProposalState; outcome_index = the admission entry).
constexpr const char* ConsensusSql = R"sql(
CREATE TABLE summary_records(
  bulletin_id    BLOB PRIMARY KEY REFERENCES bulletins(id),
  sender_id      TEXT NOT NULL,
  deadline_ms    INTEGER NOT NULL,
  revises        BLOB,
  state          INTEGER NOT NULL DEFAULT 0,
  outcome_index  INTEGER NOT NULL DEFAULT 0,
  closed_at_ms   INTEGER
);
CREATE INDEX summary_records_due ON summary_records(state, deadline_ms);
CREATE TABLE comments(
  bulletin_id    BLOB NOT NULL REFERENCES bulletins(id),
  member_id      TEXT NOT NULL,
  objection      INTEGER NOT NULL CHECK (objection IN (0, 1)),
  body           BLOB NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64),
  recorded_at_ms INTEGER NOT NULL,
  PRIMARY KEY(bulletin_id, member_id)
);
CREATE TABLE proposals(
  id             BLOB PRIMARY KEY CHECK (length(id) = 16),
  proposer_id    TEXT NOT NULL,
  body           BLOB NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64),
  expires_at_ms  INTEGER NOT NULL,
  state          INTEGER NOT NULL DEFAULT 0,
  outcome_index  INTEGER NOT NULL DEFAULT 0,
  recorded_at_ms INTEGER NOT NULL
);
CREATE TABLE decisions(
  proposal_id    BLOB NOT NULL REFERENCES proposals(id),
  member_id      TEXT NOT NULL,
  approve        INTEGER NOT NULL CHECK (approve IN (0, 1)),
  body           BLOB NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64),
  recorded_at_ms INTEGER NOT NULL,
  PRIMARY KEY(proposal_id, member_id)
);
)sql";

constexpr std::int64_t RecordPending = static_cast<std::int64_t>(wire::RecordState::PENDING);
constexpr std::int64_t RecordApprovedState = static_cast<std::int64_t>(wire::RecordState::APPROVED);
constexpr std::int64_t RecordObjected = static_cast<std::int64_t>(wire::RecordState::OBJECTED);
constexpr std::int64_t RecordWithdrawn = static_cast<std::int64_t>(wire::RecordState::WITHDRAWN);
constexpr std::int64_t RecordSuperseded = static_cast<std::int64_t>(wire::RecordState::SUPERSEDED);

// Per-item framing overhead of a Delivery inside a Deliveries frame (struct
// words, pointers, padding), generous.
constexpr std::size_t DeliveryOverheadBytes = 64;
constexpr std::size_t LogEntryOverheadBytes = 128;

std::int64_t i64(std::uint64_t v) { return static_cast<std::int64_t>(v); }
std::uint64_t u64(std::int64_t v) { return static_cast<std::uint64_t>(v); }

bool sameBytes(crypto::ByteView a, crypto::ByteView b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

template <class F>
F fixedColumn(sqlite::Statement& s, int column, const char* what) {
  auto v = F::fromBytes(s.columnBlobView(column));
  if (!v) throw std::runtime_error(std::string("database holds a ") + what + " of the wrong length");
  return *v;
}

}  // namespace

void Store::createSchema(sqlite::Database& db) {
  if (db.userVersion() != 0) throw std::runtime_error("the database already has a schema");
  sqlite::Transaction t(db);
  db.exec(SchemaSql);
  db.exec(WorkingGroupSql);
  db.exec(DeliveriesSql);
  db.exec(ConsensusSql);
  db.setUserVersion(SchemaVersion);
  t.commit();
}

bool Store::migrate(sqlite::Database& db) {
  const int v = db.userVersion();
  if (v < 1 || v >= SchemaVersion) return false;
  sqlite::Transaction t(db);
  if (v == 1) db.exec(WorkingGroupSql);
  // The queue table is rebuilt in the current form (version 1 lacked the
  // forward and retraction columns, version 3 had AUTOINCREMENT and the full
  // queue index), every entry keeping its seq: a client's fetch cursor from
  // before the upgrade still points where it did. The largest seq is the
  // largest ever handed out (rows are never deleted), so new entries follow
  // it as before.
  db.exec("DROP INDEX deliveries_queue; ALTER TABLE deliveries RENAME TO deliveries_old;");
  db.exec(DeliveriesSql);
  if (v == 1) {
    db.exec(
        "INSERT INTO deliveries(seq, bulletin_id, member_id, enc_key, queued_at_ms, delivered_at_ms, acked_at_ms) "
        "SELECT seq, bulletin_id, member_id, enc_key, queued_at_ms, delivered_at_ms, acked_at_ms FROM deliveries_old");
  } else {
    db.exec(
        "INSERT INTO deliveries(seq, bulletin_id, member_id, enc_key, queued_at_ms, delivered_at_ms, acked_at_ms, "
        "forward_id, retraction) SELECT seq, bulletin_id, member_id, enc_key, queued_at_ms, delivered_at_ms, "
        "acked_at_ms, forward_id, retraction FROM deliveries_old");
  }
  db.exec("DROP TABLE deliveries_old");
  if (v <= 2) db.exec(ConsensusSql);
  db.setUserVersion(SchemaVersion);
  t.commit();
  return true;
}

void Store::checkSchema(sqlite::Database& db) {
  const int v = db.userVersion();
  if (v != SchemaVersion) {
    throw std::runtime_error("database schema version " + std::to_string(v) + " is not the supported version " +
                             std::to_string(SchemaVersion));
  }
}

// ---- writes --------------------------------------------------------------------

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
    if (b.summaryRecord->revises) {
      // Re-checked inside the transaction: a revision replaces a record
      // whose procedure is still open (pending or objected).
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
                                 std::span<const crypto::BulletinId> ids, std::int64_t nowMs) {
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

Result<RecordOutcome> Store::insertForward(sqlite::Database& db, const NewForward& f) {
  {
    auto s = db.prepare("SELECT body, signature, recorded_at_ms FROM forwards WHERE id = ?1");
    s->bind(1, f.forwardId.view());
    if (s->step()) {
      if (sameBytes(s->columnBlobView(0), f.record.body) && sameBytes(s->columnBlobView(1), f.record.signature)) {
        return RecordOutcome{s->columnInt(2), true, {}};
      }
      return fail(wire::ErrorCode::DUPLICATE, "forward " + crypto::toHex(f.forwardId) + " exists with other bytes");
    }
  }
  {
    // Checked here, in the writer's transaction, and not only on the read
    // connection before the job was queued: a retraction committed in
    // between would otherwise be followed by this forward, whose
    // recipients the retraction's fan-out (computed in its own
    // transaction) did not include. With the check here every forward is
    // either committed before the retraction (and reached by it) or
    // refused (PROTOCOL.md §12.1 step 9, §12.3).
    auto s = db.prepare("SELECT 1 FROM retractions WHERE bulletin_id = ?1");
    s->bind(1, f.bulletinId.view());
    if (s->step()) {
      return fail(wire::ErrorCode::POLICY_DENIED, "retraction rule: bulletin " + crypto::toHex(f.bulletinId) +
                                                      " was retracted by its sender; it may not be forwarded");
    }
  }
  // Members who already hold the bulletin (its sender, its recipients, and
  // members it reached through an earlier forward) are not queued again
  // (PROTOCOL.md §12.1 step 14): a group address must resolve to all of its
  // members (the exact-match rule), and a group often overlaps the original
  // recipients and can include the original sender. Only a forward that
  // reaches nobody new is refused.
  std::vector<const NewBulletin::Recipient*> fresh;
  for (const auto& r : f.recipients) {
    auto s = db.prepare(
        "SELECT 1 FROM deliveries WHERE bulletin_id = ?1 AND member_id = ?2 AND retraction = 0 "
        "UNION ALL SELECT 1 FROM bulletins WHERE id = ?1 AND sender_id = ?2");
    s->bind(1, f.bulletinId.view()).bind(2, r.memberId);
    if (!s->step()) fresh.push_back(&r);
  }
  if (fresh.empty()) {
    return fail(wire::ErrorCode::INVALID_REQUEST, "every recipient of this forward already received the bulletin or sent it (" +
                                                      f.recipients.front().memberId +
                                                      (f.recipients.size() > 1 ? ", ..." : "") + ")");
  }
  {
    auto s = db.prepare(
        "INSERT INTO forwards(id, bulletin_id, forwarder_id, body, signature, recorded_at_ms) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    s->bind(1, f.forwardId.view())
        .bind(2, f.bulletinId.view())
        .bind(3, f.forwarderId)
        .bind(4, f.record.body)
        .bind(5, f.record.signature)
        .bind(6, f.recordedAtMs);
    s->run();
  }
  RecordOutcome out;
  out.recordedAtMs = f.recordedAtMs;
  for (const auto* r : fresh) {
    auto s = db.prepare(
        "INSERT INTO deliveries(bulletin_id, member_id, enc_key, queued_at_ms, forward_id) VALUES(?1, ?2, ?3, ?4, ?5)");
    s->bind(1, f.bulletinId.view())
        .bind(2, r->memberId)
        .bind(3, r->encryptionKey.view())
        .bind(4, f.recordedAtMs)
        .bind(5, f.forwardId.view());
    s->run();
    out.queued.push_back(QueuedDelivery{r->memberId, db.lastInsertRowid()});
  }
  return out;
}

void Store::insertPermission(sqlite::Database& db, const crypto::BulletinId& bulletinId,
                             const std::vector<std::string>& grantees, const StoredRecord& record, std::int64_t nowMs) {
  for (const auto& g : grantees) {
    auto s = db.prepare(
        "INSERT OR REPLACE INTO permissions(bulletin_id, member_id, body, signature, recorded_at_ms) "
        "VALUES(?1, ?2, ?3, ?4, ?5)");
    s->bind(1, bulletinId.view()).bind(2, g).bind(3, record.body).bind(4, record.signature).bind(5, nowMs);
    s->run();
  }
}

Result<RecordOutcome> Store::insertRetraction(sqlite::Database& db, const NewRetraction& r) {
  {
    auto s = db.prepare("SELECT body, signature, recorded_at_ms FROM retractions WHERE bulletin_id = ?1");
    s->bind(1, r.bulletinId.view());
    if (s->step()) {
      if (sameBytes(s->columnBlobView(0), r.record.body) && sameBytes(s->columnBlobView(1), r.record.signature)) {
        return RecordOutcome{s->columnInt(2), true, {}};
      }
      return fail(wire::ErrorCode::DUPLICATE, "bulletin " + crypto::toHex(r.bulletinId) + " is already retracted");
    }
  }
  {
    auto s = db.prepare("INSERT INTO retractions(bulletin_id, body, signature, recorded_at_ms) VALUES(?1, ?2, ?3, ?4)");
    s->bind(1, r.bulletinId.view()).bind(2, r.record.body).bind(3, r.record.signature).bind(4, r.recordedAtMs);
    s->run();
  }
  {
    // Retracting a summary record whose procedure is open withdraws it. An
    // approved record stays approved: its log entry is permanent.
    auto s = db.prepare("UPDATE summary_records SET state = ?2, closed_at_ms = ?3 "
                        "WHERE bulletin_id = ?1 AND state IN (?4, ?5)");
    s->bind(1, r.bulletinId.view()).bind(2, RecordWithdrawn).bind(3, r.recordedAtMs).bind(4, RecordPending).bind(5, RecordObjected);
    s->run();
  }
  std::vector<std::string> members;
  {
    auto s = db.prepare(
        "INSERT INTO deliveries(bulletin_id, member_id, enc_key, queued_at_ms, forward_id, retraction) "
        "SELECT bulletin_id, member_id, enc_key, ?2, forward_id, 1 FROM deliveries "
        "WHERE bulletin_id = ?1 AND retraction = 0 ORDER BY seq");
    s->bind(1, r.bulletinId.view()).bind(2, r.recordedAtMs);
    s->run();
  }
  RecordOutcome out;
  out.recordedAtMs = r.recordedAtMs;
  auto s = db.prepare("SELECT member_id, seq FROM deliveries WHERE bulletin_id = ?1 AND retraction = 1 ORDER BY seq");
  s->bind(1, r.bulletinId.view());
  while (s->step()) out.queued.push_back(QueuedDelivery{s->columnText(0), s->columnInt(1)});
  return out;
}

Result<RecordOutcome> Store::insertComment(sqlite::Database& db, const NewComment& c) {
  {
    auto s = db.prepare("SELECT body, signature, recorded_at_ms FROM comments WHERE bulletin_id = ?1 AND member_id = ?2");
    s->bind(1, c.recordId.view()).bind(2, c.memberId);
    if (s->step()) {
      if (sameBytes(s->columnBlobView(0), c.record.body) && sameBytes(s->columnBlobView(1), c.record.signature)) {
        return RecordOutcome{s->columnInt(2), true, {}};
      }
      return fail(wire::ErrorCode::DUPLICATE,
                  c.memberId + " already commented on summary record " + crypto::toHex(c.recordId));
    }
  }
  {
    // The window is judged again inside the transaction: the silence
    // procedure may have closed the record since the request was checked.
    auto s = db.prepare("SELECT state FROM summary_records WHERE bulletin_id = ?1");
    s->bind(1, c.recordId.view());
    if (!s->step()) return fail(wire::ErrorCode::INVALID_REQUEST, "not a summary record");
    const auto state = s->columnInt(0);
    if (state != RecordPending && state != RecordObjected) {
      return fail(wire::ErrorCode::POLICY_DENIED, "silence procedure rule: the record's procedure is closed");
    }
  }
  {
    auto s = db.prepare(
        "INSERT INTO comments(bulletin_id, member_id, objection, body, signature, recorded_at_ms) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    s->bind(1, c.recordId.view())
        .bind(2, c.memberId)
        .bind(3, std::int64_t{c.objection ? 1 : 0})
        .bind(4, c.record.body)
        .bind(5, c.record.signature)
        .bind(6, c.recordedAtMs);
    s->run();
  }
  if (c.objection) {
    auto s = db.prepare("UPDATE summary_records SET state = ?2 WHERE bulletin_id = ?1 AND state = ?3");
    s->bind(1, c.recordId.view()).bind(2, RecordObjected).bind(3, RecordPending);
    s->run();
  }
  return RecordOutcome{c.recordedAtMs, false, {}};
}

Result<Ok> Store::approveRecord(sqlite::Database& db, const crypto::BulletinId& recordId, const StoredLogEntry& entry,
                                const StoredHead& head) {
  {
    auto s = db.prepare("SELECT state FROM summary_records WHERE bulletin_id = ?1");
    s->bind(1, recordId.view());
    if (!s->step() || s->columnInt(0) != RecordPending) {
      // An objection, a revision or a withdrawal committed first.
      return fail(wire::ErrorCode::POLICY_DENIED, "the record is no longer pending");
    }
  }
  if (auto ok = appendLogEntry(db, entry, head); !ok) return ok;
  auto s = db.prepare("UPDATE summary_records SET state = ?2, outcome_index = ?3, closed_at_ms = ?4 WHERE bulletin_id = ?1");
  s->bind(1, recordId.view()).bind(2, RecordApprovedState).bind(3, i64(entry.index)).bind(4, entry.recordedAtMs);
  s->run();
  return Ok{};
}

Result<RecordOutcome> Store::insertProposal(sqlite::Database& db, const crypto::BulletinId& id,
                                           std::string_view proposerId, const StoredRecord& record,
                                           std::int64_t expiresAtMs, std::int64_t nowMs) {
  {
    auto s = db.prepare("SELECT body, signature, recorded_at_ms FROM proposals WHERE id = ?1");
    s->bind(1, id.view());
    if (s->step()) {
      if (sameBytes(s->columnBlobView(0), record.body) && sameBytes(s->columnBlobView(1), record.signature)) {
        return RecordOutcome{s->columnInt(2), true, {}};
      }
      return fail(wire::ErrorCode::DUPLICATE, "proposal " + crypto::toHex(id) + " already exists");
    }
  }
  auto s = db.prepare(
      "INSERT INTO proposals(id, proposer_id, body, signature, expires_at_ms, state, recorded_at_ms) "
      "VALUES(?1, ?2, ?3, ?4, ?5, 0, ?6)");
  s->bind(1, id.view()).bind(2, proposerId).bind(3, record.body).bind(4, record.signature).bind(5, expiresAtMs).bind(6, nowMs);
  s->run();
  return RecordOutcome{nowMs, false, {}};
}

Result<RecordOutcome> Store::insertDecision(sqlite::Database& db, const crypto::BulletinId& proposalId,
                                           std::string_view memberId, bool approve, const StoredRecord& record,
                                           std::int64_t nowMs) {
  {
    auto s = db.prepare("SELECT body, signature, recorded_at_ms FROM decisions WHERE proposal_id = ?1 AND member_id = ?2");
    s->bind(1, proposalId.view()).bind(2, memberId);
    if (s->step()) {
      if (sameBytes(s->columnBlobView(0), record.body) && sameBytes(s->columnBlobView(1), record.signature)) {
        return RecordOutcome{s->columnInt(2), true, {}};
      }
      return fail(wire::ErrorCode::DUPLICATE, std::string(memberId) + " already decided on this proposal");
    }
  }
  {
    auto s = db.prepare("SELECT state FROM proposals WHERE id = ?1");
    s->bind(1, proposalId.view());
    if (!s->step()) return fail(wire::ErrorCode::NOT_FOUND, "no such proposal");
    if (s->columnInt(0) != static_cast<std::int64_t>(wire::ProposalState::OPEN)) {
      return fail(wire::ErrorCode::POLICY_DENIED, "consensus rule: the proposal is closed");
    }
  }
  {
    auto s = db.prepare(
        "INSERT INTO decisions(proposal_id, member_id, approve, body, signature, recorded_at_ms) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    s->bind(1, proposalId.view())
        .bind(2, memberId)
        .bind(3, std::int64_t{approve ? 1 : 0})
        .bind(4, record.body)
        .bind(5, record.signature)
        .bind(6, nowMs);
    s->run();
  }
  if (!approve) {
    auto s = db.prepare("UPDATE proposals SET state = ?2 WHERE id = ?1");
    s->bind(1, proposalId.view()).bind(2, static_cast<std::int64_t>(wire::ProposalState::REJECTED));
    s->run();
  }
  return RecordOutcome{nowMs, false, {}};
}

Result<Ok> Store::adoptProposal(sqlite::Database& db, const crypto::BulletinId& proposalId, const StoredLogEntry& entry,
                                const StoredHead& head) {
  {
    auto s = db.prepare("SELECT state FROM proposals WHERE id = ?1");
    s->bind(1, proposalId.view());
    if (!s->step() || s->columnInt(0) != static_cast<std::int64_t>(wire::ProposalState::OPEN)) {
      return fail(wire::ErrorCode::POLICY_DENIED, "consensus rule: the proposal is closed");
    }
  }
  if (auto ok = appendLogEntry(db, entry, head); !ok) return ok;
  auto s = db.prepare("UPDATE proposals SET state = ?2, outcome_index = ?3 WHERE id = ?1");
  s->bind(1, proposalId.view()).bind(2, static_cast<std::int64_t>(wire::ProposalState::ADOPTED)).bind(3, i64(entry.index));
  s->run();
  return Ok{};
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

std::optional<SummaryRecordRow> Store::summaryRecord(const crypto::BulletinId& id) {
  SummaryRecordRow row;
  {
    auto s = db_.prepare(
        "SELECT sr.sender_id, sr.deadline_ms, sr.state, sr.outcome_index, b.header FROM summary_records sr "
        "JOIN bulletins b ON b.id = sr.bulletin_id WHERE sr.bulletin_id = ?1");
    s->bind(1, id.view());
    if (!s->step()) return std::nullopt;
    row.id = id;
    row.senderId = s->columnText(0);
    row.deadlineMs = s->columnInt(1);
    row.state = static_cast<wire::RecordState>(s->columnInt(2));
    row.outcomeIndex = u64(s->columnInt(3));
    row.header = s->columnBlob(4);
  }
  {
    auto s = db_.prepare(
        "SELECT member_id, objection, body, signature FROM comments WHERE bulletin_id = ?1 ORDER BY member_id");
    s->bind(1, id.view());
    while (s->step()) {
      row.comments.push_back(SummaryRecordRow::CommentRow{s->columnText(0), s->columnInt(1) != 0,
                                                          StoredRecord{s->columnBlob(2), s->columnBlob(3)}});
    }
  }
  {
    // Original recipients who acknowledged the record (a forward recipient
    // is not a party to the procedure).
    auto s = db_.prepare(
        "SELECT member_id FROM deliveries WHERE bulletin_id = ?1 AND retraction = 0 AND forward_id IS NULL "
        "AND acked_at_ms IS NOT NULL ORDER BY member_id");
    s->bind(1, id.view());
    while (s->step()) row.acknowledgedBy.push_back(s->columnText(0));
  }
  return row;
}

namespace {

ProposalRow proposalRow(sqlite::Database& db, sqlite::Statement& s) {
  ProposalRow row;
  row.id = fixedColumn<crypto::BulletinId>(s, 0, "proposal id");
  row.proposerId = s.columnText(1);
  row.record = StoredRecord{s.columnBlob(2), s.columnBlob(3)};
  row.expiresAtMs = s.columnInt(4);
  row.state = static_cast<wire::ProposalState>(s.columnInt(5));
  row.outcomeIndex = u64(s.columnInt(6));
  auto d = db.prepare(
      "SELECT member_id, approve, body, signature FROM decisions WHERE proposal_id = ?1 ORDER BY member_id");
  d->bind(1, row.id.view());
  while (d->step()) {
    row.decisions.push_back(ProposalRow::DecisionRow{d->columnText(0), d->columnInt(1) != 0,
                                                     StoredRecord{d->columnBlob(2), d->columnBlob(3)}});
  }
  return row;
}

}  // namespace

std::optional<ProposalRow> Store::proposal(const crypto::BulletinId& id) {
  auto s = db_.prepare(
      "SELECT id, proposer_id, body, signature, expires_at_ms, state, outcome_index FROM proposals WHERE id = ?1");
  s->bind(1, id.view());
  if (!s->step()) return std::nullopt;
  return proposalRow(db_, *s);
}

std::vector<ProposalRow> Store::proposals(std::size_t limit) {
  std::vector<ProposalRow> out;
  auto s = db_.prepare(
      "SELECT id, proposer_id, body, signature, expires_at_ms, state, outcome_index FROM proposals "
      "ORDER BY recorded_at_ms DESC, id LIMIT ?1");
  s->bind(1, static_cast<std::int64_t>(limit));
  while (s->step()) out.push_back(proposalRow(db_, *s));
  return out;
}

std::vector<crypto::BulletinId> Store::dueRecords(std::int64_t nowMs, std::size_t limit) {
  std::vector<crypto::BulletinId> out;
  auto s = db_.prepare(
      "SELECT bulletin_id FROM summary_records WHERE state = ?1 AND deadline_ms <= ?2 ORDER BY deadline_ms LIMIT ?3");
  s->bind(1, RecordPending).bind(2, nowMs).bind(3, static_cast<std::int64_t>(limit));
  while (s->step()) out.push_back(fixedColumn<crypto::BulletinId>(*s, 0, "bulletin id"));
  return out;
}

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
    if (!s->step()) return std::nullopt;
    out.senderId = s->columnText(0);
  }
  auto s = db_.prepare(
      "SELECT member_id, queued_at_ms, delivered_at_ms, acked_at_ms, seq FROM deliveries WHERE bulletin_id = ?1 "
      "AND retraction = 0 ORDER BY member_id");
  s->bind(1, id.view());
  while (s->step()) {
    out.recipients.push_back(RecipientState{s->columnInt(4), s->columnText(0), s->columnInt(1),
                                            s->columnIsNull(2) ? 0 : s->columnInt(2),
                                            s->columnIsNull(3) ? 0 : s->columnInt(3)});
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

std::optional<bool> Store::heldThroughForward(std::string_view memberId, const crypto::BulletinId& id) {
  auto s = db_.prepare(
      "SELECT forward_id IS NOT NULL FROM deliveries WHERE bulletin_id = ?1 AND member_id = ?2 AND retraction = 0");
  s->bind(1, id.view()).bind(2, memberId);
  if (!s->step()) return std::nullopt;
  return s->columnInt(0) != 0;
}

bool Store::hasPermission(std::string_view memberId, const crypto::BulletinId& id) {
  auto s = db_.prepare("SELECT 1 FROM permissions WHERE bulletin_id = ?1 AND member_id = ?2");
  s->bind(1, id.view()).bind(2, memberId);
  return s->step();
}

std::optional<StoredRecord> Store::forwardRecord(const crypto::BulletinId& forwardId) {
  auto s = db_.prepare("SELECT body, signature FROM forwards WHERE id = ?1");
  s->bind(1, forwardId.view());
  if (!s->step()) return std::nullopt;
  return StoredRecord{s->columnBlob(0), s->columnBlob(1)};
}

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

std::optional<StoredHead> Store::head(std::uint64_t size) {
  auto s = db_.prepare("SELECT head, signature FROM log_heads WHERE size = ?1");
  s->bind(1, i64(size));
  if (!s->step()) return std::nullopt;
  return StoredHead{size, s->columnBlob(0), fixedColumn<crypto::Signature>(*s, 1, "head signature")};
}

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
    if (!s->step() || s->columnInt(0) == 0) return hidden();
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

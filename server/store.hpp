// The SQLite engine of the hub's store (DESIGN.md §6): durable state in one
// SQLite file, behind the store boundary (server/ARCHITECTURE.md, "The store
// boundary"). Above it the request layer names only the commands
// (store_commands.hpp), the values (store_types.hpp) and Store's typed read
// queries; nothing above it names a SQLite type.
//
// Two halves with different rules:
//  - write operations are static functions that run on the commit thread's
//    connection, in a group transaction of CommitQueue. They never
//    BEGIN/COMMIT themselves; a refusal returns a HubError and CommitQueue
//    undoes whatever that request changed (commit_queue.hpp); a SQLite
//    failure throws sqlite::Error. They may run twice and read nothing
//    but the database and their arguments; refusing before the first
//    write is the cheap way (no savepoint needed). store::execute maps
//    each write command to them.
//  - read operations are members and use the Store's own read-only
//    connection (io thread). In WAL mode they see only committed data.
//
// The code is split by aggregate: store_schema.cpp (tables, migration
// steps), store_queue.cpp (bulletins, deliveries, acks), store_uploads.cpp
// (blobs), store_log.cpp (directory log and audit trail), store_records.cpp
// (forwards, permissions, retractions), store_consensus.cpp (summary records,
// proposals), store_commands.cpp (command -> engine). Refinements over the
// first sketch: blobs are keyed by an upload id and owned by their uploader
// (UNIQUE(owner_id, hash)), so nobody can squat on or finish someone else's
// upload; bulletin_blobs points at the upload id.
#pragma once

#include "server/store_commands.hpp"
#include "server/store_types.hpp"
#include "server/sqlite.hpp"

#include <filesystem>
#include <span>

namespace focal::server {

class Store {
 public:
  static constexpr int SchemaVersion = 9;
  // Uploads that never finish, and finished blobs no bulletin refers to, are
  // garbage after this long.
  static constexpr std::int64_t GarbageAgeMs = 24ll * 60 * 60 * 1000;

  // Creates every table in an empty database (focald init). Throws
  // sqlite::Error, or std::runtime_error if the database is not empty.
  // An older `version` is made as version 1 made it, then brought up by the
  // migration steps: a database as the field has it, for the steps' tests.
  static void createSchema(sqlite::Database& db, int version = SchemaVersion);
  // Refuses a database whose schema version this build does not know: an
  // older one (run migrate first), a newer one (written by a newer focald;
  // this one never downgrades), or none (not a hub database).
  static void checkSchema(sqlite::Database& db);
  // Upgrades an older schema in place, one numbered step at a time (version
  // N -> N+1, store_schema.cpp), all in one transaction, recording the
  // version reached; stops at `toVersion` (tests walk the steps one by one).
  // Every queue entry keeps its seq. Returns whether it changed anything; a
  // database of no or a newer version is left alone (checkSchema refuses it).
  static bool migrate(sqlite::Database& db, int toVersion = SchemaVersion);

  // The same on the database file, for focald's startup and `check`:
  // process-wide SQLite settings (before any connection opens), the upgrade
  // (read-write), the check (read-only), and the io thread's read-only
  // Store with its schema checked. Throw sqlite::Error or std::runtime_error.
  static void configureProcess();
  static bool migrateFile(const std::filesystem::path& dbPath);
  static void checkSchemaFile(const std::filesystem::path& dbPath);
  static Store openReader(const std::filesystem::path& dbPath);

  // ---- writes (commit thread, in a group transaction) -------------------------

  // Stores the bulletin once and queues one delivery per recipient.
  // Same id with the same header, signature and ciphertext: alreadyAccepted.
  // Same id with different bytes: duplicate. Every attachment must be a
  // complete upload of the sender of the same size: notFound / invalidRequest.
  static Result<SendOutcome> insertBulletin(sqlite::Database& db, const NewBulletin& b);

  // Sets acked_at for (member, id) rows not yet acknowledged; returns how
  // many. `heads` (empty, or one per id): the sealed head kept for an id
  // this ack acknowledged (ack_heads; the first ack's head stays).
  static std::uint32_t acknowledge(sqlite::Database& db, std::string_view memberId,
                                   std::span<const crypto::BulletinId> ids, std::span<const crypto::Bytes> heads,
                                   std::int64_t nowMs);
  static std::uint32_t acknowledge(sqlite::Database& db, std::string_view memberId,
                                   std::span<const crypto::BulletinId> ids, std::int64_t nowMs) {
    return acknowledge(db, memberId, ids, {}, nowMs);
  }

  // Keeps a signed ack (AckBody bytes + signature) as proof of receipt.
  static void recordAck(sqlite::Database& db, std::string_view memberId, crypto::ByteView body,
                        const crypto::Signature& signature, std::int64_t nowMs);

  // Sets delivered_at where it is still unset: each mark its own time, in
  // statements of 16 rows (a CASE picks each row's time), so the batching
  // costs no more than one time for all.
  static void markDelivered(sqlite::Database& db, std::span<const DeliveredMark> marks);
  // The same time for all (tests, benchmarks).
  static void markDelivered(sqlite::Database& db, std::span<const std::int64_t> seqs, std::int64_t nowMs);

  // Creates an upload owned by `ownerId`, or returns the existing one for the
  // same (owner, hash) so a client can resume. A different size for an
  // existing upload is invalidRequest; more than `maxOpenUploads` unfinished
  // uploads for one owner is rateLimited.
  static Result<UploadRow> beginUpload(sqlite::Database& db, std::string_view ownerId, const crypto::Hash256& hash,
                                       std::uint64_t size, std::int64_t nowMs, std::uint32_t maxOpenUploads);

  // Appends one chunk at exactly the received offset. `last` says the chunk
  // ends the blob; `hashMatches` is the caller's BLAKE2b-256 verdict on the
  // whole blob (ignored unless `last`). A mismatching blob is deleted and
  // reported with rejected = true (the deletion commits; it is not a refusal).
  static Result<ChunkOutcome> appendChunk(sqlite::Database& db, std::uint64_t uploadId, std::string_view ownerId,
                                          std::uint64_t offset, crypto::ByteView data, bool hashMatches);

  // Appends a log entry and the head signed for the new size. The entry's
  // index must be exactly the next one (else internal: the directory and the
  // database disagree, which is a bug).
  static Result<Ok> appendLogEntry(sqlite::Database& db, const StoredLogEntry& entry, const StoredHead& head);
  // Each witness's latest cosignature (store::StoreCosignature).
  static Result<Ok> storeCosignature(sqlite::Database& db, std::uint64_t size, const protocol::Cosignature& c);

  // Replaces the head of the current size (head.size must be the number of
  // entries: else internal) with a newer signed one.
  static Result<Ok> refreshHead(sqlite::Database& db, const StoredHead& head);

  // Creates the audit table in a database made before it existed.
  static void ensureAuditTable(sqlite::Database& db);
  // Appends one audit row chained to the last one; returns its index.
  static Result<std::uint64_t> appendAudit(sqlite::Database& db, const AuditRecord& record);

  // Stores a checked forward and queues the bulletin for each new recipient
  // (with the forward's id, so a fetch carries the record). A recipient who
  // already holds the bulletin is not queued again; a forward that reaches
  // nobody new is invalidRequest. The same forward id with the same bytes is
  // `already`, with other bytes `duplicate`.
  static Result<RecordOutcome> insertForward(sqlite::Database& db, const NewForward& f);

  // Records an originator's permission for each grantee (replacing an older
  // one for the same grantee).
  static void insertPermission(sqlite::Database& db, const crypto::BulletinId& bulletinId,
                               const std::vector<std::string>& grantees, const StoredRecord& record,
                               std::int64_t nowMs);

  // Stores a checked retraction and queues an announcement for every member
  // the bulletin reached (original and forward recipients, acknowledged or
  // not). A second, identical retraction is `already`; a different one is
  // `duplicate`.
  static Result<RecordOutcome> insertRetraction(sqlite::Database& db, const NewRetraction& r);

  // Stores a checked comment on an open summary record; an objection moves
  // the record from pending to objected. The same member again: identical
  // bytes are `already`, anything else `duplicate`; a closed procedure is
  // policyDenied.
  static Result<RecordOutcome> insertComment(sqlite::Database& db, const NewComment& c);
  // The silence procedure's outcome: appends the hub-signed recordApproved
  // entry and marks the record approved, only if it is still pending (else
  // policyDenied and nothing is written).
  static Result<Ok> approveRecord(sqlite::Database& db, const crypto::BulletinId& recordId, const StoredLogEntry& entry,
                                  const StoredHead& head);
  // A checked proposal; the same id again: identical bytes `already`,
  // else `duplicate`.
  static Result<RecordOutcome> insertProposal(sqlite::Database& db, const crypto::BulletinId& id,
                                              std::string_view proposerId, const StoredRecord& record,
                                              std::int64_t expiresAtMs, std::int64_t nowMs);
  // A checked decision on an open proposal (re-checked here: policyDenied
  // once it is closed); a rejection closes it as rejected. The same member
  // again: identical bytes `already`, else `duplicate`. `sealedHead`
  // (non-empty) is kept beside a new decision (decision_heads).
  static Result<RecordOutcome> insertDecision(sqlite::Database& db, const crypto::BulletinId& proposalId,
                                              std::string_view memberId, bool approve, const StoredRecord& record,
                                              crypto::ByteView sealedHead, std::int64_t nowMs);
  // Appends the hub-signed admission entry and marks the proposal adopted,
  // only while it is still open (else policyDenied, nothing written).
  static Result<Ok> adoptProposal(sqlite::Database& db, const crypto::BulletinId& proposalId,
                                  const StoredLogEntry& entry, const StoredHead& head);
  // A checked meeting record; the same id again: identical bytes
  // `already`, else `duplicate`.
  static Result<RecordOutcome> insertMeeting(sqlite::Database& db, const NewMeeting& m);
  // A checked action item with its sealed text. The same id again:
  // identical bytes `already`, else `duplicate`.
  static Result<RecordOutcome> insertAction(sqlite::Database& db, const NewAction& a);
  // A checked update, appended only while the item's chain tip is still
  // u.previous (else invalidRequest: the item changed meanwhile, and nothing
  // is written); the item takes its status and a new tip. The same record
  // again is `already`.
  static Result<RecordOutcome> insertActionUpdate(sqlite::Database& db, const NewActionUpdate& u);
  static void markActionsReminded(sqlite::Database& db, const std::vector<crypto::BulletinId>& ids, std::int64_t day);
  // Deletes unfinished uploads and unreferenced finished blobs older than
  // GarbageAgeMs. Returns the number of uploads removed.
  static std::uint64_t purgeGarbage(sqlite::Database& db, std::int64_t nowMs);

  // ---- retention (store_retention.cpp) ---------------------------------------------
  // The audit event of a purge batch; its detail holds counts only.
  static constexpr const char* RetentionAuditEvent = "retention.purge";
  // One purge batch removes at most this many bulletins and, beyond its
  // first bulletin, this many attachment bytes: a batch is one commit on
  // the writer thread, and other writes wait behind it.
  static constexpr std::size_t PurgeBatchBulletins = 100;
  static constexpr std::uint64_t MaxPurgeBatchBytes = 256ull * 1024 * 1024;
  // Purges up to `maxBulletins` bulletins `policy` says are due at `nowMs`
  // (oldest first per TLP level): each with its queue entries, ack heads,
  // attachment links, forwards, permissions, retraction, comments and
  // closed summary-record row, the blobs no remaining bulletin refers to,
  // a tombstone in expired_bulletins, and one audit row for the batch.
  // `more`: the batch stopped at a bound and more is due.
  static RetentionTally purgeExpired(sqlite::Database& db, const RetentionPolicy& policy, std::int64_t nowMs,
                                     std::size_t maxBulletins = PurgeBatchBulletins);
  // What purgeExpired would remove at `nowMs`, all batches together; reads
  // only (a read-only connection will do, the hub may be running).
  static RetentionTally retentionDue(sqlite::Database& db, const RetentionPolicy& policy, std::int64_t nowMs);
  // The tombstone of a bulletin retention purged (either connection).
  static std::optional<ExpiredBulletin> expiredBulletin(sqlite::Database& db, const crypto::BulletinId& id);

  // ---- reads (io thread, read-only connection) -----------------------------------

  explicit Store(sqlite::Database reader) : db_(std::move(reader)) {}

  // Unacknowledged deliveries of `memberId` with seq > afterSeq, oldest
  // first, at most `limit`, stopping before the items' bytes would exceed
  // `maxBytes` (at least one item is returned if any exists).
  FetchPage fetch(std::string_view memberId, std::int64_t afterSeq, std::uint32_t limit, std::size_t maxBytes);

  std::optional<BulletinStatus> status(const crypto::BulletinId& id);

  std::optional<BulletinRow> bulletin(const crypto::BulletinId& id);
  std::optional<SummaryRecordRow> summaryRecord(const crypto::BulletinId& id);
  std::optional<ProposalRow> proposal(const crypto::BulletinId& id);
  // Every proposal, newest first, at most `limit`.
  std::vector<ProposalRow> proposals(std::size_t limit);
  // Every meeting, oldest first (by date, then recording), at most `limit`.
  std::vector<MeetingRow> meetings(std::size_t limit);
  std::optional<MeetingRow> meeting(const crypto::BulletinId& id);
  // An action item with its updates, in the order they were accepted.
  std::optional<ActionRow> action(const crypto::BulletinId& id);
  // Every action item with its updates, by due day then id, at most `limit`.
  std::vector<ActionRow> actions(std::size_t limit);
  // Open or in-progress items due by `dueBeforeMs` (the end of their due
  // day) not yet reminded on UTC day `day`, soonest first.
  std::vector<DueAction> dueActions(std::int64_t dueBeforeMs, std::int64_t day, std::size_t limit);
  // Pending summary records whose comment deadline is <= nowMs, oldest first.
  std::vector<crypto::BulletinId> dueRecords(std::int64_t nowMs, std::size_t limit);
  // acceptedAtMs of bulletin `id` if it is stored with exactly these bytes
  // (an idempotent resend), else nullopt.
  std::optional<std::int64_t> acceptedWithSameBytes(const crypto::BulletinId& id, crypto::ByteView header,
                                                    const crypto::Signature& signature, crypto::ByteView ciphertext);
  // How `memberId` holds bulletin `id`: nullopt = not at all; false = an
  // original recipient; true = through a forward.
  std::optional<bool> heldThroughForward(std::string_view memberId, const crypto::BulletinId& id);
  bool hasPermission(std::string_view memberId, const crypto::BulletinId& id);
  // The stored forward record of `forwardId`, for pushing.
  std::optional<StoredRecord> forwardRecord(const crypto::BulletinId& forwardId);

  // Log entries from `from`, at most `limit`, stopping before `maxBytes`.
  std::vector<StoredLogEntry> logEntries(std::uint64_t from, std::uint32_t limit, std::size_t maxBytes);
  std::optional<StoredHead> head(std::uint64_t size);
  // The stored cosignatures of heads of `size` entries, one per witness
  // (the caller checks them against the log's policy and root).
  std::vector<protocol::Cosignature> cosignatures(std::uint64_t size);
  // Audit rows from `from`, at most `limit`, stopping before `maxBytes`.
  std::vector<AuditRecord> auditEntries(std::uint64_t from, std::uint32_t limit, std::size_t maxBytes);
  // The detail of the last audit row of `event`, if any (a scan of the
  // audit table: used once at start).
  std::optional<std::string> lastAuditDetail(std::string_view event);

  // A slice of a blob attached to bulletin `id`, for a member that is its
  // sender or one of its recipients (else notFound).
  Result<BlobSlice> download(std::string_view memberId, const crypto::BulletinId& id, const crypto::Hash256& hash,
                             std::uint64_t offset, std::uint32_t length);

  std::optional<UploadRow> upload(std::uint64_t id);
  // The stored chunk of an upload that starts at `offset` (chunks are
  // contiguous), for recomputing a hash after a restart one chunk at a time.
  std::optional<crypto::Bytes> chunkAt(std::uint64_t uploadId, std::uint64_t offset);

  // The read connection itself: tests and tools only.
  sqlite::Database& database() { return db_; }

 private:
  sqlite::Database db_;
};

namespace store {

// Runs one write command on the writer's connection, in the commit queue's
// group transaction (store_commands.cpp). CommitQueue::submit
// calls these; nothing above the store does.
Result<SendOutcome> execute(sqlite::Database& db, const StoreBulletin& c);
Result<std::uint32_t> execute(sqlite::Database& db, const Acknowledge& c);
Result<Ok> execute(sqlite::Database& db, const MarkDelivered& c);
Result<UploadRow> execute(sqlite::Database& db, const BeginUpload& c);
Result<ChunkOutcome> execute(sqlite::Database& db, const AppendChunk& c);
Result<std::uint64_t> execute(sqlite::Database& db, const PurgeGarbage& c);
Result<RetentionTally> execute(sqlite::Database& db, const PurgeExpired& c);
Result<Ok> execute(sqlite::Database& db, const AppendLogEntry& c);
Result<Ok> execute(sqlite::Database& db, const RefreshHead& c);
Result<Ok> execute(sqlite::Database& db, const StoreCosignature& c);
Result<std::uint64_t> execute(sqlite::Database& db, const AppendAudit& c);
Result<RecordOutcome> execute(sqlite::Database& db, const StoreForward& c);
Result<Ok> execute(sqlite::Database& db, const GrantPermission& c);
Result<RecordOutcome> execute(sqlite::Database& db, const StoreRetraction& c);
Result<RecordOutcome> execute(sqlite::Database& db, const StoreComment& c);
Result<Ok> execute(sqlite::Database& db, const ApproveRecord& c);
Result<RecordOutcome> execute(sqlite::Database& db, const StoreProposal& c);
Result<RecordOutcome> execute(sqlite::Database& db, const StoreDecision& c);
Result<Ok> execute(sqlite::Database& db, const AdoptProposal& c);
Result<RecordOutcome> execute(sqlite::Database& db, const StoreMeeting& c);
Result<RecordOutcome> execute(sqlite::Database& db, const StoreAction& c);
Result<RecordOutcome> execute(sqlite::Database& db, const StoreActionUpdate& c);
Result<Ok> execute(sqlite::Database& db, const MarkActionsReminded& c);

}  // namespace store

}  // namespace focal::server

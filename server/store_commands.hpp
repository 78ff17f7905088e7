// The store's write commands: one plain struct per kind of durable change,
// submitted to the commit queue (`commits.submit(store::Acknowledge{...},
// token)`), which runs it in the single writer's transaction and completes
// with Result<Command::Reply> only after COMMIT (server/commit_queue.hpp).
// The request layer names these and nothing of SQLite; the engine maps each
// to its statements (store::execute in server/store.hpp, store_commands.cpp).
// A second engine implements the same execute() set (server/ARCHITECTURE.md,
// "The store boundary").
//
// Data a requester still reads after the reply (the bulletin it pushes, the
// log entry it applies) is shared through shared_ptr<const T>: the writer
// thread and the io thread read it, neither changes it.
#pragma once

#include "crypto/types.hpp"
#include "server/store_types.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace focal::server::store {

// What a command does to the disk. Essential commands still run on a full
// disk, in the space the commit queue's reserve gave back (they update or
// delete rows and add a few bytes at most); Normal ones are refused there.
enum class WriteClass { Normal, Essential };

template <class C>
concept WriteCommand = requires { typename C::Reply; };

// C::writeClass where the command declares one, else Normal.
template <WriteCommand C>
constexpr WriteClass writeClassOf() {
  if constexpr (requires { C::writeClass; }) {
    return C::writeClass;
  } else {
    return WriteClass::Normal;
  }
}

// A command that stores one new value its requester built, with the
// engine's rules for that kind (Store::insertBulletin, insertForward, ...).
template <class T, class R>
struct Insert {
  using Reply = R;
  std::shared_ptr<const T> value;
};

// ---- queue and deliveries (store_queue.cpp) ----------------------------------------

// Stores the bulletin once and queues one delivery per recipient (see
// Store::insertBulletin for the idempotence and attachment rules).
using StoreBulletin = Insert<NewBulletin, SendOutcome>;

// Acknowledges `ids` for `memberId`; when that removed anything, keeps the
// signed ack (AckBody bytes + signature) as proof of receipt, and for each
// id it acknowledged now the sealed head the ack carried for it (`heads`:
// empty, or one per id). Reply: how many queue entries it acknowledged.
struct Acknowledge {
  using Reply = std::uint32_t;
  static constexpr WriteClass writeClass = WriteClass::Essential;
  std::string memberId;
  std::vector<crypto::BulletinId> ids;
  std::vector<crypto::Bytes> heads;
  crypto::Bytes body;
  crypto::Signature signature;
  std::int64_t nowMs = 0;
};

// Sets delivered_at of each entry still unset, each mark its own time.
struct MarkDelivered {
  using Reply = Ok;
  static constexpr WriteClass writeClass = WriteClass::Essential;
  std::shared_ptr<const std::vector<DeliveredMark>> marks;
};

// ---- uploads (store_uploads.cpp) ---------------------------------------------------------

// Creates an upload, or returns the owner's existing one of the same hash.
struct BeginUpload {
  using Reply = UploadRow;
  std::string ownerId;
  crypto::Hash256 hash;
  std::uint64_t size = 0;
  std::int64_t nowMs = 0;
  std::uint32_t maxOpenUploads = 0;
};

// Appends one chunk at exactly the received offset; `hashMatches` is the
// caller's verdict on the whole blob, used when the chunk ends it.
struct AppendChunk {
  using Reply = ChunkOutcome;
  std::uint64_t uploadId = 0;
  std::string ownerId;
  std::uint64_t offset = 0;
  crypto::Bytes data;
  bool hashMatches = false;
};

// Deletes abandoned uploads and unreferenced blobs older than
// Store::GarbageAgeMs. Reply: the number of uploads removed.
struct PurgeGarbage {
  using Reply = std::uint64_t;
  std::int64_t nowMs = 0;
};

// One retention batch (Store::purgeExpired). Essential: it frees space,
// so it runs in low-space mode too.
struct PurgeExpired {
  using Reply = RetentionTally;
  static constexpr WriteClass writeClass = WriteClass::Essential;
  RetentionPolicy policy;
  std::int64_t nowMs = 0;
};

// ---- directory log and audit trail (store_log.cpp) -------------------------------------

// Appends a log entry and the head signed for the new size.
struct AppendLogEntry {
  using Reply = Ok;
  std::shared_ptr<const StoredLogEntry> entry;
  std::shared_ptr<const StoredHead> head;
};

// Replaces the head stored for the log's current size with a newer one of
// the same size and root (the hourly head, LogAppender::refreshHead).
struct RefreshHead {
  using Reply = Ok;
  std::shared_ptr<const StoredHead> head;
};

// Keeps a witness's cosignature of the head of `size` entries, replacing
// that witness's earlier one (PROTOCOL.md §11.6). Essential: a few hundred
// bytes, and a hub on a full disk must still be witnessed.
struct StoreCosignature {
  using Reply = Ok;
  static constexpr WriteClass writeClass = WriteClass::Essential;
  std::uint64_t size = 0;
  std::shared_ptr<const protocol::Cosignature> cosignature;
};

// Appends one audit row chained to the last. Reply: its index.
using AppendAudit = Insert<AuditRecord, std::uint64_t>;

// ---- working-group records (store_records.cpp) -----------------------------------------

using StoreForward = Insert<NewForward, RecordOutcome>;

// Records an originator's permission for each grantee.
struct GrantPermission {
  using Reply = Ok;
  crypto::BulletinId bulletinId;
  std::shared_ptr<const std::vector<std::string>> grantees;
  std::shared_ptr<const StoredRecord> record;
  std::int64_t nowMs = 0;
};

using StoreRetraction = Insert<NewRetraction, RecordOutcome>;

// ---- meetings (store_meetings.cpp) ------------------------------------------------------

using StoreMeeting = Insert<NewMeeting, RecordOutcome>;

// ---- consensus procedures (store_consensus.cpp) ----------------------------------------

using StoreComment = Insert<NewComment, RecordOutcome>;

// ---- work programme (store_actions.cpp) -------------------------------------------------

using StoreAction = Insert<NewAction, RecordOutcome>;
// Appends an update while the item's chain tip is still `previous`.
using StoreActionUpdate = Insert<NewActionUpdate, RecordOutcome>;
// The reminder task pushed these items on UTC day `day` (days since the epoch).
struct MarkActionsReminded {
  using Reply = Ok;
  std::vector<crypto::BulletinId> ids;
  std::int64_t day = 0;
};

// The silence procedure's outcome: the hub-signed recordApproved entry,
// written only while the record is still pending.
struct ApproveRecord {
  using Reply = Ok;
  crypto::BulletinId recordId;
  std::shared_ptr<const StoredLogEntry> entry;
  std::shared_ptr<const StoredHead> head;
};

struct StoreProposal {
  using Reply = RecordOutcome;
  crypto::BulletinId proposalId;
  std::string proposerId;
  std::shared_ptr<const StoredRecord> record;
  std::int64_t expiresAtMs = 0;
  std::int64_t nowMs = 0;
};

struct StoreDecision {
  using Reply = RecordOutcome;
  crypto::BulletinId proposalId;
  std::string memberId;
  bool approve = false;
  std::shared_ptr<const StoredRecord> record;
  crypto::Bytes sealedHead;  // kept in decision_heads with a new decision; empty = none
  std::int64_t nowMs = 0;
};

// The hub-signed admission entry, written only while the proposal is open.
struct AdoptProposal {
  using Reply = Ok;
  crypto::BulletinId proposalId;
  std::shared_ptr<const StoredLogEntry> entry;
  std::shared_ptr<const StoredHead> head;
};

}  // namespace focal::server::store

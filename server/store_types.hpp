// The values that cross the store boundary (server/ARCHITECTURE.md, "The
// store boundary"): what write commands carry in (NewBulletin, NewForward,
// StoredLogEntry, ...) and what commands and queries give back (SendOutcome,
// FetchPage, ProposalRow, ...). Plain data: no SQLite type, so the request
// layer can name them and a second engine can fill them.
#pragma once

#include "crypto/types.hpp"
#include "protocol/witness.hpp"
#include "server/hub_error.hpp"
#include "server/retention.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace focal::server {

struct StoredLogEntry {
  std::uint64_t index = 0;
  std::int64_t recordedAtMs = 0;
  std::string authorId;
  crypto::SigningPublicKey authorKey;
  crypto::Bytes event;
  crypto::Signature signature;
  crypto::Hash256 entryHash;
};

struct StoredHead {
  std::uint64_t size = 0;
  crypto::Bytes head;  // LogHead bytes as signed
  crypto::Signature signature;
  // Witnesses' cosignatures of a head of this size (PROTOCOL.md §11.6),
  // served with it; at most one per witness. Not stored with the head:
  // Store::cosignatures keeps each witness's latest.
  std::vector<protocol::Cosignature> cosignatures{};
};

// One row of the audit trail: admin operations and authentication failures,
// hash-chained (protocol::auditEntryHash) so an edit or a deletion breaks
// the chain that `focal admin audit` verifies.
struct AuditRecord {
  std::uint64_t index = 0;  // assigned by appendAudit
  std::int64_t timeMs = 0;
  std::string event;   // "admin.register", "admin.refused", "auth.failure", ...
  std::string actor;   // member id, or "-"
  std::string remote;  // peer address
  std::string detail;
  crypto::Hash256 hash;  // assigned by appendAudit
};

struct NewBulletin {
  struct Recipient {
    std::string memberId;
    crypto::BoxPublicKey encryptionKey;
  };
  struct Attachment {
    crypto::Hash256 blobHash;
    std::uint64_t size = 0;
  };
  crypto::BulletinId id;
  std::string senderId;
  crypto::SigningPublicKey senderKey;
  crypto::Bytes header;
  crypto::Signature signature;
  crypto::Bytes ciphertext;
  std::int64_t createdAtMs = 0;
  std::int64_t acceptedAtMs = 0;
  int tlp = 0;
  int kind = 0;
  // Set for a summary record (kind summaryRecord): its comment deadline and
  // the record it revises, if any.
  struct SummaryRecord {
    std::int64_t deadlineMs = 0;
    std::optional<crypto::BulletinId> revises;
  };
  std::optional<SummaryRecord> summaryRecord;
  std::vector<Recipient> recipients;
  std::vector<Attachment> attachments;
};

struct QueuedDelivery {
  std::string memberId;
  std::int64_t seq = 0;
};

struct SendOutcome {
  std::int64_t acceptedAtMs = 0;
  bool alreadyAccepted = false;
  std::vector<QueuedDelivery> queued;  // empty when alreadyAccepted
};

// A signed working-group record as stored (SignedRecord body + signature).
struct StoredRecord {
  crypto::Bytes body;
  crypto::Bytes signature;
  bool empty() const { return body.empty(); }
};

struct FetchedDelivery {
  std::int64_t seq = 0;
  std::int64_t queuedAtMs = 0;
  crypto::Bytes header;
  crypto::Bytes signature;
  crypto::Bytes ciphertext;
  StoredRecord forward;     // the ForwardRecord that brought it, if any
  StoredRecord retraction;  // set when this entry announces a retraction
};

// What the hub needs to judge a forward, permission or retraction of a
// stored bulletin.
struct BulletinRow {
  std::string senderId;
  crypto::Bytes header;  // as signed
  crypto::Bytes signature;
  crypto::Bytes ciphertext;
  bool retracted = false;
};

struct NewForward {
  crypto::BulletinId forwardId;
  crypto::BulletinId bulletinId;
  std::string forwarderId;
  StoredRecord record;
  std::int64_t recordedAtMs = 0;
  std::vector<NewBulletin::Recipient> recipients;
};

struct NewRetraction {
  crypto::BulletinId bulletinId;
  StoredRecord record;
  std::int64_t recordedAtMs = 0;
};

struct RecordOutcome {
  std::int64_t recordedAtMs = 0;
  bool already = false;                // identical record already stored
  std::vector<QueuedDelivery> queued;  // entries to push (empty when already)
};

// A meeting record the hub checked (PROTOCOL.md §12.8).
struct NewMeeting {
  crypto::BulletinId id;
  std::string secretariatId;
  std::string hostState;
  std::string date;
  StoredRecord record;
  std::int64_t recordedAtMs = 0;
};

struct MeetingRow {
  crypto::BulletinId id;
  std::string hostState;
  std::string date;
  StoredRecord record;
  std::int64_t recordedAtMs = 0;
};

// The work programme (PROTOCOL.md §12.10): an action item with the sealed
// Bulletin that carries its text, and an update with its optional note.
struct SealedText {
  crypto::Bytes header;
  crypto::Bytes signature;
  crypto::Bytes ciphertext;
  bool empty() const { return header.empty(); }
};

struct NewAction {
  crypto::BulletinId id;
  std::string authorId;
  std::string owner;             // "state:CC" or a member id
  std::string ownerState;        // CC
  std::int64_t dueEndMs = 0;     // end of the due day, UTC
  std::optional<crypto::BulletinId> meetingId;
  std::optional<crypto::BulletinId> recordId;
  StoredRecord record;
  SealedText text;
  std::int64_t recordedAtMs = 0;
};

struct NewActionUpdate {
  crypto::BulletinId actionId;
  std::string authorId;
  int status = 0;                // wire::ActionStatus
  crypto::Hash256 previous;      // the chain tip it was signed against
  crypto::Hash256 bodyHash;      // becomes the tip
  StoredRecord record;
  SealedText note;               // empty: no note
  std::int64_t recordedAtMs = 0;
};

struct ActionRow {
  struct Update {
    StoredRecord record;
    SealedText note;
  };
  crypto::BulletinId id;
  std::string owner;
  std::string ownerState;
  std::int64_t dueEndMs = 0;
  int status = 0;
  crypto::Hash256 tip;           // BLAKE2b-256 of the item's or the last update's bytes
  StoredRecord record;
  SealedText text;
  std::vector<Update> updates;
};

// An item the reminder task owes a push today.
struct DueAction {
  crypto::BulletinId id;
  std::string owner;
  std::string ownerState;
  std::int64_t dueEndMs = 0;
  int status = 0;
};

struct NewComment {
  crypto::BulletinId recordId;
  std::string memberId;
  bool objection = false;
  StoredRecord record;
  std::int64_t recordedAtMs = 0;
};

// A summary record's silence procedure as stored.
struct SummaryRecordRow {
  struct CommentRow {
    std::string memberId;
    bool objection = false;
    StoredRecord record;
  };
  crypto::BulletinId id;
  std::string senderId;
  std::int64_t deadlineMs = 0;
  wire::RecordState state = wire::RecordState::PENDING;
  std::uint64_t outcomeIndex = 0;
  crypto::Bytes header;                  // the record's signed header bytes
  std::vector<CommentRow> comments;      // by member id
  std::vector<std::string> acknowledgedBy;  // original recipients, sorted
};

// A consensus proposal as stored, with its decisions.
struct ProposalRow {
  struct DecisionRow {
    std::string memberId;
    bool approve = false;
    StoredRecord record;
    crypto::Bytes sealedHead;  // sealed to the proposer (PROTOCOL.md §11.4); empty = none
  };
  crypto::BulletinId id;
  std::string proposerId;
  StoredRecord record;
  std::int64_t expiresAtMs = 0;
  wire::ProposalState state = wire::ProposalState::OPEN;  // as stored: `expired` is decided by the reader's clock
  std::uint64_t outcomeIndex = 0;
  std::vector<DecisionRow> decisions;  // by member id
};

struct FetchPage {
  std::vector<FetchedDelivery> items;
  bool more = false;
};

struct RecipientState {
  std::int64_t seq = 0;  // the queue entry (Hub merges delivered marks not yet committed by it)
  std::string memberId;
  std::int64_t queuedAtMs = 0;
  std::int64_t deliveredAtMs = 0;  // 0 = never
  std::int64_t ackedAtMs = 0;      // 0 = never
  crypto::Bytes ackHead;           // the sealed head its ack carried (PROTOCOL.md §11.4); empty = none
};

// A queue entry handed to its member (push queued on a session, or fetch
// reply built) at `atMs`.
struct DeliveredMark {
  std::int64_t seq = 0;
  std::int64_t atMs = 0;
};

struct BulletinStatus {
  std::string senderId;
  std::vector<RecipientState> recipients;  // sorted by member id
  // Non-zero: retention purged the bulletin at this time (recipients empty).
  std::int64_t purgedAtMs = 0;
};

// The tombstone retention leaves of a purged bulletin (expired_bulletins):
// no content, no recipients.
struct ExpiredBulletin {
  std::string senderId;
  std::int64_t tlp = 0;
  std::int64_t acceptedAtMs = 0;
  std::int64_t purgedAtMs = 0;
  bool acknowledged = false;  // every recipient had acknowledged it
};

struct UploadRow {
  std::uint64_t id = 0;
  std::string ownerId;
  crypto::Hash256 blobHash;
  std::uint64_t size = 0;
  std::uint64_t received = 0;
  bool complete = false;
};

struct ChunkOutcome {
  std::uint64_t received = 0;
  bool complete = false;
  bool rejected = false;  // the finished blob did not match its hash; upload deleted
};

struct BlobSlice {
  std::uint64_t offset = 0;
  crypto::Bytes data;
  std::uint64_t total = 0;
};

}  // namespace focal::server

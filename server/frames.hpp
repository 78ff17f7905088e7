// Builders of the ServerFrames the hub sends, each returned as a complete
// frame (4-byte length + message) ready for a session's outbound queue.
// Only the schema's generated builders are used (no mirror structs).
#pragma once

#include "crypto/types.hpp"
#include "server/directory.hpp"
#include "server/hub_error.hpp"
#include "server/store.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace focal::server::frames {

using crypto::Bytes;
using crypto::ByteView;

Bytes error(std::uint64_t id, const HubError& e);
Bytes challenge(std::string_view hubId, const crypto::SigningPublicKey& hubKey, const crypto::Challenge& nonce,
                std::int64_t nowMs);
Bytes authenticated(std::uint64_t id, std::string_view memberId, std::int64_t nowMs, const StoredHead& head);
Bytes accepted(std::uint64_t id, const crypto::BulletinId& bulletinId, std::int64_t acceptedAtMs, bool already);
// A server push (id 0) of one delivery; `forward` / `retraction` set the
// Delivery's records when non-null and non-empty.
Bytes push(std::int64_t seq, std::int64_t queuedAtMs, ByteView header, ByteView signature, ByteView ciphertext,
           const StoredRecord* forward = nullptr, const StoredRecord* retraction = nullptr);
// The push frames of one delivery to many members: built once, then
// serialised per member with only the seq changed (a fan-out to N members
// builds and copies the bulletin once, not N times).
class PushFrames {
 public:
  PushFrames(std::int64_t queuedAtMs, ByteView header, ByteView signature, ByteView ciphertext,
             const StoredRecord* forward = nullptr, const StoredRecord* retraction = nullptr);
  ~PushFrames();
  PushFrames(const PushFrames&) = delete;
  PushFrames& operator=(const PushFrames&) = delete;
  // The frame of push(seq, ...) with this delivery's fields.
  Bytes frame(std::int64_t seq);

 private:
  struct State;
  std::unique_ptr<State> state_;
};
Bytes deliveries(std::uint64_t id, const FetchPage& page);
Bytes acked(std::uint64_t id, std::uint32_t removed);
Bytes status(std::uint64_t id, const crypto::BulletinId& bulletinId, const BulletinStatus& status);
Bytes directory(std::uint64_t id, const Directory& directory);
Bytes logPage(std::uint64_t id, std::span<const StoredLogEntry> entries, const StoredHead& head);
Bytes auditPage(std::uint64_t id, std::span<const AuditRecord> rows);
Bytes adminResult(std::uint64_t id, std::uint64_t index, const StoredHead& head);
Bytes uploadReady(std::uint64_t id, std::uint64_t uploadId, std::uint64_t offset);
Bytes uploadProgress(std::uint64_t id, std::uint64_t uploadId, std::uint64_t received, bool complete);
Bytes blobChunk(std::uint64_t id, const crypto::Hash256& hash, const BlobSlice& slice);
Bytes subscribed(std::uint64_t id);
// Success of forward / retract / permit: the record's id and the hub's time.
Bytes recorded(std::uint64_t id, ByteView recordId, std::int64_t atMs);
// Meeting records, as stored (PROTOCOL.md §12.8).
Bytes meetings(std::uint64_t id, const std::vector<MeetingRow>& rows);
Bytes pong(std::uint64_t id);
// A summary record's silence procedure (comments as signed records).
Bytes recordStatus(std::uint64_t id, const SummaryRecordRow& row);
// Proposals with their decisions; `nowMs` turns open proposals past their
// expiry into `expired`.
// `requesterId`: the proposer alone gets its decisions' sealed heads.
Bytes proposals(std::uint64_t id, const std::vector<ProposalRow>& rows, std::int64_t nowMs,
                std::string_view requesterId);
// The work programme (PROTOCOL.md §12.10): the items in order while their
// bytes stay within `maxBytes` (at least one), `truncated` when some were
// left out; and a reminder push.
Bytes actions(std::uint64_t id, const std::vector<ActionRow>& rows, std::size_t maxBytes);
Bytes actionReminder(const DueAction& a, std::string_view dueDay, bool overdue);

}  // namespace focal::server::frames

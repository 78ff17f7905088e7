// The working group's work programme (PROTOCOL.md §12.10): action items the
// secretariat adds to follow up a summary record (or a meeting), and the
// updates a point of contact of the owning member state signs. Each record
// is a standalone Cap'n Proto message signed as context || 0x00 || bytes
// (ActionItem: "focal/v1/action-item", ActionUpdate:
// "focal/v1/action-update"); its text, or an update's note, is a sealed
// Bulletin (seal v2, to "members" and its author) bound to the record by
// the BLAKE2b-256 of the bulletin's header. The hub checks the records and
// sees owners, due days and statuses, never a text or a note. Updates form
// a hash chain (ActionUpdate.previous) that every client verifies, so the
// hub cannot reorder them or splice in one of another item.
//
// Also the day and date syntax the working group's commands share.
#pragma once

#include "crypto/key_ops.hpp"
#include "protocol/message.hpp"
#include "protocol/records.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace focal::protocol {

inline constexpr std::int64_t DayMs = 24ll * 60 * 60 * 1000;
// How long before its due day's end an item is reminded of (and from then
// on, at most once a UTC day, while it is open or in progress).
inline constexpr std::int64_t ActionReminderWindowMs = 7 * DayMs;
// An action's text or an update's note: at most this much ciphertext.
inline constexpr std::size_t MaxActionTextCiphertextBytes = 32 * 1024;

// "YYYY-MM-DD" (a real calendar day, years 2000-2999) -> that day's 00:00
// UTC in Unix milliseconds; nullopt otherwise.
std::optional<std::int64_t> parseDay(std::string_view text);
// The UTC day of `ms` as YYYY-MM-DD.
std::string dayText(std::int64_t ms);
// A training's date: a day, or a range FIRST..LAST of two days, FIRST <= LAST.
bool validEventDate(std::string_view text);

const char* actionStatusName(wire::ActionStatus s);  // open, in-progress, done, dropped
bool parseActionStatus(std::string_view text, wire::ActionStatus& out);

// The state an owner ("state:CC" or a member id) belongs to: CC, or what
// `stateOf(memberId)` says ("" when unknown).
template <class StateOf>
std::string owningState(std::string_view owner, StateOf stateOf) {
  if (owner.starts_with("state:")) return std::string(owner.substr(6));
  return std::string(stateOf(owner));
}

struct ActionItemDraft {
  crypto::BulletinId actionId;                   // = the sealed text's bulletin id
  std::optional<crypto::BulletinId> meetingId;   // exactly one of meetingId / recordId
  std::optional<crypto::BulletinId> recordId;
  std::string owner;
  std::string dueDay;
  crypto::Hash256 textHash;                      // BLAKE2b-256 of the sealed text's header bytes
};
SignedRecordBytes makeActionItem(const ActionItemDraft& d, const crypto::Keyring& author, std::int64_t nowMs);

struct ActionUpdateDraft {
  crypto::BulletinId actionId;
  wire::ActionStatus status = wire::ActionStatus::IN_PROGRESS;
  crypto::Hash256 previous;                      // hash of the item's or the previous update's bytes
  std::optional<crypto::Hash256> noteHash;       // the sealed note's header hash, if any
};
SignedRecordBytes makeActionUpdate(const ActionUpdateDraft& d, const crypto::Keyring& author, std::int64_t nowMs);

// A record as read (structure checked, signature not: see verifyAction*).
struct ActionItemInfo {
  crypto::BulletinId actionId;
  std::string authorId;
  crypto::SigningPublicKey authorKey;
  std::optional<crypto::BulletinId> meetingId;
  std::optional<crypto::BulletinId> recordId;
  std::string owner;
  std::string dueDay;
  std::int64_t dueEndMs = 0;   // the end of the due day (00:00 UTC the day after)
  std::int64_t createdAtMs = 0;
  crypto::Hash256 textHash;
  crypto::Hash256 bodyHash;    // BLAKE2b-256 of the record bytes (the chain's first link)
};
struct ActionUpdateInfo {
  crypto::BulletinId actionId;
  std::string authorId;
  crypto::SigningPublicKey authorKey;
  wire::ActionStatus status = wire::ActionStatus::OPEN;
  std::int64_t updatedAtMs = 0;
  crypto::Hash256 previous;
  std::optional<crypto::Hash256> noteHash;
  crypto::Hash256 bodyHash;
};

// Structure: ids and keys of their lengths, a member-id author, an owner
// that is "state:CC" or a member id, a valid due day, exactly one of
// meeting and record; an update's status not open. The error names the
// field.
Expected<ActionItemInfo, std::string> readActionItem(ByteView body);
Expected<ActionUpdateInfo, std::string> readActionUpdate(ByteView body);
// The signature over the exact bytes under the key the record names.
bool verifyActionItem(ByteView body, const crypto::Signature& sig, const ActionItemInfo& info);
bool verifyActionUpdate(ByteView body, const crypto::Signature& sig, const ActionUpdateInfo& info);

}  // namespace focal::protocol

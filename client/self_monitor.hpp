// Self-monitoring (PROTOCOL.md §11.1, SECURITY.md §4 "Self-monitoring"):
// every client checks each newly verified directory-log entry about its own
// member id. Only the member's own rotation to a key file this profile
// knows (focal rotate-key from this profile) is the user's; any other entry
// about the member (an admin's rotation or revocation of its keys, a role
// change, an admin registering its id again, an admission of it, a rotation
// signed with the member's key from elsewhere) raises an alarm. The hub cannot suppress one: the entry is in the
// verified log, or the log fails to verify.
//
// Alarms are kept in PROFILE/alarms.json (written atomically under an
// flock on PROFILE/alarms.lock, at most MaxAlarms; older ones beyond that
// are counted as dropped), with, per hub and member, the log size checked so
// far. The first check of a member in a profile only records the size
// (nothing before it is judged: the member's own registration is expected).
// Each command that connects prints the member's alarms to stderr until the
// user acknowledges them (`focal alarms --ack ID|--all`).
#pragma once

#include "client/connection.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace focal::client {

struct Alarm {
  std::string id;  // "MEMBER@INDEX"
  std::string hubId;
  std::string memberId;
  std::uint64_t logIndex = 0;
  std::string kind;      // the entry's kind (protocol::logEventName)
  std::string authorId;  // who signed it
  std::string reason;    // a revocation's reason ("" otherwise): the author's text
  std::int64_t recordedAtMs = 0;
  std::int64_t raisedAtMs = 0;
};

class AlarmStore {
 public:
  static constexpr std::size_t MaxAlarms = 100;

  explicit AlarmStore(std::filesystem::path profileDir);

  // Judges entries from the size last checked for (hub, member) to the end
  // of `entries` (the verified log from entry 0); `ownKeys(identity,
  // encryption)` says whether a key file this profile knows for the member
  // holds exactly these keys.
  // Stores and returns the new alarms. std::runtime_error when alarms.json
  // is damaged (move it away) or cannot be written.
  std::vector<Alarm> check(std::span<const LogEntryRecord> entries, std::string_view hubId, std::string_view memberId,
                           const std::function<bool(crypto::ByteView, crypto::ByteView)>& ownKeys,
                           std::int64_t nowMs) const;

  // Unacknowledged alarms, oldest first (of one member when given).
  std::vector<Alarm> list(std::optional<std::string_view> memberId = std::nullopt) const;
  // Alarms dropped for lack of room since the last acknowledgement of all.
  std::uint64_t dropped() const;
  // Acknowledges one alarm by id (nullopt: all); the ids removed.
  std::vector<std::string> acknowledge(std::optional<std::string_view> id) const;

 private:
  std::filesystem::path dir_;
};

// One line for stderr: what the entry did, who signed it, when, what to do.
// Every field from the log goes through safeLine.
std::string describeAlarm(const Alarm& alarm);

}  // namespace focal::client

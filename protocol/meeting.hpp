// Meetings of the working group (terms of reference §5, §9, §10;
// PROTOCOL.md §12.8): a Meeting record signed by a member of the
// secretariat, kept by the hub and listed to its participants. Pure: the
// record's structure and who takes part; the hub adds the role and the
// directory checks (server/records_service.cpp), the client re-checks the
// signature and the author's role against its verified log.
//
// Participants: every member with a member state (the delegations; the
// secretariat included) plus the members the record invites by id
// (resource-panel members and dialogue partners, terms of reference §7),
// plus every resource-panel member whose admission names the meeting
// (PROTOCOL.md §12.5). Such a meeting-limited member takes part in its
// named meetings only, whatever a record's invitation list says.
// A bulletin bound to a meeting (header.meetingId) may reach only them; a
// summary record bound to one may also reach the SOMTC focal points.
#pragma once

#include "crypto/key_ops.hpp"
#include "protocol/records.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace focal::protocol {

inline constexpr std::size_t MaxMeetingTitleBytes = 200;
inline constexpr std::size_t MaxMeetingInvited = 64;
// The most meetings a hub lists (`listMeetings`): a working group that
// meets a few times a year.
inline constexpr std::size_t MaxMeetingsListed = 1000;

struct MeetingDraft {
  std::string title;
  std::string hostState;
  std::string date;                  // YYYY-MM-DD
  std::vector<std::string> invited;  // member ids, any order
};

struct MeetingInfo {
  crypto::BulletinId id;
  std::string secretariatId;
  std::int64_t createdAtMs = 0;
  std::string title;
  std::string hostState;
  std::string date;
  std::vector<std::string> invited;  // sorted, unique

  bool invites(std::string_view memberId) const;
  // A delegation member (has a member state) or invited; a member whose
  // admission limits it to `limitedTo` (ascending; empty: not limited)
  // exactly when this meeting is one of them.
  bool hasParticipant(std::string_view memberId, std::string_view memberState,
                      std::span<const crypto::BulletinId> limitedTo) const;
};

// "meeting A" or "meetings A, B" (ids in hex): how refusals name the
// meetings a panel member's admission limits it to.
std::string meetingListText(std::span<const crypto::BulletinId> meetings);

// "YYYY-MM-DD", a real calendar day of the years 2000..2199.
[[nodiscard]] bool isMeetingDate(std::string_view date);

// Signs a Meeting record (invited sorted and de-duplicated) as `secretariat`.
SignedRecordBytes makeMeeting(const MeetingDraft& draft, const crypto::Keyring& secretariat, std::int64_t nowMs,
                              std::optional<crypto::BulletinId> id = std::nullopt);

// The record's structure (not its signature, not the author's role): a
// 16-byte id, a member-id author, a single-line title of 1..200 bytes, an
// ISO 3166 alpha-2 host state, a calendar date, at most 64 invited member
// ids, strictly sorted. The error names the field.
Expected<MeetingInfo, std::string> readMeeting(ByteView body);

}  // namespace focal::protocol

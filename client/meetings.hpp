// The working group's meetings as a member's client sees them (PROTOCOL.md
// §12.8): the hub lists Meeting records; each is checked here against the
// verified directory log before anything uses it. A record is accepted only
// if its structure reads (protocol::readMeeting), its author is an active
// member the verified log makes secretariat, and its signature verifies
// under that member's identity key (the current one, or an earlier one
// that was neither replaced nor revoked before the record's creation).
#pragma once

#include "client/connection.hpp"
#include "client/key_directory.hpp"
#include "protocol/meeting.hpp"

#include <string>
#include <vector>

namespace focal::client {

struct VerifiedMeeting {
  protocol::MeetingInfo info;
  RawRecord record;
};

struct MeetingListing {
  std::vector<VerifiedMeeting> meetings;
  std::vector<std::string> refused;  // one sentence per record that did not verify
};

MeetingListing verifyMeetings(const std::vector<RawRecord>& records, const KeyDirectory& directory);

// The participants of `m` the directory can address now: every usable
// member with a member state, and every usable invited member; sorted.
std::vector<std::string> meetingParticipants(const protocol::MeetingInfo& m, const KeyDirectory& directory);

namespace cli {
// The meeting `text` names (whole id or a unique prefix) among the verified
// ones; UsageError (bad-id, ambiguous-id) or NotFoundError otherwise.
const VerifiedMeeting& findMeetingArg(const MeetingListing& listing, const std::string& text);
}  // namespace cli

}  // namespace focal::client

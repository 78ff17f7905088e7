#include "client/meetings.hpp"

#include "crypto/primitives.hpp"
#include "protocol/signing.hpp"

#include <algorithm>

namespace focal::client {

namespace {

// The identity key `m` held at `atMs`: its current key, or an earlier one
// replaced (and not revoked) after that time.
bool signedByMemberAt(const MemberRecord& m, std::int64_t atMs, crypto::ByteView body, const crypto::Signature& sig) {
  if (crypto::verify(protocol::context::Meeting, body, sig, m.identityKey)) return true;
  return std::any_of(m.identityHistory.begin(), m.identityHistory.end(), [&](const protocol::KeyPeriod& p) {
    const bool heldThen = p.replacedAtMs != 0 && p.replacedAtMs > atMs && (p.revokedAtMs == 0 || p.revokedAtMs > atMs);
    return heldThen && crypto::verify(protocol::context::Meeting, body, sig, p.key);
  });
}

}  // namespace

MeetingListing verifyMeetings(const std::vector<RawRecord>& records, const KeyDirectory& directory) {
  MeetingListing out;
  for (const auto& r : records) {
    auto info = protocol::readMeeting(r.body);
    if (!info) {
      out.refused.push_back("a meeting record is malformed: " + info.error());
      continue;
    }
    const std::string id = crypto::toHex(info->id);
    const MemberRecord* author = directory.find(info->secretariatId);
    const auto sig = crypto::Signature::fromBytes(r.signature);
    if (author == nullptr || !author->active || !author->isSecretariat) {
      out.refused.push_back("meeting " + id + ": its author " + info->secretariatId +
                            " is not an active member of the secretariat in the verified log");
      continue;
    }
    if (!sig || !signedByMemberAt(*author, info->createdAtMs, r.body, *sig)) {
      out.refused.push_back("meeting " + id + ": the signature does not verify under " + info->secretariatId +
                            "'s identity key");
      continue;
    }
    // A meeting-limited panel member is invited to its named meetings only
    // (PROTOCOL.md §12.5): a record inviting it elsewhere is not the
    // secretariat's to make, and the hub refuses it at createMeeting.
    const auto overreach = std::find_if(info->invited.begin(), info->invited.end(), [&](const std::string& invitee) {
      const MemberRecord* who = directory.find(invitee);
      return who != nullptr && who->meetingLimited() && !who->admittedTo(info->id);
    });
    if (overreach != info->invited.end()) {
      out.refused.push_back("meeting " + id + ": it invites " + *overreach + ", whose admission limits it to " +
                            protocol::meetingListText(directory.find(*overreach)->meetings));
      continue;
    }
    out.meetings.push_back(VerifiedMeeting{std::move(*info), r});
  }
  return out;
}

std::vector<std::string> meetingParticipants(const protocol::MeetingInfo& m, const KeyDirectory& directory) {
  std::vector<std::string> out;
  for (const auto& member : directory.members()) {
    if (member.usable() && m.hasParticipant(member.id, member.state, member.meetings)) out.push_back(member.id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace focal::client

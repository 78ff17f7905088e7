#include "protocol/meeting.hpp"

#include "protocol/distribution.hpp"
#include "protocol/iso3166.hpp"
#include "protocol/message.hpp"
#include "protocol/signing.hpp"
#include "protocol/text.hpp"

#include <algorithm>

namespace focal::protocol {

bool MeetingInfo::invites(std::string_view memberId) const {
  return std::binary_search(invited.begin(), invited.end(), memberId);
}

bool MeetingInfo::hasParticipant(std::string_view memberId, std::string_view memberState,
                                 std::span<const crypto::BulletinId> limitedTo) const {
  if (!limitedTo.empty()) return std::binary_search(limitedTo.begin(), limitedTo.end(), id);
  return !memberState.empty() || invites(memberId);
}

std::string meetingListText(std::span<const crypto::BulletinId> meetings) {
  std::string out = meetings.size() == 1 ? "meeting " : "meetings ";
  for (std::size_t i = 0; i < meetings.size(); ++i) out += (i ? ", " : "") + crypto::toHex(meetings[i].view());
  return out;
}

bool isMeetingDate(std::string_view d) {
  if (d.size() != 10 || d[4] != '-' || d[7] != '-') return false;
  for (std::size_t i : {0U, 1U, 2U, 3U, 5U, 6U, 8U, 9U}) {
    if (d[i] < '0' || d[i] > '9') return false;
  }
  const auto num = [&](std::size_t at, std::size_t n) {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) v = v * 10 + (d[i] - '0');
    return v;
  };
  const int year = num(0, 4);
  const int month = num(5, 2);
  const int day = num(8, 2);
  if (year < 2000 || year > 2199 || month < 1 || month > 12 || day < 1) return false;
  static constexpr int Days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return day <= Days[month - 1] + (month == 2 && leap ? 1 : 0);
}

SignedRecordBytes makeMeeting(const MeetingDraft& draft, const crypto::Keyring& secretariat, std::int64_t nowMs,
                              std::optional<crypto::BulletinId> id) {
  auto invited = draft.invited;
  std::sort(invited.begin(), invited.end());
  invited.erase(std::unique(invited.begin(), invited.end()), invited.end());
  const auto meetingId = id.value_or(crypto::randomFixed<crypto::BulletinId>());
  capnp::MallocMessageBuilder m;
  auto r = m.initRoot<wire::Meeting>();
  r.setMeetingId(kjBytes(meetingId.view()));
  r.setSecretariatId(asText(secretariat.memberId));
  r.setCreatedAtMs(nowMs);
  r.setTitle(asText(draft.title));
  r.setHostState(asText(draft.hostState));
  r.setDate(asText(draft.date));
  auto list = r.initInvited(static_cast<unsigned>(invited.size()));
  for (unsigned i = 0; i < list.size(); ++i) list.set(i, asText(invited[i]));
  return signRecord(context::Meeting, m, secretariat);
}

Expected<MeetingInfo, std::string> readMeeting(ByteView body) {
  auto parsed = decode<wire::Meeting>(body);
  if (!parsed) return unexpected("the meeting record does not parse: " + parsed.error().message);
  const auto r = parsed->root();
  MeetingInfo info;
  const auto id = crypto::BulletinId::fromBytes(view(r.getMeetingId()));
  if (!id) return unexpected(std::string("meetingId must be 16 bytes"));
  info.id = *id;
  info.secretariatId = std::string(view(r.getSecretariatId()));
  if (!isMemberIdSyntax(info.secretariatId)) return unexpected(std::string("secretariatId is not a member id"));
  info.createdAtMs = r.getCreatedAtMs();
  info.title = std::string(view(r.getTitle()));
  if (info.title.empty() || info.title.size() > MaxMeetingTitleBytes) {
    return unexpected("the title must be 1.." + std::to_string(MaxMeetingTitleBytes) + " bytes");
  }
  if (auto p = checkSingleLineText(info.title); p != TextProblem::None) {
    return unexpected(std::string("the title ") + describe(p));
  }
  info.hostState = std::string(view(r.getHostState()));
  if (!isIso3166Alpha2(info.hostState)) {
    return unexpected(std::string("hostState is not an ISO 3166-1 alpha-2 code in upper case"));
  }
  info.date = std::string(view(r.getDate()));
  if (!isMeetingDate(info.date)) return unexpected(std::string("date is not a calendar day YYYY-MM-DD (2000..2199)"));
  const auto invited = r.getInvited();
  if (invited.size() > MaxMeetingInvited) {
    return unexpected("a meeting invites at most " + std::to_string(MaxMeetingInvited) + " members");
  }
  for (auto t : invited) {
    std::string m(view(t));
    if (!isRegistrableMemberId(m)) return unexpected(std::string("an invited entry is not a member id"));
    if (!info.invited.empty() && !(info.invited.back() < m)) {
      return unexpected(std::string("invited must be strictly sorted, without duplicates"));
    }
    info.invited.push_back(std::move(m));
  }
  return info;
}

}  // namespace focal::protocol

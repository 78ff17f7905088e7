#include "protocol/work_programme.hpp"

#include "crypto/primitives.hpp"
#include "protocol/distribution.hpp"
#include "protocol/signing.hpp"
#include "protocol/text.hpp"

#include <chrono>
#include <cstdio>

namespace focal::protocol {

namespace {

constexpr std::string_view Statuses[] = {"open", "in-progress", "done", "dropped"};

std::optional<crypto::BulletinId> optionalId(capnp::Data::Reader d, bool& bad) {
  if (d.size() == 0) return std::nullopt;
  auto id = crypto::BulletinId::fromBytes(view(d));
  if (!id) bad = true;
  return id;
}

bool validOwner(std::string_view owner) {
  if (owner.starts_with("state:")) {
    const auto cc = owner.substr(6);
    return cc.size() == 2 && cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' && cc[1] <= 'Z';
  }
  return isRegistrableMemberId(owner);
}

}  // namespace

std::optional<std::int64_t> parseDay(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  auto num = [&](std::size_t from, std::size_t n) -> std::optional<int> {
    int v = 0;
    for (std::size_t i = from; i < from + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  const auto y = num(0, 4);
  const auto m = num(5, 2);
  const auto d = num(8, 2);
  if (!y || !m || !d || *y < 2000 || *y > 2999) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{*y}, std::chrono::month{static_cast<unsigned>(*m)},
                                        std::chrono::day{static_cast<unsigned>(*d)}};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::sys_days{ymd}.time_since_epoch()).count();
}

std::string dayText(std::int64_t ms) {
  const auto day = std::chrono::floor<std::chrono::days>(
      std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(ms)));
  const std::chrono::year_month_day ymd{day};
  char out[16];
  std::snprintf(out, sizeof out, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return out;
}

bool validEventDate(std::string_view text) {
  const auto dots = text.find("..");
  if (dots == std::string_view::npos) return parseDay(text).has_value();
  const auto first = parseDay(text.substr(0, dots));
  const auto last = parseDay(text.substr(dots + 2));
  return first && last && *first <= *last;
}

const char* actionStatusName(wire::ActionStatus s) {
  const auto i = static_cast<std::size_t>(s);
  return i < std::size(Statuses) ? Statuses[i].data() : "unknown";
}

bool parseActionStatus(std::string_view text, wire::ActionStatus& out) {
  for (std::size_t i = 0; i < std::size(Statuses); ++i) {
    if (Statuses[i] == text) {
      out = static_cast<wire::ActionStatus>(i);
      return true;
    }
  }
  return false;
}

SignedRecordBytes makeActionItem(const ActionItemDraft& d, const crypto::Keyring& author, std::int64_t nowMs) {
  capnp::MallocMessageBuilder m;
  auto a = m.initRoot<wire::ActionItem>();
  a.setActionId(kjBytes(d.actionId.view()));
  a.setAuthorId(asText(author.memberId));
  a.setAuthorKey(kjBytes(author.identity.publicKey.view()));
  if (d.meetingId) a.setMeetingId(kjBytes(d.meetingId->view()));
  if (d.recordId) a.setRecordId(kjBytes(d.recordId->view()));
  a.setOwner(asText(d.owner));
  a.setDueDay(asText(d.dueDay));
  a.setCreatedAtMs(nowMs);
  a.setTextHash(kjBytes(d.textHash.view()));
  return signRecord(context::ActionItem, m, author);
}

SignedRecordBytes makeActionUpdate(const ActionUpdateDraft& d, const crypto::Keyring& author, std::int64_t nowMs) {
  capnp::MallocMessageBuilder m;
  auto u = m.initRoot<wire::ActionUpdate>();
  u.setActionId(kjBytes(d.actionId.view()));
  u.setAuthorId(asText(author.memberId));
  u.setAuthorKey(kjBytes(author.identity.publicKey.view()));
  u.setStatus(d.status);
  u.setUpdatedAtMs(nowMs);
  u.setPrevious(kjBytes(d.previous.view()));
  if (d.noteHash) u.setNoteHash(kjBytes(d.noteHash->view()));
  return signRecord(context::ActionUpdate, m, author);
}

Expected<ActionItemInfo, std::string> readActionItem(ByteView body) {
  auto parsed = decode<wire::ActionItem>(body);
  if (!parsed) return unexpected("the action item does not parse: " + parsed.error().message);
  const auto a = parsed->root();
  ActionItemInfo info;
  auto id = crypto::BulletinId::fromBytes(view(a.getActionId()));
  if (!id) return unexpected(std::string("the action item's actionId is not 16 bytes"));
  info.actionId = *id;
  info.authorId = std::string(view(a.getAuthorId()));
  if (!isMemberIdSyntax(info.authorId)) return unexpected(std::string("the action item's authorId is not a member id"));
  auto key = crypto::SigningPublicKey::fromBytes(view(a.getAuthorKey()));
  if (!key) return unexpected(std::string("the action item's authorKey is not 32 bytes"));
  info.authorKey = *key;
  bool bad = false;
  info.meetingId = optionalId(a.getMeetingId(), bad);
  info.recordId = optionalId(a.getRecordId(), bad);
  if (bad) return unexpected(std::string("the action item's meetingId or recordId is not 16 bytes"));
  if (info.meetingId.has_value() == info.recordId.has_value()) {
    return unexpected(std::string("an action item names exactly one of a meeting and a summary record"));
  }
  info.owner = std::string(view(a.getOwner()));
  if (!validOwner(info.owner)) {
    return unexpected(std::string("the action item's owner is neither state:CC nor a member id"));
  }
  info.dueDay = std::string(view(a.getDueDay()));
  const auto due = parseDay(info.dueDay);
  if (!due) return unexpected(std::string("the action item's dueDay is not a day YYYY-MM-DD"));
  info.dueEndMs = *due + DayMs;
  info.createdAtMs = a.getCreatedAtMs();
  auto text = crypto::Hash256::fromBytes(view(a.getTextHash()));
  if (!text) return unexpected(std::string("the action item's textHash is not 32 bytes"));
  info.textHash = *text;
  info.bodyHash = crypto::hash256(body);
  return info;
}

Expected<ActionUpdateInfo, std::string> readActionUpdate(ByteView body) {
  auto parsed = decode<wire::ActionUpdate>(body);
  if (!parsed) return unexpected("the action update does not parse: " + parsed.error().message);
  const auto u = parsed->root();
  ActionUpdateInfo info;
  auto id = crypto::BulletinId::fromBytes(view(u.getActionId()));
  if (!id) return unexpected(std::string("the action update's actionId is not 16 bytes"));
  info.actionId = *id;
  info.authorId = std::string(view(u.getAuthorId()));
  if (!isMemberIdSyntax(info.authorId)) return unexpected(std::string("the action update's authorId is not a member id"));
  auto key = crypto::SigningPublicKey::fromBytes(view(u.getAuthorKey()));
  if (!key) return unexpected(std::string("the action update's authorKey is not 32 bytes"));
  info.authorKey = *key;
  info.status = u.getStatus();
  if (info.status != wire::ActionStatus::IN_PROGRESS && info.status != wire::ActionStatus::DONE &&
      info.status != wire::ActionStatus::DROPPED) {
    return unexpected(std::string("an action update's status is in-progress, done or dropped"));
  }
  info.updatedAtMs = u.getUpdatedAtMs();
  auto previous = crypto::Hash256::fromBytes(view(u.getPrevious()));
  if (!previous) return unexpected(std::string("the action update's previous is not 32 bytes"));
  info.previous = *previous;
  if (u.getNoteHash().size() != 0) {
    info.noteHash = crypto::Hash256::fromBytes(view(u.getNoteHash()));
    if (!info.noteHash) return unexpected(std::string("the action update's noteHash is not 32 bytes"));
  }
  info.bodyHash = crypto::hash256(body);
  return info;
}

bool verifyActionItem(ByteView body, const crypto::Signature& sig, const ActionItemInfo& info) {
  return crypto::verify(context::ActionItem, body, sig, info.authorKey);
}

bool verifyActionUpdate(ByteView body, const crypto::Signature& sig, const ActionUpdateInfo& info) {
  return crypto::verify(context::ActionUpdate, body, sig, info.authorKey);
}

}  // namespace focal::protocol

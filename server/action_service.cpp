#include "server/action_service.hpp"

#include "crypto/primitives.hpp"
#include "protocol/bulletin.hpp"
#include "protocol/consensus.hpp"
#include "protocol/limits.hpp"
#include "protocol/message.hpp"
#include "protocol/work_programme.hpp"
#include "server/frames.hpp"
#include "server/policy.hpp"
#include "server/wire_fields.hpp"

#include <spdlog/spdlog.h>

#include <set>

namespace focal::server {

namespace {

using crypto::Bytes;
using protocol::view;
using wire::ErrorCode;

bool isPoc(const MemberRecord& m) {
  return protocol::isStatePoc(protocol::StateSeat{m.state, m.institution, m.active()});
}

Bytes copyOf(capnp::Data::Reader d) { return Bytes(d.begin(), d.end()); }

}  // namespace

bool ActionService::mayUpdate(const MemberRecord& member, std::string_view ownerState) {
  return isPoc(member) && !ownerState.empty() && member.state == ownerState;
}

Result<SealedText> ActionService::checkSealed(const Caller& caller, wire::Bulletin::Reader b,
                                              const crypto::Hash256& boundHash, std::int64_t now, const char* what,
                                              const crypto::BulletinId* id) const {
  const auto header = view(b.getHeader());
  const auto ciphertext = view(b.getCiphertext());
  if (header.size() > protocol::MaxHeaderBytes) return fail(ErrorCode::TOO_LARGE, std::string(what) + ": header too large");
  if (ciphertext.size() > protocol::MaxActionTextCiphertextBytes) {
    return fail(ErrorCode::TOO_LARGE, std::string(what) + " over " +
                                          std::to_string(protocol::MaxActionTextCiphertextBytes) + " bytes of ciphertext");
  }
  if (!(crypto::hash256(header) == boundHash)) {
    return fail(ErrorCode::INVALID_REQUEST, std::string(what) + " is not the one its record names (header hash)");
  }
  const auto signature = fixedField<crypto::Signature>(b.getSignature());
  if (!signature) return fail(ErrorCode::BAD_SIGNATURE, "the signature must be 64 bytes");
  auto parsed = protocol::verifyHeader(header, *signature);
  if (!parsed) {
    return fail(ErrorCode::BAD_SIGNATURE, std::string(what) + " does not verify: " + protocol::describe(parsed.error()));
  }
  const auto h = parsed->root();
  if (id != nullptr && !(fixedField<crypto::BulletinId>(h.getBulletinId()) == std::optional(*id))) {
    return fail(ErrorCode::INVALID_REQUEST, std::string(what) + "'s bulletin id is not the action id");
  }
  if (view(h.getSenderId()) != caller.memberId ||
      !(fixedField<crypto::SigningPublicKey>(h.getSenderKey()) == std::optional(caller.identityKey))) {
    return fail(ErrorCode::FORBIDDEN, std::string(what) + " is sealed by someone else than its record's author");
  }
  if (h.getSuite() != wire::CIPHER_SUITE_V2 || view(h.getHubId()) != directory_.hubId()) {
    return fail(ErrorCode::INVALID_REQUEST, std::string(what) + " is sealed with seal v2 for this hub (" +
                                                directory_.hubId() + ")");
  }
  if (auto ok = checkClockSkew(h.getCreatedAtMs(), now, "createdAtMs"); !ok) return fail(ok.error());
  const auto expected = fixedField<crypto::Hash256>(h.getContentHash());
  if (h.getContentSize() != ciphertext.size() || !expected || !(crypto::hash256(ciphertext) == *expected)) {
    return fail(ErrorCode::INVALID_REQUEST, "the ciphertext does not match the header's contentHash/contentSize");
  }
  if (h.getKind() != wire::BulletinKind::BULLETIN || h.getCommentDeadlineMs() != 0 || h.getRevises().size() != 0 ||
      h.getReplyTo().size() != 0 || h.getAttachments().size() != 0) {
    return fail(ErrorCode::INVALID_REQUEST, std::string(what) + " is a plain bulletin: no kind, reply, revision or attachment");
  }
  if (auto ok = checkMarkings(h); !ok) return fail(ok.error());
  // Exactly the readers the rule names: every point of contact of a member
  // state ("members") and the author itself.
  std::set<std::string_view> addresses;
  for (auto a : h.getAddresses()) addresses.insert(view(a));
  if (h.getAddresses().size() != 2 || addresses != std::set<std::string_view>{"members", caller.memberId}) {
    return fail(ErrorCode::POLICY_DENIED, std::string("work programme rule: ") + what +
                                              " is addressed to exactly members and its author (" + caller.memberId +
                                              ")");
  }
  for (auto r : h.getRecipients()) {
    auto recipient = checkRecipient(directory_, view(r.getMemberId()), fixedField<crypto::BoxPublicKey>(r.getEncryptionKey()));
    if (!recipient) return fail(recipient.error());
  }
  if (auto ok = checkDistribution(directory_, caller.memberId, h); !ok) return fail(ok.error());
  return SealedText{Bytes(header.begin(), header.end()), copyOf(b.getSignature()), Bytes(ciphertext.begin(), ciphertext.end())};
}

net::awaitable<Result<Recorded>> ActionService::add(Caller caller, SignedBody checked, wire::Bulletin::Reader text) {
  auto info = protocol::readActionItem(checked.body);
  if (!info) co_return fail(ErrorCode::INVALID_REQUEST, info.error());
  if (info->authorId != caller.memberId || !(info->authorKey == caller.identityKey)) {
    co_return fail(ErrorCode::FORBIDDEN, "an action item names its author and key: yours");
  }
  const MemberRecord* author = directory_.find(caller.memberId);
  if (author == nullptr || !author->active() || !(author->isSecretariat || author->chairs())) {
    co_return fail(ErrorCode::FORBIDDEN, "work programme rule: only the secretariat, the chair or a co-chair adds action "
                                         "items; " + caller.memberId + " is none of them");
  }
  const std::int64_t now = clock_.nowMs();
  if (auto ok = checkClockSkew(info->createdAtMs, now, "createdAtMs"); !ok) co_return fail(ok.error());
  if (info->meetingId) {
    if (!store_.meeting(*info->meetingId)) co_return fail(ErrorCode::NOT_FOUND, "no meeting " + crypto::toHex(*info->meetingId));
  } else if (!store_.summaryRecord(*info->recordId)) {
    co_return fail(ErrorCode::NOT_FOUND, "no summary record " + crypto::toHex(*info->recordId));
  }
  // The owner: a member state some point of contact represents, or such a point of contact.
  std::string ownerState;
  if (info->owner.starts_with("state:")) {
    ownerState = info->owner.substr(6);
    bool seated = false;
    for (const auto& [id, m] : directory_.members()) seated = seated || (isPoc(m) && m.state == ownerState);
    if (!seated) {
      co_return fail(ErrorCode::POLICY_DENIED, "work programme rule: no point of contact represents " + ownerState +
                                                   " to own an action item");
    }
  } else {
    const MemberRecord* owner = directory_.find(info->owner);
    if (owner == nullptr || !isPoc(*owner)) {
      co_return fail(ErrorCode::POLICY_DENIED, "work programme rule: the owner " + info->owner +
                                                   " is not an active point of contact of a member state");
    }
    ownerState = owner->state;
  }
  auto sealed = checkSealed(caller, text, info->textHash, now, "the action's text", &info->actionId);
  if (!sealed) co_return fail(sealed.error());
  auto action = std::make_shared<NewAction>();
  action->id = info->actionId;
  action->authorId = caller.memberId;
  action->owner = info->owner;
  action->ownerState = ownerState;
  action->dueEndMs = info->dueEndMs;
  action->recordId = info->recordId;
  action->meetingId = info->meetingId;
  action->record = StoredRecord{std::move(checked.body), std::move(checked.signature)};
  action->text = std::move(*sealed);
  action->recordedAtMs = now;
  // A named job, never a temporary in the co_await (g++ 12 miscompiles those).
  auto job = store::StoreAction{action};
  auto outcome = co_await commits_.submit(std::move(job), net::use_awaitable);
  if (!outcome) co_return fail(outcome.error());
  if (!outcome->already) {
    spdlog::info("action item {} added by {}: owner {}, due {}", crypto::toHex(action->id), caller.memberId,
                 action->owner, info->dueDay);
  }
  co_return Recorded{action->id, outcome->recordedAtMs};
}

net::awaitable<Result<Recorded>> ActionService::update(Caller caller, SignedBody checked,
                                                       std::optional<wire::Bulletin::Reader> note) {
  auto info = protocol::readActionUpdate(checked.body);
  if (!info) co_return fail(ErrorCode::INVALID_REQUEST, info.error());
  if (info->authorId != caller.memberId || !(info->authorKey == caller.identityKey)) {
    co_return fail(ErrorCode::FORBIDDEN, "an action update names its author and key: yours");
  }
  const std::int64_t now = clock_.nowMs();
  if (auto ok = checkClockSkew(info->updatedAtMs, now, "updatedAtMs"); !ok) co_return fail(ok.error());
  const MemberRecord* author = directory_.find(caller.memberId);
  auto item = store_.action(info->actionId);
  // Someone who may not see the work programme learns nothing about ids.
  if (author == nullptr || !author->active() || (!isPoc(*author) && !author->isSecretariat) || !item) {
    co_return fail(ErrorCode::NOT_FOUND, "no action item " + crypto::toHex(info->actionId) + " visible to you");
  }
  if (!mayUpdate(*author, item->ownerState)) {
    co_return fail(ErrorCode::FORBIDDEN, "work programme rule: only a point of contact of " + item->ownerState +
                                             " updates action item " + crypto::toHex(item->id) + "; " + caller.memberId +
                                             " is not one");
  }
  if (note.has_value() != info->noteHash.has_value()) {
    co_return fail(ErrorCode::INVALID_REQUEST, "an update carries a note exactly when it names one (noteHash)");
  }
  auto update = std::make_shared<NewActionUpdate>();
  if (note) {
    auto sealed = checkSealed(caller, *note, *info->noteHash, now, "the update's note");
    if (!sealed) co_return fail(sealed.error());
    update->note = std::move(*sealed);
  }
  update->actionId = info->actionId;
  update->authorId = caller.memberId;
  update->status = static_cast<int>(info->status);
  update->previous = info->previous;
  update->bodyHash = info->bodyHash;
  update->record = StoredRecord{std::move(checked.body), std::move(checked.signature)};
  update->recordedAtMs = now;
  auto job = store::StoreActionUpdate{update};
  auto outcome = co_await commits_.submit(std::move(job), net::use_awaitable);
  if (!outcome) co_return fail(outcome.error());
  if (!outcome->already) {
    spdlog::info("action item {} updated by {}: {}", crypto::toHex(update->actionId), caller.memberId,
                 protocol::actionStatusName(info->status));
  }
  co_return Recorded{update->actionId, outcome->recordedAtMs};
}

Result<std::vector<ActionRow>> ActionService::list(const Caller& caller) {
  const MemberRecord* me = directory_.find(caller.memberId);
  if (me == nullptr || !me->active() || (!isPoc(*me) && !me->isSecretariat)) {
    return fail(ErrorCode::FORBIDDEN,
                "work programme rule: the action items are for the points of contact of member states and the secretariat");
  }
  return store_.actions(MaxListed);
}

std::vector<std::string> ActionService::ownerMembers(const DueAction& a) const {
  std::vector<std::string> out;
  if (!a.owner.starts_with("state:")) {
    if (const MemberRecord* m = directory_.find(a.owner); m != nullptr && mayUpdate(*m, a.ownerState)) out.push_back(m->id);
    return out;
  }
  for (const auto& [id, m] : directory_.members()) {
    if (mayUpdate(m, a.ownerState)) out.push_back(id);
  }
  return out;
}

net::awaitable<void> ActionService::remindDue() {
  const std::int64_t now = clock_.nowMs();
  const std::int64_t today = now >= 0 ? now / protocol::DayMs : -1;
  std::vector<DueAction> due;
  try {
    due = store_.dueActions(now + protocol::ActionReminderWindowMs, today, MaxRemindersPerPass);
  } catch (const std::exception& e) {
    spdlog::warn("work programme reminders: reading due items failed: {}", e.what());
    co_return;
  }
  std::vector<crypto::BulletinId> reminded;
  for (const auto& a : due) {
    const auto members = ownerMembers(a);
    if (members.empty()) continue;
    const auto frame = frames::actionReminder(a, protocol::dayText(a.dueEndMs - protocol::DayMs), now >= a.dueEndMs);
    if (pusher_.pushReminder(members, frame) > 0) reminded.push_back(a.id);
  }
  if (reminded.empty()) co_return;
  auto job = store::MarkActionsReminded{reminded, today};
  auto outcome = co_await commits_.submit(std::move(job), net::use_awaitable);
  if (!outcome) spdlog::warn("work programme reminders: marking {} items failed: {}", reminded.size(), outcome.error().message);
}

}  // namespace focal::server

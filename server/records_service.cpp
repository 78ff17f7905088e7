#include "server/records_service.hpp"

#include "crypto/primitives.hpp"
#include "protocol/bulletin.hpp"
#include "protocol/limits.hpp"
#include "protocol/meeting.hpp"
#include "protocol/message.hpp"
#include "protocol/text.hpp"
#include "server/policy.hpp"
#include "server/wire_fields.hpp"
#include "protocol/names.hpp"

#include <spdlog/spdlog.h>

namespace focal::server {

namespace {

using crypto::Bytes;
using protocol::view;
using wire::ErrorCode;

}  // namespace

// ---- forward -------------------------------------------------------------------------------

Result<std::vector<std::string_view>> RecordsService::checkForwardFields(const Caller& caller,
                                                                         wire::ForwardRecord::Reader f,
                                                                         std::int64_t now) const {
  const auto forwardId = fixedField<crypto::BulletinId>(f.getForwardId());
  const auto bulletinId = fixedField<crypto::BulletinId>(f.getBulletinId());
  const auto headerHash = fixedField<crypto::Hash256>(f.getHeaderHash());
  if (!forwardId || !bulletinId || !headerHash) {
    return fail(ErrorCode::INVALID_REQUEST, "forwardId and bulletinId are 16 bytes, headerHash 32");
  }
  if (view(f.getForwarderId()) != caller.memberId ||
      !(fixedField<crypto::SigningPublicKey>(f.getForwarderKey()) == std::optional(caller.identityKey))) {
    return fail(ErrorCode::FORBIDDEN, "a forward record names its forwarder: you, with your identity key");
  }
  if (auto ok = checkClockSkew(f.getForwardedAtMs(), now, "forwardedAtMs"); !ok) return fail(ok.error());
  const auto recipients = f.getRecipients();
  if (recipients.size() == 0) return fail(ErrorCode::INVALID_REQUEST, "a forward names at least one recipient");
  if (recipients.size() > protocol::MaxRecipients) return fail(ErrorCode::TOO_LARGE, "too many recipients");
  std::vector<std::string_view> ids;
  for (auto r : recipients) {
    const auto rid = view(r.getMemberId());
    if (!ids.empty() && !(ids.back() < rid)) {
      return fail(ErrorCode::INVALID_REQUEST, "forward recipients must be sorted by member id, without repeats");
    }
    if (r.getEncryptionKey().size() != crypto::BoxPublicKey::size || r.getWrappedKey().size() != crypto::WrappedKey::size) {
      return fail(ErrorCode::INVALID_REQUEST, "recipient keys are 32 bytes and wrapped keys 80");
    }
    ids.push_back(rid);
  }
  return ids;
}

Result<RecordsService::ForwardSource> RecordsService::forwardable(const Caller& caller, wire::ForwardRecord::Reader f) {
  const auto bulletinId = *fixedField<crypto::BulletinId>(f.getBulletinId());
  // The bulletin, as its forwarder holds it. Someone who does not hold it
  // learns nothing about whether it exists.
  const MemberRecord* forwarder = directory_.find(caller.memberId);
  if (forwarder == nullptr || !forwarder->active()) return fail(ErrorCode::REVOKED_KEY, "your membership or key is revoked");
  auto held = store_.heldThroughForward(caller.memberId, bulletinId);
  auto row = store_.bulletin(bulletinId);
  // The originator forwards its own bulletin too: it holds the content key
  // (its client kept it sealed to itself) and decides who receives its
  // information, within the first-send rule (PROTOCOL.md §12.1).
  const bool originator = row && row->senderId == caller.memberId;
  if (!row || (!held && !originator)) return fail(ErrorCode::NOT_FOUND, "no such bulletin addressed to you");
  if (!originator && *held) {
    return fail(ErrorCode::POLICY_DENIED,
                "forwarding rule: only original recipients may forward; you received this bulletin through a "
                "forward (ask its sender " + row->senderId + " or the member who forwarded it)");
  }
  if (!(crypto::hash256(row->header) == *fixedField<crypto::Hash256>(f.getHeaderHash()))) {
    return fail(ErrorCode::INVALID_REQUEST, "headerHash is not the hash of the bulletin's signed header");
  }
  // A first answer without queueing anything; Store::insertForward checks it
  // again inside the transaction that commits the forward (the race with a
  // retraction committed meanwhile).
  if (row->retracted) {
    return fail(ErrorCode::POLICY_DENIED, "retraction rule: bulletin " + crypto::toHex(bulletinId) +
                                              " was retracted by its sender; it may not be forwarded");
  }
  auto header = protocol::decode<wire::BulletinHeader>(row->header);
  if (!header) return fail(ErrorCode::INTERNAL, "internal error");
  const auto h = header->root();
  // H2: no further dissemination without the originator's permission (the
  // originator needs none).
  if (!originator && h.getHandling() == wire::Handling::H2 && !store_.hasPermission(caller.memberId, bulletinId)) {
    return fail(ErrorCode::POLICY_DENIED,
                "handling code H2 rule: no further dissemination without the originator's permission; " +
                    row->senderId + " has not permitted " + caller.memberId + " to forward it");
  }
  return ForwardSource{std::move(*row), originator, h.getTlp(), crypto::BulletinId::fromBytes(view(h.getMeetingId()))};
}

// Each recipient known, active and named with its current key; the
// addresses resolve to exactly them; the TLP rules allow each.
Result<Ok> RecordsService::checkReach(const Caller& caller, wire::ForwardRecord::Reader f,
                                      const std::vector<std::string_view>& ids, const ForwardSource& source,
                                      NewForward& out) const {
  const Directory& dir = directory_;
  for (auto r : f.getRecipients()) {
    // Key lengths: checked by checkForwardFields.
    const auto key = fixedField<crypto::BoxPublicKey>(r.getEncryptionKey());
    auto recipient = checkRecipient(dir, view(r.getMemberId()), key);
    if (!recipient) return fail(recipient.error());
    out.recipients.push_back(std::move(*recipient));
  }
  std::vector<protocol::Address> parsedAddresses;
  auto resolution = matchAddresses(dir, caller.memberId, f.getAddresses(), ids, parsedAddresses);
  if (!resolution) return fail(resolution.error());
  // A meeting-limited panel member receives a forward only of a paper of
  // one of its meetings (PROTOCOL.md §12.5).
  if (auto refusal = protocol::checkMeetingLimit(*resolution, source.meetingId)) {
    return fail(ErrorCode::POLICY_DENIED, *refusal);
  }
  if (source.originator) {
    if (auto refusal = protocol::checkFirstSend(source.tlp, parsedAddresses, *resolution)) {
      return fail(ErrorCode::POLICY_DENIED, *refusal);
    }
    return Ok{};
  }
  const MemberRecord* forwarder = dir.find(caller.memberId);  // active: checked by forwardable()
  for (const auto& [rid, reached] : resolution->reached) {
    if (auto refusal = protocol::checkForward(source.tlp, viewOf(*forwarder), reached.member)) {
      return fail(ErrorCode::POLICY_DENIED, *refusal);
    }
  }
  return Ok{};
}

net::awaitable<Result<Recorded>> RecordsService::forward(Caller caller, SignedBody checked,
                                                         wire::ForwardRecord::Reader f) {
  const std::int64_t now = clock_.nowMs();
  auto ids = checkForwardFields(caller, f, now);
  if (!ids) co_return fail(ids.error());
  auto source = forwardable(caller, f);
  if (!source) co_return fail(source.error());
  const BulletinRow& row = source->row;
  auto bulletin = std::make_shared<NewForward>();
  if (auto ok = checkReach(caller, f, *ids, *source, *bulletin); !ok) co_return fail(ok.error());

  const auto forwardId = *fixedField<crypto::BulletinId>(f.getForwardId());
  const auto bulletinId = *fixedField<crypto::BulletinId>(f.getBulletinId());
  bulletin->forwardId = forwardId;
  bulletin->bulletinId = bulletinId;
  bulletin->forwarderId = caller.memberId;
  bulletin->record = StoredRecord{std::move(checked.body), std::move(checked.signature)};
  bulletin->recordedAtMs = now;
  auto job = store::StoreForward{bulletin};
  auto outcome = co_await commits_.submit(std::move(job), net::use_awaitable);
  if (!outcome) co_return fail(outcome.error());
  if (!outcome->already) {
    spdlog::info("bulletin {} forwarded by {} to {} new member(s)", crypto::toHex(bulletinId), caller.memberId,
                 outcome->queued.size());
    deliveries_.pushDeliveries(outcome->queued, now, row.header, row.signature, row.ciphertext, &bulletin->record);
  }
  co_return Recorded{forwardId, outcome->recordedAtMs};
}

// ---- permit --------------------------------------------------------------------------------

net::awaitable<Result<Recorded>> RecordsService::permit(Caller caller, SignedBody checked, wire::Permission::Reader p) {
  const auto bulletinId = fixedField<crypto::BulletinId>(p.getBulletinId());
  if (!bulletinId) co_return fail(ErrorCode::INVALID_REQUEST, "bulletin ids are 16 bytes");
  const std::int64_t now = clock_.nowMs();
  if (auto ok = checkClockSkew(p.getGrantedAtMs(), now, "grantedAtMs"); !ok) co_return fail(ok.error());
  const auto granted = p.getGrantedTo();
  if (granted.size() == 0) co_return fail(ErrorCode::INVALID_REQUEST, "a permission names at least one member");
  if (granted.size() > protocol::MaxRecipients) co_return fail(ErrorCode::TOO_LARGE, "too many members");

  auto row = store_.bulletin(*bulletinId);
  if (!row || (row->senderId != caller.memberId && !store_.heldThroughForward(caller.memberId, *bulletinId))) {
    co_return fail(ErrorCode::NOT_FOUND, "no such bulletin of yours");
  }
  if (row->senderId != caller.memberId) {
    co_return fail(ErrorCode::FORBIDDEN, "only the originator (" + row->senderId + ") may permit further dissemination");
  }
  auto grantees = std::make_shared<std::vector<std::string>>();
  for (auto g : granted) {
    const std::string member(view(g));
    auto held = store_.heldThroughForward(member, *bulletinId);
    if (!held || *held) {
      co_return fail(ErrorCode::INVALID_REQUEST,
                     "'" + member.substr(0, 64) + "' is not an original recipient; only they may forward");
    }
    grantees->push_back(member);
  }
  auto record = std::make_shared<StoredRecord>(StoredRecord{std::move(checked.body), std::move(checked.signature)});
  auto job = store::GrantPermission{*bulletinId, grantees, record, now};
  auto done = co_await commits_.submit(std::move(job), net::use_awaitable);
  if (!done) co_return fail(done.error());
  spdlog::info("bulletin {}: {} permitted {} member(s) to forward", crypto::toHex(*bulletinId), caller.memberId,
               grantees->size());
  co_return Recorded{*bulletinId, now};
}

// ---- retract -------------------------------------------------------------------------------

net::awaitable<Result<Recorded>> RecordsService::retract(Caller caller, SignedBody checked, wire::Retraction::Reader r) {
  const auto bulletinId = fixedField<crypto::BulletinId>(r.getBulletinId());
  if (!bulletinId) co_return fail(ErrorCode::INVALID_REQUEST, "bulletin ids are 16 bytes");
  if (view(r.getSenderId()) != caller.memberId) {
    co_return fail(ErrorCode::FORBIDDEN, "a retraction names its author in senderId: you");
  }
  const auto reason = view(r.getReason());
  if (reason.empty() || reason.size() > protocol::MaxTextFieldBytes) {
    co_return fail(ErrorCode::INVALID_REQUEST,
                   "a retraction gives a reason of 1 to " + std::to_string(protocol::MaxTextFieldBytes) + " bytes");
  }
  // SECURITY: every recipient is shown the reason (PROTOCOL.md §3, "Text fields").
  if (const auto problem = protocol::checkSingleLineText(reason); problem != protocol::TextProblem::None) {
    co_return fail(ErrorCode::INVALID_REQUEST, std::string("the retraction reason ") + protocol::describe(problem));
  }
  const std::int64_t now = clock_.nowMs();
  if (auto ok = checkClockSkew(r.getRetractedAtMs(), now, "retractedAtMs"); !ok) co_return fail(ok.error());

  auto row = store_.bulletin(*bulletinId);
  if (!row || (row->senderId != caller.memberId && !store_.heldThroughForward(caller.memberId, *bulletinId))) {
    co_return fail(ErrorCode::NOT_FOUND, "no such bulletin visible to you");
  }
  if (row->senderId != caller.memberId) {
    co_return fail(ErrorCode::FORBIDDEN, "retraction rule: only the original sender (" + row->senderId +
                                             ") may retract this bulletin");
  }
  auto retraction = std::make_shared<NewRetraction>();
  retraction->bulletinId = *bulletinId;
  retraction->record = StoredRecord{std::move(checked.body), std::move(checked.signature)};
  retraction->recordedAtMs = now;
  auto job = store::StoreRetraction{retraction};
  auto outcome = co_await commits_.submit(std::move(job), net::use_awaitable);
  if (!outcome) co_return fail(outcome.error());
  if (!outcome->already) {
    spdlog::info("bulletin {} retracted by {}; announced to {} member(s)", crypto::toHex(*bulletinId),
                 caller.memberId, outcome->queued.size());
    deliveries_.pushDeliveries(outcome->queued, now, row->header, row->signature, row->ciphertext, nullptr,
                               &retraction->record);
  }
  co_return Recorded{*bulletinId, outcome->recordedAtMs};
}

// ---- comments on summary records -------------------------------------------------------------

// Only the record's original recipients comment, only while its window is
// open; the sender does not comment on its own record.
Result<Ok> RecordsService::checkCommentable(const Caller& caller, const crypto::BulletinId& recordId, std::int64_t now) {
  const MemberRecord* me = directory_.find(caller.memberId);
  if (me == nullptr || !me->active()) return fail(ErrorCode::REVOKED_KEY, "your membership or key is revoked");
  const auto held = store_.heldThroughForward(caller.memberId, recordId);
  auto row = store_.summaryRecord(recordId);
  if (!held) {
    if (row && row->senderId == caller.memberId) {
      return fail(ErrorCode::FORBIDDEN, "silence procedure rule: the record's sender does not comment on it");
    }
    // A member the record was not addressed to learns nothing about it.
    return fail(ErrorCode::NOT_FOUND, "no summary record " + crypto::toHex(recordId) + " addressed to you");
  }
  if (!row) return fail(ErrorCode::INVALID_REQUEST, "bulletin " + crypto::toHex(recordId) + " is not a summary record");
  if (*held) {
    return fail(ErrorCode::POLICY_DENIED,
                "silence procedure rule: only the record's original recipients comment; you received it through a "
                "forward");
  }
  if (row->state != wire::RecordState::PENDING && row->state != wire::RecordState::OBJECTED) {
    return fail(ErrorCode::POLICY_DENIED, std::string("silence procedure rule: the record is ") +
                                              protocol::recordStateName(row->state) + "; comments are closed");
  }
  if (now >= row->deadlineMs) {
    return fail(ErrorCode::POLICY_DENIED, "silence procedure rule: the comment window closed at " +
                                              std::to_string(row->deadlineMs) + " (Unix ms)");
  }
  return Ok{};
}

net::awaitable<Result<Recorded>> RecordsService::comment(Caller caller, SignedBody checked, wire::Comment::Reader c) {
  const auto recordId = crypto::BulletinId::fromBytes(view(c.getRecordId()));
  if (!recordId) co_return fail(ErrorCode::INVALID_REQUEST, "record ids are 16 bytes");
  if (view(c.getMemberId()) != caller.memberId) {
    co_return fail(ErrorCode::FORBIDDEN, "a comment names its author in memberId: you");
  }
  if (c.getSealedText().size() > MaxCommentTextBytes) co_return fail(ErrorCode::TOO_LARGE, "comment text too large");
  const std::int64_t now = clock_.nowMs();
  if (auto ok = checkClockSkew(c.getCommentedAtMs(), now, "commentedAtMs"); !ok) co_return fail(ok.error());
  if (auto ok = checkCommentable(caller, *recordId, now); !ok) co_return fail(ok.error());

  auto comment = std::make_shared<NewComment>();
  comment->recordId = *recordId;
  comment->memberId = caller.memberId;
  comment->objection = c.getObjection();
  comment->record = StoredRecord{std::move(checked.body), std::move(checked.signature)};
  comment->recordedAtMs = now;
  auto job = store::StoreComment{comment};
  auto outcome = co_await commits_.submit(std::move(job), net::use_awaitable);
  if (!outcome) co_return fail(outcome.error());
  if (!outcome->already) {
    spdlog::info("summary record {}: {} by {}", crypto::toHex(*recordId), comment->objection ? "objection" : "comment",
                 caller.memberId);
  }
  co_return Recorded{*recordId, outcome->recordedAtMs};
}

// ---- meetings --------------------------------------------------------------------------------

net::awaitable<Result<Recorded>> RecordsService::createMeeting(Caller caller, SignedBody checked,
                                                               wire::Meeting::Reader m) {
  (void)m;  // read again from the exact bytes, with the structure rules the client applies too
  auto info = protocol::readMeeting(checked.body);
  if (!info) co_return fail(ErrorCode::INVALID_REQUEST, info.error());
  if (info->secretariatId != caller.memberId) {
    co_return fail(ErrorCode::FORBIDDEN, "a meeting names its author in secretariatId: you");
  }
  const MemberRecord* me = directory_.find(caller.memberId);
  if (me == nullptr || !me->active() || !me->isSecretariat) {
    co_return fail(ErrorCode::FORBIDDEN,
                   "meeting rule: only the secretariat creates meetings; " + caller.memberId + " is not secretariat");
  }
  const std::int64_t now = clock_.nowMs();
  if (auto ok = checkClockSkew(info->createdAtMs, now, "createdAtMs"); !ok) co_return fail(ok.error());
  bool hostKnown = false;
  for (const auto& [id, member] : directory_.members()) {
    hostKnown = hostKnown || (member.active() && member.state == info->hostState);
  }
  if (!hostKnown) {
    co_return fail(ErrorCode::INVALID_REQUEST,
                   "meeting rule: the host state " + info->hostState + " has no active delegation on this hub");
  }
  for (const auto& invitee : info->invited) {
    const MemberRecord* who = directory_.find(invitee);
    if (who == nullptr || !who->active()) {
      co_return fail(ErrorCode::UNKNOWN_RECIPIENT, "meeting rule: no active member " + invitee + " to invite");
    }
    if (who->institution != wire::Institution::RESOURCE_PANEL &&
        who->institution != wire::Institution::DIALOGUE_PARTNER) {
      co_return fail(ErrorCode::INVALID_REQUEST, "meeting rule: only resource-panel members and dialogue partners are "
                                                 "invited; " + invitee + " takes part with its member state's delegation");
    }
    // SECURITY: the member states admitted a meeting-limited panel member
    // to its named meetings only (PROTOCOL.md §12.5); the secretariat
    // cannot widen that by inviting it elsewhere.
    if (who->meetingLimited() && !who->admittedTo(info->id)) {
      co_return fail(ErrorCode::POLICY_DENIED, "meeting limit rule: " + invitee + " is admitted only to " +
                                                   protocol::meetingListText(who->meetings) +
                                                   "; it cannot be invited to meeting " + crypto::toHex(info->id));
    }
  }
  auto job = store::StoreMeeting{std::make_shared<NewMeeting>(
      NewMeeting{info->id, info->secretariatId, info->hostState, info->date,
                 StoredRecord{std::move(checked.body), std::move(checked.signature)}, now})};
  auto outcome = co_await commits_.submit(std::move(job), net::use_awaitable);
  if (!outcome) co_return fail(outcome.error());
  if (!outcome->already) {
    spdlog::info("meeting {} created by {}: host {}, {}, {} invited", crypto::toHex(info->id), caller.memberId,
                 info->hostState, info->date, info->invited.size());
  }
  co_return Recorded{info->id, outcome->recordedAtMs};
}

std::vector<MeetingRow> RecordsService::meetings(const std::string& memberId) {
  const MemberRecord* me = directory_.find(memberId);
  std::vector<MeetingRow> out;
  if (me == nullptr) return out;
  for (auto& row : store_.meetings(protocol::MaxMeetingsListed)) {
    auto info = protocol::readMeeting(row.record.body);
    if (info && info->hasParticipant(memberId, me->state, me->meetings)) out.push_back(std::move(row));
  }
  return out;
}

Result<SummaryRecordRow> RecordsService::recordStatus(const std::string& memberId, const crypto::BulletinId& recordId) {
  auto row = store_.summaryRecord(recordId);
  // Visible to its sender, whoever holds it, the secretariat and admins;
  // anyone else gets the answer an unknown id gets.
  const MemberRecord* me = directory_.find(memberId);
  const bool privileged = me != nullptr && me->active() && (me->isAdmin || me->isSecretariat);
  if (!row || !(privileged || row->senderId == memberId || store_.heldThroughForward(memberId, recordId))) {
    return fail(ErrorCode::NOT_FOUND, "no summary record " + crypto::toHex(recordId) + " visible to you");
  }
  return std::move(*row);
}

}  // namespace focal::server

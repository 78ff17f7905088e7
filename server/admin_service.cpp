#include "server/admin_service.hpp"

#include "protocol/message.hpp"
#include "server/policy.hpp"
#include "protocol/names.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace focal::server {

namespace {

using protocol::view;
using wire::ErrorCode;

}  // namespace

Result<Ok> AdminService::checkRegisteredState(crypto::ByteView event) const {
  // A new member's state: an ISO 3166-1 code of this working group (the
  // log's own rule is only "two upper-case letters").
  if (auto parsed = protocol::decode<wire::LogEvent>(event);
      parsed && parsed->root().which() == wire::LogEvent::REGISTER) {
    return checkNewMemberState(memberStates_, view(parsed->root().getRegister().getMember().getState()));
  }
  return Ok{};
}

net::awaitable<Result<AdminService::Appended>> AdminService::append(Caller caller, crypto::Bytes event,
                                                                    crypto::Signature signature) {
  // One admin change at a time: each is checked against the directory as it
  // will stand when its entry is appended.
  auto guard = co_await log_.lock();
  if (!guard) co_return fail(ErrorCode::UNAVAILABLE, "too many admin requests waiting", 1000);

  const std::int64_t now = clock_.nowMs();
  LogAppender::Draft draft{event, signature, caller.memberId, caller.identityKey, now, now, std::nullopt};
  auto makeJob = [](auto entry, auto head) {
    return store::AppendLogEntry{entry, head};
  };
  auto appended = co_await log_.append(*guard, std::move(draft), makeJob, [&] { return checkRegisteredState(event); });
  if (!appended) {
    if (appended.error().stage == LogAppender::Failure::Stage::Refused) {
      audit_.audit("admin.refused", caller.memberId, caller.remote, appended.error().error.message);
    }
    co_return fail(appended.error().error);
  }
  const auto& entry = *appended->entry;
  const std::string& changed = appended->changed;
  auto parsedEvent = protocol::decode<wire::LogEvent>(entry.event);
  spdlog::info("log entry {} appended by {}: {} {}", entry.index, caller.memberId,
               parsedEvent ? protocol::logEventName(parsedEvent->root().which()) : "?", changed);
  audit_.audit(std::string("admin.") + (parsedEvent ? protocol::logEventName(parsedEvent->root().which()) : "?"), caller.memberId,
               caller.remote, "log entry " + std::to_string(entry.index) + ": " + changed);
  const MemberRecord* self = directory_.find(caller.memberId);
  const bool ends = self == nullptr || !self->active() || !(self->identityKey == caller.identityKey);
  co_return Appended{entry.index, *appended->head, changed, ends};
}

AdminService::LogPage AdminService::logPage(std::uint64_t from, std::uint32_t limit, std::size_t maxBytes) const {
  const Directory& dir = directory_;
  std::vector<StoredLogEntry> entries;
  // Only entries covered by the head we return (an entry committed but not
  // yet applied is left for the next query).
  if (from < dir.size()) {
    limit = static_cast<std::uint32_t>(std::min<std::uint64_t>(limit, dir.size() - from));
    entries = store_.logEntries(from, limit, maxBytes);
  }
  return LogPage{std::move(entries), dir.head()};
}

Result<std::vector<AuditRecord>> AdminService::auditPage(const std::string& memberId, std::uint64_t from,
                                                         std::uint32_t limit, std::size_t maxBytes) const {
  const MemberRecord* me = directory_.find(memberId);
  if (me == nullptr || !me->isAdmin || !me->active()) return fail(ErrorCode::FORBIDDEN, "only admins may read the audit trail");
  return store_.auditEntries(from, limit, maxBytes);
}

}  // namespace focal::server

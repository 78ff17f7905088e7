#include "server/log_appender.hpp"

#include "protocol/limits.hpp"
#include "protocol/log.hpp"
#include "protocol/signing.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace focal::server {

LogAppender::Draft LogAppender::hubDraft(capnp::MessageBuilder& event, std::int64_t nowMs,
                                         std::optional<std::int64_t> checkNowMs,
                                         std::optional<std::int64_t> checkAtMs) const {
  // Signed for the next place: the caller holds the admin lock, so it is
  // still the next place when append() runs.
  protocol::setLogPosition(event.getRoot<wire::LogEvent>(),
                           protocol::LogPosition{directory_.hubId(), directory_.size(), directory_.root()});
  auto signedEvent = protocol::signLogEvent(event, hubKey_.secretKey);
  return Draft{std::move(signedEvent.event), signedEvent.signature, directory_.hubId(), hubKey_.publicKey, nowMs,
               checkNowMs, checkAtMs};
}

StoredHead LogAppender::signHead(std::uint64_t size, const crypto::Hash256& root, std::int64_t nowMs) const {
  auto signedHead = protocol::signLogHead(directory_.hubId(), size, root, nowMs, hubKey_.secretKey);
  return StoredHead{size, std::move(signedHead.head), signedHead.signature};
}

std::int64_t LogAppender::headTimeMs() const {
  auto parsed = protocol::decode<wire::LogHead>(directory_.head().head);
  return parsed ? parsed->root().getTimeMs() : 0;
}

net::awaitable<bool> LogAppender::refreshHead(const AsyncMutex::Guard& /*held*/, std::int64_t nowMs) {
  if (nowMs - headTimeMs() < protocol::HeadRefreshMs) co_return false;
  auto head = std::make_shared<const StoredHead>(signHead(directory_.size(), directory_.root(), nowMs));
  auto job = store::RefreshHead{head};
  auto result = co_await commits_.submit(std::move(job), net::use_awaitable);
  if (!result) {
    spdlog::warn("signing a fresh log head failed: {}", result.error().message);
    co_return false;
  }
  directory_.setHead(*head);
  co_return true;
}

Expected<LogAppender::Prepared, LogAppender::Failure> LogAppender::prepare(Draft d, const ExtraCheck& extraCheck) const {
  // Times in the log never go back (a v2 rule): a hub clock stepped back
  // records the previous entry's time again.
  d.nowMs = std::max(d.nowMs, directory_.log().lastRecordedAtMs());
  if (auto ok = directory_.check(d.event, d.signature, d.authorId, d.authorKey, d.checkNowMs, d.checkAtMs, d.nowMs);
      !ok) {
    return Unexpected<Failure>{Failure{Failure::Stage::Refused, ok.error()}};
  }
  if (extraCheck) {
    if (auto ok = extraCheck(); !ok) return Unexpected<Failure>{Failure{Failure::Stage::Refused, ok.error()}};
  }
  auto entry = std::make_shared<const StoredLogEntry>(
      directory_.prepare(std::move(d.event), d.signature, std::move(d.authorId), d.authorKey, d.nowMs));
  // A head never goes back in time, not even behind an hourly head signed
  // after the last entry (clients refuse a head older than one they saw).
  auto head = std::make_shared<const StoredHead>(
      signHead(entry->index + 1, entry->entryHash, std::max(d.nowMs, headTimeMs())));
  return Prepared{std::move(entry), std::move(head)};
}

LogAppender::Outcome LogAppender::applyCommitted(Prepared prepared) {
  std::string changed;
  try {
    changed = directory_.apply(*prepared.entry);
  } catch (const std::exception& e) {
    // The entry is committed but the directory could not take it: our bug.
    // Serving on with a directory that disagrees with the log would enforce
    // the wrong keys, so the hub stops; a restart replays the log.
    spdlog::critical("log entry {} committed but not applied ({}); stopping the hub", prepared.entry->index, e.what());
    stopHub_();
    return Unexpected<Failure>{Failure{Failure::Stage::NotApplied, HubError{wire::ErrorCode::INTERNAL, "internal error"}}};
  }
  directory_.setHead(*prepared.head);
  return Appended{std::move(prepared.entry), std::move(prepared.head), std::move(changed)};
}

}  // namespace focal::server

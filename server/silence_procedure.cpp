#include "server/silence_procedure.hpp"

#include "crypto/primitives.hpp"
#include "protocol/limits.hpp"
#include "protocol/message.hpp"
#include "protocol/text.hpp"

#include <spdlog/spdlog.h>

namespace focal::server {

void SilenceProcedure::start() { net::co_spawn(io_, loop(), net::detached); }

void SilenceProcedure::stop() {
  stopping_ = true;
  timer_.cancel();
}

net::awaitable<void> SilenceProcedure::loop() {
  boost::system::error_code ec;
  // The first pass runs at once: deadlines that passed while the hub was
  // down are closed on startup.
  while (!stopping_) {
    co_await closeDueRecords();
    if (stopping_) break;
    co_await refreshHead();
    if (stopping_) break;
    if (extraPass_) {
      ++inFlight_;
      try {
        co_await extraPass_();
      } catch (const std::exception& e) {
        spdlog::error("a periodic log task failed: {}", e.what());
      }
      --inFlight_;
      if (stopping_) break;
    }
    timer_.expires_after(poll_);
    co_await timer_.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
}

net::awaitable<void> SilenceProcedure::closeDueRecords() {
  std::vector<crypto::BulletinId> due;
  try {
    due = store_.dueRecords(clock_.nowMs(), MaxPerPass);
  } catch (const std::exception& e) {
    spdlog::warn("silence procedure: reading due records failed: {}", e.what());
    co_return;
  }
  for (const auto& id : due) {
    if (stopping_) break;
    ++inFlight_;
    try {
      co_await approveRecord(id);
    } catch (const std::exception& e) {
      spdlog::error("silence procedure for {} failed: {}", crypto::toHex(id), e.what());
    }
    --inFlight_;
  }
}

net::awaitable<void> SilenceProcedure::refreshHead() {
  // Checked before locking: most passes find nothing due.
  if (clock_.nowMs() - log_.headTimeMs() < protocol::HeadRefreshMs) co_return;
  ++inFlight_;
  try {
    // No co_await inside a condition or on a temporary: g++ 12 miscompiles
    // some of those in coroutines.
    auto guard = co_await log_.lock();
    bool signedNow = false;
    if (guard) signedNow = co_await log_.refreshHead(*guard, clock_.nowMs());
    if (signedNow) spdlog::info("signed a fresh log head at {}", log_.headTimeMs());
  } catch (const std::exception& e) {
    spdlog::error("signing a fresh log head failed: {}", e.what());
  }
  --inFlight_;
}

net::awaitable<void> SilenceProcedure::approveRecord(crypto::BulletinId recordId) {
  // Log appends are serialised with admin requests: each entry is prepared
  // against the directory it will be appended to.
  auto guard = co_await log_.lock();
  if (!guard) co_return;  // busy: the next pass retries
  auto row = store_.summaryRecord(recordId);
  if (!row || row->state != wire::RecordState::PENDING) co_return;
  const std::int64_t now = clock_.nowMs();
  if (row->deadlineMs > now) co_return;

  capnp::MallocMessageBuilder mb;
  auto e = mb.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(now);
  auto a = e.initRecordApproved();
  a.setRecordId(protocol::kjBytes(recordId.view()));
  const auto headerHash = crypto::hash256(row->header);
  a.setHeaderHash(protocol::kjBytes(headerHash.view()));
  a.setDeadlineMs(row->deadlineMs);
  auto acked = a.initAcknowledgedBy(static_cast<unsigned>(row->acknowledgedBy.size()));
  for (unsigned i = 0; i < row->acknowledgedBy.size(); ++i) {
    acked.set(i, protocol::asText(row->acknowledgedBy[i]));
  }
  auto commented = a.initCommentedBy(static_cast<unsigned>(row->comments.size()));
  for (unsigned i = 0; i < row->comments.size(); ++i) {
    const auto& m = row->comments[i].memberId;
    commented.set(i, protocol::asText(m));
  }
  auto makeJob = [recordId](auto entry, auto head) {
    return store::ApproveRecord{recordId, entry, head};
  };
  auto appended = co_await log_.append(*guard, log_.hubDraft(mb, now, std::nullopt, std::nullopt), makeJob);
  if (!appended) {
    const auto& failure = appended.error();
    if (failure.stage == LogAppender::Failure::Stage::Refused) {
      spdlog::error("silence procedure for {}: own entry refused: {}", crypto::toHex(recordId), failure.error.message);
    } else if (failure.stage == LogAppender::Failure::Stage::NotCommitted) {
      // An objection, revision or withdrawal committed first, or the disk
      // refused: nothing was written; the next pass looks again.
      spdlog::info("summary record {} not approved: {}", crypto::toHex(recordId), failure.error.message);
    }
    co_return;
  }
  spdlog::info("summary record {} approved by the silence procedure: log entry {}", crypto::toHex(recordId),
               appended->entry->index);
}

}  // namespace focal::server

#include "server/commit_queue.hpp"

#include <spdlog/spdlog.h>

namespace focal::server {

namespace {

HubError unavailable(std::string message) {
  return HubError{wire::ErrorCode::UNAVAILABLE, std::move(message), 1000};
}

}  // namespace

CommitQueue::CommitQueue(const std::filesystem::path& dbPath, Options options)
    : db_(sqlite::Database::open(dbPath, sqlite::Database::Mode::ReadWrite)), options_(options) {}

CommitQueue::~CommitQueue() { stop(); }

void CommitQueue::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void CommitQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Never started (or joined): whatever is left is failed, not dropped, so
  // every requester hears back.
  std::deque<std::unique_ptr<Request>> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(queue_);
  }
  for (auto& r : left) {
    r->fail(unavailable("the hub is shutting down"));
    r->complete();
  }
}

std::size_t CommitQueue::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void CommitQueue::enqueue(std::unique_ptr<Request> request) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_ && queue_.size() < options_.maxQueued) {
      queue_.push_back(std::move(request));
      request = nullptr;
    }
  }
  if (request == nullptr) {
    wake_.notify_one();
    return;
  }
  request->fail(unavailable("the hub's write queue is full; retry shortly"));
  request->complete();
}

void CommitQueue::run() {
  std::vector<std::unique_ptr<Request>> batch;
  batch.reserve(options_.maxBatch);
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && batch.size() < options_.maxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    processBatch(batch);
    for (auto& r : batch) r->complete();
    batch.clear();
  }
}

void CommitQueue::processBatch(std::vector<std::unique_ptr<Request>>& batch) {
  groupStorageFailed_ = false;
  const auto failAll = [&](const char* why) {
    for (auto& r : batch) r->fail(unavailable(why));
  };
  try {
    db_.exec("BEGIN IMMEDIATE");
  } catch (const sqlite::Error& e) {
    if (!failing_) spdlog::error("store: cannot begin a write transaction: {}", e.what());
    failing_ = true;
    ++failedCommits_;
    failAll("the hub cannot write to its database");
    return;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    applyOne(*batch[i], i);
    if (!db_.inTransaction()) {
      // SQLite rolled the whole transaction back by itself (some FULL, IOERR
      // and NOMEM cases): nothing of this group was kept.
      if (!failing_) spdlog::error("store: the database aborted a write transaction");
      failing_ = true;
      ++failedCommits_;
      failAll("the hub cannot write to its database");
      return;
    }
  }
  try {
    db_.exec("COMMIT");
  } catch (const sqlite::Error& e) {
    if (!failing_) spdlog::error("store: commit failed, writes refused until it succeeds again: {}", e.what());
    failing_ = true;
    ++failedCommits_;
    if (db_.inTransaction()) {
      try {
        db_.exec("ROLLBACK");
      } catch (const sqlite::Error& r) {
        spdlog::error("store: rollback after a failed commit failed: {}", r.what());
      }
    }
    failAll("the hub cannot write to its database");
    return;
  }
  ++commits_;
  if (groupStorageFailed_) return;  // committed the others; the condition goes on
  if (failing_) spdlog::info("store: commits succeed again");
  failing_ = false;
}

void CommitQueue::applyOne(Request& request, std::size_t index) {
  // Savepoint names are static text; nesting is never used, so one name
  // serves every request.
  bool ok = false;
  std::optional<HubError> error;
  try {
    db_.exec("SAVEPOINT request");
  } catch (const sqlite::Error& e) {
    request.fail(unavailable("the hub cannot write to its database"));
    return;
  }
  try {
    ok = request.apply(db_);
  } catch (const sqlite::Error& e) {
    if (e.isUnavailable()) {
      // A statement refused for storage (SQLITE_FULL on an insert that
      // needed a new page) without SQLite ending the transaction: the same
      // condition as a failed COMMIT, logged once with it.
      if (!failing_) spdlog::error("store: a write failed, writes refused until they succeed again: {}", e.what());
      failing_ = true;
      groupStorageFailed_ = true;
      error = unavailable("the hub cannot write to its database");
    } else {
      spdlog::error("store: request {} of a group failed: {}", index, e.what());
      error = HubError{wire::ErrorCode::INTERNAL, "internal error", 0};
    }
  } catch (const std::exception& e) {
    spdlog::error("store: request {} of a group failed: {}", index, e.what());
    error = HubError{wire::ErrorCode::INTERNAL, "internal error", 0};
  }
  if (error) {
    request.fail(*error);
    ok = false;
  }
  if (!db_.inTransaction()) return;  // the caller fails the whole group
  try {
    if (!ok) db_.exec("ROLLBACK TO request");
    db_.exec("RELEASE request");
  } catch (const sqlite::Error& e) {
    // A savepoint that cannot be rolled back leaves the group in an unknown
    // state; give up on the whole transaction.
    spdlog::error("store: cannot release a savepoint: {}", e.what());
    try {
      db_.exec("ROLLBACK");
    } catch (const sqlite::Error&) {
    }
  }
}

}  // namespace focal::server

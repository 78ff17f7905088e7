#include "server/commit_queue.hpp"

#include "server/thread_name.hpp"
#include "server/wal_batch_vfs.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

namespace focal::server {

namespace {

HubError unavailable(std::string message) {
  return HubError{wire::ErrorCode::UNAVAILABLE, std::move(message), 1000};
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

CommitQueue::CommitQueue(const std::filesystem::path& dbPath, Options options)
    // The write connection is the only one that writes the WAL: through
    // the shim that gives each commit one write (server/wal_batch_vfs.hpp).
    : db_(sqlite::Database::open(dbPath, sqlite::Database::Mode::ReadWrite, 5000, sqlite::walBatchVfs())),
      options_(options),
      checkpointDb_(sqlite::Database::open(dbPath, sqlite::Database::Mode::ReadWrite)) {
  // Replaces SQLite's auto-checkpoint (which is itself a WAL hook).
  sqlite3_wal_hook(db_.handle(), &CommitQueue::walHook, this);
  // Each request's SAVEPOINT keeps the pages it changes that an earlier
  // request of the group had changed in a statement journal; past 64 KiB
  // SQLite spills that to a temporary file (a fan-out to 10 recipients
  // does). In memory it is bounded by what one request may change
  // (MaxRecipients, MaxAckBatch).
  db_.exec("PRAGMA temp_store=MEMORY");
  // 16 MiB of page cache instead of SQLite's 2 MiB: the queue's unique
  // index is keyed by random bulletin ids, so each commit touches a leaf
  // anywhere in it, and with 2 MiB most of those were preads. A larger
  // cache gave less (its own page faults) and more RSS (bench/RESULTS.md).
  db_.exec("PRAGMA cache_size=-16384");
}

int CommitQueue::walHook(void* self, sqlite3*, const char*, int pages) {
  auto* q = static_cast<CommitQueue*>(self);
  if (pages >= WriterCheckpointPages) {
    q->writerCheckpointDue_ = true;
  } else if (pages >= CheckpointPages && !q->checkpointRunning_.exchange(true)) {
    {
      std::lock_guard lock(q->mutex_);
      q->checkpointWanted_ = true;
    }
    q->checkpointWake_.notify_one();
  }
  return SQLITE_OK;
}

void CommitQueue::runCheckpointer() {
  bool failed = false;  // logged once per episode
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      checkpointWake_.wait(lock, [this] { return checkpointStopping_ || checkpointWanted_; });
      // One asked for before stop() is still done (the writer has finished
      // by then, so it copies everything).
      if (!checkpointWanted_) return;
      checkpointWanted_ = false;
    }
    // PASSIVE never waits for (or blocks) the writer or a reader; it copies
    // what no reader still needs. Phase 1 while the writer goes on; phase 2
    // between two of its groups (groupMutex_).
    int rc = sqlite3_wal_checkpoint_v2(checkpointDb_.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    if (rc == SQLITE_OK) {
      const auto syncStart = std::chrono::steady_clock::now();
      rc = syncDatabaseFile();
      metrics_.databaseSyncSeconds.observe(secondsSince(syncStart));
    }
    if (rc == SQLITE_OK) {
      std::lock_guard group(groupMutex_);
      rc = sqlite3_wal_checkpoint_v2(checkpointDb_.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    }
    if (rc == SQLITE_OK) {
      ++checkpoints_;
      if (failed) spdlog::info("store: checkpoints succeed again");
      failed = false;
    } else if (rc != SQLITE_BUSY && !failed) {
      // A full disk or an I/O error: the committed data stays in the WAL
      // (durable); only its copy into the database file waits. The writer's
      // own checkpoint past WriterCheckpointPages tries too.
      spdlog::warn("store: checkpoint failed: {}", sqlite3_errstr(rc));
      failed = true;
    }
    checkpointRunning_ = false;
  }
}

int CommitQueue::syncDatabaseFile() {
  // A PASSIVE checkpoint that did not copy the whole WAL (the writer went
  // on meanwhile) leaves what it copied unsynced in the database file: only
  // the one that copies the last frame syncs it, before the WAL may start
  // over. That is the second phase, which holds the writer: it would wait
  // for the first phase's thousand pages to reach the disk. Synced
  // here, outside the writer's way, its own sync has only its few pages to
  // write. SQLite's own file handle: a second descriptor of the database,
  // once closed, would drop the process's POSIX locks on it. With
  // synchronous=OFF (never in focald; the power-loss test's negative
  // control forces it) SQLite would not sync, and neither do we.
  {
    auto s = checkpointDb_.prepare("PRAGMA synchronous");
    if (s->step() && s->columnInt(0) == 0) return SQLITE_OK;
  }
  sqlite3_file* file = nullptr;
  int rc = sqlite3_file_control(checkpointDb_.handle(), "main", SQLITE_FCNTL_FILE_POINTER, &file);
  if (rc != SQLITE_OK || file == nullptr || file->pMethods == nullptr) return rc == SQLITE_OK ? SQLITE_ERROR : rc;
  return file->pMethods->xSync(file, SQLITE_SYNC_NORMAL);
}

CommitQueue::~CommitQueue() { stop(); }

void CommitQueue::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] {
    nameThisThread("focal-writer");
    run();
  });
  checkpointThread_ = std::thread([this] {
    nameThisThread("focal-checkpt");
    runCheckpointer();
  });
}

void CommitQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(mutex_);
    checkpointStopping_ = true;
  }
  checkpointWake_.notify_all();
  if (checkpointThread_.joinable()) checkpointThread_.join();
  // Never started (or joined): whatever is left is failed, not dropped, so
  // every requester hears back.
  std::deque<std::unique_ptr<Request>> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(queue_);
    for (auto& r : deferred_) left.push_back(std::move(r));
    deferred_.clear();
  }
  for (auto& r : left) {
    r->fail(unavailable("the hub is shutting down"));
    r->complete();
  }
}

std::size_t CommitQueue::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size() + deferred_.size();
}

void CommitQueue::enqueue(std::unique_ptr<Request> request) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_ && queue_.size() + deferred_.size() < options_.maxQueued) {
      if (request->due) {
        // The writer is not woken: it looks at the deferred requests when
        // a group forms, and waits no longer than the earliest due time.
        // It is woken only when this one is due before what it waits for.
        const bool earliest = deferred_.empty() || *request->due < deferredDue_;
        if (earliest) deferredDue_ = *request->due;
        deferred_.push_back(std::move(request));
        request = nullptr;
        metrics_.queued.set(static_cast<std::int64_t>(queue_.size() + deferred_.size()));
        if (!earliest) return;
      } else {
        queue_.push_back(std::move(request));
        request = nullptr;
        metrics_.queued.set(static_cast<std::int64_t>(queue_.size() + deferred_.size()));
      }
    }
  }
  if (request == nullptr) {
    wake_.notify_one();
    return;
  }
  request->fail(unavailable("the hub's write queue is full; retry shortly"));
  request->complete();
}

std::uint64_t CommitQueue::freeBytes() const {
  if (options_.freeSpace) return options_.freeSpace();
  struct statvfs st {};
  const auto dir = options_.reserveFile.parent_path();
  if (::statvfs(dir.empty() ? "." : dir.c_str(), &st) != 0) return std::numeric_limits<std::uint64_t>::max();
  return static_cast<std::uint64_t>(st.f_bavail) * static_cast<std::uint64_t>(st.f_frsize);
}

bool CommitQueue::makeReserve() {
  const auto& path = options_.reserveFile;
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec) && std::filesystem::file_size(path, ec) == options_.reserveBytes) {
    return true;
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return false;
  // posix_fallocate allocates real blocks (a sparse file would give nothing
  // back when deleted); glibc writes zeros where the filesystem cannot.
  const int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(options_.reserveBytes));
  const bool synced = rc == 0 && ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) {
    std::filesystem::remove(path, ec);
    return false;
  }
  return true;
}

void CommitQueue::onStorageFailure(int sqliteCode) {
  if (lowSpace_ || options_.reserveFile.empty()) return;
  // Only a full filesystem, as statvfs sees it: an I/O error, a read-only
  // file, or an ENOSPC while space is free (inodes, quota, an injected
  // fault) is not helped by the reserve, which stays for the real case.
  // Entering below one reserve of free space and leaving only at three
  // (leaveLowSpaceIfRoom) keeps the hub from flapping at the edge.
  (void)sqliteCode;
  if (freeBytes() >= options_.reserveBytes) return;
  std::error_code ec;
  const bool had = std::filesystem::remove(options_.reserveFile, ec);
  lowSpace_ = true;
  lowSpaceFlag_ = true;
  ++reserveReleases_;
  // Without a reserve (it could not be made at start) acks are still tried,
  // in whatever space deletions free.
  spdlog::error("store: disk full: {}; until space returns only acknowledgements are written, new bulletins and other "
                "writes get `unavailable`",
                had ? fmt::format("released the {} MiB space reserve", options_.reserveBytes >> 20)
                    : std::string("no space reserve to release"));
}

void CommitQueue::leaveLowSpaceIfRoom() {
  // Three reserves free: after re-making the reserve, two remain, well
  // above the one that sends the writer back into low-space mode.
  if (freeBytes() < 3 * options_.reserveBytes) return;
  if (!makeReserve()) return;
  lowSpace_ = false;
  lowSpaceFlag_ = false;
  failing_ = false;
  failingFlag_ = false;
  spdlog::info("store: space returned, the space reserve is back; commits succeed again");
}

void CommitQueue::run() {
  if (!options_.reserveFile.empty() && !makeReserve()) {
    spdlog::warn("store: cannot make the {} MiB space reserve {}: a full disk will refuse acknowledgements too",
                 options_.reserveBytes >> 20, options_.reserveFile.string());
  }
  std::vector<std::unique_ptr<Request>> batch;
  batch.reserve(options_.maxBatch);
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      for (;;) {
        if (stopping_ || !queue_.empty()) break;
        if (deferred_.empty()) {
          wake_.wait(lock);
          continue;
        }
        if (std::chrono::steady_clock::now() >= deferredDue_) break;  // a group of deferred requests only
        wake_.wait_until(lock, deferredDue_);
      }
      if (queue_.empty() && deferred_.empty()) return;  // stopping and drained
      // Deferred requests first (they have waited longest), then the rest.
      while (!deferred_.empty() && batch.size() < options_.maxBatch) {
        batch.push_back(std::move(deferred_.front()));
        deferred_.pop_front();
      }
      if (!deferred_.empty()) {
        deferredDue_ = *deferred_.front()->due;
        for (const auto& r : deferred_) deferredDue_ = std::min(deferredDue_, *r->due);
      }
      while (!queue_.empty() && batch.size() < options_.maxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      metrics_.queued.set(static_cast<std::int64_t>(queue_.size() + deferred_.size()));
    }
    {
      std::lock_guard group(groupMutex_);
      processBatch(batch);
    }
    for (auto& r : batch) r->complete();
    batch.clear();
    if (writerCheckpointDue_) {
      writerCheckpointDue_ = false;
      // Answered first, then as SQLite's auto-checkpoint would (PASSIVE;
      // busy while the checkpointer is at it, which is as good).
      sqlite3_wal_checkpoint_v2(db_.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    }
  }
}

void CommitQueue::processBatch(std::vector<std::unique_ptr<Request>>& batch) {
  groupStorageFailed_ = false;
  groupStorageCode_ = 0;
  if (lowSpace_) leaveLowSpaceIfRoom();
  // The requests this group runs: in low-space mode only the essential ones.
  std::vector<Request*> group;
  group.reserve(batch.size());
  for (auto& r : batch) {
    if (lowSpace_ && r->writeClass != WriteClass::Essential) {
      r->fail(unavailable("the hub's disk is full; retry later"));
    } else {
      group.push_back(r.get());
    }
  }
  if (group.empty()) return;
  // The whole group failed (nothing of it kept): logged once per episode,
  // every request answered `unavailable`.
  const auto failGroup = [&](const std::string& why, int sqliteCode) {
    if (!failing_) spdlog::error("store: {}", why);
    failing_ = true;
    failingFlag_ = true;
    ++failedCommits_;
    for (auto* r : group) r->fail(unavailable("the hub cannot write to its database"));
    onStorageFailure(sqliteCode);
  };
  const auto groupStart = std::chrono::steady_clock::now();
  try {
    db_.execPrepared("BEGIN IMMEDIATE");
  } catch (const sqlite::Error& e) {
    return failGroup(std::string("cannot begin a write transaction: ") + e.what(), e.code());
  }
  // First without savepoints; again with one per request only when a
  // request failed after changing rows (see the header).
  for (bool savepoints = false;; savepoints = true) {
    bool rerun = false;
    for (std::size_t i = 0; i < group.size() && !rerun; ++i) {
      rerun = !applyOne(*group[i], i, savepoints);
      if (!db_.inTransaction()) {
        // SQLite rolled the whole transaction back by itself (some FULL,
        // IOERR and NOMEM cases): nothing of this group was kept.
        return failGroup("the database aborted a write transaction", groupStorageCode_);
      }
    }
    if (!rerun) break;
    ++reruns_;
    groupStorageFailed_ = false;
    groupStorageCode_ = 0;
    try {
      db_.execPrepared("ROLLBACK");
      db_.execPrepared("BEGIN IMMEDIATE");
    } catch (const sqlite::Error& e) {
      return failGroup(std::string("cannot run a write transaction again: ") + e.what(), e.code());
    }
  }
  const auto commitStart = std::chrono::steady_clock::now();
  try {
    db_.execPrepared("COMMIT");
  } catch (const sqlite::Error& e) {
    if (db_.inTransaction()) {
      try {
        db_.execPrepared("ROLLBACK");
      } catch (const sqlite::Error& r) {
        spdlog::error("store: rollback after a failed commit failed: {}", r.what());
      }
    }
    return failGroup(std::string("commit failed, writes refused until it succeeds again: ") + e.what(), e.code());
  }
  ++commits_;
  metrics_.commitSeconds.observe(secondsSince(commitStart));
  metrics_.groupSeconds.observe(secondsSince(groupStart));
  metrics_.groupSize.observe(static_cast<double>(group.size()));
  if (groupStorageFailed_) {  // committed the others; the condition goes on
    onStorageFailure(groupStorageCode_);
    return;
  }
  if (lowSpace_) return;  // essential writes fit in the reserve's space; the disk is still full
  if (failing_) spdlog::info("store: commits succeed again");
  failing_ = false;
  failingFlag_ = false;
}

bool CommitQueue::applyOne(Request& request, std::size_t index, bool savepoint) {
  // Savepoint names are static text; nesting is never used, so one name
  // serves every request.
  if (savepoint) {
    try {
      db_.execPrepared("SAVEPOINT request");
    } catch (const sqlite::Error&) {
      request.fail(unavailable("the hub cannot write to its database"));
      return true;
    }
  }
  // What went wrong, if anything: logged and answered only once it is
  // known that the request's failure stands (not undone by a second run).
  enum class Failure { None, Refused, Storage, Internal } failure = Failure::None;
  std::string what;
  int code = 0;
  const auto changesBefore = sqlite3_total_changes64(db_.handle());
  try {
    if (!request.apply(db_)) failure = Failure::Refused;
  } catch (const sqlite::Error& e) {
    // A statement refused for storage (SQLITE_FULL on an insert that
    // needed a new page) without SQLite ending the transaction is the same
    // condition as a failed COMMIT, logged once with it.
    failure = e.isUnavailable() ? Failure::Storage : Failure::Internal;
    what = e.what();
    code = e.code();
  } catch (const std::exception& e) {
    failure = Failure::Internal;
    what = e.what();
  }
  if (failure == Failure::None) {
    if (savepoint && db_.inTransaction()) release(false);
    return true;
  }
  // Without a savepoint, a failed request's changes cannot be undone alone:
  // the group runs again with savepoints. SQLite has already backed out the
  // statement that failed, so unchanged means nothing of it is left.
  if (!savepoint && db_.inTransaction() && sqlite3_total_changes64(db_.handle()) != changesBefore) return false;
  if (failure == Failure::Storage) {
    if (!failing_) spdlog::error("store: a write failed, writes refused until they succeed again: {}", what);
    failing_ = true;
    failingFlag_ = true;
    groupStorageFailed_ = true;
    groupStorageCode_ = code;
    request.fail(unavailable("the hub cannot write to its database"));
  } else if (failure == Failure::Internal) {
    spdlog::error("store: request {} of a group failed: {}", index, what);
    request.fail(HubError{wire::ErrorCode::INTERNAL, "internal error", 0});
  }
  if (savepoint && db_.inTransaction()) release(true);  // otherwise the caller fails the whole group
  return true;
}

void CommitQueue::release(bool rollback) {
  try {
    if (rollback) db_.execPrepared("ROLLBACK TO request");
    db_.execPrepared("RELEASE request");
  } catch (const sqlite::Error& e) {
    // A savepoint that cannot be rolled back leaves the group in an unknown
    // state; give up on the whole transaction.
    spdlog::error("store: cannot release a savepoint: {}", e.what());
    try {
      db_.execPrepared("ROLLBACK");
    } catch (const sqlite::Error&) {
    }
  }
}

}  // namespace focal::server

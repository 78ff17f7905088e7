// CommitQueue: the hub's single SQLite writer, with grouped commits; the
// write half of the store boundary (server/ARCHITECTURE.md).
//
// One thread owns the write connection. Requests (a store write command,
// store_commands.hpp, or for tests and tools a function to run against that
// connection) are queued, capped at Options::maxQueued; a request that
// finds the queue full, or the queue stopped, completes with `unavailable`
// at once. The thread takes everything queued (up to Options::maxBatch),
// runs BEGIN IMMEDIATE, each request in turn, then one COMMIT: one fsync
// for the whole group (DESIGN.md §6).
//
// A request that refuses or throws leaves nothing behind and never touches
// the others. Most refuse before they write (a duplicate, an unknown id):
// SQLite backs out the statement that failed by itself, so a request that
// changed no row (sqlite3_total_changes64) has nothing to undo. A request
// that fails after changing rows makes the writer roll the group back and
// run it again from BEGIN with each request inside its own SAVEPOINT, so
// that its ROLLBACK TO undoes that request alone (rerunGroups()). A
// savepoint per request in every group cost 15-20 % of the writer's CPU
// per bulletin (bench/RESULTS.md). Hence the request contract: a request
// may run twice, so it must be a function of the database alone (a store
// command is), and it may change the database only by INSERT, UPDATE and
// DELETE (what sqlite3_total_changes64 counts; no DDL).
//
// Contract: a request's completion is delivered only after COMMIT returned
// SQLITE_OK, so a success result means "durably committed". If COMMIT fails
// (disk full, I/O error, read-only) every request of the group completes with
// `unavailable`; the thread logs the condition once, keeps running, and logs
// again when a commit succeeds. Completions are posted to the completion
// handler's associated executor (the io thread for coroutines), never run on
// the writer thread.
//
// Deferred requests (submitDeferred): a request whose commit may wait, such
// as the delivered marks, does not wake the writer. It rides in the next
// group that forms for other requests, so it costs no commit and no fsync of
// its own; only if none forms within its delay does the writer commit it in
// a group of its own. It may therefore run after requests submitted later.
// The contract above holds for it unchanged; stop() commits it too.
//
// Full disk (docs/reliability.md "Disk full"): with Options::reserveFile set,
// the writer keeps a preallocated file of reserveBytes (the space reserve)
// beside the database. When a group fails for storage and statvfs shows
// less free space than one reserve, the writer deletes the reserve (logged
// once) and enters low-space mode: only requests submitted as
// WriteClass::Essential (acknowledgements, delivered marks: they delete or
// update rows and add a few bytes at most) run, and they write into the
// space the reserve gave back; every other request is answered
// `unavailable` without running. Before each group in low-space mode the
// writer checks free space; with at least three reserves free it re-creates
// the reserve and leaves low-space mode (logged once). An ENOSPC while
// statvfs shows space (inodes, quota, an injected fault), an I/O error or a
// read-only file leaves the reserve alone: space would not help.
#pragma once

#include "server/hub_error.hpp"
#include "server/metrics.hpp"
#include "server/net.hpp"
#include "server/sqlite.hpp"
#include "server/store.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace focal::server {

class CommitQueue {
 public:
  struct Options {
    // Requests waiting for the writer. Beyond this the hub is overloaded and
    // says so (`unavailable`) instead of growing memory without bound.
    std::size_t maxQueued = 65536;
    // Requests per transaction: bounds the time one group holds the write
    // lock and the memory of one group's results.
    std::size_t maxBatch = 512;
    // The space reserve (see above); empty: none, and a full disk refuses
    // every write including acknowledgements.
    std::filesystem::path reserveFile;
    // Room for the write-ahead log to grow by ~2000 pages of acks and
    // delivered marks before the first checkpoint lets it reuse its blocks.
    std::uint64_t reserveBytes = 8 * 1024 * 1024;
    // Free bytes on the reserve's filesystem; empty: statvfs of its
    // directory. Tests inject it (called on the writer thread).
    std::function<std::uint64_t()> freeSpace;
  };

  // Checkpoints (copying the WAL back into the database file) run on a
  // checkpointer thread with its own connection, not inside the writer's
  // COMMIT as SQLite's auto-checkpoint does: a checkpoint takes milliseconds
  // (copies, then an fsync of the database file), and every request that
  // arrived meanwhile would wait for it (bench/RESULTS.md). Two phases: a PASSIVE checkpoint of everything while the writer goes on,
  // then, holding the writer between two groups, a PASSIVE checkpoint of
  // the few pages written meanwhile, so the WAL is fully copied with no
  // write in progress and the next transaction starts it from its
  // beginning (reusing its blocks: the disk-full design relies on it;
  // without the second phase, steady writes would grow the WAL for ever).
  //
  // WAL size (pages) that starts a checkpoint: SQLite's own default (the
  // alternatives tried are in bench/RESULTS.md).
  static constexpr int CheckpointPages = 1000;
  // A checkpointer that cannot keep up, or a WAL that did not restart, is
  // backed by the writer itself past this size, as SQLite's
  // auto-checkpoint would: the WAL stays bounded whatever happens.
  static constexpr int WriterCheckpointPages = 8 * CheckpointPages;

  // What a request does to the disk (store_commands.hpp).
  using WriteClass = store::WriteClass;

  // Opens the write connection (throws sqlite::Error). The thread starts
  // with start(), so tests can queue requests first and observe grouping.
  CommitQueue(const std::filesystem::path& dbPath, Options options);
  ~CommitQueue();  // stop()
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  void start();
  // Refuses new requests, finishes everything already queued (committing
  // it), and joins the thread. Idempotent.
  void stop();

  // Runs `command` (store_commands.hpp) on the writer thread in a group
  // and completes `token` with void(Result<C::Reply>) after
  // COMMIT, in the command's write class. The request layer writes only so.
  //
  // g++ 12 BUG: a lambda or temporary written inside a co_await expression
  // has its captures destroyed twice (a shared_ptr then frees its object
  // while it is still in use). Always name the command first:
  //   auto job = store::Acknowledge{...};
  //   auto r = co_await queue.submit(std::move(job), net::use_awaitable);
  template <store::WriteCommand C, class Token>
  auto submit(C command, Token&& token) {
    return submit<typename C::Reply>(Execute<C>{std::move(command)}, std::forward<Token>(token),
                                     store::writeClassOf<C>());
  }
  // As submit, but deferred (see above): committed with the next group, at
  // the latest `maxDelay` from now.
  template <store::WriteCommand C, class Token>
  auto submitDeferred(C command, Token&& token, std::chrono::milliseconds maxDelay) {
    return submitDeferred<typename C::Reply>(Execute<C>{std::move(command)}, std::forward<Token>(token), maxDelay,
                                             store::writeClassOf<C>());
  }

  // The same for any `fn(sqlite::Database&) -> Result<R>` (tests, tools):
  // a sqlite::Error thrown by `fn` becomes `unavailable` (storage condition)
  // or `internal` (anything else), and rolls back only this request (a
  // command's too). `fn` runs on the writer thread: it must own (or share
  // immutably) all it uses, never refer to io-thread state; it may run
  // twice (the request contract above).
  template <class R, class Fn, class Token>
  auto submit(Fn fn, Token&& token, WriteClass writeClass = WriteClass::Normal);
  template <class R, class Fn, class Token>
  auto submitDeferred(Fn fn, Token&& token, std::chrono::milliseconds maxDelay,
                      WriteClass writeClass = WriteClass::Normal);

  std::size_t queued() const;
  // Statistics for tests and logs.
  std::uint64_t commits() const { return commits_.load(); }
  std::uint64_t failedCommits() const { return failedCommits_.load(); }
  std::uint64_t checkpoints() const { return checkpoints_.load(); }
  // Groups run a second time with savepoints (see above).
  std::uint64_t rerunGroups() const { return reruns_.load(); }
  // A checkpoint was asked for and has not finished (tests wait for it).
  bool checkpointInProgress() const { return checkpointRunning_.load(); }
  // Times the reserve was given up, and whether the writer is in low-space mode.
  std::uint64_t reserveReleases() const { return reserveReleases_.load(); }
  bool lowSpace() const { return lowSpaceFlag_.load(); }
  // False while writes fail (from a failed group until one commits again).
  bool writable() const { return !failingFlag_.load(); }

  // The writer's instruments (metrics.hpp), read by the metrics listener.
  struct Metrics {
    metrics::Histogram groupSize{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}};
    metrics::Histogram groupSeconds{metrics::latencyBuckets()};   // BEGIN to the end of COMMIT
    metrics::Histogram commitSeconds{metrics::latencyBuckets()};  // COMMIT: the WAL write and its fsync
    metrics::Histogram databaseSyncSeconds{metrics::latencyBuckets()};  // the checkpointer's fsync
    metrics::Gauge queued;  // queue_ + deferred_, set under mutex_
  };
  const Metrics& metrics() const { return metrics_; }

 private:
  struct Request {
    virtual ~Request() = default;
    // Runs the request (again, if the group runs twice: its result is
    // replaced); false when it refused.
    virtual bool apply(sqlite::Database& db) = 0;
    // Replaces the result with a failure.
    virtual void fail(HubError error) = 0;
    // Posts the result to the requester. Called once.
    virtual void complete() = 0;
    WriteClass writeClass = WriteClass::Normal;
    // Deferred: commit by then, in another group if one forms first.
    std::optional<std::chrono::steady_clock::time_point> due;
  };

  template <class R, class Fn, class Handler>
  class Op;

  // A command as a request function.
  template <class C>
  struct Execute {
    C command;
    Result<typename C::Reply> operator()(sqlite::Database& db) const { return store::execute(db, command); }
  };

  // False when the request was refused (queue full or stopped); the request
  // has then been failed and completed.
  void enqueue(std::unique_ptr<Request> request);
  void run();
  void processBatch(std::vector<std::unique_ptr<Request>>& batch);
  // Runs one request, inside a savepoint of its own when `savepoint`. False
  // (only without a savepoint) when it failed after changing rows: the
  // group must run again with savepoints; nothing of the request's failure
  // has been answered or logged yet.
  bool applyOne(Request& request, std::size_t index, bool savepoint);
  // Releases the request's savepoint, rolled back first when `rollback`.
  void release(bool rollback);
  // Space reserve (writer thread only).
  std::uint64_t freeBytes() const;  // on the reserve's filesystem; max() when unknown
  bool makeReserve();                // true when the reserve file has its full size
  void onStorageFailure(int sqliteCode);
  void leaveLowSpaceIfRoom();
  // WAL hook of the write connection, called inside each COMMIT.
  static int walHook(void* self, sqlite3* db, const char* schema, int pages);
  void runCheckpointer();
  // Checkpointer thread: fsyncs the database file (an SQLite result code).
  int syncDatabaseFile();

  sqlite::Database db_;
  Options options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Request>> queue_;
  // Deferred requests (under mutex_), and the earliest of their due times.
  std::deque<std::unique_ptr<Request>> deferred_;
  std::chrono::steady_clock::time_point deferredDue_;
  bool stopping_ = false;
  std::thread thread_;
  // Checkpointer (see CheckpointPages): its own connection and thread.
  sqlite::Database checkpointDb_;
  std::thread checkpointThread_;
  std::condition_variable checkpointWake_;
  bool checkpointWanted_ = false;    // under mutex_
  bool checkpointStopping_ = false;  // under mutex_
  std::atomic<bool> checkpointRunning_{false};
  // Held by the writer for each group, by the checkpointer for its second
  // phase: that phase runs with no write in progress.
  std::mutex groupMutex_;
  // Writer thread only: the WAL passed WriterCheckpointPages; checkpoint
  // once the group's requests are answered.
  bool writerCheckpointDue_ = false;
  std::atomic<std::uint64_t> checkpoints_{0};
  bool failing_ = false;  // writer thread only: storage condition already logged
  std::atomic<bool> failingFlag_{false};  // failing_, for writable()
  Metrics metrics_;
  bool groupStorageFailed_ = false;  // writer thread only: a request of this group hit it
  int groupStorageCode_ = 0;         // writer thread only: its SQLite code
  bool lowSpace_ = false;            // writer thread only: the reserve was given up
  std::atomic<bool> lowSpaceFlag_{false};
  std::atomic<std::uint64_t> reserveReleases_{0};
  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> failedCommits_{0};
  std::atomic<std::uint64_t> reruns_{0};
};

template <class R, class Fn, class Handler>
class CommitQueue::Op final : public CommitQueue::Request {
 public:
  Op(Fn fn, Handler handler)
      : fn_(std::move(fn)),
        handler_(std::move(handler)),
        // Keeps the requester's io_context running while we hold its work.
        work_(net::prefer(net::get_associated_executor(handler_), net::execution::outstanding_work.tracked)) {}

  bool apply(sqlite::Database& db) override {
    result_.emplace(fn_(db));
    return result_->ok();
  }
  void fail(HubError error) override { result_.emplace(Unexpected<HubError>{std::move(error)}); }
  void complete() override {
    if (!result_) result_.emplace(Unexpected<HubError>{HubError{wire::ErrorCode::INTERNAL, "request not run"}});
    net::post(work_, [h = std::move(handler_), r = std::move(*result_)]() mutable { std::move(h)(std::move(r)); });
  }

 private:
  Fn fn_;
  Handler handler_;
  std::optional<Result<R>> result_;
  std::decay_t<decltype(net::prefer(std::declval<net::associated_executor_t<Handler>>(),
                                    net::execution::outstanding_work.tracked))>
      work_;
};

template <class R, class Fn, class Token>
auto CommitQueue::submit(Fn fn, Token&& token, WriteClass writeClass) {
  return net::async_initiate<Token, void(Result<R>)>(
      [this, writeClass](auto handler, Fn f) {
        using H = decltype(handler);
        auto op = std::make_unique<Op<R, Fn, H>>(std::move(f), std::move(handler));
        op->writeClass = writeClass;
        enqueue(std::move(op));
      },
      token, std::move(fn));
}

template <class R, class Fn, class Token>
auto CommitQueue::submitDeferred(Fn fn, Token&& token, std::chrono::milliseconds maxDelay, WriteClass writeClass) {
  return net::async_initiate<Token, void(Result<R>)>(
      [this, writeClass, maxDelay](auto handler, Fn f) {
        using H = decltype(handler);
        auto op = std::make_unique<Op<R, Fn, H>>(std::move(f), std::move(handler));
        op->writeClass = writeClass;
        op->due = std::chrono::steady_clock::now() + maxDelay;
        enqueue(std::move(op));
      },
      token, std::move(fn));
}

}  // namespace focal::server

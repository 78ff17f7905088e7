// The commit queue: many requests, one transaction and one fsync; a request
// that fails rolls back only itself; completions arrive only after COMMIT;
// a failed COMMIT fails the whole group and the writer carries on.
#include "server/commit_queue.hpp"
#include "server_test_support.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <thread>

using namespace focal;
using namespace focal::server;
using namespace focal::server::testing;

namespace {

std::filesystem::path makeDb(const TempDir& dir) {
  auto path = dir / "q.db";
  auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadWriteCreate);
  db.exec("CREATE TABLE t(x INTEGER PRIMARY KEY)");
  db.exec("CREATE TABLE parent(id INTEGER PRIMARY KEY)");
  db.exec("CREATE TABLE child(p INTEGER NOT NULL REFERENCES parent(id))");
  return path;
}

std::vector<std::int64_t> rows(const std::filesystem::path& path) {
  auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadOnly);
  auto s = db.prepare("SELECT x FROM t ORDER BY x");
  std::vector<std::int64_t> out;
  while (s->step()) out.push_back(s->columnInt(0));
  return out;
}

Result<std::int64_t> insertRow(sqlite::Database& db, std::int64_t x) {
  auto s = db.prepare("INSERT INTO t(x) VALUES(?1)");
  s->bind(1, x);
  s->run();
  return x;
}

// A fresh database, an io context and `n` result slots, each filled by the
// completion handler(i) gives a request.
struct Rig {
  TempDir dir;
  std::filesystem::path path = makeDb(dir);
  net::io_context io;
  std::vector<std::optional<Result<std::int64_t>>> results;

  explicit Rig(std::size_t n) : results(n) {}
  auto handler(std::size_t i) {
    return net::bind_executor(io, [this, i](Result<std::int64_t> r) { results[i].emplace(std::move(r)); });
  }
};

}  // namespace

TEST_CASE("queued requests commit as one group, a refusing request rolls back only itself", "[server][commit]") {
  Rig rig(100);
  CommitQueue queue(rig.path, queueOptions(1000, 512));

  for (int i = 0; i < 100; ++i) {
    auto handler = rig.handler(i);
    if (i == 50) {
      // Writes a row, then refuses: its row must not survive.
      queue.submit<std::int64_t>(
          [](sqlite::Database& db) -> Result<std::int64_t> {
            (void)insertRow(db, 5000);
            return fail(wire::ErrorCode::POLICY_DENIED, "refused in the middle");
          },
          handler);
    } else if (i == 60) {
      // Throws a SQLite error (duplicate key of request 10).
      queue.submit<std::int64_t>([](sqlite::Database& db) { return insertRow(db, 10); }, handler);
    } else {
      queue.submit<std::int64_t>([i](sqlite::Database& db) { return insertRow(db, i); }, handler);
    }
  }
  queue.start();  // everything is queued: the writer takes it as one group
  rig.io.run();   // returns when every completion has run (the queue holds io's work)

  for (int i = 0; i < 100; ++i) {
    INFO("request " << i);
    REQUIRE(rig.results[i].has_value());
    if (i == 50) {
      CHECK(rig.results[i]->error().code == wire::ErrorCode::POLICY_DENIED);
    } else if (i == 60) {
      CHECK(rig.results[i]->error().code == wire::ErrorCode::INTERNAL);
    } else {
      REQUIRE(rig.results[i]->ok());
      CHECK(rig.results[i]->value() == i);
    }
  }
  auto stored = rows(rig.path);
  CHECK(stored.size() == 98);
  CHECK(std::find(stored.begin(), stored.end(), 5000) == stored.end());
  CHECK(std::find(stored.begin(), stored.end(), 50) == stored.end());
  CHECK(queue.commits() == 1);  // one transaction, one fsync, for all of them
  // Request 50 changed a row before refusing: only a savepoint undoes that
  // alone, so the group ran a second time with one per request.
  CHECK(queue.rerunGroups() == 1);
}

namespace {

using Job = std::function<Result<std::int64_t>(sqlite::Database&)>;

// Queues rig.results.size() requests before the writer starts, so that
// they form one group: request i inserts row i, unless `special` has
// another job for it. Every run of every request is counted in `runs`.
// Then starts the queue and waits for every answer.
void runCountedGroup(Rig& rig, CommitQueue& queue, std::atomic<int>& runs, const std::map<int, Job>& special) {
  for (int i = 0; i < static_cast<int>(rig.results.size()); ++i) {
    const auto it = special.find(i);
    Job job = it != special.end() ? it->second : Job([i](sqlite::Database& db) { return insertRow(db, i); });
    queue.submit<std::int64_t>(
        [&runs, job](sqlite::Database& db) {
          ++runs;
          return job(db);
        },
        rig.handler(i));
  }
  queue.start();
  rig.io.run();
}

// Every request was answered: those in `refused` with their error code,
// the others with their own row.
void checkAnswers(const Rig& rig, const std::map<int, wire::ErrorCode>& refused) {
  for (int i = 0; i < static_cast<int>(rig.results.size()); ++i) {
    INFO("request " << i);
    REQUIRE(rig.results[i].has_value());
    if (const auto it = refused.find(i); it != refused.end()) {
      REQUIRE_FALSE(rig.results[i]->ok());
      CHECK(rig.results[i]->error().code == it->second);
    } else {
      REQUIRE(rig.results[i]->ok());
      CHECK(rig.results[i]->value() == i);
    }
  }
}

}  // namespace

TEST_CASE("a request that refuses or throws before changing a row needs no second run", "[server][commit]") {
  Rig rig(100);
  CommitQueue queue(rig.path, queueOptions(1000, 512));
  std::atomic<int> runs{0};
  runCountedGroup(rig, queue, runs,
                  {
                      // Reads, then refuses without writing (as a duplicate bulletin does).
                      {50,
                       [](sqlite::Database& db) -> Result<std::int64_t> {
                         auto s = db.prepare("SELECT count(*) FROM t");
                         (void)s->step();
                         return fail(wire::ErrorCode::DUPLICATE, "refused before writing");
                       }},
                      // Its only statement fails (duplicate key of request 10):
                      // SQLite backs the statement out itself.
                      {60, [](sqlite::Database& db) { return insertRow(db, 10); }},
                  });
  checkAnswers(rig, {{50, wire::ErrorCode::DUPLICATE}, {60, wire::ErrorCode::INTERNAL}});
  auto stored = rows(rig.path);
  CHECK(stored.size() == 98);
  CHECK(std::count(stored.begin(), stored.end(), 10) == 1);
  CHECK(queue.commits() == 1);
  CHECK(queue.rerunGroups() == 0);
  CHECK(runs.load() == 100);  // each request ran once
}

TEST_CASE("a request that throws after changing rows is undone alone: the group runs again with savepoints",
          "[server][commit]") {
  Rig rig(100);
  CommitQueue queue(rig.path, queueOptions(1000, 512));
  std::atomic<int> runs{0};
  runCountedGroup(rig, queue, runs,
                  {
                      // Two rows, then a statement that fails (request 10's key):
                      // the two rows are this request's and must go with it.
                      {30,
                       [](sqlite::Database& db) -> Result<std::int64_t> {
                         (void)insertRow(db, 7000);
                         (void)insertRow(db, 7001);
                         return insertRow(db, 10);
                       }},
                      // Changes a row, then refuses: undone too (in the second run).
                      {70,
                       [](sqlite::Database& db) -> Result<std::int64_t> {
                         db.exec("UPDATE t SET x = x + 10000 WHERE x = 5");
                         return fail(wire::ErrorCode::POLICY_DENIED, "refused after an update");
                       }},
                  });
  checkAnswers(rig, {{30, wire::ErrorCode::INTERNAL}, {70, wire::ErrorCode::POLICY_DENIED}});
  auto stored = rows(rig.path);
  CHECK(stored.size() == 98);
  CHECK(std::count(stored.begin(), stored.end(), 7000) == 0);
  CHECK(std::count(stored.begin(), stored.end(), 7001) == 0);
  CHECK(std::count(stored.begin(), stored.end(), 5) == 1);
  CHECK(std::count(stored.begin(), stored.end(), 10005) == 0);
  CHECK(queue.commits() == 1);
  CHECK(queue.rerunGroups() == 1);
  // Requests 0 to 30 once without savepoints (the first run stops at 30),
  // then all 100 with them.
  CHECK(runs.load() == 31 + 100);
}

TEST_CASE("a completion runs only after its data is committed and visible to readers", "[server][commit]") {
  Rig rig(0);
  CommitQueue queue(rig.path, CommitQueue::Options{});
  queue.start();
  std::vector<std::int64_t> seenAtCompletion;
  for (int i = 0; i < 20; ++i) {
    queue.submit<std::int64_t>([i](sqlite::Database& db) { return insertRow(db, i); },
                               net::bind_executor(rig.io, [&](Result<std::int64_t> r) {
                                 REQUIRE(r.ok());
                                 // Another connection sees the row already.
                                 const auto now = rows(rig.path);
                                 seenAtCompletion.push_back(
                                     std::count(now.begin(), now.end(), r.value()));
                               }));
  }
  rig.io.run();
  CHECK(seenAtCompletion == std::vector<std::int64_t>(20, 1));
  CHECK(queue.commits() >= 1);
  CHECK(queue.commits() <= 20);
}

TEST_CASE("works with coroutines awaiting use_awaitable", "[server][commit]") {
  Rig rig(0);
  CommitQueue queue(rig.path, CommitQueue::Options{});
  queue.start();
  std::int64_t got = -1;
  struct Run {
    static net::awaitable<void> go(CommitQueue* q, std::int64_t* out) {
      auto job = [](sqlite::Database& db) { return insertRow(db, 77); };  // named: see submit()
      auto r = co_await q->submit<std::int64_t>(std::move(job), net::use_awaitable);
      *out = r.ok() ? r.value() : -2;
    }
  };
  net::co_spawn(rig.io, Run::go(&queue, &got), net::detached);
  rig.io.run();
  CHECK(got == 77);
  CHECK(rows(rig.path) == std::vector<std::int64_t>{77});
}

// Runs one group on a started queue: row 1, `breaker` (which breaks the
// group's transaction), row 3. Every request of it fails as unavailable and
// none of its rows stays.
void runBrokenGroup(Rig& rig, CommitQueue& queue, Result<std::int64_t> (*breaker)(sqlite::Database&)) {
  queue.submit<std::int64_t>([](sqlite::Database& db) { return insertRow(db, 1); }, rig.handler(0));
  queue.submit<std::int64_t>(breaker, rig.handler(1));
  queue.submit<std::int64_t>([](sqlite::Database& db) { return insertRow(db, 3); }, rig.handler(2));
  queue.start();
  rig.io.run();
  for (auto& r : rig.results) {
    REQUIRE(r.has_value());
    REQUIRE_FALSE(r->ok());
    CHECK(r->error().code == wire::ErrorCode::UNAVAILABLE);
  }
  CHECK(rows(rig.path).empty());
}

TEST_CASE("a failed COMMIT fails every request of the group and the writer keeps going", "[server][commit]") {
  Rig rig(3);
  CommitQueue queue(rig.path, CommitQueue::Options{});
  // Defers foreign key checks to COMMIT and violates one: every statement
  // succeeds, COMMIT fails with SQLITE_CONSTRAINT_FOREIGNKEY.
  runBrokenGroup(rig, queue, [](sqlite::Database& db) -> Result<std::int64_t> {
    db.exec("PRAGMA defer_foreign_keys=ON");
    db.exec("INSERT INTO child(p) VALUES(12345)");
    return 2;
  });
  CHECK(queue.failedCommits() == 1);

  // The next group commits normally.
  rig.io.restart();
  std::optional<Result<std::int64_t>> after;
  queue.submit<std::int64_t>([](sqlite::Database& db) { return insertRow(db, 4); },
                             net::bind_executor(rig.io, [&](Result<std::int64_t> r) { after.emplace(std::move(r)); }));
  rig.io.run();
  REQUIRE(after);
  CHECK(after->ok());
  CHECK(rows(rig.path) == std::vector<std::int64_t>{4});
}

TEST_CASE("a request that ends the transaction fails its whole group as unavailable", "[server][commit]") {
  Rig rig(3);
  CommitQueue queue(rig.path, CommitQueue::Options{});
  // Stands in for SQLite rolling a transaction back by itself (some FULL and
  // IOERR cases): the writer must notice and keep nothing of the group.
  runBrokenGroup(rig, queue, [](sqlite::Database& db) -> Result<std::int64_t> {
    db.exec("ROLLBACK");
    return 2;
  });
}

TEST_CASE("a full queue answers unavailable at once, and stop() answers what was never run", "[server][commit]") {
  Rig rig(4);
  {
    CommitQueue queue(rig.path, queueOptions(2, 512));
    for (int i = 0; i < 4; ++i) {
      queue.submit<std::int64_t>([i](sqlite::Database& db) { return insertRow(db, i); }, rig.handler(i));
    }
    CHECK(queue.queued() == 2);
    queue.stop();  // never started
  }
  rig.io.run();
  for (int i = 0; i < 4; ++i) {
    REQUIRE(rig.results[i]);
    CHECK(rig.results[i]->error().code == wire::ErrorCode::UNAVAILABLE);
  }
  CHECK(rows(rig.path).empty());
}

TEST_CASE("stop() commits everything already queued before the thread exits", "[server][commit]") {
  Rig rig(0);
  int ok = 0;
  {
    CommitQueue queue(rig.path, CommitQueue::Options{});
    for (int i = 0; i < 50; ++i) {
      queue.submit<std::int64_t>([i](sqlite::Database& db) { return insertRow(db, i); },
                                 net::bind_executor(rig.io, [&ok](Result<std::int64_t> r) { ok += r.ok() ? 1 : 0; }));
    }
    queue.start();
    queue.stop();
    // Refused after stop.
    queue.submit<std::int64_t>([](sqlite::Database& db) { return insertRow(db, 999); },
                               net::bind_executor(rig.io, [&ok](Result<std::int64_t> r) { ok += r.ok() ? 1000 : 0; }));
  }
  rig.io.run();
  CHECK(ok == 50);
  CHECK(rows(rig.path).size() == 50);
}

TEST_CASE("a deferred request costs no commit of its own: it rides in the next group, or commits alone when due",
          "[server][commit]") {
  Rig rig(0);
  CommitQueue queue(rig.path, CommitQueue::Options{});
  queue.start();
  std::vector<std::pair<std::int64_t, std::int64_t>> done;  // (value, its rows visible at completion)
  auto record = [&](Result<std::int64_t> r) {
    REQUIRE(r.ok());
    const auto now = rows(rig.path);
    done.emplace_back(r.value(), std::count(now.begin(), now.end(), r.value()));
  };

  // Not due for an hour, and nothing else to ride with: the writer stays asleep.
  queue.submitDeferred<std::int64_t>([](sqlite::Database& db) { return insertRow(db, 1); },
                                     net::bind_executor(rig.io, record), std::chrono::hours(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(rows(rig.path).empty());
  CHECK(queue.commits() == 0);
  CHECK(queue.queued() == 1);

  // An ordinary request forms a group; the deferred one commits in it.
  queue.submit<std::int64_t>([](sqlite::Database& db) { return insertRow(db, 2); }, net::bind_executor(rig.io, record));
  rig.io.run();
  rig.io.restart();
  REQUIRE(done.size() == 2);
  CHECK(done[0] == std::pair<std::int64_t, std::int64_t>{1, 1});  // deferred ones go first in the group
  CHECK(done[1] == std::pair<std::int64_t, std::int64_t>{2, 1});
  CHECK(queue.commits() == 1);

  // Alone, it waits until due, then commits in a group of its own.
  const auto start = std::chrono::steady_clock::now();
  queue.submitDeferred<std::int64_t>([](sqlite::Database& db) { return insertRow(db, 3); },
                                     net::bind_executor(rig.io, record), std::chrono::milliseconds(50));
  rig.io.run();
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(50));
  REQUIRE(done.size() == 3);
  CHECK(done[2] == std::pair<std::int64_t, std::int64_t>{3, 1});
  CHECK(queue.commits() == 2);
  CHECK(rows(rig.path) == std::vector<std::int64_t>{1, 2, 3});
}

TEST_CASE("a deferred request due later than the one the writer waits for does not hold the earlier one back",
          "[server][commit]") {
  Rig rig(0);
  CommitQueue queue(rig.path, CommitQueue::Options{});
  queue.start();
  int ok = 0;
  auto count = [&ok](Result<std::int64_t> r) { ok += r.ok() ? 1 : 0; };
  queue.submitDeferred<std::int64_t>([](sqlite::Database& db) { return insertRow(db, 1); },
                                     net::bind_executor(rig.io, count), std::chrono::hours(1));
  queue.submitDeferred<std::int64_t>([](sqlite::Database& db) { return insertRow(db, 2); },
                                     net::bind_executor(rig.io, count), std::chrono::milliseconds(20));
  rig.io.run();  // both complete: the second one's due time wakes the writer, the first rides along
  CHECK(ok == 2);
  CHECK(queue.commits() == 1);
  CHECK(rows(rig.path) == std::vector<std::int64_t>{1, 2});
}

TEST_CASE("stop() commits deferred requests not yet due, and fails them when the writer never ran", "[server][commit]") {
  Rig rig(0);
  std::vector<Result<std::int64_t>> results;
  auto keep = [&results](Result<std::int64_t> r) { results.push_back(std::move(r)); };
  {
    CommitQueue queue(rig.path, CommitQueue::Options{});
    queue.start();
    queue.submitDeferred<std::int64_t>([](sqlite::Database& db) { return insertRow(db, 1); },
                                       net::bind_executor(rig.io, keep), std::chrono::hours(1));
    queue.stop();
  }
  {
    CommitQueue queue(rig.path, CommitQueue::Options{});  // never started
    queue.submitDeferred<std::int64_t>([](sqlite::Database& db) { return insertRow(db, 2); },
                                       net::bind_executor(rig.io, keep), std::chrono::hours(1));
    queue.stop();
  }
  rig.io.run();
  REQUIRE(results.size() == 2);
  CHECK(results[0].ok());
  REQUIRE_FALSE(results[1].ok());
  CHECK(results[1].error().code == wire::ErrorCode::UNAVAILABLE);
  CHECK(rows(rig.path) == std::vector<std::int64_t>{1});
}

TEST_CASE("space reserve: given up when the disk is full so acks go on while other writes are refused, re-made when "
          "space returns",
          "[server][commit][diskfull]") {
  TempDir dir;
  const auto path = makeDb(dir);
  std::atomic<std::uint64_t> freeBytes{std::uint64_t{1} << 30};
  constexpr std::uint64_t Reserve = 64 * 1024;
  CommitQueue::Options options;
  options.reserveFile = dir / "focal.reserve";
  options.reserveBytes = Reserve;
  options.freeSpace = [&freeBytes] { return freeBytes.load(); };
  CommitQueue queue(path, options);
  queue.start();
  net::io_context io;
  using Class = CommitQueue::WriteClass;
  auto runOne = [&](std::function<Result<std::int64_t>(sqlite::Database&)> fn, Class c) {
    std::optional<Result<std::int64_t>> r;
    queue.submit<std::int64_t>(std::move(fn), net::bind_executor(io, [&r](Result<std::int64_t> x) { r.emplace(std::move(x)); }),
                               c);
    io.restart();
    io.run();
    REQUIRE(r.has_value());
    return std::move(*r);
  };
  auto insert = [](std::int64_t x) { return [x](sqlite::Database& db) { return insertRow(db, x); }; };
  // Stands in for SQLite's answer to ENOSPC on a statement.
  auto full = [](sqlite::Database&) -> Result<std::int64_t> { throw sqlite::Error(SQLITE_FULL, "database or disk is full"); };

  // Made by the writer at start, with real blocks of exactly its size.
  REQUIRE(runOne(insert(1), Class::Normal).ok());
  REQUIRE(std::filesystem::exists(options.reserveFile));
  CHECK(std::filesystem::file_size(options.reserveFile) == Reserve);

  // ENOSPC while space is free (inodes, a quota, an injected fault): the
  // reserve would not help and stays; no low-space mode.
  CHECK(runOne(full, Class::Normal).error().code == wire::ErrorCode::UNAVAILABLE);
  CHECK(std::filesystem::exists(options.reserveFile));
  CHECK_FALSE(queue.lowSpace());
  CHECK(queue.reserveReleases() == 0);
  REQUIRE(runOne(insert(2), Class::Normal).ok());

  // The disk is full: less than one reserve free. The failing write gives
  // the reserve up.
  freeBytes = 1000;
  CHECK(runOne(full, Class::Normal).error().code == wire::ErrorCode::UNAVAILABLE);
  CHECK_FALSE(std::filesystem::exists(options.reserveFile));
  CHECK(queue.lowSpace());
  CHECK(queue.reserveReleases() == 1);
  // A normal write is refused without running; an essential one is written.
  bool ran = false;
  auto spy = [&ran](sqlite::Database& db) {
    ran = true;
    return insertRow(db, 3);
  };
  const auto refused = runOne(spy, Class::Normal);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == wire::ErrorCode::UNAVAILABLE);
  CHECK(refused.error().retryAfterMs > 0);
  CHECK_FALSE(ran);
  CHECK(runOne(insert(4), Class::Essential).ok());

  // Between one and three reserves free: still low space (no flapping at
  // the edge).
  freeBytes = 2 * Reserve;
  CHECK_FALSE(runOne(insert(5), Class::Normal).ok());
  CHECK(queue.lowSpace());
  CHECK_FALSE(std::filesystem::exists(options.reserveFile));

  // Space returns: the reserve is re-made and normal writes go on.
  freeBytes = 3 * Reserve;
  CHECK(runOne(insert(6), Class::Normal).ok());
  CHECK_FALSE(queue.lowSpace());
  REQUIRE(std::filesystem::exists(options.reserveFile));
  CHECK(std::filesystem::file_size(options.reserveFile) == Reserve);
  CHECK(queue.reserveReleases() == 1);
  queue.stop();
  CHECK(rows(path) == std::vector<std::int64_t>{1, 2, 4, 6});
}

TEST_CASE("checkpoints run on the checkpointer thread and the WAL starts over, so it stays bounded under steady writes",
          "[server][commit][checkpoint]") {
  TempDir dir;
  const auto path = dir / "c.db";
  {
    auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadWriteCreate);
    db.exec("CREATE TABLE b(id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
  }
  CommitQueue queue(path, queueOptions(100000, 8));
  queue.start();
  net::io_context io;
  std::atomic<int> done{0};
  std::atomic<int> failed{0};
  // Rows of 2 KiB (half a page each) worth three checkpoints' WAL at
  // least, in small groups: enough for several checkpoints.
  const crypto::Bytes value(2048, 0x5a);
  constexpr int Rows = 6 * CommitQueue::CheckpointPages;
  for (int i = 0; i < Rows; ++i) {
    auto job = [&value, i](sqlite::Database& db) -> Result<std::int64_t> {
      auto s = db.prepare("INSERT INTO b(id, v) VALUES(?1, ?2)");
      s->bind(1, std::int64_t{i}).bind(2, crypto::ByteView(value));
      s->run();
      return i;
    };
    queue.submit<std::int64_t>(std::move(job), net::bind_executor(io, [&](Result<std::int64_t> r) {
                                 ++done;
                                 if (!r) ++failed;
                               }));
    if (i % 64 == 63) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  while (done < Rows) io.run_for(std::chrono::milliseconds(50));
  CHECK(failed == 0);
  // The writer never ran one itself (the WAL never reached
  // WriterCheckpointPages), so every one was the checkpointer's.
  CHECK(queue.checkpoints() >= 2);
  const auto wal = std::filesystem::file_size(path.string() + "-wal");
  INFO("WAL " << wal << " bytes after " << queue.checkpoints() << " checkpoints");
  CHECK(wal < static_cast<std::uintmax_t>(CommitQueue::WriterCheckpointPages) * 4200);
  queue.stop();
  auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadOnly);
  auto s = db.prepare("SELECT count(*) FROM b");
  REQUIRE(s->step());
  CHECK(s->columnInt(0) == Rows);
}

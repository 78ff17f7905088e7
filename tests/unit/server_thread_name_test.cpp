// The hub's threads carry names (top -H, ps -L, perf --sort comm,
// focal-bench's per-thread CPU lines): focal-writer and focal-checkpt for
// the commit queue, focal-verify for each verify worker, focal-metrics for
// the metrics listener.
#include "server/commit_queue.hpp"
#include "server/metrics_http.hpp"
#include "server/thread_name.hpp"
#include "server/verify_pool.hpp"
#include "server_test_support.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

using namespace focal;
using namespace focal::server;
using namespace focal::server::testing;

namespace {

// How many of this process's threads have `name` now.
int threadsNamed(const std::string& name) {
  int n = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in(task.path() / "comm");
    std::string comm;
    std::getline(in, comm);
    if (comm == name) ++n;
  }
  return n;
}

// Waits (a condition with a deadline, not a fixed sleep) until exactly
// `count` threads have `name`: a thread names itself as it starts, and a
// joined thread can still be listed for a moment while the kernel finishes
// its exit (also one of an earlier test's).
bool waitForThreads(const std::string& name, int count) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (threadsNamed(name) != count) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

std::string ownName() {
  std::ifstream in("/proc/thread-self/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

}  // namespace

TEST_CASE("nameThisThread names the calling thread and cuts a long name at 15 bytes", "[threads]") {
  std::string shortName, longName;
  std::thread([&] {
    nameThisThread("focal-test");
    shortName = ownName();
    nameThisThread("focal-a-name-longer-than-fifteen");
    longName = ownName();
  }).join();
  CHECK(shortName == "focal-test");
  CHECK(longName == "focal-a-name-lo");
}

TEST_CASE("Every verify worker is named focal-verify before the pool is used", "[threads]") {
  REQUIRE(waitForThreads("focal-verify", 0));  // no pool of an earlier test left
  {
    VerifyPool pool(3);
    REQUIRE(pool.threads() == 3);
    // The constructor waits for all three: no waiting here.
    CHECK(threadsNamed("focal-verify") == 3);
  }
  CHECK(waitForThreads("focal-verify", 0));  // joined
}

TEST_CASE("The commit queue's writer and checkpointer are named", "[threads]") {
  TempDir dir;
  const auto path = createHubDatabase(dir);
  REQUIRE(waitForThreads("focal-writer", 0));
  REQUIRE(waitForThreads("focal-checkpt", 0));
  {
    CommitQueue queue(path, queueOptions(10, 10));
    queue.start();
    // A completed request has run on the writer, which named itself first.
    net::io_context io;
    std::optional<Result<int>> done;
    queue.submit<int>([](sqlite::Database&) -> Result<int> { return 7; },
                      net::bind_executor(io, [&](Result<int> r) { done.emplace(std::move(r)); }));
    io.run();
    REQUIRE(done.has_value());
    REQUIRE(*done);
    CHECK(**done == 7);
    CHECK(threadsNamed("focal-writer") == 1);
    CHECK(waitForThreads("focal-checkpt", 1));
    queue.stop();
  }
  CHECK(waitForThreads("focal-writer", 0));
  CHECK(waitForThreads("focal-checkpt", 0));
}

TEST_CASE("The metrics listener's thread is named focal-metrics", "[threads]") {
  REQUIRE(waitForThreads("focal-metrics", 0));
  {
    MetricsServer server("127.0.0.1", 0, [](std::string_view) { return HttpReply{}; });
    server.start();
    CHECK(waitForThreads("focal-metrics", 1));
    server.stop();
  }
  CHECK(waitForThreads("focal-metrics", 0));
}

// One in-process hub for the unit, reliability and fuzz tests: `focald init`
// logic in a temporary directory, then a real Hub (the same code focald
// runs) on a loopback port 0 on its own io thread, with the CommitQueue
// writer thread and a ManualClock the test moves. Drive it with RawClient
// (raw_client.hpp). Throws std::runtime_error when the hub cannot be set up.
#pragma once

#include "crypto/keyfile.hpp"
#include "server/commit_queue.hpp"
#include "server/config.hpp"
#include "server/hub.hpp"
#include "server/init_command.hpp"
#include "server/tls.hpp"
#include "tests/support/temp_dir.hpp"

#include <spdlog/spdlog.h>

#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

namespace focal::test_support {

namespace net = focal::net;
namespace ssl = focal::ssl;


// Captures spdlog's default logger for its lifetime, at trace level.
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  // Call only when no other thread logs (the hub stopped), or accept a snapshot.
  std::string text() const { return out_.str(); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
  spdlog::level::level_enum previousLevel_;
};

struct InProcessHubOptions {
  std::optional<std::int64_t> startMs;           // the ManualClock's start; default: now
  std::function<void(server::Limits&)> limits;   // adjusts focal.toml's limits before the hub starts
  bool captureLog = false;                       // the hub's log into `log`, at trace level
};

class InProcessHub {
 public:
  explicit InProcessHub(InProcessHubOptions options = {});
  ~InProcessHub() { stop(); }
  InProcessHub(const InProcessHub&) = delete;
  InProcessHub& operator=(const InProcessHub&) = delete;

  // Graceful shutdown, as on SIGTERM; returns when io.run() returned (the
  // Hub object stays for inspection).
  void stop();
  // stop(), then destroys the hub, store and commit queue: their database
  // connections close, so SQLite checkpoints the WAL into the database file.
  void stopAndClose();
  std::filesystem::path hubDir() const { return init.configFile.parent_path(); }

  TempDir dir;
  std::unique_ptr<LogCapture> log;
  server::ManualClock clock;
  server::InitResult init;
  crypto::MemberKeys admin;
  server::Config config;
  std::unique_ptr<server::CommitQueue> commits;
  std::unique_ptr<server::Store> store;
  std::optional<ssl::context> tls;
  net::io_context io;
  std::unique_ptr<server::Hub> hub;
  std::thread thread;
  std::uint16_t port = 0;
};

class RawClient;

// Registers a member (new random keys, issued at the hub clock's now)
// through an authenticated admin session; throws when the hub refuses.
// `name` empty: "Name of <id>".
crypto::MemberKeys registerMember(InProcessHub& h, RawClient& adminSession, const std::string& id,
                                  const std::string& state, const std::string& name = {});

}  // namespace focal::test_support

// Integration fixture: a real focald on a loopback port 0 in a temporary
// directory, driven by the real client library and the real `focal` CLI.
//
//   Hub hub;                                   // init + run, waits for "listening"
//   auto alice = hub.createMember("sg-spf", "SG");
//   auto c = hub.connect(alice.keys);           // authenticated Connection
//   auto r = runCli({"--json", "inbox"}, env);  // the CLI as a subprocess
//
// The hub is SIGTERMed (SIGKILL after a deadline) when the fixture dies.
#pragma once

#include "client/connection.hpp"
#include "client/raw_bulletin.hpp"
#include "crypto/keyfile.hpp"
#include "tests/support/temp_dir.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace focal::test {

namespace fs = std::filesystem;

inline constexpr const char* TestPassphrase = "integration-test passphrase";

using test_support::TempDir;

struct ProcessResult {
  int exitCode = -1;  // 128 + signal if killed
  std::string out;
  std::string err;
};

// Runs argv[0] with argv, extra environment variables, optional stdin text.
// At `timeout` it is sent SIGINT, and SIGKILL 5 s later.
ProcessResult runProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
                         const std::optional<std::string>& stdinText = std::nullopt,
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

struct TestMember {
  crypto::MemberKeys keys;
  fs::path keyFile;   // set when written (createMember(..., writeKeyFile = true))
  std::string id() const { return keys.memberId; }
};

struct HubOptions {
  // Values for focal.toml's [limits], e.g. {"unauthenticated_timeout_ms", "500"}.
  std::map<std::string, std::string> limits;
  // Run focald with --test-clock: hub time comes from a file the test
  // writes (setClockMs / advanceClock), starting at the real time.
  bool testClock = false;
};

class Hub {
 public:
  explicit Hub(HubOptions options = {});
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  std::string host() const { return "127.0.0.1"; }
  std::uint16_t port() const { return port_; }
  std::string address() const { return host() + ":" + std::to_string(port_); }
  const fs::path& dir() const { return dir_.path(); }
  const fs::path& caFile() const { return caFile_; }
  const fs::path& adminKeyFile() const { return adminKeyFile_; }
  const crypto::MemberKeys& adminKeys() const { return *adminKeys_; }

  // SIGTERM + wait, then run again on a new port (same directory and data).
  void restart();
  void stop();
  void start();
  bool running();
  // The pid of the process started for focald (the launcher's, which execs
  // focald), or -1 when stopped.
  pid_t pid() const { return pid_; }
  // Commands put before focald's argv from the next start() on, e.g.
  // {"/usr/bin/unshare", "-m", ...}; they must end by exec'ing their
  // arguments, so pid() stays focald's pid.
  void setLauncher(std::vector<std::string> prefix) { launcher_ = std::move(prefix); }

  // A TLS connection that has not authenticated yet.
  std::unique_ptr<client::Connection> connectRaw(client::ConnectOptions options = {}) const;
  // Connected and authenticated.
  std::unique_ptr<client::Connection> connect(const crypto::MemberKeys& keys, client::ConnectOptions options = {}) const;

  // Generates keys (in memory; a key file with the Interactive KDF when
  // asked) and registers the member through the admin key.
  TestMember createMember(const std::string& id, const std::string& state,
                          wire::Institution institution = wire::Institution::LAW_ENFORCEMENT,
                          bool writeKeyFile = false);
  // Registers many members over one admin connection.
  std::vector<TestMember> createMembers(const std::vector<std::string>& ids, const std::string& state);

  // A second hub made from a copy of this hub's directory (stop this one
  // first): same hub id, hub key, certificate, admin and data; the two
  // diverge from here (a fork). Not started.
  std::unique_ptr<Hub> copyStopped() const;
  // The program start() runs (default focald; FOCAL_LYING_HUB_PATH serves a
  // tampered database unchecked).
  void setExecutable(std::string path) { executable_ = std::move(path); }
  fs::path database() const { return dir() / "focal.db"; }

  // Hub time under HubOptions::testClock (written atomically: temp + rename).
  void setClockMs(std::int64_t ms);
  void advanceClock(std::int64_t ms) { setClockMs(clockMs_ + ms); }
  std::int64_t clockMs() const { return clockMs_; }

  // Environment + global options for running the CLI against this hub.
  std::vector<std::string> cliGlobals(const fs::path& keyFile, const fs::path& profileDir) const;

 private:
  struct Uninitialised {};
  explicit Hub(Uninitialised) {}
  void registerMember(client::Connection& admin, const crypto::PublicKeys& pk, const std::string& state,
                      wire::Institution institution);

  TempDir dir_;
  fs::path caFile_;
  fs::path adminKeyFile_;
  std::optional<crypto::MemberKeys> adminKeys_;
  std::vector<std::string> launcher_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  int stdoutFd_ = -1;
  std::thread drain_;
  std::string executable_ = FOCALD_PATH;
  fs::path testClockFile_;
  std::int64_t clockMs_ = 0;
};

// Registers members with isSecretariat set when their institution is the
// secretariat (see registerMember).
// Runs the focal CLI (FOCAL_CLI_PATH) with FOCAL_PASSPHRASE set.
ProcessResult runCli(const std::vector<std::string>& args, const std::optional<std::string>& stdinText = std::nullopt,
                     std::chrono::milliseconds timeout = std::chrono::seconds(60));

// `focal --json ARGS`: requires exit code `expectedExit` and one JSON
// document on stdout, and returns it (the command, its exit code, stdout and
// stderr are reported when either check fails).
nlohmann::json runCliJson(const std::vector<std::string>& args, int expectedExit = 0);

// A sealed bulletin from `sender` to `recipients` (plain member ids).
protocol::SealedBulletin sealTo(const crypto::MemberKeys& sender, const std::vector<const crypto::MemberKeys*>& recipients,
                                const std::string& title, const std::string& body = "body",
                                wire::Tlp tlp = wire::Tlp::AMBER);

std::int64_t nowMs();

// `s` with its header changed by `mutate` and re-signed by `sender` (the
// ciphertext stays valid: its associated data is the bulletin id).
protocol::SealedBulletin resignedHeader(protocol::SealedBulletin s, const crypto::MemberKeys& sender,
                                        const std::function<void(wire::BulletinHeader::Builder)>& mutate);

// The title of a received bulletin, opened as `me` against the hub's
// directory (fetched over `c`).
std::string titleOf(client::Connection& c, const client::RawBulletin& raw, const crypto::MemberKeys& me);

// CLI argument lists: `a` followed by `b` (global options + a command).
std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b);
// The whole content of a file ("" if it cannot be read).
std::string slurp(const fs::path& p);
// How many times `needle` occurs in `text` (overlapping occurrences count).
std::size_t countOf(const std::string& text, const std::string& needle);

}  // namespace focal::test

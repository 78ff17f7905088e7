// The hub a load run talks to: either one this process starts (a fresh
// focald in a temporary directory, stopped and removed at the end), or an
// existing one given by address, CA file and admin key.
//
// A started hub:
//   FOCALD init DIR --kdf interactive --listen 127.0.0.1:0 --json   (FOCAL_PASSPHRASE set)
//   FOCALD run DIR --listen 127.0.0.1:0 [--log-level L]
// and "focald listening on HOST:PORT" on its stdout gives the port. Its
// stderr (the log) goes to DIR/focald.err. The child gets SIGTERM if this
// process dies (PR_SET_PDEATHSIG), so an aborted run leaves no hub behind.
#pragma once

#include "crypto/keyfile.hpp"
#include "server/config.hpp"

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace focal::bench {

namespace fs = std::filesystem;

// Everything a load run needs to know about the hub. Non-owning.
struct HubTarget {
  std::string host;
  std::uint16_t port = 0;
  fs::path caFile;
  const crypto::MemberKeys* admin = nullptr;
  std::string hubId = "focal-hub";  // what bulletins are sealed for (seal v2 binds it)
  std::optional<pid_t> pid;  // known only for a hub we started
  server::Limits limits;     // the hub's own for a started hub, else defaults
  bool limitsKnown = false;
};

class HubProcess {
 public:
  struct Options {
    fs::path focald;
    std::string logLevel = "info";
    bool keepDir = false;  // leave the temporary directory for inspection
    // Prefix for the `run` command, e.g. {"valgrind", "--tool=callgrind"};
    // the pid we measure is then the wrapper's (valgrind runs the hub in it).
    std::vector<std::string> wrapper;
    // Overrides for focal.toml's [limits] (e.g. {"write_batch", "64"}),
    // applied after init: experiments with the hub's knobs.
    std::map<std::string, std::string> limits;
    // How long to wait for "listening" (a hub under valgrind starts slowly).
    std::chrono::seconds startTimeout{30};
  };
  // Inits and starts focald; throws std::runtime_error with its output on failure.
  explicit HubProcess(Options options);
  ~HubProcess();  // stop() and remove the directory
  HubProcess(const HubProcess&) = delete;
  HubProcess& operator=(const HubProcess&) = delete;

  HubTarget target() const;
  pid_t pid() const { return pid_; }
  const fs::path& dir() const { return dir_; }
  // SIGTERM, then SIGKILL after 10 s. Idempotent. Returns the exit status
  // (128 + signal when killed), or -1 if not running.
  int stop();

 private:
  Options options_;
  fs::path dir_;
  fs::path caFile_;
  std::optional<crypto::MemberKeys> admin_;
  server::Limits limits_;
  std::string host_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::thread drain_;
};

// Reads `focal` key file `path` with FOCAL_PASSPHRASE (for --admin-key).
crypto::MemberKeys readAdminKey(const fs::path& path);

}  // namespace focal::bench

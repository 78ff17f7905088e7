// Terminal interaction for the CLI: no-echo passphrase prompt and a progress
// bar on stderr (only when stderr is a terminal).
#pragma once

#include "crypto/passphrase_input.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace focal::client::cli {

bool stdinIsTerminal();
bool stderrIsTerminal();
bool stdoutIsTerminal();

// Prompts on /dev/tty with echo off. nullopt if there is no terminal.
using crypto::promptHidden;

// Asks `question` (" [y/N] " appended) when standard input and standard
// error are both terminals, reading one line: true for y or yes. nullopt
// when not interactive (a script: the caller wants an explicit --yes).
std::optional<bool> confirmOnTerminal(const std::string& question);

class ProgressBar {
 public:
  ProgressBar(std::string label, bool enabled);
  ~ProgressBar();
  void update(std::uint64_t done, std::uint64_t total);
  void finish();

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace focal::client::cli

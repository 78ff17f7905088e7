// The fork options of `focal verify-log` (PROTOCOL.md §11.5): --proof-out
// exports the fork this profile recorded (client/log_gossip.hpp), --proof
// checks anyone's proof offline, --clear-fork ends the refusal after a
// person has read the proof. None of them connects to the hub.
#pragma once

#include "client/cli_context.hpp"

#include <optional>
#include <string>

namespace focal::client::cli {

struct ForkArgs {
  std::string proofOut;
  std::string proof;
  bool clearFork = false;
  bool any() const { return !proofOut.empty() || !proof.empty() || clearFork; }
};

void addForkOptions(CLI::App* verifyLog, ForkArgs& args);
// Runs the one fork option given (the caller checks any()).
int runForkOption(CliContext& ctx, const ForkArgs& args);

}  // namespace focal::client::cli

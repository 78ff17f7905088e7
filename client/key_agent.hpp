// The key agent process (`focal unlock`): the socket it listens on, its
// serving loop, and starting it in the background. It holds one key file's
// secret keys in guarded memory (crypto::Secret slots: sodium_malloc,
// locked), is not dumpable (no core, no ptrace by the same uid), refuses
// peers of another uid, and wipes and exits on `focal lock`, on its
// lifetime or idle timeout, and on SIGTERM/SIGINT/SIGHUP. SECURITY.md §6.
#pragma once

#include "client/agent_protocol.hpp"

#include <chrono>

namespace focal::client::agent {

struct AgentTimes {
  std::chrono::milliseconds lifetime{8 * 3600 * 1000};
  std::chrono::milliseconds idle{3600 * 1000};
};

// Creates the socket's directory (0700) if missing and checks it: a
// directory owned by this uid that nobody else may enter. Throws
// std::runtime_error naming what is wrong.
void prepareSocketDir(const std::filesystem::path& dir);

// Binds and listens at `socket` (mode 0600); a stale socket file there (an
// agent that died) is replaced. Throws std::runtime_error.
int listenAt(const std::filesystem::path& socket);

// Serves requests on `listenFd` until a Lock, a timeout or a signal
// (SIGTERM/SIGINT/SIGHUP, blocked by the caller and read through `signalFd`);
// then removes `socket` if it is still this agent's. Returns why it stopped.
enum class StopReason { Locked, Lifetime, Idle, Signal };
const char* describe(StopReason r);
StopReason serve(int listenFd, int signalFd, const std::filesystem::path& socket, const crypto::LocalKeyOps& keys,
                 AgentInfo& info, const AgentTimes& times);

// Starts the agent for `keys` in the background (fork, setsid, stdio on
// /dev/null, every other descriptor closed) and returns its pid. The agent
// is listening when this returns. The caller's copy of the keys is its own
// to wipe.
pid_t startAgent(crypto::MemberKeys keys, const std::filesystem::path& socket, const std::string& keyFile,
                 const AgentTimes& times);

}  // namespace focal::client::agent

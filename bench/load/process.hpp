// Child processes of the load generator (focald, perf): fork + exec with
// stdin from /dev/null, and SIGTERM to the child if this process dies
// (PR_SET_PDEATHSIG), so an aborted run leaves nothing behind.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace focal::bench {

// argv[0] is a path, or a name looked up in PATH. `env` adds or replaces environment variables.
// Throws std::runtime_error if fork fails; an exec failure exits 127.
pid_t spawnProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env, int out,
                   int err);
// Waits for the child; its exit code, or 128 + signal.
int waitExit(pid_t pid);

}  // namespace focal::bench

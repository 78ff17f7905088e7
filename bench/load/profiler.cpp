#include "bench/load/profiler.hpp"

#include "bench/load/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace focal::bench {

HubProfiler::HubProfiler(pid_t hub, const std::string& output) {
  if (output.empty()) return;
  const int log = ::open((output + ".log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  perf_ = spawnProcess({"perf", "record", "-e", "cpu-clock", "-F", "999", "--call-graph", "dwarf,16384", "-p",
                        std::to_string(hub), "-o", output},
                       {}, log, log);
  ::close(log);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let perf attach
}

HubProfiler::~HubProfiler() { stop(); }

void HubProfiler::stop() {
  if (perf_ <= 0) return;
  ::kill(perf_, SIGINT);
  (void)waitExit(perf_);
  perf_ = -1;
}

}  // namespace focal::bench

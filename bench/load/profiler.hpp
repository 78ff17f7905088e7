// `perf record` attached to the hub for the timed part of a run (software
// cpu-clock event: this VM exposes no hardware counters; DWARF call graphs
// because the build keeps no frame pointers). Started before the senders
// are released, stopped with SIGINT after the last delivery.
#pragma once

#include <sys/types.h>

#include <string>

namespace focal::bench {

class HubProfiler {
 public:
  // Empty `output`: does nothing.
  HubProfiler(pid_t hub, const std::string& output);
  ~HubProfiler();  // stop()
  HubProfiler(const HubProfiler&) = delete;
  HubProfiler& operator=(const HubProfiler&) = delete;
  void stop();

 private:
  pid_t perf_ = -1;
};

}  // namespace focal::bench

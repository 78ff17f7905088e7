// What the load generator reads about processes from /proc: resident memory
// (current and peak) and CPU time per thread. Linux only; a value that
// cannot be read is nullopt, never a guess.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>

namespace focal::bench {

// VmHWM (peak resident set) and VmRSS of a process, in MiB.
std::optional<double> peakRssMib(pid_t pid);
std::optional<double> currentRssMib(pid_t pid);
// Of this process.
std::optional<double> selfPeakRssMib();

struct ThreadCpu {
  std::string name;  // comm
  double seconds = 0;  // utime + stime
};
// CPU time of every thread of a process, by thread id.
std::map<pid_t, ThreadCpu> threadCpu(pid_t pid);
// utime + stime of this process (all threads, including finished ones).
double selfCpuSeconds();

// fsync latency of 4 KiB appends to a scratch file in `dir`, `rounds`
// times: the floor under any latency of a hub that commits with
// synchronous=FULL. Returns {p50, max} in ms; nullopt if the file cannot be
// written.
struct FsyncLatency {
  double p50Ms = 0;
  double maxMs = 0;
};
std::optional<FsyncLatency> fsyncLatency(const std::string& dir, int rounds);

// The 1-minute load average, as `uptime` shows it.
std::optional<double> loadAverage1m();
std::string uptimeLine();  // "load average: a, b, c" or ""

}  // namespace focal::bench

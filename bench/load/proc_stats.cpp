#include "bench/load/proc_stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace focal::bench {

namespace {

std::optional<double> statusFieldMib(const std::string& path, const std::string& field) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::istringstream s(line.substr(field.size() + 1));
    double kib = 0;
    if (s >> kib) return kib / 1024.0;
  }
  return std::nullopt;
}

// Fields 14 and 15 (utime, stime) of /proc/.../stat; comm is field 2 and may
// contain spaces, so parsing starts after its closing parenthesis.
std::optional<ThreadCpu> readStat(const std::filesystem::path& statFile) {
  std::ifstream in(statFile);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto open = all.find('(');
  const auto close = all.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  ThreadCpu t;
  t.name = all.substr(open + 1, close - open - 1);
  std::istringstream rest(all.substr(close + 1));
  std::string field;
  // After ')': field 3 is state; utime is field 14, stime 15.
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  t.seconds = static_cast<double>(utime + stime) / tick;
  return t;
}

}  // namespace

std::optional<double> peakRssMib(pid_t pid) {
  return statusFieldMib("/proc/" + std::to_string(pid) + "/status", "VmHWM");
}

std::optional<double> currentRssMib(pid_t pid) {
  return statusFieldMib("/proc/" + std::to_string(pid) + "/status", "VmRSS");
}

std::optional<double> selfPeakRssMib() { return statusFieldMib("/proc/self/status", "VmHWM"); }

std::map<pid_t, ThreadCpu> threadCpu(pid_t pid) {
  std::map<pid_t, ThreadCpu> out;
  std::error_code ec;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& entry : std::filesystem::directory_iterator(tasks, ec)) {
    const auto tid = static_cast<pid_t>(std::stol(entry.path().filename().string()));
    if (auto t = readStat(entry.path() / "stat")) out.emplace(tid, *t);
  }
  return out;
}

double selfCpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  const auto sec = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

std::optional<FsyncLatency> fsyncLatency(const std::string& dir, int rounds) {
  std::string path = dir + "/fsync-probe-XXXXXX";
  const int fd = ::mkstemp(path.data());
  if (fd < 0) return std::nullopt;
  std::vector<double> ms;
  std::vector<char> page(4096, 'x');
  bool ok = true;
  for (int i = 0; i < rounds && ok; ++i) {
    ok = ::write(fd, page.data(), page.size()) == static_cast<ssize_t>(page.size());
    const auto t = std::chrono::steady_clock::now();
    ok = ok && ::fsync(fd) == 0;
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
  }
  ::close(fd);
  ::unlink(path.c_str());
  if (!ok || ms.empty()) return std::nullopt;
  std::sort(ms.begin(), ms.end());
  return FsyncLatency{ms[ms.size() / 2], ms.back()};
}

std::optional<double> loadAverage1m() {
  std::ifstream in("/proc/loadavg");
  double one = 0;
  if (in >> one) return one;
  return std::nullopt;
}

std::string uptimeLine() {
  std::ifstream in("/proc/loadavg");
  double a = 0, b = 0, c = 0;
  if (!(in >> a >> b >> c)) return "";
  std::ostringstream s;
  s.precision(2);
  s << std::fixed << "load average: " << a << ", " << b << ", " << c;
  return s.str();
}

}  // namespace focal::bench

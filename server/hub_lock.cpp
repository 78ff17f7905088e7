#include "server/hub_lock.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/file.h>
#include <unistd.h>
#include <utility>

namespace focal::server {

namespace {

// The pid written in the lock file (at most a few bytes are read).
std::optional<pid_t> pidIn(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return std::nullopt;
  long pid = 0;
  const auto [end, ec] = std::from_chars(buf, buf + n, pid);
  if (ec != std::errc() || end == buf || pid <= 0) return std::nullopt;
  return static_cast<pid_t>(pid);
}

std::string heldMessage(const std::filesystem::path& dir, std::optional<pid_t> pid) {
  const std::string who = pid ? "focald pid " + std::to_string(*pid) : "another process (pid unknown)";
  return dir.string() + " is in use by " + who + " (it holds " + (dir / HubLock::FileName).string() +
         "); one focald per hub directory: stop that one first";
}

}  // namespace

HubLock HubLock::acquire(const std::filesystem::path& dir) {
  const auto path = dir / FileName;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) throw std::runtime_error("cannot open the lock file " + path.string() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      const auto pid = pidIn(fd);
      ::close(fd);
      throw HubLockHeld(heldMessage(dir, pid), pid);
    }
    ::close(fd);
    throw std::runtime_error("cannot lock " + path.string() + ": " + std::strerror(err));
  }
  // Ours now: record who holds it (informational; the flock is the lock).
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(err));
  }
  return HubLock(fd);
}

std::optional<pid_t> HubLock::holder(const std::filesystem::path& dir) {
  const auto path = dir / FileName;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  std::optional<pid_t> pid;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
    pid = pidIn(fd);
    if (!pid) pid = 0;  // held, holder unknown
  }
  ::close(fd);  // releases a probe's shared lock
  return pid;
}

void HubLock::requireFree(const std::filesystem::path& dir) {
  if (auto pid = holder(dir)) {
    if (*pid == 0) pid.reset();
    throw HubLockHeld(heldMessage(dir, pid), pid);
  }
}

HubLock::HubLock(HubLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

HubLock::~HubLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace focal::server

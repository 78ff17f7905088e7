// One focald per hub directory.
//
// Every process that serves or writes a hub directory (`focald run`,
// `focald init`, `focald init --renew-cert`) first takes an exclusive
// flock(2) on DIR/focald.lock and holds it for its whole life. Two hubs on
// one directory would each replay the log into memory and append to it on
// their own, so their directories diverge ("log index out of sequence") and
// members see different ones; the lock makes the second process exit
// instead. The kernel releases the lock when the process ends, however it
// ends (SIGKILL, a crash), so a stale lock file never blocks a restart. The
// file holds the holder's pid, for the message the next process prints.
#pragma once

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <sys/types.h>

namespace focal::server {

// The lock is held by another process; what() names the directory and the
// holder's pid.
class HubLockHeld : public std::runtime_error {
 public:
  HubLockHeld(const std::string& what, std::optional<pid_t> holder) : std::runtime_error(what), holder_(holder) {}
  std::optional<pid_t> holder() const { return holder_; }

 private:
  std::optional<pid_t> holder_;
};

class HubLock {
 public:
  static constexpr const char* FileName = "focald.lock";

  // Takes the lock on `dir` (which must exist), without waiting. Throws
  // HubLockHeld when another process holds it, std::runtime_error when the
  // lock file cannot be opened.
  static HubLock acquire(const std::filesystem::path& dir);
  // The pid of the process holding `dir`'s lock (0: held, pid unknown),
  // or nullopt when nobody does. A probe: takes and releases a shared lock
  // if it is free; creates nothing.
  static std::optional<pid_t> holder(const std::filesystem::path& dir);

  // Throws HubLockHeld when a process holds `dir`'s lock; creates nothing.
  static void requireFree(const std::filesystem::path& dir);

  HubLock(HubLock&& other) noexcept;
  HubLock& operator=(HubLock&&) = delete;
  HubLock(const HubLock&) = delete;
  HubLock& operator=(const HubLock&) = delete;
  ~HubLock();

 private:
  explicit HubLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace focal::server

// The hub's wall clock, injectable so tests (and later the silence-procedure
// deadlines) can control time. Only wall time (Unix milliseconds) goes through
// it: protocol timestamps, clock-skew checks, queue times. Network deadlines
// use Asio's steady timers, which must not jump.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>

namespace focal::server {

class Clock {
 public:
  virtual ~Clock() = default;
  // Unix time in milliseconds. Thread-safe: read by the io thread and the
  // SQLite writer thread.
  virtual std::int64_t nowMs() const = 0;
};

// std::chrono::system_clock.
class SystemClock final : public Clock {
 public:
  std::int64_t nowMs() const override;
};

// A clock that moves only when told to (tests).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t startMs) : now_(startMs) {}
  std::int64_t nowMs() const override { return now_.load(); }
  void set(std::int64_t ms) { now_.store(ms); }
  void advance(std::int64_t ms) { now_.fetch_add(ms); }

 private:
  std::atomic<std::int64_t> now_;
};

// TEST ONLY (`focald run DIR --test-clock FILE`): hub time is the decimal
// integer of milliseconds in FILE, re-read on every use, so integration
// tests move the real hub's clock (and its silence-procedure deadlines) by
// rewriting the file. If the file cannot be read or parsed, the last good
// value stays (a test writing the file non-atomically never makes time jump
// back to 0). Never use it in production: whoever can write FILE sets the
// hub's time.
class FileClock final : public Clock {
 public:
  explicit FileClock(std::filesystem::path file);  // throws if FILE is unreadable at start
  std::int64_t nowMs() const override;

 private:
  std::filesystem::path file_;
  mutable std::atomic<std::int64_t> last_;
};

}  // namespace focal::server

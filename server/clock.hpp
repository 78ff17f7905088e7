// The hub's wall clock, injectable so tests (and later the silence-procedure
// deadlines) can control time. Only wall time (Unix milliseconds) goes through
// it: protocol timestamps, clock-skew checks, queue times. Network deadlines
// use Asio's steady timers, which must not jump.
#pragma once

#include <atomic>
#include <cstdint>

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

}  // namespace focal::server

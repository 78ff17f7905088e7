// Failed authentications per remote address in a fixed one-minute window.
// SECURITY: slows down key-guessing and makes a flood of bad Authenticate
// frames cheap to refuse (no signature check once an address is over its
// budget). IPv6 clients are counted per /64, since one host usually owns a
// whole /64. Memory is capped: at the cap, expired windows are pruned, and
// if that frees nothing the table is reset (logged) rather than grown.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace focal::server {

class AuthFailureLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds Window{60'000};

  AuthFailureLimiter(std::uint32_t failuresPerWindow, std::size_t maxTracked = 65536);

  // 0 when `addressKey` may try to authenticate; else milliseconds to wait.
  std::uint32_t blockedForMs(const std::string& addressKey, Clock::time_point now = Clock::now()) const;
  void recordFailure(const std::string& addressKey, Clock::time_point now = Clock::now());
  std::size_t tracked() const { return windows_.size(); }

 private:
  struct Window_ {
    Clock::time_point start;
    std::uint32_t failures = 0;
  };
  std::uint32_t limit_;
  std::size_t maxTracked_;
  std::unordered_map<std::string, Window_> windows_;
};

}  // namespace focal::server

// Token bucket: `rate` tokens per second, at most `burst` saved up. One per
// session limits its request rate (a flood gets rateLimited, not the hub's
// whole io thread).
#pragma once

#include <chrono>
#include <cstdint>

namespace focal::server {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  TokenBucket(double ratePerSecond, double burst, Clock::time_point now = Clock::now());

  // Takes one token; false when none is left.
  bool take(Clock::time_point now = Clock::now());
  // Milliseconds until the next token (at least 1).
  std::uint32_t retryAfterMs() const;

 private:
  void refill(Clock::time_point now);
  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

}  // namespace focal::server

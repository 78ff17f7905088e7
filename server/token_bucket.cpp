#include "server/token_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace focal::server {

TokenBucket::TokenBucket(double ratePerSecond, double burst, Clock::time_point now)
    : rate_(std::max(ratePerSecond, 0.001)), burst_(std::max(burst, 1.0)), tokens_(burst_), last_(now) {}

void TokenBucket::refill(Clock::time_point now) {
  if (now <= last_) return;
  const double seconds = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + seconds * rate_);
  last_ = now;
}

bool TokenBucket::take(Clock::time_point now) {
  refill(now);
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

std::uint32_t TokenBucket::retryAfterMs() const {
  const double missing = std::max(0.0, 1.0 - tokens_);
  return static_cast<std::uint32_t>(std::clamp(std::ceil(missing / rate_ * 1000.0), 1.0, 3'600'000.0));
}

}  // namespace focal::server

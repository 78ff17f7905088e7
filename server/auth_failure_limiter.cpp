#include "server/auth_failure_limiter.hpp"

#include <spdlog/spdlog.h>

namespace focal::server {

AuthFailureLimiter::AuthFailureLimiter(std::uint32_t failuresPerWindow, std::size_t maxTracked)
    : limit_(failuresPerWindow), maxTracked_(maxTracked) {}

std::uint32_t AuthFailureLimiter::blockedForMs(const std::string& addressKey, Clock::time_point now) const {
  auto it = windows_.find(addressKey);
  if (it == windows_.end() || now - it->second.start >= Window || it->second.failures < limit_) return 0;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(it->second.start + Window - now);
  return static_cast<std::uint32_t>(std::max<std::int64_t>(1, left.count()));
}

void AuthFailureLimiter::recordFailure(const std::string& addressKey, Clock::time_point now) {
  auto it = windows_.find(addressKey);
  if (it == windows_.end()) {
    if (windows_.size() >= maxTracked_) {
      std::erase_if(windows_, [&](const auto& p) { return now - p.second.start >= Window; });
      if (windows_.size() >= maxTracked_) {
        spdlog::warn("auth: failure table full ({} addresses); resetting it", windows_.size());
        windows_.clear();
      }
    }
    it = windows_.emplace(addressKey, Window_{now, 0}).first;
  }
  if (now - it->second.start >= Window) it->second = Window_{now, 0};
  ++it->second.failures;
}

}  // namespace focal::server

// A mutex for coroutines on one io thread: lock() suspends instead of
// blocking the thread. Serialises admin requests, so each is checked against
// the directory as it will be when its entry is appended.
// Waiters are capped (lock() yields nullopt beyond the cap, and the caller
// answers `unavailable`); ownership passes to the oldest waiter on unlock.
#pragma once

#include "server/net.hpp"

#include <deque>
#include <memory>
#include <optional>

namespace focal::server {

class AsyncMutex {
 public:
  class Guard {
   public:
    explicit Guard(AsyncMutex* m) : m_(m) {}
    Guard(Guard&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
    Guard& operator=(Guard&&) = delete;
    Guard(const Guard&) = delete;
    ~Guard() {
      if (m_ != nullptr) m_->unlock();
    }

   private:
    AsyncMutex* m_;
  };

  explicit AsyncMutex(std::size_t maxWaiters) : maxWaiters_(maxWaiters) {}

  net::awaitable<std::optional<Guard>> lock();
  bool locked() const { return locked_; }

 private:
  void unlock();
  std::size_t maxWaiters_;
  bool locked_ = false;
  std::deque<std::shared_ptr<net::steady_timer>> waiters_;
};

}  // namespace focal::server

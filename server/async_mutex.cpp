#include "server/async_mutex.hpp"

namespace focal::server {

net::awaitable<std::optional<AsyncMutex::Guard>> AsyncMutex::lock() {
  if (!locked_) {
    locked_ = true;
    co_return std::optional<Guard>(std::in_place, this);
  }
  if (waiters_.size() >= maxWaiters_) co_return std::nullopt;
  auto timer = std::make_shared<net::steady_timer>(co_await net::this_coro::executor,
                                                   net::steady_timer::time_point::max());
  waiters_.push_back(timer);
  boost::system::error_code ec;
  // Woken by unlock() cancelling the timer: the lock is ours (locked_ stayed true).
  co_await timer->async_wait(net::redirect_error(net::use_awaitable, ec));
  co_return std::optional<Guard>(std::in_place, this);
}

void AsyncMutex::unlock() {
  while (!waiters_.empty()) {
    auto next = std::move(waiters_.front());
    waiters_.pop_front();
    // cancel() returns how many waits it woke; 0 means that waiter is gone
    // (its coroutine was destroyed), so the lock goes to the next one.
    if (next->cancel() > 0) return;
  }
  locked_ = false;
}

}  // namespace focal::server

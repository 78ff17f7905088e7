#include "server/verify_pool.hpp"

#include "server/thread_name.hpp"

#include <latch>
#include <memory>
#include <thread>

namespace focal::server {

namespace {

std::size_t threadsFor(std::size_t requested) {
  if (requested != 0) return requested;
  const std::size_t cores = std::thread::hardware_concurrency();
  // One core: a worker would only add two thread switches per bulletin.
  return cores > 1 ? cores : 0;
}

}  // namespace

VerifyPool::VerifyPool(std::size_t threads) : threads_(threadsFor(threads)) {
  if (threads_ == 0) return;
  pool_.emplace(threads_);
  // One naming job per worker. Each waits until all have started, so no
  // worker can take two of them and every worker is named before the pool
  // is used. The latch is shared: a worker may still be returning from its
  // wait after the constructor has.
  auto started = std::make_shared<std::latch>(static_cast<std::ptrdiff_t>(threads_) + 1);
  for (std::size_t i = 0; i < threads_; ++i) {
    net::post(pool_->get_executor(), [started] {
      nameThisThread("focal-verify");
      started->arrive_and_wait();
    });
  }
  started->arrive_and_wait();
}

VerifyPool::~VerifyPool() { stop(); }

void VerifyPool::stop() {
  if (pool_) pool_->join();
}

}  // namespace focal::server

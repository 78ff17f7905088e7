#include "server/verify_pool.hpp"

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
  if (threads_ > 0) pool_.emplace(threads_);
}

VerifyPool::~VerifyPool() { stop(); }

void VerifyPool::stop() {
  if (pool_) pool_->join();
}

}  // namespace focal::server

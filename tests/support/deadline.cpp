// waitUntil: a steady-clock deadline and a sleep between polls.
#include "tests/support/deadline.hpp"

#include <thread>

namespace focal::test_support {

bool waitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout, std::chrono::milliseconds step) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(step);
  }
  return done();
}

}  // namespace focal::test_support

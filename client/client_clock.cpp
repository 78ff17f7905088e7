#include "client/client_clock.hpp"

#include <chrono>
#include <cstdlib>
#include <iostream>

namespace focal::client {

namespace {

// The advance, read once per process (a command's times all agree).
std::int64_t testAdvanceMs() {
  static const std::int64_t advance = [] {
    const char* text = std::getenv("FOCAL_TEST_CLOCK_ADVANCE_MS");
    if (text == nullptr) return std::int64_t{0};
    const auto parsed = parseClockAdvance(text);
    std::cerr << (parsed ? "focal: WARNING: FOCAL_TEST_CLOCK_ADVANCE_MS is set: this client's clock runs "
                         : "focal: WARNING: FOCAL_TEST_CLOCK_ADVANCE_MS is set but is not a non-negative number of "
                           "milliseconds; ignored. ")
              << (parsed ? std::to_string(*parsed) + " ms ahead (a test hook; never set it in real use)\n" : "\n");
    return parsed.value_or(0);
  }();
  return advance;
}

}  // namespace

std::optional<std::int64_t> parseClockAdvance(std::string_view text) {
  // At most 15 digits: ~31,000 years, far from overflowing the clock.
  if (text.empty() || text.size() > 15 || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  std::int64_t v = 0;
  for (char c : text) v = v * 10 + (c - '0');
  return v;
}

void announceTestClock() { (void)testAdvanceMs(); }

std::int64_t nowMs() {
  const auto real =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return real + testAdvanceMs();
}

}  // namespace focal::client

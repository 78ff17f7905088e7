// One wait-with-deadline helper: polls a condition until it holds or the
// deadline passes. For conditions only observable by polling (another
// process's files or output, a counter behind a lock); every wait in a test
// is bounded, so a defect shows as a failed check, never as a hung run.
#pragma once

#include <chrono>
#include <functional>

namespace focal::test_support {

// Calls `done` until it returns true (then true) or `timeout` has passed
// (then false, after one last call). Sleeps `step` between calls.
bool waitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout,
               std::chrono::milliseconds step = std::chrono::milliseconds(20));

}  // namespace focal::test_support

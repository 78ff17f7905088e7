// The client's wall clock: the one nowMs() every client time goes through
// (signing times, the freshness of the directory log's head, ack times).
//
// TEST ONLY: the environment variable FOCAL_TEST_CLOCK_ADVANCE_MS (a
// decimal number of milliseconds, >= 0) moves this clock FORWARD by that
// much, so integration tests can age the verified head without waiting a
// day. It can never move the clock back: a negative or malformed value is
// ignored. Moving forward only makes the time checks stricter (a head looks
// older, so the client refuses to seal sooner); it cannot make a stale head
// look fresh. Whenever it is set, a warning goes to stderr once per process.
// SECURITY.md §4 (Freezing) says why this is safe to ship.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace focal::client {

// Unix time in milliseconds, plus the test advance if set.
std::int64_t nowMs();

// Reads FOCAL_TEST_CLOCK_ADVANCE_MS now, so its warning is printed at the
// start of every command that runs with it set (main calls it).
void announceTestClock();

// The advance FOCAL_TEST_CLOCK_ADVANCE_MS asks for: nullopt if the text is
// not a non-negative decimal integer (pure; for tests).
std::optional<std::int64_t> parseClockAdvance(std::string_view text);

}  // namespace focal::client

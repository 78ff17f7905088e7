// The freshness rules of the directory log's head (client/head_freshness.hpp)
// and the client clock's test hook (client/client_clock.hpp).
#include "client/client_clock.hpp"
#include "client/head_freshness.hpp"

#include <catch2/catch.hpp>

using namespace focal::client;

namespace {
constexpr std::int64_t Hour = 3600 * 1000;
constexpr std::int64_t Signed = 1'800'000'000'000;  // a head's time
}  // namespace

TEST_CASE("Head freshness: sealing is allowed up to the window and refused after it", "[client][freshness]") {
  CHECK(checkHeadFresh("hub", Signed, Signed, DefaultMaxHeadAgeMs));
  CHECK(checkHeadFresh("hub", Signed, Signed + 24 * Hour, DefaultMaxHeadAgeMs));  // exactly the window
  const auto stale = checkHeadFresh("hub", Signed, Signed + 24 * Hour + 1, DefaultMaxHeadAgeMs);
  REQUIRE_FALSE(stale);
  CHECK(stale.error().find("24 hours ago") != std::string::npos);
  CHECK(stale.error().find("head-max-age") != std::string::npos);
  CHECK(stale.error().find("focal verify-log") != std::string::npos);
  // A wider window of the profile's; days in the message past two days.
  CHECK(checkHeadFresh("hub", Signed, Signed + 25 * Hour, 48 * Hour));
  const auto days = checkHeadFresh("hub", Signed, Signed + 75 * Hour, 48 * Hour);
  REQUIRE_FALSE(days);
  CHECK(days.error().find("3 days and 3 hours ago") != std::string::npos);
}

TEST_CASE("Head freshness: a head from the hub's future is fresh (the clocks may differ)", "[client][freshness]") {
  CHECK(checkHeadFresh("hub", Signed + Hour, Signed, DefaultMaxHeadAgeMs));
}

TEST_CASE("Head freshness: head times may stay or go forward, never back", "[client][freshness]") {
  CHECK(checkHeadTimeForward(Signed, Signed));
  CHECK(checkHeadTimeForward(Signed, Signed + Hour));
  const auto back = checkHeadTimeForward(Signed, Signed - 1);
  REQUIRE_FALSE(back);
  CHECK(back.error().find("older than the head you verified") != std::string::npos);
}

TEST_CASE("Client clock: the test advance is a non-negative number of milliseconds, nothing else",
          "[client][freshness]") {
  CHECK(parseClockAdvance("0") == std::optional<std::int64_t>(0));
  CHECK(parseClockAdvance("90000000") == std::optional<std::int64_t>(90'000'000));
  // It can only move the clock forward: a negative or malformed value is ignored.
  for (const char* bad : {"", "-1", "+5", "1e9", "12 ", "0x10", "9999999999999999"}) {
    INFO(bad);
    CHECK_FALSE(parseClockAdvance(bad));
  }
}

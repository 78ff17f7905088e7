#include "client/head_freshness.hpp"

#include <fmt/format.h>

namespace focal::client {

namespace {

// "25 hours", "3 days and 4 hours": how a user reads an age.
std::string ageText(std::int64_t ms) {
  const std::int64_t hours = ms / (3600 * 1000);
  if (hours < 48) return fmt::format("{} hour{}", hours, hours == 1 ? "" : "s");
  return fmt::format("{} days and {} hours", hours / 24, hours % 24);
}

}  // namespace

Expected<Ok, std::string> checkHeadFresh(std::string_view hubId, std::int64_t headTimeMs, std::int64_t nowMs,
                                         std::int64_t maxAgeMs) {
  if (nowMs - headTimeMs <= maxAgeMs) return Ok{};
  return unexpected(fmt::format(
      "refusing to seal: the newest directory-log head hub '{}' has shown this client was signed {} ago, longer "
      "than this profile's window of {} (head-max-age). A hub signs a new head at least every hour, so it is down, "
      "frozen, or holding you at an old view of the log that could hide a revoked key. Ask the hub operator, run "
      "`focal verify-log`, and compare heads with other members (verify-log --compare); nothing was sent",
      hubId, ageText(nowMs - headTimeMs), ageText(maxAgeMs)));
}

Expected<Ok, std::string> checkHeadTimeForward(std::int64_t storedTimeMs, std::int64_t newTimeMs) {
  if (newTimeMs >= storedTimeMs) return Ok{};
  return unexpected(fmt::format(
      "the hub's signed head is {} ms older than the head you verified before; a hub never signs heads back in "
      "time, so it is replaying an old head or runs from a restored copy of its log",
      storedTimeMs - newTimeMs));
}

}  // namespace focal::client

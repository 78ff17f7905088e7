// Freshness of the directory log's head (PROTOCOL.md §11.1, SECURITY.md §4
// "Freezing"). The hub signs a new head at least every hour even when no
// entry is appended (protocol::HeadRefreshMs), so a client can tell a quiet
// log from a hub that holds it at an old head (hiding a revocation). Two
// rules, pure so they are tested alone:
//
//   * a head's time never goes back: a head signed earlier than the head this
//     profile verified before is refused (VerifyError, exit 3) even at the
//     same size and root; an honest hub never signs one (its head times only
//     grow), so it is a replay of an old head or a hub restored from a copy;
//   * sealing (send, reply, forward, comment, approve/reject, permit) needs a
//     head no older than the profile's window (default 24 h): otherwise
//     StaleHeadError (exit 3, JSON code "stale-head"). Reading, listing and
//     verify-log still work, so the user can see what is going on.
#pragma once

#include "client/client_error.hpp"
#include "crypto/expected.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace focal::client {

// The default window of `head-max-age` (profile.toml): 24 hours, a day of
// the hub's hourly heads, so a hub down for a few hours does not stop work.
inline constexpr std::int64_t DefaultMaxHeadAgeMs = 24LL * 3600 * 1000;

// The longest head-max-age a profile may set: a wider window than this
// would let a hub freeze a client's view for longer than a month.
inline constexpr std::int64_t MaxHeadAgeWindowMs = 30LL * 24 * 3600 * 1000;

// Sealing refused because the newest verified head is too old.
class StaleHeadError : public VerifyError {
 public:
  using VerifyError::VerifyError;
};

// Ok when `headTimeMs` is at most `maxAgeMs` before `nowMs` (a head from
// the future is fresh: the hub's clock may run ahead of ours). Else the
// message a user sees: how old the head is, why sealing stops, what to do.
Expected<Ok, std::string> checkHeadFresh(std::string_view hubId, std::int64_t headTimeMs, std::int64_t nowMs,
                                         std::int64_t maxAgeMs);

// Ok unless `newTimeMs` is before `storedTimeMs` (the head verified before);
// then the reason, for VerifiedLog's refusal.
Expected<Ok, std::string> checkHeadTimeForward(std::int64_t storedTimeMs, std::int64_t newTimeMs);

}  // namespace focal::client

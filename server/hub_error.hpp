// HubError: a typed refusal that goes to the peer as a wire::Error. Every
// failure caused by untrusted input ends up as one of these (STYLE.md habit
// 6, tier 1); messages are for the member's operator and never contain
// bulletin content or key bytes.
#pragma once

#include "crypto/expected.hpp"
#include "protocol/focal.capnp.h"

#include <cstdint>
#include <string>

namespace focal::server {

struct HubError {
  wire::ErrorCode code = wire::ErrorCode::INTERNAL;
  std::string message;
  std::uint32_t retryAfterMs = 0;  // rateLimited / unavailable; 0 = not applicable
};

template <class T>
using Result = Expected<T, HubError>;

inline Unexpected<HubError> fail(wire::ErrorCode code, std::string message, std::uint32_t retryAfterMs = 0) {
  return Unexpected<HubError>{HubError{code, std::move(message), retryAfterMs}};
}

inline Unexpected<HubError> fail(HubError error) { return Unexpected<HubError>{std::move(error)}; }

}  // namespace focal::server

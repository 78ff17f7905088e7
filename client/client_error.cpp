#include "client/client_error.hpp"

#include "protocol/message.hpp"

namespace focal::client {

namespace {
std::string render(wire::ErrorCode code, const std::string& message) {
  std::string s = protocol::errorName(code);
  if (!message.empty()) s += ": " + message;
  return s;
}
}  // namespace

HubError::HubError(wire::ErrorCode code, std::string message, std::uint32_t retryAfterMs)
    : std::runtime_error(render(code, message)), code_(code), message_(std::move(message)),
      retryAfterMs_(retryAfterMs) {}

const char* HubError::codeName() const { return protocol::errorName(code_); }

}  // namespace focal::client

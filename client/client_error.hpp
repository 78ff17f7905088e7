// The client's three kinds of failure, classified by how the caller should
// react (STYLE.md: errors by reaction, the same enum as on the wire):
//
//   HubError        the hub refused: a typed wire::ErrorCode + its message.
//                   Retrying the same request will fail the same way (except
//                   rateLimited / unavailable, which carry retryAfterMs).
//   VerifyError     something the hub handed us does not verify (signature,
//                   sender key, hash, certificate, attachment stream). Never
//                   retry silently: the hub or the sender is misbehaving.
//   TransportError  I/O: DNS, TCP, TLS, a deadline passed, the hub closed the
//                   connection. The connection is unusable afterwards.
//
// The CLI maps them to exit codes 2, 3 and 4.
#pragma once

#include "protocol/focal.capnp.h"

#include <cstdint>
#include <stdexcept>
#include <string>

namespace focal::client {

class HubError : public std::runtime_error {
 public:
  HubError(wire::ErrorCode code, std::string message, std::uint32_t retryAfterMs = 0);
  wire::ErrorCode code() const { return code_; }
  const std::string& hubMessage() const { return message_; }
  std::uint32_t retryAfterMs() const { return retryAfterMs_; }
  // "policy-denied" etc. (protocol::errorName).
  const char* codeName() const;

 private:
  wire::ErrorCode code_;
  std::string message_;
  std::uint32_t retryAfterMs_;
};

class VerifyError : public std::runtime_error {
 public:
  explicit VerifyError(const std::string& reason) : std::runtime_error(reason) {}
};

// Nothing by that id (bulletin, member, proposal) where the caller looked,
// locally or at the hub (the CLI: exit code 5, error code "not-found" — the
// same as the hub's notFound).
class NotFoundError : public std::runtime_error {
 public:
  explicit NotFoundError(const std::string& message) : std::runtime_error(message) {}
};

class TransportError : public std::runtime_error {
 public:
  enum class Kind { Connect, Tls, Timeout, Closed, Protocol, Io };
  TransportError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

}  // namespace focal::client

// The one function that configures the hub's TLS (STYLE.md habit 8).
// Safe by default, nothing to tune: TLS 1.3 only (its AEAD suites and
// ECDHE are not optional), no renegotiation (1.3 has none), no compression,
// no session tickets or session cache (every connection authenticates
// anyway, and resumption would only add state), certificate and key from
// files checked to match.
#pragma once

#include "server/net.hpp"

#include <filesystem>

namespace focal::server {

// Throws std::runtime_error naming the file and OpenSSL's reason.
ssl::context makeServerTlsContext(const std::filesystem::path& certificate, const std::filesystem::path& privateKey);

}  // namespace focal::server

// The one function that configures the hub's TLS (STYLE.md habit 8).
// Safe by default, nothing to tune: TLS 1.3 only (its AEAD suites and
// ECDHE are not optional), no renegotiation (1.3 has none), no compression,
// no session tickets or session cache (every connection authenticates
// anyway, and resumption would only add state), certificate and key from
// files checked to match.
#pragma once

#include "server/net.hpp"

#include <filesystem>
#include <memory>

namespace focal::server {

// Throws std::runtime_error naming the file and OpenSSL's reason.
ssl::context makeServerTlsContext(const std::filesystem::path& certificate, const std::filesystem::path& privateKey);

// The context new connections are given, replaceable while the hub runs
// (SIGHUP: Hub::reloadTls). A session takes a shared reference when it is
// accepted and keeps it with its SSL object for its whole life, so
// replacing the context never touches a session that exists: sessions
// accepted before a reload keep the old certificate, those after get the
// new one. io thread only.
class ServerTls {
 public:
  // Serves `initial`, which the caller owns and keeps alive longer.
  explicit ServerTls(ssl::context& initial)
      : current_(std::shared_ptr<ssl::context>(std::shared_ptr<ssl::context>(), &initial)) {}
  std::shared_ptr<ssl::context> current() const { return current_; }
  void replace(ssl::context next) { current_ = std::make_shared<ssl::context>(std::move(next)); }

 private:
  std::shared_ptr<ssl::context> current_;
};

}  // namespace focal::server

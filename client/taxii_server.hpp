// The local TAXII endpoint's HTTPS listener (`focal taxii`, docs/cti.md (TAXII)):
// Boost.Beast over an OpenSSL stream, HTTP Basic authentication, read-only.
// What it answers is client/taxii.hpp's Router; this file is the transport
// and the checks in front of it, in this order:
//   1. TLS (1.2 or 1.3, the certificate the command loaded);
//   2. authentication: 401 with WWW-Authenticate without valid credentials;
//   3. the method: 405 (Allow: GET) for anything but GET;
//   4. the rest (406 on a wrong Accept, 404, 400) is the router's.
//
// SECURITY: every connection is bounded: at most MaxConnections at once
// (more are closed when accepted), TlsHandshakeTimeout for the handshake,
// RequestTimeout to read a request and again to write its answer, a request
// head of at most MaxHeaderBytes (Beast's parser refuses more; the
// connection is closed), no body ever read (a request that has one is
// answered, then its connection closed), at most MaxRequestsPerConnection on one
// keep-alive connection. A failed authentication is answered after
// FailedAuthDelay, and a connection is closed after MaxFailedAuthPerConnection
// of them, so guessing the password costs time.
#pragma once

#include "client/net.hpp"
#include "client/taxii.hpp"
#include "crypto/primitives.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace focal::client::taxii {

// The credentials the endpoint takes. Only a keyed BLAKE2b-256 of
// "user NUL password" is kept, under a key made at random for this process:
// the password itself is not held once the check is built, and a presented
// pair is compared in constant time (its hash, whatever its length).
class BasicAuth {
 public:
  BasicAuth(std::string_view user, std::string_view password);
  // `authorization`: the Authorization header's value ("Basic base64").
  bool check(std::string_view authorization) const;

 private:
  crypto::Hash256 digest(std::string_view user, std::string_view password) const;
  crypto::ContentKey key_;
  crypto::Hash256 expected_;
};

// A server-side TLS context: the certificate chain and key from these
// files, TLS 1.2 or 1.3. Throws std::runtime_error naming the file.
ssl::context makeServerTlsContext(const std::filesystem::path& certFile, const std::filesystem::path& keyFile);

class TaxiiServer {
 public:
  static constexpr std::size_t MaxConnections = 16;
  static constexpr std::uint32_t MaxHeaderBytes = 16 * 1024;
  static constexpr std::chrono::seconds TlsHandshakeTimeout{10};
  static constexpr std::chrono::seconds RequestTimeout{30};
  static constexpr int MaxRequestsPerConnection = 1000;
  static constexpr std::chrono::milliseconds FailedAuthDelay{500};
  static constexpr int MaxFailedAuthPerConnection = 3;

  // Answers an authenticated GET: (target, Accept header or nullopt).
  using Handler = std::function<Response(std::string_view target, std::optional<std::string_view> accept)>;

  // Binds `endpoint` now; throws boost::system::system_error.
  TaxiiServer(const net::ip::tcp::endpoint& endpoint, ssl::context tls, BasicAuth auth, Handler handler);
  TaxiiServer(const TaxiiServer&) = delete;
  TaxiiServer& operator=(const TaxiiServer&) = delete;

  net::ip::tcp::endpoint endpoint() const { return endpoint_; }
  // Serves on the calling thread until SIGINT or SIGTERM.
  void run();

 private:
  static net::awaitable<void> acceptLoop(TaxiiServer* server);
  static net::awaitable<void> serve(TaxiiServer* server, net::ip::tcp::socket socket);

  net::io_context io_{1};
  // Made with the server, so SIGINT and SIGTERM stop it cleanly from the
  // moment it exists (the command prints its address before run()).
  net::signal_set signals_{io_, SIGINT, SIGTERM};
  ssl::context tls_;
  net::ip::tcp::acceptor acceptor_;
  net::ip::tcp::endpoint endpoint_;
  BasicAuth auth_;
  Handler handler_;
  std::size_t connections_ = 0;
};

}  // namespace focal::client::taxii

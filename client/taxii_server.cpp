// The local TAXII endpoint's HTTPS listener (taxii_server.hpp).
#include "client/taxii_server.hpp"

#include "crypto/openssl_error.hpp"

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sodium.h>
#include <strings.h>

#include <iostream>
#include <limits>
#include <stdexcept>

namespace focal::client::taxii {

namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;

crypto::ByteView bytesOf(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

BasicAuth::BasicAuth(std::string_view user, std::string_view password)
    : key_(crypto::ContentKey::random()), expected_(digest(user, password)) {}

crypto::Hash256 BasicAuth::digest(std::string_view user, std::string_view password) const {
  std::string pair;
  pair.reserve(user.size() + 1 + password.size());
  pair.append(user).push_back('\0');
  pair.append(password);
  const auto h = crypto::keyedHash256(key_, "focal taxii basic auth", bytesOf(pair));
  sodium_memzero(pair.data(), pair.size());
  return h;
}

bool BasicAuth::check(std::string_view authorization) const {
  // "Basic" is case-insensitive (RFC 7617), then one or more spaces.
  if (authorization.size() < 6 || strncasecmp(authorization.data(), "Basic ", 6) != 0) return false;
  auto encoded = authorization.substr(6);
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  while (!encoded.empty() && encoded.back() == ' ') encoded.remove_suffix(1);
  if (encoded.empty() || encoded.size() > 4096) return false;
  std::string decoded(encoded.size(), '\0');
  std::size_t length = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(decoded.data()), decoded.size(), encoded.data(),
                        encoded.size(), nullptr, &length, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return false;
  }
  decoded.resize(length);
  const auto colon = decoded.find(':');
  bool ok = false;
  if (colon != std::string::npos) {
    ok = digest(std::string_view(decoded).substr(0, colon), std::string_view(decoded).substr(colon + 1)) == expected_;
  }
  sodium_memzero(decoded.data(), decoded.size());
  return ok;
}

ssl::context makeServerTlsContext(const std::filesystem::path& certFile, const std::filesystem::path& keyFile) {
  ssl::context ctx(ssl::context::tls_server);
  SSL_CTX* raw = ctx.native_handle();
  // TLS 1.2 as well as 1.3: MISP and OpenCTI run on Python and Node
  // builds that may not offer 1.3 everywhere. Only AEAD suites with
  // forward secrecy for 1.2.
  if (SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(raw, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
    throw std::runtime_error("cannot configure TLS: " + crypto::opensslError());
  }
  ctx.set_options(ssl::context::no_compression | ssl::context::single_dh_use);
  SSL_CTX_set_options(raw, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(raw, certFile.c_str()) != 1) {
    throw std::runtime_error("cannot load the certificate " + certFile.string() + ": " + crypto::opensslError());
  }
  if (SSL_CTX_use_PrivateKey_file(raw, keyFile.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw std::runtime_error("cannot load the TLS key " + keyFile.string() + ": " + crypto::opensslError());
  }
  if (SSL_CTX_check_private_key(raw) != 1) {
    throw std::runtime_error("the TLS key " + keyFile.string() + " does not match the certificate " +
                             certFile.string());
  }
  return ctx;
}

TaxiiServer::TaxiiServer(const net::ip::tcp::endpoint& endpoint, ssl::context tls, BasicAuth auth, Handler handler)
    : tls_(std::move(tls)), acceptor_(io_), auth_(std::move(auth)), handler_(std::move(handler)) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::ip::tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(static_cast<int>(MaxConnections));
  endpoint_ = acceptor_.local_endpoint();
}

void TaxiiServer::run() {
  signals_.async_wait([this](const boost::system::error_code&, int) { io_.stop(); });
  net::co_spawn(io_, acceptLoop(this), net::detached);
  io_.run();
}

net::awaitable<void> TaxiiServer::acceptLoop(TaxiiServer* server) {
  boost::system::error_code ec;
  while (ec != net::error::operation_aborted) {
    auto socket = co_await server->acceptor_.async_accept(net::redirect_error(net::use_awaitable, ec));
    if (!ec && server->connections_ < MaxConnections) {
      ++server->connections_;
      net::co_spawn(server->io_, serve(server, std::move(socket)), net::detached);
    } else if (!ec) {
      socket.close(ec);  // over the cap: closed unanswered
      ec = {};
    } else if (ec != net::error::operation_aborted) {
      // EMFILE and friends: a pause instead of spinning on the error.
      net::steady_timer pause(server->io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
  }
}

net::awaitable<void> TaxiiServer::serve(TaxiiServer* server, net::ip::tcp::socket socket) {
  beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), server->tls_);
  // SECURITY: the buffer's cap bounds what one connection can make us hold.
  beast::flat_buffer buffer(2 * MaxHeaderBytes);
  boost::system::error_code ec;
  int failedAuth = 0;
  try {
    beast::get_lowest_layer(stream).expires_after(TlsHandshakeTimeout);
    co_await stream.async_handshake(ssl::stream_base::server, net::redirect_error(net::use_awaitable, ec));
    for (int n = 0; !ec && n < MaxRequestsPerConnection; ++n) {
      http::request_parser<http::empty_body> parser;
      parser.header_limit(MaxHeaderBytes);
      // No body is ever read (only the head is), so a body's declared
      // length must not fail the head: a POST still gets its 405.
      parser.body_limit(std::numeric_limits<std::uint64_t>::max());
      beast::get_lowest_layer(stream).expires_after(RequestTimeout);
      co_await http::async_read_header(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
      if (ec) break;  // closed, timed out, too large, or not HTTP: no answer
      const auto& request = parser.get();
      const auto authorization = request.find(http::field::authorization);
      const bool authenticated =
          authorization != request.end() &&
          server->auth_.check(std::string_view(authorization->value().data(), authorization->value().size()));
      // A request with a body is answered, then the connection closed:
      // the body is never read.
      const bool hasBody = !parser.is_done();
      Response reply;
      if (!authenticated) {
        ++failedAuth;
        net::steady_timer pause(server->io_, FailedAuthDelay);
        co_await pause.async_wait(net::redirect_error(net::use_awaitable, ec));
        reply = errorResponse(401, "Unauthorized", "this TAXII endpoint needs HTTP Basic credentials (user and password "
                                                   "of `focal taxii`)");
        reply.headers.emplace_back("WWW-Authenticate", "Basic realm=\"Focal TAXII\", charset=\"UTF-8\"");
      } else if (request.method() != http::verb::get) {
        reply = errorResponse(405, "Method Not Allowed", "this TAXII endpoint is read-only: only GET");
        reply.headers.emplace_back("Allow", "GET");
      } else {
        const auto accept = request.find(http::field::accept);
        std::optional<std::string_view> acceptValue;
        if (accept != request.end()) acceptValue = std::string_view(accept->value().data(), accept->value().size());
        try {
          reply = server->handler_(std::string_view(request.target().data(), request.target().size()), acceptValue);
        } catch (const std::exception& e) {
          reply = errorResponse(500, "Internal Server Error", e.what());
        }
      }
      http::response<http::string_body> response{static_cast<http::status>(reply.status), request.version()};
      response.set(http::field::server, "focal-taxii");
      response.set(http::field::content_type, reply.contentType);
      response.set(http::field::cache_control, "no-store");
      for (const auto& [name, value] : reply.headers) response.set(name, value);
      const bool keepAlive = request.keep_alive() && !hasBody && failedAuth < MaxFailedAuthPerConnection;
      response.keep_alive(keepAlive);
      response.body() = std::move(reply.body);
      response.prepare_payload();
      beast::get_lowest_layer(stream).expires_after(RequestTimeout);
      co_await http::async_write(stream, response, net::redirect_error(net::use_awaitable, ec));
      if (ec || !keepAlive) break;
    }
    if (!ec) {
      beast::get_lowest_layer(stream).expires_after(TlsHandshakeTimeout);
      co_await stream.async_shutdown(net::redirect_error(net::use_awaitable, ec));
    }
  } catch (const std::exception& e) {
    std::cerr << "focal: warning: TAXII connection: " << e.what() << "\n";
  }
  beast::get_lowest_layer(stream).socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
  beast::get_lowest_layer(stream).close();
  --server->connections_;
}

}  // namespace focal::client::taxii

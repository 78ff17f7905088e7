// PROTOCOL.md §2: the client sends SNI for a host name, never for an IP
// address (RFC 6066 §3 forbids literal IP addresses in server_name), and
// checks the certificate against whichever it dialled.
#include "client/tls_config.hpp"

#include <catch2/catch.hpp>
#include <openssl/ssl.h>

#include <memory>
#include <string>

using namespace focal;

namespace {

// The SNI a fresh client SSL object would send after configurePeerCheck(host).
std::string sniFor(const std::string& host) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  REQUIRE(ctx);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  REQUIRE(ssl);
  client::configurePeerCheck(ssl.get(), host);
  const char* name = SSL_get_servername(ssl.get(), TLSEXT_NAMETYPE_host_name);
  return name == nullptr ? std::string() : std::string(name);
}

}  // namespace

TEST_CASE("SNI carries a host name and is never sent for an IP address", "[client][tls]") {
  CHECK(sniFor("hub.example.org") == "hub.example.org");
  CHECK(sniFor("localhost") == "localhost");
  CHECK(sniFor("127.0.0.1").empty());
  CHECK(sniFor("192.0.2.7").empty());
  CHECK(sniFor("::1").empty());
  CHECK(sniFor("2001:db8::5").empty());
}

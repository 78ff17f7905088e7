#include "client/tls_config.hpp"

#include "client/client_error.hpp"
#include "crypto/openssl_error.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace focal::client {

using crypto::opensslError;

ssl::context makeClientTlsContext(const std::filesystem::path& caFile) {
  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX* raw = ctx.native_handle();
  if (SSL_CTX_set_min_proto_version(raw, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(raw, TLS1_3_VERSION) != 1) {
    throw TransportError(TransportError::Kind::Tls, "cannot restrict TLS to version 1.3: " + opensslError());
  }
  ctx.set_options(ssl::context::no_compression);
  // SECURITY: the only trust anchor is the pinned file; the default
  // (system) verify paths are deliberately never loaded.
  if (SSL_CTX_load_verify_locations(raw, caFile.c_str(), nullptr) != 1) {
    throw TransportError(TransportError::Kind::Tls,
                         "cannot load the hub certificate " + caFile.string() + ": " + opensslError());
  }
  // Pinning the hub's own (leaf) certificate must work too, not only a CA.
  X509_STORE* store = SSL_CTX_get_cert_store(raw);
  X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
  ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  return ctx;
}

void configurePeerCheck(SSL* ssl, const std::string& host) {
  boost::system::error_code ec;
  (void)net::ip::make_address(host, ec);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (!ec) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
      throw TransportError(TransportError::Kind::Tls, "cannot set the expected IP address " + host);
    }
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, host.c_str()) != 1 || SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
      throw TransportError(TransportError::Kind::Tls, "cannot set the expected host name " + host);
    }
  }
}

}  // namespace focal::client

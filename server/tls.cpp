#include "server/tls.hpp"

#include "server/openssl_error.hpp"

#include <openssl/ssl.h>

#include <stdexcept>

namespace focal::server {

ssl::context makeServerTlsContext(const std::filesystem::path& certificate, const std::filesystem::path& privateKey) {
  ssl::context ctx(ssl::context::tls_server);
  SSL_CTX* raw = ctx.native_handle();
  if (SSL_CTX_set_min_proto_version(raw, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(raw, TLS1_3_VERSION) != 1) {
    throw std::runtime_error("cannot restrict TLS to version 1.3: " + opensslError());
  }
  SSL_CTX_set_options(raw, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 |
                               SSL_OP_NO_TLSv1_2);
  // An idle session holds no record buffers: OpenSSL frees them when a
  // read or write leaves nothing pending and allocates them again on the
  // next one (server/tls_stream.hpp; issue 24's idle-connection target).
  SSL_CTX_set_mode(raw, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_set_num_tickets(raw, 0) != 1) throw std::runtime_error("cannot disable session tickets");
  // Clients present no certificate: they authenticate inside the channel
  // with their identity key, bound to this TLS session (PROTOCOL.md §Auth).
  SSL_CTX_set_verify(raw, SSL_VERIFY_NONE, nullptr);

  if (SSL_CTX_use_certificate_chain_file(raw, certificate.c_str()) != 1) {
    throw std::runtime_error("cannot load the TLS certificate " + certificate.string() + ": " + opensslError());
  }
  if (SSL_CTX_use_PrivateKey_file(raw, privateKey.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw std::runtime_error("cannot load the TLS private key " + privateKey.string() + ": " + opensslError());
  }
  if (SSL_CTX_check_private_key(raw) != 1) {
    throw std::runtime_error("the TLS private key does not match the certificate: " + opensslError());
  }
  return ctx;
}

}  // namespace focal::server

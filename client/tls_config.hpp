// The client's TLS configuration, in one place, with safe defaults:
//   * TLS 1.3 only;
//   * the trust store holds exactly one file: the hub's certificate or the
//     CA that issued it (the pin). System roots are never loaded;
//   * the peer must present a certificate that chains to the pin
//     (verify_peer), and its SAN must match the host name or IP address we
//     dialled (SSL_set1_host / X509_VERIFY_PARAM_set1_ip_asc).
#pragma once

#include "client/net.hpp"

#include <filesystem>
#include <string>

namespace focal::client {

// Throws TransportError(Tls) if the file cannot be loaded.
ssl::context makeClientTlsContext(const std::filesystem::path& caFile);

// Per-connection settings before the handshake: SNI (names only) and the
// host/IP check against the certificate's subjectAltName.
void configurePeerCheck(SSL* ssl, const std::string& host);

}  // namespace focal::client

// The hub's self-signed TLS certificate, made by `focald init` when the
// operator brings none. Clients pin it (it is its own CA file), so its
// fingerprint is printed for out-of-band comparison.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace focal::server {

// ECDSA P-256 key and an X.509 v3 certificate valid for `validDays` from now,
// subject CN = commonName, subjectAltName = every entry of `hosts` (as IP if
// it parses as an address, else DNS). The key is written mode 0600.
// Throws std::runtime_error with OpenSSL's reason.
void generateSelfSignedCertificate(const std::filesystem::path& certFile, const std::filesystem::path& keyFile,
                                   const std::string& commonName, const std::vector<std::string>& hosts,
                                   int validDays);

// SHA-256 of the first certificate's DER in a PEM file, as upper-case hex
// pairs separated by ':' (the format `openssl x509 -fingerprint` prints).
std::string certificateFingerprint(const std::filesystem::path& certFile);

}  // namespace focal::server

// Self-signed TLS certificates: the hub's (`focald init`, when the operator
// brings none; clients pin it) and the local TAXII endpoint's (`focal taxii`,
// made in the profile on first use). Their SHA-256 fingerprints are printed
// for out-of-band comparison. Shared by hub and client, so it lives here.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace focal::crypto {

// ECDSA P-256 key and an X.509 v3 certificate valid for `validDays` from now,
// subject CN = commonName, O = organization, subjectAltName = every entry of
// `hosts` (as IP if it parses as an address, else DNS). The key is written
// mode 0600. Throws std::runtime_error with OpenSSL's reason.
void generateSelfSignedCertificate(const std::filesystem::path& certFile, const std::filesystem::path& keyFile,
                                   const std::string& commonName, const std::vector<std::string>& hosts,
                                   int validDays, const std::string& organization = "Focal hub");

// The validity period of a certificate.
struct CertificateValidity {
  std::chrono::system_clock::time_point notBefore;
  std::chrono::system_clock::time_point notAfter;
};
// The same with an explicit validity period (tests make expired and
// not-yet-valid certificates with it; init uses the one above).
void generateSelfSignedCertificate(const std::filesystem::path& certFile, const std::filesystem::path& keyFile,
                                   const std::string& commonName, const std::vector<std::string>& hosts,
                                   const CertificateValidity& validity, const std::string& organization = "Focal hub");

// The validity period of the first certificate in a PEM file. Throws
// std::runtime_error when the file cannot be read or parsed.
CertificateValidity certificateValidity(const std::filesystem::path& certFile);

// "2026-12-06 13:30:00 UTC".
std::string formatUtc(std::chrono::system_clock::time_point t);

// SHA-256 of the first certificate's DER in a PEM file, as upper-case hex
// pairs separated by ':' (the format `openssl x509 -fingerprint` prints).
std::string certificateFingerprint(const std::filesystem::path& certFile);

}  // namespace focal::crypto

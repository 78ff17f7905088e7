// `focald init DIR`: creates a hub from nothing.
//
// Writes (in this order, focal.toml last, so a failed init never looks like
// a hub): tls/cert.pem + tls/key.pem (unless given), hub.key, admin.key +
// admin.key.pub, focal.db with log entry 0 (genesis, signed by the hub key)
// and entry 1 (the first admin registering itself, signed by its own new
// identity key — the only self-registration, authorised by the operator who
// runs init), then focal.toml.
//
// hub.key is the raw 64-byte Ed25519 secret key, UNENCRYPTED (mode 0600):
// the hub signs a new log head whenever the directory changes, unattended,
// so there is nobody to type a passphrase. Protect it like the TLS key.
#pragma once

#include "crypto/primitives.hpp"
#include "server/clock.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace focal::server {

// Validity of the self-signed certificate init makes.
inline constexpr int CertificateValidDays = 5 * 365;

struct InitOptions {
  std::filesystem::path dir;
  std::string listen = "127.0.0.1:7443";
  std::string hubId = "focal-hub";
  std::optional<std::filesystem::path> tlsCertificate;
  std::optional<std::filesystem::path> tlsPrivateKey;
  std::string adminId = "admin";
  std::string adminName;   // default: the admin id
  std::string adminState;  // ISO 3166 alpha-2 or empty; one of memberStates
  // The working group's member states, written to focal.toml
  // ([working_group] member_states); empty: Config::defaultMemberStates().
  std::vector<std::string> memberStates;
  std::string adminInstitution = "policy-security";
  crypto::KdfStrength kdf = crypto::KdfStrength::Moderate;
  // Where the first admin's key file is written (and PATH.pub beside it);
  // default DIR/admin.key. SECURITY: the admin's key does not belong on
  // the hub machine (SECURITY.md §1: the hub is not trusted with the key
  // directory); init says so when it writes it there.
  std::optional<std::filesystem::path> adminKeyOut;
  // The log's witnesses (PROTOCOL.md §11.4): each a member's public key
  // file (`focal keygen`'s FILE.pub; its member id and identity key), and
  // the threshold k of cosignatures clients require (default: all of them).
  std::vector<std::filesystem::path> witnessKeyFiles;
  std::optional<std::uint32_t> witnessThreshold;
};

struct InitResult {
  std::filesystem::path configFile;
  std::string hubId;
  std::string address;                   // HOST:PORT clients connect to
  std::filesystem::path caFile;          // the certificate clients pin
  std::string certificateFingerprint;    // SHA-256, colon hex
  std::string hubKeyFingerprint;         // crypto::fingerprint(hubId, hubKey)
  std::string adminId;
  std::filesystem::path adminKeyFile;
  bool adminKeyInsideHub = false;  // written into DIR: move it off the hub machine
  std::filesystem::path adminPublicKeyFile;
  std::string adminFingerprint;
};

// Throws std::runtime_error with a message for the operator (HubLockHeld
// when a focald holds the directory).
InitResult initHub(const InitOptions& options, std::string_view passphrase, const Clock& clock);

struct RenewResult {
  std::filesystem::path certificate;
  std::string previousFingerprint;  // "" when the old one could not be read
  std::string fingerprint;          // SHA-256, colon hex
  std::string notAfter;             // formatUtc
};
// `focald init --renew-cert DIR`: a new TLS key and self-signed certificate
// for an existing hub (same subject and hosts as init makes, a fresh
// validity period), everything else kept. Only for the certificate init
// made (DIR/tls/cert.pem); one the operator brought is theirs to replace.
// Takes the directory lock, so not while the hub runs. Every client pins the
// certificate, so every client must then be given the new one. Throws
// std::runtime_error (HubLockHeld) with a message for the operator.
RenewResult renewCertificate(const std::filesystem::path& dir, int validDays = CertificateValidDays);

}  // namespace focal::server

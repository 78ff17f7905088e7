// `focald init DIR`: creates a hub from nothing.
//
// Writes (in this order, focal.toml last, so a failed init never looks like
// a hub): tls/cert.pem + tls/key.pem (unless given), hub.key, focal.db with
// log entry 0 (genesis, signed by the hub key, naming the admin quorum) and
// entries 1..n (the first admins' registrations, signed by the hub key:
// init is the authority), then focal.toml.
//
// The first admin's keys are made on the admin's own machine (`focal
// keygen`); init reads only their public file (--admin-pub FILE.pub). No
// admin private key is ever made on, or written to, the hub machine
// (SECURITY.md §1: the hub is not trusted with the key directory).
//
// hub.key is the raw 64-byte Ed25519 secret key, UNENCRYPTED (mode 0600):
// the hub signs a new log head whenever the directory changes, unattended,
// so there is nobody to type a passphrase. Protect it like the TLS key.
#pragma once

#include "crypto/primitives.hpp"
#include "protocol/admin_quorum.hpp"
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
  // The metrics listener ([metrics]): HOST:PORT, or "off". Empty: 127.0.0.1
  // on Config::DefaultMetricsPort, or on port 0 (any) when `listen`'s port
  // is 0, so throw-away hubs never collide.
  std::string metrics;
  std::string hubId = "focal-hub";
  std::optional<std::filesystem::path> tlsCertificate;
  std::optional<std::filesystem::path> tlsPrivateKey;
  // The first admin's public key file (`focal keygen` writes FILE.pub):
  // required. Its certificate (identity over encryption key) is checked.
  std::filesystem::path adminPublicKeyFile;
  std::string adminId;     // default: the member id in that file; if set, must equal it
  std::string adminName;   // default: the admin id
  std::string adminState;  // ISO 3166 alpha-2 or empty; one of memberStates
  // The working group's member states, written to focal.toml
  // ([working_group] member_states); empty: Config::defaultMemberStates().
  std::vector<std::string> memberStates;
  std::string adminInstitution = "policy-security";
  // The log's witnesses (PROTOCOL.md §11.6): each a member's public key
  // file (`focal keygen`'s FILE.pub; its member id and identity key), and
  // the threshold k of cosignatures clients require (default: all of them).
  std::vector<std::filesystem::path> witnessKeyFiles;
  std::optional<std::uint32_t> witnessThreshold;
  // Further first admins (PROTOCOL.md §11.7), each a public key file and
  // its member state ("" for none), registered after the first one.
  struct CoAdmin {
    std::filesystem::path publicKeyFile;
    std::string state;
  };
  std::vector<CoAdmin> coAdmins;
  // k: admin signatures a directory change needs (default: 2 with
  // co-admins, 1 for a single-admin test hub).
  std::optional<std::uint32_t> adminQuorum;
  std::int64_t forcedRotationDelayMs = protocol::DefaultForcedRotationDelayMs;
};

struct InitResult {
  std::filesystem::path configFile;
  std::string hubId;
  std::string address;                   // HOST:PORT clients connect to
  std::filesystem::path caFile;          // the certificate clients pin
  std::string certificateFingerprint;    // SHA-256, colon hex
  std::string hubKeyFingerprint;         // crypto::fingerprint(hubId, hubKey)
  std::string adminId;
  std::filesystem::path adminPublicKeyFile;  // as given
  std::string adminFingerprint;
  // Every first admin (the first one first): id and fingerprint.
  std::vector<std::pair<std::string, std::string>> admins;
  std::uint32_t adminQuorum = 1;
  std::int64_t forcedRotationDelayMs = 0;
};

// Throws std::runtime_error with a message for the operator (HubLockHeld
// when a focald holds the directory).
InitResult initHub(const InitOptions& options, const Clock& clock);

// An admin private key file that `focald init` wrote into DIR before
// --admin-pub existed (DIR/admin.key), or nullopt. Startup and `focald
// check` warn about it: docs/operations.md says how to move off it.
std::optional<std::filesystem::path> legacyAdminKeyFile(const std::filesystem::path& dir);

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

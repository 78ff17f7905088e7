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
  std::filesystem::path adminPublicKeyFile;
  std::string adminFingerprint;
};

// Throws std::runtime_error with a message for the operator.
InitResult initHub(const InitOptions& options, std::string_view passphrase, const Clock& clock);

}  // namespace focal::server

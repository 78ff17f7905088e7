// `focald check`, `focald backup` and `focald restore` (issue 22): what is
// wrong with a hub directory, a consistent copy of a running hub, and a
// copy placed only after it passed every check `focald run` would make.
//
// A backup is a directory (0700): the database as SQLite's online backup
// API copies it (one read transaction: a consistent snapshot while the hub
// keeps writing), focal.toml, hub.key, the TLS certificate and key, and
// backup.json naming each file with its BLAKE2b-256. It holds the hub's
// private keys: keep it like the hub directory itself.
//
// A sealed backup (--encrypt-to FILE.pub, repeatable) holds no plaintext:
// every file is sealed (crypto/sealed_file.hpp) under a random backup key,
// which backup.json carries sealed to each operator's X25519 encryption key
// (crypto_box_seal), beside the manifest (names, roles, sizes, hashes,
// modes, hub id) encrypted and authenticated under a key derived from the
// backup key. While the database's copy is sealed it lies in a 0700
// staging directory beside the live database (the hub directory's own
// protection), removed on every path, also on SIGINT/SIGTERM/SIGHUP.
// Format: docs/operations.md "Sealed backups"; threat model: SECURITY.md.
#pragma once

#include "crypto/key_ops.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace focal::server {

// One line per problem that would stop `focald run DIR` (configuration,
// key file modes, hub key, certificate, database integrity, the directory
// log's chain and signatures, the log's hub against focal.toml and hub.key).
// Read only; the hub may be running. Empty: nothing wrong.
std::vector<std::string> hubDirectoryProblems(const std::filesystem::path& dir,
                                              std::chrono::system_clock::time_point now);

// A backup or restore refused for a reason the operator can act on; `code`
// is the machine code of focald's --json error document (docs/json.md).
class BackupError : public std::runtime_error {
 public:
  BackupError(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

// An operator a sealed backup is sealed to.
struct BackupRecipient {
  std::string memberId;
  std::string fingerprint;  // crypto::fingerprint of the identity key
};

struct BackupReport {
  std::string hubId;
  std::uint64_t logEntries = 0;
  std::uint64_t bytes = 0;  // of the files in `out`
  std::int64_t createdAtMs = 0;
  bool sealed = false;
  std::vector<BackupRecipient> recipients;  // sealed: the operators, in --encrypt-to order
};
// Copies the hub in `dir` (running or not) into `out`, which must not
// exist. Every file focal.toml names must lie inside `dir`. With
// `encryptTo` (each a checked FILE.pub; at least one), a sealed backup.
// Throws BackupError or std::runtime_error with a message for the operator
// (and removes `out` and the staging directory).
BackupReport backupHub(const std::filesystem::path& dir, const std::filesystem::path& out,
                       const std::vector<crypto::PublicKeys>& encryptTo = {});

// Before `focald run` upgrades the database schema: a backup of the hub as
// it is (backupHub, the database at its older version) in
// DIR/backups/pre-upgrade-vN-YYYYMMDDTHHMMSSZ. nullopt when the schema
// needs no upgrade. Throws, as backupHub, when the backup cannot be made:
// the caller then does not upgrade.
std::optional<std::filesystem::path> backupBeforeUpgrade(const std::filesystem::path& dir,
                                                         const std::filesystem::path& database,
                                                         std::chrono::system_clock::time_point now);

struct RestoreOptions {
  // The operator's keys (--decrypt-with), asked for only when the backup is
  // sealed; empty: none given. May throw BackupError (a wrong passphrase).
  std::function<crypto::Keyring()> decryptionKeys;
};

struct RestoreReport {
  // Empty: restored. Else one line per problem, and the machine code of
  // the first: exists, not-a-backup, sealed (no --decrypt-with), not-sealed
  // (--decrypt-with on a plain backup), wrong-key, damaged, check-failed.
  std::vector<std::string> problems;
  std::string code;
  std::string hubId;
  std::string hubKeyFingerprint;  // restored: crypto::fingerprint(hub id, hub key), as focald init printed it
  std::uint64_t logEntries = 0;
  std::optional<std::int64_t> createdAtMs;  // plain backups made before sealing existed: none
  bool sealed = false;
  std::vector<BackupRecipient> recipients;
};

// Checks `backup` (every file against backup.json; a sealed one opened with
// options.decryptionKeys, every file decrypted and authenticated), places
// it in a temporary directory (0700) beside `newDir`, runs
// hubDirectoryProblems on it and only then renames it to `newDir` (which
// must not exist). Nothing is left behind on a problem.
RestoreReport restoreHub(const std::filesystem::path& backup, const std::filesystem::path& newDir,
                         std::chrono::system_clock::time_point now, const RestoreOptions& options = {});

}  // namespace focal::server

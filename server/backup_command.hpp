// `focald check`, `focald backup` and `focald restore` (issue 22): what is
// wrong with a hub directory, a consistent copy of a running hub, and a
// copy placed only after it passed every check `focald run` would make.
//
// A backup is a directory (0700): the database as SQLite's online backup
// API copies it (one read transaction: a consistent snapshot while the hub
// keeps writing), focal.toml, hub.key, the TLS certificate and key, and
// backup.json naming each file with its BLAKE2b-256. It holds the hub's
// private keys: keep it like the hub directory itself.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace focal::server {

// One line per problem that would stop `focald run DIR` (configuration,
// key file modes, hub key, certificate, database integrity, the directory
// log's chain and signatures, the log's hub against focal.toml and hub.key).
// Read only; the hub may be running. Empty: nothing wrong.
std::vector<std::string> hubDirectoryProblems(const std::filesystem::path& dir,
                                              std::chrono::system_clock::time_point now);

struct BackupReport {
  std::uint64_t logEntries = 0;
  std::uint64_t bytes = 0;
};
// Copies the hub in `dir` (running or not) into `out`, which must not
// exist. Every file focal.toml names must lie inside `dir`. Throws
// std::runtime_error with a message for the operator (and removes `out`).
BackupReport backupHub(const std::filesystem::path& dir, const std::filesystem::path& out);

// Before `focald run` upgrades the database schema: a backup of the hub as
// it is (backupHub, the database at its older version) in
// DIR/backups/pre-upgrade-vN-YYYYMMDDTHHMMSSZ. nullopt when the schema
// needs no upgrade. Throws, as backupHub, when the backup cannot be made:
// the caller then does not upgrade.
std::optional<std::filesystem::path> backupBeforeUpgrade(const std::filesystem::path& dir,
                                                         const std::filesystem::path& database,
                                                         std::chrono::system_clock::time_point now);

// Checks `backup` (every file against backup.json), places it in a
// temporary directory beside `newDir`, runs hubDirectoryProblems on it and
// only then renames it to `newDir` (which must not exist). Returns the
// problems (empty: restored); nothing is left behind on a problem.
std::vector<std::string> restoreHub(const std::filesystem::path& backup, const std::filesystem::path& newDir,
                                    std::chrono::system_clock::time_point now);

}  // namespace focal::server

// The local profile directory (default $FOCAL_HOME, else ~/.focal):
//
//   profile.toml   hub = "host:port", ca = "...", key = "..."
//   state.toml     last-seq = N (highest queue position fetched)
//   cache/         received bulletins, still encrypted (safe at rest)
//   spool/         attachments being encrypted for upload (0600, removed after)
//   log/HUBID/     the directory log this client verified (entries.bin,
//                  head.bin) and the last audit row an admin saw
//                  (audit.anchor); see client/verified_log.hpp
//
// The directory is created with mode 0700.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace focal::client {

struct ProfileSettings {
  std::string hub;  // host:port
  std::string ca;   // path to the hub certificate / CA (the pin)
  std::string key;  // path to the member's key file
};

class Profile {
 public:
  // $FOCAL_HOME, else $HOME/.focal.
  static std::filesystem::path defaultDir();
  // Creates the directory (0700) if needed. Throws std::runtime_error.
  explicit Profile(std::filesystem::path dir);

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path cacheDir() const { return dir_ / "cache"; }
  std::filesystem::path spoolDir() const;  // created on demand, 0700

  // Missing file: empty settings. Damaged file: std::runtime_error.
  ProfileSettings settings() const;
  void saveSettings(const ProfileSettings& s) const;

  std::uint64_t lastSeq() const;
  void setLastSeq(std::uint64_t seq) const;

 private:
  std::filesystem::path dir_;
};

// Splits "host:port" (also "[v6]:port"). nullopt if malformed.
std::optional<std::pair<std::string, std::uint16_t>> parseHostPort(std::string_view text);

// Writes a file atomically (temp + rename) with the given mode.
void writeFileAtomic(const std::filesystem::path& path, std::string_view data, unsigned mode);

}  // namespace focal::client

// The local profile directory (default $FOCAL_HOME, else ~/.focal):
//
//   profile.toml   hub = "host:port", ca = "...", key = "...",
//                  head-max-age = "24h", hub-key = "NNNNN x 6",
//                  archive-keep = "red=30d" (optional)
//   hub-ca.pem     the hub's certificate, when `focal profile init` copied it
//   members/ID/    one member's state, so one profile serves every key file
//                  used with it (an admin who is also a point of contact,
//                  two members on one machine):
//     cache/       bulletins it received or sent, still encrypted (safe at
//                  rest), with their forward / retraction / own-copy records
//     state.toml   last-seq = N (highest queue position fetched)
//     archive.bin  the local archive (history, search), sealed to the
//                  member's key: client/archive_file.hpp; archive.bin.ids
//                  beside it lists the archived ids (client/archive.hpp)
//     keys.toml    the key files this profile saw for the member, with their
//                  public keys only (to name the file that holds the
//                  current key when another one is stale)
//   spool/         attachments being encrypted for upload (0600, removed after)
//   log/HUBID/     the directory log this client verified (entries.bin,
//                  head.bin) and the last audit row an admin saw
//                  (audit.anchor); see client/verified_log.hpp. Kept per hub,
//                  not per member: it is the same public, verified log for
//                  every member, and each member's keys are looked up in it.
//   legacy/        cache/ and state.toml of a profile written before the
//                  per-member layout, moved here on first use; each member
//                  takes its share of it the first time it uses the profile
//                  (see Profile::memberDir).
//
// The directory is created with mode 0700.
#pragma once

#include "crypto/secure_file.hpp"
#include "crypto/types.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace focal::client {

struct ProfileSettings {
  std::string hub;  // host:port
  std::string ca;   // path to the hub certificate / CA (the pin)
  std::string key;  // path to the member's key file
  // head-max-age: how old the newest verified log head may be before the
  // client refuses to seal ("24h", "3d"; empty = the default, 24 h;
  // client/head_freshness.hpp).
  std::string headMaxAge;
  // hub-key: the hub key fingerprint `focald init` printed (30 digits in
  // six groups); every connection refuses a hub that presents another key
  // (exit 3) before it signs anything. Empty: not pinned.
  std::string hubKey;
  // archive-keep: how long the local archive keeps bodies, per TLP
  // ("red=30d,amber=90d"; client/archive.hpp). Empty: forever.
  std::string archiveKeep;
};

// A hub key fingerprint as a person may type it ("12345 67890 ...", with
// or without spaces) in the canonical form crypto::fingerprint prints;
// nullopt unless it is exactly 30 digits.
std::optional<std::string> canonicalFingerprint(std::string_view text);

class Profile {
 public:
  // $FOCAL_HOME, else $HOME/.focal.
  static std::filesystem::path defaultDir();
  // Creates the directory (0700) if needed. Throws std::runtime_error.
  explicit Profile(std::filesystem::path dir);

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path spoolDir() const;  // created on demand, 0700

  // Missing file: empty settings. Damaged file: std::runtime_error.
  ProfileSettings settings() const;
  void saveSettings(const ProfileSettings& s) const;

  // members/ID, created (0700) on first use. The first time, it takes its
  // share of a pre-member profile's state (legacy/, moved there from the
  // top level): every cached bulletin the member sent or is a recipient of
  // (by the unverified header; each file is verified again when used), the
  // own-copy records of bulletins it sent, the forward records addressed to
  // it, retractions of bulletins it keeps. With `claimLegacySeq` (on any
  // call) it takes the old last-seq if it has none (only one member can). The share is copied into a
  // temporary directory and renamed into place, so an interrupted or
  // concurrent first use never leaves half a cache. std::runtime_error if
  // the id is not a member id ([a-z0-9][a-z0-9.-]{1,62}) or on I/O failure.
  std::filesystem::path memberDir(std::string_view memberId, bool claimLegacySeq = false) const;
  std::filesystem::path cacheDir(std::string_view memberId, bool claimLegacySeq = false) const;
  std::uint64_t lastSeq(std::string_view memberId) const;
  void setLastSeq(std::string_view memberId, std::uint64_t seq) const;
  // Members with state in this profile (sorted).
  std::vector<std::string> members() const;

  // The key files this profile has seen for a member (public keys only).
  struct KnownKeyFile {
    std::string path;  // absolute
    crypto::SigningPublicKey identity;
    crypto::BoxPublicKey encryption;
  };
  // Adds (or refreshes) a file. Best effort: an unwritable profile only
  // loses the hint, never the command.
  void rememberKeyFile(std::string_view memberId, const KnownKeyFile& file) const;
  // The newest remembered file of the member that holds exactly these keys
  // and still exists; nullopt if none.
  std::optional<std::string> keyFileWith(std::string_view memberId, const crypto::SigningPublicKey& identity,
                                         const crypto::BoxPublicKey& encryption) const;
  // Whether a key file this profile saw for the member holds exactly these
  // public keys (self-monitoring: a rotation to them is the user's own).
  bool knowsKeys(std::string_view memberId, crypto::ByteView identity, crypto::ByteView encryption) const;

 private:
  // keys.toml's rows (hex keys); empty when missing or damaged.
  struct KeyRow {
    std::string path, identity, encryption;
  };
  std::vector<KeyRow> keyRows(std::string_view memberId) const;

  std::filesystem::path dir_;
};

// Splits "host:port" (also "[v6]:port"). nullopt if malformed.
std::optional<std::pair<std::string, std::uint16_t>> parseHostPort(std::string_view text);

// Client files are written the one way crypto/secure_file.hpp describes.
using crypto::writeFileAtomic;

}  // namespace focal::client

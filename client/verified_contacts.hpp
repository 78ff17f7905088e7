// The members a point of contact verified in person (`focal verify`, issue
// 20), like Signal's "verified" safety numbers: kept per member of the
// profile in members/ID/verified.json as member id -> the fingerprint of
// the identity key that was verified. When that member's key later
// changes, inbox, read, listen and directory flag it until it is verified
// again.
//
// A missing file means nobody is verified; a damaged one reads as empty
// with a warning (the user re-verifies; nothing is ever sent on its word).
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>

namespace focal::client {

enum class ContactStanding { Unverified, Verified, KeyChanged };
// "unverified", "verified", "key-changed" (docs/json.md).
const char* standingName(ContactStanding s);

inline constexpr std::size_t MaxVerifiedContactsBytes = 1024 * 1024;

class VerifiedContacts {
 public:
  static VerifiedContacts load(const std::filesystem::path& file);
  // The standing of `memberId` whose identity key has `fingerprint` now.
  ContactStanding standing(const std::string& memberId, const std::string& fingerprint) const;
  // Records `fingerprint` as verified for `memberId` and saves (0600, atomic).
  void markVerified(const std::string& memberId, const std::string& fingerprint);
  const std::string& warning() const { return warning_; }

 private:
  std::filesystem::path file_;
  std::map<std::string, std::string> verified_;  // member id -> fingerprint
  std::string warning_;
};

}  // namespace focal::client

// What each group address (state:CC, members, partners, resource-panel,
// all) resolved to at this profile's last send to it, per hub: so that
// `focal send` can show who joined, who left and whose key changed before it
// seals to a group again (issue 27; Signal's safety-number notice for a
// group). Kept in PROFILE/log/HUBID/groups.json (mode 0600, written
// atomically, at most MaxGroupMemoryBytes; a damaged file is reported and
// then replaced, never silently trusted).
#pragma once

#include "protocol/bulletin.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace focal::client {

inline constexpr std::size_t MaxGroupMemoryBytes = 4 * 1024 * 1024;

struct GroupChange {
  std::string address;
  std::int64_t previousSendMs = 0;     // when this profile last sent to it
  std::vector<std::string> joined;      // member ids
  std::vector<std::string> left;
  std::vector<std::string> keyChanged;  // same member, another encryption key
};

class GroupMemory {
 public:
  // Missing file: empty. `warning` is set when the file was damaged (it is
  // then ignored and rewritten by save()).
  static GroupMemory load(const std::filesystem::path& file);

  // The change of `address` since it was remembered; nullopt when it was
  // never sent to from this profile, or nothing changed.
  std::optional<GroupChange> compare(const std::string& address,
                                     const std::vector<protocol::RecipientKey>& now) const;
  void remember(const std::string& address, const std::vector<protocol::RecipientKey>& now, std::int64_t atMs);
  void save() const;

  const std::string& warning() const { return warning_; }

 private:
  struct Entry {
    std::int64_t atMs = 0;
    std::map<std::string, std::string> keys;  // member id -> encryption key (hex)
  };
  std::filesystem::path file_;
  std::map<std::string, Entry> groups_;
  std::string warning_;
};

}  // namespace focal::client

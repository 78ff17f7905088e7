#include "client/group_memory.hpp"

#include "crypto/secure_file.hpp"

#include <nlohmann/json.hpp>

#include <set>
#include <system_error>

namespace focal::client {

namespace fs = std::filesystem;

GroupMemory GroupMemory::load(const fs::path& file) {
  GroupMemory m;
  m.file_ = file;
  std::error_code ec;
  if (!fs::exists(file, ec)) return m;
  try {
    const auto bytes = crypto::readFileLimited(file, MaxGroupMemoryBytes);
    const auto j = nlohmann::json::parse(bytes.begin(), bytes.end());
    for (const auto& [address, entry] : j.at("groups").items()) {
      Entry e;
      e.atMs = entry.at("sent_at_ms").get<std::int64_t>();
      for (const auto& [id, key] : entry.at("keys").items()) e.keys[id] = key.get<std::string>();
      m.groups_[address] = std::move(e);
    }
  } catch (const std::exception& e) {
    m.groups_.clear();
    m.warning_ = file.string() + " is damaged (" + e.what() +
                 "): the changes of group addresses since your last send cannot be shown this time";
  }
  return m;
}

std::optional<GroupChange> GroupMemory::compare(const std::string& address,
                                                const std::vector<protocol::RecipientKey>& now) const {
  const auto it = groups_.find(address);
  if (it == groups_.end()) return std::nullopt;
  GroupChange change;
  change.address = address;
  change.previousSendMs = it->second.atMs;
  std::set<std::string> seen;
  for (const auto& r : now) {
    seen.insert(r.memberId);
    const auto before = it->second.keys.find(r.memberId);
    if (before == it->second.keys.end()) {
      change.joined.push_back(r.memberId);
    } else if (before->second != crypto::toHex(r.encryptionKey)) {
      change.keyChanged.push_back(r.memberId);
    }
  }
  for (const auto& [id, key] : it->second.keys) {
    if (!seen.contains(id)) change.left.push_back(id);
  }
  if (change.joined.empty() && change.left.empty() && change.keyChanged.empty()) return std::nullopt;
  return change;
}

void GroupMemory::remember(const std::string& address, const std::vector<protocol::RecipientKey>& now,
                           std::int64_t atMs) {
  Entry e;
  e.atMs = atMs;
  for (const auto& r : now) e.keys[r.memberId] = crypto::toHex(r.encryptionKey);
  groups_[address] = std::move(e);
}

void GroupMemory::save() const {
  nlohmann::json groups = nlohmann::json::object();
  for (const auto& [address, e] : groups_) {
    groups[address] = {{"sent_at_ms", e.atMs}, {"keys", e.keys}};
  }
  const std::string text = nlohmann::json{{"version", 1}, {"groups", groups}}.dump(1);
  if (text.size() > MaxGroupMemoryBytes) return;  // thousands of groups: not remembered, never cut
  crypto::writeFileAtomic(file_, text, 0600);
}

}  // namespace focal::client

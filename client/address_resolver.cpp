#include "client/address_resolver.hpp"

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>

namespace focal::client {

std::vector<std::string> splitList(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    auto part = text.substr(start, end - start);
    while (!part.empty() && std::isspace(static_cast<unsigned char>(part.front()))) part.remove_prefix(1);
    while (!part.empty() && std::isspace(static_cast<unsigned char>(part.back()))) part.remove_suffix(1);
    if (!part.empty()) out.emplace_back(part);
    start = end + 1;
  }
  return out;
}

Expected<std::vector<protocol::RecipientKey>, std::string> resolveAddresses(const KeyDirectory& directory,
                                                                           std::span<const std::string> addresses,
                                                                           std::string_view senderId) {
  using Result = Expected<std::vector<protocol::RecipientKey>, std::string>;
  std::map<std::string, crypto::BoxPublicKey> chosen;
  auto group = [&](const std::string& address, const std::function<bool(const MemberRecord&)>& in) -> bool {
    bool any = false;
    for (const auto& m : directory.members()) {
      if (!m.usable() || !in(m)) continue;
      any = true;
      if (m.id != senderId) chosen.emplace(m.id, m.encryptionKey);
    }
    return any;
  };
  for (const auto& address : addresses) {
    if (address.rfind("state:", 0) == 0) {
      std::string cc = address.substr(6);
      std::transform(cc.begin(), cc.end(), cc.begin(), [](unsigned char c) { return std::toupper(c); });
      if (cc.size() != 2 || !std::isalpha(static_cast<unsigned char>(cc[0])) ||
          !std::isalpha(static_cast<unsigned char>(cc[1]))) {
        return Result(unexpected("address '" + address + "': a member state is two letters, e.g. state:SG"));
      }
      if (!group(address, [&](const MemberRecord& m) { return m.state == cc; })) {
        return Result(unexpected("address '" + address + "': no active member of state " + cc));
      }
    } else if (address == "members") {
      if (!group(address, [](const MemberRecord& m) { return !m.state.empty(); })) {
        return Result(unexpected(std::string("address 'members': no active member-state point of contact")));
      }
    } else if (address == "partners") {
      if (!group(address, [](const MemberRecord& m) { return m.institution == wire::Institution::DIALOGUE_PARTNER; })) {
        return Result(unexpected(std::string("address 'partners': no active dialogue partner")));
      }
    } else if (address == "resource-panel") {
      if (!group(address, [](const MemberRecord& m) { return m.institution == wire::Institution::RESOURCE_PANEL; })) {
        return Result(unexpected(std::string("address 'resource-panel': no active resource-panel member")));
      }
    } else if (address == "all") {
      if (!group(address, [](const MemberRecord&) { return true; })) {
        return Result(unexpected(std::string("address 'all': the directory has no active member")));
      }
    } else {
      const MemberRecord* m = directory.find(address);
      if (m == nullptr) return Result(unexpected("unknown recipient '" + address + "'"));
      if (!m->active) return Result(unexpected("recipient '" + address + "' is revoked"));
      if (!m->usable()) {
        return Result(unexpected("recipient '" + address + "' has no valid encryption key certificate"));
      }
      chosen.emplace(m->id, m->encryptionKey);  // named explicitly: even the sender
    }
  }
  if (chosen.empty()) return Result(unexpected(std::string("no recipients: the addresses name nobody but you")));
  std::vector<protocol::RecipientKey> out;
  out.reserve(chosen.size());
  for (auto& [id, key] : chosen) out.push_back(protocol::RecipientKey{id, key});
  return out;
}

}  // namespace focal::client

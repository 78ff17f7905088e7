#include "client/address_resolver.hpp"

#include "protocol/distribution.hpp"

#include <algorithm>
#include <cctype>

namespace focal::client {

namespace {

// The members this client may seal for: active, with a verified key certificate.
class UsableMembers final : public protocol::MemberSource {
 public:
  explicit UsableMembers(const KeyDirectory& dir) : dir_(dir) {}
  static protocol::MemberView viewOfMember(const MemberRecord& m) {
    return protocol::MemberView{m.id, m.state, m.institution, m.holdsRole(wire::WorkingGroupRole::SOMTC_FOCAL_POINT),
                                m.meetings};
  }
  void forEach(const std::function<void(const protocol::MemberView&)>& f) const override {
    for (const auto& m : dir_.members()) {
      if (m.usable()) f(viewOfMember(m));
    }
  }
  std::optional<protocol::MemberView> find(std::string_view id) const override {
    const MemberRecord* m = dir_.find(id);
    if (m == nullptr || !m->usable()) return std::nullopt;
    return viewOfMember(*m);
  }

 private:
  const KeyDirectory& dir_;
};

}  // namespace

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

Expected<std::vector<std::string>, std::string> canonicalAddresses(std::span<const std::string> typed) {
  using Result = Expected<std::vector<std::string>, std::string>;
  std::vector<std::string> out;
  for (const auto& t : typed) {
    auto c = protocol::canonicalAddress(t);
    if (!protocol::parseAddress(c)) {
      if (c.rfind("state:", 0) == 0) {
        return Result(unexpected("address '" + t + "': a member state is two letters, e.g. state:SG"));
      }
      return Result(unexpected("address '" + t +
                               "' is not a member id, state:CC, members, partners, resource-panel, all or somtc-focal-points"));
    }
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(std::move(c));
  }
  return out;
}

Expected<std::vector<protocol::RecipientKey>, std::string> resolveAddresses(
    const KeyDirectory& directory, std::span<const std::string> addresses, std::string_view senderId,
    const std::optional<crypto::BulletinId>& meetingId) {
  using Result = Expected<std::vector<protocol::RecipientKey>, std::string>;
  auto canonical = canonicalAddresses(addresses);
  if (!canonical) return Result(unexpected(canonical.error()));
  std::vector<protocol::Address> parsed;
  for (const auto& a : *canonical) parsed.push_back(*protocol::parseAddress(a));

  auto r = protocol::resolve(UsableMembers(directory), parsed, senderId);
  for (auto i : r.unknown) {
    const auto& id = parsed[i].value;
    const MemberRecord* m = directory.find(id);
    if (m == nullptr) return Result(unexpected("unknown recipient '" + id + "'"));
    if (!m->active) return Result(unexpected("recipient '" + id + "' is revoked"));
    return Result(unexpected("recipient '" + id + "' has no valid encryption key certificate"));
  }
  for (auto i : r.empty) {
    const auto& a = parsed[i];
    switch (a.kind) {
      case protocol::AddressKind::State:
        return Result(unexpected("address 'state:" + a.value + "': no active member of state " + a.value));
      case protocol::AddressKind::Members:
        return Result(unexpected(std::string("address 'members': no active member-state point of contact")));
      case protocol::AddressKind::Partners:
        return Result(unexpected(std::string("address 'partners': no active dialogue partner")));
      case protocol::AddressKind::ResourcePanel:
        return Result(unexpected(std::string("address 'resource-panel': no active resource-panel member")));
      default:
        return Result(unexpected(std::string("address 'all': the directory has no active member")));
    }
  }
  if (r.reached.empty()) return Result(unexpected(std::string("no recipients: the addresses name nobody but you")));
  if (auto refusal = protocol::checkMeetingLimit(r, meetingId)) return Result(unexpected(std::move(*refusal)));
  std::vector<protocol::RecipientKey> out;
  out.reserve(r.reached.size());
  for (const auto& [id, reached] : r.reached) out.push_back(protocol::RecipientKey{id, directory.find(id)->encryptionKey});
  return out;
}

}  // namespace focal::client

#include "protocol/distribution.hpp"

#include "protocol/limits.hpp"
#include "protocol/meeting.hpp"
#include "protocol/names.hpp"

#include <algorithm>
#include <cctype>

namespace focal::protocol {

namespace {

bool isPartnerOrPanel(wire::Institution i) {
  return i == wire::Institution::DIALOGUE_PARTNER || i == wire::Institution::RESOURCE_PANEL;
}

// Not named `quoted`: for a std::string argument, argument-dependent lookup
// would find std::quoted (from <iomanip>, once any header includes it).
std::string singleQuoted(std::string_view s) { return "'" + std::string(s) + "'"; }

}  // namespace

bool isMemberIdSyntax(std::string_view id) {
  if (id.size() < 2 || id.size() > MaxMemberIdBytes) return false;
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(id[0])) return false;
  return std::all_of(id.begin() + 1, id.end(), [&](char c) { return alnum(c) || c == '.' || c == '-'; });
}

bool isGroupAddressWord(std::string_view text) {
  return text == "members" || text == "partners" || text == "resource-panel" || text == "all" ||
         text == "somtc-focal-points";
}

bool isRegistrableMemberId(std::string_view id) { return isMemberIdSyntax(id) && !isGroupAddressWord(id); }

std::optional<Address> parseAddress(std::string_view text) {
  if (text == "members") return Address{AddressKind::Members, ""};
  if (text == "partners") return Address{AddressKind::Partners, ""};
  if (text == "resource-panel") return Address{AddressKind::ResourcePanel, ""};
  if (text == "all") return Address{AddressKind::All, ""};
  if (text == "somtc-focal-points") return Address{AddressKind::SomtcFocalPoints, ""};
  if (text.substr(0, 6) == "state:") {
    const auto cc = text.substr(6);
    if (cc.size() == 2 && cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' && cc[1] <= 'Z') {
      return Address{AddressKind::State, std::string(cc)};
    }
    return std::nullopt;
  }
  if (isMemberIdSyntax(text)) return Address{AddressKind::Member, std::string(text)};
  return std::nullopt;
}

std::string addressText(const Address& a) {
  switch (a.kind) {
    case AddressKind::Member: return a.value;
    case AddressKind::State: return "state:" + a.value;
    case AddressKind::Members: return "members";
    case AddressKind::Partners: return "partners";
    case AddressKind::ResourcePanel: return "resource-panel";
    case AddressKind::All: return "all";
    case AddressKind::SomtcFocalPoints: return "somtc-focal-points";
  }
  return a.value;
}

std::string canonicalAddress(std::string_view typed) {
  while (!typed.empty() && std::isspace(static_cast<unsigned char>(typed.front()))) typed.remove_prefix(1);
  while (!typed.empty() && std::isspace(static_cast<unsigned char>(typed.back()))) typed.remove_suffix(1);
  std::string lower(typed);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower.rfind("state:", 0) == 0) {
    std::string cc = lower.substr(6);
    std::transform(cc.begin(), cc.end(), cc.begin(), [](unsigned char c) { return std::toupper(c); });
    return "state:" + cc;
  }
  if (isGroupAddressWord(lower)) return lower;
  return std::string(typed);  // member ids are case-sensitive: a wrong case is refused, not guessed
}

Resolution resolve(const MemberSource& members, std::span<const Address> addresses, std::string_view senderId) {
  Resolution r;
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    const Address& a = addresses[i];
    if (a.kind == AddressKind::Member) {
      auto m = members.find(a.value);
      if (!m) {
        r.unknown.push_back(i);
        continue;
      }
      auto [it, inserted] = r.reached.try_emplace(std::string(m->id), Reached{*m, true, {}});
      it->second.named = true;
      it->second.via.push_back(i);
      continue;
    }
    bool any = false;
    members.forEach([&](const MemberView& m) {
      // SECURITY: a meeting-limited panel member is never part of a group
      // (PROTOCOL.md §12.5): the member states admitted it to named
      // meetings only, not to `resource-panel` or `all` bulletins.
      if (!m.meetings.empty()) return;
      bool in = false;
      switch (a.kind) {
        case AddressKind::State: in = m.state == a.value; break;
        case AddressKind::Members: in = !m.state.empty(); break;
        case AddressKind::Partners: in = m.institution == wire::Institution::DIALOGUE_PARTNER; break;
        case AddressKind::ResourcePanel: in = m.institution == wire::Institution::RESOURCE_PANEL; break;
        case AddressKind::All: in = true; break;
        case AddressKind::SomtcFocalPoints: in = m.somtcFocalPoint; break;
        case AddressKind::Member: break;
      }
      if (!in) return;
      any = true;  // a group of only the sender is not empty, it just adds nobody
      if (m.id == senderId) return;
      auto [it, inserted] = r.reached.try_emplace(std::string(m.id), Reached{m, false, {}});
      it->second.via.push_back(i);
    });
    if (!any) r.empty.push_back(i);
  }
  return r;
}

namespace {

// "TLP:AMBER rule: ..." for a dialogue partner or resource panel member
// reached `through` a group address instead of by name.
std::string amberGroupRefusal(wire::Tlp tlp, wire::Institution institution, std::string_view memberId,
                              const std::string& through) {
  return std::string("TLP:") + tlpName(tlp) + " rule: " + institutionName(institution) + " member " +
         singleQuoted(memberId) + " may receive " + tlpName(tlp) + " only when named individually, but was reached through " +
         through;
}

// The originator's rules on a bulletin's addresses, for a first send and
// the originator's forward alike: CLEAR and GREEN reach anyone; AMBER and
// AMBER+STRICT reach a partner or panel member only by name (`amberRule`
// says whether one was reached otherwise); RED names no group address.
template <class AmberRule>
std::optional<std::string> originatorRule(wire::Tlp tlp, std::span<const Address> addresses, AmberRule amberRule) {
  switch (tlp) {
    case wire::Tlp::CLEAR:
    case wire::Tlp::GREEN:
      return std::nullopt;
    case wire::Tlp::AMBER:
    case wire::Tlp::AMBER_STRICT:
      return amberRule();
    case wire::Tlp::RED:
      for (const auto& a : addresses) {
        if (!a.isGroup()) continue;
        return "TLP:RED rule: only individually named members may receive RED; " + singleQuoted(addressText(a)) +
               " is a group address";
      }
      return std::nullopt;
    case wire::Tlp::UNSET:
      break;
  }
  return std::string("TLP rule: the bulletin has no TLP label");
}

}  // namespace

std::optional<std::string> checkMeetingLimit(const Resolution& resolution,
                                             const std::optional<crypto::BulletinId>& meetingId) {
  for (const auto& [id, reached] : resolution.reached) {
    const auto& meetings = reached.member.meetings;
    if (meetings.empty()) continue;
    if (meetingId && std::binary_search(meetings.begin(), meetings.end(), *meetingId)) continue;
    return "meeting limit rule: resource-panel member " + singleQuoted(id) + " is admitted only to " +
           meetingListText(meetings) + "; it receives only papers bound to " +
           (meetings.size() == 1 ? "it" : "one of them") +
           (meetingId ? ", not a bulletin of meeting " + crypto::toHex(meetingId->view())
                      : ", not a bulletin bound to no meeting");
  }
  return std::nullopt;
}

std::optional<std::string> checkFirstSend(wire::Tlp tlp, std::span<const Address> addresses,
                                          const Resolution& resolution) {
  return originatorRule(tlp, addresses, [&]() -> std::optional<std::string> {
    for (const auto& [id, reached] : resolution.reached) {
      if (!isPartnerOrPanel(reached.member.institution) || reached.named) continue;
      return amberGroupRefusal(tlp, reached.member.institution, id,
                               "the group address " + singleQuoted(addressText(addresses[reached.via.front()])));
    }
    return std::nullopt;
  });
}

std::optional<std::string> checkOriginatorForward(wire::Tlp tlp, std::span<const Address> addresses,
                                                  const MemberView& recipient) {
  bool named = false;
  for (const auto& a : addresses) named = named || (!a.isGroup() && a.value == recipient.id);
  auto refused = originatorRule(tlp, addresses, [&]() -> std::optional<std::string> {
    if (!isPartnerOrPanel(recipient.institution) || named) return std::nullopt;
    return amberGroupRefusal(tlp, recipient.institution, recipient.id, "a group address");
  });
  // RED also needs the recipient named (a forward reaches one member).
  if (refused || tlp != wire::Tlp::RED || named) return refused;
  return "TLP:RED rule: only individually named members may receive RED; " + singleQuoted(recipient.id) + " is not named";
}

std::optional<std::string> checkForward(wire::Tlp tlp, const MemberView& forwarder, const MemberView& recipient) {
  switch (tlp) {
    case wire::Tlp::CLEAR:
    case wire::Tlp::GREEN:
      return std::nullopt;
    case wire::Tlp::AMBER:
      if (!forwarder.state.empty() && recipient.state == forwarder.state) return std::nullopt;
      return "TLP:AMBER forwarding rule: a recipient may forward AMBER only to points of contact of its own member "
             "state" +
             (forwarder.state.empty() ? std::string(" (the forwarder " + singleQuoted(forwarder.id) + " has none)")
                                      : std::string(" (" + std::string(forwarder.state) + ")")) +
             "; " + singleQuoted(recipient.id) + " is not one";
    case wire::Tlp::AMBER_STRICT:
      if (!forwarder.state.empty() && recipient.state == forwarder.state &&
          recipient.institution == forwarder.institution) {
        return std::nullopt;
      }
      return "TLP:AMBER+STRICT forwarding rule: a recipient may forward AMBER+STRICT only within its own institution (" +
             (forwarder.state.empty() ? std::string("none") : std::string(forwarder.state)) + " " +
             institutionName(forwarder.institution) + "); " + singleQuoted(recipient.id) + " is " +
             (recipient.state.empty() ? std::string("without member state") : std::string(recipient.state)) + " " +
             institutionName(recipient.institution);
    case wire::Tlp::RED:
      return "TLP:RED forwarding rule: RED may not be forwarded to anyone (refused for " + singleQuoted(recipient.id) + ")";
    case wire::Tlp::UNSET:
      break;
  }
  return std::string("TLP rule: the bulletin has no TLP label");
}

}  // namespace focal::protocol

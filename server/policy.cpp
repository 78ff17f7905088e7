#include "server/policy.hpp"

#include "protocol/iso3166.hpp"
#include "protocol/limits.hpp"
#include "protocol/message.hpp"

#include <algorithm>

namespace focal::server {

using protocol::view;
using wire::ErrorCode;

protocol::MemberView viewOf(const MemberRecord& m) {
  return {m.id, m.state, m.institution, m.holdsRole(wire::WorkingGroupRole::SOMTC_FOCAL_POINT), m.meetings};
}

void DirectoryMembers::forEach(const std::function<void(const protocol::MemberView&)>& f) const {
  for (const auto& [id, m] : dir_.members()) {
    if (m.active()) f(viewOf(m));
  }
}

std::optional<protocol::MemberView> DirectoryMembers::find(std::string_view id) const {
  const MemberRecord* m = dir_.find(id);
  if (m == nullptr || !m->active()) return std::nullopt;
  return viewOf(*m);
}

Result<Ok> checkMarkings(wire::BulletinHeader::Reader h) {
  const auto handling = static_cast<std::uint16_t>(h.getHandling());
  if (handling > static_cast<std::uint16_t>(wire::Handling::H3)) {
    return fail(ErrorCode::INVALID_REQUEST, "unknown handling code " + std::to_string(handling));
  }
  const auto text = view(h.getHandlingText());
  if (h.getHandling() == wire::Handling::H3 && text.empty()) {
    return fail(ErrorCode::INVALID_REQUEST, "handling code H3 requires handlingText (the other restrictions)");
  }
  if (h.getHandling() != wire::Handling::H3 && !text.empty()) {
    return fail(ErrorCode::INVALID_REQUEST, "handlingText is only for handling code H3");
  }
  // Each field named on its own, so the sender knows which one to shorten.
  if (text.size() > protocol::MaxTextFieldBytes) {
    return fail(ErrorCode::INVALID_REQUEST, "handlingText is limited to " + std::to_string(protocol::MaxTextFieldBytes) +
                                                " bytes (this one has " + std::to_string(text.size()) + ")");
  }
  if (h.getCaseRef().size() > protocol::MaxTextFieldBytes) {
    return fail(ErrorCode::INVALID_REQUEST, "caseRef is limited to " + std::to_string(protocol::MaxTextFieldBytes) +
                                                " bytes (this one has " + std::to_string(h.getCaseRef().size()) + ")");
  }
  // SECURITY: both are shown in every recipient's banner; single-line text
  // (PROTOCOL.md §3, "Text fields"). The decoder already refused NUL and invalid UTF-8.
  if (auto p = protocol::checkSingleLineText(view(h.getCaseRef())); p != protocol::TextProblem::None) {
    return fail(ErrorCode::INVALID_REQUEST, std::string("caseRef ") + protocol::describe(p));
  }
  if (auto p = protocol::checkSingleLineText(text); p != protocol::TextProblem::None) {
    return fail(ErrorCode::INVALID_REQUEST, std::string("handlingText ") + protocol::describe(p));
  }
  const auto source = static_cast<std::uint16_t>(h.getSourceReliability());
  if (source > static_cast<std::uint16_t>(wire::SourceReliability::X)) {
    return fail(ErrorCode::INVALID_REQUEST, "unknown source reliability " + std::to_string(source));
  }
  if (h.getInfoAccuracy() > 4) return fail(ErrorCode::INVALID_REQUEST, "information accuracy is 1 to 4 (0 = not evaluated)");
  if ((source == 0) != (h.getInfoAccuracy() == 0)) {
    return fail(ErrorCode::INVALID_REQUEST,
                "an evaluation has both parts: source reliability (A/B/C/X) and information accuracy (1-4)");
  }
  if (static_cast<std::uint16_t>(h.getPriority()) > static_cast<std::uint16_t>(wire::Priority::URGENT)) {
    return fail(ErrorCode::INVALID_REQUEST, "unknown priority");
  }
  return Ok{};
}

namespace {

Result<Ok> parseAddresses(const Directory& dir, capnp::List<capnp::Text>::Reader addresses,
                          std::vector<protocol::Address>& parsed) {
  if (addresses.size() == 0) return fail(ErrorCode::INVALID_REQUEST, "no addresses: say whom it is for");
  if (addresses.size() > protocol::MaxAddresses) return fail(ErrorCode::TOO_LARGE, "too many addresses");
  parsed.clear();
  for (auto a : addresses) {
    if (auto bad = protocol::checkSingleLineText(view(a)); bad != protocol::TextProblem::None) {
      return fail(ErrorCode::INVALID_REQUEST, std::string("addresses: an address ") + protocol::describe(bad));
    }
    auto p = protocol::parseAddress(view(a));
    if (!p) {
      // Quoted back to the sender: single-line text, cut on a character
      // boundary so the error frame stays valid UTF-8.
      return fail(ErrorCode::INVALID_REQUEST,
                  "address '" + std::string(protocol::utf8Prefix(view(a), 64)) +
                      "' is not a member id, state:CC, members, partners, resource-panel or all");
    }
    if (p->kind == protocol::AddressKind::Member) {
      const MemberRecord* m = dir.find(p->value);
      if (m == nullptr) return fail(ErrorCode::UNKNOWN_RECIPIENT, "unknown recipient " + p->value);
      if (!m->active()) return fail(ErrorCode::REVOKED_KEY, "recipient " + p->value + " is revoked");
    }
    parsed.push_back(std::move(*p));
  }
  return Ok{};
}

Result<Ok> compareRecipients(const protocol::Resolution& resolution, const std::vector<std::string_view>& recipientIds) {
  std::vector<std::string> missing, extra;
  for (const auto& [id, r] : resolution.reached) {
    if (!std::binary_search(recipientIds.begin(), recipientIds.end(), std::string_view(id))) missing.push_back(id);
  }
  for (auto id : recipientIds) {
    if (resolution.reached.find(id) == resolution.reached.end()) extra.emplace_back(id);
  }
  if (missing.empty() && extra.empty()) return Ok{};
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size() && i < 16; ++i) s += (i ? ", " : "") + v[i];
    if (v.size() > 16) s += ", ... (" + std::to_string(v.size()) + " in all)";
    return s;
  };
  std::string msg = "the recipients do not match what the directory gives for the addresses now";
  if (!missing.empty()) msg += "; addressed but missing: " + list(missing);
  if (!extra.empty()) msg += "; listed but not addressed: " + list(extra);
  return fail(ErrorCode::POLICY_DENIED, msg);
}

}  // namespace

Result<protocol::Resolution> matchAddresses(const Directory& dir, std::string_view authorId,
                                            capnp::List<capnp::Text>::Reader addresses,
                                            const std::vector<std::string_view>& recipientIds,
                                            std::vector<protocol::Address>& parsed) {
  if (auto ok = parseAddresses(dir, addresses, parsed); !ok) return fail(ok.error());
  auto resolution = protocol::resolve(DirectoryMembers(dir), parsed, authorId);
  if (auto ok = compareRecipients(resolution, recipientIds); !ok) return fail(ok.error());
  return resolution;
}

Result<Ok> checkDistribution(const Directory& dir, std::string_view senderId, wire::BulletinHeader::Reader h) {
  std::vector<std::string_view> ids;  // header recipients are strictly sorted (verifyHeader)
  ids.reserve(h.getRecipients().size());
  for (auto r : h.getRecipients()) ids.push_back(view(r.getMemberId()));
  std::vector<protocol::Address> parsed;
  if (auto ok = parseAddresses(dir, h.getAddresses(), parsed); !ok) return fail(ok.error());
  const auto resolution = protocol::resolve(DirectoryMembers(dir), parsed, senderId);
  // The TLP rule first: "RED may only be addressed to individual members"
  // tells the sender what to change; a recipient-list mismatch would not.
  if (auto refusal = protocol::checkFirstSend(h.getTlp(), parsed, resolution)) {
    return fail(ErrorCode::POLICY_DENIED, *refusal);
  }
  // A meeting-limited panel member, named, only in a paper of its meetings
  // (PROTOCOL.md §12.5; groups never reach it).
  if (auto refusal = protocol::checkMeetingLimit(resolution, crypto::BulletinId::fromBytes(view(h.getMeetingId())))) {
    return fail(ErrorCode::POLICY_DENIED, *refusal);
  }
  return compareRecipients(resolution, ids);
}

Result<NewBulletin::Recipient> checkRecipient(const Directory& dir, std::string_view memberId,
                                              const std::optional<crypto::BoxPublicKey>& key) {
  const MemberRecord* m = dir.find(memberId);
  if (m == nullptr) return fail(ErrorCode::UNKNOWN_RECIPIENT, "unknown recipient " + std::string(memberId));
  if (!m->active()) return fail(ErrorCode::REVOKED_KEY, "recipient " + m->id + " is revoked");
  if (!key || !(*key == m->encryptionKey)) return fail(ErrorCode::POLICY_DENIED, "stale key for " + m->id);
  return NewBulletin::Recipient{m->id, *key};
}

Result<Ok> checkClockSkew(std::int64_t atMs, std::int64_t nowMs, const char* field) {
  const std::int64_t skew = atMs - nowMs;
  if (skew > protocol::MaxClockSkewMs || skew < -protocol::MaxClockSkewMs) {
    return fail(ErrorCode::STALE_TIMESTAMP, std::string(field) + " is more than " +
                                                std::to_string(protocol::MaxClockSkewMs / 60000) +
                                                " minutes from the hub's clock");
  }
  return Ok{};
}

Result<Ok> checkNewMemberState(const std::vector<std::string>& memberStates, std::string_view state) {
  if (state.empty()) return Ok{};
  if (!protocol::isIso3166Alpha2(state)) {
    return fail(wire::ErrorCode::INVALID_REQUEST,
                "member state '" + std::string(state) + "' is not an ISO 3166-1 alpha-2 code in upper case");
  }
  const auto& states = memberStates;
  if (std::find(states.begin(), states.end(), state) == states.end()) {
    std::string list;
    for (const auto& s : states) list += (list.empty() ? "" : ", ") + s;
    return fail(wire::ErrorCode::POLICY_DENIED,
                "member state " + std::string(state) + " (" + std::string(protocol::iso3166Name(state)) +
                    ") is not one of this hub's member states (" + list +
                    "); the hub operator adds it to [working_group] member_states in focal.toml");
  }
  return Ok{};
}

}  // namespace focal::server

// Who a bulletin may reach: addresses and the TLP 2.0 rules of DESIGN.md §8,
// as pure functions shared by the hub (which enforces them) and the client
// (which resolves addresses before sealing and re-checks forwards it
// receives). One implementation, so the two sides cannot drift apart.
//
// Addresses (canonical spelling; the hub refuses any other):
//   <member-id>       that member, even the sender if it names itself
//   state:CC          every active member whose member state is CC (upper case)
//   members           every active member with a member state
//   partners          every active dialogue partner
//   resource-panel    every active resource-panel member
//   all               every active member
//   somtc-focal-points every active member the log makes a SOMTC focal
//                     point (one per member state, PROTOCOL.md §12.7)
// Group addresses never include the sender, nor a resource-panel member
// whose admission limits it to named meetings (PROTOCOL.md §12.5): such a
// member is reached only by its id, and only by a bulletin bound to one of
// its meetings (checkMeetingLimit).
//
// TLP, first send (checkFirstSend):
//   CLEAR, GREEN        any address
//   AMBER, AMBER+STRICT any address, but a dialogue partner or resource-panel
//                       member must be named individually (its member id)
//   RED                 member ids only, no group address
// TLP, forwarding by the bulletin's own sender, its originator
// (checkOriginatorForward): the first-send rule again, for the forward's
// addresses: the originator decides who receives its information, within
// the rules it would have met sending it to them in the first place.
// TLP, forwarding by a recipient (checkForward):
//   CLEAR, GREEN        anyone in the community (every member)
//   AMBER               points of contact of the forwarder's own member state
//   AMBER+STRICT        points of contact of the forwarder's own institution
//                       (same member state and institution kind)
//   RED                 nobody
// Every refusal is a sentence that names the rule and the recipient or
// address it refuses.
#pragma once

#include "crypto/types.hpp"
#include "protocol/focal.capnp.h"

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace focal::protocol {

// What the rules need to know of a member. Views into the caller's
// directory: valid while it is.
struct MemberView {
  std::string_view id;
  std::string_view state;  // "" for partners and the panel
  wire::Institution institution = wire::Institution::UNSET;
  bool somtcFocalPoint = false;  // holds the somtc-focal-point role in the log
  // The meetings its admission limits it to (ascending); empty: not limited.
  std::span<const crypto::BulletinId> meetings{};
};

enum class AddressKind { Member, State, Members, Partners, ResourcePanel, All, SomtcFocalPoints };

struct Address {
  AddressKind kind = AddressKind::Member;
  std::string value;  // the member id, or the state code for State
  bool isGroup() const { return kind != AddressKind::Member; }
};

// Canonical syntax only; nullopt otherwise.
std::optional<Address> parseAddress(std::string_view text);
// The member-id syntax of the address grammar (MemberInfo.id in the schema):
// [a-z0-9][a-z0-9.-]{1,62}. ASCII letters, digits, '.' and '-' only, so no
// control, bidi or look-alike character can be part of a member id.
[[nodiscard]] bool isMemberIdSyntax(std::string_view id);
// A word of the address grammar that the member-id syntax would also
// accept: members, partners, resource-panel, all, somtc-focal-points. ("state:CC" has a ':'.)
// No member may hold one as its id: an address naming it means the group.
[[nodiscard]] bool isGroupAddressWord(std::string_view text);
// An id a member may be registered under (and `focal keygen` creates a
// key for): the member-id syntax and not a group word.
[[nodiscard]] bool isRegistrableMemberId(std::string_view id);
// The canonical text of an address (inverse of parseAddress).
std::string addressText(const Address& a);
// What a user typed, in canonical spelling: trimmed, "State:sg" -> "state:SG",
// group words lower-cased. Does not validate.
std::string canonicalAddress(std::string_view typed);

// The members a resolver may address (active ones, and on the client only
// those whose key certificate verifies), and lookup by id.
class MemberSource {
 public:
  virtual ~MemberSource() = default;
  virtual void forEach(const std::function<void(const MemberView&)>& f) const = 0;
  // nullptr when unknown or not addressable.
  virtual std::optional<MemberView> find(std::string_view id) const = 0;
};

struct Reached {
  MemberView member;
  bool named = false;             // reached by its own member id
  std::vector<std::size_t> via;   // indexes of the addresses that reached it
};

struct Resolution {
  std::map<std::string, Reached, std::less<>> reached;  // by member id
  std::vector<std::size_t> unknown;  // member-id addresses that name no addressable member
  std::vector<std::size_t> empty;    // group addresses with no addressable member at all
};

// Resolves parsed addresses. Never fails: the caller decides what an unknown
// member or an empty group means for it.
Resolution resolve(const MemberSource& members, std::span<const Address> addresses, std::string_view senderId);

// The meeting-limit rule (PROTOCOL.md §12.5): every reached member whose
// admission names meetings must be reached by a bulletin bound to one of
// them (`meetingId`: the header's, or for a forward the original's; nullopt
// when unbound). nullopt: allowed. Else "meeting limit rule: ..." naming the
// first such member (in member-id order) and its meetings.
std::optional<std::string> checkMeetingLimit(const Resolution& resolution,
                                             const std::optional<crypto::BulletinId>& meetingId);
// nullopt: allowed. Else the refusal, naming rule and recipient/address.
std::optional<std::string> checkFirstSend(wire::Tlp tlp, std::span<const Address> addresses,
                                          const Resolution& resolution);
std::optional<std::string> checkForward(wire::Tlp tlp, const MemberView& forwarder, const MemberView& recipient);
// A forward by the originator, as one recipient judges it: the first-send
// rule for `recipient`, reached through `addresses` (the forward record's).
std::optional<std::string> checkOriginatorForward(wire::Tlp tlp, std::span<const Address> addresses,
                                                  const MemberView& recipient);

}  // namespace focal::protocol

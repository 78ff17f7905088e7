// The working group's distribution rules as the hub enforces them on what a
// member submits: addresses resolved against the directory as it stands now,
// the TLP 2.0 table of DESIGN.md §8 (protocol/distribution.hpp), the
// law-enforcement markings, and forwarding. Pure checks over the directory;
// nothing here touches the store or the network.
//
// SECURITY: every input is attacker-controlled header or record content that
// has already been signature-checked (so it is what its author signed, not
// necessarily sensible). Each refusal is a HubError that names the rule and
// the recipient or address, never content.
#pragma once

#include "protocol/distribution.hpp"
#include "protocol/focal.capnp.h"
#include "server/directory.hpp"
#include "server/hub_error.hpp"
#include "server/store.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace focal::server {

// The directory's active members, as the address resolver sees them.
class DirectoryMembers final : public protocol::MemberSource {
 public:
  explicit DirectoryMembers(const Directory& dir) : dir_(dir) {}
  void forEach(const std::function<void(const protocol::MemberView&)>& f) const override;
  std::optional<protocol::MemberView> find(std::string_view id) const override;

 private:
  const Directory& dir_;
};

protocol::MemberView viewOf(const MemberRecord& m);

// Handling code, H3 text, evaluation, priority and text lengths.
// invalidRequest naming the field.
Result<Ok> checkMarkings(wire::BulletinHeader::Reader h);

// Resolves `addresses` for `authorId` against the directory now and checks
// that the listed recipient ids are exactly the result:
//   invalidRequest   no address, or one not in canonical syntax
//   unknownRecipient a member-id address naming nobody the directory knows
//   revokedKey       a member-id address naming a revoked member
//   policyDenied     the recipients differ: "missing: a, b; not addressed: c"
Result<protocol::Resolution> matchAddresses(const Directory& dir, std::string_view authorId,
                                            capnp::List<capnp::Text>::Reader addresses,
                                            const std::vector<std::string_view>& recipientIds,
                                            std::vector<protocol::Address>& parsedOut);

// Everything about a new bulletin's distribution, in this order: addresses
// parse and name known, active members; the TLP first-send rule holds
// (policyDenied naming the rule and the recipient); the listed recipients
// are exactly what the addresses resolve to (policyDenied naming the
// difference).
Result<Ok> checkDistribution(const Directory& dir, std::string_view senderId, wire::BulletinHeader::Reader h);

// A recipient a member names, with the encryption key it sealed to: known
// (unknownRecipient), active (revokedKey), and that key its current one
// (policyDenied "stale key"; a missing key is stale too).
Result<NewBulletin::Recipient> checkRecipient(const Directory& dir, std::string_view memberId,
                                              const std::optional<crypto::BoxPublicKey>& key);

// A time a member signed (createdAtMs, forwardedAtMs, ...) within
// protocol::MaxClockSkewMs of the hub's clock; staleTimestamp naming `field`.
Result<Ok> checkClockSkew(std::int64_t atMs, std::int64_t nowMs, const char* field);

// The edge check of a NEW member's state (registration, admission
// proposal): empty (partners, resource panel), or an ISO 3166-1 alpha-2
// code (invalidRequest otherwise) that is one of `memberStates`, focal.toml's
// [working_group] member_states (policyDenied otherwise). Entries already
// in the log are never re-judged by it (replay uses the log's syntax rule).
Result<Ok> checkNewMemberState(const std::vector<std::string>& memberStates, std::string_view state);

}  // namespace focal::server

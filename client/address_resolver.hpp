// Resolves the addresses a sender writes into the recipient keys a bulletin
// is sealed for (DESIGN.md §8). Only active members whose encryption key
// certificate verifies are ever addressed.
//
//   <member-id>       that member (even the sender, if it names itself)
//   state:CC          every active member of member state CC
//   members           every active member with a member state
//   partners          every dialogue partner
//   resource-panel    every resource-panel member
//   all               every active member
// Group addresses exclude the sender. The hub checks the result against the
// TLP policy; this only turns names into keys.
#pragma once

#include "client/key_directory.hpp"
#include "crypto/expected.hpp"
#include "protocol/bulletin.hpp"

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace focal::client {

// Sorted by member id, without duplicates. Accepts any spelling that
// canonicalAddresses accepts. Error: a human-readable reason
// naming the address (unknown member, revoked, bad certificate, empty
// group, no recipients at all, bad syntax, a meeting-limited panel member
// named outside its meetings). `meetingId`: the meeting the bulletin is
// bound to (for a forward: the original's), for the meeting-limit rule.
Expected<std::vector<protocol::RecipientKey>, std::string> resolveAddresses(
    const KeyDirectory& directory, std::span<const std::string> addresses, std::string_view senderId,
    const std::optional<crypto::BulletinId>& meetingId = std::nullopt);

// The addresses in canonical spelling (protocol::canonicalAddress), without
// repeats: what the signed header records. Error: the first one that is not
// an address.
Expected<std::vector<std::string>, std::string> canonicalAddresses(std::span<const std::string> typed);

// Splits "a,b , c" into trimmed, non-empty parts.
std::vector<std::string> splitList(std::string_view text);

}  // namespace focal::client

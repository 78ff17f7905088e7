// The enrolment bundle a profile pins (PROTOCOL.md §11.3): kept as
// PROFILE/bundle.json beside the CA it carries (PROFILE/hub-ca.pem), written
// by `focal profile init --bundle`, and checked by VerifiedLog on every
// verification of that hub's log (connect and `focal verify-log`).
//
// Pinned: the hub id, the hub key, the genesis entry hash, the witness
// policy (version-2 bundles), and the bundle's head as a floor (the log must have at least that many entries and extend
// it). Not pinned: anything after the head (freshness, split views): see
// SECURITY.md §4.1.
#pragma once

#include "client/log_verifier.hpp"
#include "protocol/enrolment_bundle.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace focal::client {

// The pinned bundle, or nullopt when the profile has none. A damaged file
// throws VerifyError: a pin that cannot be read must not silently become
// trust on first use.
std::optional<protocol::EnrolmentBundle> loadPinnedBundle(const std::filesystem::path& profileDir);

// Writes the bundle (already parsed from `text`) and its CA into the profile
// (both 0644: public). Returns the CA file written.
std::filesystem::path pinBundle(const std::filesystem::path& profileDir, const std::string& text,
                                const protocol::EnrolmentBundle& bundle);

// The pin against a log of hub `hubId` presenting `hubKey`: same hub id and
// key; the log's entry 0 (if verified) has the pinned genesis hash and
// (version 2) names the pinned witness policy; with
// `complete` (the log matched the hub's head) it reaches the bundle's head
// and extends it. The error names what differed.
Expected<Ok, std::string> checkPin(const protocol::EnrolmentBundle& pin, std::string_view hubId,
                                   const crypto::SigningPublicKey& hubKey, const LogVerifier& log, bool complete);

}  // namespace focal::client

// Admission by unanimous consensus of the member states (terms of reference
// §VI, DESIGN.md §9, PROTOCOL.md §12.5): signed Proposal and Decision
// records, and the one rule both the hub and every client apply to an
// `admission` log entry, so a hub cannot admit a member the member states
// did not approve without the client noticing.
//
// Whose consent is required: the member states that have at least one
// ACTIVE point of contact in the directory when the admission entry is
// appended (judged on the log before that entry). A point of contact of a
// member state is an active member with a state code and the
// law-enforcement or policy-security institution; admins without a state,
// the secretariat, dialogue partners and the resource panel are not.
#pragma once

#include "crypto/keyfile.hpp"
#include "protocol/records.hpp"

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace focal::protocol {

struct ConsensusMember {
  std::string state;
  wire::Institution institution = wire::Institution::UNSET;
  bool isAdmin = false;
  bool active = false;
  crypto::SigningPublicKey identityKey;
};
using ConsensusLookup = std::function<std::optional<ConsensusMember>(std::string_view memberId)>;

bool isStatePoc(const ConsensusMember& m);

// A Proposal to admit `member` (MemberInfo fields) with `keys`, by `proposer`.
struct AdmissionDraft {
  std::string memberId;
  std::string name;
  std::string state;  // empty for the resource panel and dialogue partners
  wire::Institution institution = wire::Institution::RESOURCE_PANEL;
  crypto::PublicKeys keys;
};
SignedRecordBytes makeAdmissionProposal(const AdmissionDraft& draft, const crypto::MemberKeys& proposer,
                                        std::int64_t nowMs, std::int64_t expiresAtMs);
// A Decision on the proposal whose exact bytes are `proposalBody`.
SignedRecordBytes makeDecision(ByteView proposalBody, bool approve, const crypto::MemberKeys& member, std::int64_t nowMs);

// Verifies a whole admission (proposal + approvals) against the directory
// `find` describes and the states whose consent is required, as of `atMs`
// (the entry's recordedAtMs). Checks: the proposal is signed by its
// proposer's current identity key and the proposer is an active admin; it
// is an admission; atMs <= expiresAtMs; every approval is signed by its
// member's current identity key, names this proposal (id and BLAKE2b-256 of
// its bytes), approves, and comes from an active point of contact of a
// member state; no state approves twice; and the approving states are
// exactly `required` (not empty). Error: a sentence naming what failed.
Expected<Ok, std::string> verifyAdmission(wire::LogEvent::Admission::Reader admission, std::int64_t atMs,
                                          const ConsensusLookup& find, const std::set<std::string>& required);

}  // namespace focal::protocol

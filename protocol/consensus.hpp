// Decisions by unanimous consensus of the member states (terms of reference
// §VI admission to the resource panel, §IX amendments; DESIGN.md §9,
// PROTOCOL.md §12.5): signed Proposal and Decision records, and the one rule
// both the hub and every client apply to an `admission` or `amendment` log
// entry, so a hub cannot adopt what the member states did not approve
// without the client noticing.
//
// Whose consent is required: the member states that have at least one
// ACTIVE point of contact in the directory when the admission entry is
// appended (judged on the log before that entry). A point of contact of a
// member state is an active member with a state code and the
// law-enforcement or policy-security institution; admins without a state,
// the secretariat, dialogue partners and the resource panel are not.
#pragma once

#include "crypto/key_ops.hpp"
#include "protocol/records.hpp"

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace focal::protocol {

// One identity key the log gave a member, and the hub times (recordedAtMs
// of the entries) that ended it; 0 = not replaced / not revoked.
struct KeyPeriod {
  crypto::SigningPublicKey key;
  std::int64_t replacedAtMs = 0;
  std::int64_t revokedAtMs = 0;
};

struct ConsensusMember {
  std::string state;
  wire::Institution institution = wire::Institution::UNSET;
  bool isAdmin = false;
  bool active = false;
  crypto::SigningPublicKey identityKey;  // current
  // Every identity key the log gave the member, oldest first, the current
  // one last. Empty: only `identityKey` is known (no history).
  std::vector<KeyPeriod> identityHistory;
  // Holds the chair or co-chair role (PROTOCOL.md §12.7): may propose an
  // admission (terms of reference §7), not an amendment or admin change.
  bool isChair = false;
};
using ConsensusLookup = std::function<std::optional<ConsensusMember>(std::string_view memberId)>;

// A member as the consent rule counts it.
struct StateSeat {
  std::string_view state;
  wire::Institution institution = wire::Institution::UNSET;
  bool active = false;
};
bool isStatePoc(const StateSeat& m);
bool isStatePoc(const ConsensusMember& m);

// The member states whose consent an adoption needs now: those with at
// least one active point of contact among `members`; `seatOf(member)`
// gives each as a StateSeat. The one place this is computed (the hub, the
// client's log verifier and the CLI's proposal listing all call it).
template <class Members, class SeatOf>
std::set<std::string> requiredStates(const Members& members, SeatOf seatOf) {
  std::set<std::string> out;
  for (const auto& m : members) {
    const StateSeat seat = seatOf(m);
    if (isStatePoc(seat)) out.emplace(seat.state);
  }
  return out;
}

// Was `signature` over `body` (under `context`) made by the identity key the
// member held at `atMs` (the record's own time)? Some key of its history
// must verify it and must not have been replaced or revoked before `atMs`.
// So a decision made before its author rotated its identity key still
// counts (PROTOCOL.md §12.5); one dated after the key ended does not.
bool signedWithKeyOfTheTime(const ConsensusMember& m, std::string_view context, ByteView body,
                            const crypto::Signature& signature, std::int64_t atMs);

// A proposal's common part (a fresh random id, the proposer, its times);
// the caller sets what it proposes and signs it (signRecord, context::Proposal).
wire::Proposal::Builder initProposal(capnp::MessageBuilder& m, const crypto::Keyring& proposer, std::int64_t nowMs,
                                     std::int64_t expiresAtMs);

// A Proposal to admit `member` (MemberInfo fields) with `keys`, by `proposer`.
struct AdmissionDraft {
  std::string memberId;
  std::string name;
  std::string state;  // empty for the resource panel and dialogue partners
  wire::Institution institution = wire::Institution::RESOURCE_PANEL;
  crypto::PublicKeys keys;
  // Resource panel only: the meetings the member is admitted to (any
  // order; signed sorted and unique). Empty: not limited.
  std::vector<crypto::BulletinId> meetings{};
};
SignedRecordBytes makeAdmissionProposal(const AdmissionDraft& draft, const crypto::Keyring& proposer,
                                        std::int64_t nowMs, std::int64_t expiresAtMs);
// A Proposal of an amendment (a change that needs consensus), by `proposer`.
SignedRecordBytes makeAmendmentProposal(std::string_view text, const crypto::Keyring& proposer, std::int64_t nowMs,
                                        std::int64_t expiresAtMs);
// 1..MaxAmendmentTextBytes bytes.
bool validAmendmentText(std::string_view text);
// Proposal.meetings (PROTOCOL.md §12.5): each 16 bytes, strictly
// ascending, at most MaxAdmissionMeetings, and non-empty only in the
// admission of a resource-panel member. The hub (at `propose`, where it
// also checks each meeting is stored) and every verifier of an admission,
// amendment or adminAction entry apply it. Error: a sentence.
Expected<std::vector<crypto::BulletinId>, std::string> readProposalMeetings(wire::Proposal::Reader p);
// A Decision on the proposal whose exact bytes are `proposalBody`.
SignedRecordBytes makeDecision(ByteView proposalBody, bool approve, const crypto::Keyring& member, std::int64_t nowMs);

// Verifies a whole adopted proposal (an `admission` or `amendment` entry:
// proposal + approvals) against the directory `find` describes and the
// states whose consent is required, as of `atMs` (the entry's
// recordedAtMs). `kind` is the proposal kind the entry must carry
// (ADMISSION for an `admission` entry, AMENDMENT for an `amendment`).
// Checks: the proposal is of that kind (an amendment's text 1..16384
// bytes), its id 16 bytes, its proposer an active admin, and it is signed
// by the proposer's identity key of its createdAtMs; atMs <= expiresAtMs;
// every approval is signed by its member's identity key of its
// decidedAtMs (signedWithKeyOfTheTime), names this proposal (id and
// BLAKE2b-256 of its bytes), approves, and comes from an active point of
// contact of a member state; no state approves twice; and the approving
// states are exactly `required` (not empty). Error: a sentence naming what
// failed.
Expected<Ok, std::string> verifyAdoption(wire::LogEvent::Admission::Reader outcome, wire::Proposal::Which kind,
                                         std::int64_t atMs, const ConsensusLookup& find,
                                         const std::set<std::string>& required);

}  // namespace focal::protocol

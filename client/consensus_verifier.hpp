// What the hub lists about consensus and the silence procedure, verified by
// the client against its own verified directory (HubDirectory::fetch): the
// proposals with their decisions (PROTOCOL.md §12.5) and the comments on a
// summary record (§12.4). The hub is not trusted with any of it: a listing
// that does not verify throws VerifyError (the hub lied, or served a forgery).
//
// A library API: the `focal` commands proposals / approve / reject /
// record-status are argument parsing, these calls and output. Only the
// states (ProposalListing::state, RecordStatusInfo::state) and outcome
// indexes are the hub's word; the client checks them against the log.
#pragma once

#include "client/connection.hpp"
#include "client/key_directory.hpp"
#include "crypto/key_ops.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace focal::client {

// A listed proposal after the client's own checks.
struct VerifiedProposal {
  std::string id;  // 32 hex digits
  wire::Proposal::Which kind = wire::Proposal::ADMISSION;
  std::string proposer;
  std::string member;  // admission: the member to admit
  std::string memberName;
  wire::Institution memberInstitution = wire::Institution::UNSET;
  // admission: the meetings it limits the panel member to (32 hex digits
  // each, ascending; PROTOCOL.md §12.5); empty: not limited.
  std::vector<std::string> meetings;
  std::string text;  // amendment: its text
  // admin change (PROTOCOL.md §11.7): what, and on whom (member above: the
  // member it changes).
  std::string change;         // protocol::adminChangeName
  bool forcedRotation = false;  // another member's key rotation: waits the policy's delay
  std::int64_t createdAtMs = 0;
  std::int64_t expiresAtMs = 0;
  wire::ProposalState state = wire::ProposalState::OPEN;  // as the hub lists it
  std::uint64_t outcomeIndex = 0;
  std::vector<std::pair<std::string, bool>> decisions;  // member, approve (verified)
  crypto::Bytes proposalBody;  // the signed Proposal bytes a Decision names
};

// Verifies a listing against the verified directory: the proposal under its
// admin's identity key, each decision under its member's key (both: the key
// the log gave that member at the record's own time, PROTOCOL.md §12.5) and
// naming this proposal. Throws VerifyError when it does not verify.
VerifiedProposal verifyListing(const ProposalListing& p, const HubDirectory& dir);

// Gossip beside decisions (PROTOCOL.md §11.4). decisionHead: what a
// decision on `v` carries: `conn`'s verified head signed for the proposal
// and sealed to the proposer (to the decider's own key when the directory
// no longer lists the proposer as usable, so every decision has one);
// nullopt without a verified head. checkDecisionHeads: the proposer's check
// of the heads a listing of its own open proposal carries, one verdict per
// decision (carriedHeadCheckName: "" for none); a fork is recorded and
// thrown (VerifyError).
std::optional<crypto::Bytes> decisionHead(const Connection& conn, const HubDirectory& dir, const VerifiedProposal& v,
                                          const crypto::Keyring& me);
std::vector<std::string> checkDecisionHeads(const ProposalListing& p, const VerifiedProposal& v, const HubDirectory& dir,
                                            const crypto::Keyring& me);
// checkDecisionHeads' verdicts as `--json` shows them: [{member_id, head}],
// for the decisions that carried a head.
nlohmann::json decisionHeadsJson(const VerifiedProposal& v, const std::vector<std::string>& checks);

// The proposal's id in hex, read without verifying ("" if it does not parse):
// to pick one listing out of many before verifying it.
std::string listedProposalId(const ProposalListing& p);

// The member states whose consent a proposal needs: every state with an
// active point of contact in the verified directory.
std::set<std::string> statesWithPocs(const HubDirectory& dir);

// Who decided what on a verified proposal, and which of the `required`
// states have not approved yet (several points of contact of one state
// count once).
struct ProposalTally {
  std::vector<std::string> approvedBy;
  std::vector<std::string> rejectedBy;
  std::set<std::string> approvedStates;
  std::vector<std::string> missingStates;
};
ProposalTally tallyDecisions(const VerifiedProposal& v, const HubDirectory& dir, const std::set<std::string>& required);

// A comment on a summary record, verified under its author's key; `text` is
// opened when it was sealed to `me` (the record's sender), under the current
// or an earlier encryption key.
struct VerifiedComment {
  std::string memberId;
  bool objection = false;
  std::int64_t commentedAtMs = 0;
  bool sealed = false;              // it carries a sealed payload (a text, or a head)
  std::optional<std::string> text;  // the text, if `me` could open it
  // The head it carried, checked against the directory's verified log
  // (client/log_gossip.hpp): "", "consistent", "unconfirmed", "invalid".
  std::string carriedHeadCheck;
};

// Every comment of `status` (the hub's answer for record `recordId`),
// verified against the verified directory. Throws VerifyError on the first
// that does not verify, and on a carried head that conflicts with the
// directory's verified log (a fork, recorded: PROTOCOL.md §11.4).
std::vector<VerifiedComment> verifyComments(const RecordStatusInfo& status, const crypto::BulletinId& recordId,
                                            const HubDirectory& dir, const crypto::Keyring& me);

}  // namespace focal::client

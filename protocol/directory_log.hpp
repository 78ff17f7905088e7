// The directory log's rules, written once (DESIGN.md §7, PROTOCOL.md §11):
// who may write which entry given the state the earlier entries
// established, and what each entry changes. Pure: no I/O, no storage, no
// network. The hub (server/directory.cpp) checks every entry it appends or
// replays with it, every client (client/log_verifier.cpp) every entry it
// fetches; so a hub that enforced other rules than its log shows is caught.
//
// Authorisation (DirectoryLog::check):
//   entry 0        genesis {hubId, hubKey}, signed by the hub key
//   entry 1        the registration of the first admin, signed by the hub
//                  key the genesis names (`focald init --admin-pub`: the
//                  admin's private key never exists on the hub machine) or,
//                  in logs made before that, by the new admin's own identity
//                  key: the only case where an author is not yet a member
//   register, revoke, roleChange      by an active admin; in a v2 log a
//                  register may not add a resource-panel member, who joins
//                  only by an admission (the consensus of every member
//                  state, terms of reference §7, PROTOCOL.md §12.5)
//   rotateEncryption / rotateIdentity by the member itself (previousKey =
//                  its current encryption / identity key) or an admin
//   recordApproved, admission, amendment  by the hub key (consensus
//                  outcomes, PROTOCOL.md §11.1; protocol/consensus.hpp)
//   wgRole         by an active member of the secretariat: a working-group
//                  role (chair, co-chair per year or meeting; one SOMTC
//                  focal point per member state) given to or ended for an
//                  active member-state member, naming the approved summary
//                  record or adopted amendment that decided it, earlier in
//                  the log (PROTOCOL.md §12.7)
//   adminAction    by the hub key: an admin's signed AdminChange and the
//                  approvals of other admins (protocol/admin_quorum.hpp),
//                  checked as the change by its proposer plus the quorum
// Admins by quorum (PROTOCOL.md §11.7): the genesis's AdminPolicy names k,
// the number of first admins (entries 1..n, each registered by the hub
// key; with k >= 2 they come from two member states at least) and the
// delay of a forced rotation. With k >= 2 an admin's own register, revoke
// or roleChange entry is refused: only an adminAction with k signers from
// two member states makes one. An admin's rotation of ANOTHER member's keys
// is an adminAction whenever k >= 2 or the delay is set, recorded no
// sooner than the delay after its proposal. A proposal is adopted once.
// No change may leave fewer than k active admins (from two states).
// The author's key must be its current identity key and the author active.
// Nothing may leave the hub without an active admin. Keys are never reused,
// by anyone. Names, reasons and member ids are single-line text.
//
// Revocation: `key` empty revokes the member for good; a key revokes that
// key (any identity key in the member's history, its current or a previous
// encryption key). A member whose current identity or encryption key is
// revoked is inactive until a rotation replaces the key.
//
// Place (log v2, PROTOCOL.md §11.1): from a genesis with logVersion 2, or
// from a v1 log's hub-signed `logVersion {2}` checkpoint on (the checkpoint
// included), every event carries the position it was signed for (hub id,
// index, entryHash(index - 1)), which must be this entry's; its issuedAtMs
// must lie within LogIssueWindowMs of recordedAtMs; recordedAtMs may not go
// back. In every version an event may appear only once (same bytes; in
// v2 a repeated event already names another index, so this matters for
// the v1 entries).
// SECURITY: so a hub that holds its key can no longer drop, reorder or
// replay authors' entries and re-chain the rest (SECURITY.md §4).
#pragma once

#include "crypto/types.hpp"
#include "protocol/admin_quorum.hpp"
#include "protocol/consensus.hpp"
#include "protocol/focal.capnp.h"
#include "protocol/limits.hpp"
#include "protocol/witness.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace focal::protocol {

// Why an entry is refused: one value per rule. The hub maps it to its wire
// error code, the client to its verification message; describe() is the
// text both show.
enum class LogRule : std::uint8_t {
  OutOfSequence,           // index is not the next one (subject: index, detail: expected)
  EventTooLarge,           // over MaxLogEventBytes
  BadSignature,            // the author's signature over the event bytes
  Malformed,               // does not parse (detail: the decoder's reason)
  ClockSkew,               // issuedAtMs outside the window (live appends only)
  NotGenesis,              // entry 0 is not a genesis
  InvalidHubId,
  GenesisNotByHubKey,
  SecondGenesis,
  NotFirstAdmin,           // entry 1 is not a registration
  FirstMemberNotAdmin,
  FirstAdminWrongSigner,
  InvalidMemberId,
  GroupAddressId,
  NameTooLong,
  TextField,               // subject: the field, detail: the text problem
  InvalidState,
  InstitutionUnset,
  KeyLength,
  CertInvalid,             // subject: member
  KeyInUse,                // subject: member, detail: "identity" / "encryption"
  OutcomeNotByHub,
  RecordApprovedShape,     // detail: what is wrong
  ProposalMismatch,        // subject: "admission" / "amendment"
  MemberExists,            // subject: member
  AdoptionRefused,         // subject: "admission" / "amendment", detail: the consensus rule's sentence
  AuthorNotActive,         // subject: author
  NotCurrentIdentityKey,   // subject: author
  NotAdmin,                // subject: author, detail: the action
  UnknownMember,           // subject: target
  MemberRevoked,           // subject: target (rotation or role change)
  AlreadyRevoked,          // subject: target
  NotSelfOrAdmin,          // subject: author
  PreviousKeyMismatch,     // subject: target
  IdentityChanged,         // an encryption rotation changed the identity key
  KeepsRevokedKey,         // an identity rotation keeps a revoked encryption key
  ReasonTooLong,
  KeyNotMembers,           // subject: target
  KeyAlreadyRevoked,
  LastAdmin,               // subject: the last active admin
  UnknownEventKind,
  // Place and time (see above).
  DuplicateEvent,          // subject: the index of the earlier entry with the same event bytes
  Unpositioned,            // a v2 entry whose event carries no position
  PositionMismatch,        // subject: "index" / "hub" / "previous", detail: the value signed
  TimeBackwards,           // subject: the previous entry's index
  IssuedOutsideWindow,     // issuedAtMs more than LogIssueWindowMs from recordedAtMs
  LogVersionChange,        // detail: what is wrong with a logVersion checkpoint or genesis version
  BadWitnessPolicy,        // detail: what is wrong with the genesis's witness policy (protocol/witness.hpp)
  PanelByConsensus,        // subject: member; a v2 register that adds a resource-panel member
  // Admins by quorum (protocol/admin_quorum.hpp, PROTOCOL.md §11.7).
  BadAdminPolicy,          // detail: what is wrong with the genesis's admin policy or the first admins
  QuorumRequired,          // subject: author, detail: the action; one admin's own entry where k >= 2 (or a delayed rotation)
  QuorumNotMet,            // detail: what is missing (quorumShortfall / countAdminSigners)
  QuorumWouldBreak,        // subject: the admin the change would remove, detail: the policy's k
  ProposalReplayed,        // subject: the index of the entry that adopted the same proposal
  RotationTooEarly,        // subject: the member, detail: the time (ms) the rotation may take effect
  // Working-group roles (PROTOCOL.md §12.7).
  NotSecretariat,          // subject: author, detail: the action
  RoleShape,               // detail: what is wrong with the wgRole entry
  RoleTaken,               // subject: the member holding it, detail: "chair 2027"
  SecondFocalPoint,        // subject: the state's focal point, detail: the state
  RoleNotHeld,             // subject: member, detail: "chair 2027"
  UnknownDecision,         // subject: the decision id (hex)
};

struct LogRefusal {
  LogRule rule = LogRule::Malformed;
  std::string subject;
  std::string detail;
};
// "chair 2027", "co-chair <meeting id>", "somtc-focal-point".
std::string wgRoleText(wire::WorkingGroupRole role, std::string_view term);
// The sentence for a refusal, e.g. "member sg-le already exists".
std::string describe(const LogRefusal& r);
// "log entry N: <describe>" (an out-of-sequence refusal names its entries
// itself): how a replay or a client names a refused entry.
std::string describeAt(std::uint64_t index, const LogRefusal& r);

// Largest LogEvent any log entry may carry (the hub refuses to append a
// larger one, clients refuse to accept it).
inline constexpr std::size_t MaxLogEventBytes = 64 * 1024;

// Log versions: 1 = events not bound to their place (logs made before
// issue 26), 2 = the place rules above. A hub makes v2 logs and moves a v1
// log to v2 with a checkpoint at startup.
inline constexpr std::uint32_t LogVersion1 = 1;
inline constexpr std::uint32_t LogVersion2 = 2;
inline constexpr std::uint32_t CurrentLogVersion = LogVersion2;

// v2: how far an entry's issuedAtMs (the author's clock) may lie from its
// recordedAtMs (the hub's clock at append). The hub refuses a live request
// outside MaxClockSkewMs of its clock, the same window.
inline constexpr std::int64_t LogIssueWindowMs = MaxClockSkewMs;

// What the log says about one member: its current state and the history
// needed to judge old signatures (times are the hub's recordedAtMs of the
// entries that made the change).
struct LogMember {
  std::string id;
  std::string name;
  std::string state;  // ISO 3166 alpha-2, "" for partners and the panel
  wire::Institution institution = wire::Institution::UNSET;
  bool isAdmin = false;
  bool isSecretariat = false;
  crypto::SigningPublicKey identityKey;
  crypto::BoxPublicKey encryptionKey;
  std::int64_t encKeyCreatedAtMs = 0;
  crypto::Signature encKeyCert;
  // Every identity key the member has held, oldest first, the current one
  // last: the only record of previous identity keys.
  std::vector<KeyPeriod> identityHistory;
  std::vector<crypto::BoxPublicKey> previousEncryptionKeys;  // oldest first
  std::vector<std::array<std::uint8_t, 32>> revokedKeys;
  bool memberRevoked = false;    // the whole member, for good
  std::int64_t revokedAtMs = 0;  // when memberRevoked
  std::string revokeReason;
  std::uint64_t logIndex = 0;  // entry that last changed this member
  // Working-group roles held now (PROTOCOL.md §12.7), in the order given.
  struct WgRole {
    wire::WorkingGroupRole role = wire::WorkingGroupRole::UNSET;
    std::string term;            // "YYYY", a meeting id (32 hex), or "" (SOMTC focal point)
    std::uint64_t logIndex = 0;  // the wgRole entry that gave it
  };
  std::vector<WgRole> wgRoles;
  // The meetings an admission limited this resource-panel member to
  // (Proposal.meetings, PROTOCOL.md §12.5), ascending; empty: not limited.
  // A limited member takes part in those meetings only and is reached by
  // no group address and by no bulletin outside them.
  std::vector<crypto::BulletinId> meetings{};

  bool meetingLimited() const { return !meetings.empty(); }
  bool admittedTo(const crypto::BulletinId& meetingId) const;
  bool holds(wire::WorkingGroupRole role, std::string_view term) const;
  bool holdsRole(wire::WorkingGroupRole role) const;
  // Holds the chair or a co-chair for some term: may propose admissions
  // (§12.5) and add action items to the work programme (§12.10).
  bool chairs() const;
  bool isRevokedKey(crypto::ByteView key) const;
  // Can authenticate, send and be sent to.
  bool active() const;
  // A key this member holds or held (identity or encryption).
  bool heldKey(crypto::ByteView key) const;
  // As the consensus rule sees it (with its identity key history).
  ConsensusMember consensus() const;
};

// One entry as both sides hold it. The bytes are borrowed.
struct LogEntryView {
  crypto::ByteView event;  // LogEvent bytes
  crypto::Signature signature;
  crypto::SigningPublicKey authorKey;
  std::string_view authorId;
  std::uint64_t index = 0;
  std::int64_t recordedAtMs = 0;
};

// The signature checks of an entry that need no log state (the author's
// signature, an encryption-key certificate it carries): computed ahead, on
// any thread, by a client verifying many entries.
struct EntryPrecheck {
  bool signatureOk = false;
  bool certOk = false;
};
EntryPrecheck precheck(const LogEntryView& entry);

class DirectoryLog {
 public:
  struct CheckOptions {
    // A live append: issuedAtMs must be within MaxClockSkewMs of it.
    std::optional<std::int64_t> nowMs;
    // The time an admission or amendment is judged at (its proposal's
    // expiry): the entry's recordedAtMs. nullopt: at the proposal's expiry.
    std::optional<std::int64_t> adoptedAtMs;
    // false only for re-reading a client's own cache of entries it
    // verified before: the author signature and certificates are skipped
    // (consensus approvals are still verified).
    bool verifySignatures = true;
    const EntryPrecheck* precheck = nullptr;
  };

  // May `entry` be the next one? Never throws on hostile bytes.
  Expected<Ok, LogRefusal> check(const LogEntryView& entry, const CheckOptions& options) const;
  // May `proposerId` propose `change` (an admin change) at this point of
  // the log? The change is checked as the proposer's own entry would be,
  // without the quorum (which comes at adoption, checkAdminAction), and
  // with the certificates it carries verified.
  Expected<Ok, LogRefusal> checkProposedChange(wire::AdminChange::Reader change, std::string_view proposerId) const;
  // The chained hash `entry` gets as the next entry.
  crypto::Hash256 nextHash(const LogEntryView& entry) const;
  // Applies a checked entry with its chained hash. Returns the id of the
  // member it changed ("" otherwise). Throws std::logic_error (or
  // kj::Exception for bytes that do not read) on an unchecked entry.
  std::string apply(const LogEntryView& entry, const crypto::Hash256& entryHash);
  // Takes the entry as the next one without applying it (a test harness's
  // forged entry that does not read).
  void skip(const crypto::Hash256& entryHash);

  std::uint64_t size() const { return size_; }
  const crypto::Hash256& root() const { return root_; }
  // 1 or 2 (see above) after the entries so far.
  std::uint32_t version() const { return version_; }
  // recordedAtMs of the last entry (0 for an empty log): a v2 append may
  // not record an earlier time.
  std::int64_t lastRecordedAtMs() const { return lastRecordedAtMs_; }
  const std::string& hubId() const { return hubId_; }
  const crypto::SigningPublicKey& hubKey() const { return hubKey_; }
  // Who witnesses this log and the threshold k (the genesis's; k = 0: none).
  const WitnessPolicy& witnessPolicy() const { return witnessPolicy_; }
  // How many admins a directory change needs (the genesis's; unnamed: k = 1).
  const AdminPolicy& adminPolicy() const { return adminPolicy_; }
  const LogMember* find(std::string_view id) const;
  const std::map<std::string, LogMember, std::less<>>& members() const { return members_; }
  // The member states whose consent an adoption needs now.
  std::set<std::string> requiredStates() const;
  std::optional<ConsensusMember> consensusMember(std::string_view id) const;

 private:
  Expected<Ok, LogRefusal> checkPlace(wire::LogEvent::Reader e, const LogEntryView& entry) const;
  Expected<Ok, LogRefusal> checkVersion(wire::LogEvent::Reader e, const LogEntryView& entry) const;
  Expected<Ok, LogRefusal> checkEvent(wire::LogEvent::Reader e, const LogEntryView& entry,
                                      const CheckOptions& options) const;
  Expected<Ok, LogRefusal> checkFirstAdmin(wire::LogEvent::Register::Reader r, const LogEntryView& entry,
                                           const CheckOptions& options) const;
  Expected<Ok, LogRefusal> checkOutcome(wire::LogEvent::Reader e, const LogEntryView& entry,
                                        const CheckOptions& options) const;
  Expected<Ok, LogRefusal> checkAdminAction(wire::LogEvent::Reader e, const LogEntryView& entry,
                                            const CheckOptions& options) const;
  // A register, rotation, revocation or role change as by `author`.
  Expected<Ok, LogRefusal> checkChange(wire::LogEvent::Reader e, const LogMember& author,
                                       const CheckOptions& options) const;
  Expected<Ok, LogRefusal> keepsAdminQuorum(const LogMember& target) const;
  Expected<Ok, LogRefusal> checkNewMember(wire::MemberInfo::Reader info, wire::KeySet::Reader keys,
                                          const CheckOptions& options) const;
  Expected<Ok, LogRefusal> checkRotation(wire::LogEvent::Reader e, const LogMember& author,
                                         const CheckOptions& options) const;
  Expected<const LogMember*, LogRefusal> adminTarget(const LogMember& author, std::string_view action,
                                                     capnp::Text::Reader id) const;
  Expected<Ok, LogRefusal> checkRevoke(wire::LogEvent::Revoke::Reader r, const LogMember& author) const;
  Expected<Ok, LogRefusal> checkRoleChange(wire::LogEvent::RoleChange::Reader r, const LogMember& author) const;
  Expected<Ok, LogRefusal> checkWgRole(wire::LogEvent::WgRole::Reader r, const LogMember& author) const;
  bool keyInUse(crypto::ByteView key) const;
  std::string applyChange(wire::LogEvent::Reader e, std::uint64_t index, std::int64_t recordedAtMs);
  std::string addMember(wire::MemberInfo::Reader info, wire::KeySet::Reader keys, std::uint64_t index);
  void applyRevoke(wire::LogEvent::Revoke::Reader r, LogMember& m, std::int64_t atMs);

  std::uint64_t size_ = 0;
  crypto::Hash256 root_{};
  std::string hubId_;
  crypto::SigningPublicKey hubKey_;
  std::map<std::string, LogMember, std::less<>> members_;
  std::set<std::array<std::uint8_t, 32>> usedKeys_;  // every key the log has named
  std::uint32_t version_ = LogVersion1;
  WitnessPolicy witnessPolicy_;
  AdminPolicy adminPolicy_;
  // Proposal ids an admission, amendment or adminAction adopted -> its entry.
  std::map<std::array<std::uint8_t, 16>, std::uint64_t> adoptedProposals_;
  std::int64_t lastRecordedAtMs_ = 0;
  // The decisions a wgRole entry may name: approved summary records and
  // adopted amendments (ids of 16 bytes).
  std::set<std::array<std::uint8_t, 16>> decisions_;
  // BLAKE2b-256 of every event so far -> its entry (duplicates, all versions).
  std::map<std::array<std::uint8_t, 32>, std::uint64_t> eventHashes_;
};

}  // namespace focal::protocol

// Admins by quorum (issue 27, PROTOCOL.md §11.7): no single admin key rules
// the directory. The policy a log's genesis names (k admin signatures, the
// first admins init registers, the delay on an admin's rotation of another
// member's keys), the AdminChange proposal an admin signs instead of a log
// event, and the one rule that counts the admins who signed it. Pure: no
// I/O. The hub (server/consensus_service.cpp) applies it before it appends
// an `adminAction` entry, every client (through protocol/directory_log) when
// it verifies one.
//
// SECURITY: with k >= 2, an entry that registers, revokes or changes the
// role of a member, or rotates another member's keys, needs k distinct
// active admins (the proposer and approvers, each signing with the identity
// key it held when it signed) from at least two member states. So a stolen
// admin key, or one admin, cannot seat a look-alike member, revoke a real
// one or move a member's keys; the hub cannot either, since every client
// counts the signatures itself.
#pragma once

#include "crypto/key_ops.hpp"
#include "protocol/consensus.hpp"
#include "protocol/focal.capnp.h"
#include "protocol/records.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace focal::protocol {

inline constexpr std::int64_t DefaultForcedRotationDelayMs = 72LL * 60 * 60 * 1000;
inline constexpr std::int64_t MaxForcedRotationDelayMs = 30LL * 24 * 60 * 60 * 1000;
// Most first admins a genesis may name (and so the largest k).
inline constexpr std::uint32_t MaxFirstAdmins = 16;

struct AdminPolicy {
  std::uint32_t quorum = 1;       // k
  std::uint32_t firstAdmins = 1;  // entries 1..firstAdmins
  std::int64_t forcedRotationDelayMs = 0;
  // false: the genesis names no policy (a log made before issue 27): k = 1,
  // one first admin, no delay.
  bool named = false;

  // One admin key can change the directory: every client warns.
  bool singleKey() const { return quorum < 2; }
  bool operator==(const AdminPolicy&) const = default;
};

// Reads and checks a genesis's policy: 1 <= k <= firstAdmins <=
// MaxFirstAdmins, 0 <= delay <= MaxForcedRotationDelayMs. Error: the
// sentence saying what is wrong.
Expected<AdminPolicy, std::string> readAdminPolicy(wire::AdminPolicy::Reader policy);
void writeAdminPolicy(wire::AdminPolicy::Builder out, const AdminPolicy& policy);
// The warning a client shows for a single-key policy.
std::string singleAdminWarning(const AdminPolicy& policy);

// The admin change `event` (register, revoke, rotate*, roleChange) into
// `out`; false for any other kind.
bool copyAdminChange(wire::AdminChange::Builder out, wire::LogEvent::Reader event);
// The log event an AdminChange stands for (issuedAtMs and position unset).
void copyChangeEvent(wire::LogEvent::Builder out, wire::AdminChange::Reader change);
// The member an admin change is about.
std::string_view adminChangeTarget(wire::AdminChange::Reader change);
// "register", "revoke", "rotate-encryption", "rotate-identity", "role-change".
const char* adminChangeName(wire::AdminChange::Reader change);
// A rotation of a member's keys proposed by someone else: it waits for the
// policy's delay and the member may object.
bool isForcedRotation(wire::AdminChange::Reader change, std::string_view proposerId);

// A Proposal of `event`'s change by admin `proposer`.
SignedRecordBytes makeAdminChangeProposal(wire::LogEvent::Reader event, const crypto::Keyring& proposer,
                                          std::int64_t nowMs, std::int64_t expiresAtMs);

// The admins whose signatures count for an adminAction: the proposer and
// each approver, with their states.
struct QuorumSigners {
  std::vector<std::string> members;
  std::set<std::string> states;
};

// Counts the signers of an adopted admin change (an `adminAction` entry's
// proposal + approvals) as of `atMs` (the entry's recordedAtMs), against
// the directory `find` describes: the proposal is an adminChange, its id
// 16 bytes, its proposer an active admin that signed it with the identity
// key of its createdAtMs; atMs <= expiresAtMs; every approval is a Decision
// that approves this proposal (id and hash), by an active admin other than
// the proposer and every other approver, signed with the key of its
// decidedAtMs. Error: a sentence naming what failed.
Expected<QuorumSigners, std::string> countAdminSigners(wire::LogEvent::Admission::Reader outcome, std::int64_t atMs,
                                                       const ConsensusLookup& find);
// Whether `signers` make `policy`'s quorum (k of them; with k >= 2 from at
// least two member states); nullopt or the sentence saying what is missing.
std::optional<std::string> quorumShortfall(const QuorumSigners& signers, const AdminPolicy& policy);

}  // namespace focal::protocol

// The key directory: who the members are and which keys are current, as
// the hub holds it. An adapter over protocol::DirectoryLog, which owns the
// rules (protocol/directory_log.hpp); this file maps its refusals to wire
// errors and keeps the hub-signed head.
//
// The directory is DERIVED from the log (DESIGN.md §7): it is only ever
// changed by apply()ing a log entry, at startup by replaying the whole log
// (verifying every signature and the hash chain) and at run time after an
// admin request's entry has been committed. Nothing edits it otherwise, so
// what a client verifies from the log is exactly what the hub enforces.
#pragma once

#include "crypto/types.hpp"
#include "protocol/consensus.hpp"
#include "protocol/directory_log.hpp"
#include "protocol/focal.capnp.h"
#include "server/hub_error.hpp"
#include "server/store.hpp"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace focal::server {

// One member as the log describes it (the same record clients derive).
using MemberRecord = protocol::LogMember;

// The wire error a refusal of the log's rules goes to a peer as.
HubError toHubError(const protocol::LogRefusal& refusal);

class Directory {
 public:
  Directory() = default;

  // Rebuilds a directory from every stored entry, verifying each entry's
  // authorisation, signature and hash. Error: "log entry N: reason".
  static Expected<Directory, std::string> replay(const std::vector<StoredLogEntry>& entries);

  // May `event` (LogEvent bytes signed by `authorKey`, claimed by member
  // `authorId`) be the next entry? `nowMs` enables the issuedAt clock-skew
  // check (live requests); replay passes nullopt.
  // `atMs` is the entry's recordedAtMs (replay) or the append time: an
  // admission is judged against its proposal's expiry at that time;
  // nullopt uses nowMs. `recordedAtMs`, the time the entry will carry (the
  // v2 time rules), defaults to atMs, then nowMs.
  Result<Ok> check(crypto::ByteView event, const crypto::Signature& signature, std::string_view authorId,
                   const crypto::SigningPublicKey& authorKey, std::optional<std::int64_t> nowMs,
                   std::optional<std::int64_t> atMs = std::nullopt,
                   std::optional<std::int64_t> recordedAtMs = std::nullopt) const;

  // The next entry (index and chained hash) for a checked event.
  StoredLogEntry prepare(crypto::Bytes event, const crypto::Signature& signature, std::string authorId,
                         const crypto::SigningPublicKey& authorKey, std::int64_t recordedAtMs) const;

  // Applies a checked, committed entry. Returns the id of the member it
  // changed ("" for genesis).
  std::string apply(const StoredLogEntry& entry);

  // TEST HARNESS ONLY (tests/lying_hub/main.cpp, a hub that serves a
  // tampered database so the tests can show that clients catch it): takes
  // the entry as the next one without checking anything, applying what can
  // be applied. focald never calls it.
  void applyUnchecked(const StoredLogEntry& entry);

  const protocol::DirectoryLog& log() const { return log_; }
  const std::string& hubId() const { return log_.hubId(); }
  const crypto::SigningPublicKey& hubKey() const { return log_.hubKey(); }
  std::uint64_t size() const { return log_.size(); }
  const crypto::Hash256& root() const { return log_.root(); }
  const MemberRecord* find(std::string_view id) const { return log_.find(id); }
  const std::map<std::string, MemberRecord, std::less<>>& members() const { return log_.members(); }
  // Consensus (protocol/consensus.hpp): a member as the adoption rule sees
  // it, and the member states whose consent an adoption needs now.
  std::optional<protocol::ConsensusMember> consensusMember(std::string_view id) const {
    return log_.consensusMember(id);
  }
  std::set<std::string> requiredStates() const { return log_.requiredStates(); }

  // The hub-signed head for the current size (kept here so every reply that
  // carries a head shows the same one).
  // A new head of the same size keeps the cosignatures the old one had
  // (they cosign the same size and root: PROTOCOL.md §11.6).
  const StoredHead& head() const { return head_; }
  void setHead(StoredHead head);
  // Serves `c` (checked by the caller against witnessPolicy(), of a head of
  // the current size) with the head, replacing its witness's earlier one.
  void addCosignature(protocol::Cosignature c);
  const protocol::WitnessPolicy& witnessPolicy() const { return log_.witnessPolicy(); }
  const protocol::AdminPolicy& adminPolicy() const { return log_.adminPolicy(); }
  // May `proposerId` propose `change` now (PROTOCOL.md §11.7)? The change is
  // checked as the proposer's own entry; the quorum comes at adoption.
  Result<Ok> checkProposedChange(wire::AdminChange::Reader change, std::string_view proposerId) const;

 private:
  protocol::DirectoryLog log_;
  StoredHead head_;
};

}  // namespace focal::server

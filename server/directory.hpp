// The key directory: who the members are and which keys are current.
//
// The directory is DERIVED from the log (DESIGN.md §7): it is only ever
// changed by apply()ing a log entry, at startup by replaying the whole log
// (verifying every signature and the hash chain) and at run time after an
// admin request's entry has been committed. Nothing edits it otherwise, so
// what a client verifies from the log is exactly what the hub enforces.
//
// Authorisation rules (check()):
//   entry 0        genesis {hubId, hubKey}, signed by the hub key
//   entry 1        may be the self-registration of the first admin (signed
//                  by the new admin's own identity key) — the only case
//                  where an author is not yet a member
//   register, revoke, roleChange     by an active admin
//   rotateEncryption / rotateIdentity by the member itself (previousKey =
//                  its current encryption / identity key) or an admin
// The author's key must be its current identity key and the author active.
// Nothing may leave the hub without an active admin.
//
// Revocation: `key` empty revokes the member for good; a key revokes that
// key. A member whose current identity or encryption key is revoked is
// inactive (cannot authenticate, send or be sent to) until a rotation
// replaces the key. Keys are never reused, by anyone.
#pragma once

#include "crypto/types.hpp"
#include "protocol/consensus.hpp"
#include "protocol/focal.capnp.h"
#include "server/hub_error.hpp"
#include "server/store.hpp"

#include <array>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace focal::server {

struct MemberRecord {
  std::string id;
  std::string name;
  std::string state;
  wire::Institution institution = wire::Institution::UNSET;
  bool isAdmin = false;
  bool isSecretariat = false;
  crypto::SigningPublicKey identityKey;
  crypto::BoxPublicKey encryptionKey;
  std::int64_t encKeyCreatedAtMs = 0;
  crypto::Signature encKeyCert;
  std::vector<crypto::SigningPublicKey> previousIdentityKeys;  // oldest first
  // Every identity key with the hub times that ended it (the current one
  // last): a consensus decision counts under the key of its own time.
  std::vector<protocol::KeyPeriod> identityHistory;
  std::vector<crypto::BoxPublicKey> previousEncryptionKeys;    // oldest first
  std::vector<std::array<std::uint8_t, 32>> revokedKeys;
  bool memberRevoked = false;
  std::uint64_t logIndex = 0;  // entry that last changed this member

  bool isRevokedKey(crypto::ByteView key) const;
  // Can authenticate, send and be sent to.
  bool active() const;
};

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
  // nullopt uses nowMs.
  Result<Ok> check(crypto::ByteView event, const crypto::Signature& signature, std::string_view authorId,
                   const crypto::SigningPublicKey& authorKey, std::optional<std::int64_t> nowMs,
                   std::optional<std::int64_t> atMs = std::nullopt) const;

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

  const std::string& hubId() const { return hubId_; }
  const crypto::SigningPublicKey& hubKey() const { return hubKey_; }
  std::uint64_t size() const { return size_; }
  const crypto::Hash256& root() const { return root_; }
  const MemberRecord* find(std::string_view id) const;
  const std::map<std::string, MemberRecord, std::less<>>& members() const { return members_; }
  // Consensus (protocol/consensus.hpp): a member as the adoption rule sees
  // it, and the member states whose consent an adoption needs now.
  std::optional<protocol::ConsensusMember> consensusMember(std::string_view id) const;
  std::set<std::string> requiredStates() const;

  // The hub-signed head for the current size (kept here so every reply that
  // carries a head shows the same one).
  const StoredHead& head() const { return head_; }
  void setHead(StoredHead head) { head_ = std::move(head); }

 private:
  Result<Ok> checkParsed(wire::LogEvent::Reader e, std::string_view authorId,
                         const crypto::SigningPublicKey& authorKey, std::optional<std::int64_t> atMs) const;
  bool keyInUse(crypto::ByteView key) const;
  std::size_t activeAdmins() const;

  std::string hubId_;
  crypto::SigningPublicKey hubKey_;
  std::uint64_t size_ = 0;
  crypto::Hash256 root_{};
  std::map<std::string, MemberRecord, std::less<>> members_;
  StoredHead head_;
};

}  // namespace focal::server

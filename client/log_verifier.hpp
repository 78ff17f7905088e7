// Client-side verification of the directory log (DESIGN.md §7, PROTOCOL.md
// §Log verification). The client never takes a key from the hub's word:
// every key it seals to or checks a signature with comes from a LogVerifier
// that replayed the log itself.
//
// LogVerifier is a pure state machine over log entries (no I/O):
//   append(entry)  checks, in this order, that the entry has the next index,
//                  that its author may write it given the state the earlier
//                  entries established (genesis by the hub key it names;
//                  the first admin's self-registration; register, revoke,
//                  roleChange by an active admin; a rotation by the member
//                  itself or an admin; recordApproved and admission by the
//                  hub key), that the author key is the author's current
//                  identity key, that the signature over the exact event
//                  bytes verifies, and that certificates and keys are well
//                  formed and unused; then applies it and extends the hash
//                  chain (protocol::logEntryHash).
//   checkHead(h)   the hub's signature on a head, its hub id, and that its
//                  size and root are exactly this verifier's.
// Errors name the entry and what was wrong, so a user can report it.
//
// The rules mirror server/directory.cpp; a hub that enforces other rules
// than the log shows is caught here, not trusted.
#pragma once

#include "client/connection.hpp"
#include "client/member_record.hpp"
#include "crypto/types.hpp"

#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace focal::client {

// What the log says about one member, with the history needed to judge old
// signatures (revocation and rotation times are the hub's recordedAtMs of
// the entry that made them).
struct LogMember {
  MemberRecord record;  // current state; keysWellFormed and certValid are true
  std::vector<crypto::BoxPublicKey> previousEncryptionKeys;  // oldest first
  std::vector<std::array<std::uint8_t, 32>> revokedKeys;
};

class LogVerifier {
 public:
  struct Options {
    // Skip the per-entry signature checks (the chain is still recomputed).
    // Only for re-reading the client's own cache of entries it verified
    // before; never for entries from the network.
    bool trustSignatures = false;
  };

  LogVerifier() = default;
  explicit LogVerifier(Options options) : options_(options) {}

  // Verifies entry number size() and applies it. On error the verifier is
  // unchanged. Error text: "log entry N: reason".
  Expected<Ok, std::string> append(const LogEntryRecord& entry);

  // The same for many entries, with the signature checks (author and
  // encryption-key certificates, which need no log state) spread over
  // `threads` threads first; authorisation then runs in order. Stops at the
  // first bad entry, with everything before it applied.
  Expected<Ok, std::string> appendAll(std::span<const LogEntryRecord> entries, unsigned threads = 0);

  // Verifies a signed head against the hub key of the genesis and checks
  // that it describes exactly the entries appended so far.
  Expected<Ok, std::string> checkHead(const SignedHeadBytes& head) const;

  // Back to full checks after re-reading a trusted cache (VerifiedLog::load).
  void checkSignatures() { options_.trustSignatures = false; }

  std::uint64_t size() const { return size_; }
  const crypto::Hash256& root() const { return root_; }
  // Entry hashes, entry i at [i] (for naming the first divergent entry).
  const std::vector<crypto::Hash256>& entryHashes() const { return hashes_; }
  const std::string& hubId() const { return hubId_; }
  const crypto::SigningPublicKey& hubKey() const { return hubKey_; }

  const LogMember* find(std::string_view id) const;
  // Every member's current record, sorted by id (for HubDirectory).
  std::vector<MemberRecord> records() const;

 private:
  // Results of checking an entry's signatures ahead of time (appendAll).
  struct Precheck {
    bool signatureOk = false;
    bool certOk = false;
  };
  Expected<Ok, std::string> appendChecked(const LogEntryRecord& entry, const Precheck* pre);
  Expected<Ok, std::string> check(const LogEntryRecord& entry, const crypto::SigningPublicKey& authorKey,
                                  const crypto::Signature& signature, const Precheck* pre) const;
  static Precheck precheck(const LogEntryRecord& entry);
  void apply(const LogEntryRecord& entry);
  bool keyInUse(crypto::ByteView key) const;
  std::size_t activeAdmins() const;

  Options options_;
  std::uint64_t size_ = 0;
  crypto::Hash256 root_{};
  std::vector<crypto::Hash256> hashes_;
  std::string hubId_;
  crypto::SigningPublicKey hubKey_;
  std::map<std::string, LogMember, std::less<>> members_;
  std::set<std::array<std::uint8_t, 32>> usedKeys_;  // every key the log has named
};

// Parses and verifies a head's signature with `hubKey`; returns (size, root,
// timeMs, hubId). Error text names what is wrong.
struct HeadInfo {
  std::string hubId;
  std::uint64_t size = 0;
  crypto::Hash256 root;
  std::int64_t timeMs = 0;
};
Expected<HeadInfo, std::string> parseSignedHead(const SignedHeadBytes& head, const crypto::SigningPublicKey& hubKey);

}  // namespace focal::client

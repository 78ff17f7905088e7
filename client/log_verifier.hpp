// Client-side verification of the directory log (DESIGN.md §7, PROTOCOL.md
// §Log verification). The client never takes a key from the hub's word:
// every key it seals to or checks a signature with comes from a LogVerifier
// that replayed the log itself.
//
// LogVerifier is an adapter over protocol::DirectoryLog (the log's rules,
// protocol/directory_log.hpp, the same the hub enforces): it takes entries
// as the hub sends them (bytes), checks that each carries the next index
// and that its author may write it given the state the earlier entries
// established, applies it and extends the hash chain; checkHead(h) checks
// the hub's signature on a head, its hub id, and that its size and root
// are exactly this verifier's. Pure: no I/O.
// Errors name the entry and what was wrong, so a user can report it.
#pragma once

#include "client/connection.hpp"
#include "client/member_record.hpp"
#include "crypto/types.hpp"
#include "protocol/directory_log.hpp"

#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace focal::client {

// What the log says about one member, with the history needed to judge old
// signatures (the record the hub derives too).
using LogMember = protocol::LogMember;

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

  std::uint64_t size() const { return log_.size(); }
  const crypto::Hash256& root() const { return log_.root(); }
  // Entry hashes, entry i at [i] (for naming the first divergent entry).
  const std::vector<crypto::Hash256>& entryHashes() const { return hashes_; }
  const std::string& hubId() const { return log_.hubId(); }
  const crypto::SigningPublicKey& hubKey() const { return log_.hubKey(); }
  const protocol::WitnessPolicy& witnessPolicy() const { return log_.witnessPolicy(); }
  const protocol::AdminPolicy& adminPolicy() const { return log_.adminPolicy(); }

  const LogMember* find(std::string_view id) const { return log_.find(id); }
  // Every member's current record, sorted by id (for HubDirectory).
  std::vector<MemberRecord> records() const;

 private:
  Expected<Ok, std::string> appendChecked(const LogEntryRecord& entry, const protocol::EntryPrecheck* pre);

  Options options_;
  protocol::DirectoryLog log_;
  std::vector<crypto::Hash256> hashes_;
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

// The directory log as this client verified it, kept per hub in the profile
// (PROFILE/log/HUBID/: entries.bin = every entry verified so far, head.bin =
// the last hub-signed head they matched). PROTOCOL.md §Log verification.
//
// sync() runs on every connect (CliContext::connect) and before any key is
// used (HubDirectory::fetch):
//   1. the head the hub shows now must be signed by the hub key the log's
//      genesis names (and the TLS-pinned hub presented), for the same hub id;
//   2. it must not be smaller than the stored head (rolled-back log), at
//      the same size it must have the same root (fork), and it must not be
//      signed earlier than the stored head (a replayed head; a newer head of
//      the same size and root is stored: its time is what freshness checks,
//      client/head_freshness.hpp);
//   3. the entries from the stored size to the new size are fetched; each
//      must carry the next index (missing / reordered entry) and pass
//      LogVerifier::append (authorisation + signature against the state the
//      log itself established);
//   4. the chain extended from the stored root must give the new head's
//      root; otherwise history before the stored head was rewritten or
//      forked, and the first entry that differs from the stored copy is
//      named.
// Any failure throws VerifyError and nothing is stored: the caller must not
// seal to, or trust a signature by, any key from that hub until resolved.
// While a fork caught by gossip is recorded (client/log_gossip.hpp), sync
// refuses the same way before it asks the hub anything.
//
// With an enrolment bundle pinned in the profile (client/enrolment_pin.hpp)
// every sync and verifyAll also checks the log against it (hub id and key,
// genesis hash, the bundle's head as a floor): the first verification is
// then not trust on first use.
//
// verifyAll() is `focal verify-log`: the same from entry 0 with every
// signature checked again, compared entry by entry with the stored copy.
#pragma once

#include "client/connection.hpp"
#include "client/log_verifier.hpp"
#include "protocol/enrolment_bundle.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace focal::client {

class VerifiedLog {
 public:
  // Nothing stored: verification starts at entry 0 and trusts the first
  // head it sees (trust on first use; SECURITY.md §Directory log).
  VerifiedLog() = default;
  // Loads PROFILE/log/HUBID (missing: empty). Re-hashes the stored entries
  // and checks them against the stored head. Damage throws VerifyError.
  static VerifiedLog load(const std::filesystem::path& profileDir, std::string_view hubId);

  // See above. Saves to the profile when loaded from one.
  void sync(Connection& connection);

  struct Report {
    std::uint64_t entries = 0;     // verified from entry 0
    std::uint64_t previous = 0;    // size of the head stored before
    std::int64_t headTimeMs = 0;
    crypto::Hash256 root;
  };
  Report verifyAll(Connection& connection);

  const LogVerifier& verifier() const { return verifier_; }
  const std::vector<LogEntryRecord>& entries() const { return entries_; }
  std::uint64_t size() const { return verifier_.size(); }
  const std::optional<SignedHeadBytes>& head() const { return head_; }
  std::int64_t headTimeMs() const { return headTimeMs_; }
  // Witnessing (PROTOCOL.md §11.6): which cosignatures of the head synced
  // last count at `nowMs` under the log's witness policy.
  protocol::CosignatureCount witnessing(std::int64_t nowMs) const;
  // Before sealing or accepting: with a witness policy of k > 0, throws
  // VerifyError (saying why) unless the head synced last carries k fresh
  // cosignatures by distinct witnesses. k = 0: nothing required.
  void requireWitnessed(std::int64_t nowMs) const;

  // The enrolment bundle this profile pins (nullopt: trust on first use).
  const std::optional<protocol::EnrolmentBundle>& pin() const { return pin_; }
  // PROFILE/log/HUBID when loaded from a profile (a recorded fork lives
  // there: client/log_gossip.hpp).
  const std::optional<std::filesystem::path>& stateDir() const { return dir_; }

 private:
  void save() const;
  // Fetches entries [from, to) from the hub; a short page or a wrong index
  // ends the list early (the caller reports it).
  static std::vector<LogEntryRecord> fetchRange(Connection& c, std::uint64_t from, std::uint64_t to);
  // Names the first stored entry the hub now serves differently.
  std::string firstDifference(Connection& c) const;

  std::optional<std::filesystem::path> dir_;
  std::vector<LogEntryRecord> entries_;
  LogVerifier verifier_;
  std::optional<SignedHeadBytes> head_;
  std::int64_t headTimeMs_ = 0;
  std::optional<protocol::EnrolmentBundle> pin_;
};

// "PROFILE/log/HUBID" (the hub id is checked as an identifier first).
std::filesystem::path logStateDir(const std::filesystem::path& profileDir, std::string_view hubId);

}  // namespace focal::client

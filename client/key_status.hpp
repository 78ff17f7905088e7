// Is this key file still the member's current one? Judged from the directory
// log the client verified itself (client/verified_log.hpp), never from the
// hub's word: a key file is current when its identity key and its
// encryption key are exactly the keys the log's latest entries give its
// member, and neither the member nor one of those keys is revoked.
//
// A stale file (a newer rotation exists, made from another file or by an
// admin) must not be rotated from: the rotation would be signed by a still
// current identity key but would carry only the stale file's encryption
// secrets, stranding every bulletin sealed to the newer key (issue 19,
// finding 1). The CLI refuses rotate-key and ack with a stale file, warns for
// every other command, and after a failed login explains which key was
// replaced or revoked, and when, from the profile's cached log.
#pragma once

#include "client/connection.hpp"
#include "crypto/types.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace focal::client {

struct KeyFileStatus {
  enum class State {
    Current,     // both keys are the member's current ones, nothing revoked
    Superseded,  // the log ended this file's keys: see `ended`
    Unknown,     // the log never gave this member this pair of keys
  };
  // What ended a key file's keys (the first such entry after they were current).
  enum class Change { EncryptionReplaced, IdentityReplaced, KeyRevoked, MemberRevoked };
  struct Ending {
    Change change = Change::EncryptionReplaced;
    std::uint64_t index = 0;      // directory-log entry
    std::int64_t atMs = 0;        // hub time of that entry
    std::string author;           // the member itself, or the admin who did it
    std::string reason;           // revocations only
  };

  State state = State::Unknown;
  std::optional<Ending> ended;
  // The entry after which the file's identity key was no longer the
  // member's current one (what a failed login is about); may be later than
  // `ended` (an encryption rotation first, then an identity rotation).
  std::optional<Ending> identityEnded;
  bool identityCurrent = false;  // this file can still authenticate
  // The member's current keys per the log (when it knows the member and it
  // is not revoked): to find the file that holds them.
  std::optional<crypto::SigningPublicKey> currentIdentity;
  std::optional<crypto::BoxPublicKey> currentEncryption;
};

// Replays the member's entries of `entries` (already verified: events that
// do not decode are skipped) against the file's public keys.
KeyFileStatus keyFileStatus(std::span<const LogEntryRecord> entries, std::string_view memberId,
                            const crypto::SigningPublicKey& identity, const crypto::BoxPublicKey& encryption);

// "the encryption key of this key file was replaced at directory-log entry 4
// (2026-12-06T12:08:48Z, by th-ttc)"; for Unknown a sentence saying the log
// does not know these keys. Empty for Current.
std::string describeKeyFileStatus(const KeyFileStatus& s);
// The same for one ending ("the identity key of this key file was replaced at ...").
std::string describeEnding(const KeyFileStatus::Ending& e);

}  // namespace focal::client

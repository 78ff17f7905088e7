// One member as the key directory describes it, already checked: the
// encryption key certificate (identity signature over
// crypto::encKeyCertMessage) is verified when the record is built, so
// `usable()` is the only question callers ask before addressing a member.
#pragma once

#include "crypto/types.hpp"
#include "protocol/consensus.hpp"
#include "protocol/focal.capnp.h"

#include <cstdint>
#include <string>
#include <vector>

namespace focal::client {

struct MemberRecord {
  std::string id;
  std::string name;
  std::string state;  // ISO 3166 alpha-2, "" for partners and the panel
  wire::Institution institution = wire::Institution::UNSET;
  bool isAdmin = false;
  bool isSecretariat = false;
  bool active = false;
  bool keysWellFormed = false;  // every key and signature had its exact length
  bool certValid = false;       // identity signature over the encryption key verifies
  crypto::SigningPublicKey identityKey;
  crypto::BoxPublicKey encryptionKey;
  std::int64_t encKeyCreatedAtMs = 0;
  crypto::Signature encKeyCert;
  std::uint64_t logIndex = 0;
  // From the verified log (empty in a bare listing): every identity key the
  // member has held, oldest first; replacedAtMs / revokedAtMs are the hub
  // times of the entries that ended them (0 = still current / not revoked).
  using IdentityPeriod = protocol::KeyPeriod;
  std::vector<IdentityPeriod> identityHistory;
  std::int64_t revokedAtMs = 0;  // the whole member revoked at (0 = not)
  std::string revokeReason;

  bool usable() const { return active && keysWellFormed && certValid; }
  // Builds and verifies a record from the wire.
  static MemberRecord fromWire(wire::DirectoryMember::Reader m);
};

// The member as the consensus rule sees it (protocol/consensus.hpp), with
// its identity key history, so a decision is judged under the key of its
// time. `active` as the caller judged it (the log verifier's own rule).
protocol::ConsensusMember consensusMemberOf(const MemberRecord& m, bool active);

// "law-enforcement", ... (the CLI's spelling), and back.
const char* institutionName(wire::Institution i);
bool parseInstitution(std::string_view text, wire::Institution& out);

}  // namespace focal::client

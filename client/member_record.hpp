// One member as the key directory describes it, already checked: the
// encryption key certificate (identity signature over
// crypto::encKeyCertMessage) is verified when the record is built, so
// `usable()` is the only question callers ask before addressing a member.
#pragma once

#include "crypto/types.hpp"
#include "protocol/consensus.hpp"
#include "protocol/directory_log.hpp"
#include "protocol/focal.capnp.h"
#include "protocol/names.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace focal::client {

// The fields the log gives a member (protocol::LogMember: the one member
// record type; from a bare listing only the current ones are filled), and
// what the client judged of them.
struct MemberRecord : protocol::LogMember {
  using IdentityPeriod = protocol::KeyPeriod;
  // Active as the source says: the verified log's own rule, or a listing's
  // status. Deliberately hides LogMember::active(): a bare listing carries
  // no revocation history to derive it from.
  bool active = false;
  bool keysWellFormed = false;  // every key and signature had its exact length
  bool certValid = false;       // identity signature over the encryption key verifies

  bool usable() const { return active && keysWellFormed && certValid; }
  // Builds and verifies a record from the wire.
  static MemberRecord fromWire(wire::DirectoryMember::Reader m);
};

// The member as the consensus rule sees it (protocol/consensus.hpp), with
// its identity key history, so a decision is judged under the key of its
// time. `active` as the caller judged it (the log verifier's own rule).
protocol::ConsensusMember consensusMemberOf(const MemberRecord& m, bool active);

// "law-enforcement", ... and back: the one table in protocol/names.hpp.
using protocol::institutionName;
using protocol::parseInstitution;

}  // namespace focal::client

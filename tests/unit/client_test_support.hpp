// Helpers shared by the client unit tests: directory records built the way
// a verified directory lists a member.
#pragma once

#include "client/member_record.hpp"
#include "crypto/keyfile.hpp"

#include <string>

namespace focal::client::testing {

// An active member holding `keys`' current public keys (certificate as
// checked), of `state` and `inst`; named by its member id.
inline MemberRecord activeMember(const crypto::MemberKeys& keys, const std::string& state, wire::Institution inst) {
  const auto pk = keys.publicKeys();
  MemberRecord m;
  m.id = keys.memberId;
  m.name = keys.memberId;
  m.state = state;
  m.institution = inst;
  m.active = true;
  m.keysWellFormed = true;
  m.identityKey = pk.identity;
  m.encryptionKey = pk.encryption;
  m.encKeyCreatedAtMs = pk.createdAtMs;
  m.encKeyCert = pk.encCert;
  m.certValid = pk.certValid();
  return m;
}

}  // namespace focal::client::testing

#include "client/member_record.hpp"

#include "crypto/keyfile.hpp"
#include "protocol/message.hpp"

namespace focal::client {

MemberRecord MemberRecord::fromWire(wire::DirectoryMember::Reader m) {
  MemberRecord r;
  auto info = m.getInfo();
  r.id = std::string(protocol::view(info.getId()));
  r.name = std::string(protocol::view(info.getName()));
  r.state = std::string(protocol::view(info.getState()));
  r.institution = info.getInstitution();
  r.isAdmin = info.getIsAdmin();
  r.isSecretariat = info.getIsSecretariat();
  r.active = m.getStatus() == wire::MemberStatus::ACTIVE;
  r.logIndex = m.getLogIndex();
  auto keys = m.getKeys();
  auto identity = crypto::SigningPublicKey::fromBytes(protocol::view(keys.getIdentityKey()));
  auto enc = crypto::BoxPublicKey::fromBytes(protocol::view(keys.getEncryptionKey()));
  auto cert = crypto::Signature::fromBytes(protocol::view(keys.getEncKeyCert()));
  r.encKeyCreatedAtMs = keys.getEncKeyCreatedAtMs();
  r.keysWellFormed = identity && enc && cert;
  if (r.keysWellFormed) {
    r.identityKey = *identity;
    r.encryptionKey = *enc;
    r.encKeyCert = *cert;
    // SECURITY: the hub could substitute an encryption key; only the
    // member's identity signature makes it theirs.
    r.certValid = crypto::verify(crypto::EncKeyCertContext,
                                 crypto::encKeyCertMessage(r.id, r.identityKey, r.encryptionKey, r.encKeyCreatedAtMs),
                                 r.encKeyCert, r.identityKey);
  }
  return r;
}

protocol::ConsensusMember consensusMemberOf(const MemberRecord& m, bool active) {
  protocol::ConsensusMember c;
  c.state = m.state;
  c.institution = m.institution;
  c.isAdmin = m.isAdmin;
  c.active = active;
  c.identityKey = m.identityKey;
  c.identityHistory = m.identityHistory;
  c.isChair = m.holdsRole(wire::WorkingGroupRole::CHAIR) || m.holdsRole(wire::WorkingGroupRole::CO_CHAIR);
  return c;
}

}  // namespace focal::client

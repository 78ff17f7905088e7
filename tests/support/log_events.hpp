// LogEvent builders for the tests: each returns the event bytes and the
// author's signature, exactly what an admin client sends.
#pragma once

#include "crypto/keyfile.hpp"
#include "protocol/admin_quorum.hpp"
#include "protocol/consensus.hpp"
#include "protocol/log.hpp"

#include <capnp/message.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace focal::test_support::events {

using protocol::kjBytes;

constexpr std::int64_t T0 = 1'700'000'000'000;

inline capnp::Text::Reader text(std::string_view s) { return capnp::Text::Reader(s.data(), s.size()); }

inline void setKeys(wire::KeySet::Builder k, const crypto::PublicKeys& pk) {
  k.setIdentityKey(kjBytes(pk.identity.view()));
  k.setEncryptionKey(kjBytes(pk.encryption.view()));
  k.setEncKeyCreatedAtMs(pk.createdAtMs);
  k.setEncKeyCert(kjBytes(pk.encCert.view()));
}

struct MemberSpec {
  std::string id;
  std::string state = "SG";
  wire::Institution institution = wire::Institution::LAW_ENFORCEMENT;
  bool admin = false;
  std::string name = "";  // empty: "Name of ID"
};

// `version` 1: a genesis as hubs wrote it before log v2 (no version, no
// position); 2: a v2 genesis, positioned as entry 0. `admins`: the admin
// policy it names (PROTOCOL.md §11.7; none: a log made before it).
inline protocol::SignedEvent genesis(const std::string& hubId, const crypto::SigningKeyPair& hub, std::int64_t at = T0,
                                     std::uint32_t version = 1,
                                     const std::optional<protocol::AdminPolicy>& admins = std::nullopt) {
  capnp::MallocMessageBuilder m;
  auto e = m.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(at);
  auto g = e.initGenesis();
  g.setHubId(text(hubId));
  g.setHubKey(kjBytes(hub.publicKey.view()));
  if (admins) protocol::writeAdminPolicy(g.initAdmins(), *admins);
  if (version >= 2) {
    g.setLogVersion(version);
    protocol::setLogPosition(e, protocol::LogPosition{hubId, 0, protocol::logGenesisPrev()});
  }
  return protocol::signLogEvent(m, hub.secretKey);
}

// A v2 genesis naming `admins`, positioned as entry 0.
inline protocol::SignedEvent genesisWithAdmins(const std::string& hubId, const crypto::SigningKeyPair& hub,
                                               const protocol::AdminPolicy& admins, std::int64_t at = T0) {
  return genesis(hubId, hub, at, 2, admins);
}

// The hub's checkpoint that moves a v1 log to `version`, signed for `at`.
inline protocol::SignedEvent logVersion(const crypto::SigningSecretKey& hubKey, const protocol::LogPosition& at,
                                        std::int64_t issuedAtMs = T0, std::uint32_t version = 2) {
  capnp::MallocMessageBuilder m;
  auto e = m.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(issuedAtMs);
  e.initLogVersion().setVersion(version);
  protocol::setLogPosition(e, at);
  return protocol::signLogEvent(m, hubKey);
}

// The Register event's body for `pk` (unsigned: a client library signs
// what it sends). `name` empty: "Name of <id>".
inline void fillRegistration(wire::LogEvent::Builder e, const MemberSpec& spec, const crypto::PublicKeys& pk,
                             const std::string& name = {}) {
  auto r = e.initRegister();
  auto info = r.initMember();
  info.setId(text(spec.id));
  const std::string& given = name.empty() ? spec.name : name;
  info.setName(text(given.empty() ? "Name of " + spec.id : given));
  info.setState(text(spec.state));
  info.setInstitution(spec.institution);
  info.setIsAdmin(spec.admin);
  setKeys(r.initKeys(), pk);
}

inline protocol::SignedEvent registration(const MemberSpec& spec, const crypto::PublicKeys& pk,
                                          const crypto::SigningSecretKey& author, std::int64_t at = T0,
                                          const std::string& name = {}) {
  capnp::MallocMessageBuilder m;
  auto e = m.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(at);
  fillRegistration(e, spec, pk, name);
  return protocol::signLogEvent(m, author);
}

inline protocol::SignedEvent rotation(bool identity, const std::string& memberId, crypto::ByteView previous,
                               const crypto::PublicKeys& pk, const crypto::SigningSecretKey& author,
                               std::int64_t at = T0) {
  capnp::MallocMessageBuilder m;
  auto e = m.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(at);
  auto r = identity ? e.initRotateIdentity() : e.initRotateEncryption();
  r.setMemberId(text(memberId));
  r.setPreviousKey(kjBytes(previous));
  setKeys(r.initKeys(), pk);
  return protocol::signLogEvent(m, author);
}

inline protocol::SignedEvent revocation(const std::string& memberId, crypto::ByteView key,
                                 const crypto::SigningSecretKey& author, std::int64_t at = T0) {
  capnp::MallocMessageBuilder m;
  auto e = m.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(at);
  auto r = e.initRevoke();
  r.setMemberId(text(memberId));
  r.setKey(kjBytes(key));
  r.setReason(text("test"));
  return protocol::signLogEvent(m, author);
}

inline protocol::SignedEvent roleChange(const std::string& memberId, bool admin, const crypto::SigningSecretKey& author) {
  capnp::MallocMessageBuilder m;
  auto e = m.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(T0);
  auto r = e.initRoleChange();
  r.setMemberId(text(memberId));
  r.setIsAdmin(admin);
  return protocol::signLogEvent(m, author);
}

// A recordApproved outcome (the hub signs it with its own key).
inline protocol::SignedEvent recordApproved(const crypto::SigningSecretKey& author,
                                            const std::vector<std::string>& acknowledgedBy,
                                            const std::vector<std::string>& commentedBy = {},
                                            std::size_t recordIdBytes = 16, std::int64_t at = T0) {
  capnp::MallocMessageBuilder m;
  auto e = m.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(at);
  auto r = e.initRecordApproved();
  r.setRecordId(kjBytes(crypto::Bytes(recordIdBytes, 7)));
  r.setHeaderHash(kjBytes(crypto::Bytes(32, 9)));
  r.setDeadlineMs(at - 1);
  auto a = r.initAcknowledgedBy(static_cast<unsigned>(acknowledgedBy.size()));
  for (unsigned i = 0; i < acknowledgedBy.size(); ++i) a.set(i, text(acknowledgedBy[i]));
  auto c = r.initCommentedBy(static_cast<unsigned>(commentedBy.size()));
  for (unsigned i = 0; i < commentedBy.size(); ++i) c.set(i, text(commentedBy[i]));
  return protocol::signLogEvent(m, author);
}

// Copies the identity of `keys` with a fresh encryption key pair.
inline crypto::MemberKeys withNewEncryption(const crypto::MemberKeys& keys, std::int64_t at) {
  crypto::MemberKeys k;
  k.memberId = keys.memberId;
  k.identity = crypto::SigningKeyPair::fromSecret(keys.identity.secretKey.clone());
  k.encryption = crypto::BoxKeyPair::generate();
  k.createdAtMs = at;
  return k;
}

// An `admission`, `amendment` or `adminAction` outcome: the proposal and
// its approvals, signed by the hub key.
inline protocol::SignedEvent outcome(wire::LogEvent::Which kind, const crypto::SigningSecretKey& hubKey,
                                     const protocol::SignedRecordBytes& proposal,
                                     const std::vector<protocol::SignedRecordBytes>& approvals, std::int64_t at = T0) {
  capnp::MallocMessageBuilder m;
  auto e = m.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(at);
  auto a = kind == wire::LogEvent::ADMISSION ? e.initAdmission()
           : kind == wire::LogEvent::AMENDMENT ? e.initAmendment()
                                               : e.initAdminAction();
  a.initProposal().setBody(kjBytes(proposal.body));
  a.getProposal().setSignature(kjBytes(proposal.signature.view()));
  auto list = a.initApprovals(static_cast<unsigned>(approvals.size()));
  for (unsigned i = 0; i < approvals.size(); ++i) {
    list[i].setBody(kjBytes(approvals[i].body));
    list[i].setSignature(kjBytes(approvals[i].signature.view()));
  }
  return protocol::signLogEvent(m, hubKey);
}

inline protocol::SignedEvent adoption(bool admission, const crypto::SigningSecretKey& hubKey,
                                      const protocol::SignedRecordBytes& proposal,
                                      const std::vector<protocol::SignedRecordBytes>& approvals) {
  return outcome(admission ? wire::LogEvent::ADMISSION : wire::LogEvent::AMENDMENT, hubKey, proposal, approvals);
}

// An admin's AdminChange proposal of the change `ev` carries.
inline protocol::SignedRecordBytes changeProposal(const protocol::SignedEvent& ev, const crypto::MemberKeys& proposer,
                                                  std::int64_t at = T0, std::int64_t lifetimeMs = 30LL * 86'400'000) {
  auto parsed = protocol::decode<wire::LogEvent>(ev.event);
  if (!parsed) throw std::logic_error("changeProposal(): the event does not parse");
  return protocol::makeAdminChangeProposal(parsed->root(), proposer, at, at + lifetimeMs);
}

// `ev` signed again by `author` with its position set to `at` (log v2:
// the helpers above sign unpositioned, v1, events).
inline protocol::SignedEvent positioned(const protocol::SignedEvent& ev, const protocol::LogPosition& at,
                                        const crypto::SigningSecretKey& author) {
  auto parsed = protocol::decode<wire::LogEvent>(ev.event);
  if (!parsed) throw std::logic_error("positioned(): the event does not parse");
  capnp::MallocMessageBuilder m;
  m.setRoot(parsed->root());
  protocol::setLogPosition(m.getRoot<wire::LogEvent>(), at);
  return protocol::signLogEvent(m, author);
}

}  // namespace focal::test_support::events

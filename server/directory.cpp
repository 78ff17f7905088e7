#include "server/directory.hpp"

#include "crypto/keyfile.hpp"
#include "protocol/limits.hpp"
#include "protocol/log.hpp"
#include "server/identifiers.hpp"

#include <algorithm>
#include <stdexcept>

namespace focal::server {

namespace {

using wire::ErrorCode;
using protocol::view;

template <class F>
F fixed(crypto::ByteView b) {
  auto f = F::fromBytes(b);
  if (!f) throw std::logic_error("a checked key has the wrong length");
  return *f;
}

std::array<std::uint8_t, 32> key32(crypto::ByteView b) {
  std::array<std::uint8_t, 32> a{};
  if (b.size() != a.size()) throw std::logic_error("a checked key has the wrong length");
  std::copy(b.begin(), b.end(), a.begin());
  return a;
}

bool same(crypto::ByteView a, crypto::ByteView b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

// A single-line text the hub stores and other members are shown (names,
// reasons, ids): protocol::checkSingleLineText, refused as invalidRequest
// naming the field (PROTOCOL.md §3, "Text fields").
Result<Ok> checkStoredText(std::string_view text, std::string_view field) {
  if (const auto problem = protocol::checkSingleLineText(text); problem != protocol::TextProblem::None) {
    return fail(ErrorCode::INVALID_REQUEST, std::string(field) + " " + protocol::describe(problem));
  }
  return Ok{};
}

Result<Ok> checkMemberInfo(wire::MemberInfo::Reader m) {
  if (!validMemberId(view(m.getId()))) {
    return fail(ErrorCode::INVALID_REQUEST, "member ids match [a-z0-9][a-z0-9.-]{1,62}");
  }
  if (isGroupAddress(view(m.getId()))) {
    return fail(ErrorCode::INVALID_REQUEST, "a member id may not be a group address");
  }
  if (m.getName().size() > protocol::MaxTextFieldBytes) {
    return fail(ErrorCode::INVALID_REQUEST, "member name too long");
  }
  // SECURITY: a name is shown in every member's directory and banners; a
  // line break would add fake rows, an escape or bidi override rewrite them.
  if (auto ok = checkStoredText(view(m.getName()), "member name"); !ok) return ok;
  if (!validStateCode(view(m.getState()))) {
    return fail(ErrorCode::INVALID_REQUEST, "member state must be an ISO 3166 alpha-2 code in upper case, or empty");
  }
  const auto inst = static_cast<std::uint16_t>(m.getInstitution());
  if (inst == static_cast<std::uint16_t>(wire::Institution::UNSET) ||
      inst > static_cast<std::uint16_t>(wire::Institution::RESOURCE_PANEL)) {
    return fail(ErrorCode::INVALID_REQUEST, "member institution must be set");
  }
  return Ok{};
}

// Lengths, and the certificate binding the encryption key to the identity
// key for `memberId` (crypto::PublicKeys::certValid).
Result<Ok> checkKeySet(wire::KeySet::Reader k, std::string_view memberId) {
  auto identity = crypto::SigningPublicKey::fromBytes(view(k.getIdentityKey()));
  auto enc = crypto::BoxPublicKey::fromBytes(view(k.getEncryptionKey()));
  auto cert = crypto::Signature::fromBytes(view(k.getEncKeyCert()));
  if (!identity || !enc || !cert) return fail(ErrorCode::INVALID_REQUEST, "a key or certificate has the wrong length");
  crypto::PublicKeys pk;
  pk.memberId = std::string(memberId);
  pk.identity = *identity;
  pk.encryption = *enc;
  pk.createdAtMs = k.getEncKeyCreatedAtMs();
  pk.encCert = *cert;
  if (!pk.certValid()) return fail(ErrorCode::BAD_SIGNATURE, "the encryption key certificate does not verify");
  return Ok{};
}

// Structure of a recordApproved outcome: ids of the right lengths, a
// deadline, and member-id lists strictly ascending (one entry per member).
Result<Ok> checkRecordApproved(wire::LogEvent::RecordApproved::Reader r) {
  if (r.getRecordId().size() != 16 || r.getHeaderHash().size() != 32) {
    return fail(ErrorCode::INVALID_REQUEST, "recordApproved: recordId is 16 bytes and headerHash 32");
  }
  if (r.getDeadlineMs() <= 0) return fail(ErrorCode::INVALID_REQUEST, "recordApproved: no deadline");
  for (auto list : {r.getAcknowledgedBy(), r.getCommentedBy()}) {
    if (list.size() > protocol::MaxRecipients) return fail(ErrorCode::INVALID_REQUEST, "recordApproved: list too long");
    std::string_view prev;
    for (auto t : list) {
      const auto id = view(t);
      if (!validMemberId(id) || (!prev.empty() && !(prev < id))) {
        return fail(ErrorCode::INVALID_REQUEST, "recordApproved: member lists are sorted member ids");
      }
      prev = id;
    }
  }
  return Ok{};
}

void setKeys(MemberRecord& m, wire::KeySet::Reader k) {
  m.identityKey = fixed<crypto::SigningPublicKey>(view(k.getIdentityKey()));
  m.encryptionKey = fixed<crypto::BoxPublicKey>(view(k.getEncryptionKey()));
  m.encKeyCreatedAtMs = k.getEncKeyCreatedAtMs();
  m.encKeyCert = fixed<crypto::Signature>(view(k.getEncKeyCert()));
}

}  // namespace

bool MemberRecord::isRevokedKey(crypto::ByteView key) const {
  return std::any_of(revokedKeys.begin(), revokedKeys.end(),
                     [&](const auto& k) { return same(crypto::ByteView(k.data(), k.size()), key); });
}

bool MemberRecord::active() const {
  return !memberRevoked && !isRevokedKey(identityKey.view()) && !isRevokedKey(encryptionKey.view());
}

std::optional<protocol::ConsensusMember> Directory::consensusMember(std::string_view id) const {
  const MemberRecord* m = find(id);
  if (m == nullptr) return std::nullopt;
  return protocol::ConsensusMember{m->state, m->institution, m->isAdmin, m->active(), m->identityKey,
                                   m->identityHistory};
}

std::set<std::string> Directory::requiredStates() const {
  std::set<std::string> out;
  for (const auto& [id, m] : members_) {
    protocol::ConsensusMember cm;
    cm.state = m.state;
    cm.institution = m.institution;
    cm.active = m.active();
    if (protocol::isStatePoc(cm)) out.insert(m.state);
  }
  return out;
}

const MemberRecord* Directory::find(std::string_view id) const {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second;
}

bool Directory::keyInUse(crypto::ByteView key) const {
  if (size_ > 0 && same(hubKey_.view(), key)) return true;
  for (const auto& [id, m] : members_) {
    if (same(m.identityKey.view(), key) || same(m.encryptionKey.view(), key)) return true;
    for (const auto& k : m.previousIdentityKeys) if (same(k.view(), key)) return true;
    for (const auto& k : m.previousEncryptionKeys) if (same(k.view(), key)) return true;
  }
  return false;
}

std::size_t Directory::activeAdmins() const {
  return static_cast<std::size_t>(
      std::count_if(members_.begin(), members_.end(), [](const auto& p) { return p.second.isAdmin && p.second.active(); }));
}

Result<Ok> Directory::check(crypto::ByteView event, const crypto::Signature& signature, std::string_view authorId,
                            const crypto::SigningPublicKey& authorKey, std::optional<std::int64_t> nowMs,
                            std::optional<std::int64_t> atMs) const {
  auto parsed = protocol::verifyLogEvent(event, signature, authorKey);
  if (!parsed) {
    if (parsed.error() == protocol::LogError::BadSignature) {
      return fail(ErrorCode::BAD_SIGNATURE, "the log event's signature does not verify");
    }
    auto raw = protocol::decode<wire::LogEvent>(event);  // for the decoder's reason (a text field it names)
    return fail(ErrorCode::INVALID_REQUEST,
                raw ? std::string("the log event does not parse") : "the log event does not parse: " + raw.error().message);
  }
  auto e = parsed->root();
  if (nowMs) {
    const std::int64_t skew = e.getIssuedAtMs() - *nowMs;
    if (skew > protocol::MaxClockSkewMs || skew < -protocol::MaxClockSkewMs) {
      return fail(ErrorCode::STALE_TIMESTAMP, "issuedAtMs is outside the accepted clock window");
    }
  }
  return checkParsed(e, authorId, authorKey, atMs ? atMs : nowMs);
}

Result<Ok> Directory::checkParsed(wire::LogEvent::Reader e, std::string_view authorId,
                                  const crypto::SigningPublicKey& authorKey, std::optional<std::int64_t> atMs) const {
  using W = wire::LogEvent;
  const auto which = e.which();

  if (size_ == 0) {
    if (which != W::GENESIS) return fail(ErrorCode::INVALID_REQUEST, "the first log entry must be the genesis");
    auto g = e.getGenesis();
    if (!validMemberId(view(g.getHubId()))) return fail(ErrorCode::INVALID_REQUEST, "invalid hub id");
    if (!same(view(g.getHubKey()), authorKey.view()) || authorId != view(g.getHubId())) {
      return fail(ErrorCode::BAD_SIGNATURE, "the genesis must be signed by the hub key it names");
    }
    return Ok{};
  }
  if (which == W::GENESIS) return fail(ErrorCode::INVALID_REQUEST, "a genesis may only be entry 0");

  if (size_ == 1 && members_.empty()) {
    // The first admin registers itself; `focald init` is the authority.
    if (which != W::REGISTER) return fail(ErrorCode::INVALID_REQUEST, "entry 1 must register the first admin");
    auto r = e.getRegister();
    if (auto ok = checkMemberInfo(r.getMember()); !ok) return ok;
    if (auto ok = checkKeySet(r.getKeys(), view(r.getMember().getId())); !ok) return ok;
    if (!r.getMember().getIsAdmin()) return fail(ErrorCode::INVALID_REQUEST, "the first member must be an admin");
    if (authorId != view(r.getMember().getId()) || !same(authorKey.view(), view(r.getKeys().getIdentityKey()))) {
      return fail(ErrorCode::BAD_SIGNATURE, "the first admin's registration must be signed by its own key");
    }
    if (keyInUse(view(r.getKeys().getIdentityKey())) || keyInUse(view(r.getKeys().getEncryptionKey()))) {
      return fail(ErrorCode::INVALID_REQUEST, "a key of the new member is already in use");
    }
    return Ok{};
  }

  if (which == W::RECORD_APPROVED || which == W::ADMISSION || which == W::AMENDMENT) {
    // Consensus outcomes are the hub's own entries (PROTOCOL.md §11.1).
    if (authorId != hubId_ || !same(authorKey.view(), hubKey_.view())) {
      return fail(ErrorCode::FORBIDDEN, "a consensus outcome must be signed by the hub key");
    }
    if (which == W::RECORD_APPROVED) return checkRecordApproved(e.getRecordApproved());
    const bool admission = which == W::ADMISSION;
    auto a = admission ? e.getAdmission() : e.getAmendment();
    auto proposal = protocol::decode<wire::Proposal>(view(a.getProposal().getBody()));
    if (!proposal) return fail(ErrorCode::INVALID_REQUEST, "the consensus outcome's proposal does not parse");
    const auto kind = admission ? wire::Proposal::ADMISSION : wire::Proposal::AMENDMENT;
    if (proposal->root().which() != kind) {
      return fail(ErrorCode::INVALID_REQUEST, admission ? "an admission carries an admission proposal"
                                                        : "an amendment carries an amendment proposal");
    }
    if (admission) {
      auto r = proposal->root().getAdmission();
      if (auto ok = checkMemberInfo(r.getMember()); !ok) return ok;
      const auto id = view(r.getMember().getId());
      if (find(id) != nullptr) return fail(ErrorCode::INVALID_REQUEST, "member " + std::string(id) + " already exists");
      if (auto ok = checkKeySet(r.getKeys(), id); !ok) return ok;
      if (keyInUse(view(r.getKeys().getIdentityKey())) || keyInUse(view(r.getKeys().getEncryptionKey()))) {
        return fail(ErrorCode::INVALID_REQUEST, "a key of the admitted member is already in use");
      }
    }
    // Judged at the entry's time (the hub's clock at append).
    const std::int64_t at = atMs ? *atMs : proposal->root().getExpiresAtMs();
    auto ok = protocol::verifyAdoption(
        a, kind, at, [this](std::string_view m) { return consensusMember(m); }, requiredStates());
    if (!ok) return fail(ErrorCode::POLICY_DENIED, std::string(admission ? "admission: " : "amendment: ") + ok.error());
    return Ok{};
  }

  // The member id a rotation, revocation or role change names: refused as
  // text first, so no control character reaches a message or the audit.
  if (which == W::ROTATE_ENCRYPTION || which == W::ROTATE_IDENTITY || which == W::REVOKE || which == W::ROLE_CHANGE) {
    const auto target = which == W::ROTATE_ENCRYPTION ? e.getRotateEncryption().getMemberId()
                        : which == W::ROTATE_IDENTITY ? e.getRotateIdentity().getMemberId()
                        : which == W::REVOKE          ? e.getRevoke().getMemberId()
                                                      : e.getRoleChange().getMemberId();
    if (auto ok = checkStoredText(view(target), "memberId"); !ok) return ok;
  }

  const MemberRecord* author = find(authorId);
  if (author == nullptr || !author->active()) return fail(ErrorCode::FORBIDDEN, "the author is not an active member");
  if (!(author->identityKey == authorKey)) {
    return fail(ErrorCode::BAD_SIGNATURE, "the event is not signed by the author's current identity key");
  }

  switch (which) {
    case W::REGISTER: {
      if (!author->isAdmin) return fail(ErrorCode::FORBIDDEN, "only an admin may register members");
      auto r = e.getRegister();
      if (auto ok = checkMemberInfo(r.getMember()); !ok) return ok;
      const auto id = view(r.getMember().getId());
      if (find(id) != nullptr) return fail(ErrorCode::INVALID_REQUEST, "member " + std::string(id) + " already exists");
      if (auto ok = checkKeySet(r.getKeys(), id); !ok) return ok;
      if (keyInUse(view(r.getKeys().getIdentityKey())) || keyInUse(view(r.getKeys().getEncryptionKey()))) {
        return fail(ErrorCode::INVALID_REQUEST, "a key of the new member is already in use");
      }
      return Ok{};
    }
    case W::ROTATE_ENCRYPTION:
    case W::ROTATE_IDENTITY: {
      const bool identity = which == W::ROTATE_IDENTITY;
      auto r = identity ? e.getRotateIdentity() : e.getRotateEncryption();
      const MemberRecord* target = find(view(r.getMemberId()));
      if (target == nullptr) return fail(ErrorCode::UNKNOWN_RECIPIENT, "no member " + std::string(view(r.getMemberId())));
      if (target->memberRevoked) return fail(ErrorCode::REVOKED_KEY, "member " + target->id + " is revoked");
      if (target->id != author->id && !author->isAdmin) {
        return fail(ErrorCode::FORBIDDEN, "only the member itself or an admin may rotate its keys");
      }
      const crypto::ByteView current = identity ? target->identityKey.view() : target->encryptionKey.view();
      if (!same(view(r.getPreviousKey()), current)) {
        return fail(ErrorCode::INVALID_REQUEST, "previousKey is not the member's current key");
      }
      auto k = r.getKeys();
      if (auto ok = checkKeySet(k, target->id); !ok) return ok;
      const auto newIdentity = view(k.getIdentityKey());
      const auto newEnc = view(k.getEncryptionKey());
      if (identity) {
        if (keyInUse(newIdentity)) return fail(ErrorCode::INVALID_REQUEST, "the new identity key is already in use");
        if (!same(newEnc, target->encryptionKey.view()) && keyInUse(newEnc)) {
          return fail(ErrorCode::INVALID_REQUEST, "the new encryption key is already in use");
        }
        if (same(newEnc, target->encryptionKey.view()) && target->isRevokedKey(newEnc)) {
          return fail(ErrorCode::INVALID_REQUEST, "the encryption key is revoked; rotate it too");
        }
      } else {
        if (!same(newIdentity, target->identityKey.view())) {
          return fail(ErrorCode::INVALID_REQUEST, "an encryption rotation must keep the identity key");
        }
        if (keyInUse(newEnc)) return fail(ErrorCode::INVALID_REQUEST, "the new encryption key is already in use");
      }
      return Ok{};
    }
    case W::REVOKE: {
      if (!author->isAdmin) return fail(ErrorCode::FORBIDDEN, "only an admin may revoke");
      auto r = e.getRevoke();
      const MemberRecord* target = find(view(r.getMemberId()));
      if (target == nullptr) return fail(ErrorCode::UNKNOWN_RECIPIENT, "no member " + std::string(view(r.getMemberId())));
      if (target->memberRevoked) return fail(ErrorCode::INVALID_REQUEST, "member " + target->id + " is already revoked");
      if (r.getReason().size() > protocol::MaxTextFieldBytes) return fail(ErrorCode::INVALID_REQUEST, "reason too long");
      if (auto ok = checkStoredText(view(r.getReason()), "revocation reason"); !ok) return ok;
      const auto key = view(r.getKey());
      bool endsCurrent = key.empty();
      if (!key.empty()) {
        bool belongs = same(key, target->identityKey.view()) || same(key, target->encryptionKey.view());
        endsCurrent = belongs;
        for (const auto& k : target->previousIdentityKeys) belongs = belongs || same(k.view(), key);
        for (const auto& k : target->previousEncryptionKeys) belongs = belongs || same(k.view(), key);
        if (!belongs) return fail(ErrorCode::INVALID_REQUEST, "the key does not belong to member " + target->id);
        if (target->isRevokedKey(key)) return fail(ErrorCode::INVALID_REQUEST, "the key is already revoked");
      }
      if (endsCurrent && target->isAdmin && target->active() && activeAdmins() <= 1) {
        return fail(ErrorCode::INVALID_REQUEST, "refused: the hub would be left without an active admin");
      }
      return Ok{};
    }
    case W::ROLE_CHANGE: {
      if (!author->isAdmin) return fail(ErrorCode::FORBIDDEN, "only an admin may change roles");
      auto r = e.getRoleChange();
      const MemberRecord* target = find(view(r.getMemberId()));
      if (target == nullptr) return fail(ErrorCode::UNKNOWN_RECIPIENT, "no member " + std::string(view(r.getMemberId())));
      if (target->memberRevoked) return fail(ErrorCode::REVOKED_KEY, "member " + target->id + " is revoked");
      if (target->isAdmin && target->active() && !r.getIsAdmin() && activeAdmins() <= 1) {
        return fail(ErrorCode::INVALID_REQUEST, "refused: the hub would be left without an active admin");
      }
      return Ok{};
    }
    default:
      return fail(ErrorCode::INVALID_REQUEST, "unknown log event");
  }
}

StoredLogEntry Directory::prepare(crypto::Bytes event, const crypto::Signature& signature, std::string authorId,
                                  const crypto::SigningPublicKey& authorKey, std::int64_t recordedAtMs) const {
  StoredLogEntry e;
  e.index = size_;
  e.recordedAtMs = recordedAtMs;
  e.authorId = std::move(authorId);
  e.authorKey = authorKey;
  e.signature = signature;
  e.entryHash = protocol::logEntryHash(e.index, size_ == 0 ? protocol::logGenesisPrev() : root_, recordedAtMs, event,
                                       authorKey, signature);
  e.event = std::move(event);
  return e;
}

std::string Directory::apply(const StoredLogEntry& entry) {
  using W = wire::LogEvent;
  if (entry.index != size_) throw std::logic_error("log entry applied out of order");
  auto parsed = protocol::decode<wire::LogEvent>(entry.event);
  if (!parsed) throw std::logic_error("a checked log event does not parse: " + parsed.error().message);
  auto e = parsed->root();
  std::string changed;
  // A member as a register entry or an adopted admission names it.
  auto addMember = [&](auto info, auto keys) {
    MemberRecord m;
    m.id = std::string(view(info.getId()));
    m.name = std::string(view(info.getName()));
    m.state = std::string(view(info.getState()));
    m.institution = info.getInstitution();
    m.isAdmin = info.getIsAdmin();
    m.isSecretariat = info.getIsSecretariat();
    setKeys(m, keys);
    m.identityHistory.push_back(protocol::KeyPeriod{m.identityKey, 0, 0});
    m.logIndex = entry.index;
    std::string id = m.id;
    members_.insert_or_assign(id, std::move(m));
    return id;
  };
  switch (e.which()) {
    case W::GENESIS: {
      hubId_ = std::string(view(e.getGenesis().getHubId()));
      hubKey_ = fixed<crypto::SigningPublicKey>(view(e.getGenesis().getHubKey()));
      break;
    }
    case W::REGISTER: {
      auto r = e.getRegister();
      changed = addMember(r.getMember(), r.getKeys());
      break;
    }
    case W::ROTATE_ENCRYPTION:
    case W::ROTATE_IDENTITY: {
      auto r = e.which() == W::ROTATE_IDENTITY ? e.getRotateIdentity() : e.getRotateEncryption();
      auto it = members_.find(view(r.getMemberId()));
      if (it == members_.end()) throw std::logic_error("rotation of an unknown member");
      MemberRecord& m = it->second;
      const auto oldIdentity = m.identityKey;
      const auto oldEnc = m.encryptionKey;
      setKeys(m, r.getKeys());
      if (!(oldIdentity == m.identityKey)) {
        m.previousIdentityKeys.push_back(oldIdentity);
        if (!m.identityHistory.empty()) m.identityHistory.back().replacedAtMs = entry.recordedAtMs;
        m.identityHistory.push_back(protocol::KeyPeriod{m.identityKey, 0, 0});
      }
      if (!(oldEnc == m.encryptionKey)) m.previousEncryptionKeys.push_back(oldEnc);
      m.logIndex = entry.index;
      changed = m.id;
      break;
    }
    case W::REVOKE: {
      auto r = e.getRevoke();
      auto it = members_.find(view(r.getMemberId()));
      if (it == members_.end()) throw std::logic_error("revocation of an unknown member");
      MemberRecord& m = it->second;
      if (r.getKey().size() == 0) {
        m.memberRevoked = true;
        for (auto& p : m.identityHistory) {
          if (p.revokedAtMs == 0) p.revokedAtMs = entry.recordedAtMs;
        }
      } else {
        m.revokedKeys.push_back(key32(view(r.getKey())));
        for (auto& p : m.identityHistory) {
          if (same(p.key.view(), view(r.getKey()))) p.revokedAtMs = entry.recordedAtMs;
        }
      }
      m.logIndex = entry.index;
      changed = m.id;
      break;
    }
    case W::ROLE_CHANGE: {
      auto r = e.getRoleChange();
      auto it = members_.find(view(r.getMemberId()));
      if (it == members_.end()) throw std::logic_error("role change of an unknown member");
      it->second.isAdmin = r.getIsAdmin();
      it->second.isSecretariat = r.getIsSecretariat();
      it->second.logIndex = entry.index;
      changed = it->second.id;
      break;
    }
    case W::RECORD_APPROVED:
      break;  // an outcome about a bulletin: no member changes
    case W::AMENDMENT:
      break;  // an adopted text: the log is its record; no member changes
    case W::ADMISSION: {
      auto proposal = protocol::decode<wire::Proposal>(view(e.getAdmission().getProposal().getBody()));
      if (!proposal) throw std::logic_error("a checked admission does not parse");
      auto r = proposal->root().getAdmission();
      changed = addMember(r.getMember(), r.getKeys());
      break;
    }
    default:
      throw std::logic_error("a checked log event has an unknown kind");
  }
  size_ = entry.index + 1;
  root_ = entry.entryHash;
  return changed;
}

void Directory::applyUnchecked(const StoredLogEntry& entry) {
  StoredLogEntry copy = entry;
  copy.index = size_;
  try {
    apply(copy);
  } catch (...) {  // a forged entry may not even read (kj::Exception)
    size_ = copy.index + 1;
    root_ = copy.entryHash;
  }
}

Expected<Directory, std::string> Directory::replay(const std::vector<StoredLogEntry>& entries) {
  Directory d;
  for (const auto& entry : entries) {
    const std::string where = "log entry " + std::to_string(entry.index) + ": ";
    if (entry.index != d.size_) return unexpected(where + "out of sequence");
    if (auto ok = d.check(entry.event, entry.signature, entry.authorId, entry.authorKey, std::nullopt, entry.recordedAtMs);
        !ok) {
      return unexpected(where + ok.error().message);
    }
    const auto expected = protocol::logEntryHash(entry.index, d.size_ == 0 ? protocol::logGenesisPrev() : d.root_,
                                                 entry.recordedAtMs, entry.event, entry.authorKey, entry.signature);
    if (!(expected == entry.entryHash)) return unexpected(where + "hash chain broken");
    d.apply(entry);
  }
  return d;
}

}  // namespace focal::server

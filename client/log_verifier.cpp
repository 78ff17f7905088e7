#include "client/log_verifier.hpp"

#include "crypto/keyfile.hpp"
#include "crypto/primitives.hpp"
#include "protocol/consensus.hpp"
#include "protocol/distribution.hpp"
#include "protocol/limits.hpp"
#include "protocol/log.hpp"
#include "protocol/signing.hpp"

#include <fmt/format.h>
#include <kj/exception.h>
#include <sodium.h>

#include <algorithm>
#include <thread>

namespace focal::client {

namespace {

using protocol::view;
using W = wire::LogEvent;
using Fail = Expected<Ok, std::string>;

Fail no(std::string why) { return Fail(unexpected(std::move(why))); }

bool same(crypto::ByteView a, crypto::ByteView b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

const char* kindName(W::Which w) {
  switch (w) {
    case W::GENESIS: return "genesis";
    case W::REGISTER: return "register";
    case W::ROTATE_ENCRYPTION: return "rotate-encryption";
    case W::ROTATE_IDENTITY: return "rotate-identity";
    case W::REVOKE: return "revoke";
    case W::ROLE_CHANGE: return "role-change";
    case W::RECORD_APPROVED: return "record-approved";
    case W::ADMISSION: return "admission";
    case W::AMENDMENT: return "amendment";
  }
  return "unknown";
}

Fail checkMemberInfo(wire::MemberInfo::Reader m) {
  const auto id = view(m.getId());
  if (!protocol::isRegistrableMemberId(id)) return no("invalid member id");
  if (m.getName().size() > protocol::MaxTextFieldBytes) return no("member name too long");
  const auto st = view(m.getState());
  if (!(st.empty() || (st.size() == 2 && st[0] >= 'A' && st[0] <= 'Z' && st[1] >= 'A' && st[1] <= 'Z'))) {
    return no("invalid member state");
  }
  const auto inst = static_cast<std::uint16_t>(m.getInstitution());
  if (inst == 0 || inst > static_cast<std::uint16_t>(wire::Institution::RESOURCE_PANEL)) return no("institution unset");
  return Ok{};
}

bool certVerifies(wire::KeySet::Reader k, std::string_view memberId) {
  auto identity = crypto::SigningPublicKey::fromBytes(view(k.getIdentityKey()));
  auto enc = crypto::BoxPublicKey::fromBytes(view(k.getEncryptionKey()));
  auto cert = crypto::Signature::fromBytes(view(k.getEncKeyCert()));
  return identity && enc && cert &&
         crypto::verify(crypto::EncKeyCertContext,
                        crypto::encKeyCertMessage(memberId, *identity, *enc, k.getEncKeyCreatedAtMs()), *cert, *identity);
}

// Lengths and the encryption-key certificate by the set's identity key
// (verified here unless `verifyCert` is false or `preOk` says how it went).
Fail checkKeySet(wire::KeySet::Reader k, std::string_view memberId, bool verifyCert, const bool* preOk = nullptr) {
  auto identity = crypto::SigningPublicKey::fromBytes(view(k.getIdentityKey()));
  auto enc = crypto::BoxPublicKey::fromBytes(view(k.getEncryptionKey()));
  auto cert = crypto::Signature::fromBytes(view(k.getEncKeyCert()));
  if (!identity || !enc || !cert) return no("a key or certificate has the wrong length");
  const bool ok = !verifyCert || (preOk != nullptr ? *preOk : certVerifies(k, memberId));
  if (!ok) return no(fmt::format("the encryption key certificate of {} does not verify", memberId));
  return Ok{};
}

// The KeySet an event carries and the member it is for, if any.
std::optional<std::pair<wire::KeySet::Reader, std::string_view>> keySetOf(wire::LogEvent::Reader e,
                                                                         std::optional<protocol::Parsed<wire::Proposal>>& holder) {
  switch (e.which()) {
    case W::REGISTER: return std::pair{e.getRegister().getKeys(), view(e.getRegister().getMember().getId())};
    case W::ROTATE_ENCRYPTION:
      return std::pair{e.getRotateEncryption().getKeys(), view(e.getRotateEncryption().getMemberId())};
    case W::ROTATE_IDENTITY: return std::pair{e.getRotateIdentity().getKeys(), view(e.getRotateIdentity().getMemberId())};
    case W::ADMISSION: {
      auto p = protocol::decode<wire::Proposal>(view(e.getAdmission().getProposal().getBody()));
      if (!p || p->root().which() != wire::Proposal::ADMISSION) return std::nullopt;
      holder.emplace(std::move(p).value());
      auto r = holder->root().getAdmission();
      return std::pair{r.getKeys(), view(r.getMember().getId())};
    }
    default: return std::nullopt;
  }
}

std::array<std::uint8_t, 32> key32(crypto::ByteView b);

void setKeys(MemberRecord& m, wire::KeySet::Reader k) {
  m.identityKey = *crypto::SigningPublicKey::fromBytes(view(k.getIdentityKey()));
  m.encryptionKey = *crypto::BoxPublicKey::fromBytes(view(k.getEncryptionKey()));
  m.encKeyCreatedAtMs = k.getEncKeyCreatedAtMs();
  m.encKeyCert = *crypto::Signature::fromBytes(view(k.getEncKeyCert()));
}

std::array<std::uint8_t, 32> key32(crypto::ByteView b) {
  std::array<std::uint8_t, 32> a{};
  std::copy(b.begin(), b.end(), a.begin());
  return a;
}

bool isRevoked(const LogMember& m, crypto::ByteView key) {
  return std::any_of(m.revokedKeys.begin(), m.revokedKeys.end(),
                     [&](const auto& k) { return same(crypto::ByteView(k.data(), k.size()), key); });
}

bool activeMember(const LogMember& m) {
  return m.record.revokedAtMs == 0 && !isRevoked(m, m.record.identityKey.view()) &&
         !isRevoked(m, m.record.encryptionKey.view());
}

}  // namespace

const LogMember* LogVerifier::find(std::string_view id) const {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second;
}

std::vector<MemberRecord> LogVerifier::records() const {
  std::vector<MemberRecord> out;
  out.reserve(members_.size());
  for (const auto& [id, m] : members_) {
    out.push_back(m.record);
    out.back().active = activeMember(m);
  }
  return out;
}

bool LogVerifier::keyInUse(crypto::ByteView key) const {
  return key.size() == 32 && usedKeys_.contains(key32(key));
}

std::size_t LogVerifier::activeAdmins() const {
  return static_cast<std::size_t>(std::count_if(members_.begin(), members_.end(), [](const auto& p) {
    return p.second.record.isAdmin && activeMember(p.second);
  }));
}

Expected<Ok, std::string> LogVerifier::append(const LogEntryRecord& entry) { return appendChecked(entry, nullptr); }

LogVerifier::Precheck LogVerifier::precheck(const LogEntryRecord& entry) {
  Precheck p;
  auto authorKey = crypto::SigningPublicKey::fromBytes(entry.authorKey);
  auto signature = crypto::Signature::fromBytes(entry.signature);
  p.signatureOk = authorKey && signature && crypto::verify(protocol::context::LogEvent, entry.event, *signature, *authorKey);
  p.certOk = true;
  try {
    if (auto parsed = protocol::decode<wire::LogEvent>(entry.event)) {
      std::optional<protocol::Parsed<wire::Proposal>> holder;
      if (auto ks = keySetOf(parsed->root(), holder)) p.certOk = certVerifies(ks->first, ks->second);
    }
  } catch (const kj::Exception&) {
    p.certOk = false;  // malformed: the in-order pass reports it
  }
  return p;
}

Expected<Ok, std::string> LogVerifier::appendAll(std::span<const LogEntryRecord> entries, unsigned threads) {
  if (options_.trustSignatures || entries.size() < 64) {
    for (const auto& e : entries) {
      if (auto ok = append(e); !ok) return ok;
    }
    return Ok{};
  }
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, entries.size() / 32 + 1));
  std::vector<Precheck> pre(entries.size());
  {
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (std::size_t i = t; i < entries.size(); i += threads) pre[i] = precheck(entries[i]);
      });
    }
    for (std::size_t i = 0; i < entries.size(); i += threads) pre[i] = precheck(entries[i]);
    for (auto& th : pool) th.join();
  }
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (auto ok = appendChecked(entries[i], &pre[i]); !ok) return ok;
  }
  return Ok{};
}

Expected<Ok, std::string> LogVerifier::appendChecked(const LogEntryRecord& entry, const Precheck* pre) {
  const std::string where = fmt::format("log entry {}: ", size_);
  if (entry.index != size_) {
    return no(entry.index > size_
                  ? fmt::format("log entry {} is missing (the hub sent entry {} in its place)", size_, entry.index)
                  : fmt::format("log entry {} was sent again where entry {} belongs (reordered log)", entry.index,
                                size_));
  }
  auto authorKey = crypto::SigningPublicKey::fromBytes(entry.authorKey);
  auto signature = crypto::Signature::fromBytes(entry.signature);
  if (!authorKey || !signature) return no(where + "author key or signature has the wrong length");
  if (entry.event.size() > 64 * 1024) return no(where + "event too large");
  // SECURITY: the event bytes come from the hub. decode() walked them, but a
  // pointer of the wrong kind only fails when read (kj::Exception, which is
  // not a std::exception): that is a malformed entry, never a crash.
  try {
    if (auto ok = check(entry, *authorKey, *signature, pre); !ok) return no(where + ok.error());
    apply(entry);
  } catch (const kj::Exception&) {
    return no(where + "the event is malformed");
  }
  return Ok{};
}

Expected<Ok, std::string> LogVerifier::check(const LogEntryRecord& entry, const crypto::SigningPublicKey& authorKey,
                                             const crypto::Signature& signature, const Precheck* pre) const {
  const bool sigs = !options_.trustSignatures;
  const bool* preCert = pre != nullptr ? &pre->certOk : nullptr;
  if (sigs && !(pre != nullptr ? pre->signatureOk
                               : crypto::verify(protocol::context::LogEvent, entry.event, signature, authorKey))) {
    return no(fmt::format("the signature of author {} does not verify (the entry was altered)", entry.authorId));
  }
  auto parsed = protocol::decode<wire::LogEvent>(entry.event);
  if (!parsed) return no("the event does not parse");
  const auto e = parsed->root();
  const auto which = e.which();
  const std::string_view authorId = entry.authorId;

  if (size_ == 0) {
    if (which != W::GENESIS) return no("the first entry is not the genesis");
    auto g = e.getGenesis();
    if (!protocol::isMemberIdSyntax(view(g.getHubId()))) return no("invalid hub id");
    if (!same(view(g.getHubKey()), authorKey.view()) || authorId != view(g.getHubId())) {
      return no("the genesis is not signed by the hub key it names");
    }
    return Ok{};
  }
  if (which == W::GENESIS) return no("a second genesis");

  if (size_ == 1 && members_.empty()) {
    if (which != W::REGISTER) return no("entry 1 must register the first admin");
    auto r = e.getRegister();
    if (auto ok = checkMemberInfo(r.getMember()); !ok) return ok;
    if (auto ok = checkKeySet(r.getKeys(), view(r.getMember().getId()), sigs, preCert); !ok) return ok;
    if (!r.getMember().getIsAdmin()) return no("the first member must be an admin");
    if (authorId != view(r.getMember().getId()) || !same(authorKey.view(), view(r.getKeys().getIdentityKey()))) {
      return no("the first admin's registration is not signed by its own key");
    }
    if (keyInUse(view(r.getKeys().getIdentityKey())) || keyInUse(view(r.getKeys().getEncryptionKey()))) {
      return no("a key of the first admin is already in use");
    }
    return Ok{};
  }

  if (which == W::RECORD_APPROVED || which == W::ADMISSION || which == W::AMENDMENT) {
    if (authorId != hubId_ || !(authorKey == hubKey_)) return no("a consensus outcome not signed by the hub key");
    if (which == W::RECORD_APPROVED) {
      // The hub's word that a summary record's window closed without
      // objection: its structure is checked here; what it claims (silence)
      // is checkable only against the record's recipients (SECURITY.md).
      auto r = e.getRecordApproved();
      if (r.getRecordId().size() != 16 || r.getHeaderHash().size() != 32) return no("recordApproved: bad id or hash length");
      if (r.getDeadlineMs() <= 0) return no("recordApproved: no deadline");
      for (auto list : {r.getAcknowledgedBy(), r.getCommentedBy()}) {
        if (list.size() > protocol::MaxRecipients) return no("recordApproved: list too long");
        std::string_view prev;
        for (auto t : list) {
          const auto id = view(t);
          if (!protocol::isMemberIdSyntax(id) || (!prev.empty() && !(prev < id))) return no("recordApproved: member lists are sorted ids");
          prev = id;
        }
      }
      return Ok{};
    }
    const bool admission = which == W::ADMISSION;
    const auto outcome = admission ? e.getAdmission() : e.getAmendment();
    if (admission) {
      auto proposal = protocol::decode<wire::Proposal>(view(outcome.getProposal().getBody()));
      if (!proposal || proposal->root().which() != wire::Proposal::ADMISSION) return no("admission without a proposal");
      auto r = proposal->root().getAdmission();
      if (auto ok = checkMemberInfo(r.getMember()); !ok) return ok;
      const auto id = view(r.getMember().getId());
      if (find(id) != nullptr) return no(fmt::format("member {} already exists", id));
      if (auto ok = checkKeySet(r.getKeys(), id, sigs, preCert); !ok) return ok;
      if (keyInUse(view(r.getKeys().getIdentityKey())) || keyInUse(view(r.getKeys().getEncryptionKey()))) {
        return no("a key of the admitted member is already in use");
      }
    }
    // The consensus itself: the proposal by an active admin, one approval
    // per member state with an active point of contact at this point of
    // the log, each signed by that point of contact with the identity key
    // it held when it decided (PROTOCOL.md §12.5). Signature checks cannot
    // be skipped for cached entries here; they are a handful per entry.
    std::set<std::string> required;
    for (const auto& [mid, m] : members_) {
      protocol::ConsensusMember cm;
      cm.state = m.record.state;
      cm.institution = m.record.institution;
      cm.active = activeMember(m);
      if (protocol::isStatePoc(cm)) required.insert(m.record.state);
    }
    auto lookup = [this](std::string_view mid) -> std::optional<protocol::ConsensusMember> {
      const LogMember* m = find(mid);
      if (m == nullptr) return std::nullopt;
      return consensusMemberOf(m->record, activeMember(*m));
    };
    const auto kind = admission ? wire::Proposal::ADMISSION : wire::Proposal::AMENDMENT;
    if (auto ok = protocol::verifyAdoption(outcome, kind, entry.recordedAtMs, lookup, required); !ok) {
      return no((admission ? "admission: " : "amendment: ") + ok.error());
    }
    return Ok{};
  }

  const LogMember* author = find(authorId);
  if (author == nullptr || !activeMember(*author)) {
    return no(fmt::format("author {} is not an active member at this point of the log", authorId));
  }
  if (!(author->record.identityKey == authorKey)) {
    return no(fmt::format("not signed by the current identity key of {}", authorId));
  }
  const bool admin = author->record.isAdmin;
  switch (which) {
    case W::REGISTER: {
      if (!admin) return no(fmt::format("{} registered a member but is not an admin", authorId));
      auto r = e.getRegister();
      if (auto ok = checkMemberInfo(r.getMember()); !ok) return ok;
      const auto id = view(r.getMember().getId());
      if (find(id) != nullptr) return no(fmt::format("member {} already exists", id));
      if (auto ok = checkKeySet(r.getKeys(), id, sigs, preCert); !ok) return ok;
      if (keyInUse(view(r.getKeys().getIdentityKey())) || keyInUse(view(r.getKeys().getEncryptionKey()))) {
        return no(fmt::format("a key of new member {} is already in use", id));
      }
      return Ok{};
    }
    case W::ROTATE_ENCRYPTION:
    case W::ROTATE_IDENTITY: {
      const bool identity = which == W::ROTATE_IDENTITY;
      auto r = identity ? e.getRotateIdentity() : e.getRotateEncryption();
      const LogMember* target = find(view(r.getMemberId()));
      if (target == nullptr) return no(fmt::format("rotation of unknown member {}", view(r.getMemberId())));
      const auto& t = target->record;
      if (t.revokedAtMs != 0) return no(fmt::format("rotation of revoked member {}", t.id));
      if (t.id != author->record.id && !admin) {
        return no(fmt::format("{} rotated the keys of {} but is neither that member nor an admin", authorId, t.id));
      }
      const crypto::ByteView current = identity ? t.identityKey.view() : t.encryptionKey.view();
      if (!same(view(r.getPreviousKey()), current)) return no(fmt::format("previousKey is not the current key of {}", t.id));
      auto k = r.getKeys();
      if (auto ok = checkKeySet(k, t.id, sigs, preCert); !ok) return ok;
      const auto newIdentity = view(k.getIdentityKey());
      const auto newEnc = view(k.getEncryptionKey());
      if (identity) {
        if (keyInUse(newIdentity)) return no("the new identity key is already in use");
        if (!same(newEnc, t.encryptionKey.view()) && keyInUse(newEnc)) return no("the new encryption key is already in use");
        if (same(newEnc, t.encryptionKey.view()) && isRevoked(*target, newEnc)) return no("keeps a revoked encryption key");
      } else {
        if (!same(newIdentity, t.identityKey.view())) return no("an encryption rotation changed the identity key");
        if (keyInUse(newEnc)) return no("the new encryption key is already in use");
      }
      return Ok{};
    }
    case W::REVOKE: {
      if (!admin) return no(fmt::format("{} revoked but is not an admin", authorId));
      auto r = e.getRevoke();
      const LogMember* target = find(view(r.getMemberId()));
      if (target == nullptr) return no(fmt::format("revocation of unknown member {}", view(r.getMemberId())));
      if (target->record.revokedAtMs != 0) return no(fmt::format("member {} revoked twice", target->record.id));
      if (r.getReason().size() > protocol::MaxTextFieldBytes) return no("reason too long");
      const auto key = view(r.getKey());
      bool endsCurrent = key.empty();
      if (!key.empty()) {
        const auto& t = target->record;
        bool belongs = same(key, t.encryptionKey.view());
        endsCurrent = belongs || same(key, t.identityKey.view());
        for (const auto& p : t.identityHistory) belongs = belongs || same(p.key.view(), key);
        for (const auto& k : target->previousEncryptionKeys) belongs = belongs || same(k.view(), key);
        if (!belongs) return no(fmt::format("the revoked key does not belong to {}", t.id));
        if (isRevoked(*target, key)) return no("a key revoked twice");
      }
      if (endsCurrent && target->record.isAdmin && activeMember(*target) && activeAdmins() <= 1) {
        return no("the last active admin revoked");
      }
      return Ok{};
    }
    case W::ROLE_CHANGE: {
      if (!admin) return no(fmt::format("{} changed a role but is not an admin", authorId));
      auto r = e.getRoleChange();
      const LogMember* target = find(view(r.getMemberId()));
      if (target == nullptr) return no(fmt::format("role change of unknown member {}", view(r.getMemberId())));
      if (target->record.revokedAtMs != 0) return no(fmt::format("role change of revoked member {}", target->record.id));
      if (target->record.isAdmin && activeMember(*target) && !r.getIsAdmin() && activeAdmins() <= 1) {
        return no("the last active admin demoted");
      }
      return Ok{};
    }
    default:
      return no(fmt::format("unknown event kind {}", kindName(which)));
  }
}

void LogVerifier::apply(const LogEntryRecord& entry) {
  auto parsed = protocol::decode<wire::LogEvent>(entry.event);  // checked
  const auto e = parsed->root();
  const auto at = entry.recordedAtMs;
  auto addMember = [&](W::Register::Reader r) {
    auto info = r.getMember();
    LogMember m;
    m.record.id = std::string(view(info.getId()));
    m.record.name = std::string(view(info.getName()));
    m.record.state = std::string(view(info.getState()));
    m.record.institution = info.getInstitution();
    m.record.isAdmin = info.getIsAdmin();
    m.record.isSecretariat = info.getIsSecretariat();
    m.record.keysWellFormed = true;
    m.record.certValid = true;
    m.record.active = true;
    setKeys(m.record, r.getKeys());
    m.record.identityHistory.push_back({m.record.identityKey, 0, 0});
    usedKeys_.insert(key32(m.record.identityKey.view()));
    usedKeys_.insert(key32(m.record.encryptionKey.view()));
    m.record.logIndex = entry.index;
    const std::string id = m.record.id;
    members_.insert_or_assign(id, std::move(m));
  };
  switch (e.which()) {
    case W::GENESIS:
      hubId_ = std::string(view(e.getGenesis().getHubId()));
      hubKey_ = *crypto::SigningPublicKey::fromBytes(view(e.getGenesis().getHubKey()));
      usedKeys_.insert(key32(hubKey_.view()));
      break;
    case W::REGISTER: addMember(e.getRegister()); break;
    case W::ADMISSION: {
      auto proposal = protocol::decode<wire::Proposal>(view(e.getAdmission().getProposal().getBody()));
      addMember(proposal->root().getAdmission());
      break;
    }
    case W::ROTATE_ENCRYPTION:
    case W::ROTATE_IDENTITY: {
      auto r = e.which() == W::ROTATE_IDENTITY ? e.getRotateIdentity() : e.getRotateEncryption();
      LogMember& m = members_.find(view(r.getMemberId()))->second;
      const auto oldIdentity = m.record.identityKey;
      const auto oldEnc = m.record.encryptionKey;
      setKeys(m.record, r.getKeys());
      usedKeys_.insert(key32(m.record.identityKey.view()));
      usedKeys_.insert(key32(m.record.encryptionKey.view()));
      if (!(oldIdentity == m.record.identityKey)) {
        m.record.identityHistory.back().replacedAtMs = at;
        m.record.identityHistory.push_back({m.record.identityKey, 0, 0});
      }
      if (!(oldEnc == m.record.encryptionKey)) m.previousEncryptionKeys.push_back(oldEnc);
      m.record.logIndex = entry.index;
      break;
    }
    case W::REVOKE: {
      auto r = e.getRevoke();
      LogMember& m = members_.find(view(r.getMemberId()))->second;
      const auto key = view(r.getKey());
      if (key.empty()) {
        m.record.revokedAtMs = at;
        m.record.revokeReason = std::string(view(r.getReason()));
        for (auto& p : m.record.identityHistory) {
          if (p.revokedAtMs == 0) p.revokedAtMs = at;
        }
      } else {
        m.revokedKeys.push_back(key32(key));
        for (auto& p : m.record.identityHistory) {
          if (same(p.key.view(), key)) p.revokedAtMs = at;
        }
      }
      m.record.logIndex = entry.index;
      break;
    }
    case W::ROLE_CHANGE: {
      auto r = e.getRoleChange();
      LogMember& m = members_.find(view(r.getMemberId()))->second;
      m.record.isAdmin = r.getIsAdmin();
      m.record.isSecretariat = r.getIsSecretariat();
      m.record.logIndex = entry.index;
      break;
    }
    default: break;
  }
  const auto authorKey = *crypto::SigningPublicKey::fromBytes(entry.authorKey);
  const auto signature = *crypto::Signature::fromBytes(entry.signature);
  root_ = protocol::logEntryHash(entry.index, size_ == 0 ? protocol::logGenesisPrev() : root_, entry.recordedAtMs,
                                 entry.event, authorKey, signature);
  hashes_.push_back(root_);
  ++size_;
}

Expected<HeadInfo, std::string> parseSignedHead(const SignedHeadBytes& head, const crypto::SigningPublicKey& hubKey) {
  auto sig = crypto::Signature::fromBytes(head.signature);
  if (!sig) return Expected<HeadInfo, std::string>(unexpected(std::string("the log head signature has the wrong length")));
  auto parsed = protocol::verifyLogHead(head.head, *sig, hubKey);
  if (!parsed) {
    return Expected<HeadInfo, std::string>(unexpected(
        std::string(parsed.error() == protocol::LogError::BadSignature ? "the hub's signature on the log head does not verify"
                                                                       : "the log head is malformed")));
  }
  const auto h = parsed->root();
  HeadInfo info;
  info.hubId = std::string(view(h.getHubId()));
  info.size = h.getSize();
  info.root = *crypto::Hash256::fromBytes(view(h.getRootHash()));
  info.timeMs = h.getTimeMs();
  return info;
}

Expected<Ok, std::string> LogVerifier::checkHead(const SignedHeadBytes& head) const {
  if (size_ == 0) return no("no genesis verified yet");
  auto info = parseSignedHead(head, hubKey_);
  if (!info) return no(info.error());
  if (info->hubId != hubId_) return no(fmt::format("the log head names hub '{}', the log is of '{}'", info->hubId, hubId_));
  if (info->size != size_) return no(fmt::format("the log head covers {} entries, {} were verified", info->size, size_));
  if (!(info->root == root_)) {
    return no(fmt::format("the log head's root hash does not match the {} entries the hub sent (an entry was altered, "
                          "removed or reordered)",
                          size_));
  }
  return Ok{};
}

}  // namespace focal::client

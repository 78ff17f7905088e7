// The directory log's state machine (see directory_log.hpp): check and
// apply of every entry kind, and the one text of every refusal.
#include "protocol/directory_log.hpp"

#include "crypto/keyfile.hpp"
#include "crypto/primitives.hpp"
#include "protocol/distribution.hpp"
#include "protocol/limits.hpp"
#include "protocol/log.hpp"
#include "protocol/signing.hpp"
#include "protocol/text.hpp"

#include <kj/exception.h>
#include <sodium.h>

#include <algorithm>
#include <stdexcept>

namespace focal::protocol {

namespace {

using W = wire::LogEvent;
using Check = Expected<Ok, LogRefusal>;

Check no(LogRule rule, std::string subject = {}, std::string detail = {}) {
  return Check(unexpected(LogRefusal{rule, std::move(subject), std::move(detail)}));
}

bool same(crypto::ByteView a, crypto::ByteView b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::array<std::uint8_t, 32> key32(crypto::ByteView b) {
  std::array<std::uint8_t, 32> a{};
  if (b.size() != a.size()) throw std::logic_error("a checked key has the wrong length");
  std::copy(b.begin(), b.end(), a.begin());
  return a;
}

std::array<std::uint8_t, 16> id16(crypto::ByteView b) {
  std::array<std::uint8_t, 16> a{};
  if (b.size() != a.size()) throw std::logic_error("a checked proposal id has the wrong length");
  std::copy(b.begin(), b.end(), a.begin());
  return a;
}

template <class F>
F fixed(crypto::ByteView b) {
  auto f = F::fromBytes(b);
  if (!f) throw std::logic_error("a checked key has the wrong length");
  return *f;
}

// A single-line text other members are shown (names, reasons, ids).
// SECURITY: a line break would add fake rows to a directory or banner, an
// escape or bidi override rewrite them.
Check checkText(std::string_view text, std::string_view field) {
  if (const auto problem = checkSingleLineText(text); problem != TextProblem::None) {
    return no(LogRule::TextField, std::string(field), describe(problem));
  }
  return Ok{};
}

Check checkMemberInfo(wire::MemberInfo::Reader m) {
  const auto id = view(m.getId());
  if (!isMemberIdSyntax(id)) return no(LogRule::InvalidMemberId);
  if (isGroupAddressWord(id)) return no(LogRule::GroupAddressId);
  if (m.getName().size() > MaxTextFieldBytes) return no(LogRule::NameTooLong);
  if (auto ok = checkText(view(m.getName()), "member name"); !ok) return ok;
  const auto st = view(m.getState());
  if (!(st.empty() || (st.size() == 2 && st[0] >= 'A' && st[0] <= 'Z' && st[1] >= 'A' && st[1] <= 'Z'))) {
    return no(LogRule::InvalidState);
  }
  const auto inst = static_cast<std::uint16_t>(m.getInstitution());
  if (inst == static_cast<std::uint16_t>(wire::Institution::UNSET) ||
      inst > static_cast<std::uint16_t>(wire::Institution::RESOURCE_PANEL)) {
    return no(LogRule::InstitutionUnset);
  }
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

// Lengths, and the certificate binding the encryption key to the identity
// key for `memberId` (unless signatures are trusted or were prechecked).
Check checkKeySet(wire::KeySet::Reader k, std::string_view memberId, const DirectoryLog::CheckOptions& o) {
  if (k.getIdentityKey().size() != crypto::SigningPublicKey::size ||
      k.getEncryptionKey().size() != crypto::BoxPublicKey::size || k.getEncKeyCert().size() != crypto::Signature::size) {
    return no(LogRule::KeyLength);
  }
  const bool ok = !o.verifySignatures || (o.precheck != nullptr ? o.precheck->certOk : certVerifies(k, memberId));
  if (!ok) return no(LogRule::CertInvalid, std::string(memberId));
  return Ok{};
}

// Structure of a recordApproved outcome: ids of the right lengths, a
// deadline, member-id lists strictly ascending. What it claims (silence)
// is checkable only against the record's recipients (SECURITY.md).
Check checkRecordApproved(W::RecordApproved::Reader r) {
  if (r.getRecordId().size() != 16 || r.getHeaderHash().size() != 32) {
    return no(LogRule::RecordApprovedShape, {}, "recordId is 16 bytes and headerHash 32");
  }
  if (r.getDeadlineMs() <= 0) return no(LogRule::RecordApprovedShape, {}, "no deadline");
  for (auto list : {r.getAcknowledgedBy(), r.getCommentedBy()}) {
    if (list.size() > MaxRecipients) return no(LogRule::RecordApprovedShape, {}, "list too long");
    std::string_view prev;
    for (auto t : list) {
      const auto id = view(t);
      if (!isMemberIdSyntax(id) || (!prev.empty() && !(prev < id))) {
        return no(LogRule::RecordApprovedShape, {}, "member lists are sorted member ids");
      }
      prev = id;
    }
  }
  return Ok{};
}

// The KeySet an event carries and the member it is for, if any.
std::optional<std::pair<wire::KeySet::Reader, std::string_view>> keySetOf(W::Reader e,
                                                                         std::optional<Parsed<wire::Proposal>>& holder) {
  switch (e.which()) {
    case W::REGISTER: return std::pair{e.getRegister().getKeys(), view(e.getRegister().getMember().getId())};
    case W::ROTATE_ENCRYPTION:
      return std::pair{e.getRotateEncryption().getKeys(), view(e.getRotateEncryption().getMemberId())};
    case W::ROTATE_IDENTITY: return std::pair{e.getRotateIdentity().getKeys(), view(e.getRotateIdentity().getMemberId())};
    case W::ADMISSION: {
      auto p = decode<wire::Proposal>(view(e.getAdmission().getProposal().getBody()));
      if (!p || p->root().which() != wire::Proposal::ADMISSION) return std::nullopt;
      holder.emplace(std::move(p).value());
      auto r = holder->root().getAdmission();
      return std::pair{r.getKeys(), view(r.getMember().getId())};
    }
    case W::ADMIN_ACTION: {
      auto p = decode<wire::Proposal>(view(e.getAdminAction().getProposal().getBody()));
      if (!p || p->root().which() != wire::Proposal::ADMIN_CHANGE) return std::nullopt;
      holder.emplace(std::move(p).value());
      auto c = holder->root().getAdminChange();
      switch (c.which()) {
        case wire::AdminChange::REGISTER:
          return std::pair{c.getRegister().getKeys(), view(c.getRegister().getMember().getId())};
        case wire::AdminChange::ROTATE_ENCRYPTION:
          return std::pair{c.getRotateEncryption().getKeys(), view(c.getRotateEncryption().getMemberId())};
        case wire::AdminChange::ROTATE_IDENTITY:
          return std::pair{c.getRotateIdentity().getKeys(), view(c.getRotateIdentity().getMemberId())};
        default: return std::nullopt;
      }
    }
    default: return std::nullopt;
  }
}

void setKeys(LogMember& m, wire::KeySet::Reader k) {
  m.identityKey = fixed<crypto::SigningPublicKey>(view(k.getIdentityKey()));
  m.encryptionKey = fixed<crypto::BoxPublicKey>(view(k.getEncryptionKey()));
  m.encKeyCreatedAtMs = k.getEncKeyCreatedAtMs();
  m.encKeyCert = fixed<crypto::Signature>(view(k.getEncKeyCert()));
}

}  // namespace

// ---- refusal texts ---------------------------------------------------------------------

std::string describe(const LogRefusal& r) {
  const std::string& s = r.subject;
  const std::string& d = r.detail;
  switch (r.rule) {
    case LogRule::OutOfSequence: {
      // subject: the index sent, detail: the index expected.
      const bool ahead = std::stoull(s) > std::stoull(d);
      return ahead ? "log entry " + d + " is missing (the hub sent entry " + s + " in its place)"
                   : "log entry " + s + " was sent again where entry " + d + " belongs (reordered log)";
    }
    case LogRule::EventTooLarge: return "the event is larger than 64 KiB";
    case LogRule::BadSignature: return "the signature of author " + s + " does not verify (the entry was altered)";
    case LogRule::Malformed: return d.empty() ? "the event does not parse" : "the event does not parse: " + d;
    case LogRule::ClockSkew: return "issuedAtMs is outside the accepted clock window";
    case LogRule::NotGenesis: return "the first log entry must be the genesis";
    case LogRule::InvalidHubId: return "invalid hub id";
    case LogRule::GenesisNotByHubKey: return "the genesis must be signed by the hub key it names";
    case LogRule::SecondGenesis: return "a genesis may only be entry 0";
    case LogRule::NotFirstAdmin: return "entry 1 must register the first admin";
    case LogRule::FirstMemberNotAdmin: return "the first member must be an admin";
    case LogRule::FirstAdminWrongSigner: return "the first admin's registration must be signed by the hub key or by the admin's own key";
    case LogRule::InvalidMemberId: return "member ids match [a-z0-9][a-z0-9.-]{1,62}";
    case LogRule::GroupAddressId: return "a member id may not be a group address";
    case LogRule::NameTooLong: return "member name too long";
    case LogRule::TextField: return s + " " + d;
    case LogRule::InvalidState: return "member state must be an ISO 3166 alpha-2 code in upper case, or empty";
    case LogRule::InstitutionUnset: return "member institution must be set";
    case LogRule::KeyLength: return "a key or certificate has the wrong length";
    case LogRule::CertInvalid: return "the encryption key certificate of " + s + " does not verify";
    case LogRule::KeyInUse: return "the new " + d + " key of " + s + " is already in use";
    case LogRule::OutcomeNotByHub: return "a consensus outcome must be signed by the hub key";
    case LogRule::RecordApprovedShape: return "recordApproved: " + d;
    case LogRule::ProposalMismatch:
      return s + " without a proposal (the outcome's proposal does not parse or is not an " + s + ")";
    case LogRule::MemberExists: return "member " + s + " already exists";
    case LogRule::AdoptionRefused: return s + ": " + d;
    case LogRule::AuthorNotActive: return "author " + s + " is not an active member at this point of the log";
    case LogRule::NotCurrentIdentityKey: return "not signed by the current identity key of " + s;
    case LogRule::NotAdmin: return "only an admin may " + d + "; " + s + " is not an admin";
    case LogRule::UnknownMember: return "no member " + s;
    case LogRule::MemberRevoked: return "member " + s + " is revoked";
    case LogRule::AlreadyRevoked: return "member " + s + " is already revoked";
    case LogRule::NotSelfOrAdmin:
      return "only the member itself or an admin may rotate its keys; " + s + " is neither that member nor an admin";
    case LogRule::PreviousKeyMismatch: return "previousKey is not the current key of " + s;
    case LogRule::IdentityChanged: return "an encryption rotation must keep the identity key";
    case LogRule::KeepsRevokedKey: return "the encryption key is revoked; rotate it too";
    case LogRule::ReasonTooLong: return "reason too long";
    case LogRule::KeyNotMembers: return "the key does not belong to member " + s;
    case LogRule::KeyAlreadyRevoked: return "the key is already revoked";
    case LogRule::LastAdmin:
      return "refused: the hub would be left without an active admin (" + s + " is the last active admin)";
    case LogRule::UnknownEventKind: return "unknown log event";
    case LogRule::DuplicateEvent: return "the same event as entry " + s + " (a replayed entry)";
    case LogRule::Unpositioned:
      return "the event does not carry the position its author signed it for (required in a v2 log)";
    case LogRule::PositionMismatch:
      if (s == "index") return "its author signed it for entry " + d + " (moved, dropped entries before it, or replayed)";
      if (s == "hub") return "its author signed it for hub '" + d + "'";
      return "its author signed it to follow another entry than the one before it (the log before it was changed)";
    case LogRule::TimeBackwards: return "recorded before entry " + s + " (times go backwards)";
    case LogRule::IssuedOutsideWindow:
      return "issued at " + s + " ms but recorded at " + d + " ms, more than " +
             std::to_string(LogIssueWindowMs / 60'000) + " minutes apart";
    case LogRule::LogVersionChange: return "log version: " + d;
    case LogRule::BadWitnessPolicy: return "witness policy: " + d;
    case LogRule::PanelByConsensus:
      return "resource-panel member " + s +
             " may join only by the consensus of every member state (an admission), not by an admin's register";
    case LogRule::BadAdminPolicy: return "admin policy: " + d;
    case LogRule::QuorumRequired:
      return "one admin may not " + d + " alone (" + s +
             "): this log needs the admin quorum, an adminAction signed by k admins of two member states";
    case LogRule::QuorumNotMet: return "adminAction: " + d;
    case LogRule::QuorumWouldBreak:
      return "refused: the hub would be left with fewer than " + d +
             " active admins from two member states (the admin quorum) without " + s;
    case LogRule::ProposalReplayed: return "the proposal was already adopted at entry " + s + " (a replayed outcome)";
    case LogRule::RotationTooEarly:
      return "an admin's rotation of the keys of " + s + " may take effect only at " + d +
             " ms (the policy's delay after its proposal)";
    case LogRule::NotSecretariat: return "only the secretariat may " + d + "; " + s + " is not secretariat";
    case LogRule::RoleShape: return "working-group role: " + d;
    case LogRule::RoleTaken: return "working-group role: " + s + " already holds " + d + "; end it first";
    case LogRule::SecondFocalPoint:
      return "working-group role: " + d + " already has a SOMTC focal point (" + s + "); end it first";
    case LogRule::RoleNotHeld: return "working-group role: " + s + " does not hold " + d;
    case LogRule::UnknownDecision:
      return "working-group role: decision " + s +
             " is neither an approved summary record nor an adopted amendment earlier in the log";
  }
  return "unknown refusal";
}

std::string describeAt(std::uint64_t index, const LogRefusal& r) {
  if (r.rule == LogRule::OutOfSequence) return describe(r);
  return "log entry " + std::to_string(index) + ": " + describe(r);
}

// ---- members ---------------------------------------------------------------------------

bool LogMember::isRevokedKey(crypto::ByteView key) const {
  return std::any_of(revokedKeys.begin(), revokedKeys.end(),
                     [&](const auto& k) { return same(crypto::ByteView(k.data(), k.size()), key); });
}

bool LogMember::holds(wire::WorkingGroupRole role, std::string_view term) const {
  return std::any_of(wgRoles.begin(), wgRoles.end(), [&](const WgRole& r) { return r.role == role && r.term == term; });
}

bool LogMember::holdsRole(wire::WorkingGroupRole role) const {
  return std::any_of(wgRoles.begin(), wgRoles.end(), [&](const WgRole& r) { return r.role == role; });
}

bool LogMember::admittedTo(const crypto::BulletinId& meetingId) const {
  return std::binary_search(meetings.begin(), meetings.end(), meetingId);
}

bool LogMember::chairs() const {
  return holdsRole(wire::WorkingGroupRole::CHAIR) || holdsRole(wire::WorkingGroupRole::CO_CHAIR);
}

bool LogMember::active() const {
  return !memberRevoked && !isRevokedKey(identityKey.view()) && !isRevokedKey(encryptionKey.view());
}

bool LogMember::heldKey(crypto::ByteView key) const {
  return same(key, encryptionKey.view()) ||
         std::any_of(identityHistory.begin(), identityHistory.end(), [&](const auto& p) { return same(p.key.view(), key); }) ||
         std::any_of(previousEncryptionKeys.begin(), previousEncryptionKeys.end(),
                     [&](const auto& k) { return same(k.view(), key); });
}

ConsensusMember LogMember::consensus() const {
  return ConsensusMember{state,       institution,     isAdmin,
                         active(),    identityKey,     identityHistory,
                         chairs()};
}

const LogMember* DirectoryLog::find(std::string_view id) const {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second;
}

std::set<std::string> DirectoryLog::requiredStates() const {
  return protocol::requiredStates(members_, [](const auto& p) {
    return StateSeat{p.second.state, p.second.institution, p.second.active()};
  });
}

std::optional<ConsensusMember> DirectoryLog::consensusMember(std::string_view id) const {
  const LogMember* m = find(id);
  if (m == nullptr) return std::nullopt;
  return m->consensus();
}

bool DirectoryLog::keyInUse(crypto::ByteView key) const {
  return key.size() == 32 && usedKeys_.contains(key32(key));
}

// ---- check -----------------------------------------------------------------------------

EntryPrecheck precheck(const LogEntryView& entry) {
  EntryPrecheck p;
  p.signatureOk = crypto::verify(context::LogEvent, entry.event, entry.signature, entry.authorKey);
  p.certOk = true;
  try {
    if (auto parsed = decode<wire::LogEvent>(entry.event)) {
      std::optional<Parsed<wire::Proposal>> holder;
      if (auto ks = keySetOf(parsed->root(), holder)) p.certOk = certVerifies(ks->first, ks->second);
    }
  } catch (const kj::Exception&) {
    p.certOk = false;  // malformed: the in-order check reports it
  }
  return p;
}

Expected<Ok, LogRefusal> DirectoryLog::check(const LogEntryView& entry, const CheckOptions& o) const {
  if (entry.index != size_) return no(LogRule::OutOfSequence, std::to_string(entry.index), std::to_string(size_));
  if (entry.event.size() > MaxLogEventBytes) return no(LogRule::EventTooLarge);
  const bool signatureOk = !o.verifySignatures ||
                           (o.precheck != nullptr ? o.precheck->signatureOk
                                                  : crypto::verify(context::LogEvent, entry.event, entry.signature,
                                                                   entry.authorKey));
  if (!signatureOk) return no(LogRule::BadSignature, std::string(entry.authorId));
  auto parsed = decode<wire::LogEvent>(entry.event);
  if (!parsed) return no(LogRule::Malformed, {}, parsed.error().message);
  // SECURITY: decode() walked the bytes, but a pointer of the wrong kind
  // only fails when read (kj::Exception): a malformed entry, never a crash.
  try {
    const auto e = parsed->root();
    if (o.nowMs) {
      const std::int64_t skew = e.getIssuedAtMs() - *o.nowMs;
      if (skew > MaxClockSkewMs || skew < -MaxClockSkewMs) return no(LogRule::ClockSkew);
    }
    if (auto ok = checkPlace(e, entry); !ok) return ok;
    if (auto ok = checkEvent(e, entry, o); !ok) return ok;
    // Last, so an invalid event is refused for what is wrong with it. In v2
    // a repeated event already failed its position (the same bytes name
    // the same index); for v1 entries this is the only replay check.
    const auto earlier = eventHashes_.find(key32(crypto::hash256(entry.event).view()));
    if (earlier != eventHashes_.end()) return no(LogRule::DuplicateEvent, std::to_string(earlier->second));
    return Ok{};
  } catch (const kj::Exception&) {
    return no(LogRule::Malformed, {}, "a field has the wrong type");
  }
}

// Where and when an entry stands (see the header), in v2 (in force from a
// v2 genesis, or from the checkpoint that starts it): the author's signed
// position must be this entry's, and recordedAtMs must not go back nor lie
// far from issuedAtMs.
Expected<Ok, LogRefusal> DirectoryLog::checkPlace(W::Reader e, const LogEntryView& entry) const {
  const bool startsV2 = (e.which() == W::GENESIS && e.getGenesis().getLogVersion() >= LogVersion2) ||
                        (e.which() == W::LOG_VERSION && size_ > 0);
  if (version_ < LogVersion2 && !startsV2) return Ok{};
  if (!e.hasPosition()) return no(LogRule::Unpositioned);
  const auto p = e.getPosition();
  const std::string_view hubId = size_ == 0 && e.which() == W::GENESIS ? view(e.getGenesis().getHubId())
                                                                         : std::string_view(hubId_);
  if (view(p.getHubId()) != hubId) return no(LogRule::PositionMismatch, "hub", std::string(view(p.getHubId())));
  if (p.getIndex() != size_) return no(LogRule::PositionMismatch, "index", std::to_string(p.getIndex()));
  const auto prev = size_ == 0 ? logGenesisPrev() : root_;
  if (!same(view(p.getPrevEntryHash()), prev.view())) return no(LogRule::PositionMismatch, "previous");
  if (size_ > 0 && entry.recordedAtMs < lastRecordedAtMs_) {
    return no(LogRule::TimeBackwards, std::to_string(size_ - 1));
  }
  const std::int64_t apart = e.getIssuedAtMs() - entry.recordedAtMs;
  if (apart > LogIssueWindowMs || apart < -LogIssueWindowMs) {
    return no(LogRule::IssuedOutsideWindow, std::to_string(e.getIssuedAtMs()), std::to_string(entry.recordedAtMs));
  }
  return Ok{};
}

// A genesis names version 1 or 2; a `logVersion` checkpoint, by the hub,
// moves a v1 log to v2 (the only change there is).
Expected<Ok, LogRefusal> DirectoryLog::checkVersion(W::Reader e, const LogEntryView& entry) const {
  if (e.which() == W::GENESIS) {
    const auto v = e.getGenesis().getLogVersion();
    if (v > CurrentLogVersion) return no(LogRule::LogVersionChange, {}, "unknown version " + std::to_string(v));
    return Ok{};
  }
  if (entry.authorId != hubId_ || !(entry.authorKey == hubKey_)) return no(LogRule::OutcomeNotByHub);
  const auto v = e.getLogVersion().getVersion();
  if (v != LogVersion2 || version_ != LogVersion1) {
    return no(LogRule::LogVersionChange, {},
              "a checkpoint may only move a v1 log to v2 (this log is v" + std::to_string(version_) +
                  ", the checkpoint names v" + std::to_string(v) + ")");
  }
  return Ok{};
}

Expected<Ok, LogRefusal> DirectoryLog::checkEvent(W::Reader e, const LogEntryView& entry, const CheckOptions& o) const {
  const auto which = e.which();
  const std::string_view authorId = entry.authorId;
  if (size_ == 0) {
    if (which != W::GENESIS) return no(LogRule::NotGenesis);
    auto g = e.getGenesis();
    if (!isMemberIdSyntax(view(g.getHubId()))) return no(LogRule::InvalidHubId);
    if (!same(view(g.getHubKey()), entry.authorKey.view()) || authorId != view(g.getHubId())) {
      return no(LogRule::GenesisNotByHubKey);
    }
    if (g.hasWitnesses()) {
      if (auto policy = readWitnessPolicy(g.getWitnesses()); !policy) {
        return no(LogRule::BadWitnessPolicy, {}, policy.error());
      }
    }
    if (g.hasAdmins()) {
      if (auto policy = readAdminPolicy(g.getAdmins()); !policy) return no(LogRule::BadAdminPolicy, {}, policy.error());
    }
    return checkVersion(e, entry);
  }
  if (which == W::GENESIS) return no(LogRule::SecondGenesis);
  if (which == W::LOG_VERSION) return checkVersion(e, entry);
  // Entries 1..firstAdmins: the first admins, nothing else.
  if (members_.size() < adminPolicy_.firstAdmins && size_ == members_.size() + 1) {
    if (which != W::REGISTER) return no(LogRule::NotFirstAdmin);
    return checkFirstAdmin(e.getRegister(), entry, o);
  }
  if (which == W::RECORD_APPROVED || which == W::ADMISSION || which == W::AMENDMENT) return checkOutcome(e, entry, o);
  if (which == W::ADMIN_ACTION) return checkAdminAction(e, entry, o);

  const LogMember* author = find(authorId);
  if (author == nullptr || !author->active()) return no(LogRule::AuthorNotActive, std::string(authorId));
  if (!(author->identityKey == entry.authorKey)) return no(LogRule::NotCurrentIdentityKey, std::string(authorId));
  // SECURITY: where the log names a quorum, no admin changes another
  // member alone (PROTOCOL.md §11.7); a rotation of one's own keys stays
  // the member's own entry.
  if (author->isAdmin && which != W::ROTATE_ENCRYPTION && which != W::ROTATE_IDENTITY && which != W::WG_ROLE &&
      adminPolicy_.quorum >= 2) {
    return no(LogRule::QuorumRequired, author->id, which == W::REGISTER ? "register members"
                                                   : which == W::REVOKE ? "revoke members or keys"
                                                                        : "change roles");
  }
  if (author->isAdmin && (which == W::ROTATE_ENCRYPTION || which == W::ROTATE_IDENTITY) &&
      (adminPolicy_.quorum >= 2 || adminPolicy_.forcedRotationDelayMs > 0)) {
    const auto target = view(which == W::ROTATE_IDENTITY ? e.getRotateIdentity().getMemberId()
                                                         : e.getRotateEncryption().getMemberId());
    if (target != author->id) return no(LogRule::QuorumRequired, author->id, "rotate another member's keys");
  }
  return checkChange(e, *author, o);
}

Expected<Ok, LogRefusal> DirectoryLog::checkChange(W::Reader e, const LogMember& author, const CheckOptions& o) const {
  // The member id a rotation, revocation or role change names: refused as
  // text first, so no control character reaches a message or the audit.
  const auto which = e.which();
  if (which == W::ROTATE_ENCRYPTION || which == W::ROTATE_IDENTITY || which == W::REVOKE || which == W::ROLE_CHANGE) {
    const auto target = which == W::ROTATE_ENCRYPTION ? e.getRotateEncryption().getMemberId()
                        : which == W::ROTATE_IDENTITY ? e.getRotateIdentity().getMemberId()
                        : which == W::REVOKE          ? e.getRevoke().getMemberId()
                                                      : e.getRoleChange().getMemberId();
    if (auto ok = checkText(view(target), "memberId"); !ok) return ok;
  }
  switch (which) {
    case W::REGISTER: {
      if (!author.isAdmin) return no(LogRule::NotAdmin, author.id, "register members");
      const auto info = e.getRegister().getMember();
      // SECURITY: one admin key cannot seat a resource-panel member (terms of
      // reference §7: panel status by consensus). v1 entries, made before
      // this rule, keep their meaning.
      if (version_ >= LogVersion2 && info.getInstitution() == wire::Institution::RESOURCE_PANEL) {
        if (auto ok = checkMemberInfo(info); !ok) return ok;  // the id is quoted below
        return no(LogRule::PanelByConsensus, std::string(view(info.getId())));
      }
      return checkNewMember(info, e.getRegister().getKeys(), o);
    }
    case W::ROTATE_ENCRYPTION:
    case W::ROTATE_IDENTITY: return checkRotation(e, author, o);
    case W::REVOKE: return checkRevoke(e.getRevoke(), author);
    case W::ROLE_CHANGE: return checkRoleChange(e.getRoleChange(), author);
    case W::WG_ROLE: return checkWgRole(e.getWgRole(), author);
    default: return no(LogRule::UnknownEventKind);
  }
}

// The first admin: registered by the hub key (`focald init --admin-pub`) or,
// in logs made before that, by itself; `focald init` is the authority.
Expected<Ok, LogRefusal> DirectoryLog::checkFirstAdmin(W::Register::Reader r, const LogEntryView& entry,
                                                       const CheckOptions& o) const {
  if (auto ok = checkMemberInfo(r.getMember()); !ok) return ok;
  const auto id = view(r.getMember().getId());
  if (auto ok = checkKeySet(r.getKeys(), id, o); !ok) return ok;
  if (!r.getMember().getIsAdmin()) return no(LogRule::FirstMemberNotAdmin);
  const bool byHub = entry.authorId == hubId_ && entry.authorKey == hubKey_;
  // Only entry 1 of a log made before `focald init --admin-pub` is
  // self-signed; the further first admins of a quorum are the hub's.
  const bool bySelf = entry.index == 1 && entry.authorId == id &&
                      same(entry.authorKey.view(), view(r.getKeys().getIdentityKey()));
  if (!byHub && !bySelf) {
    return no(LogRule::FirstAdminWrongSigner);
  }
  if (find(id) != nullptr) return no(LogRule::MemberExists, std::string(id));
  if (keyInUse(view(r.getKeys().getIdentityKey()))) return no(LogRule::KeyInUse, std::string(id), "identity");
  if (keyInUse(view(r.getKeys().getEncryptionKey()))) return no(LogRule::KeyInUse, std::string(id), "encryption");
  // The last first admin: a quorum of k >= 2 must be reachable, from two
  // member states, or no change could ever be made.
  if (members_.size() + 1 == adminPolicy_.firstAdmins && adminPolicy_.quorum >= 2) {
    std::set<std::string> states;
    for (const auto& [mid, m] : members_) {
      if (!m.state.empty()) states.insert(m.state);
    }
    if (r.getMember().getState().size() > 0) states.emplace(view(r.getMember().getState()));
    if (states.size() < 2) return no(LogRule::BadAdminPolicy, {}, "the first admins are not from two member states");
  }
  return Ok{};
}

// A member a register entry or an adopted admission adds.
Expected<Ok, LogRefusal> DirectoryLog::checkNewMember(wire::MemberInfo::Reader info, wire::KeySet::Reader keys,
                                                      const CheckOptions& o) const {
  if (auto ok = checkMemberInfo(info); !ok) return ok;
  const auto id = view(info.getId());
  if (find(id) != nullptr) return no(LogRule::MemberExists, std::string(id));
  if (auto ok = checkKeySet(keys, id, o); !ok) return ok;
  if (keyInUse(view(keys.getIdentityKey()))) return no(LogRule::KeyInUse, std::string(id), "identity");
  if (keyInUse(view(keys.getEncryptionKey()))) return no(LogRule::KeyInUse, std::string(id), "encryption");
  return Ok{};
}

// Consensus outcomes are the hub's own entries (PROTOCOL.md §11.1). An
// adoption is the proposal by an active admin with one approval per member
// state with an active point of contact at this point of the log, each
// signed by that point of contact with the identity key it held when it
// decided (PROTOCOL.md §12.5; verified even for a trusted cache).
Expected<Ok, LogRefusal> DirectoryLog::checkOutcome(W::Reader e, const LogEntryView& entry,
                                                    const CheckOptions& o) const {
  const auto which = e.which();
  if (entry.authorId != hubId_ || !(entry.authorKey == hubKey_)) return no(LogRule::OutcomeNotByHub);
  if (which == W::RECORD_APPROVED) return checkRecordApproved(e.getRecordApproved());
  const bool admission = which == W::ADMISSION;
  const std::string kindName = admission ? "admission" : "amendment";
  auto a = admission ? e.getAdmission() : e.getAmendment();
  auto proposal = decode<wire::Proposal>(view(a.getProposal().getBody()));
  const auto kind = admission ? wire::Proposal::ADMISSION : wire::Proposal::AMENDMENT;
  if (!proposal || proposal->root().which() != kind) return no(LogRule::ProposalMismatch, kindName);
  if (proposal->root().getProposalId().size() == 16) {
    if (auto it = adoptedProposals_.find(id16(view(proposal->root().getProposalId()))); it != adoptedProposals_.end()) {
      return no(LogRule::ProposalReplayed, std::to_string(it->second));
    }
  }
  if (admission) {
    auto r = proposal->root().getAdmission();
    if (auto ok = checkNewMember(r.getMember(), r.getKeys(), o); !ok) return ok;
  }
  const std::int64_t at = o.adoptedAtMs ? *o.adoptedAtMs : proposal->root().getExpiresAtMs();
  auto ok = verifyAdoption(
      a, kind, at, [this](std::string_view m) { return consensusMember(m); }, requiredStates());
  if (!ok) return no(LogRule::AdoptionRefused, kindName, ok.error());
  return Ok{};
}

// An admin change with its quorum (PROTOCOL.md §11.7): the change must be
// valid as its proposer's own entry, the proposer and approvers must make
// the policy's quorum, a forced rotation must have waited its delay, and
// the proposal may be adopted only once.
Expected<Ok, LogRefusal> DirectoryLog::checkAdminAction(W::Reader e, const LogEntryView& entry,
                                                        const CheckOptions& o) const {
  if (entry.authorId != hubId_ || !(entry.authorKey == hubKey_)) return no(LogRule::OutcomeNotByHub);
  const auto a = e.getAdminAction();
  auto proposal = decode<wire::Proposal>(view(a.getProposal().getBody()));
  if (!proposal || proposal->root().which() != wire::Proposal::ADMIN_CHANGE) {
    return no(LogRule::ProposalMismatch, "admin change");
  }
  const auto p = proposal->root();
  if (p.getProposalId().size() == 16) {
    if (auto it = adoptedProposals_.find(id16(view(p.getProposalId()))); it != adoptedProposals_.end()) {
      return no(LogRule::ProposalReplayed, std::to_string(it->second));
    }
  }
  // Meetings belong to a panel admission only (PROTOCOL.md §12.5).
  if (auto meetings = readProposalMeetings(p); !meetings) {
    return no(LogRule::AdoptionRefused, "admin change", meetings.error());
  }
  auto signers = countAdminSigners(
      a, entry.recordedAtMs, [this](std::string_view m) { return consensusMember(m); });
  if (!signers) return no(LogRule::QuorumNotMet, {}, signers.error());
  if (auto missing = quorumShortfall(*signers, adminPolicy_)) return no(LogRule::QuorumNotMet, {}, *missing);
  if (p.getCreatedAtMs() - entry.recordedAtMs > LogIssueWindowMs) {
    return no(LogRule::QuorumNotMet, {}, "the proposal was made after the entry was recorded");
  }
  const auto change = p.getAdminChange();
  if (isForcedRotation(change, view(p.getProposerId()))) {
    const std::int64_t due = p.getCreatedAtMs() + adminPolicy_.forcedRotationDelayMs;
    if (entry.recordedAtMs < due) {
      return no(LogRule::RotationTooEarly, std::string(adminChangeTarget(change)), std::to_string(due));
    }
  }
  capnp::MallocMessageBuilder inner;
  copyChangeEvent(inner.initRoot<W>(), change);
  const LogMember* proposer = find(view(p.getProposerId()));  // countAdminSigners found it active
  return checkChange(inner.getRoot<W>().asReader(), *proposer, o);
}

Expected<Ok, LogRefusal> DirectoryLog::checkProposedChange(wire::AdminChange::Reader change,
                                                           std::string_view proposerId) const {
  try {
    const LogMember* proposer = find(proposerId);
    if (proposer == nullptr || !proposer->active()) return no(LogRule::AuthorNotActive, std::string(proposerId));
    if (!proposer->isAdmin) return no(LogRule::NotAdmin, proposer->id, "propose directory changes");
    capnp::MallocMessageBuilder inner;
    copyChangeEvent(inner.initRoot<W>(), change);
    return checkChange(inner.getRoot<W>().asReader(), *proposer, CheckOptions{});
  } catch (const kj::Exception&) {
    return no(LogRule::Malformed, {}, "a field has the wrong type");
  }
}

Expected<Ok, LogRefusal> DirectoryLog::checkRotation(W::Reader e, const LogMember& author,
                                                     const CheckOptions& o) const {
  const bool identity = e.which() == W::ROTATE_IDENTITY;
  auto r = identity ? e.getRotateIdentity() : e.getRotateEncryption();
  const LogMember* target = find(view(r.getMemberId()));
  if (target == nullptr) return no(LogRule::UnknownMember, std::string(view(r.getMemberId())));
  if (target->memberRevoked) return no(LogRule::MemberRevoked, target->id);
  if (target->id != author.id && !author.isAdmin) return no(LogRule::NotSelfOrAdmin, author.id);
  const crypto::ByteView current = identity ? target->identityKey.view() : target->encryptionKey.view();
  if (!same(view(r.getPreviousKey()), current)) return no(LogRule::PreviousKeyMismatch, target->id);
  auto k = r.getKeys();
  if (auto ok = checkKeySet(k, target->id, o); !ok) return ok;
  const auto newIdentity = view(k.getIdentityKey());
  const auto newEnc = view(k.getEncryptionKey());
  if (identity) {
    if (keyInUse(newIdentity)) return no(LogRule::KeyInUse, target->id, "identity");
    const bool keepsEnc = same(newEnc, target->encryptionKey.view());
    if (!keepsEnc && keyInUse(newEnc)) return no(LogRule::KeyInUse, target->id, "encryption");
    if (keepsEnc && target->isRevokedKey(newEnc)) return no(LogRule::KeepsRevokedKey);
  } else {
    if (!same(newIdentity, target->identityKey.view())) return no(LogRule::IdentityChanged);
    if (keyInUse(newEnc)) return no(LogRule::KeyInUse, target->id, "encryption");
  }
  return Ok{};
}

// The member an admin's revocation or role change names.
Expected<const LogMember*, LogRefusal> DirectoryLog::adminTarget(const LogMember& author, std::string_view action,
                                                                 capnp::Text::Reader id) const {
  if (!author.isAdmin) return unexpected(LogRefusal{LogRule::NotAdmin, author.id, std::string(action)});
  const LogMember* target = find(view(id));
  if (target == nullptr) return unexpected(LogRefusal{LogRule::UnknownMember, std::string(view(id)), {}});
  return target;
}

Expected<Ok, LogRefusal> DirectoryLog::checkRevoke(W::Revoke::Reader r, const LogMember& author) const {
  auto found = adminTarget(author, "revoke", r.getMemberId());
  if (!found) return Check(unexpected(found.error()));
  const LogMember* target = *found;
  if (target->memberRevoked) return no(LogRule::AlreadyRevoked, target->id);
  if (r.getReason().size() > MaxTextFieldBytes) return no(LogRule::ReasonTooLong);
  if (auto ok = checkText(view(r.getReason()), "revocation reason"); !ok) return ok;
  const auto key = view(r.getKey());
  bool endsCurrent = key.empty();
  if (!key.empty()) {
    // Any key the member holds or held: its identity history (current
    // last) and its encryption keys.
    if (!target->heldKey(key)) return no(LogRule::KeyNotMembers, target->id);
    if (target->isRevokedKey(key)) return no(LogRule::KeyAlreadyRevoked);
    endsCurrent = same(key, target->identityKey.view()) || same(key, target->encryptionKey.view());
  }
  if (endsCurrent) return keepsAdminQuorum(*target);
  return Ok{};
}

namespace {

bool isRoleYear(std::string_view t) {
  return t.size() == 4 && std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
         t >= "2000" && t <= "2199";
}

bool isRoleMeetingId(std::string_view t) {
  return t.size() == 32 && std::all_of(t.begin(), t.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

std::string wgRoleText(wire::WorkingGroupRole role, std::string_view term) {
  std::string name = role == wire::WorkingGroupRole::CHAIR      ? "chair"
                     : role == wire::WorkingGroupRole::CO_CHAIR ? "co-chair"
                     : role == wire::WorkingGroupRole::SOMTC_FOCAL_POINT ? "somtc-focal-point"
                                                                         : "unset";
  if (!term.empty()) name += " " + std::string(term);
  return name;
}

// SECURITY: every client checks this as the hub does, so a role entry the
// hub forged, or one the secretariat signed without a recorded decision,
// is refused by the log verifier (PROTOCOL.md §12.7).
Expected<Ok, LogRefusal> DirectoryLog::checkWgRole(W::WgRole::Reader r, const LogMember& author) const {
  if (!author.isSecretariat) return no(LogRule::NotSecretariat, author.id, "set working-group roles");
  const auto role = r.getRole();
  if (role != wire::WorkingGroupRole::CHAIR && role != wire::WorkingGroupRole::CO_CHAIR &&
      role != wire::WorkingGroupRole::SOMTC_FOCAL_POINT) {
    return no(LogRule::RoleShape, "", "the role is not chair, co-chair or somtc-focal-point");
  }
  const auto term = view(r.getTerm());
  const bool focalPoint = role == wire::WorkingGroupRole::SOMTC_FOCAL_POINT;
  if (focalPoint ? !term.empty() : !(isRoleYear(term) || isRoleMeetingId(term))) {
    return no(LogRule::RoleShape, "", focalPoint ? "a SOMTC focal point has no term"
                                                 : "a chair's term is a year YYYY or a meeting id (32 hex digits)");
  }
  const auto decision = view(r.getDecisionId());
  if (decision.size() != 16) return no(LogRule::RoleShape, "", "decisionId must be 16 bytes");
  if (!decisions_.contains(id16(decision))) return no(LogRule::UnknownDecision, crypto::toHex(decision));
  if (auto ok = checkText(view(r.getMemberId()), "memberId"); !ok) return ok;
  const LogMember* target = find(view(r.getMemberId()));
  if (target == nullptr) return no(LogRule::UnknownMember, std::string(view(r.getMemberId())));
  const std::string what = wgRoleText(role, term);
  if (!r.getAssign()) {
    if (!target->holds(role, term)) return no(LogRule::RoleNotHeld, target->id, what);
    return Ok{};
  }
  if (!target->active()) return no(LogRule::MemberRevoked, target->id);
  if (target->state.empty()) {
    return no(LogRule::RoleShape, "", target->id + " has no member state: working-group roles are member states'");
  }
  if (target->holds(role, term)) return no(LogRule::RoleTaken, target->id, what);
  for (const auto& [id, m] : members_) {
    if (!m.active()) continue;
    if (!focalPoint && m.holds(role, term)) return no(LogRule::RoleTaken, m.id, what);
    if (focalPoint && m.state == target->state && m.holdsRole(role)) {
      return no(LogRule::SecondFocalPoint, m.id, target->state);
    }
  }
  return Ok{};
}

Expected<Ok, LogRefusal> DirectoryLog::checkRoleChange(W::RoleChange::Reader r, const LogMember& author) const {
  auto found = adminTarget(author, "change roles", r.getMemberId());
  if (!found) return Check(unexpected(found.error()));
  const LogMember* target = *found;
  if (target->memberRevoked) return no(LogRule::MemberRevoked, target->id);
  if (!r.getIsAdmin()) return keepsAdminQuorum(*target);
  return Ok{};
}

// `target` stops being an active admin: at least one active admin must be
// left, and where the log names a quorum k >= 2, k of them from two states.
Expected<Ok, LogRefusal> DirectoryLog::keepsAdminQuorum(const LogMember& target) const {
  if (!target.isAdmin || !target.active()) return Ok{};
  std::size_t left = 0;
  std::set<std::string_view> states;
  for (const auto& [id, m] : members_) {
    if (id == target.id || !m.isAdmin || !m.active()) continue;
    ++left;
    if (!m.state.empty()) states.insert(m.state);
  }
  if (left == 0) return no(LogRule::LastAdmin, target.id);
  if (adminPolicy_.quorum >= 2 && (left < adminPolicy_.quorum || states.size() < 2)) {
    return no(LogRule::QuorumWouldBreak, target.id, std::to_string(adminPolicy_.quorum));
  }
  return Ok{};
}

// ---- apply -----------------------------------------------------------------------------

crypto::Hash256 DirectoryLog::nextHash(const LogEntryView& entry) const {
  return logEntryHash(size_, size_ == 0 ? logGenesisPrev() : root_, entry.recordedAtMs, entry.event, entry.authorKey,
                      entry.signature);
}

std::string DirectoryLog::addMember(wire::MemberInfo::Reader info, wire::KeySet::Reader keys, std::uint64_t index) {
  LogMember m;
  m.id = std::string(view(info.getId()));
  m.name = std::string(view(info.getName()));
  m.state = std::string(view(info.getState()));
  m.institution = info.getInstitution();
  m.isAdmin = info.getIsAdmin();
  m.isSecretariat = info.getIsSecretariat();
  setKeys(m, keys);
  m.identityHistory.push_back(KeyPeriod{m.identityKey, 0, 0});
  usedKeys_.insert(key32(m.identityKey.view()));
  usedKeys_.insert(key32(m.encryptionKey.view()));
  m.logIndex = index;
  std::string id = m.id;
  members_.insert_or_assign(id, std::move(m));
  return id;
}

void DirectoryLog::applyRevoke(W::Revoke::Reader r, LogMember& m, std::int64_t atMs) {
  const auto key = view(r.getKey());
  if (key.empty()) {
    m.memberRevoked = true;
    m.revokedAtMs = atMs;
    m.revokeReason = std::string(view(r.getReason()));
    for (auto& p : m.identityHistory) {
      if (p.revokedAtMs == 0) p.revokedAtMs = atMs;
    }
  } else {
    m.revokedKeys.push_back(key32(key));
    for (auto& p : m.identityHistory) {
      if (same(p.key.view(), key)) p.revokedAtMs = atMs;
    }
  }
}

// A register, rotation, revocation or role change (an author's own entry
// or the change an adminAction carries). Returns the member it changed.
std::string DirectoryLog::applyChange(W::Reader e, std::uint64_t index, std::int64_t recordedAtMs) {
  auto member = [this](capnp::Text::Reader id) -> LogMember& {
    auto it = members_.find(view(id));
    if (it == members_.end()) throw std::logic_error("a checked log event names an unknown member");
    return it->second;
  };
  switch (e.which()) {
    case W::REGISTER: return addMember(e.getRegister().getMember(), e.getRegister().getKeys(), index);
    case W::ROTATE_ENCRYPTION:
    case W::ROTATE_IDENTITY: {
      auto r = e.which() == W::ROTATE_IDENTITY ? e.getRotateIdentity() : e.getRotateEncryption();
      LogMember& m = member(r.getMemberId());
      const auto oldIdentity = m.identityKey;
      const auto oldEnc = m.encryptionKey;
      setKeys(m, r.getKeys());
      usedKeys_.insert(key32(m.identityKey.view()));
      usedKeys_.insert(key32(m.encryptionKey.view()));
      if (!(oldIdentity == m.identityKey)) {
        if (!m.identityHistory.empty()) m.identityHistory.back().replacedAtMs = recordedAtMs;
        m.identityHistory.push_back(KeyPeriod{m.identityKey, 0, 0});
      }
      if (!(oldEnc == m.encryptionKey)) m.previousEncryptionKeys.push_back(oldEnc);
      m.logIndex = index;
      return m.id;
    }
    case W::REVOKE: {
      LogMember& m = member(e.getRevoke().getMemberId());
      applyRevoke(e.getRevoke(), m, recordedAtMs);
      m.logIndex = index;
      return m.id;
    }
    case W::ROLE_CHANGE: {
      LogMember& m = member(e.getRoleChange().getMemberId());
      m.isAdmin = e.getRoleChange().getIsAdmin();
      m.isSecretariat = e.getRoleChange().getIsSecretariat();
      m.logIndex = index;
      return m.id;
    }
    case W::WG_ROLE: {
      const auto r = e.getWgRole();
      LogMember& m = member(r.getMemberId());
      const std::string term(view(r.getTerm()));
      std::erase_if(m.wgRoles, [&](const LogMember::WgRole& h) { return h.role == r.getRole() && h.term == term; });
      if (r.getAssign()) m.wgRoles.push_back(LogMember::WgRole{r.getRole(), term, index});
      m.logIndex = index;
      return m.id;
    }
    default: throw std::logic_error("not a member change");
  }
}

std::string DirectoryLog::apply(const LogEntryView& entry, const crypto::Hash256& entryHash) {
  if (entry.index != size_) throw std::logic_error("log entry applied out of order");
  auto parsed = decode<wire::LogEvent>(entry.event);
  if (!parsed) throw std::logic_error("a checked log event does not parse: " + parsed.error().message);
  const auto e = parsed->root();
  std::string changed;
  // An outcome's proposal, adopted once (checkOutcome, checkAdminAction).
  auto adopted = [this, &entry](W::Admission::Reader a) {
    auto proposal = decode<wire::Proposal>(view(a.getProposal().getBody()));
    if (!proposal) throw std::logic_error("a checked outcome does not parse");
    if (proposal->root().getProposalId().size() == 16) {
      adoptedProposals_.emplace(id16(view(proposal->root().getProposalId())), entry.index);
    }
    return std::move(proposal).value();
  };
  switch (e.which()) {
    case W::GENESIS:
      hubId_ = std::string(view(e.getGenesis().getHubId()));
      hubKey_ = fixed<crypto::SigningPublicKey>(view(e.getGenesis().getHubKey()));
      usedKeys_.insert(key32(hubKey_.view()));
      version_ = std::max(LogVersion1, e.getGenesis().getLogVersion());
      if (e.getGenesis().hasWitnesses()) {
        auto policy = readWitnessPolicy(e.getGenesis().getWitnesses());
        if (!policy) throw std::logic_error("a checked genesis has a bad witness policy");
        witnessPolicy_ = std::move(*policy);
      }
      if (e.getGenesis().hasAdmins()) {
        auto policy = readAdminPolicy(e.getGenesis().getAdmins());
        if (!policy) throw std::logic_error("a checked genesis has a bad admin policy");
        adminPolicy_ = *policy;
      }
      break;
    case W::LOG_VERSION: version_ = e.getLogVersion().getVersion(); break;
    case W::ADMISSION: {
      const auto proposal = adopted(e.getAdmission());
      auto r = proposal.root().getAdmission();
      changed = addMember(r.getMember(), r.getKeys(), entry.index);
      if (auto meetings = readProposalMeetings(proposal.root()); meetings) members_.at(changed).meetings = *meetings;
      break;
    }
    case W::ADMIN_ACTION: {
      const auto proposal = adopted(e.getAdminAction());
      capnp::MallocMessageBuilder inner;
      copyChangeEvent(inner.initRoot<W>(), proposal.root().getAdminChange());
      changed = applyChange(inner.getRoot<W>().asReader(), entry.index, entry.recordedAtMs);
      break;
    }
    case W::REGISTER:
    case W::ROTATE_ENCRYPTION:
    case W::ROTATE_IDENTITY:
    case W::REVOKE:
    case W::ROLE_CHANGE:
    case W::WG_ROLE: changed = applyChange(e, entry.index, entry.recordedAtMs); break;
    case W::AMENDMENT: {  // an adopted text: the log is its record, and a decision a wgRole may name
      const auto proposal = adopted(e.getAmendment());
      if (proposal.root().getProposalId().size() == 16) decisions_.insert(id16(view(proposal.root().getProposalId())));
      break;
    }
    case W::RECORD_APPROVED:  // an outcome about a bulletin: no member changes; a decision a wgRole may name
      if (e.getRecordApproved().getRecordId().size() == 16) {
        decisions_.insert(id16(view(e.getRecordApproved().getRecordId())));
      }
      break;
    default: throw std::logic_error("a checked log event has an unknown kind");
  }
  eventHashes_.emplace(key32(crypto::hash256(entry.event).view()), entry.index);
  lastRecordedAtMs_ = entry.recordedAtMs;
  skip(entryHash);
  return changed;
}

void DirectoryLog::skip(const crypto::Hash256& entryHash) {
  ++size_;
  root_ = entryHash;
}

}  // namespace focal::protocol

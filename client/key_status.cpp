#include "client/key_status.hpp"

#include "protocol/consensus.hpp"
#include "protocol/message.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <ctime>

namespace focal::client {

namespace {

using protocol::view;
using W = wire::LogEvent;

bool same(crypto::ByteView a, crypto::ByteView b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

std::string utc(std::int64_t ms) {
  if (ms <= 0) return "-";
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(static_cast<std::time_t>(ms / 1000)));
}

// The member's key pair as the log has it so far.
struct Replay {
  bool known = false;
  crypto::Bytes identity;
  crypto::Bytes encryption;
  bool memberRevoked = false;
  bool identityRevoked = false;    // the current identity key was revoked
  bool encryptionRevoked = false;  // the current encryption key was revoked
};

}  // namespace

KeyFileStatus keyFileStatus(std::span<const LogEntryRecord> entries, std::string_view memberId,
                            const crypto::SigningPublicKey& identity, const crypto::BoxPublicKey& encryption) {
  using C = KeyFileStatus::Change;
  KeyFileStatus s;
  Replay r;
  // After each entry: is the file's pair / the file's identity the member's
  // current one (and unrevoked)? A transition from true to false is the
  // entry that ended it.
  bool pairCurrent = false;
  bool idCurrent = false;
  const auto idIsCurrent = [&] {
    return r.known && same(r.identity, identity.view()) && !r.memberRevoked && !r.identityRevoked;
  };
  const auto pairIsCurrent = [&] { return idIsCurrent() && same(r.encryption, encryption.view()) && !r.encryptionRevoked; };
  for (const auto& e : entries) {
    auto parsed = protocol::decode<wire::LogEvent>(e.event);
    if (!parsed) continue;  // verified entries always decode; nothing to learn otherwise
    const auto ev = parsed->root();
    const auto setKeys = [&](wire::KeySet::Reader k) {
      const auto ik = view(k.getIdentityKey());
      const auto ek = view(k.getEncryptionKey());
      if (!same(ik, r.identity)) r.identityRevoked = false;
      if (!same(ek, r.encryption)) r.encryptionRevoked = false;
      r.identity.assign(ik.begin(), ik.end());
      r.encryption.assign(ek.begin(), ek.end());
      r.known = true;
    };
    std::optional<C> change;  // what this entry did to the member, if anything
    std::string reason;
    switch (ev.which()) {
      case W::REGISTER:
        if (view(ev.getRegister().getMember().getId()) == memberId) setKeys(ev.getRegister().getKeys());
        break;
      case W::ADMISSION: {
        auto proposal = protocol::decode<wire::Proposal>(view(ev.getAdmission().getProposal().getBody()));
        if (!proposal || !proposal->root().isAdmission()) break;
        auto reg = proposal->root().getAdmission();
        if (view(reg.getMember().getId()) == memberId) setKeys(reg.getKeys());
        break;
      }
      case W::ROTATE_ENCRYPTION:
      case W::ROTATE_IDENTITY: {
        auto rk = ev.which() == W::ROTATE_IDENTITY ? ev.getRotateIdentity() : ev.getRotateEncryption();
        if (view(rk.getMemberId()) != memberId) break;
        const bool identityChanged = !same(view(rk.getKeys().getIdentityKey()), r.identity);
        setKeys(rk.getKeys());
        change = identityChanged ? C::IdentityReplaced : C::EncryptionReplaced;
        break;
      }
      case W::REVOKE: {
        auto rv = ev.getRevoke();
        if (view(rv.getMemberId()) != memberId) break;
        const auto key = view(rv.getKey());
        reason = std::string(view(rv.getReason()));
        if (key.empty()) {
          r.memberRevoked = true;
          change = C::MemberRevoked;
        } else {
          if (same(key, r.identity)) r.identityRevoked = true;
          if (same(key, r.encryption)) r.encryptionRevoked = true;
          change = C::KeyRevoked;
        }
        break;
      }
      default: break;
    }
    const bool pairNow = pairIsCurrent();
    const bool idNow = idIsCurrent();
    if (change) {
      const KeyFileStatus::Ending ending{*change, e.index, e.recordedAtMs, e.authorId, reason};
      if (pairCurrent && !pairNow && !s.ended) s.ended = ending;
      if (idCurrent && !idNow && !s.identityEnded) s.identityEnded = ending;
    }
    pairCurrent = pairNow;
    idCurrent = idNow;
  }
  s.identityCurrent = idCurrent;
  if (r.known && !r.memberRevoked) {
    s.currentIdentity = crypto::SigningPublicKey::fromBytes(r.identity);
    s.currentEncryption = crypto::BoxPublicKey::fromBytes(r.encryption);
  }
  if (pairCurrent) s.state = KeyFileStatus::State::Current;
  else if (s.ended) s.state = KeyFileStatus::State::Superseded;
  else s.state = KeyFileStatus::State::Unknown;
  return s;
}

std::string describeKeyFileStatus(const KeyFileStatus& s) {
  switch (s.state) {
    case KeyFileStatus::State::Current: return {};
    case KeyFileStatus::State::Unknown:
      return s.identityCurrent
                 ? "the directory log does not name this key file's encryption key as current (a rotation that did "
                   "not reach the log?)"
                 : "the directory log never gave this member this key file's keys";
    case KeyFileStatus::State::Superseded: break;
  }
  return describeEnding(*s.ended);
}

std::string describeEnding(const KeyFileStatus::Ending& e) {
  using C = KeyFileStatus::Change;
  const char* what = "";
  switch (e.change) {
    case C::EncryptionReplaced: what = "the encryption key of this key file was replaced"; break;
    case C::IdentityReplaced: what = "the identity key of this key file was replaced"; break;
    case C::KeyRevoked: what = "a key of this key file was revoked"; break;
    case C::MemberRevoked: what = "the member was revoked"; break;
  }
  std::string text = fmt::format("{} at directory-log entry {} ({}, by {})", what, e.index, utc(e.atMs), e.author);
  if (!e.reason.empty()) text += fmt::format(": {}", e.reason);
  return text;
}

}  // namespace focal::client

#include "client/log_changes.hpp"

#include "client/bulletin_cache.hpp"
#include "protocol/names.hpp"

namespace focal::client {

namespace {

std::string textOf(capnp::Text::Reader t) { return std::string(protocol::view(t)); }

// The member an event is about ("" for none).
std::string subjectOf(wire::LogEvent::Reader e) {
  using W = wire::LogEvent;
  switch (e.which()) {
    case W::REGISTER: return textOf(e.getRegister().getMember().getId());
    case W::ROTATE_ENCRYPTION: return textOf(e.getRotateEncryption().getMemberId());
    case W::ROTATE_IDENTITY: return textOf(e.getRotateIdentity().getMemberId());
    case W::REVOKE: return textOf(e.getRevoke().getMemberId());
    case W::ROLE_CHANGE: return textOf(e.getRoleChange().getMemberId());
    case W::ADMISSION: {
      auto p = protocol::decode<wire::Proposal>(protocol::view(e.getAdmission().getProposal().getBody()));
      if (p && p->root().which() == wire::Proposal::ADMISSION) return textOf(p->root().getAdmission().getMember().getId());
      return "";
    }
    default: return "";
  }
}

}  // namespace

EntrySummary summarizeEntry(const LogEntryRecord& entry) {
  EntrySummary s{entry.index, "unparsable", entry.authorId, "", entry.recordedAtMs, "", {}, {}};
  auto parsed = protocol::decode<wire::LogEvent>(entry.event);
  if (!parsed) return s;
  const auto e = parsed->root();
  s.kind = protocol::logEventName(e.which());
  s.subjectId = subjectOf(e);
  using W = wire::LogEvent;
  if (e.which() == W::REVOKE) s.reason = textOf(e.getRevoke().getReason());
  const auto keysOf = [&](wire::KeySet::Reader k) {
    const auto ik = protocol::view(k.getIdentityKey());
    const auto ek = protocol::view(k.getEncryptionKey());
    s.identityKey.assign(ik.begin(), ik.end());
    s.encryptionKey.assign(ek.begin(), ek.end());
  };
  if (e.which() == W::REGISTER) keysOf(e.getRegister().getKeys());
  if (e.which() == W::ROTATE_ENCRYPTION) keysOf(e.getRotateEncryption().getKeys());
  if (e.which() == W::ROTATE_IDENTITY) keysOf(e.getRotateIdentity().getKeys());
  return s;
}

std::set<std::string> correspondents(const std::filesystem::path& cacheDir, std::string_view me) {
  std::set<std::string> out;
  const BulletinCache cache(cacheDir);
  for (const auto& id : cache.ids()) {
    auto raw = cache.get(id);
    if (!raw) continue;
    auto header = protocol::decode<wire::BulletinHeader>(raw->header);
    if (!header) continue;
    out.insert(textOf(header->root().getSenderId()));
    for (auto r : header->root().getRecipients()) out.insert(textOf(r.getMemberId()));
  }
  out.erase(std::string(me));
  return out;
}

}  // namespace focal::client

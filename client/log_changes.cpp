#include "client/log_changes.hpp"

#include "client/bulletin_cache.hpp"
#include "protocol/admin_quorum.hpp"
#include "protocol/names.hpp"

#include <capnp/message.h>

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
    case W::WG_ROLE: return textOf(e.getWgRole().getMemberId());
    case W::ADMISSION: {
      auto p = protocol::decode<wire::Proposal>(protocol::view(e.getAdmission().getProposal().getBody()));
      if (p && p->root().which() == wire::Proposal::ADMISSION) return textOf(p->root().getAdmission().getMember().getId());
      return "";
    }
    default: return "";
  }
}

}  // namespace

namespace {

// The fields of one event (an entry's, or the change an adminAction carries).
void summarizeEvent(wire::LogEvent::Reader e, EntrySummary& s) {
  using W = wire::LogEvent;
  s.kind = protocol::logEventName(e.which());
  s.subjectId = subjectOf(e);
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
}

}  // namespace

EntrySummary summarizeEntry(const LogEntryRecord& entry) {
  EntrySummary s{entry.index, "unparsable", entry.authorId, "", entry.recordedAtMs, "", {}, {}};
  auto parsed = protocol::decode<wire::LogEvent>(entry.event);
  if (!parsed) return s;
  const auto e = parsed->root();
  if (e.which() != wire::LogEvent::ADMIN_ACTION) {
    summarizeEvent(e, s);
    return s;
  }
  // An admin change made by the quorum: the change, by its proposer.
  auto p = protocol::decode<wire::Proposal>(protocol::view(e.getAdminAction().getProposal().getBody()));
  if (!p || p->root().which() != wire::Proposal::ADMIN_CHANGE) return s;
  capnp::MallocMessageBuilder inner;
  protocol::copyChangeEvent(inner.initRoot<wire::LogEvent>(), p->root().getAdminChange());
  summarizeEvent(inner.getRoot<wire::LogEvent>().asReader(), s);
  s.authorId = textOf(p->root().getProposerId());
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

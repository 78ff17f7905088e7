#include "client/bulletin_reader.hpp"

#include "protocol/bulletin.hpp"

#include <algorithm>
#include <cctype>

namespace focal::client {

namespace {
std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}
}  // namespace

Expected<OpenedMessage, std::string> openReceived(const RawBulletin& raw, const KeyDirectory& directory,
                                                  const crypto::MemberKeys& me) {
  using Result = Expected<OpenedMessage, std::string>;
  auto sig = crypto::Signature::fromBytes(raw.signature);
  if (!sig) return Result(unexpected(std::string("malformed: signature has the wrong length")));
  // First the self-consistent check (structure + signature by the key the
  // header names), only to learn the claimed sender id...
  auto header = protocol::verifyHeader(raw.header, *sig);
  if (!header) return Result(unexpected(std::string(protocol::describe(header.error()))));
  const std::string senderId(protocol::view(header->root().getSenderId()));
  // ...then the sender's key from the directory, never from the header.
  const MemberRecord* sender = directory.find(senderId);
  if (sender == nullptr) return Result(unexpected("unknown sender '" + senderId + "' (not in the directory)"));
  if (!sender->keysWellFormed || !sender->certValid) {
    return Result(unexpected("sender '" + senderId + "' has no valid key certificate in the directory"));
  }
  // Which of the sender's keys signed: the header names it, and it must be
  // one the verified log gave this sender; revocation and replacement times
  // come from the log (hub time of the entry).
  const crypto::SigningPublicKey* signer = &sender->identityKey;
  std::string keyWarning;
  if (!sender->identityHistory.empty()) {
    auto claimed = crypto::SigningPublicKey::fromBytes(protocol::view(header->root().getSenderKey()));
    const MemberRecord::IdentityPeriod* period = nullptr;
    for (const auto& p : sender->identityHistory) {
      if (claimed && p.key == *claimed) period = &p;
    }
    if (period == nullptr) {  // a key the verified log never gave this sender
      return Result(unexpected(std::string(protocol::describe(protocol::OpenError::UnexpectedSender))));
    }
    const std::int64_t created = header->root().getCreatedAtMs();
    if (period->revokedAtMs != 0) {
      if (created > period->revokedAtMs) {
        return Result(unexpected("signed by a key of '" + senderId + "' after that key was revoked"));
      }
      keyWarning = "signed by a key since revoked";
    } else if (period->replacedAtMs != 0 && created > period->replacedAtMs) {
      return Result(unexpected("signed by a key of '" + senderId + "' after that key was replaced"));
    }
    signer = &period->key;
  } else if (!sender->active) {
    return Result(unexpected("sender '" + senderId + "' is revoked"));
  }
  auto opened = protocol::openBulletin(raw.header, *sig, raw.ciphertext, *signer, me);
  if (!opened) return Result(unexpected(std::string(protocol::describe(opened.error()))));

  auto h = opened->header.root();
  auto c = opened->content.root();
  OpenedMessage m;
  auto id = crypto::BulletinId::fromBytes(protocol::view(h.getBulletinId()));
  if (!id) return Result(unexpected(std::string("malformed: bulletin id has the wrong length")));
  m.id = *id;
  m.senderId = senderId;
  m.senderName = sender->name;
  m.senderFingerprint = crypto::fingerprint(senderId, *signer);
  m.keyWarning = keyWarning;
  m.createdAtMs = h.getCreatedAtMs();
  m.tlp = h.getTlp();
  m.priority = h.getPriority();
  m.category = c.getCategory();
  m.caseRef = std::string(protocol::view(h.getCaseRef()));
  for (auto a : h.getAddresses()) m.addresses.emplace_back(protocol::view(a));
  for (auto r : h.getRecipients()) m.recipients.emplace_back(protocol::view(r.getMemberId()));
  m.title = std::string(protocol::view(c.getTitle()));
  m.body = std::string(protocol::view(c.getBody()));
  for (auto t : c.getAttackTechniques()) m.attackTechniques.emplace_back(protocol::view(t));
  auto refs = h.getAttachments();
  auto infos = c.getAttachments();
  if (refs.size() != infos.size()) return Result(unexpected(std::string("attachment lists disagree")));
  for (unsigned i = 0; i < refs.size(); ++i) {
    auto hash = crypto::Hash256::fromBytes(protocol::view(refs[i].getBlobHash()));
    auto infoHash = crypto::Hash256::fromBytes(protocol::view(infos[i].getBlobHash()));
    if (!hash || !infoHash || !(*hash == *infoHash)) {
      return Result(unexpected("attachment " + std::to_string(i) + " does not match the signed header"));
    }
    m.attachments.push_back(OpenedAttachment{std::string(protocol::view(infos[i].getName())),
                                             std::string(protocol::view(infos[i].getMediaType())),
                                             infos[i].getPlainSize(), *hash, refs[i].getSize()});
  }
  m.contentKey = std::move(opened->contentKey);
  return m;
}

const char* tlpName(wire::Tlp t) {
  switch (t) {
    case wire::Tlp::CLEAR: return "CLEAR";
    case wire::Tlp::GREEN: return "GREEN";
    case wire::Tlp::AMBER: return "AMBER";
    case wire::Tlp::AMBER_STRICT: return "AMBER+STRICT";
    case wire::Tlp::RED: return "RED";
    case wire::Tlp::UNSET: break;
  }
  return "UNSET";
}

bool parseTlp(std::string_view text, wire::Tlp& out) {
  const auto t = lower(text);
  for (auto v : {wire::Tlp::CLEAR, wire::Tlp::GREEN, wire::Tlp::AMBER, wire::Tlp::AMBER_STRICT, wire::Tlp::RED}) {
    if (t == lower(tlpName(v))) {
      out = v;
      return true;
    }
  }
  return false;
}

const char* categoryName(wire::Category c) {
  switch (c) {
    case wire::Category::TREND: return "trend";
    case wire::Category::BEST_PRACTICE: return "best-practice";
    case wire::Category::TECHNIQUE: return "technique";
    case wire::Category::TOOL: return "tool";
    case wire::Category::ALERT: return "alert";
    case wire::Category::SUMMARY_RECORD: return "summary-record";
    case wire::Category::OTHER: return "other";
    case wire::Category::UNSET: break;
  }
  return "unset";
}

bool parseCategory(std::string_view text, wire::Category& out) {
  for (auto v : {wire::Category::TREND, wire::Category::BEST_PRACTICE, wire::Category::TECHNIQUE, wire::Category::TOOL,
                 wire::Category::ALERT, wire::Category::SUMMARY_RECORD, wire::Category::OTHER}) {
    if (text == categoryName(v)) {
      out = v;
      return true;
    }
  }
  return false;
}

const char* priorityName(wire::Priority p) { return p == wire::Priority::URGENT ? "urgent" : "normal"; }

}  // namespace focal::client

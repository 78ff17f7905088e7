#include "client/bulletin_reader.hpp"

#include "protocol/bulletin.hpp"
#include "protocol/distribution.hpp"

#include <cctype>

namespace focal::client {

Expected<OpenedMessage, std::string> openReceived(const RawBulletin& raw, const KeyDirectory& directory,
                                                  const crypto::Keyring& me,
                                                  const std::pair<crypto::Bytes, crypto::Bytes>* forward,
                                                  const crypto::WrappedKey* ownCopy) {
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
  std::optional<protocol::OpenedBulletin> opened;
  std::optional<protocol::ForwardInfo> forwardInfo;
  if (ownCopy != nullptr) {
    // Our own copy: signed by one of our identity keys the log gave us
    // (`signer`, checked above: after an identity rotation an earlier one),
    // its content key sealed to our encryption key of that time: the
    // current one or one the key file keeps from before a rotation.
    if (senderId != me.memberId) return Result(unexpected(std::string("not a bulletin sent by this member")));
    auto v = protocol::verifyHeader(raw.header, *sig);
    if (!v) return Result(unexpected(std::string(protocol::describe(v.error()))));
    if (!(*crypto::SigningPublicKey::fromBytes(protocol::view(v->root().getSenderKey())) == *signer)) {
      return Result(unexpected(std::string(protocol::describe(protocol::OpenError::UnexpectedSender))));
    }
    // Which of our keys it was sealed to is not named: any of them may open it.
    auto o = protocol::finishOpen(std::move(v).value(), raw.ciphertext, *ownCopy, me, nullptr);
    if (!o) return Result(unexpected(std::string(protocol::describe(o.error()))));
    opened.emplace(std::move(o).value());
  } else if (forward == nullptr) {
    auto o = protocol::openBulletin(raw.header, *sig, raw.ciphertext, *signer, me);
    if (!o) return Result(unexpected(std::string(protocol::describe(o.error()))));
    opened.emplace(std::move(o).value());
  } else {
    auto recordSig = crypto::Signature::fromBytes(forward->second);
    auto forwarderId = protocol::peekForwarder(forward->first);
    if (!recordSig || !forwarderId) return Result(unexpected(std::string("forward record: malformed")));
    const MemberRecord* forwarder = directory.find(*forwarderId);
    if (forwarder == nullptr || !forwarder->keysWellFormed || !forwarder->certValid) {
      return Result(unexpected("forward record: unknown forwarder '" + *forwarderId + "'"));
    }
    // The forwarder's key of the moment of the forward (it may have rotated
    // its identity since): the record names it; the log must have given it
    // to the forwarder. Its period is checked once forwardedAtMs is verified.
    const crypto::SigningPublicKey* forwarderKey = &forwarder->identityKey;
    const MemberRecord::IdentityPeriod* forwarderPeriod = nullptr;
    if (!forwarder->identityHistory.empty()) {
      auto record = protocol::decode<wire::ForwardRecord>(forward->first);
      auto named = record ? crypto::SigningPublicKey::fromBytes(protocol::view(record->root().getForwarderKey()))
                          : std::nullopt;
      for (const auto& p : forwarder->identityHistory) {
        if (named && p.key == *named) forwarderPeriod = &p;
      }
      if (forwarderPeriod == nullptr) {
        return Result(unexpected("forward record by '" + *forwarderId + "' refused: " +
                                 protocol::describe(protocol::RecordError::BadSignature)));
      }
      forwarderKey = &forwarderPeriod->key;
    } else if (!forwarder->active) {
      return Result(unexpected("forward record: forwarder '" + *forwarderId + "' is revoked"));
    }
    auto o = protocol::openForwarded(raw.header, *sig, raw.ciphertext, *signer, forward->first,
                                     *recordSig, *forwarderKey, me);
    if (!o) return Result(unexpected("forward record by '" + *forwarderId + "' refused: " + protocol::describe(o.error())));
    if (forwarderPeriod != nullptr) {
      const std::int64_t at = o->forward.forwardedAtMs;
      if ((forwarderPeriod->revokedAtMs != 0 && at > forwarderPeriod->revokedAtMs) ||
          (forwarderPeriod->replacedAtMs != 0 && at > forwarderPeriod->replacedAtMs)) {
        return Result(unexpected("forward record by '" + *forwarderId +
                                 "' refused: signed by a key of the forwarder after that key was revoked or replaced"));
      }
    }
    // The TLP forwarding rule, checked here too.
    const MemberRecord* self = directory.find(me.memberId);
    if (self == nullptr) return Result(unexpected(std::string("this member is not in the directory")));
    const auto tlp = o->bulletin.header.root().getTlp();
    std::optional<std::string> refusal;
    if (*forwarderId == senderId) {
      // The originator forwarding its own bulletin: the first-send rule for
      // the record's addresses (PROTOCOL.md §12.1).
      std::vector<protocol::Address> addresses;
      for (const auto& text : o->forward.addresses) {
        auto a = protocol::parseAddress(text);
        if (!a) return Result(unexpected("forward record by '" + *forwarderId + "' refused: a malformed address"));
        addresses.push_back(std::move(*a));
      }
      refusal = protocol::checkOriginatorForward(tlp, addresses, {self->id, self->state, self->institution});
    } else {
      refusal = protocol::checkForward(tlp, {forwarder->id, forwarder->state, forwarder->institution},
                                       {self->id, self->state, self->institution});
    }
    if (refusal) return Result(unexpected("forward record by '" + *forwarderId + "' refused: " + *refusal));
    forwardInfo = std::move(o->forward);
    opened.emplace(std::move(o->bulletin));
  }

  auto h = opened->header.root();
  auto c = opened->content.root();
  // Seal v2 names the hub it was sealed for (and the AEAD already bound it):
  // one sealed for another hub is a replay across hubs.
  if (h.getSuite() == wire::CIPHER_SUITE_V2 && !directory.hubId().empty() &&
      protocol::view(h.getHubId()) != directory.hubId()) {
    return Result(unexpected("sealed for hub '" + std::string(protocol::view(h.getHubId())) + "', not this hub ('" +
                             std::string(directory.hubId()) + "')"));
  }
  OpenedMessage m;
  m.seal = h.getSuite() == wire::CIPHER_SUITE_V2 ? 2 : 1;
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
  m.handling = h.getHandling();
  m.handlingText = std::string(protocol::view(h.getHandlingText()));
  m.sourceReliability = h.getSourceReliability();
  m.infoAccuracy = h.getInfoAccuracy();
  if (h.getReplyTo().size() != 0) m.replyTo = crypto::BulletinId::fromBytes(protocol::view(h.getReplyTo()));
  m.kind = h.getKind();
  m.commentDeadlineMs = h.getCommentDeadlineMs();
  if (h.getRevises().size() != 0) m.revises = crypto::BulletinId::fromBytes(protocol::view(h.getRevises()));
  if (h.getMeetingId().size() != 0) m.meetingId = crypto::BulletinId::fromBytes(protocol::view(h.getMeetingId()));
  for (auto a : h.getAddresses()) m.addresses.emplace_back(protocol::view(a));
  for (auto r : h.getRecipients()) m.recipients.emplace_back(protocol::view(r.getMemberId()));
  m.title = std::string(protocol::view(c.getTitle()));
  m.body = std::string(protocol::view(c.getBody()));
  for (auto t : c.getAttackTechniques()) m.attackTechniques.emplace_back(protocol::view(t));
  m.stixBundle = std::string(protocol::view(c.getStixBundle()));
  m.eventDate = std::string(protocol::view(c.getEventDate()));
  m.eventPlace = std::string(protocol::view(c.getEventPlace()));
  if (c.getMetOffer().size() != 0) {
    m.metOffer = crypto::BulletinId::fromBytes(protocol::view(c.getMetOffer()));
    if (!m.metOffer) return Result(unexpected(std::string("malformed: the met offer id has the wrong length")));
  }
  if (c.hasLogHead()) {
    const auto head = protocol::view(c.getLogHead().getHead());
    const auto sig = protocol::view(c.getLogHead().getSignature());
    m.carriedHead.assign(head.begin(), head.end());
    m.carriedHeadSignature.assign(sig.begin(), sig.end());
  }
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
  m.forwardedBy = std::move(forwardInfo);
  return m;
}

Expected<protocol::RetractionInfo, std::string> verifyRetractionOf(const RawBulletin& raw,
                                                                   const KeyDirectory& directory,
                                                                   const crypto::Bytes& body,
                                                                   const crypto::Bytes& signature) {
  using Result = Expected<protocol::RetractionInfo, std::string>;
  auto sig = crypto::Signature::fromBytes(raw.signature);
  auto rsig = crypto::Signature::fromBytes(signature);
  if (!sig || !rsig) return Result(unexpected(std::string("malformed: signature has the wrong length")));
  auto header = protocol::verifyHeader(raw.header, *sig);
  if (!header) return Result(unexpected(std::string(protocol::describe(header.error()))));
  const auto h = header->root();
  const std::string senderId(protocol::view(h.getSenderId()));
  const MemberRecord* sender = directory.find(senderId);
  if (sender == nullptr || !sender->keysWellFormed || !sender->certValid) {
    return Result(unexpected("unknown sender '" + senderId + "' (not in the directory)"));
  }
  const auto headerKey = crypto::SigningPublicKey::fromBytes(protocol::view(h.getSenderKey()));
  if (sender->identityHistory.empty()) {
    // A bare listing (no key history): only the current key of an active member.
    if (!sender->active) return Result(unexpected("sender '" + senderId + "' is revoked"));
    if (!headerKey || !(*headerKey == sender->identityKey)) {
      return Result(unexpected(std::string(protocol::describe(protocol::OpenError::UnexpectedSender))));
    }
    auto r = protocol::verifyRetraction(body, *rsig, h, sender->identityKey);
    if (!r) return Result(unexpected(std::string("retraction refused: ") + protocol::describe(r.error())));
    return std::move(r).value();
  }
  // The bulletin's key must be one the verified log gave its sender.
  bool headerKeyKnown = false;
  for (const auto& p : sender->identityHistory) headerKeyKnown = headerKeyKnown || (headerKey && p.key == *headerKey);
  if (!headerKeyKnown) return Result(unexpected(std::string(protocol::describe(protocol::OpenError::UnexpectedSender))));
  // A Retraction names no key: the hub takes it under the sender's identity
  // key of the moment, which after an identity rotation is not the key that
  // signed the bulletin. So it is verified under each key the log gave the
  // sender, and the key that verifies must still have been the sender's at
  // retractedAtMs: one revoked or replaced before that is refused (a thief
  // holding an old key cannot retract in the sender's name).
  for (const auto& p : sender->identityHistory) {
    auto r = protocol::verifyRetraction(body, *rsig, h, p.key);
    if (!r && r.error() == protocol::RecordError::BadSignature) continue;
    if (!r) return Result(unexpected(std::string("retraction refused: ") + protocol::describe(r.error())));
    if (p.revokedAtMs != 0 && r->retractedAtMs > p.revokedAtMs) {
      return Result(unexpected("retraction refused: signed by a key of '" + senderId + "' after that key was revoked"));
    }
    if (p.replacedAtMs != 0 && r->retractedAtMs > p.replacedAtMs) {
      return Result(unexpected("retraction refused: signed by a key of '" + senderId + "' after that key was replaced"));
    }
    return std::move(r).value();
  }
  return Result(unexpected(std::string("retraction refused: ") + protocol::describe(protocol::RecordError::BadSignature)));
}

const char* handlingMeaning(wire::Handling h) {
  switch (h) {
    case wire::Handling::H0: return "for crime-analysis purposes only";
    case wire::Handling::H1: return "not for use in court without the originator's permission";
    case wire::Handling::H2: return "no further dissemination without the originator's permission";
    case wire::Handling::H3: return "other restrictions";
    case wire::Handling::UNSET: break;
  }
  return "";
}

std::string evaluationName(wire::SourceReliability s, std::uint8_t accuracy) {
  const char* letter = s == wire::SourceReliability::A   ? "A"
                       : s == wire::SourceReliability::B ? "B"
                       : s == wire::SourceReliability::C ? "C"
                       : s == wire::SourceReliability::X ? "X"
                                                          : nullptr;
  if (letter == nullptr || accuracy < 1 || accuracy > 4) return "";
  return std::string(letter) + std::to_string(accuracy);
}

std::string evaluationMeaning(wire::SourceReliability s, std::uint8_t accuracy) {
  std::string source;
  switch (s) {
    case wire::SourceReliability::A: source = "source always reliable"; break;
    case wire::SourceReliability::B: source = "source mostly reliable"; break;
    case wire::SourceReliability::C: source = "source not reliable"; break;
    case wire::SourceReliability::X: source = "source reliability unknown"; break;
    case wire::SourceReliability::UNSET: return "";
  }
  static const char* const info[] = {"", "known to be true without reservation",
                                     "known personally to the source but not to the officer",
                                     "not known personally to the source but corroborated",
                                     "cannot be judged"};
  if (accuracy < 1 || accuracy > 4) return source;
  return source + "; information " + info[accuracy];
}

bool parseEvaluation(std::string_view text, wire::SourceReliability& source, std::uint8_t& accuracy) {
  if (text.size() != 2) return false;
  switch (std::toupper(static_cast<unsigned char>(text[0]))) {
    case 'A': source = wire::SourceReliability::A; break;
    case 'B': source = wire::SourceReliability::B; break;
    case 'C': source = wire::SourceReliability::C; break;
    case 'X': source = wire::SourceReliability::X; break;
    default: return false;
  }
  if (text[1] < '1' || text[1] > '4') return false;
  accuracy = static_cast<std::uint8_t>(text[1] - '0');
  return true;
}

}  // namespace focal::client

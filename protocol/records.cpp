#include "protocol/records.hpp"

#include <sodium.h>

#include "protocol/limits.hpp"
#include "protocol/signing.hpp"

#include <algorithm>
#include <numeric>

namespace focal::protocol {

namespace {

// The author's member id named in an unverified record `body` of type T
// (`field` reads it), to find the key its signature is checked under;
// nullopt if the record does not parse or the id is empty or too long.
template <class T, class Field>
std::optional<std::string> peekMemberId(ByteView body, Field field) {
  auto parsed = decode<T>(body);
  if (!parsed) return std::nullopt;
  const auto id = view(field(parsed->root()));
  if (id.empty() || id.size() > MaxMemberIdBytes) return std::nullopt;
  return std::string(id);
}

}  // namespace

const char* describe(RecordError e) {
  switch (e) {
    case RecordError::Malformed: return "the record does not parse or has fields of the wrong length";
    case RecordError::BadSignature: return "the record's signature does not verify under its author's key";
    case RecordError::WrongBulletin: return "the record is about another bulletin (id or header hash differ)";
    case RecordError::NotAuthorised: return "the record's author may not make it (not an original recipient, or not the sender)";
    case RecordError::NotARecipient: return "the forward is not addressed to this member's key";
    case RecordError::OpenFailed: return "the forwarded bulletin does not open";
  }
  return "unknown record error";
}

SignedRecordBytes signRecord(std::string_view context, capnp::MessageBuilder& message,
                             const crypto::SigningSecretKey& key) {
  SignedRecordBytes out;
  out.body = toBytes(message);
  out.signature = crypto::sign(context, out.body, key);
  return out;
}

SignedRecordBytes signRecord(std::string_view context, capnp::MessageBuilder& message, const crypto::Keyring& signer) {
  SignedRecordBytes out;
  out.body = toBytes(message);
  out.signature = signer.sign(context, out.body);
  return out;
}

Expected<SignedRecordBytes, RecordError> makeForward(const ForwardDraft& draft, const crypto::Keyring& forwarder,
                                                     std::int64_t nowMs, std::optional<crypto::BulletinId> forwardId) {
  if (draft.contentKey == nullptr || draft.recipients.empty() || draft.recipients.size() > MaxRecipients ||
      draft.addresses.empty() || draft.addresses.size() > MaxAddresses) {
    return unexpected(RecordError::Malformed);
  }
  auto header = decode<wire::BulletinHeader>(draft.originalHeader);
  if (!header || header->root().getBulletinId().size() != crypto::BulletinId::size) {
    return unexpected(RecordError::Malformed);
  }
  std::vector<std::size_t> order(draft.recipients.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](auto a, auto b) { return draft.recipients[a].memberId < draft.recipients[b].memberId; });
  for (std::size_t i = 1; i < order.size(); ++i) {
    if (draft.recipients[order[i - 1]].memberId == draft.recipients[order[i]].memberId) {
      return unexpected(RecordError::Malformed);
    }
  }
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ForwardRecord>();
  const auto id = forwardId ? *forwardId : crypto::randomFixed<crypto::BulletinId>();
  f.setForwardId(kjBytes(id.view()));
  f.setBulletinId(header->root().getBulletinId());
  f.setHeaderHash(kjBytes(crypto::hash256(draft.originalHeader).view()));
  f.setForwarderId(asText(forwarder.memberId));
  f.setForwarderKey(kjBytes(forwarder.identity.publicKey.view()));
  f.setForwardedAtMs(nowMs);
  setAddressing(f.initAddresses(static_cast<unsigned>(draft.addresses.size())),
                f.initRecipients(static_cast<unsigned>(order.size())), draft.addresses, draft.recipients, order,
                *draft.contentKey);
  return signRecord(context::Forward, m, forwarder);
}

SignedRecordBytes makePermission(const crypto::BulletinId& bulletinId, const std::vector<std::string>& grantees,
                                 const crypto::Keyring& originator, std::int64_t nowMs) {
  capnp::MallocMessageBuilder m;
  auto p = m.initRoot<wire::Permission>();
  p.setBulletinId(kjBytes(bulletinId.view()));
  auto list = p.initGrantedTo(static_cast<unsigned>(grantees.size()));
  for (unsigned i = 0; i < list.size(); ++i) list.set(i, asText(grantees[i]));
  p.setGrantedAtMs(nowMs);
  return signRecord(context::Permission, m, originator);
}

SignedRecordBytes makeRetraction(const crypto::BulletinId& bulletinId, std::string_view reason,
                                 const crypto::Keyring& sender, std::int64_t nowMs) {
  capnp::MallocMessageBuilder m;
  auto r = m.initRoot<wire::Retraction>();
  r.setBulletinId(kjBytes(bulletinId.view()));
  r.setSenderId(asText(sender.memberId));
  r.setReason(asText(reason));
  r.setRetractedAtMs(nowMs);
  return signRecord(context::Retraction, m, sender);
}

namespace {

// 0x00 0x01 || CommentPayload{text, logHead}.
Bytes commentPayload(std::string_view text, const std::optional<SignedHead>& logHead) {
  capnp::MallocMessageBuilder m;
  auto p = m.initRoot<wire::CommentPayload>();
  p.setText(asText(text));
  if (logHead) {
    auto h = p.initLogHead();
    h.setHead(kjBytes(logHead->head));
    h.setSignature(kjBytes(logHead->signature.view()));
  }
  Bytes out{CommentPayloadMarker, CommentPayloadVersion};
  const auto bytes = toBytes(m);
  out.insert(out.end(), bytes.begin(), bytes.end());
  return out;
}

}  // namespace

SignedRecordBytes makeComment(const crypto::BulletinId& recordId, bool objection, std::string_view text,
                              const crypto::BoxPublicKey& recordSenderKey, const crypto::Keyring& author,
                              std::int64_t nowMs, const std::optional<SignedHead>& logHead) {
  capnp::MallocMessageBuilder m;
  auto c = m.initRoot<wire::Comment>();
  c.setRecordId(kjBytes(recordId.view()));
  c.setMemberId(asText(author.memberId));
  c.setObjection(objection);
  // SECURITY: sealed in every comment, text or not, so the hub cannot tell
  // the comments that carry a head from those that do not, nor which head.
  const Bytes payload = commentPayload(text, logHead);
  Bytes sealed(payload.size() + crypto_box_SEALBYTES);
  crypto_box_seal(sealed.data(), payload.data(), payload.size(), recordSenderKey.data());
  c.setSealedText(kjBytes(sealed));
  c.setCommentedAtMs(nowMs);
  return signRecord(context::Comment, m, author);
}

std::optional<std::string> peekCommenter(ByteView body) {
  return peekMemberId<wire::Comment>(body, [](wire::Comment::Reader r) { return r.getMemberId(); });
}

Expected<CommentInfo, RecordError> verifyComment(ByteView body, const crypto::Signature& sig,
                                                 const crypto::SigningPublicKey& authorKey) {
  if (!crypto::verify(context::Comment, body, sig, authorKey)) return unexpected(RecordError::BadSignature);
  auto parsed = decode<wire::Comment>(body);
  if (!parsed) return unexpected(RecordError::Malformed);
  const auto c = parsed->root();
  auto id = crypto::BulletinId::fromBytes(view(c.getRecordId()));
  if (!id) return unexpected(RecordError::Malformed);
  CommentInfo info;
  info.recordId = *id;
  info.memberId = std::string(view(c.getMemberId()));
  info.objection = c.getObjection();
  const auto sealed = view(c.getSealedText());
  info.sealedText.assign(sealed.begin(), sealed.end());
  info.commentedAtMs = c.getCommentedAtMs();
  return info;
}

namespace {

// A comment's opened plaintext: a versioned payload or an older bare text.
std::optional<OpenedComment> readCommentPayload(const Bytes& plain) {
  OpenedComment out;
  if (plain.size() < 2 || plain[0] != CommentPayloadMarker) {  // an older comment: bare text
    out.text.assign(plain.begin(), plain.end());
    return out;
  }
  if (plain[1] != CommentPayloadVersion) return std::nullopt;  // a later version this client cannot read
  auto parsed = decode<wire::CommentPayload>(ByteView(plain).subspan(2));
  if (!parsed) return std::nullopt;
  const auto p = parsed->root();
  out.payloadVersion = CommentPayloadVersion;
  out.text = std::string(view(p.getText()));
  if (p.hasLogHead()) {
    const auto head = view(p.getLogHead().getHead());
    auto sig = crypto::Signature::fromBytes(view(p.getLogHead().getSignature()));
    // A signature of the wrong length is no head at all (no evidence).
    if (sig && !head.empty()) out.logHead = SignedHead{Bytes(head.begin(), head.end()), *sig};
  }
  return out;
}

}  // namespace

std::optional<OpenedComment> openComment(ByteView sealedText, const crypto::BoxKeyPair& keys) {
  if (sealedText.size() < crypto_box_SEALBYTES) return std::nullopt;
  Bytes plain(sealedText.size() - crypto_box_SEALBYTES);
  if (crypto_box_seal_open(plain.data(), sealedText.data(), sealedText.size(), keys.publicKey.data(),
                           keys.secretKey.data()) != 0) {
    return std::nullopt;
  }
  return readCommentPayload(plain);
}

std::optional<OpenedComment> openComment(ByteView sealedText, const crypto::Keyring& recordSender) {
  auto opened = recordSender.openSealed(sealedText, nullptr);
  if (!opened) return std::nullopt;
  return readCommentPayload(Bytes(opened->plaintext.begin(), opened->plaintext.end()));
}

std::optional<std::string> openCommentText(ByteView sealedText, const crypto::BoxKeyPair& keys) {
  auto opened = openComment(sealedText, keys);
  if (!opened) return std::nullopt;
  return std::move(opened->text);
}

std::optional<std::string> openCommentText(ByteView sealedText, const crypto::Keyring& recordSender) {
  auto opened = openComment(sealedText, recordSender);
  if (!opened) return std::nullopt;
  return std::move(opened->text);
}

std::optional<std::string> peekForwarder(ByteView recordBody) {
  return peekMemberId<wire::ForwardRecord>(recordBody, [](wire::ForwardRecord::Reader r) { return r.getForwarderId(); });
}

Expected<OpenedForward, RecordError> openForwarded(ByteView header, const crypto::Signature& sig, ByteView ciphertext,
                                                   const crypto::SigningPublicKey& expectedSenderKey,
                                                   ByteView recordBody, const crypto::Signature& recordSig,
                                                   const crypto::SigningPublicKey& expectedForwarderKey,
                                                   const crypto::Keyring& me) {
  auto verified = verifyHeader(header, sig);
  if (!verified) return unexpected(RecordError::OpenFailed);
  Parsed<wire::BulletinHeader> parsed = std::move(verified).value();
  auto h = parsed.root();
  if (!(*crypto::SigningPublicKey::fromBytes(view(h.getSenderKey())) == expectedSenderKey)) {
    return unexpected(RecordError::OpenFailed);
  }
  // SECURITY: the record's bytes are verified before any field is used.
  if (recordBody.size() > MaxHeaderBytes) return unexpected(RecordError::Malformed);
  if (!crypto::verify(context::Forward, recordBody, recordSig, expectedForwarderKey)) {
    return unexpected(RecordError::BadSignature);
  }
  auto record = decode<wire::ForwardRecord>(recordBody);
  if (!record) return unexpected(RecordError::Malformed);
  auto f = record->root();
  const auto forwarderKey = crypto::SigningPublicKey::fromBytes(view(f.getForwarderKey()));
  if (!forwarderKey || !(*forwarderKey == expectedForwarderKey)) return unexpected(RecordError::BadSignature);
  const auto bid = view(f.getBulletinId());
  const auto hid = view(h.getBulletinId());
  const auto headerHash = crypto::Hash256::fromBytes(view(f.getHeaderHash()));
  if (!std::equal(bid.begin(), bid.end(), hid.begin(), hid.end()) || !headerHash ||
      !(*headerHash == crypto::hash256(header))) {
    return unexpected(RecordError::WrongBulletin);
  }
  const auto forwarderId = view(f.getForwarderId());
  // An original recipient, or the bulletin's own sender (its originator;
  // the caller checked the record's key is one the log gave the forwarder).
  bool original = forwarderId == view(h.getSenderId());
  for (auto r : h.getRecipients()) original = original || view(r.getMemberId()) == forwarderId;
  if (!original) return unexpected(RecordError::NotAuthorised);
  // The record's recipient list: sorted, unique, fixed lengths (as a header's).
  std::string_view previous;
  ForwardInfo info;
  for (auto r : f.getRecipients()) {
    const auto id = view(r.getMemberId());
    if (id.empty() || (!previous.empty() && !(previous < id)) || r.getEncryptionKey().size() != crypto::BoxPublicKey::size ||
        r.getWrappedKey().size() != crypto::WrappedKey::size) {
      return unexpected(RecordError::Malformed);
    }
    previous = id;
    info.recipients.emplace_back(id);
  }
  for (auto a : f.getAddresses()) info.addresses.emplace_back(view(a));
  info.forwarderId = std::string(forwarderId);
  info.forwardedAtMs = f.getForwardedAtMs();

  auto entry = findOurEntry(f.getRecipients(), me);
  if (!entry) return unexpected(RecordError::NotARecipient);
  auto opened = finishOpen(std::move(parsed), ciphertext, entry->first, me, &entry->second);
  if (!opened) return unexpected(RecordError::OpenFailed);
  return OpenedForward{std::move(opened).value(), std::move(info)};
}

Expected<RetractionInfo, RecordError> verifyRetraction(ByteView body, const crypto::Signature& sig,
                                                       wire::BulletinHeader::Reader header,
                                                       const crypto::SigningPublicKey& senderKey) {
  if (body.size() > MaxHeaderBytes) return unexpected(RecordError::Malformed);
  if (!crypto::verify(context::Retraction, body, sig, senderKey)) return unexpected(RecordError::BadSignature);
  auto parsed = decode<wire::Retraction>(body);
  if (!parsed) return unexpected(RecordError::Malformed);
  auto r = parsed->root();
  const auto bid = view(r.getBulletinId());
  const auto hid = view(header.getBulletinId());
  if (!std::equal(bid.begin(), bid.end(), hid.begin(), hid.end())) return unexpected(RecordError::WrongBulletin);
  if (view(r.getSenderId()) != view(header.getSenderId())) return unexpected(RecordError::NotAuthorised);
  RetractionInfo info;
  info.bulletinId = *crypto::BulletinId::fromBytes(bid);
  info.senderId = std::string(view(r.getSenderId()));
  info.reason = std::string(view(r.getReason()));
  info.retractedAtMs = r.getRetractedAtMs();
  return info;
}

}  // namespace focal::protocol

// Sealing and opening bulletins (see bulletin.hpp for the construction and
// why it resists "defective sign & encrypt").
//
// SECURITY: verifyHeader and openBulletin run on bytes relayed by the hub,
// which is not trusted for anything but availability. Every length is
// checked before a fixed-size type is made from it; the signature is checked
// over the exact bytes received, before any field is acted upon except the
// ones needed to find the key (senderKey) and refuse unknown versions.
#include "protocol/bulletin.hpp"

#include "protocol/distribution.hpp"
#include "protocol/signing.hpp"
#include "protocol/text.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace focal::protocol {

namespace {

// A MessageBuilder whose segments are wiped when it is destroyed: the
// Content message holds the plaintext of a bulletin.
class WipingMessageBuilder final : public capnp::MessageBuilder {
 public:
  WipingMessageBuilder() = default;
  ~WipingMessageBuilder() noexcept(false) override {
    for (auto& segment : segments_) sodium_memzero(segment.begin(), segment.size() * sizeof(capnp::word));
  }
  kj::ArrayPtr<capnp::word> allocateSegment(capnp::uint minimumSize) override {
    const std::size_t words = std::max<std::size_t>(minimumSize, nextWords_);
    nextWords_ = std::min<std::size_t>(nextWords_ * 2, MaxSegmentWords);
    auto segment = kj::heapArray<capnp::word>(words);
    std::memset(segment.begin(), 0, words * sizeof(capnp::word));  // capnp requires zeroed segments
    auto ptr = segment.asPtr();
    segments_.push_back(kj::mv(segment));
    return ptr;
  }

 private:
  static constexpr std::size_t MaxSegmentWords = 128 * 1024;
  std::vector<kj::Array<capnp::word>> segments_;
  std::size_t nextWords_ = 1024;
};

// Bytes that held plaintext; wiped on scope exit.
struct WipedBytes {
  Bytes bytes;
  ~WipedBytes() { if (!bytes.empty()) sodium_memzero(bytes.data(), bytes.size()); }
};

bool validFileName(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;
  return name.find_first_of(std::string_view("/\\\0", 3)) == std::string_view::npos;
}

// Structural checks of a parsed header that do not need a key (PROTOCOL.md
// §8.2 step 3), in the order the spec lists them. Returns what is wrong with
// the first failing field, or nullptr. Kept apart from verifyHeader so the
// order is explicit: version, structure, signature.
const char* defectOf(wire::BulletinHeader::Reader h) {
  if (h.getBulletinId().size() != crypto::BulletinId::size) return "the bulletin header's bulletinId is not 16 bytes";
  if (h.getSenderKey().size() != crypto::SigningPublicKey::size) return "the bulletin header's senderKey is not 32 bytes";
  if (h.getContentNonce().size() != crypto::AeadNonce::size) return "the bulletin header's contentNonce is not 24 bytes";
  if (h.getContentHash().size() != crypto::Hash256::size) return "the bulletin header's contentHash is not 32 bytes";
  if (h.getReplyTo().size() != 0 && h.getReplyTo().size() != crypto::BulletinId::size) {
    return "the bulletin header's replyTo is neither empty nor 16 bytes";
  }
  if (h.getRevises().size() != 0 && h.getRevises().size() != crypto::BulletinId::size) {
    return "the bulletin header's revises is neither empty nor 16 bytes";
  }
  if (h.getMeetingId().size() != 0 && h.getMeetingId().size() != crypto::BulletinId::size) {
    return "the bulletin header's meetingId is neither empty nor 16 bytes";
  }
  if (h.getSenderId().size() == 0 || h.getSenderId().size() > MaxMemberIdBytes) {
    return "the bulletin header's senderId is not 1..63 bytes";
  }
  const auto tlp = static_cast<std::uint16_t>(h.getTlp());
  if (tlp == static_cast<std::uint16_t>(wire::Tlp::UNSET)) return "the bulletin header's tlp is unset: a TLP label is required";
  if (tlp > static_cast<std::uint16_t>(wire::Tlp::RED)) return "the bulletin header's tlp is not a known TLP label";

  auto recipients = h.getRecipients();
  if (recipients.size() == 0) return "the bulletin header has no recipients";
  if (recipients.size() > MaxRecipients) return "the bulletin header has more than 256 recipients";
  std::string_view previous;
  for (unsigned i = 0; i < recipients.size(); ++i) {
    auto r = recipients[i];
    const std::string_view id = view(r.getMemberId());
    if (id.empty() || id.size() > MaxMemberIdBytes) return "a recipient's memberId is not 1..63 bytes";
    if (i > 0 && !(previous < id)) return "the recipients are not sorted strictly ascending by memberId";
    previous = id;
    if (r.getEncryptionKey().size() != crypto::BoxPublicKey::size) return "a recipient's encryptionKey is not 32 bytes";
    if (r.getWrappedKey().size() != crypto::WrappedKey::size) return "a recipient's wrappedKey is not 80 bytes";
  }
  if (h.getAddresses().size() > MaxAddresses) return "the bulletin header has more than 64 addresses";
  auto attachments = h.getAttachments();
  if (attachments.size() > MaxAttachments) return "the bulletin header has more than 32 attachments";
  for (auto a : attachments) {
    if (a.getBlobHash().size() != crypto::Hash256::size) return "an attachment's blobHash is not 32 bytes";
  }
  if (h.getSuite() == wire::CIPHER_SUITE_V2) {
    if (h.getKeyCommit().size() != crypto::Hash256::size) return "the bulletin header's keyCommit is not 32 bytes";
    if (!isMemberIdSyntax(view(h.getHubId()))) return "the bulletin header's hubId is not a hub id";
  } else if (h.getKeyCommit().size() != 0 || h.getHubId().size() != 0) {
    return "a suite 1 bulletin header carries seal v2 fields (keyCommit, hubId)";
  }
  return nullptr;
}

bool wellFormed(wire::BulletinHeader::Reader h) { return defectOf(h) == nullptr; }

}  // namespace

const char* describe(SealError e) {
  switch (e) {
    case SealError::NoRecipients: return "The bulletin has no recipients.";
    case SealError::TooManyRecipients: return "The bulletin has more recipients than the protocol allows.";
    case SealError::DuplicateRecipient: return "A member appears more than once among the recipients.";
    case SealError::MissingTlp: return "The bulletin has no TLP label; choose one explicitly.";
    case SealError::TooLarge:
      return "The bulletin is over a size limit (header, content, addresses, attachments or attachment size).";
    case SealError::InvalidField:
      return "A field of the bulletin is invalid (member id, text length, handling, evaluation, deadline or "
             "attachment name).";
    case SealError::InvalidText:
      return "A text field of the bulletin is not valid UTF-8 or contains NUL, or a single-line field (case "
             "reference, handling text, address, ATT&CK id, attachment name) contains a control character, a line "
             "break or a bidirectional override.";
  }
  return "Unknown seal error.";
}

const char* describe(OpenError e) {
  switch (e) {
    case OpenError::Malformed:
      return "The bulletin does not parse, has fields of the wrong length, or has a text field that is not valid "
             "UTF-8 or contains NUL.";
    case OpenError::UnsupportedVersion: return "The bulletin uses a protocol version or cipher suite this client does not support.";
    case OpenError::BadSignature: return "The bulletin header's signature does not verify.";
    case OpenError::UnexpectedSender: return "The bulletin is signed by a key that is not the sender's key in the directory.";
    case OpenError::NotARecipient: return "The bulletin is not addressed to this member's key.";
    case OpenError::KeyUnwrapFailed: return "The content key addressed to this member does not open with this member's key.";
    case OpenError::HashMismatch: return "The bulletin content does not match the hash and size in its signed header.";
    case OpenError::DecryptFailed: return "The bulletin content does not decrypt.";
    case OpenError::KeyCommitMismatch:
      return "The content key addressed to this member is not the key the sender committed to in the signed header: "
             "other recipients may have been given a different text. Refused.";
  }
  return "Unknown open error.";
}

void setAddressing(capnp::List<capnp::Text>::Builder addressList, capnp::List<wire::Recipient>::Builder recipientList,
                   const std::vector<std::string>& addresses, const std::vector<RecipientKey>& recipients,
                   const std::vector<std::size_t>& order, const crypto::ContentKey& contentKey) {
  for (unsigned i = 0; i < addressList.size(); ++i) addressList.set(i, asText(addresses[i]));
  for (unsigned i = 0; i < recipientList.size(); ++i) {
    const auto& r = recipients[order[i]];
    recipientList[i].setMemberId(asText(r.memberId));
    recipientList[i].setEncryptionKey(kjBytes(r.encryptionKey.view()));
    recipientList[i].setWrappedKey(kjBytes(crypto::wrapKey(contentKey, r.encryptionKey).view()));
  }
}

Bytes contentAd(const crypto::BulletinId& id) {
  Bytes ad;
  ad.reserve(context::Content.size() + 1 + id.size);
  ad.insert(ad.end(), context::Content.begin(), context::Content.end());
  ad.push_back(0);
  ad.insert(ad.end(), id.bytes.begin(), id.bytes.end());
  return ad;
}

Bytes contentAdV2(const crypto::BulletinId& id, const crypto::SigningPublicKey& senderKey, std::string_view hubId) {
  // Filled by offset into a buffer of its final size (hub ids are at most
  // 63 bytes, so the u16 length never wraps).
  const std::size_t prefix = context::ContentV2.size() + 1;
  Bytes ad(prefix + id.size + senderKey.size + 2 + hubId.size(), 0);
  std::memcpy(ad.data(), context::ContentV2.data(), context::ContentV2.size());
  std::memcpy(ad.data() + prefix, id.bytes.data(), id.size);
  std::memcpy(ad.data() + prefix + id.size, senderKey.bytes.data(), senderKey.size);
  std::uint8_t* tail = ad.data() + prefix + id.size + senderKey.size;
  tail[0] = static_cast<std::uint8_t>(hubId.size() >> 8);
  tail[1] = static_cast<std::uint8_t>(hubId.size() & 0xff);
  if (!hubId.empty()) std::memcpy(tail + 2, hubId.data(), hubId.size());
  return ad;
}

crypto::Hash256 keyCommitment(const crypto::ContentKey& key, const crypto::BulletinId& id,
                              const crypto::SigningPublicKey& senderKey) {
  Bytes data;
  data.reserve(id.size + senderKey.size);
  data.insert(data.end(), id.bytes.begin(), id.bytes.end());
  data.insert(data.end(), senderKey.bytes.begin(), senderKey.bytes.end());
  return crypto::keyedHash256(key, context::KeyCommit, data);
}

Expected<SealedBulletin, SealError> sealBulletin(const BulletinDraft& draft, const crypto::Keyring& sender,
                                                 const crypto::ContentKey& contentKey, std::int64_t nowMs,
                                                 std::optional<crypto::BulletinId> id) {
  // ---- validate the draft: every refusal before any crypto
  if (draft.recipients.empty()) return unexpected(SealError::NoRecipients);
  if (draft.recipients.size() > MaxRecipients) return unexpected(SealError::TooManyRecipients);
  if (draft.tlp == wire::Tlp::UNSET) return unexpected(SealError::MissingTlp);
  if (static_cast<std::uint16_t>(draft.tlp) > static_cast<std::uint16_t>(wire::Tlp::RED)) {
    return unexpected(SealError::InvalidField);
  }
  if (draft.addresses.size() > MaxAddresses || draft.attachments.size() > MaxAttachments) {
    return unexpected(SealError::TooLarge);
  }
  if (sender.memberId.empty() || sender.memberId.size() > MaxMemberIdBytes || !isSafeSingleLineText(sender.memberId)) {
    return unexpected(SealError::InvalidField);
  }
  if (draft.suite != wire::CIPHER_SUITE && draft.suite != wire::CIPHER_SUITE_V2) return unexpected(SealError::InvalidField);
  if (draft.suite == wire::CIPHER_SUITE_V2 && !isMemberIdSyntax(draft.hubId)) return unexpected(SealError::InvalidField);
  if (draft.infoAccuracy > 4) return unexpected(SealError::InvalidField);
  if ((draft.handling == wire::Handling::H3) == draft.handlingText.empty()) return unexpected(SealError::InvalidField);
  if ((draft.sourceReliability == wire::SourceReliability::UNSET) != (draft.infoAccuracy == 0)) {
    return unexpected(SealError::InvalidField);  // an evaluation has both parts or none
  }
  if (draft.handlingText.size() > MaxTextFieldBytes || draft.caseRef.size() > MaxTextFieldBytes ||
      draft.eventDate.size() > MaxTextFieldBytes || draft.eventPlace.size() > MaxTextFieldBytes) {
    return unexpected(SealError::InvalidField);
  }
  if ((draft.kind == wire::BulletinKind::SUMMARY_RECORD) != (draft.commentDeadlineMs != 0)) {
    return unexpected(SealError::InvalidField);  // a deadline exactly when it is a summary record
  }
  for (const auto& a : draft.addresses) {
    if (a.empty() || a.size() > MaxTextFieldBytes) return unexpected(SealError::InvalidField);
  }
  // SECURITY: no text is ever cut at a NUL or sealed as something that is
  // not text (PROTOCOL.md §3, "Text fields"); the fields the hub and other members see as
  // labels are single-line.
  if (!isValidText(draft.title) || !isValidText(draft.body) || !isValidText(draft.stixBundle) ||
      !isSafeSingleLineText(draft.caseRef) || !isSafeSingleLineText(draft.handlingText) ||
      !isSafeSingleLineText(draft.eventDate) || !isSafeSingleLineText(draft.eventPlace)) {
    return unexpected(SealError::InvalidText);
  }
  for (const auto& t : draft.attackTechniques) {
    if (!isSafeSingleLineText(t)) return unexpected(SealError::InvalidText);
  }
  for (const auto& a : draft.addresses) {
    if (!isSafeSingleLineText(a)) return unexpected(SealError::InvalidText);
  }
  for (const auto& a : draft.attachments) {
    if (!isSafeSingleLineText(a.name) || !isSafeSingleLineText(a.mediaType)) return unexpected(SealError::InvalidText);
  }
  for (const auto& a : draft.attachments) {
    if (a.blobSize > MaxAttachmentBytes) return unexpected(SealError::TooLarge);
    if (!validFileName(a.name) || a.name.size() > MaxTextFieldBytes || a.mediaType.size() > MaxTextFieldBytes) {
      return unexpected(SealError::InvalidField);
    }
  }

  std::vector<std::size_t> order(draft.recipients.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return draft.recipients[a].memberId < draft.recipients[b].memberId;
  });
  for (std::size_t i = 0; i < order.size(); ++i) {
    const auto& memberId = draft.recipients[order[i]].memberId;
    if (memberId.empty() || memberId.size() > MaxMemberIdBytes || !isSafeSingleLineText(memberId)) {
      return unexpected(SealError::InvalidField);
    }
    if (i > 0 && draft.recipients[order[i - 1]].memberId == memberId) {
      return unexpected(SealError::DuplicateRecipient);
    }
  }

  SealedBulletin sealed;
  sealed.id = id ? *id : crypto::randomFixed<crypto::BulletinId>();

  // ---- content: serialised, encrypted once, hashed
  WipedBytes plain;
  {
    WipingMessageBuilder message;
    auto c = message.initRoot<wire::Content>();
    c.setCategory(draft.category);
    c.setTitle(asText(draft.title));
    c.setBody(asText(draft.body));
    auto techniques = c.initAttackTechniques(static_cast<unsigned>(draft.attackTechniques.size()));
    for (unsigned i = 0; i < techniques.size(); ++i) techniques.set(i, asText(draft.attackTechniques[i]));
    c.setStixBundle(asText(draft.stixBundle));
    c.setEventDate(asText(draft.eventDate));
    c.setEventPlace(asText(draft.eventPlace));
    if (draft.metOffer) c.setMetOffer(kjBytes(draft.metOffer->view()));
    auto infos = c.initAttachments(static_cast<unsigned>(draft.attachments.size()));
    for (unsigned i = 0; i < infos.size(); ++i) {
      const auto& a = draft.attachments[i];
      infos[i].setName(asText(a.name));
      infos[i].setMediaType(asText(a.mediaType));
      infos[i].setPlainSize(a.plainSize);
      infos[i].setBlobHash(kjBytes(a.blobHash.view()));
    }
    if (!draft.logHead.empty()) {
      auto head = c.initLogHead();
      head.setHead(kjBytes(draft.logHead));
      head.setSignature(kjBytes(draft.logHeadSignature));
    }
    plain.bytes = toBytes(message);
  }
  // Each byte of the encrypted content costs the same at every recipient and
  // in the hub's store; check before spending the encryption.
  if (plain.bytes.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES > MaxContentBytes) {
    return unexpected(SealError::TooLarge);
  }
  const auto nonce = crypto::randomFixed<crypto::AeadNonce>();
  const bool v2 = draft.suite == wire::CIPHER_SUITE_V2;
  const Bytes ad = v2 ? contentAdV2(sealed.id, sender.identity.publicKey, draft.hubId) : contentAd(sealed.id);
  sealed.ciphertext = crypto::aeadEncrypt(contentKey, nonce, plain.bytes, ad);
  if (sealed.ciphertext.size() > MaxContentBytes) return unexpected(SealError::TooLarge);
  const crypto::Hash256 contentHash = crypto::hash256(sealed.ciphertext);

  // ---- header: serialised once, signed as bytes
  capnp::MallocMessageBuilder message;
  auto h = message.initRoot<wire::BulletinHeader>();
  h.setVersion(wire::PROTOCOL_VERSION);
  h.setSuite(draft.suite);
  h.setBulletinId(kjBytes(sealed.id.view()));
  h.setSenderId(asText(sender.memberId));
  h.setSenderKey(kjBytes(sender.identity.publicKey.view()));
  h.setCreatedAtMs(nowMs);
  h.setTlp(draft.tlp);
  h.setHandling(draft.handling);
  h.setHandlingText(asText(draft.handlingText));
  h.setSourceReliability(draft.sourceReliability);
  h.setInfoAccuracy(draft.infoAccuracy);
  h.setPriority(draft.priority);
  h.setCaseRef(asText(draft.caseRef));
  h.setKind(draft.kind);
  h.setCommentDeadlineMs(draft.commentDeadlineMs);
  if (draft.replyTo) h.setReplyTo(kjBytes(draft.replyTo->view()));
  setAddressing(h.initAddresses(static_cast<unsigned>(draft.addresses.size())),
                h.initRecipients(static_cast<unsigned>(order.size())), draft.addresses, draft.recipients, order,
                contentKey);
  h.setContentNonce(kjBytes(nonce.view()));
  h.setContentHash(kjBytes(contentHash.view()));
  h.setContentSize(sealed.ciphertext.size());
  auto refs = h.initAttachments(static_cast<unsigned>(draft.attachments.size()));
  for (unsigned i = 0; i < refs.size(); ++i) {
    refs[i].setBlobHash(kjBytes(draft.attachments[i].blobHash.view()));
    refs[i].setSize(draft.attachments[i].blobSize);
  }
  if (draft.revises) h.setRevises(kjBytes(draft.revises->view()));
  if (draft.meetingId) h.setMeetingId(kjBytes(draft.meetingId->view()));
  if (v2) {
    h.setKeyCommit(kjBytes(keyCommitment(contentKey, sealed.id, sender.identity.publicKey).view()));
    h.setHubId(asText(draft.hubId));
  }

  sealed.header = toBytes(message);
  if (sealed.header.size() > MaxHeaderBytes) return unexpected(SealError::TooLarge);
  sealed.signature = sender.sign(context::BulletinHeader, sealed.header);
  return sealed;
}

void toWire(const SealedBulletin& sealed, wire::Bulletin::Builder out) {
  out.setHeader(kjBytes(sealed.header));
  out.setSignature(kjBytes(sealed.signature.view()));
  out.setCiphertext(kjBytes(sealed.ciphertext));
}

Expected<Parsed<wire::BulletinHeader>, OpenError> verifyHeader(ByteView header, const crypto::Signature& sig) {
  if (header.size() > MaxHeaderBytes) return unexpected(OpenError::Malformed);
  auto parsed = decode<wire::BulletinHeader>(header);
  if (!parsed) return unexpected(OpenError::Malformed);
  auto h = parsed->root();
  if (h.getVersion() != wire::PROTOCOL_VERSION ||
      (h.getSuite() != wire::CIPHER_SUITE && h.getSuite() != wire::CIPHER_SUITE_V2)) {
    return unexpected(OpenError::UnsupportedVersion);
  }
  if (!wellFormed(h)) return unexpected(OpenError::Malformed);
  const auto senderKey = crypto::SigningPublicKey::fromBytes(view(h.getSenderKey()));
  if (!senderKey || !crypto::verify(context::BulletinHeader, header, sig, *senderKey)) {
    return unexpected(OpenError::BadSignature);
  }
  return std::move(parsed).value();
}

std::string headerDefect(ByteView header) {
  if (header.size() > MaxHeaderBytes) return "the bulletin header is over 65536 bytes";
  auto parsed = decode<wire::BulletinHeader>(header);
  if (!parsed) return "the bulletin header does not decode: " + parsed.error().message;
  const char* defect = defectOf(parsed->root());
  return defect == nullptr ? std::string() : std::string(defect);
}

Expected<OpenedBulletin, OpenError> openBulletin(ByteView header, const crypto::Signature& sig, ByteView ciphertext,
                                                 const crypto::SigningPublicKey& expectedSenderKey,
                                                 const crypto::Keyring& me) {
  auto verified = verifyHeader(header, sig);
  if (!verified) return unexpected(verified.error());
  Parsed<wire::BulletinHeader> parsed = std::move(verified).value();
  auto h = parsed.root();

  // Lengths were checked by verifyHeader; fromBytes cannot fail below.
  if (!(*crypto::SigningPublicKey::fromBytes(view(h.getSenderKey())) == expectedSenderKey)) {
    return unexpected(OpenError::UnexpectedSender);
  }

  auto entry = findOurEntry(h.getRecipients(), me);
  if (!entry) return unexpected(OpenError::NotARecipient);
  return finishOpen(std::move(parsed), ciphertext, entry->first, me, &entry->second);
}

std::optional<std::pair<crypto::WrappedKey, crypto::BoxPublicKey>> findOurEntry(
    capnp::List<wire::Recipient>::Reader recipients, const crypto::Keyring& me) {
  // Our entry: our member id with one of our encryption keys (current, or
  // one we held before a rotation). Recipients are strictly sorted, so a
  // member has at most one entry.
  for (auto r : recipients) {
    if (view(r.getMemberId()) != me.memberId) continue;
    const auto key = crypto::BoxPublicKey::fromBytes(view(r.getEncryptionKey()));
    const auto wrapped = crypto::WrappedKey::fromBytes(view(r.getWrappedKey()));
    if (!key || !wrapped) return std::nullopt;
    if (!me.holdsEncryptionKey(*key)) return std::nullopt;
    return std::pair{*wrapped, *key};
  }
  return std::nullopt;
}

Expected<OpenedBulletin, OpenError> finishOpen(Parsed<wire::BulletinHeader> parsed, ByteView ciphertext,
                                               const crypto::WrappedKey& wrapped, const crypto::Keyring& me,
                                               const crypto::BoxPublicKey* ourKey) {
  auto h = parsed.root();
  if (ciphertext.size() != h.getContentSize() ||
      !(crypto::hash256(ciphertext) == *crypto::Hash256::fromBytes(view(h.getContentHash())))) {
    return unexpected(OpenError::HashMismatch);
  }

  auto key = me.unwrapKey(wrapped, ourKey);
  if (!key) return unexpected(OpenError::KeyUnwrapFailed);

  const auto id = *crypto::BulletinId::fromBytes(view(h.getBulletinId()));
  const auto nonce = *crypto::AeadNonce::fromBytes(view(h.getContentNonce()));
  // Seal v2: the key we were given must be the one the sender committed to
  // (checked before decrypting: XChaCha20-Poly1305 alone does not commit to
  // its key, so one ciphertext can open under two keys to two texts), and
  // the AD binds the sender's key and the hub (a header re-signed by
  // someone else, or a bulletin replayed at another hub, does not decrypt).
  Bytes ad;
  if (h.getSuite() == wire::CIPHER_SUITE_V2) {
    const auto sender = *crypto::SigningPublicKey::fromBytes(view(h.getSenderKey()));
    const auto expected = keyCommitment(key.value(), id, sender);
    const ByteView committed = view(h.getKeyCommit());  // 32 bytes, checked by verifyHeader
    if (sodium_memcmp(expected.data(), committed.data(), crypto::Hash256::size) != 0) {
      return unexpected(OpenError::KeyCommitMismatch);
    }
    ad = contentAdV2(id, sender, view(h.getHubId()));
  } else {
    ad = contentAd(id);
  }
  auto decrypted = crypto::aeadDecrypt(key.value(), nonce, ciphertext, ad);
  if (!decrypted) return unexpected(OpenError::DecryptFailed);
  WipedBytes plain{std::move(decrypted).value()};

  auto content = decode<wire::Content>(plain.bytes);
  if (!content) return unexpected(OpenError::Malformed);
  // The content's attachment list must describe exactly the signed blobs.
  auto infos = content->root().getAttachments();
  auto refs = h.getAttachments();
  if (infos.size() != refs.size()) return unexpected(OpenError::Malformed);
  for (unsigned i = 0; i < infos.size(); ++i) {
    const ByteView info = view(infos[i].getBlobHash());
    const ByteView ref = view(refs[i].getBlobHash());  // 32 bytes, checked by verifyHeader
    if (info.size() != ref.size() || !std::equal(info.begin(), info.end(), ref.begin())) {
      return unexpected(OpenError::Malformed);
    }
    // PROTOCOL.md §6.3, §8.3 step 10: a name with a path separator (or "",
    // ".", "..", NUL) is not one a sender may seal; a bulletin carrying one
    // is malformed, not shown with the path quietly stripped.
    const auto name = view(infos[i].getName());
    if (!validFileName(name) || name.size() > MaxTextFieldBytes || infos[i].getMediaType().size() > MaxTextFieldBytes) {
      return unexpected(OpenError::Malformed);
    }
  }

  return OpenedBulletin{std::move(parsed), std::move(content).value(), std::move(key).value()};
}

}  // namespace focal::protocol

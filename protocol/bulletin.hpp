// Sealing and opening bulletins (DESIGN.md §4, PROTOCOL.md §Bulletins).
// Seal v2 (cipher suite 2, what sealBulletin makes):
//
//   1. content key K: 32 random bytes.
//   2. Content bytes encrypted once: XChaCha20-Poly1305(K, random nonce,
//      AD = "focal/v2/content" || 0x00 || bulletinId || senderKey
//           || u16be len(hubId) || hubId).
//   2a. key commitment: keyCommit = BLAKE2b-256(key = K,
//      "focal/v2/key-commit" || 0x00 || bulletinId || senderKey), in the
//      header; a recipient checks it after unwrapping K, before decrypting.
//   3. K wrapped for each recipient's X25519 key with crypto_box_seal.
//   4. BulletinHeader (ids, sender + key, time, TLP and markings, addresses,
//      every recipient with its key and wrapped K, nonce, BLAKE2b-256 and
//      size of the ciphertext, attachment hashes) serialised once; those
//      exact bytes signed by the sender's identity key under
//      "focal/v1/bulletin-header".
// The header names every recipient and the sender, and is signed; the
// ciphertext is bound to it by its hash. A recipient therefore cannot
// re-wrap K and pass the bulletin off as addressed to someone else, and the
// hub cannot swap a wrapped key or the ciphertext without breaking the
// signature ("defective sign & encrypt").
//
// Seal v1 (suite 1, bulletins made before v2; still opened, and marked):
// AD = "focal/v1/content" || 0x00 || bulletinId, no key commitment. Its two
// gaps, which v2 closes: XChaCha20-Poly1305 does not commit to its key, so
// a sender could wrap K1 for some recipients and K2 for others over one
// ciphertext that opens to a different text under each ("invisible
// salamanders"); and a member could re-sign someone else's ciphertext
// under his own header.
//
// Why the AD is not the header itself: the header carries the ciphertext's
// hash, so the ciphertext cannot depend on the header bytes; binding runs
// the other way (signed header -> hash -> ciphertext), which is stronger.
#pragma once

#include "crypto/key_ops.hpp"
#include "crypto/primitives.hpp"
#include "protocol/message.hpp"

#include <optional>
#include <utility>
#include <string>
#include <vector>

namespace focal::protocol {

struct RecipientKey {
  std::string memberId;
  crypto::BoxPublicKey encryptionKey;
};

struct AttachmentDraft {   // an attachment already encrypted into a blob
  std::string name;
  std::string mediaType;
  std::uint64_t plainSize = 0;
  crypto::Hash256 blobHash;
  std::uint64_t blobSize = 0;
};

// Everything the sender decides. Recipients must already be resolved (the
// client does that from the verified directory).
struct BulletinDraft {
  wire::Tlp tlp = wire::Tlp::UNSET;
  wire::Handling handling = wire::Handling::UNSET;
  std::string handlingText;
  wire::SourceReliability sourceReliability = wire::SourceReliability::UNSET;
  std::uint8_t infoAccuracy = 0;
  wire::Priority priority = wire::Priority::NORMAL;
  std::string caseRef;
  wire::BulletinKind kind = wire::BulletinKind::BULLETIN;
  std::int64_t commentDeadlineMs = 0;
  std::optional<crypto::BulletinId> replyTo;
  std::optional<crypto::BulletinId> revises;
  std::optional<crypto::BulletinId> meetingId;  // a meeting paper or a meeting's summary record
  std::vector<std::string> addresses;
  std::vector<RecipientKey> recipients;

  wire::Category category = wire::Category::UNSET;
  std::string title;
  std::string body;
  std::vector<std::string> attackTechniques;
  std::string stixBundle;
  std::vector<AttachmentDraft> attachments;
  // Working-group fields (PROTOCOL.md §12.9): a training's date and place;
  // in a need's "met" notice, the offer that met it.
  std::string eventDate;
  std::string eventPlace;
  std::optional<crypto::BulletinId> metOffer;
  // The hub the bulletin is sealed for (seal v2 binds it; required).
  std::string hubId;
  // wire::CIPHER_SUITE_V2; wire::CIPHER_SUITE (seal v1) only to test the
  // transition: a v2 client never sends v1.
  std::uint16_t suite = wire::CIPHER_SUITE_V2;
  // The sender's latest verified log head (LogHead bytes and the hub's
  // signature), carried encrypted so the hub cannot filter it (PROTOCOL.md
  // §11.4). Empty: none carried.
  Bytes logHead;
  Bytes logHeadSignature;
};

struct SealedBulletin {
  crypto::BulletinId id;
  Bytes header;              // BulletinHeader bytes, as signed
  crypto::Signature signature;
  Bytes ciphertext;
};

enum class SealError { NoRecipients, TooManyRecipients, DuplicateRecipient, MissingTlp, TooLarge, InvalidField, InvalidText };
const char* describe(SealError e);

// `contentKey` is passed in because attachments are encrypted under keys
// derived from it (crypto::attachmentKey) before the bulletin is sealed.
Expected<SealedBulletin, SealError> sealBulletin(const BulletinDraft& draft, const crypto::Keyring& sender,
                                                 const crypto::ContentKey& contentKey, std::int64_t nowMs,
                                                 std::optional<crypto::BulletinId> id = std::nullopt);

// Writes a SealedBulletin into a wire::Bulletin builder.
void toWire(const SealedBulletin& sealed, wire::Bulletin::Builder out);

enum class OpenError {
  Malformed,          // header or content bytes do not parse, or fields have wrong lengths
  UnsupportedVersion, // version not 1, or suite neither 1 nor 2
  BadSignature,       // header signature does not verify under header.senderKey
  UnexpectedSender,   // header.senderKey is not the key the directory gives for header.senderId
  NotARecipient,      // no recipient entry for this member and key
  KeyUnwrapFailed,    // wrapped key does not open with our key
  HashMismatch,       // ciphertext does not match header.contentHash / contentSize
  DecryptFailed,      // AEAD did not open
  KeyCommitMismatch,  // seal v2: the unwrapped key is not the one the header commits to
};
const char* describe(OpenError e);

// Hub side (and first step for clients): checks lengths and structure,
// version/suite, and the signature against the key inside the header.
// The caller must then check that header.senderKey is the sender's current
// key in the directory.
Expected<Parsed<wire::BulletinHeader>, OpenError> verifyHeader(ByteView header, const crypto::Signature& sig);

// Why verifyHeader found `header` Malformed (PROTOCOL.md §8.2 steps 1 and 3),
// naming the first failing field, e.g. "the bulletin header's tlp is unset:
// a TLP label is required"; empty when the header is not malformed. The hub
// answers invalidRequest with this text.
std::string headerDefect(ByteView header);

struct OpenedBulletin {
  Parsed<wire::BulletinHeader> header;
  Parsed<wire::Content> content;
  crypto::ContentKey contentKey;   // to decrypt attachments
};

// Recipient side: verifyHeader, then header.senderKey == expectedSenderKey,
// then ciphertext hash and size, then unwrap with the recipient's key (the
// current one or any previous one in `me`), then decrypt and parse Content.
Expected<OpenedBulletin, OpenError> openBulletin(ByteView header, const crypto::Signature& sig, ByteView ciphertext,
                                                 const crypto::SigningPublicKey& expectedSenderKey,
                                                 const crypto::Keyring& me);

// The pieces of openBulletin, for opening through a forward record
// (protocol/records.hpp): our recipient entry in a list (our id with our
// current or a previous encryption key), and the rest of the opening
// (ciphertext hash and size, unwrap, AEAD, Content, attachment list) for a
// header that has already been verified.
// `ourKey`: the public half of the member's key the entry names (opened
// through `me`'s key operations, which hold the secret half).
std::optional<std::pair<crypto::WrappedKey, crypto::BoxPublicKey>> findOurEntry(
    capnp::List<wire::Recipient>::Reader recipients, const crypto::Keyring& me);
Expected<OpenedBulletin, OpenError> finishOpen(Parsed<wire::BulletinHeader> header, ByteView ciphertext,
                                               const crypto::WrappedKey& wrapped, const crypto::Keyring& me,
                                               const crypto::BoxPublicKey* ourKey);

// The addressing of a header or a forward record, for sealing through
// either: the addresses as written, and the recipients in `order` (indexes
// into `recipients`, sorted by member id, duplicates already refused) each
// with `contentKey` wrapped for its encryption key.
void setAddressing(capnp::List<capnp::Text>::Builder addressList, capnp::List<wire::Recipient>::Builder recipientList,
                   const std::vector<std::string>& addresses, const std::vector<RecipientKey>& recipients,
                   const std::vector<std::size_t>& order, const crypto::ContentKey& contentKey);

// Content AEAD associated data: seal v1 (bulletin id) and seal v2 (id,
// sender's identity key, hub id); and the seal v2 key commitment.
Bytes contentAd(const crypto::BulletinId& id);
Bytes contentAdV2(const crypto::BulletinId& id, const crypto::SigningPublicKey& senderKey, std::string_view hubId);
crypto::Hash256 keyCommitment(const crypto::ContentKey& key, const crypto::BulletinId& id,
                              const crypto::SigningPublicKey& senderKey);

}  // namespace focal::protocol

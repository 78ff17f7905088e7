// Signed working-group records about a bulletin: forward, permission,
// retraction (PROTOCOL.md §12). Each is a standalone Cap'n Proto message
// signed as   context || 0x00 || bytes   by its author's identity key, and
// verified over the bytes as received before it is parsed.
//
// Forwarding keeps the original sender's signature verifiable: the original
// Bulletin travels unchanged, and the forward record (signed by the
// forwarder, bound to the original header by its BLAKE2b-256) carries the
// same content key K wrapped for each new recipient.
#pragma once

#include "crypto/key_ops.hpp"
#include "protocol/bulletin.hpp"
#include "protocol/log.hpp"

#include <string>
#include <vector>

namespace focal::protocol {

struct SignedRecordBytes {
  Bytes body;
  crypto::Signature signature;
};

// Signs `message` (serialised once) under `context`.
SignedRecordBytes signRecord(std::string_view context, capnp::MessageBuilder& message,
                             const crypto::SigningSecretKey& key);
// The same through the member's key operations (in process or the agent).
SignedRecordBytes signRecord(std::string_view context, capnp::MessageBuilder& message, const crypto::Keyring& signer);

struct ForwardDraft {
  ByteView originalHeader;              // the bulletin's signed header bytes
  const crypto::ContentKey* contentKey = nullptr;  // K, from opening the bulletin
  std::vector<std::string> addresses;   // canonical, as written
  std::vector<RecipientKey> recipients; // resolved
};

enum class RecordError { Malformed, BadSignature, WrongBulletin, NotAuthorised, NotARecipient, OpenFailed };
const char* describe(RecordError e);

// A forward record re-wrapping K for each new recipient, sorted by member id.
Expected<SignedRecordBytes, RecordError> makeForward(const ForwardDraft& draft, const crypto::Keyring& forwarder,
                                                     std::int64_t nowMs,
                                                     std::optional<crypto::BulletinId> forwardId = std::nullopt);

SignedRecordBytes makePermission(const crypto::BulletinId& bulletinId, const std::vector<std::string>& grantees,
                                 const crypto::Keyring& originator, std::int64_t nowMs);

SignedRecordBytes makeRetraction(const crypto::BulletinId& bulletinId, std::string_view reason,
                                 const crypto::Keyring& sender, std::int64_t nowMs);

struct ForwardInfo {
  std::string forwarderId;
  std::int64_t forwardedAtMs = 0;
  std::vector<std::string> addresses;
  std::vector<std::string> recipients;
};

struct OpenedForward {
  OpenedBulletin bulletin;
  ForwardInfo forward;
};

// Opens a bulletin that reached `me` through a forward. Checks, in order:
// the original header as openBulletin does (signature, sender key =
// expectedSenderKey); the record's signature under expectedForwarderKey
// (the directory's key for the forwarder it names); forwarderKey in the
// record equal to that key; bulletinId and headerHash naming this header;
// the forwarder among the header's recipients (only original recipients
// forward); our entry among the record's recipients; then ciphertext hash,
// unwrap and decryption. The caller learns which forwarder key to expect
// from peekForwarder and its verified directory.
Expected<OpenedForward, RecordError> openForwarded(ByteView header, const crypto::Signature& sig, ByteView ciphertext,
                                                   const crypto::SigningPublicKey& expectedSenderKey,
                                                   ByteView recordBody, const crypto::Signature& recordSig,
                                                   const crypto::SigningPublicKey& expectedForwarderKey,
                                                   const crypto::Keyring& me);
// The forwarder id a record claims (unverified), to find its key.
std::optional<std::string> peekForwarder(ByteView recordBody);

struct RetractionInfo {
  crypto::BulletinId bulletinId;
  std::string senderId;
  std::string reason;
  std::int64_t retractedAtMs = 0;
};

// Verifies a retraction against the bulletin's verified header: signature
// under `senderKey` (the directory's key of the header's sender), senderId =
// the header's senderId, bulletinId = the header's id.
Expected<RetractionInfo, RecordError> verifyRetraction(ByteView body, const crypto::Signature& sig,
                                                       wire::BulletinHeader::Reader header,
                                                       const crypto::SigningPublicKey& senderKey);

// ---- summary records (PROTOCOL.md §12.4) ----

// A signed Comment on summary record `recordId`. Its sealed payload (the
// text, which may be empty, and `logHead`: the author's latest verified
// head, gossip of PROTOCOL.md §11.4) is sealed to the record sender's
// encryption key in every comment, so only the secretariat member who
// circulated the record reads it; the hub sees only whether it is an
// objection, and the payload's length.
SignedRecordBytes makeComment(const crypto::BulletinId& recordId, bool objection, std::string_view text,
                              const crypto::BoxPublicKey& recordSenderKey, const crypto::Keyring& author,
                              std::int64_t nowMs, const std::optional<SignedHead>& logHead = std::nullopt);

// The first two plaintext bytes of a versioned comment payload. Older
// comments sealed bare text, which focal never began with a NUL (a
// command-line argument cannot hold one).
inline constexpr std::uint8_t CommentPayloadMarker = 0x00;
inline constexpr std::uint8_t CommentPayloadVersion = 1;

struct CommentInfo {
  crypto::BulletinId recordId;
  std::string memberId;
  bool objection = false;
  Bytes sealedText;
  std::int64_t commentedAtMs = 0;
};

// The member a comment claims (unverified), to find its key.
std::optional<std::string> peekCommenter(ByteView body);
// Verifies a comment's signature under `authorKey` (the verified directory's
// key of the member it names) and its structure.
Expected<CommentInfo, RecordError> verifyComment(ByteView body, const crypto::Signature& sig,
                                                 const crypto::SigningPublicKey& authorKey);
// A comment's sealed payload, opened. `payloadVersion` 0: an older
// comment's bare text (no head); 1: a CommentPayload.
struct OpenedComment {
  std::string text;
  std::optional<SignedHead> logHead;  // as carried, unchecked (the receiver checks it against its log)
  int payloadVersion = 0;
};
// Opens a comment's sealed payload with the record sender's encryption key
// pair (nullopt if it was not sealed to it, or a versioned payload that
// does not read).
std::optional<OpenedComment> openComment(ByteView sealedText, const crypto::BoxKeyPair& recordSenderKeys);
// The same with any of the member's encryption keys, current or previous
// (through the key agent when one holds them).
std::optional<OpenedComment> openComment(ByteView sealedText, const crypto::Keyring& recordSender);
// The text alone (openComment's), for callers that need no head.
std::optional<std::string> openCommentText(ByteView sealedText, const crypto::BoxKeyPair& recordSenderKeys);
// The same with any of the member's encryption keys, current or previous.
std::optional<std::string> openCommentText(ByteView sealedText, const crypto::Keyring& recordSender);

}  // namespace focal::protocol

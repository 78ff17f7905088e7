// Opens a received bulletin. The client never trusts the hub's word about a
// sender: the sender's identity key comes from the key directory (by the
// header's senderId), not from the header, and protocol::openBulletin checks
// the signature, the recipient entry, the ciphertext hash and the AEAD.
// With records from the verified log, the header's signing key must be one
// the log gave the sender: a bulletin created after that key was revoked or
// replaced is refused, an earlier one opens with keyWarning set. Records
// without a key history (a bare listing) refuse any revoked sender.
#pragma once

#include "client/key_directory.hpp"
#include "client/raw_bulletin.hpp"
#include "crypto/key_ops.hpp"
#include "protocol/names.hpp"
#include "protocol/records.hpp"

#include <optional>
#include <string>
#include <vector>

namespace focal::client {

struct OpenedAttachment {
  std::string name;        // as the sender wrote it: sanitise before use as a path
  std::string mediaType;
  std::uint64_t plainSize = 0;
  crypto::Hash256 blobHash;
  std::uint64_t blobSize = 0;  // signed in the header
};

struct OpenedMessage {
  crypto::BulletinId id;
  std::string senderId;
  std::string senderName;
  std::string senderFingerprint;
  // "signed by a key since revoked" when the signing key was revoked after
  // the bulletin's createdAt (bulletins signed after it are refused).
  std::string keyWarning;
  // 2: seal v2 (key-committing, sender and hub bound); 1: a bulletin sealed
  // before v2, shown marked (PROTOCOL.md §8.1: no key commitment).
  int seal = 2;
  std::int64_t createdAtMs = 0;
  wire::Tlp tlp = wire::Tlp::UNSET;
  wire::Priority priority = wire::Priority::NORMAL;
  wire::Category category = wire::Category::UNSET;
  wire::Handling handling = wire::Handling::UNSET;
  std::string handlingText;
  wire::SourceReliability sourceReliability = wire::SourceReliability::UNSET;
  std::uint8_t infoAccuracy = 0;
  std::optional<crypto::BulletinId> replyTo;
  wire::BulletinKind kind = wire::BulletinKind::BULLETIN;
  std::int64_t commentDeadlineMs = 0;            // summary records
  std::optional<crypto::BulletinId> revises;     // summary records
  std::optional<crypto::BulletinId> meetingId;   // bound to a meeting (PROTOCOL.md §12.8)
  std::string caseRef;
  std::vector<std::string> addresses;
  std::vector<std::string> recipients;
  std::string title;
  std::string body;
  std::vector<std::string> attackTechniques;
  std::string stixBundle;
  // Working-group fields (PROTOCOL.md §12.9): a training's date and place,
  // and in a need's "met" notice the offer that met it.
  std::string eventDate;
  std::string eventPlace;
  std::optional<crypto::BulletinId> metOffer;
  std::vector<OpenedAttachment> attachments;
  crypto::ContentKey contentKey;  // for attachmentKey(K, i)
  // Set when it reached us through a forward (verified: see openReceived).
  std::optional<protocol::ForwardInfo> forwardedBy;
  // Set when its sender retracted it (verified: verifyRetractionOf).
  std::optional<protocol::RetractionInfo> retraction;
  // The log head the sender's client carried in the content (gossip,
  // PROTOCOL.md §11.4; a forward carries its original sender's), empty when
  // none; and what the receiver found checking it (client/log_gossip.hpp):
  // "consistent", "unconfirmed", "invalid" or "" (not checked / none).
  crypto::Bytes carriedHead;
  crypto::Bytes carriedHeadSignature;
  std::string carriedHeadCheck;
};

// Error: a human-readable reason ("bad signature", "unknown sender x", ...).
// With `forward` (body, signature): the bulletin reached us through that
// ForwardRecord; it is verified under the forwarder key it names, which must
// be one the verified log gave that forwarder and not revoked or replaced
// before forwardedAtMs (protocol::openForwarded), and the forward must respect
// the TLP forwarding rule for us (protocol::checkForward) - a client does not
// take the hub's word for that either. With `ownCopy`: a bulletin we sent
// ourselves, opened with K sealed to our own encryption key.
Expected<OpenedMessage, std::string> openReceived(const RawBulletin& raw, const KeyDirectory& directory,
                                                  const crypto::Keyring& me,
                                                  const std::pair<crypto::Bytes, crypto::Bytes>* forward = nullptr,
                                                  const crypto::WrappedKey* ownCopy = nullptr);

// Verifies a retraction of `raw` (whose header need not be opened): the
// header's own signature (by a key the log gave its sender), then the
// retraction, naming that sender and this bulletin, under the identity key
// the sender held at the retraction's retractedAtMs: any key of the sender's
// verified history, provided it was neither revoked nor replaced before
// retractedAtMs. (The hub takes a retraction under the sender's key of the
// moment, so after an identity rotation it is not the bulletin's key.)
Expected<protocol::RetractionInfo, std::string> verifyRetractionOf(const RawBulletin& raw,
                                                                   const KeyDirectory& directory,
                                                                   const crypto::Bytes& body,
                                                                   const crypto::Bytes& signature);

// Display names and parsers of the markings: one table per enum in
// protocol/names.hpp ("AMBER+STRICT", "best-practice", "urgent", "H2").
using protocol::categoryName;
using protocol::handlingName;
using protocol::parseCategory;
using protocol::parseHandling;
using protocol::parseTlp;
using protocol::priorityName;
using protocol::tlpName;
const char* handlingMeaning(wire::Handling h);
std::string evaluationName(wire::SourceReliability s, std::uint8_t accuracy);  // "B2", "" when not evaluated
std::string evaluationMeaning(wire::SourceReliability s, std::uint8_t accuracy);
bool parseEvaluation(std::string_view text, wire::SourceReliability& source, std::uint8_t& accuracy);

}  // namespace focal::client

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
#include "crypto/keyfile.hpp"

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
  std::int64_t createdAtMs = 0;
  wire::Tlp tlp = wire::Tlp::UNSET;
  wire::Priority priority = wire::Priority::NORMAL;
  wire::Category category = wire::Category::UNSET;
  std::string caseRef;
  std::vector<std::string> addresses;
  std::vector<std::string> recipients;
  std::string title;
  std::string body;
  std::vector<std::string> attackTechniques;
  std::vector<OpenedAttachment> attachments;
  crypto::ContentKey contentKey;  // for attachmentKey(K, i)
};

// Error: a human-readable reason ("bad signature", "unknown sender x", ...).
Expected<OpenedMessage, std::string> openReceived(const RawBulletin& raw, const KeyDirectory& directory,
                                                  const crypto::MemberKeys& me);

// Display names: "AMBER+STRICT", "best-practice", "urgent".
const char* tlpName(wire::Tlp t);
const char* categoryName(wire::Category c);
const char* priorityName(wire::Priority p);
bool parseTlp(std::string_view text, wire::Tlp& out);           // clear|green|amber|amber+strict|red
bool parseCategory(std::string_view text, wire::Category& out);  // trend|best-practice|...

}  // namespace focal::client

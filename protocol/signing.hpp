// Domain-separation contexts: every signature in Focal covers
//   context || 0x00 || bytes
// with exactly one of these ASCII contexts, so a signature made for one
// purpose can never be replayed as another. PROTOCOL.md §Signatures.
#pragma once

#include "crypto/types.hpp"

#include <string_view>

namespace focal::protocol::context {

inline constexpr std::string_view Auth = "focal/v1/auth";
inline constexpr std::string_view BulletinHeader = "focal/v1/bulletin-header";
inline constexpr std::string_view Ack = "focal/v1/ack";
inline constexpr std::string_view LogEvent = "focal/v1/log-event";
inline constexpr std::string_view LogHead = "focal/v1/log-head";
inline constexpr std::string_view EncKeyCert = "focal/v1/enc-key-cert";  // = crypto::EncKeyCertContext
inline constexpr std::string_view Forward = "focal/v1/forward";
inline constexpr std::string_view Permission = "focal/v1/permission";
inline constexpr std::string_view Retraction = "focal/v1/retraction";
inline constexpr std::string_view Comment = "focal/v1/comment";
inline constexpr std::string_view Proposal = "focal/v1/proposal";
inline constexpr std::string_view Decision = "focal/v1/decision";
inline constexpr std::string_view Cosign = "focal/v1/cosign";
inline constexpr std::string_view AckHead = "focal/v1/ack-head";            // CarriedHead beside an ack
inline constexpr std::string_view DecisionHead = "focal/v1/decision-head";  // CarriedHead beside a decision
inline constexpr std::string_view Meeting = "focal/v1/meeting";            // a meeting, by the secretariat
inline constexpr std::string_view ActionItem = "focal/v1/action-item";        // work programme (§12.10)
inline constexpr std::string_view ActionUpdate = "focal/v1/action-update";
// Not signatures: BLAKE2b / AEAD contexts.
inline constexpr std::string_view Content = "focal/v1/content";      // AEAD associated data prefix (seal v1)
inline constexpr std::string_view ContentV2 = "focal/v2/content";    // AEAD associated data prefix (seal v2)
inline constexpr std::string_view KeyCommit = "focal/v2/key-commit"; // seal v2 key commitment (keyed BLAKE2b)
inline constexpr std::string_view LogEntry = "focal/v1/log-entry";   // entry hash chain
inline constexpr std::string_view Audit = "focal/v1/audit";          // audit trail hash chain

// TLS exporter label for channel binding (RFC 9266).
inline constexpr std::string_view TlsExporterLabel = "EXPORTER-Channel-Binding";
inline constexpr std::size_t TlsExporterBytes = 32;

}  // namespace focal::protocol::context

namespace focal::protocol {

// The bytes an Authenticate signature covers (after "focal/v1/auth" || 0x00):
//   nonce(32) || tlsExporter(32) || hubKey(32) || u16be len(memberId) || memberId
// Callers refuse member ids longer than MaxMemberIdBytes (63) before this.
inline crypto::Bytes authMessage(const crypto::Challenge& nonce,
                                 std::span<const std::uint8_t, context::TlsExporterBytes> tlsExporter,
                                 const crypto::SigningPublicKey& hubKey, std::string_view memberId) {
  crypto::Bytes m;
  m.reserve(nonce.size + context::TlsExporterBytes + hubKey.size + 2 + memberId.size());
  m.insert(m.end(), nonce.bytes.begin(), nonce.bytes.end());
  m.insert(m.end(), tlsExporter.begin(), tlsExporter.end());
  m.insert(m.end(), hubKey.bytes.begin(), hubKey.bytes.end());
  m.push_back(static_cast<std::uint8_t>(memberId.size() >> 8));
  m.push_back(static_cast<std::uint8_t>(memberId.size()));
  m.insert(m.end(), memberId.begin(), memberId.end());
  return m;
}

}  // namespace focal::protocol

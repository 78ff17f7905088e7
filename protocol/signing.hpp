// Domain-separation contexts: every signature in Focal covers
//   context || 0x00 || bytes
// with exactly one of these ASCII contexts, so a signature made for one
// purpose can never be replayed as another. PROTOCOL.md §Signatures.
#pragma once

#include <string_view>

namespace focal::protocol::context {

inline constexpr std::string_view Auth = "focal/v1/auth";
inline constexpr std::string_view BulletinHeader = "focal/v1/bulletin-header";
inline constexpr std::string_view Ack = "focal/v1/ack";
inline constexpr std::string_view LogEvent = "focal/v1/log-event";
inline constexpr std::string_view LogHead = "focal/v1/log-head";
inline constexpr std::string_view EncKeyCert = "focal/v1/enc-key-cert";  // = crypto::EncKeyCertContext
// Not signatures: BLAKE2b / AEAD contexts.
inline constexpr std::string_view Content = "focal/v1/content";      // AEAD associated data prefix
inline constexpr std::string_view LogEntry = "focal/v1/log-entry";   // entry hash chain

// TLS exporter label for channel binding (RFC 9266).
inline constexpr std::string_view TlsExporterLabel = "EXPORTER-Channel-Binding";
inline constexpr std::size_t TlsExporterBytes = 32;

}  // namespace focal::protocol::context

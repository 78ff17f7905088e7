// Limits on every input that comes from the network. Each is a named constant
// with the reason for its value; the server may lower (never raise) some of
// them from its configuration. PROTOCOL.md §Limits lists the same numbers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace focal::protocol {

// A frame is a 4-byte big-endian length followed by one Cap'n Proto message.
inline constexpr std::size_t FrameHeaderBytes = 4;
// Largest frame body: one attachment chunk (256 KiB + overhead) or one
// bulletin (header + content) fits with room; anything larger is an attack
// or a bug, refused before a byte of it is allocated.
inline constexpr std::uint32_t MaxFrameBytes = 1024 * 1024;
// Largest frame accepted before the connection has authenticated.
// SECURITY: the only frame legal then is `authenticate` (a member id of at
// most 63 bytes, a 32-byte key and a 64-byte signature: under 256 bytes
// framed); 4 KiB leaves room for fields a later schema may add. Anyone who
// can open a TCP connection can send a length prefix, so this, not
// MaxFrameBytes, is what an unauthenticated peer can make the hub hold:
// 4 KiB a connection instead of 1 MiB (1,000 such peers held 1.1 GB before
// this limit). A larger prefix is `frameTooLarge` and the connection closes.
inline constexpr std::uint32_t MaxUnauthenticatedFrameBytes = 4 * 1024;
// Content ciphertext carried inline in a bulletin (title, body, STIX).
// Bigger material goes in attachments, which are streamed.
inline constexpr std::size_t MaxContentBytes = 640 * 1024;
// Signed header (addresses + recipients with their 80-byte wrapped keys).
inline constexpr std::size_t MaxHeaderBytes = 64 * 1024;
// Recipients of one bulletin: ten member states with two points of contact
// each, plus partners and the resource panel, fit many times over.
inline constexpr std::size_t MaxRecipients = 256;
inline constexpr std::size_t MaxAddresses = 64;
inline constexpr std::size_t MaxAttachments = 32;
inline constexpr std::uint64_t MaxAttachmentBytes = 1024ull * 1024 * 1024;  // 1 GiB encrypted
// Upload chunks carry at most this much data per frame.
inline constexpr std::size_t MaxChunkBytes = 512 * 1024;
// Bulletin ids acknowledged by one signed ack.
inline constexpr std::size_t MaxAckBatch = 1024;
// One sealed CarriedHead (PROTOCOL.md §11.4): about 420 bytes for a
// 10-character hub id and a 12-character member id; far below this.
inline constexpr std::size_t MaxSealedHeadBytes = 1024;
// Bulletin ids per ack when the ack carries a sealed head for each, so the
// signed AckBody stays within MaxAckBodyBytes.
inline constexpr std::size_t MaxAckBatchWithHeads = 128;
// A signed AckBody: MaxAckBatch ids, or MaxAckBatchWithHeads ids with heads.
inline constexpr std::size_t MaxAckBodyBytes = 160 * 1024;
// Deliveries per fetch page (also bounded by MaxFrameBytes).
inline constexpr std::uint32_t MaxFetchPage = 256;
inline constexpr std::uint32_t MaxLogPage = 1024;
inline constexpr std::size_t MaxMemberIdBytes = 63;
inline constexpr std::size_t MaxTextFieldBytes = 1024;  // names, case refs, reasons
// The text of an amendment proposal (PROTOCOL.md §12.5): a change to the
// terms of reference fits; the adopted entry (proposal + one approval per
// state) stays far below the 64 KiB a client accepts for a log event.
inline constexpr std::size_t MaxAmendmentTextBytes = 16 * 1024;
// The meetings a resource-panel admission may be limited to (PROTOCOL.md
// §12.5, Proposal.meetings): a few sessions of a year or two.
inline constexpr std::size_t MaxAdmissionMeetings = 16;

// Cap'n Proto reader limits for untrusted input. Nesting: our deepest legal
// structure is ServerFrame > Directory > member > KeySet (< 8); 16 leaves room
// and sits far below the library default of 64. Traversal: proportional to
// the message so a small frame cannot make us walk a large amplified tree.
inline constexpr int MaxNestingDepth = 16;
inline constexpr std::uint64_t traversalLimitWords(std::size_t messageBytes) {
  return (messageBytes / 8) * 4 + 1024;
}

// Accepted clock skew between a bulletin's createdAt and the hub's clock.
inline constexpr std::int64_t MaxClockSkewMs = 10 * 60 * 1000;
// The hub signs a new log head at least this often, even when no entry is
// appended (PROTOCOL.md §11.1), so a client can tell a quiet log from a
// frozen one: its newest head is never much older than this unless the hub
// is down or withholding heads (client/head_freshness.hpp).
inline constexpr std::int64_t HeadRefreshMs = 60 * 60 * 1000;

}  // namespace focal::protocol

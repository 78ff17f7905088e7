// The sizes an attachment blob can have (PROTOCOL.md §9.1). Apart from
// limits.hpp so that only the code that checks blob sizes depends on it.
#pragma once

#include <cstdint>

namespace focal::protocol {

// Attachment blobs (PROTOCOL.md §9.1): a 24-byte secretstream header, full
// chunks of 262144 plaintext + 17 bytes, then exactly one final chunk whose
// plaintext is shorter than a full chunk (0..262143 bytes, so 17..262160
// bytes on the wire). No other size is an attachment blob; the hub refuses
// others at beginUpload, so a blob whose final tag sits on a full chunk (the
// other conceivable layout) cannot be uploaded.
inline constexpr std::uint64_t AttachmentStreamHeaderBytes = 24;
inline constexpr std::uint64_t AttachmentChunkOverheadBytes = 17;
inline constexpr std::uint64_t AttachmentCipherChunkBytes = 262144 + AttachmentChunkOverheadBytes;
inline constexpr bool isAttachmentBlobSize(std::uint64_t size) {
  if (size < AttachmentStreamHeaderBytes + AttachmentChunkOverheadBytes) return false;
  return (size - AttachmentStreamHeaderBytes) % AttachmentCipherChunkBytes >= AttachmentChunkOverheadBytes;
}

}  // namespace focal::protocol

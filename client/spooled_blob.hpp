// An attachment encrypted into its blob, held in a temporary file (mode
// 0600) in the profile's spool directory until it is uploaded.
//
// Blob = 24-byte secretstream header || chunk ciphertexts, one per
// crypto::AttachmentChunkPlainBytes of plaintext (+17 bytes each), the last
// one tagged FINAL. The BLAKE2b-256 of the blob is computed while writing.
// Memory stays bounded by one chunk whatever the file size. The temporary
// file is removed when the object is destroyed (one owner, move-only).
#pragma once

#include "client/connection.hpp"
#include "crypto/primitives.hpp"

#include <filesystem>

namespace focal::client {

class SpooledBlob {
 public:
  // Encrypts `plainFile` under `attachmentKey` (crypto::attachmentKey(K, i)).
  // Throws std::runtime_error on I/O failure or if the file is over the
  // protocol's attachment limit.
  static SpooledBlob encrypt(const std::filesystem::path& plainFile, const crypto::ContentKey& attachmentKey,
                             const std::filesystem::path& spoolDir);
  SpooledBlob(SpooledBlob&& o) noexcept;
  SpooledBlob& operator=(SpooledBlob&&) = delete;
  SpooledBlob(const SpooledBlob&) = delete;
  ~SpooledBlob();

  std::uint64_t size() const { return size_; }
  std::uint64_t plainSize() const { return plainSize_; }
  const crypto::Hash256& hash() const { return hash_; }
  // Reads the blob at an offset (for Connection::uploadBlob).
  BlobReader reader() const;

 private:
  SpooledBlob() = default;
  int fd_ = -1;
  std::filesystem::path path_;
  std::uint64_t size_ = 0;
  std::uint64_t plainSize_ = 0;
  crypto::Hash256 hash_;
};

}  // namespace focal::client

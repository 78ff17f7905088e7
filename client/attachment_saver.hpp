// The mirror of SpooledBlob on download: blob bytes are streamed in (in
// order), decrypted chunk by chunk into a temporary file in the save
// directory, and only when the whole blob hashes to the signed value, has
// the signed size and ended with the FINAL chunk is the file renamed to its
// (sanitised) name. Memory stays bounded by one chunk. A saver that is
// destroyed before finish() removes its temporary file.
#pragma once

#include "crypto/primitives.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace focal::client {

// `focal read --save-dir DIR`: DIR, and any missing parent, is created
// with mode 0700 (attachments are as confidential as the bulletin);
// directories that exist are left as they are. std::runtime_error when it
// cannot be created or a component is not a directory.
void createSaveDirectory(const std::filesystem::path& dir);

class AttachmentSaver {
 public:
  AttachmentSaver(const std::filesystem::path& saveDir, const crypto::ContentKey& attachmentKey,
                  const crypto::Hash256& expectedHash, std::uint64_t expectedSize);
  ~AttachmentSaver();
  AttachmentSaver(const AttachmentSaver&) = delete;
  AttachmentSaver& operator=(const AttachmentSaver&) = delete;

  // Feeds the next blob bytes. Throws VerifyError if a chunk does not
  // decrypt or data follows the FINAL chunk.
  void write(crypto::ByteView blobBytes);
  // Verifies (VerifyError) and moves the file to saveDir/fileName, which must
  // already be sanitised. Without `overwrite` an existing file is never
  // replaced (std::runtime_error). Returns the final path.
  std::filesystem::path finish(const std::string& fileName, bool overwrite);
  std::uint64_t plainBytes() const { return plainBytes_; }

 private:
  void pullChunk(crypto::ByteView cipherChunk);
  void writePlain(crypto::ByteView plain);

  std::filesystem::path dir_;
  std::filesystem::path tmp_;
  int fd_ = -1;
  crypto::ContentKey key_;
  crypto::Hash256 expectedHash_;
  std::uint64_t expectedSize_;
  crypto::Hasher hasher_;
  std::uint64_t received_ = 0;
  std::uint64_t plainBytes_ = 0;
  std::uint64_t flushStarted_ = 0;  // plaintext whose writeback was started
  crypto::Bytes pending_;  // < one cipher chunk
  std::optional<crypto::StreamDecryptor> dec_;
  bool finalSeen_ = false;
};

}  // namespace focal::client

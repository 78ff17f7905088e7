// Sealed files: a file of any size encrypted under a key derived from one
// random backup key, for `focald backup --encrypt-to` (issue 22; the format
// is normative, docs/operations.md "Sealed backups" and SECURITY.md §7.2).
//
//   backup key   32 random bytes, one per backup; sealed to each operator's
//                X25519 encryption key with crypto_box_seal (wrapKey).
//   file key     BLAKE2b-256(key = backup key,
//                            "focal/v1/backup-file" || 0x00 || label)
//                where label = role || 0x00 || name (name: the file's path
//                inside the hub directory): a file moved to another name or
//                role is opened under another key and does not decrypt.
//   manifest key BLAKE2b-256(key = backup key, "focal/v1/backup-manifest" || 0x00)
//
// A sealed file (all integers big-endian):
//   "FOCALBAK" | u8 version = 1 | u16 len(label) | label
//   | secretstream header (24) | chunks
// The plaintext is cut into chunks of AttachmentChunkPlainBytes (256 KiB;
// the last one shorter, possibly empty), each pushed with
// crypto_secretstream_xchacha20poly1305 (ciphertext = plaintext + 17
// bytes); the last one, and only it, carries TAG_FINAL, so a file cut
// short at a chunk boundary is told apart from a complete one. Memory is
// bounded by one chunk on both sides. The label in clear is only for
// messages (which file a swapped one really is): the key binds it.
#pragma once

#include "crypto/primitives.hpp"

#include <filesystem>
#include <functional>
#include <span>
#include <string_view>
#include <sys/types.h>

namespace focal::crypto {

inline constexpr std::string_view SealedFileMagic = "FOCALBAK";
inline constexpr std::uint8_t SealedFileVersion = 1;
inline constexpr std::size_t MaxSealedLabelBytes = 1024;
inline constexpr std::string_view BackupFileContext = "focal/v1/backup-file";
inline constexpr std::string_view BackupManifestContext = "focal/v1/backup-manifest";

enum class SealedFileError {
  Unreadable,          // the sealed file cannot be opened or read
  NotSealed,           // no FOCALBAK header, or a damaged one
  UnsupportedVersion,  // a version this focald does not know
  OtherFile,           // the header names another file: files swapped or renamed
  Tampered,            // a chunk does not decrypt: altered, or not sealed under this backup key
  Truncated,           // the stream ends before its final chunk
  TrailingData,        // bytes after the final chunk
  WriteFailed,         // the plaintext cannot be written
};
const char* describe(SealedFileError e);

struct SealedFileSummary {
  std::uint64_t plainBytes = 0;
  Hash256 plainHash;   // BLAKE2b-256 of the plaintext
  Hash256 sealedHash;  // BLAKE2b-256 of the whole sealed file
};

// The label role || 0x00 || name; std::invalid_argument when either holds a
// NUL or the label is longer than MaxSealedLabelBytes.
Bytes sealedFileLabel(std::string_view role, std::string_view name);
ContentKey backupFileKey(const ContentKey& backupKey, std::string_view role, std::string_view name);
ContentKey backupManifestKey(const ContentKey& backupKey);

// Reads up to out.size() bytes into `out`; 0 at the end. Throws on an I/O error.
using ByteSource = std::function<std::size_t(std::span<std::uint8_t>)>;
// Takes the next bytes. Throws on an I/O error.
using ByteSink = std::function<void(ByteView)>;

// Seals what `in` gives into `out`. Plaintext buffers are wiped after use.
SealedFileSummary sealStream(const ContentKey& backupKey, std::string_view role, std::string_view name,
                             const ByteSource& in, const ByteSink& out);
// Opens a sealed stream, giving plaintext to `out` chunk by chunk as each
// one authenticates: on an error, what `out` took is to be discarded (the
// caller writes it only where it removes it again).
Expected<SealedFileSummary, SealedFileError> openStream(const ContentKey& backupKey, std::string_view role,
                                                        std::string_view name, const ByteSource& in,
                                                        const ByteSink& out);

// The same over files. The output is created (O_EXCL|O_NOFOLLOW, never
// over an existing file) with `mode`, written, fsynced; on any failure it
// is removed. sealFile throws std::runtime_error naming the path.
SealedFileSummary sealFile(const ContentKey& backupKey, std::string_view role, std::string_view name,
                           const std::filesystem::path& plain, const std::filesystem::path& sealed);
SealedFileSummary sealBytes(const ContentKey& backupKey, std::string_view role, std::string_view name,
                            ByteView plain, const std::filesystem::path& sealed);
Expected<SealedFileSummary, SealedFileError> openFile(const ContentKey& backupKey, std::string_view role,
                                                      std::string_view name, const std::filesystem::path& sealed,
                                                      const std::filesystem::path& plain, mode_t mode);

}  // namespace focal::crypto

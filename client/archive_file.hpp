// The local archive's file (members/ID/archive.bin): one sealed image of the
// archive's SQLite database, index included, so nothing of a title or body
// is ever on disk in the clear.
//
//   file   = header | ciphertext
//   header = "FOCALARC" | u8 version (1) | u8 n | member id (n bytes)
//            | encryption public key the archive key came from (32)
//            | nonce (24)
//   ciphertext = XChaCha20-Poly1305(archive key, nonce, image, AD = header)
//
// The archive key is crypto::deriveArchiveKey of the member's secret
// encryption key named in the header (the Keyring derives it, in this
// process or in the key agent), so a key file kept from before a rotation
// still opens it; every save seals under the current key and a fresh random
// nonce. The whole header is authenticated: a file copied from another
// member, or with its version or key changed, does not open. Written with
// crypto::writeFileAtomic (temporary file, fsync, rename, fsync of the
// directory): after a crash the file is the old image or the new one.
#pragma once

#include "crypto/expected.hpp"
#include "crypto/key_ops.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace focal::client {

inline constexpr std::uint8_t ArchiveFileVersion = 1;
// A bound before anything is allocated for a file read back.
inline constexpr std::size_t MaxArchiveFileBytes = std::size_t{1} << 31;  // 2 GiB

enum class ArchiveFileError {
  NotAnArchive,   // no header, a truncated one, or a wrong magic
  Unsupported,    // a version this client does not read
  OtherMember,    // the header names another member
  WrongKey,       // sealed under an encryption key this key file does not hold
  Damaged,        // the authentication failed: tampered, truncated, or another key
};
const char* describe(ArchiveFileError e);

struct ArchiveFileHeader {
  std::uint8_t version = 0;
  std::string memberId;
  crypto::BoxPublicKey keyOf;
  crypto::AeadNonce nonce;
  std::size_t size = 0;  // header bytes
};
// Parses the header of `file` (untrusted bytes).
Expected<ArchiveFileHeader, ArchiveFileError> parseArchiveHeader(crypto::ByteView file);

// Seals `image` for `keys`' member under its current encryption key.
crypto::Bytes sealArchive(const crypto::Keyring& keys, crypto::ByteView image);
// Opens a sealed file with `keys` (derives the key the header names).
Expected<crypto::Bytes, ArchiveFileError> openArchive(const crypto::Keyring& keys, crypto::ByteView file);

// The file on disk: nullopt when there is none; std::runtime_error when it
// cannot be read or is larger than MaxArchiveFileBytes.
std::optional<crypto::Bytes> readArchiveFile(const std::filesystem::path& path);
void writeArchiveFile(const std::filesystem::path& path, crypto::ByteView sealed);

}  // namespace focal::client

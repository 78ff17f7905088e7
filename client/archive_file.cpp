// The sealed image of the local archive (client/archive_file.hpp).
#include "client/archive_file.hpp"

#include "crypto/primitives.hpp"
#include "crypto/secure_file.hpp"

#include <algorithm>
#include <fstream>
#include <stdexcept>

namespace focal::client {

namespace {

constexpr std::string_view Magic = "FOCALARC";

crypto::Bytes headerBytes(std::string_view memberId, const crypto::BoxPublicKey& keyOf, const crypto::AeadNonce& nonce) {
  if (memberId.size() > 255) throw std::invalid_argument("member id longer than 255 bytes");
  crypto::Bytes h(Magic.begin(), Magic.end());
  h.push_back(ArchiveFileVersion);
  h.push_back(static_cast<std::uint8_t>(memberId.size()));
  h.insert(h.end(), memberId.begin(), memberId.end());
  h.insert(h.end(), keyOf.view().begin(), keyOf.view().end());
  h.insert(h.end(), nonce.view().begin(), nonce.view().end());
  return h;
}

// The AEAD wants a ContentKey-typed key: same size, copied slot to slot.
crypto::ContentKey asAeadKey(const crypto::ArchiveKey& k) { return *crypto::ContentKey::fromBytes(k.view()); }

}  // namespace

const char* describe(ArchiveFileError e) {
  switch (e) {
    case ArchiveFileError::NotAnArchive: return "not a focal archive (no header, or a truncated one)";
    case ArchiveFileError::Unsupported: return "an archive format this version of focal does not read";
    case ArchiveFileError::OtherMember: return "the archive of another member";
    case ArchiveFileError::WrongKey: return "sealed under an encryption key this key file does not hold";
    case ArchiveFileError::Damaged: return "does not authenticate: damaged, truncated or changed";
  }
  return "unknown archive error";
}

Expected<ArchiveFileHeader, ArchiveFileError> parseArchiveHeader(crypto::ByteView file) {
  ArchiveFileHeader h;
  constexpr std::size_t fixed = 8 + 1 + 1;
  if (file.size() < fixed || !std::equal(Magic.begin(), Magic.end(), file.begin())) {
    return unexpected(ArchiveFileError::NotAnArchive);
  }
  h.version = file[8];
  if (h.version != ArchiveFileVersion) return unexpected(ArchiveFileError::Unsupported);
  const std::size_t n = file[9];
  h.size = fixed + n + crypto::BoxPublicKey::size + crypto::AeadNonce::size;
  // The ciphertext holds at least the tag.
  if (file.size() < h.size + crypto_aead_xchacha20poly1305_ietf_ABYTES) return unexpected(ArchiveFileError::NotAnArchive);
  h.memberId.assign(reinterpret_cast<const char*>(file.data() + fixed), n);
  h.keyOf = *crypto::BoxPublicKey::fromBytes(file.subspan(fixed + n, crypto::BoxPublicKey::size));
  h.nonce = *crypto::AeadNonce::fromBytes(file.subspan(fixed + n + crypto::BoxPublicKey::size, crypto::AeadNonce::size));
  return h;
}

crypto::Bytes sealArchive(const crypto::Keyring& keys, crypto::ByteView image) {
  auto derived = keys.archiveKey(nullptr);
  if (!derived) throw std::runtime_error("the key file gives no archive key");
  crypto::AeadNonce nonce;
  randombytes_buf(nonce.data(), crypto::AeadNonce::size);
  auto out = headerBytes(keys.memberId, derived->of, nonce);
  const auto sealed = crypto::aeadEncrypt(asAeadKey(derived->key), nonce, image, out);
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

Expected<crypto::Bytes, ArchiveFileError> openArchive(const crypto::Keyring& keys, crypto::ByteView file) {
  auto h = parseArchiveHeader(file);
  if (!h) return unexpected(h.error());
  if (h->memberId != keys.memberId) return unexpected(ArchiveFileError::OtherMember);
  if (!keys.holdsEncryptionKey(h->keyOf)) return unexpected(ArchiveFileError::WrongKey);
  auto derived = keys.archiveKey(&h->keyOf);
  if (!derived) return unexpected(ArchiveFileError::WrongKey);
  auto image = crypto::aeadDecrypt(asAeadKey(derived->key), h->nonce, file.subspan(h->size), file.first(h->size));
  if (!image) return unexpected(ArchiveFileError::Damaged);
  return std::move(image).value();
}

std::optional<crypto::Bytes> readArchiveFile(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::symlink_status(path, ec))) return std::nullopt;
  return crypto::readFileLimited(path, MaxArchiveFileBytes);
}

void writeArchiveFile(const std::filesystem::path& path, crypto::ByteView sealed) {
  crypto::writeFileAtomic(path, sealed, 0600);
}

}  // namespace focal::client

// In-process private-key operations and the Keyring over them.
#include "crypto/key_ops.hpp"

#include <stdexcept>

namespace focal::crypto {

namespace {

std::optional<Bytes> sealOpen(ByteView sealed, const BoxKeyPair& kp) {
  Bytes plain(sealed.size() - crypto_box_SEALBYTES);
  if (crypto_box_seal_open(plain.data(), sealed.data(), sealed.size(), kp.publicKey.data(), kp.secretKey.data()) != 0) {
    return std::nullopt;
  }
  return plain;
}

MemberKeys cloneKeys(const MemberKeys& k) {
  MemberKeys c;
  c.memberId = k.memberId;
  c.identity = SigningKeyPair{k.identity.publicKey, k.identity.secretKey.clone()};
  c.encryption = BoxKeyPair{k.encryption.publicKey, k.encryption.secretKey.clone()};
  c.createdAtMs = k.createdAtMs;
  c.previousEncryption.reserve(k.previousEncryption.size());
  for (const auto& p : k.previousEncryption) c.previousEncryption.push_back(BoxKeyPair{p.publicKey, p.secretKey.clone()});
  return c;
}

}  // namespace

Signature LocalKeyOps::sign(std::string_view context, ByteView message) const {
  return crypto::sign(context, message, keys_.identity.secretKey);
}

Expected<SealOpened, CryptoError> LocalKeyOps::openSealed(ByteView sealed, const BoxPublicKey* to) const {
  if (sealed.size() < crypto_box_SEALBYTES) return unexpected(CryptoError::BadLength);
  auto attempt = [&](const BoxKeyPair& kp) -> std::optional<SealOpened> {
    if (to != nullptr && !(*to == kp.publicKey)) return std::nullopt;
    auto plain = sealOpen(sealed, kp);
    if (!plain) return std::nullopt;
    return SealOpened{std::move(*plain), kp.publicKey};
  };
  if (auto r = attempt(keys_.encryption)) return std::move(*r);
  for (const auto& p : keys_.previousEncryption) {
    if (auto r = attempt(p)) return std::move(*r);
  }
  return unexpected(CryptoError::DecryptFailed);
}

ArchiveKey deriveArchiveKey(const BoxSecretKey& secret, std::string_view memberId) {
  ArchiveKey out;
  crypto_generichash_state st;
  crypto_generichash_init(&st, secret.data(), BoxSecretKey::size, ArchiveKey::size);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(ArchiveKeyContext.data()), ArchiveKeyContext.size());
  const unsigned char zero = 0;
  crypto_generichash_update(&st, &zero, 1);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(memberId.data()), memberId.size());
  crypto_generichash_final(&st, out.data(), ArchiveKey::size);
  sodium_memzero(&st, sizeof st);
  return out;
}

Expected<ArchiveKeyDerived, CryptoError> LocalKeyOps::archiveKey(const BoxPublicKey* of) const {
  if (of == nullptr || *of == keys_.encryption.publicKey) {
    return ArchiveKeyDerived{deriveArchiveKey(keys_.encryption.secretKey, keys_.memberId), keys_.encryption.publicKey};
  }
  for (const auto& p : keys_.previousEncryption) {
    if (*of == p.publicKey) return ArchiveKeyDerived{deriveArchiveKey(p.secretKey, keys_.memberId), p.publicKey};
  }
  return unexpected(CryptoError::DecryptFailed);
}

Keyring::Keyring(const MemberKeys& keys) : Keyring(cloneKeys(keys)) {}

Keyring::Keyring(MemberKeys&& keys)
    : memberId(keys.memberId),
      identity{keys.identity.publicKey},
      encryption{keys.encryption.publicKey},
      createdAtMs(keys.createdAtMs) {
  previousEncryption.reserve(keys.previousEncryption.size());
  for (const auto& p : keys.previousEncryption) previousEncryption.push_back({p.publicKey});
  ops_ = std::make_shared<const LocalKeyOps>(std::move(keys));
}

Keyring::Keyring(std::string id, SigningPublicKey identityKey, BoxPublicKey encryptionKey,
                 std::vector<BoxPublicKey> previous, std::int64_t created, std::shared_ptr<const SecretKeyOps> ops)
    : memberId(std::move(id)), identity{identityKey}, encryption{encryptionKey}, createdAtMs(created), ops_(std::move(ops)) {
  if (!ops_) throw std::invalid_argument("Keyring without key operations");
  previousEncryption.reserve(previous.size());
  for (const auto& p : previous) previousEncryption.push_back({p});
}

Expected<ContentKey, CryptoError> Keyring::unwrapKey(const WrappedKey& wrapped, const BoxPublicKey* to) const {
  auto opened = openSealed(wrapped.view(), to);
  if (!opened) return unexpected(opened.error());
  auto key = ContentKey::fromBytes(opened->plaintext);
  sodium_memzero(opened->plaintext.data(), opened->plaintext.size());
  if (!key) return unexpected(CryptoError::DecryptFailed);
  return std::move(*key);
}

bool Keyring::holdsEncryptionKey(const BoxPublicKey& pk) const {
  if (pk == encryption.publicKey) return true;
  for (const auto& p : previousEncryption) {
    if (pk == p.publicKey) return true;
  }
  return false;
}

}  // namespace focal::crypto

// A member's keys as the protocol and client code use them: the public
// halves, and the private-key operations (SecretKeyOps) wherever the secret
// halves live, in this process (LocalKeyOps, over a MemberKeys read from the
// key file) or in the key agent (client/agent_client.hpp). Code that signs
// or opens for a member takes a Keyring and never sees a secret key; only
// commands that write a key file (keygen, rotate-key) hold a MemberKeys.
#pragma once

#include "keyfile.hpp"

#include <memory>

namespace focal::crypto {

// Which of the member's encryption keys a sealed box is addressed to.
struct SealOpened {
  Bytes plaintext;         // the caller wipes it when it is key material
  BoxPublicKey openedWith; // the public half of the key that opened it
};

// The key of the member's local archive (client/archive_file.hpp): derived
// from one of the member's secret encryption keys, never stored.
struct ArchiveKeyTag {};
using ArchiveKey = Secret<crypto_aead_xchacha20poly1305_ietf_KEYBYTES, ArchiveKeyTag>;  // 32
// BLAKE2b-256(key = the X25519 secret key, "focal/v1/archive-key" || 0x00 ||
// memberId): bound to its purpose and its member, so the agent that hands it
// out is no oracle for any other derivation and the secret never leaves it.
inline constexpr std::string_view ArchiveKeyContext = "focal/v1/archive-key";
ArchiveKey deriveArchiveKey(const BoxSecretKey& secret, std::string_view memberId);
struct ArchiveKeyDerived {
  ArchiveKey key;
  BoxPublicKey of;  // the public half of the encryption key it came from
};

// The private-key operations of one member. Implementations may throw
// (std::runtime_error) when the keys are out of reach (the agent stopped);
// a cryptographic failure is a value, never an exception.
class SecretKeyOps {
 public:
  virtual ~SecretKeyOps() = default;
  // Ed25519 with the identity key over context || 0x00 || message
  // (crypto::sign); `context` must not contain NUL (std::invalid_argument).
  virtual Signature sign(std::string_view context, ByteView message) const = 0;
  // crypto_box_seal_open of `sealed` with the encryption key whose public
  // half is `to`, or, when `to` is null, with each key the member holds
  // (current first, then the previous ones, newest first) until one opens.
  // DecryptFailed when none does (or `to` is not one of the member's keys),
  // BadLength when `sealed` is shorter than crypto_box_SEALBYTES.
  virtual Expected<SealOpened, CryptoError> openSealed(ByteView sealed, const BoxPublicKey* to) const = 0;
  // The archive key (deriveArchiveKey) from the encryption key whose public
  // half is `of` (null: the current one). DecryptFailed when the member
  // holds no such key (an archive keyed before a rotation this key file
  // does not know).
  virtual Expected<ArchiveKeyDerived, CryptoError> archiveKey(const BoxPublicKey* of) const = 0;
};

// The operations over keys held in this process (guarded memory, Secret<>).
class LocalKeyOps final : public SecretKeyOps {
 public:
  explicit LocalKeyOps(MemberKeys keys) : keys_(std::move(keys)) {}
  Signature sign(std::string_view context, ByteView message) const override;
  Expected<SealOpened, CryptoError> openSealed(ByteView sealed, const BoxPublicKey* to) const override;
  Expected<ArchiveKeyDerived, CryptoError> archiveKey(const BoxPublicKey* of) const override;
  const MemberKeys& keys() const { return keys_; }

 private:
  MemberKeys keys_;
};

// A public key under the name MemberKeys gives it (`keys.identity.publicKey`),
// so code that reads only public halves reads the same from either type.
template <class Key>
struct PublicHalf {
  Key publicKey;
};

class Keyring {
 public:
  // Implicit on purpose: every function that took a MemberKeys takes a
  // Keyring, and callers holding a MemberKeys (tests, keygen) pass it as
  // before. From an lvalue the secret keys are cloned (guarded slots), so
  // the Keyring never dangles; from an rvalue they are taken.
  Keyring(const MemberKeys& keys);  // NOLINT(google-explicit-constructor)
  Keyring(MemberKeys&& keys);       // NOLINT(google-explicit-constructor)
  // Public halves from elsewhere (the agent), with the operations on them.
  Keyring(std::string memberId, SigningPublicKey identity, BoxPublicKey encryption,
          std::vector<BoxPublicKey> previousEncryption, std::int64_t createdAtMs,
          std::shared_ptr<const SecretKeyOps> ops);

  std::string memberId;
  PublicHalf<SigningPublicKey> identity;
  PublicHalf<BoxPublicKey> encryption;
  std::vector<PublicHalf<BoxPublicKey>> previousEncryption;  // newest first
  std::int64_t createdAtMs = 0;

  Signature sign(std::string_view context, ByteView message) const { return ops_->sign(context, message); }
  Expected<SealOpened, CryptoError> openSealed(ByteView sealed, const BoxPublicKey* to) const {
    return ops_->openSealed(sealed, to);
  }
  // A content key sealed to `to` (null: any of the member's keys), straight
  // into guarded memory; DecryptFailed also when the plaintext is not a key.
  Expected<ContentKey, CryptoError> unwrapKey(const WrappedKey& wrapped, const BoxPublicKey* to) const;
  Expected<ArchiveKeyDerived, CryptoError> archiveKey(const BoxPublicKey* of) const { return ops_->archiveKey(of); }
  // Whether `pk` is the current or a previous encryption key of the member.
  bool holdsEncryptionKey(const BoxPublicKey& pk) const;
  // For what outlives one call (a Connection signs acks with it later).
  const std::shared_ptr<const SecretKeyOps>& ops() const { return ops_; }

 private:
  std::shared_ptr<const SecretKeyOps> ops_;
};

}  // namespace focal::crypto

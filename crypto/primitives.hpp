// Focal's application cryptography, all of it libsodium:
//   identity      Ed25519 (crypto_sign), always under a domain-separation context
//   encryption    X25519 key pairs; content keys wrapped with crypto_box_seal
//   content       XChaCha20-Poly1305-IETF, random 24-byte nonce
//   attachments   crypto_secretstream_xchacha20poly1305, fixed-size chunks
//   hashing       BLAKE2b-256 (crypto_generichash)
// Nothing here does I/O. Every verify/open result must be looked at.
#pragma once

#include "expected.hpp"
#include "secret.hpp"
#include "types.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace focal::crypto {

enum class CryptoError {
  BadSignature,    // signature does not verify under the given key and context
  DecryptFailed,   // AEAD tag or sealed box did not open (tampered, wrong key, truncated)
  BadLength,       // an input had an impossible length
  HashMismatch,    // ciphertext does not match the hash it was signed with
  StreamTruncated, // attachment stream ended before its final chunk
};
const char* describe(CryptoError e);

// ---- signing (Ed25519) -------------------------------------------------------

struct SigningKeyPair {
  SigningPublicKey publicKey;
  SigningSecretKey secretKey;
  static SigningKeyPair generate();
  // Derived deterministically from a 32-byte seed (tests, key files).
  static SigningKeyPair fromSecret(SigningSecretKey sk);
};

// Signs  context || 0x00 || message.  `context` is one of the purpose strings
// of protocol/signing.hpp; it must not contain NUL.
Signature sign(std::string_view context, ByteView message, const SigningSecretKey& sk);
[[nodiscard]] bool verify(std::string_view context, ByteView message, const Signature& sig,
                          const SigningPublicKey& pk);

// ---- encryption key pairs and key wrapping (X25519 + crypto_box_seal) --------

struct BoxKeyPair {
  BoxPublicKey publicKey;
  BoxSecretKey secretKey;
  static BoxKeyPair generate();
  static BoxKeyPair fromSecret(BoxSecretKey sk);  // recomputes the public key
};

WrappedKey wrapKey(const ContentKey& key, const BoxPublicKey& recipient);
Expected<ContentKey, CryptoError> unwrapKey(const WrappedKey& wrapped, const BoxKeyPair& recipient);

// ---- hashing (BLAKE2b-256) -----------------------------------------------------

Hash256 hash256(ByteView data);
// Keyed/personalised hashing for derivations: BLAKE2b-256(key = none,
// input = context || 0x00 || data).
Hash256 hash256(std::string_view context, ByteView data);
// BLAKE2b-256(key = `key`, input = context || 0x00 || data): a MAC under the
// content key, used as the key commitment of seal v2 (PROTOCOL.md §8.1).
Hash256 keyedHash256(const ContentKey& key, std::string_view context, ByteView data);
// The same hash as a key, straight into guarded memory: a subkey of `key`
// for the purpose `context` and the item `data` (the sealed backup's file
// and manifest keys, crypto/sealed_file.hpp).
ContentKey keyedSubkey(const ContentKey& key, std::string_view context, ByteView data);

class Hasher {  // incremental BLAKE2b-256
 public:
  Hasher();
  void update(ByteView data);
  Hash256 finish();  // once
 private:
  crypto_generichash_state st_;
};

// ---- content (XChaCha20-Poly1305-IETF) -----------------------------------------

Bytes aeadEncrypt(const ContentKey& key, const AeadNonce& nonce, ByteView plaintext, ByteView ad);
Expected<Bytes, CryptoError> aeadDecrypt(const ContentKey& key, const AeadNonce& nonce,
                                         ByteView ciphertext, ByteView ad);

// ---- attachments (crypto_secretstream_xchacha20poly1305) -----------------------
// An attachment of any size is cut into chunks of AttachmentChunkPlainBytes
// (the last one shorter, possibly empty); chunk i becomes ciphertext of
// plain+ABYTES bytes; the stream starts with a 24-byte header; the last chunk
// carries TAG_FINAL. Memory is bounded by one chunk on both sides.
inline constexpr std::size_t AttachmentChunkPlainBytes = 256 * 1024;
inline constexpr std::size_t StreamHeaderBytes = crypto_secretstream_xchacha20poly1305_HEADERBYTES;  // 24
inline constexpr std::size_t StreamChunkOverhead = crypto_secretstream_xchacha20poly1305_ABYTES;     // 17

// Subkey for attachment `index` (0-based) of a bulletin, derived from its
// content key with crypto_kdf (context "focalatt", subkey id index+1).
ContentKey attachmentKey(const ContentKey& contentKey, std::uint32_t index);

class StreamEncryptor {
 public:
  explicit StreamEncryptor(const ContentKey& key);  // random stream header
  // Move-only: a copy would encrypt two chunks under the same key and nonce.
  // The destructor wipes the stream state (it holds the stream's subkey).
  StreamEncryptor(StreamEncryptor&&) noexcept = default;
  StreamEncryptor& operator=(StreamEncryptor&&) noexcept = default;
  ~StreamEncryptor();
  const std::array<std::uint8_t, StreamHeaderBytes>& header() const { return header_; }
  // plainChunk must be at most AttachmentChunkPlainBytes; nothing may be
  // pushed after the final chunk (std::logic_error / std::length_error).
  Bytes push(ByteView plainChunk, bool final);
 private:
  crypto_secretstream_xchacha20poly1305_state st_;
  std::array<std::uint8_t, StreamHeaderBytes> header_;
  bool finished_ = false;
};

class StreamDecryptor {
 public:
  // Fails (BadLength/DecryptFailed) on a bad header.
  static Expected<StreamDecryptor, CryptoError> start(const ContentKey& key, ByteView header);
  StreamDecryptor(StreamDecryptor&&) noexcept = default;
  StreamDecryptor& operator=(StreamDecryptor&&) noexcept = default;
  ~StreamDecryptor();  // wipes the stream state
  // Returns the plaintext of one chunk; `final` is set when it was the last.
  // BadLength: chunk shorter than StreamChunkOverhead or longer than
  // AttachmentChunkPlainBytes + StreamChunkOverhead. DecryptFailed: bad tag,
  // reordered/tampered chunk, or any pull after the final chunk or after a
  // failed pull (a stream that failed once stays failed).
  // A stream whose pulls never report `final` is truncated: the caller must
  // treat end-of-input without `final` as StreamTruncated.
  Expected<Bytes, CryptoError> pull(ByteView cipherChunk, bool& final);
 private:
  StreamDecryptor() = default;
  crypto_secretstream_xchacha20poly1305_state st_;
  bool finished_ = false;  // final chunk seen, or a pull failed
};

// ---- passwords ------------------------------------------------------------------

enum class KdfStrength { Interactive, Moderate, Sensitive };
struct KdfParams {
  std::uint64_t opsLimit;
  std::uint64_t memLimit;
  static KdfParams of(KdfStrength s);
};
// Argon2id13. Throws std::runtime_error if out of memory.
FileKey deriveFileKey(std::string_view passphrase, const Salt& salt, const KdfParams& p);

}  // namespace focal::crypto

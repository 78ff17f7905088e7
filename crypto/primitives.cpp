// libsodium wrappers. Every function here is a thin, checked call into
// libsodium; nothing is hand-rolled.
#include "crypto/primitives.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>

namespace focal::crypto {

static_assert(WrappedKeyBytes == 80);
static_assert(ContentKey::size == crypto_kdf_KEYBYTES);
static_assert(ContentKey::size == crypto_secretstream_xchacha20poly1305_KEYBYTES);
static_assert(FileKey::size == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(Salt::size == crypto_pwhash_SALTBYTES);

const char* describe(CryptoError e) {
  switch (e) {
    case CryptoError::BadSignature:
      return "the signature does not verify under the sender's key for this purpose";
    case CryptoError::DecryptFailed:
      return "decryption failed: the data was altered, truncated, or is not for this key";
    case CryptoError::BadLength:
      return "an input has an impossible length";
    case CryptoError::HashMismatch:
      return "the ciphertext does not match the hash it was signed with";
    case CryptoError::StreamTruncated:
      return "the attachment ended before its final chunk";
  }
  return "unknown crypto error";
}

namespace {

// Ed25519 (pure, not prehashed) reads the message twice, so the signed bytes
// context || 0x00 || message must exist contiguously. Small inputs (every
// signature Focal makes except headers with very many recipients) are
// assembled on the stack; larger ones in one heap buffer.
inline constexpr std::size_t StackSignBytes = 4096;

template <class F>
auto withSignedBytes(std::string_view context, ByteView message, F&& f) {
  const std::size_t n = context.size() + 1 + message.size();
  auto fill = [&](std::uint8_t* p) {
    std::memcpy(p, context.data(), context.size());
    p[context.size()] = 0;
    if (!message.empty()) std::memcpy(p + context.size() + 1, message.data(), message.size());
  };
  if (n <= StackSignBytes) {
    std::array<std::uint8_t, StackSignBytes> buf;
    fill(buf.data());
    return f(buf.data(), n);
  }
  Bytes buf(n);
  fill(buf.data());
  return f(buf.data(), n);
}

bool validContext(std::string_view context) {
  return context.find('\0') == std::string_view::npos;
}

}  // namespace

// ---- signing -------------------------------------------------------------------

SigningKeyPair SigningKeyPair::generate() {
  SigningKeyPair kp;
  crypto_sign_keypair(kp.publicKey.data(), kp.secretKey.data());
  return kp;
}

// Only the seed (first 32 bytes of `sk`) is used: both halves of the secret
// key are recomputed from it, so an inconsistent public half in `sk` can never
// produce signatures that verify under a key other than the one returned.
SigningKeyPair SigningKeyPair::fromSecret(SigningSecretKey sk) {
  SigningKeyPair kp;
  crypto_sign_seed_keypair(kp.publicKey.data(), kp.secretKey.data(), sk.data());
  return kp;
}

Signature sign(std::string_view context, ByteView message, const SigningSecretKey& sk) {
  if (!validContext(context)) throw std::invalid_argument("signing context contains NUL");
  Signature sig;
  withSignedBytes(context, message, [&](const std::uint8_t* p, std::size_t n) {
    crypto_sign_detached(sig.data(), nullptr, p, n, sk.data());
    return 0;
  });
  return sig;
}

bool verify(std::string_view context, ByteView message, const Signature& sig,
            const SigningPublicKey& pk) {
  if (!validContext(context)) return false;
  return withSignedBytes(context, message, [&](const std::uint8_t* p, std::size_t n) {
    return crypto_sign_verify_detached(sig.data(), p, n, pk.data()) == 0;
  });
}

// ---- encryption key pairs and key wrapping -------------------------------------

BoxKeyPair BoxKeyPair::generate() {
  BoxKeyPair kp;
  crypto_box_keypair(kp.publicKey.data(), kp.secretKey.data());
  return kp;
}

BoxKeyPair BoxKeyPair::fromSecret(BoxSecretKey sk) {
  BoxKeyPair kp;
  crypto_scalarmult_base(kp.publicKey.data(), sk.data());
  kp.secretKey = std::move(sk);
  return kp;
}

// Throws std::invalid_argument when the recipient key is a low-order point
// (libsodium refuses to seal to it). PublicKeys::certValid rejects such keys,
// so a key that passed registration never gets here.
WrappedKey wrapKey(const ContentKey& key, const BoxPublicKey& recipient) {
  WrappedKey w;
  if (crypto_box_seal(w.data(), key.data(), ContentKey::size, recipient.data()) != 0) {
    throw std::invalid_argument("cannot seal to this encryption key (low-order point)");
  }
  return w;
}

Expected<ContentKey, CryptoError> unwrapKey(const WrappedKey& wrapped, const BoxKeyPair& recipient) {
  ContentKey key;  // opened straight into guarded memory
  if (crypto_box_seal_open(key.data(), wrapped.data(), WrappedKey::size, recipient.publicKey.data(),
                           recipient.secretKey.data()) != 0) {
    return unexpected(CryptoError::DecryptFailed);
  }
  return key;
}

// ---- hashing --------------------------------------------------------------------

Hash256 hash256(ByteView data) {
  Hash256 h;
  crypto_generichash(h.data(), Hash256::size, data.data(), data.size(), nullptr, 0);
  return h;
}

Hash256 hash256(std::string_view context, ByteView data) {
  if (!validContext(context)) throw std::invalid_argument("hash context contains NUL");
  Hasher hs;
  hs.update(asBytes(context));
  const std::uint8_t zero = 0;
  hs.update({&zero, 1});
  hs.update(data);
  return hs.finish();
}

namespace {
// BLAKE2b-256(key = `key`, context || 0x00 || data) into out[32].
void keyedHashInto(std::uint8_t* out, const ContentKey& key, std::string_view context, ByteView data) {
  if (!validContext(context)) throw std::invalid_argument("hash context contains NUL");
  crypto_generichash_state st;
  crypto_generichash_init(&st, key.data(), ContentKey::size, Hash256::size);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(context.data()), context.size());
  const std::uint8_t zero = 0;
  crypto_generichash_update(&st, &zero, 1);
  crypto_generichash_update(&st, data.data(), data.size());
  crypto_generichash_final(&st, out, Hash256::size);
  sodium_memzero(&st, sizeof st);
}
}  // namespace

Hash256 keyedHash256(const ContentKey& key, std::string_view context, ByteView data) {
  Hash256 h;
  keyedHashInto(h.data(), key, context, data);
  return h;
}

ContentKey keyedSubkey(const ContentKey& key, std::string_view context, ByteView data) {
  static_assert(ContentKey::size == Hash256::size);
  ContentKey sub;
  keyedHashInto(sub.data(), key, context, data);
  return sub;
}

Hasher::Hasher() { crypto_generichash_init(&st_, nullptr, 0, Hash256::size); }

void Hasher::update(ByteView data) {
  crypto_generichash_update(&st_, data.data(), data.size());
}

Hash256 Hasher::finish() {
  Hash256 h;
  // libsodium refuses to finalise twice; that is a bug in the caller.
  if (crypto_generichash_final(&st_, h.data(), Hash256::size) != 0) {
    throw std::logic_error("Hasher::finish called twice");
  }
  return h;
}

// ---- content --------------------------------------------------------------------

Bytes aeadEncrypt(const ContentKey& key, const AeadNonce& nonce, ByteView plaintext, ByteView ad) {
  Bytes out(plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long n = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data(), &n, plaintext.data(), plaintext.size(),
                                             ad.data(), ad.size(), nullptr, nonce.data(),
                                             key.data());
  return out;
}

Expected<Bytes, CryptoError> aeadDecrypt(const ContentKey& key, const AeadNonce& nonce,
                                         ByteView ciphertext, ByteView ad) {
  if (ciphertext.size() < crypto_aead_xchacha20poly1305_ietf_ABYTES) {
    return unexpected(CryptoError::BadLength);
  }
  Bytes out(ciphertext.size() - crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long n = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &n, nullptr, ciphertext.data(),
                                                 ciphertext.size(), ad.data(), ad.size(),
                                                 nonce.data(), key.data()) != 0) {
    return unexpected(CryptoError::DecryptFailed);
  }
  return out;
}

// ---- attachments ----------------------------------------------------------------

ContentKey attachmentKey(const ContentKey& contentKey, std::uint32_t index) {
  static constexpr char ctx[crypto_kdf_CONTEXTBYTES + 1] = "focalatt";
  static_assert(sizeof(ctx) - 1 == crypto_kdf_CONTEXTBYTES);
  ContentKey sub;
  // Subkey ids are index + 1 (PROTOCOL.md); id 0 is never used.
  crypto_kdf_derive_from_key(sub.data(), ContentKey::size, std::uint64_t{index} + 1, ctx,
                             contentKey.data());
  return sub;
}

StreamEncryptor::StreamEncryptor(const ContentKey& key) {
  crypto_secretstream_xchacha20poly1305_init_push(&st_, header_.data(), key.data());
}

StreamEncryptor::~StreamEncryptor() { sodium_memzero(&st_, sizeof st_); }

Bytes StreamEncryptor::push(ByteView plainChunk, bool final) {
  if (finished_) throw std::logic_error("StreamEncryptor::push after the final chunk");
  if (plainChunk.size() > AttachmentChunkPlainBytes) {
    throw std::length_error("attachment chunk larger than AttachmentChunkPlainBytes");
  }
  Bytes out(plainChunk.size() + StreamChunkOverhead);
  const unsigned char tag = final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                                  : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
  crypto_secretstream_xchacha20poly1305_push(&st_, out.data(), nullptr, plainChunk.data(),
                                             plainChunk.size(), nullptr, 0, tag);
  finished_ = final;
  return out;
}

Expected<StreamDecryptor, CryptoError> StreamDecryptor::start(const ContentKey& key,
                                                              ByteView header) {
  if (header.size() != StreamHeaderBytes) return unexpected(CryptoError::BadLength);
  StreamDecryptor d;
  if (crypto_secretstream_xchacha20poly1305_init_pull(&d.st_, header.data(), key.data()) != 0) {
    return unexpected(CryptoError::DecryptFailed);
  }
  return d;
}

StreamDecryptor::~StreamDecryptor() { sodium_memzero(&st_, sizeof st_); }

Expected<Bytes, CryptoError> StreamDecryptor::pull(ByteView cipherChunk, bool& final) {
  final = false;
  // SECURITY: the chunk comes from the hub; its length is checked before the
  // plaintext buffer is allocated.
  if (cipherChunk.size() < StreamChunkOverhead ||
      cipherChunk.size() > AttachmentChunkPlainBytes + StreamChunkOverhead) {
    finished_ = true;
    return unexpected(CryptoError::BadLength);
  }
  if (finished_) return unexpected(CryptoError::DecryptFailed);
  Bytes out(cipherChunk.size() - StreamChunkOverhead);
  unsigned char tag = 0;
  if (crypto_secretstream_xchacha20poly1305_pull(&st_, out.data(), nullptr, &tag,
                                                 cipherChunk.data(), cipherChunk.size(), nullptr,
                                                 0) != 0) {
    finished_ = true;
    return unexpected(CryptoError::DecryptFailed);
  }
  // Focal's encryptor only ever writes MESSAGE and FINAL; anything else is not
  // a stream we made.
  if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
    finished_ = true;
    final = true;
  } else if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) {
    finished_ = true;
    return unexpected(CryptoError::DecryptFailed);
  }
  return out;
}

// ---- passwords ------------------------------------------------------------------

KdfParams KdfParams::of(KdfStrength s) {
  switch (s) {
    case KdfStrength::Interactive:
      return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
    case KdfStrength::Moderate:
      return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
    case KdfStrength::Sensitive:
      return {crypto_pwhash_OPSLIMIT_SENSITIVE, crypto_pwhash_MEMLIMIT_SENSITIVE};
  }
  throw std::invalid_argument("unknown KdfStrength");
}

FileKey deriveFileKey(std::string_view passphrase, const Salt& salt, const KdfParams& p) {
  if (p.memLimit > SIZE_MAX) throw std::runtime_error("Argon2 memory limit too large");
  FileKey key;
  const char* pw = passphrase.empty() ? "" : passphrase.data();
  if (crypto_pwhash(key.data(), FileKey::size, pw, passphrase.size(), salt.data(),
                    p.opsLimit, static_cast<std::size_t>(p.memLimit),
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw std::runtime_error("Argon2id failed (out of memory or parameters out of range)");
  }
  return key;
}

}  // namespace focal::crypto

// Strong fixed-size crypto value types for Focal.
//
// Intent: hard to use wrong. Every key, signature, nonce and hash is its own
// type of fixed size, so a signature cannot be passed where a key is expected
// and a length is never a runtime question. Public values are plain arrays;
// secrets are `Secret<N>` (see secret.hpp): move-only, in sodium_malloc'd
// guarded memory, wiped on destruction.
#pragma once

#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace focal::crypto {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView asBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Public fixed-size value. Tag makes distinct types of equal size.
template <std::size_t N, class Tag>
struct Fixed {
  static constexpr std::size_t size = N;
  std::array<std::uint8_t, N> bytes{};

  ByteView view() const { return {bytes.data(), N}; }
  std::uint8_t* data() { return bytes.data(); }
  const std::uint8_t* data() const { return bytes.data(); }
  // Parses exactly N bytes; nullopt on any other length.
  static std::optional<Fixed> fromBytes(ByteView b) {
    if (b.size() != N) return std::nullopt;
    Fixed f;
    std::copy(b.begin(), b.end(), f.bytes.begin());
    return f;
  }
  // Constant time: public values are compared this way too, so nobody has to
  // decide case by case whether a value is secret.
  friend bool operator==(const Fixed& a, const Fixed& b) {
    return sodium_memcmp(a.bytes.data(), b.bytes.data(), N) == 0;
  }
  // Ordering for use as a map key (not constant time; public values only).
  friend bool operator<(const Fixed& a, const Fixed& b) { return a.bytes < b.bytes; }
};

struct SigningPublicKeyTag {};
struct SignatureTag {};
struct BoxPublicKeyTag {};
struct Hash256Tag {};
struct BulletinIdTag {};
struct AeadNonceTag {};
struct SaltTag {};
struct ChallengeTag {};

using SigningPublicKey = Fixed<crypto_sign_PUBLICKEYBYTES, SigningPublicKeyTag>;  // Ed25519, 32
using Signature = Fixed<crypto_sign_BYTES, SignatureTag>;                         // Ed25519, 64
using BoxPublicKey = Fixed<crypto_box_PUBLICKEYBYTES, BoxPublicKeyTag>;           // X25519, 32
using Hash256 = Fixed<32, Hash256Tag>;                                            // BLAKE2b-256
using BulletinId = Fixed<16, BulletinIdTag>;                                      // random
using AeadNonce = Fixed<crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, AeadNonceTag>;  // 24
using Salt = Fixed<crypto_pwhash_SALTBYTES, SaltTag>;                             // 16
using Challenge = Fixed<32, ChallengeTag>;

// crypto_box_seal output for a 32-byte content key: 32 (ephemeral pk) + 32 + 16 (MAC).
inline constexpr std::size_t WrappedKeyBytes = crypto_box_SEALBYTES + 32;
struct WrappedKeyTag {};
using WrappedKey = Fixed<WrappedKeyBytes, WrappedKeyTag>;

std::string toHex(ByteView b);
std::optional<Bytes> fromHex(std::string_view hex);
std::string toBase64(ByteView b);  // standard alphabet, padded
std::optional<Bytes> fromBase64(std::string_view b64);

// For Fixed/Secret values. Constrained so that toHex(Bytes) picks the
// ByteView overload instead of failing inside this template.
template <class F>
  requires requires(const F& f) { f.view(); }
std::string toHex(const F& f) { return toHex(f.view()); }

// Fills with random bytes from the OS CSPRNG (randombytes_buf).
void randomFill(std::span<std::uint8_t> out);
template <class F>
F randomFixed() { F f; randomFill(f.bytes); return f; }

// Throws std::runtime_error if libsodium cannot initialise. Idempotent.
void initialize();

// Disables core dumps (RLIMIT_CORE=0, PR_SET_DUMPABLE=0) for a process that
// holds private keys. Call at the start of main() of every such binary.
void disableCoreDumps();

}  // namespace focal::crypto

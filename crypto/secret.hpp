// Secret<N>: fixed-size secret bytes in locked, guarded memory, wiped on
// free. Move-only; never copied implicitly; no operator== (use equals(),
// which is constant time).
//
// Memory comes from a pool of sodium_malloc'd arenas (guard pages around each
// arena, mlock'd where the OS allows) cut into 64-byte slots. One
// sodium_malloc per secret costs ~150 µs here (nine system calls), which made
// a fresh content key per bulletin dominate sealing; slots cost a mutex and a
// free-list pop. A slot is wiped with sodium_memzero when it is released and
// never returned to the general heap.
#pragma once

#include "types.hpp"

#include <utility>

namespace focal::crypto {

namespace detail {
inline constexpr std::size_t SecretSlotBytes = 64;
// Returns a zeroed slot of SecretSlotBytes. Throws std::bad_alloc.
std::uint8_t* secretAlloc();
// Wipes and returns a slot from secretAlloc(); nullptr is ignored.
void secretFree(std::uint8_t* p) noexcept;
}  // namespace detail

// Locks every arena of secret slots in memory again: memory locks are not
// inherited by fork(), so a forked process that keeps secrets (the key
// agent) calls this first. False if the OS refused a lock (RLIMIT_MEMLOCK).
bool relockSecretMemory() noexcept;

template <std::size_t N, class Tag>
class Secret {
 public:
  static constexpr std::size_t size = N;

  // Allocates zeroed secret memory. Throws std::bad_alloc on failure.
  static_assert(N <= detail::SecretSlotBytes, "Secret larger than a pool slot");
  Secret() : p_(detail::secretAlloc()) {}
  ~Secret() { detail::secretFree(p_); }
  Secret(Secret&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  Secret& operator=(Secret&& o) noexcept {
    if (this != &o) { detail::secretFree(p_); p_ = std::exchange(o.p_, nullptr); }
    return *this;
  }
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;

  static Secret random() { Secret s; randombytes_buf(s.p_, N); return s; }
  // Explicit copy, for the few places that must duplicate a secret.
  Secret clone() const { Secret s; std::copy(p_, p_ + N, s.p_); return s; }
  // Copies exactly N bytes in; nullopt on wrong length.
  static std::optional<Secret> fromBytes(ByteView b) {
    if (b.size() != N) return std::nullopt;
    Secret s; std::copy(b.begin(), b.end(), s.p_); return s;
  }

  bool valid() const { return p_ != nullptr; }  // false only after move
  std::uint8_t* data() { return p_; }
  const std::uint8_t* data() const { return p_; }
  ByteView view() const { return {p_, N}; }
  bool equals(const Secret& o) const { return sodium_memcmp(p_, o.p_, N) == 0; }

 private:
  std::uint8_t* p_;
};

struct SigningSecretKeyTag {};
struct BoxSecretKeyTag {};
struct ContentKeyTag {};
struct FileKeyTag {};

using SigningSecretKey = Secret<crypto_sign_SECRETKEYBYTES, SigningSecretKeyTag>;  // Ed25519 seed||pk, 64
using BoxSecretKey = Secret<crypto_box_SECRETKEYBYTES, BoxSecretKeyTag>;           // X25519, 32
using ContentKey = Secret<crypto_aead_xchacha20poly1305_ietf_KEYBYTES, ContentKeyTag>;  // 32
using FileKey = Secret<crypto_aead_xchacha20poly1305_ietf_KEYBYTES, FileKeyTag>;        // 32

}  // namespace focal::crypto

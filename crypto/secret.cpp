#include "crypto/secret.hpp"

#include <mutex>
#include <new>
#include <vector>

namespace focal::crypto::detail {
namespace {

// Slots per arena: 256 x 64 bytes = 16 KiB of locked memory, allocated with
// sodium_malloc so each arena sits between guard pages. Arenas live for the
// process; a process holds few secrets at once, so this stays small.
constexpr std::size_t SlotsPerArena = 256;

struct Pool {
  std::mutex mu;
  std::vector<std::uint8_t*> free;
  std::vector<std::uint8_t*> arenas;
  std::size_t total = 0;  // slots cut so far; `free` always has capacity for all of them
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: secrets may be freed during static destruction
  return *p;
}

}  // namespace

std::uint8_t* secretAlloc() {
  Pool& p = pool();
  std::lock_guard lock(p.mu);
  if (p.free.empty()) {
    auto* arena = static_cast<std::uint8_t*>(sodium_malloc(SlotsPerArena * SecretSlotBytes));
    if (arena == nullptr) throw std::bad_alloc();
    sodium_memzero(arena, SlotsPerArena * SecretSlotBytes);
    p.total += SlotsPerArena;
    p.arenas.push_back(arena);
    p.free.reserve(p.total);
    for (std::size_t i = SlotsPerArena; i-- > 0;) p.free.push_back(arena + i * SecretSlotBytes);
  }
  std::uint8_t* slot = p.free.back();
  p.free.pop_back();
  return slot;  // zeroed: arenas start zeroed and slots are wiped on release
}

void secretFree(std::uint8_t* slot) noexcept {
  if (slot == nullptr) return;
  sodium_memzero(slot, SecretSlotBytes);
  Pool& p = pool();
  std::lock_guard lock(p.mu);
  p.free.push_back(slot);  // never reallocates: capacity >= every slot ever cut
}

}  // namespace focal::crypto::detail

namespace focal::crypto {

bool relockSecretMemory() noexcept {
  auto& p = detail::pool();
  std::lock_guard lock(p.mu);
  bool all = true;
  for (auto* arena : p.arenas) all = sodium_mlock(arena, detail::SlotsPerArena * detail::SecretSlotBytes) == 0 && all;
  return all;
}

}  // namespace focal::crypto

// Encodings, randomness and process set-up for holders of private keys.
#include "crypto/types.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace focal::crypto {

std::string toHex(ByteView b) {
  std::string out(b.size() * 2 + 1, '\0');  // sodium_bin2hex writes a NUL
  sodium_bin2hex(out.data(), out.size(), b.data(), b.size());
  out.pop_back();
  return out;
}

// SECURITY: strict — even length, lowercase [0-9a-f] only, nothing else.
// sodium_hex2bin alone would also take uppercase; we want exactly one spelling
// per value so that text forms can be compared as strings.
std::optional<Bytes> fromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  for (char c : hex) {
    const bool digit = c >= '0' && c <= '9';
    const bool lower = c >= 'a' && c <= 'f';
    if (!digit && !lower) return std::nullopt;
  }
  Bytes out(hex.size() / 2);
  if (hex.empty()) return out;
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &len, &end) != 0 ||
      len != out.size() || end != hex.data() + hex.size()) {
    return std::nullopt;
  }
  return out;
}

std::string toBase64(ByteView b) {
  const std::size_t n = sodium_base64_encoded_len(b.size(), sodium_base64_VARIANT_ORIGINAL);
  std::string out(n, '\0');  // n includes the NUL
  sodium_bin2base64(out.data(), out.size(), b.data(), b.size(), sodium_base64_VARIANT_ORIGINAL);
  out.pop_back();
  return out;
}

// SECURITY: strict — standard alphabet, padding required, no whitespace, no
// trailing characters, no non-zero unused bits (libsodium rejects those).
std::optional<Bytes> fromBase64(std::string_view b64) {
  if (b64.empty()) return Bytes{};
  if (b64.size() % 4 != 0) return std::nullopt;
  Bytes out(b64.size() / 4 * 3);
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), b64.data(), b64.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != b64.data() + b64.size()) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

void randomFill(std::span<std::uint8_t> out) {
  if (!out.empty()) randombytes_buf(out.data(), out.size());
}

void initialize() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
}

void disableCoreDumps() {
  const rlimit none{0, 0};
  if (setrlimit(RLIMIT_CORE, &none) != 0) {
    throw std::system_error(errno, std::generic_category(), "setrlimit(RLIMIT_CORE, 0)");
  }
  // Also stops ptrace attach by same-uid processes and /proc/PID/mem reads.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    throw std::system_error(errno, std::generic_category(), "prctl(PR_SET_DUMPABLE, 0)");
  }
}

}  // namespace focal::crypto

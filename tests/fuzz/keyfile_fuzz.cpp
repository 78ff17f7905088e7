// libFuzzer harness for key files: crypto::decryptKeyFile with a fixed
// passphrase, and crypto::parsePublicKeys on the same bytes as text.
//
// Two ways in, chosen by the input itself:
//  - input that starts with "FOCALKEY" is a private key file as found on
//    disk. Argon2 runs with the file's own parameters, so the harness only
//    lets files through whose opslimit/memlimit are at most INTERACTIVE
//    (seeds are written with KdfStrength::Interactive; a mutated parameter
//    field usually lands above and is skipped, below is fine). Even so each
//    such input costs one Argon2id (~0.1 s): this path is slow by nature, and
//    past the AEAD only the seeds themselves get through.
//  - any other input is taken as the decrypted payload. The harness wraps it
//    into a well-formed file with the smallest Argon2 parameters, a fixed
//    salt and nonce, under a key derived once, and calls decryptKeyFile on
//    that file. The AEAD then opens, so the payload parser (lengths, counts,
//    the seed/public-half consistency check) gets the fuzzer's full attention.
//
// Properties:
//  - no crash, hang, leak or sanitizer report on any input;
//  - payload path: decryptKeyFile succeeds exactly on payloads that follow
//    the documented layout, and then serialising the keys it returned gives
//    back the payload byte for byte (nothing dropped, nothing invented);
//  - file path: a file that opens re-encrypts and decrypts to the same keys;
//  - parsePublicKeys: whatever it accepts has a valid certificate, and
//    formatting then parsing it again gives the same keys.
#include "crypto/keyfile.hpp"
#include "fuzz_fixtures.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

using namespace focal;
using namespace focal::crypto;

namespace {

// Layout constants of PROTOCOL.md §"Key files" (keyfile.cpp keeps its own
// private copy; the harness restates them on purpose: if they drift, the
// round-trip property fails).
constexpr std::string_view Magic = "FOCALKEY";
constexpr std::size_t OffOps = 10;
constexpr std::size_t OffMem = 18;
constexpr std::size_t OffSalt = 26;
constexpr std::size_t OffNonce = 42;
constexpr std::size_t HeaderBytes = 66;

void putU64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
}
std::uint64_t getU64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "keyfile_fuzz: property violated: %s\n", what);
  std::abort();
}

struct PayloadWrapper {
  KdfParams params{crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
  Salt salt;
  AeadNonce nonce;
  std::optional<FileKey> key;
  PayloadWrapper() {
    for (std::size_t i = 0; i < Salt::size; ++i) salt.bytes[i] = static_cast<std::uint8_t>(0xa0 + i);
    for (std::size_t i = 0; i < AeadNonce::size; ++i) nonce.bytes[i] = static_cast<std::uint8_t>(0x50 + i);
    key.emplace(deriveFileKey(fuzz::KeyFilePassphrase, salt, params));
  }
  Bytes wrap(ByteView payload) const {
    Bytes file(HeaderBytes + payload.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
    std::memcpy(file.data(), Magic.data(), Magic.size());
    file[8] = 1;  // version
    file[9] = 1;  // Argon2id13
    putU64(file.data() + OffOps, params.opsLimit);
    putU64(file.data() + OffMem, params.memLimit);
    std::memcpy(file.data() + OffSalt, salt.data(), Salt::size);
    std::memcpy(file.data() + OffNonce, nonce.data(), AeadNonce::size);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(file.data() + HeaderBytes, &clen, payload.data(), payload.size(),
                                               file.data(), HeaderBytes, nullptr, nonce.data(), key->data());
    return file;
  }
};

const PayloadWrapper& wrapper() {
  static const PayloadWrapper* w = [] {
    crypto::initialize();
    return new PayloadWrapper();
  }();
  return *w;
}

bool sameKeys(const MemberKeys& a, const MemberKeys& b) {
  if (a.memberId != b.memberId || a.createdAtMs != b.createdAtMs) return false;
  if (!a.identity.secretKey.equals(b.identity.secretKey) || !(a.identity.publicKey == b.identity.publicKey)) return false;
  if (!a.encryption.secretKey.equals(b.encryption.secretKey)) return false;
  if (a.previousEncryption.size() != b.previousEncryption.size()) return false;
  for (std::size_t i = 0; i < a.previousEncryption.size(); ++i) {
    if (!a.previousEncryption[i].secretKey.equals(b.previousEncryption[i].secretKey)) return false;
  }
  return true;
}

void fileInput(ByteView file) {
  // SECURITY of the harness, not of the product: decryptKeyFile bounds the
  // parameters itself (up to 4 GiB and 4 x SENSITIVE ops); the harness
  // bounds them lower only to keep executions per second usable.
  if (file.size() >= HeaderBytes) {
    const std::uint64_t ops = getU64(file.data() + OffOps);
    const std::uint64_t mem = getU64(file.data() + OffMem);
    if (ops > crypto_pwhash_OPSLIMIT_INTERACTIVE || mem > crypto_pwhash_MEMLIMIT_INTERACTIVE) return;
  }
  auto keys = decryptKeyFile(file, fuzz::KeyFilePassphrase);
  if (!keys.ok()) return;
  const Bytes again = encryptKeyFile(*keys, fuzz::KeyFilePassphrase, KdfStrength::Interactive);
  auto reopened = decryptKeyFile(again, fuzz::KeyFilePassphrase);
  if (!reopened.ok() || !sameKeys(*keys, *reopened)) broken("a key file that opened does not survive re-encryption");
}

void payloadInput(ByteView payload) {
  const Bytes file = wrapper().wrap(payload);
  auto keys = decryptKeyFile(file, fuzz::KeyFilePassphrase);
  if (!keys.ok()) {
    if (keys.error() == KeyFileError::WrongPassphrase) broken("the harness's own well-formed file did not open");
    return;
  }
  const Bytes back = fuzz::keyFilePayload(*keys);
  if (back.size() != payload.size() || std::memcmp(back.data(), payload.data(), back.size()) != 0) {
    broken("decryptKeyFile accepted a payload that does not serialise back to itself");
  }
}

void publicKeyText(std::string_view text) {
  auto pk = parsePublicKeys(text);
  if (!pk.ok()) return;
  if (!pk->certValid()) broken("parsePublicKeys accepted a key whose certificate does not verify");
  auto again = parsePublicKeys(formatPublicKeys(*pk));
  if (!again.ok()) broken("formatPublicKeys wrote text that parsePublicKeys refuses");
  if (again->memberId != pk->memberId || !(again->identity == pk->identity) ||
      !(again->encryption == pk->encryption) || again->createdAtMs != pk->createdAtMs ||
      !(again->encCert == pk->encCert)) {
    broken("public keys changed in a format/parse round trip");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)wrapper();
  const ByteView in(data, size);
  if (size >= Magic.size() && std::memcmp(data, Magic.data(), Magic.size()) == 0) {
    fileInput(in);
  } else {
    payloadInput(in);
  }
  publicKeyText(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}

// Member key files (private, encrypted) and public key text files.
//
// Private key file, version 1 (all integers big-endian):
//   offset  size
//        0     8  "FOCALKEY"
//        8     1  version = 1
//        9     1  kdf = 1 (Argon2id13)
//       10     8  opslimit
//       18     8  memlimit (bytes)
//       26    16  salt
//       42    24  nonce
//       66     …  XChaCha20-Poly1305-IETF(payload), AD = bytes 0..65, key = Argon2id(passphrase, salt)
// Payload, version 1:
//   u16 len(memberId) | memberId | i64 createdAtMs | identity secret key (64: seed || pk)
//   | encryption secret key (32) | u16 n | n × previous encryption secret key (32), newest first
#include "crypto/keyfile.hpp"

#include "crypto/secure_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>

namespace focal::crypto {

namespace {

inline constexpr std::string_view Magic = "FOCALKEY";
inline constexpr std::uint8_t FileVersion = 1;
inline constexpr std::uint8_t KdfArgon2id13 = 1;

inline constexpr std::size_t OffVersion = 8;
inline constexpr std::size_t OffKdf = 9;
inline constexpr std::size_t OffOps = 10;
inline constexpr std::size_t OffMem = 18;
inline constexpr std::size_t OffSalt = 26;
inline constexpr std::size_t OffNonce = OffSalt + Salt::size;            // 42
inline constexpr std::size_t HeaderBytes = OffNonce + AeadNonce::size;   // 66
inline constexpr std::size_t AeadTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;

// Smallest valid payload: empty member id, no previous keys.
inline constexpr std::size_t MinPayloadBytes =
    2 + 8 + SigningSecretKey::size + BoxSecretKey::size + 2;  // 108
inline constexpr std::size_t MaxPayloadBytes =
    2 + 0xFFFF + 8 + SigningSecretKey::size + BoxSecretKey::size + 2 + 0xFFFF * BoxSecretKey::size;
// readKeyFile refuses to read more than this: the largest possible v1 file
// (about 2.1 MB) with room to spare.
inline constexpr std::size_t MaxKeyFileBytes = 4 * 1024 * 1024;

// SECURITY: Argon2 parameters come from the file, i.e. possibly from an
// attacker. They are bounded before Argon2 runs so that a crafted file cannot
// make us allocate terabytes or spin for hours. The upper bounds leave room
// above SENSITIVE for files written by a stronger future default.
inline constexpr std::uint64_t MinOpsLimit = crypto_pwhash_OPSLIMIT_MIN;
inline constexpr std::uint64_t MaxOpsLimit = std::uint64_t{crypto_pwhash_OPSLIMIT_SENSITIVE} * 4;
inline constexpr std::uint64_t MinMemLimit = crypto_pwhash_MEMLIMIT_MIN;
inline constexpr std::uint64_t MaxMemLimit = 4ull * 1024 * 1024 * 1024;

// Guarded memory for plaintext key material that is not one fixed-size key:
// sodium_malloc'd (guard pages, mlock where allowed), wiped by sodium_free.
class SecureBuffer {
 public:
  explicit SecureBuffer(std::size_t n)
      : p_(static_cast<std::uint8_t*>(sodium_malloc(n == 0 ? 1 : n))), n_(n) {
    if (p_ == nullptr) throw std::bad_alloc();
  }
  ~SecureBuffer() { sodium_free(p_); }
  SecureBuffer(const SecureBuffer&) = delete;
  SecureBuffer& operator=(const SecureBuffer&) = delete;

  std::uint8_t* data() { return p_; }
  const std::uint8_t* data() const { return p_; }
  std::size_t size() const { return n_; }
  ByteView view() const { return {p_, n_}; }

 private:
  std::uint8_t* p_;
  std::size_t n_;
};

void putU16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void putU64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
}
std::uint64_t getU64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// Bounds-checked cursor over untrusted (or just-decrypted) bytes.
class Reader {
 public:
  explicit Reader(ByteView b) : b_(b) {}
  bool u16(std::uint16_t& v) {
    if (b_.size() - pos_ < 2) return false;
    v = static_cast<std::uint16_t>((b_[pos_] << 8) | b_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool u64(std::uint64_t& v) {
    if (b_.size() - pos_ < 8) return false;
    v = getU64(b_.data() + pos_);
    pos_ += 8;
    return true;
  }
  bool take(std::size_t n, ByteView& out) {
    if (b_.size() - pos_ < n) return false;
    out = b_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  bool atEnd() const { return pos_ == b_.size(); }

 private:
  ByteView b_;
  std::size_t pos_ = 0;
};

bool idHasControlChars(std::string_view id) {
  return std::any_of(id.begin(), id.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// X25519 keys of small order give an all-zero shared secret: libsodium
// refuses to seal to them. Multiplying by any (clamped, hence multiple of 8)
// scalar sends exactly those points to zero, which crypto_scalarmult reports.
bool usableBoxPublicKey(const BoxPublicKey& pk) {
  static constexpr std::array<std::uint8_t, crypto_scalarmult_SCALARBYTES> probe{
      0x09, 0x61, 0x2f, 0x3c, 0x55, 0x0e, 0x77, 0x12, 0x3a, 0x44, 0x05, 0x6d, 0x21, 0x5a, 0x33, 0x18,
      0x6b, 0x27, 0x49, 0x10, 0x72, 0x0c, 0x38, 0x5e, 0x1d, 0x63, 0x2a, 0x47, 0x14, 0x59, 0x36, 0x41};
  std::array<std::uint8_t, crypto_scalarmult_BYTES> out;
  return crypto_scalarmult(out.data(), probe.data(), pk.data()) == 0;
}

std::optional<MemberKeys> parsePayload(ByteView payload) {
  Reader r(payload);
  std::uint16_t idLen = 0;
  ByteView id, created, idSk, encSk;
  std::uint16_t count = 0;
  if (!r.u16(idLen) || !r.take(idLen, id) || !r.take(8, created) ||
      !r.take(SigningSecretKey::size, idSk) || !r.take(BoxSecretKey::size, encSk) ||
      !r.u16(count)) {
    return std::nullopt;
  }
  std::vector<ByteView> previous(count);
  for (auto& p : previous) {
    if (!r.take(BoxSecretKey::size, p)) return std::nullopt;
  }
  if (!r.atEnd()) return std::nullopt;

  MemberKeys keys;
  keys.memberId.assign(reinterpret_cast<const char*>(id.data()), id.size());
  keys.createdAtMs = static_cast<std::int64_t>(getU64(created.data()));

  // The Ed25519 secret key is seed || pk. Rebuild it from the seed and insist
  // the stored public half matches: otherwise we would sign under one key and
  // advertise another.
  auto stored = SigningSecretKey::fromBytes(idSk);
  keys.identity = SigningKeyPair::fromSecret(stored->clone());
  if (!keys.identity.secretKey.equals(*stored)) return std::nullopt;

  keys.encryption = BoxKeyPair::fromSecret(*BoxSecretKey::fromBytes(encSk));
  keys.previousEncryption.reserve(count);
  for (const auto& p : previous) {
    keys.previousEncryption.push_back(BoxKeyPair::fromSecret(*BoxSecretKey::fromBytes(p)));
  }
  return keys;
}

}  // namespace

const char* describe(KeyFileError e) {
  switch (e) {
    case KeyFileError::NotFound:
      return "the key file does not exist or cannot be read";
    case KeyFileError::NotAKeyFile:
      return "this is not a Focal key file";
    case KeyFileError::UnsupportedVersion:
      return "the key file was written by a newer or unknown version of Focal";
    case KeyFileError::Damaged:
      return "the key file is damaged (truncated or malformed)";
    case KeyFileError::WrongPassphrase:
      return "wrong passphrase, or the key file was altered";
    case KeyFileError::WriteFailed:
      return "the key file could not be written (check that the directory exists and is writable, "
             "and the free space)";
    case KeyFileError::BadPublicKey:
      return "the public key file is malformed or its certificate does not verify";
    case KeyFileError::PassphraseTooShort:
      return "a new key file needs a passphrase of at least 12 characters";
  }
  return "unknown key file error";
}

// ---- certificates and public keys ------------------------------------------------

Bytes encKeyCertMessage(std::string_view memberId, const SigningPublicKey& identity,
                        const BoxPublicKey& enc, std::int64_t createdAtMs) {
  if (memberId.size() > 0xFFFF) throw std::length_error("member id longer than 65535 bytes");
  Bytes m(2 + memberId.size() + SigningPublicKey::size + BoxPublicKey::size + 8);
  std::uint8_t* p = m.data();
  putU16(p, static_cast<std::uint16_t>(memberId.size()));
  p += 2;
  std::memcpy(p, memberId.data(), memberId.size());
  p += memberId.size();
  std::memcpy(p, identity.data(), SigningPublicKey::size);
  p += SigningPublicKey::size;
  std::memcpy(p, enc.data(), BoxPublicKey::size);
  p += BoxPublicKey::size;
  putU64(p, static_cast<std::uint64_t>(createdAtMs));
  return m;
}

// Also refuses a low-order encryption key, which the owner could certify to
// make every sender's wrapKey to them fail.
bool PublicKeys::certValid() const {
  if (memberId.size() > 0xFFFF) return false;
  if (!verify(EncKeyCertContext, encKeyCertMessage(memberId, identity, encryption, createdAtMs),
              encCert, identity)) {
    return false;
  }
  return usableBoxPublicKey(encryption);
}

MemberKeys MemberKeys::generate(std::string memberId, std::int64_t nowMs) {
  MemberKeys k;
  k.memberId = std::move(memberId);
  k.identity = SigningKeyPair::generate();
  k.encryption = BoxKeyPair::generate();
  k.createdAtMs = nowMs;
  return k;
}

PublicKeys MemberKeys::publicKeys() const {
  PublicKeys pk;
  pk.memberId = memberId;
  pk.identity = identity.publicKey;
  pk.encryption = encryption.publicKey;
  pk.createdAtMs = createdAtMs;
  pk.encCert = sign(EncKeyCertContext,
                    encKeyCertMessage(memberId, identity.publicKey, encryption.publicKey, createdAtMs),
                    identity.secretKey);
  return pk;
}

// ---- private key file ------------------------------------------------------------

Bytes encryptKeyFile(const MemberKeys& keys, std::string_view passphrase, KdfStrength strength) {
  if (keys.memberId.size() > 0xFFFF) throw std::length_error("member id longer than 65535 bytes");
  if (keys.previousEncryption.size() > 0xFFFF) {
    throw std::length_error("more than 65535 previous encryption keys");
  }
  const KdfParams kdf = KdfParams::of(strength);
  const Salt salt = randomFixed<Salt>();
  const AeadNonce nonce = randomFixed<AeadNonce>();

  const std::size_t payloadBytes = 2 + keys.memberId.size() + 8 + SigningSecretKey::size +
                                   BoxSecretKey::size + 2 +
                                   keys.previousEncryption.size() * BoxSecretKey::size;
  SecureBuffer payload(payloadBytes);
  std::uint8_t* p = payload.data();
  putU16(p, static_cast<std::uint16_t>(keys.memberId.size()));
  p += 2;
  std::memcpy(p, keys.memberId.data(), keys.memberId.size());
  p += keys.memberId.size();
  putU64(p, static_cast<std::uint64_t>(keys.createdAtMs));
  p += 8;
  std::memcpy(p, keys.identity.secretKey.data(), SigningSecretKey::size);
  p += SigningSecretKey::size;
  std::memcpy(p, keys.encryption.secretKey.data(), BoxSecretKey::size);
  p += BoxSecretKey::size;
  putU16(p, static_cast<std::uint16_t>(keys.previousEncryption.size()));
  p += 2;
  for (const auto& prev : keys.previousEncryption) {
    std::memcpy(p, prev.secretKey.data(), BoxSecretKey::size);
    p += BoxSecretKey::size;
  }

  Bytes file(HeaderBytes + payloadBytes + AeadTagBytes);
  std::memcpy(file.data(), Magic.data(), Magic.size());
  file[OffVersion] = FileVersion;
  file[OffKdf] = KdfArgon2id13;
  putU64(file.data() + OffOps, kdf.opsLimit);
  putU64(file.data() + OffMem, kdf.memLimit);
  std::memcpy(file.data() + OffSalt, salt.data(), Salt::size);
  std::memcpy(file.data() + OffNonce, nonce.data(), AeadNonce::size);

  const FileKey key = deriveFileKey(passphrase, salt, kdf);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(file.data() + HeaderBytes, &clen, payload.data(),
                                             payload.size(), file.data(), HeaderBytes, nullptr,
                                             nonce.data(), key.data());
  return file;
}

Expected<MemberKeys, KeyFileError> decryptKeyFile(ByteView file, std::string_view passphrase) {
  // SECURITY: `file` is untrusted. Every check below runs before Argon2.
  if (file.size() < Magic.size() || std::memcmp(file.data(), Magic.data(), Magic.size()) != 0) {
    return unexpected(KeyFileError::NotAKeyFile);
  }
  if (file.size() <= OffVersion) return unexpected(KeyFileError::Damaged);
  if (file[OffVersion] != FileVersion) return unexpected(KeyFileError::UnsupportedVersion);
  if (file.size() <= OffKdf) return unexpected(KeyFileError::Damaged);
  if (file[OffKdf] != KdfArgon2id13) return unexpected(KeyFileError::UnsupportedVersion);
  if (file.size() < HeaderBytes + MinPayloadBytes + AeadTagBytes ||
      file.size() > HeaderBytes + MaxPayloadBytes + AeadTagBytes) {
    return unexpected(KeyFileError::Damaged);
  }
  const KdfParams kdf{getU64(file.data() + OffOps), getU64(file.data() + OffMem)};
  if (kdf.opsLimit < MinOpsLimit || kdf.opsLimit > MaxOpsLimit || kdf.memLimit < MinMemLimit ||
      kdf.memLimit > MaxMemLimit) {
    return unexpected(KeyFileError::Damaged);
  }
  const Salt salt = *Salt::fromBytes(file.subspan(OffSalt, Salt::size));
  const AeadNonce nonce = *AeadNonce::fromBytes(file.subspan(OffNonce, AeadNonce::size));
  const ByteView ciphertext = file.subspan(HeaderBytes);

  const FileKey key = deriveFileKey(passphrase, salt, kdf);
  SecureBuffer payload(ciphertext.size() - AeadTagBytes);
  unsigned long long plen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(payload.data(), &plen, nullptr, ciphertext.data(),
                                                 ciphertext.size(), file.data(), HeaderBytes,
                                                 nonce.data(), key.data()) != 0) {
    return unexpected(KeyFileError::WrongPassphrase);
  }
  auto keys = parsePayload(payload.view());
  if (!keys) return unexpected(KeyFileError::Damaged);
  return std::move(*keys);
}

std::size_t passphraseChars(std::string_view passphrase) {
  std::size_t n = 0;
  for (const char c : passphrase) {
    // UTF-8 continuation bytes (10xxxxxx) do not start a character.
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

bool longEnoughForNewKeyFile(std::string_view passphrase) {
  return passphraseChars(passphrase) >= MinNewPassphraseChars;
}

Expected<Ok, KeyFileError> writeKeyFile(const std::filesystem::path& path, const MemberKeys& keys,
                                        std::string_view passphrase, KdfStrength strength) {
  if (!longEnoughForNewKeyFile(passphrase)) return unexpected(KeyFileError::PassphraseTooShort);
  const Bytes data = encryptKeyFile(keys, passphrase, strength);
  // Never through a file or symlink someone else prepared (secure_file.hpp).
  if (tryWriteFileAtomic(path, data, 0600) != 0) return unexpected(KeyFileError::WriteFailed);
  return Ok{};
}

Expected<MemberKeys, KeyFileError> readKeyFile(const std::filesystem::path& path,
                                               std::string_view passphrase) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return unexpected(KeyFileError::NotFound);
  Bytes data;
  std::array<std::uint8_t, 64 * 1024> buf;
  for (;;) {
    const ssize_t r = ::read(fd.get(), buf.data(), buf.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      return unexpected(KeyFileError::NotFound);
    }
    if (r == 0) break;
    data.insert(data.end(), buf.begin(), buf.begin() + r);
    if (data.size() > MaxKeyFileBytes) {
      const bool magic = std::memcmp(data.data(), Magic.data(), Magic.size()) == 0;
      return unexpected(magic ? KeyFileError::Damaged : KeyFileError::NotAKeyFile);
    }
  }
  return decryptKeyFile(data, passphrase);
}

// ---- public key text ---------------------------------------------------------------

namespace {

inline constexpr std::string_view PubHeader = "focal-public-key v1";

}  // namespace

std::string formatPublicKeys(const PublicKeys& pk) {
  if (pk.memberId.empty() || idHasControlChars(pk.memberId)) {
    throw std::invalid_argument("member id is empty or contains control characters");
  }
  std::string s;
  s.reserve(256 + pk.memberId.size());
  s += PubHeader;
  s += "\nmember: ";
  s += pk.memberId;
  s += "\nidentity: ";
  s += toBase64(pk.identity.view());
  s += "\nencryption: ";
  s += toBase64(pk.encryption.view());
  s += "\ncreated-ms: ";
  s += std::to_string(pk.createdAtMs);
  s += "\ncertificate: ";
  s += toBase64(pk.encCert.view());
  s += '\n';
  return s;
}

// SECURITY: strict. Exactly the header line and five "key: value" lines, each
// key once, in any order; base64 must decode to exactly the key size; the
// decimal must be canonical; the certificate must verify. One trailing newline
// and CRLF line ends are tolerated, nothing else.
Expected<PublicKeys, KeyFileError> readPublicKeyFile(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return unexpected(KeyFileError::NotFound);
  if (std::filesystem::file_size(path, ec) > MaxPublicKeyFileBytes || ec) return unexpected(KeyFileError::BadPublicKey);
  Bytes bytes;
  try {
    bytes = readFileLimited(path, MaxPublicKeyFileBytes);
  } catch (const std::exception&) {
    return unexpected(KeyFileError::NotFound);
  }
  return parsePublicKeys(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

Expected<PublicKeys, KeyFileError> parsePublicKeys(std::string_view text) {
  const auto bad = unexpected(KeyFileError::BadPublicKey);
  if (text.size() > MaxPublicKeyFileBytes) return bad;  // a real one is ~300 bytes + id
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  if (!lines.empty() && lines.back().empty()) lines.pop_back();  // trailing newline
  for (auto& l : lines) {
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  }
  if (lines.size() != 6 || lines[0] != PubHeader) return bad;

  std::optional<std::string_view> member, identity, encryption, created, certificate;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::string_view l = lines[i];
    const std::size_t sep = l.find(": ");
    if (sep == std::string_view::npos) return bad;
    const std::string_view key = l.substr(0, sep);
    const std::string_view value = l.substr(sep + 2);
    std::optional<std::string_view>* slot = nullptr;
    if (key == "member") slot = &member;
    else if (key == "identity") slot = &identity;
    else if (key == "encryption") slot = &encryption;
    else if (key == "created-ms") slot = &created;
    else if (key == "certificate") slot = &certificate;
    if (slot == nullptr || slot->has_value()) return bad;  // unknown or repeated
    *slot = value;
  }
  if (!member || !identity || !encryption || !created || !certificate) return bad;

  PublicKeys pk;
  if (member->empty() || member->size() > 0xFFFF || idHasControlChars(*member)) return bad;
  pk.memberId = std::string(*member);

  auto fixed = [](std::string_view b64, auto& out) {
    auto raw = fromBase64(b64);
    if (!raw) return false;
    auto f = std::remove_reference_t<decltype(out)>::fromBytes(*raw);
    if (!f) return false;
    out = *f;
    return true;
  };
  if (!fixed(*identity, pk.identity) || !fixed(*encryption, pk.encryption) ||
      !fixed(*certificate, pk.encCert)) {
    return bad;
  }

  const std::string_view c = *created;
  std::int64_t ms = 0;
  const auto [end, ec] = std::from_chars(c.data(), c.data() + c.size(), ms);
  if (ec != std::errc{} || end != c.data() + c.size() || std::to_string(ms) != c) return bad;
  pk.createdAtMs = ms;

  if (!pk.certValid()) return bad;
  return pk;
}

// ---- fingerprints -------------------------------------------------------------------

namespace {

inline constexpr std::string_view FingerprintContext = "focal/v1/fingerprint";
inline constexpr int FingerprintIterations = 5200;

}  // namespace

std::string fingerprint(std::string_view memberId, const SigningPublicKey& identity) {
  if (memberId.size() > 0xFFFF) throw std::length_error("member id longer than 65535 bytes");
  Hasher first;
  first.update(asBytes(FingerprintContext));
  const std::uint8_t zero = 0;
  first.update({&zero, 1});
  std::uint8_t len[2];
  putU16(len, static_cast<std::uint16_t>(memberId.size()));
  first.update({len, 2});
  first.update(asBytes(memberId));
  first.update(identity.view());

  // buf = h || identityPk; each round h = BLAKE2b-256(buf).
  std::array<std::uint8_t, Hash256::size + SigningPublicKey::size> buf;
  const Hash256 h0 = first.finish();
  std::memcpy(buf.data(), h0.data(), Hash256::size);
  std::memcpy(buf.data() + Hash256::size, identity.data(), SigningPublicKey::size);
  std::array<std::uint8_t, Hash256::size> h;
  for (int i = 0; i < FingerprintIterations; ++i) {
    crypto_generichash(h.data(), h.size(), buf.data(), buf.size(), nullptr, 0);
    std::memcpy(buf.data(), h.data(), h.size());
  }

  std::string out;
  out.reserve(35);
  for (int chunk = 0; chunk < 6; ++chunk) {
    std::uint64_t v = 0;
    for (int i = 0; i < 5; ++i) v = (v << 8) | buf[chunk * 5 + i];
    char digits[6];
    std::snprintf(digits, sizeof digits, "%05u", static_cast<unsigned>(v % 100000));
    if (chunk > 0) out += ' ';
    out += digits;
  }
  return out;
}

std::string safetyNumber(std::string_view idA, const SigningPublicKey& a, std::string_view idB,
                         const SigningPublicKey& b) {
  std::string fa = fingerprint(idA, a);
  std::string fb = fingerprint(idB, b);
  if (fb < fa) std::swap(fa, fb);
  return fa + " " + fb;
}

}  // namespace focal::crypto

// Unit tests for crypto/keyfile: private key files (round trip, wrong
// passphrase, every damaged header byte, truncation, hostile Argon2
// parameters, file mode), public key text, and fingerprints.
#include "crypto/keyfile.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <regex>

using namespace focal::crypto;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view Pass = "correct horse battery staple";
constexpr std::int64_t Now = 1700000000123;
// Offsets of the v1 header, as documented in keyfile.hpp.
constexpr std::size_t OffOps = 10, OffMem = 18, OffSalt = 26, OffNonce = 42, HeaderBytes = 66;
static_assert(OffNonce + 24 == HeaderBytes, "the header ends with the 24-byte nonce");

void init() { initialize(); }

MemberKeys sampleKeys(int previous = 0) {
  auto k = MemberKeys::generate("sg-spf-cyber", Now);
  for (int i = 0; i < previous; ++i) k.previousEncryption.push_back(BoxKeyPair::generate());
  return k;
}

void putU64(Bytes& b, std::size_t off, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b[off + i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
}

void requireSameKeys(const MemberKeys& a, const MemberKeys& b) {
  CHECK(a.memberId == b.memberId);
  CHECK(a.createdAtMs == b.createdAtMs);
  CHECK(a.identity.publicKey == b.identity.publicKey);
  CHECK(a.identity.secretKey.equals(b.identity.secretKey));
  CHECK(a.encryption.publicKey == b.encryption.publicKey);
  CHECK(a.encryption.secretKey.equals(b.encryption.secretKey));
  REQUIRE(a.previousEncryption.size() == b.previousEncryption.size());
  for (std::size_t i = 0; i < a.previousEncryption.size(); ++i) {
    CHECK(a.previousEncryption[i].publicKey == b.previousEncryption[i].publicKey);
    CHECK(a.previousEncryption[i].secretKey.equals(b.previousEncryption[i].secretKey));
  }
}

// `path` reads back under Pass as exactly `keys`.
void requireFileHolds(const fs::path& path, const MemberKeys& keys) {
  auto r = readKeyFile(path, Pass);
  REQUIRE(r.ok());
  requireSameKeys(keys, *r);
}

// A key file of sampleKeys() under Pass, at the interactive KDF strength.
Bytes sampleFile() {
  init();
  return encryptKeyFile(sampleKeys(), Pass, KdfStrength::Interactive);
}

// `file` does not decrypt under Pass, for the reason `expected`.
void checkDecryptFails(ByteView file, KeyFileError expected) {
  auto r = decryptKeyFile(file, Pass);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == expected);
}

// A fresh directory under the system temp dir, removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("focal-keyfile-test-" + toHex(randomFixed<Salt>()));
    fs::create_directory(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string pubText() { return formatPublicKeys(sampleKeys().publicKeys()); }

std::string replaceLine(std::string text, std::string_view prefix, std::string_view with) {
  const auto start = text.find(prefix);
  REQUIRE(start != std::string::npos);
  const auto end = text.find('\n', start);
  text.replace(start, end - start, with);
  return text;
}

}  // namespace

// ---- private key files ------------------------------------------------------------------

TEST_CASE("A key file round trips the member id, timestamp and every key", "[keyfile]") {
  init();
  const auto keys = sampleKeys();
  const Bytes file = encryptKeyFile(keys, Pass, KdfStrength::Interactive);
  REQUIRE(file.size() > HeaderBytes);
  CHECK(std::memcmp(file.data(), "FOCALKEY\x01\x01", 10) == 0);
  auto back = decryptKeyFile(file, Pass);
  REQUIRE(back.ok());
  requireSameKeys(keys, *back);
  // The recovered keys work: they sign and unwrap.
  const auto ck = ContentKey::random();
  auto k = unwrapKey(wrapKey(ck, keys.encryption.publicKey), back->encryption);
  REQUIRE(k.ok());
  CHECK(k->equals(ck));
  CHECK(back->publicKeys().certValid());
}

TEST_CASE("Previous encryption keys survive a key file round trip in order", "[keyfile]") {
  init();
  const auto keys = sampleKeys(3);
  auto back = decryptKeyFile(encryptKeyFile(keys, Pass, KdfStrength::Interactive), Pass);
  REQUIRE(back.ok());
  REQUIRE(back->previousEncryption.size() == 3);
  requireSameKeys(keys, *back);
  const auto ck = ContentKey::random();
  CHECK(unwrapKey(wrapKey(ck, keys.previousEncryption[2].publicKey),
                  back->previousEncryption[2]).ok());
}

TEST_CASE("A wrong passphrase is reported as WrongPassphrase", "[keyfile]") {
  const Bytes file = sampleFile();
  for (std::string_view wrong : {"correct horse battery stapler", "", "Correct horse battery staple"}) {
    auto r = decryptKeyFile(file, wrong);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == KeyFileError::WrongPassphrase);
  }
  // Same keys, same passphrase: fresh salt and nonce every time.
  CHECK(encryptKeyFile(sampleKeys(), Pass, KdfStrength::Interactive) != file);
}

TEST_CASE("Every altered header byte gives the error of its field, never keys", "[keyfile]") {
  const Bytes file = sampleFile();
  for (std::size_t i = 0; i < HeaderBytes; ++i) {
    Bytes t = file;
    t[i] ^= 0x01;
    auto r = decryptKeyFile(t, Pass);
    INFO("byte " << i);
    REQUIRE_FALSE(r.ok());
    const auto e = r.error();
    if (i < 8) {
      CHECK(e == KeyFileError::NotAKeyFile);
    } else if (i < OffOps) {
      CHECK(e == KeyFileError::UnsupportedVersion);
    } else if (i < OffSalt) {
      // Either out of the accepted range, or in range and then the AD no
      // longer matches.
      CHECK((e == KeyFileError::Damaged || e == KeyFileError::WrongPassphrase));
    } else {
      CHECK(e == KeyFileError::WrongPassphrase);
    }
  }
  for (std::size_t i : {HeaderBytes, file.size() / 2, file.size() - 1}) {
    Bytes t = file;
    t[i] ^= 0x80;
    checkDecryptFails(t, KeyFileError::WrongPassphrase);
  }
}

TEST_CASE("Truncated key files are NotAKeyFile, Damaged or fail authentication", "[keyfile]") {
  const Bytes file = sampleFile();
  for (std::size_t n : {0, 1, 7}) {
    checkDecryptFails(ByteView(file).first(n), KeyFileError::NotAKeyFile);
  }
  // Up to the smallest possible payload: structure alone says damaged,
  // before any Argon2.
  for (std::size_t n : {8, 9, 10, 17, 26, 41, 65, 66, 82, 66 + 16 + 107}) {
    INFO("length " << n);
    checkDecryptFails(ByteView(file).first(n), KeyFileError::Damaged);
  }
  // Inside the ciphertext, truncation is indistinguishable from alteration.
  checkDecryptFails(ByteView(file).first(file.size() - 1), KeyFileError::WrongPassphrase);
}

TEST_CASE("Absurd Argon2 parameters in a file are rejected before Argon2 runs", "[keyfile]") {
  const Bytes file = sampleFile();
  const std::uint64_t ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
  const std::uint64_t mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
  const std::uint64_t GiB = 1024ull * 1024 * 1024;
  struct Case { std::uint64_t ops, mem; };
  const Case cases[] = {
      {ops, 1ull << 40},                  // 1 TiB
      {ops, ~0ull},
      {ops, 4 * GiB + 1024},
      {ops, crypto_pwhash_MEMLIMIT_MIN - 1},
      {ops, 0},
      {0, mem},
      {crypto_pwhash_OPSLIMIT_SENSITIVE * 4 + 1, mem},
      {1ull << 40, mem},                  // would run for days
      {~0ull, ~0ull},
  };
  const auto start = std::chrono::steady_clock::now();
  for (const auto& c : cases) {
    Bytes t = file;
    putU64(t, OffOps, c.ops);
    putU64(t, OffMem, c.mem);
    INFO("ops " << c.ops << " mem " << c.mem);
    checkDecryptFails(t, KeyFileError::Damaged);
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));

  // The bounds are inclusive: the cheapest legal parameters are accepted and
  // Argon2 runs (and then the AEAD fails, since the AD changed).
  Bytes t = file;
  putU64(t, OffOps, crypto_pwhash_OPSLIMIT_MIN);
  putU64(t, OffMem, crypto_pwhash_MEMLIMIT_MIN);
  checkDecryptFails(t, KeyFileError::WrongPassphrase);
}

TEST_CASE("An unknown version or KDF is UnsupportedVersion", "[keyfile]") {
  const Bytes file = sampleFile();
  for (std::size_t off : {std::size_t{8}, std::size_t{9}}) {
    for (std::uint8_t v : {0, 2, 255}) {
      Bytes t = file;
      t[off] = v;
      checkDecryptFails(t, KeyFileError::UnsupportedVersion);
    }
  }
}

TEST_CASE("A key file whose Ed25519 public half does not match its seed is Damaged",
          "[keyfile]") {
  init();
  auto keys = sampleKeys();
  const auto other = SigningKeyPair::generate();
  std::memcpy(keys.identity.secretKey.data() + 32, other.publicKey.data(), 32);
  checkDecryptFails(encryptKeyFile(keys, Pass, KdfStrength::Interactive), KeyFileError::Damaged);
}

TEST_CASE("writeKeyFile creates a mode 0600 file that readKeyFile reads back", "[keyfile][file]") {
  init();
  TempDir dir;
  const fs::path path = dir.path / "member.key";
  const auto keys = sampleKeys(1);
  // A permissive umask must not widen the mode.
  const mode_t old = ::umask(0);
  auto w = writeKeyFile(path, keys, Pass, KdfStrength::Interactive);
  ::umask(old);
  REQUIRE(w.ok());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK_FALSE(fs::exists(dir.path / "member.key.tmp"));

  requireFileHolds(path, keys);

  // Rewriting (e.g. after a rotation) replaces the file.
  const auto rotated = sampleKeys(2);
  REQUIRE(writeKeyFile(path, rotated, Pass, KdfStrength::Interactive).ok());
  requireFileHolds(path, rotated);
}

TEST_CASE("writeKeyFile never writes through a planted temp file or symlink, and a stale one does not block it",
          "[keyfile][file]") {
  init();
  TempDir dir;
  const fs::path path = dir.path / "member.key";
  const auto keys = sampleKeys();
  REQUIRE(writeKeyFile(path, keys, Pass, KdfStrength::Interactive).ok());
  // What a crash (or another user) may leave where a fixed temp name would
  // be: a stale file, and a symlink to a file of the victim's.
  { std::ofstream(dir.path / "member.key.tmp") << "planted"; }
  { std::ofstream(dir.path / "victim") << "victim"; }
  fs::create_symlink(dir.path / "victim", dir.path / ".member.key.tmp");
  const auto rotated = sampleKeys(2);
  REQUIRE(writeKeyFile(path, rotated, Pass, KdfStrength::Interactive).ok());
  requireFileHolds(path, rotated);
  auto slurp = [](const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  CHECK(slurp(dir.path / "member.key.tmp") == "planted");
  CHECK(slurp(dir.path / "victim") == "victim");
  // No temp file of its own is left behind.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path)) ++entries;
  CHECK(entries == 4);  // member.key, member.key.tmp, victim, .member.key.tmp

  auto noDir = writeKeyFile(dir.path / "missing" / "k.key", keys, Pass, KdfStrength::Interactive);
  REQUIRE_FALSE(noDir.ok());
  CHECK(noDir.error() == KeyFileError::WriteFailed);
  requireFileHolds(path, rotated);
}

TEST_CASE("readKeyFile reports missing files and files that are not key files",
          "[keyfile][file]") {
  init();
  TempDir dir;
  auto missing = readKeyFile(dir.path / "nope.key", Pass);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error() == KeyFileError::NotFound);

  { std::ofstream(dir.path / "text.key") << "-----BEGIN OPENSSH PRIVATE KEY-----\n"; }
  auto text = readKeyFile(dir.path / "text.key", Pass);
  REQUIRE_FALSE(text.ok());
  CHECK(text.error() == KeyFileError::NotAKeyFile);
}

// ---- public key text ---------------------------------------------------------------------

TEST_CASE("Public keys round trip through their text form", "[keyfile][pub]") {
  init();
  const auto keys = sampleKeys();
  const PublicKeys pk = keys.publicKeys();
  REQUIRE(pk.certValid());
  const std::string text = formatPublicKeys(pk);
  CHECK(text.rfind("focal-public-key v1\nmember: sg-spf-cyber\n", 0) == 0);
  CHECK(text.find("created-ms: 1700000000123\n") != std::string::npos);
  auto back = parsePublicKeys(text);
  REQUIRE(back.ok());
  CHECK(back->memberId == pk.memberId);
  CHECK(back->identity == pk.identity);
  CHECK(back->encryption == pk.encryption);
  CHECK(back->createdAtMs == pk.createdAtMs);
  CHECK(back->encCert == pk.encCert);
  CHECK(formatPublicKeys(*back) == text);
}

TEST_CASE("Public key text tolerates CRLF and a missing final newline, nothing more",
          "[keyfile][pub]") {
  init();
  const std::string text = pubText();
  std::string crlf;
  for (char c : text) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  CHECK(parsePublicKeys(crlf).ok());
  CHECK(parsePublicKeys(std::string_view(text).substr(0, text.size() - 1)).ok());
  CHECK_FALSE(parsePublicKeys(text + "\n").ok());
  CHECK_FALSE(parsePublicKeys("\n" + text).ok());
  CHECK_FALSE(parsePublicKeys(text + " ").ok());
  CHECK_FALSE(parsePublicKeys(replaceLine(text, "focal-public-key", "focal-public-key v2")).ok());
  CHECK_FALSE(parsePublicKeys(replaceLine(text, "focal-public-key", "focal-public-key v1 ")).ok());
  CHECK_FALSE(parsePublicKeys("").ok());
}

TEST_CASE("A tampered or foreign certificate is rejected", "[keyfile][pub]") {
  init();
  const auto keys = sampleKeys();
  PublicKeys pk = keys.publicKeys();

  PublicKeys t = pk;
  t.encCert.bytes[5] ^= 1;
  CHECK_FALSE(t.certValid());
  auto r = parsePublicKeys(formatPublicKeys(t));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == KeyFileError::BadPublicKey);

  // Every certified field is bound: changing any one breaks the certificate.
  t = pk;
  t.createdAtMs += 1;
  CHECK_FALSE(parsePublicKeys(formatPublicKeys(t)).ok());
  t = pk;
  t.memberId = "sg-spf-cyber2";
  CHECK_FALSE(parsePublicKeys(formatPublicKeys(t)).ok());
  t = pk;
  t.encryption = BoxKeyPair::generate().publicKey;
  CHECK_FALSE(parsePublicKeys(formatPublicKeys(t)).ok());
  t = pk;
  t.identity = SigningKeyPair::generate().publicKey;
  CHECK_FALSE(parsePublicKeys(formatPublicKeys(t)).ok());
}

TEST_CASE("Missing, repeated or unknown public key fields are rejected", "[keyfile][pub]") {
  init();
  const std::string text = pubText();
  for (std::string_view field : {"member: ", "identity: ", "encryption: ", "created-ms: ",
                                 "certificate: "}) {
    INFO(field);
    const auto start = text.find(field);
    const auto end = text.find('\n', start);
    const std::string line = text.substr(start, end - start + 1);
    std::string missing = text;
    missing.erase(start, line.size());
    CHECK_FALSE(parsePublicKeys(missing).ok());
    CHECK_FALSE(parsePublicKeys(text + line).ok());     // repeated
    CHECK(parsePublicKeys(missing + line).ok());        // moved to the end: order is free
  }
  CHECK_FALSE(parsePublicKeys(replaceLine(text, "member: ", "name: sg-spf-cyber")).ok());
  CHECK_FALSE(parsePublicKeys(replaceLine(text, "member: ", "member:sg-spf-cyber")).ok());
  CHECK_FALSE(parsePublicKeys(replaceLine(text, "member: ", "member: ")).ok());
  CHECK_FALSE(parsePublicKeys(replaceLine(text, "member: ", "")).ok());
}

TEST_CASE("Public key base64 and decimal fields must be exact", "[keyfile][pub]") {
  init();
  const auto pk = sampleKeys().publicKeys();
  const std::string text = formatPublicKeys(pk);
  const std::string id31 = toBase64(ByteView(pk.identity.view()).first(31));
  CHECK_FALSE(parsePublicKeys(replaceLine(text, "identity: ", "identity: " + id31)).ok());
  Bytes id33(pk.identity.bytes.begin(), pk.identity.bytes.end());
  id33.push_back(0);
  CHECK_FALSE(parsePublicKeys(replaceLine(text, "identity: ", "identity: " + toBase64(id33))).ok());
  const std::string enc = toBase64(pk.encryption.view());
  CHECK_FALSE(
      parsePublicKeys(replaceLine(text, "encryption: ", "encryption: " + enc.substr(0, 43))).ok());
  CHECK_FALSE(parsePublicKeys(replaceLine(text, "encryption: ", "encryption: " + enc + " ")).ok());

  for (std::string bad : {"+1700000000123", "01700000000123", " 1700000000123", "1700000000123x",
                          "", "99999999999999999999"}) {
    INFO(bad);
    CHECK_FALSE(parsePublicKeys(replaceLine(text, "created-ms: ", "created-ms: " + bad)).ok());
  }
}

TEST_CASE("A low-order encryption key is rejected even with a valid signature",
          "[keyfile][pub]") {
  init();
  const auto keys = sampleKeys();
  PublicKeys pk;
  pk.memberId = keys.memberId;
  pk.identity = keys.identity.publicKey;
  pk.encryption = BoxPublicKey{};  // all zero: every wrapKey to it would fail
  pk.createdAtMs = Now;
  pk.encCert = sign(EncKeyCertContext,
                    encKeyCertMessage(pk.memberId, pk.identity, pk.encryption, pk.createdAtMs),
                    keys.identity.secretKey);
  CHECK_FALSE(pk.certValid());
  CHECK_FALSE(parsePublicKeys(formatPublicKeys(pk)).ok());
}

TEST_CASE("The certificate message has the documented layout", "[keyfile][pub]") {
  init();
  const auto keys = sampleKeys();
  const Bytes m = encKeyCertMessage("ab", keys.identity.publicKey, keys.encryption.publicKey,
                                    0x0102030405060708);
  REQUIRE(m.size() == 2 + 2 + 32 + 32 + 8);
  CHECK(m[0] == 0);
  CHECK(m[1] == 2);
  CHECK(m[2] == 'a');
  CHECK(m[3] == 'b');
  CHECK(std::memcmp(m.data() + 4, keys.identity.publicKey.data(), 32) == 0);
  CHECK(std::memcmp(m.data() + 36, keys.encryption.publicKey.data(), 32) == 0);
  CHECK(m[68] == 1);
  CHECK(m[75] == 8);
}

// ---- fingerprints --------------------------------------------------------------------------

TEST_CASE("A fingerprint is six groups of five digits and deterministic", "[keyfile][fingerprint]") {
  init();
  const auto kp = SigningKeyPair::generate();
  const std::string f = fingerprint("sg-spf-cyber", kp.publicKey);
  CHECK(std::regex_match(f, std::regex("[0-9]{5}( [0-9]{5}){5}")));
  CHECK(fingerprint("sg-spf-cyber", kp.publicKey) == f);
}

TEST_CASE("Fingerprints differ for different keys and different member ids",
          "[keyfile][fingerprint]") {
  init();
  const auto a = SigningKeyPair::generate();
  const auto b = SigningKeyPair::generate();
  const std::string fa = fingerprint("my-poc", a.publicKey);
  CHECK(fingerprint("my-poc", b.publicKey) != fa);
  CHECK(fingerprint("my-poc2", a.publicKey) != fa);
  CHECK(fingerprint("", a.publicKey) != fa);
}

TEST_CASE("The fingerprint follows its specification", "[keyfile][fingerprint]") {
  init();
  const auto kp = SigningKeyPair::generate();
  const std::string id = "th-tcsd";
  // Independent computation of the spec in keyfile.hpp / PROTOCOL.md.
  std::string in = "focal/v1/fingerprint";
  in += '\0';
  in += '\0';  // u16be length, high byte
  in += static_cast<char>(id.size());
  in += id;
  in.append(reinterpret_cast<const char*>(kp.publicKey.data()), 32);
  std::uint8_t h[32];
  crypto_generichash(h, 32, reinterpret_cast<const std::uint8_t*>(in.data()), in.size(), nullptr,
                     0);
  for (int i = 0; i < 5200; ++i) {
    std::uint8_t buf[64];
    std::memcpy(buf, h, 32);
    std::memcpy(buf + 32, kp.publicKey.data(), 32);
    crypto_generichash(h, 32, buf, 64, nullptr, 0);
  }
  std::string expected;
  for (int c = 0; c < 6; ++c) {
    std::uint64_t v = 0;
    for (int i = 0; i < 5; ++i) v = v * 256 + h[c * 5 + i];
    std::string d = std::to_string(v % 100000);
    if (c > 0) expected += ' ';
    expected += std::string(5 - d.size(), '0') + d;
  }
  CHECK(fingerprint(id, kp.publicKey) == expected);
}

TEST_CASE("A safety number is both fingerprints in sorted order, the same from both sides",
          "[keyfile][fingerprint]") {
  init();
  const auto a = SigningKeyPair::generate();
  const auto b = SigningKeyPair::generate();
  const std::string ab = safetyNumber("alice", a.publicKey, "bob", b.publicKey);
  CHECK(ab == safetyNumber("bob", b.publicKey, "alice", a.publicKey));
  CHECK(std::regex_match(ab, std::regex("[0-9]{5}( [0-9]{5}){11}")));
  const std::string fa = fingerprint("alice", a.publicKey);
  const std::string fb = fingerprint("bob", b.publicKey);
  CHECK(ab == (fa < fb ? fa + " " + fb : fb + " " + fa));
}

TEST_CASE("Every key file error is described by a distinct sentence", "[keyfile]") {
  const KeyFileError all[] = {KeyFileError::NotFound,        KeyFileError::NotAKeyFile,
                              KeyFileError::UnsupportedVersion, KeyFileError::Damaged,
                              KeyFileError::WrongPassphrase, KeyFileError::WriteFailed,
                              KeyFileError::BadPublicKey};
  for (auto a : all) {
    CHECK(std::string(describe(a)).size() > 15);
    for (auto b : all) {
      if (a != b) CHECK(std::string(describe(a)) != std::string(describe(b)));
    }
  }
  CHECK(std::string(describe(KeyFileError::WrongPassphrase)).find("passphrase") !=
        std::string::npos);
}

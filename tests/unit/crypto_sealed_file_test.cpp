// Unit tests for crypto/sealed_file (the files of a sealed backup, issue 22):
// round trips at every chunk boundary, and every way a sealed file can be
// wrong: another backup key, another name or role, a header claiming the
// expected name, a byte changed in each part, cut short at a chunk boundary
// or inside a chunk, bytes appended, an unknown version, not sealed at all.
// Over files: the modes, never over an existing file, nothing left on failure.
#include "crypto/sealed_file.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>

using namespace focal::crypto;
using focal::test_support::TempDir;
namespace fs = std::filesystem;

namespace {

Bytes patterned(std::size_t n, std::uint8_t seed = 7) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 13 + (i >> 9));
  return b;
}

ByteSource sourceOf(const Bytes& data) {
  auto at = std::make_shared<std::size_t>(0);
  return [&data, at](std::span<std::uint8_t> buf) {
    // Odd-sized reads: the code must not assume a source fills its buffer.
    const std::size_t n = std::min({buf.size(), data.size() - *at, std::size_t{100'003}});
    std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(*at), n, buf.begin());
    *at += n;
    return n;
  };
}

Bytes seal(const ContentKey& key, std::string_view role, std::string_view name, const Bytes& plain,
           SealedFileSummary* summary = nullptr) {
  Bytes out;
  const auto s =
      sealStream(key, role, name, sourceOf(plain), [&](ByteView b) { out.insert(out.end(), b.begin(), b.end()); });
  if (summary != nullptr) *summary = s;
  return out;
}

focal::Expected<SealedFileSummary, SealedFileError> openBytes(const ContentKey& key, std::string_view role,
                                                         std::string_view name, const Bytes& sealed, Bytes* plain) {
  return openStream(key, role, name, sourceOf(sealed), [&](ByteView b) {
    if (plain != nullptr) plain->insert(plain->end(), b.begin(), b.end());
  });
}

SealedFileError openError(const ContentKey& key, std::string_view role, std::string_view name, const Bytes& sealed) {
  const auto r = openBytes(key, role, name, sealed, nullptr);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

constexpr std::size_t Chunk = AttachmentChunkPlainBytes;
constexpr std::size_t CipherChunk = Chunk + StreamChunkOverhead;
// magic, version, label length, "database" 0x00 "focal.db", stream header
constexpr std::size_t HeaderBytes = 8 + 1 + 2 + 17 + StreamHeaderBytes;

}  // namespace

TEST_CASE("A sealed file round-trips at every chunk boundary with the hashes of both forms", "[crypto][sealed-file]") {
  initialize();
  const auto key = ContentKey::random();
  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, Chunk - 1, Chunk, Chunk + 1, 2 * Chunk + 5}) {
    INFO(size);
    const Bytes plain = patterned(size);
    SealedFileSummary made;
    const Bytes sealed = seal(key, "database", "focal.db", plain, &made);
    // One chunk per 256 KiB begun; the last one (full, short or, for an
    // empty file, empty) carries TAG_FINAL.
    const std::size_t chunks = size == 0 ? 1 : (size + Chunk - 1) / Chunk;
    CHECK(sealed.size() == HeaderBytes + size + chunks * StreamChunkOverhead);
    CHECK(made.plainBytes == size);
    CHECK(made.plainHash == hash256(plain));
    CHECK(made.sealedHash == hash256(sealed));
    Bytes opened;
    const auto r = openBytes(key, "database", "focal.db", sealed, &opened);
    REQUIRE(r.ok());
    CHECK(opened == plain);
    CHECK(r->plainHash == made.plainHash);
    CHECK(r->sealedHash == made.sealedHash);
  }
  // Two seals of the same plaintext differ (random stream header).
  CHECK(seal(key, "hub-key", "hub.key", patterned(64)) != seal(key, "hub-key", "hub.key", patterned(64)));
}

TEST_CASE("A sealed file opens only under its backup key, name and role", "[crypto][sealed-file]") {
  initialize();
  const auto key = ContentKey::random();
  const Bytes sealed = seal(key, "hub-key", "hub.key", patterned(64));
  CHECK(openError(ContentKey::random(), "hub-key", "hub.key", sealed) == SealedFileError::Tampered);
  CHECK(openError(key, "tls-key", "hub.key", sealed) == SealedFileError::OtherFile);
  CHECK(openError(key, "hub-key", "tls/key.pem", sealed) == SealedFileError::OtherFile);
  // The label in clear is only a hint: rewritten to the expected one (same
  // length), the file is opened under the expected name's key and fails.
  Bytes relabelled = seal(key, "tls-key", "hub.kez", patterned(64));
  const std::string expectedLabel = std::string("hub-key") + '\0' + "hub.key";
  std::copy(expectedLabel.begin(), expectedLabel.end(), relabelled.begin() + 11);
  CHECK(openError(key, "hub-key", "hub.key", relabelled) == SealedFileError::Tampered);
  // The derived keys differ per name, per role and per backup key.
  CHECK_FALSE(backupFileKey(key, "hub-key", "hub.key").equals(backupFileKey(key, "hub-key", "hub.kez")));
  CHECK_FALSE(backupFileKey(key, "hub-key", "hub.key").equals(backupFileKey(key, "tls-key", "hub.key")));
  CHECK_FALSE(backupFileKey(key, "hub-key", "hub.key").equals(backupManifestKey(key)));
  CHECK_THROWS_AS(sealedFileLabel("hub-key", std::string("a\0b", 3)), std::invalid_argument);
  CHECK_THROWS_AS(sealedFileLabel("hub-key", std::string(MaxSealedLabelBytes, 'a')), std::invalid_argument);
}

TEST_CASE("A sealed file altered anywhere, cut short, or with bytes appended does not open", "[crypto][sealed-file]") {
  initialize();
  const auto key = ContentKey::random();
  const Bytes plain = patterned(2 * Chunk + 5);
  const Bytes sealed = seal(key, "database", "focal.db", plain);
  const auto flipped = [&](std::size_t at) {
    Bytes b = sealed;
    b[at] = static_cast<std::uint8_t>(b[at] ^ 0x01);
    return b;
  };
  CHECK(openError(key, "database", "focal.db", flipped(0)) == SealedFileError::NotSealed);
  CHECK(openError(key, "database", "focal.db", flipped(8)) == SealedFileError::UnsupportedVersion);
  CHECK(openError(key, "database", "focal.db", flipped(12)) == SealedFileError::OtherFile);
  CHECK(openError(key, "database", "focal.db", flipped(HeaderBytes - 3)) == SealedFileError::Tampered);  // stream header
  for (const std::size_t at : {HeaderBytes, HeaderBytes + CipherChunk + 77, sealed.size() - 1}) {
    INFO(at);
    CHECK(openError(key, "database", "focal.db", flipped(at)) == SealedFileError::Tampered);
  }
  const auto cut = [&](std::size_t n) { return Bytes(sealed.begin(), sealed.begin() + static_cast<std::ptrdiff_t>(n)); };
  CHECK(openError(key, "database", "focal.db", cut(5)) == SealedFileError::NotSealed);
  CHECK(openError(key, "database", "focal.db", cut(HeaderBytes - 1)) == SealedFileError::Truncated);
  // At a chunk boundary: every chunk there authenticates; the final one is missing.
  CHECK(openError(key, "database", "focal.db", cut(HeaderBytes)) == SealedFileError::Truncated);
  CHECK(openError(key, "database", "focal.db", cut(HeaderBytes + CipherChunk)) == SealedFileError::Truncated);
  CHECK(openError(key, "database", "focal.db", cut(HeaderBytes + 2 * CipherChunk)) == SealedFileError::Truncated);
  // Inside a chunk: its tag does not verify.
  CHECK(openError(key, "database", "focal.db", cut(sealed.size() - 1)) == SealedFileError::Tampered);
  // Two chunks in the wrong order.
  Bytes reordered = sealed;
  std::copy_n(sealed.begin() + static_cast<std::ptrdiff_t>(HeaderBytes), CipherChunk,
              reordered.begin() + static_cast<std::ptrdiff_t>(HeaderBytes + CipherChunk));
  std::copy_n(sealed.begin() + static_cast<std::ptrdiff_t>(HeaderBytes + CipherChunk), CipherChunk,
              reordered.begin() + static_cast<std::ptrdiff_t>(HeaderBytes));
  CHECK(openError(key, "database", "focal.db", reordered) == SealedFileError::Tampered);
  // A byte appended: read with the short final chunk, whose tag then fails;
  // after a full final chunk, it is left over.
  Bytes appended = sealed;
  appended.push_back(0);
  CHECK(openError(key, "database", "focal.db", appended) == SealedFileError::Tampered);
  Bytes full = seal(key, "database", "focal.db", patterned(Chunk));
  full.push_back(0);
  CHECK(openError(key, "database", "focal.db", full) == SealedFileError::TrailingData);
  const auto sqlite = asBytes("SQLite format 3, the first bytes of a database");
  CHECK(openError(key, "database", "focal.db", Bytes(sqlite.begin(), sqlite.end())) == SealedFileError::NotSealed);
}

TEST_CASE("sealFile and openFile: mode 0600, never over an existing file, nothing left when opening fails",
          "[crypto][sealed-file]") {
  TempDir dir;
  const auto key = ContentKey::random();
  const Bytes plain = patterned(Chunk + 10);
  {
    std::ofstream out(dir / "plain", std::ios::binary);
    out.write(reinterpret_cast<const char*>(plain.data()), static_cast<std::streamsize>(plain.size()));
  }
  const auto made = sealFile(key, "database", "focal.db", dir / "plain", dir / "focal.db.sealed");
  struct stat st {};
  REQUIRE(::stat((dir / "focal.db.sealed").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(made.plainHash == hash256(plain));
  CHECK_THROWS(sealFile(key, "database", "focal.db", dir / "plain", dir / "focal.db.sealed"));  // exists
  CHECK_THROWS(sealBytes(key, "hub-key", "hub.key", plain, dir / "plain"));
  CHECK_THROWS(sealFile(key, "database", "focal.db", dir / "none", dir / "other.sealed"));
  CHECK_FALSE(fs::exists(dir / "other.sealed"));

  const auto r = openFile(key, "database", "focal.db", dir / "focal.db.sealed", dir / "opened", 0644);
  REQUIRE(r.ok());
  REQUIRE(::stat((dir / "opened").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);
  CHECK(r->plainHash == made.plainHash);
  CHECK(r->sealedHash == made.sealedHash);
  // Never over an existing file.
  CHECK(openFile(key, "database", "focal.db", dir / "focal.db.sealed", dir / "opened", 0600).error() ==
        SealedFileError::WriteFailed);
  // A wrong key: the partial plaintext (the chunks before the failure) is removed.
  CHECK(openFile(ContentKey::random(), "database", "focal.db", dir / "focal.db.sealed", dir / "wrong", 0600).error() ==
        SealedFileError::Tampered);
  CHECK_FALSE(fs::exists(dir / "wrong"));
  fs::resize_file(dir / "focal.db.sealed", HeaderBytes + CipherChunk);
  CHECK(openFile(key, "database", "focal.db", dir / "focal.db.sealed", dir / "cut", 0600).error() ==
        SealedFileError::Truncated);
  CHECK_FALSE(fs::exists(dir / "cut"));
  CHECK(openFile(key, "database", "focal.db", dir / "none", dir / "none.out", 0600).error() ==
        SealedFileError::Unreadable);
  CHECK_FALSE(fs::exists(dir / "none.out"));
}

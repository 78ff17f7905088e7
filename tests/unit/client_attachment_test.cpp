// Client-side attachment streaming and file-name hygiene: round trip, and the
// denial cases (tampered, truncated, extended, wrong key, unsafe names).
#include "client/attachment_saver.hpp"
#include "client/client_error.hpp"
#include "client/file_names.hpp"
#include "client/spooled_blob.hpp"
#include "tests/support/files.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <random>
#include <sstream>

using namespace focal;
using namespace focal::client;
namespace fs = std::filesystem;

namespace {

struct Scratch {
  fs::path dir;
  Scratch() {
    crypto::initialize();
    std::string tmpl = (fs::temp_directory_path() / "focal-client-ut-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

std::string randomText(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

constexpr auto slurp = &test_support::readFile;

crypto::Bytes blobBytes(const SpooledBlob& blob) {
  crypto::Bytes out(blob.size());
  REQUIRE(blob.reader()(0, out) == out.size());
  return out;
}

// Feeds `bytes` in uneven pieces, as a network would; `whole`: in one
// piece, so that every full chunk is decrypted in the caller's buffer
// instead of the saver's own.
void feed(AttachmentSaver& saver, const crypto::Bytes& bytes, bool whole = false) {
  if (whole) return saver.write(bytes);
  std::size_t at = 0, step = 1000;
  while (at < bytes.size()) {
    const std::size_t n = std::min(step, bytes.size() - at);
    saver.write(crypto::ByteView(bytes.data() + at, n));
    at += n;
    step = step * 3 + 7;
  }
}

}  // namespace

TEST_CASE("An attachment survives encryption to a spool blob and decryption to a file", "[client][attachment]") {
  Scratch s;
  const auto key = crypto::ContentKey::random();
  // The last size spans two of the saver's writeback starts (every 8 MiB
  // of plaintext) and a remainder.
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, crypto::AttachmentChunkPlainBytes,
                           crypto::AttachmentChunkPlainBytes * 2 + 5, std::size_t{(17u << 20) + 3}}) {
    INFO("plaintext size " << size);
    const auto plain = s.dir / "in.bin";
    std::ofstream(plain, std::ios::binary) << randomText(size, static_cast<unsigned>(size));
    auto blob = SpooledBlob::encrypt(plain, key, s.dir / "spool");
    CHECK(blob.plainSize() == size);
    // PROTOCOL.md §9.1: full chunks, then one shorter final chunk (empty
    // when the size is a multiple of the chunk size).
    const std::size_t chunks = size / crypto::AttachmentChunkPlainBytes + 1;
    CHECK(blob.size() == crypto::StreamHeaderBytes + size + chunks * crypto::StreamChunkOverhead);
    const auto bytes = blobBytes(blob);
    CHECK(crypto::hash256(bytes) == blob.hash());

    AttachmentSaver saver(s.dir, key, blob.hash(), blob.size());
    feed(saver, bytes);
    const auto out = saver.finish("out.bin", true);
    CHECK(slurp(out) == slurp(plain));
    CHECK(saver.plainBytes() == size);
  }
  // The spool file is gone once the blob is destroyed.
  CHECK(fs::is_empty(s.dir / "spool"));
}

TEST_CASE("A tampered, truncated, extended or wrongly keyed blob is refused and leaves no file", "[client][attachment]") {
  Scratch s;
  const auto key = crypto::ContentKey::random();
  const auto plain = s.dir / "in.bin";
  std::ofstream(plain, std::ios::binary) << randomText(crypto::AttachmentChunkPlainBytes + 100, 3);
  auto blob = SpooledBlob::encrypt(plain, key, s.dir);
  const auto good = blobBytes(blob);
  // Both ways a chunk reaches the decryption: gathered from pieces, or
  // whole in the received slice.
  const bool whole = GENERATE(false, true);
  INFO("fed in one piece: " << whole);
  const auto feed = [whole](AttachmentSaver& saver, const crypto::Bytes& bytes) { ::feed(saver, bytes, whole); };

  SECTION("a flipped byte") {
    auto bad = good;
    bad[bad.size() / 2] ^= 0x01;
    AttachmentSaver saver(s.dir, key, crypto::hash256(bad), bad.size());
    CHECK_THROWS_AS(feed(saver, bad), VerifyError);
  }
  SECTION("bytes that do not match the signed hash") {
    AttachmentSaver saver(s.dir, key, crypto::hash256(crypto::Bytes{1, 2, 3}), good.size());
    feed(saver, good);
    CHECK_THROWS_AS(saver.finish("out.bin", false), VerifyError);
  }
  SECTION("the final chunk cut off") {
    crypto::Bytes cut(good.begin(), good.begin() + crypto::StreamHeaderBytes + crypto::AttachmentChunkPlainBytes +
                                        crypto::StreamChunkOverhead);
    AttachmentSaver saver(s.dir, key, crypto::hash256(cut), cut.size());
    feed(saver, cut);
    CHECK_THROWS_AS(saver.finish("out.bin", false), VerifyError);
  }
  SECTION("more bytes than the signed size") {
    AttachmentSaver saver(s.dir, key, blob.hash(), good.size() - 1);
    CHECK_THROWS_AS(feed(saver, good), VerifyError);
  }
  SECTION("another key") {
    AttachmentSaver saver(s.dir, crypto::ContentKey::random(), blob.hash(), good.size());
    CHECK_THROWS_AS(feed(saver, good), VerifyError);
  }
  CHECK_FALSE(fs::exists(s.dir / "out.bin"));
  for (const auto& e : fs::directory_iterator(s.dir)) {
    CHECK(e.path().filename().string().rfind(".focal-download-", 0) != 0);  // temp files removed
  }
}

TEST_CASE("A saved attachment never replaces an existing file unless asked to", "[client][attachment]") {
  Scratch s;
  const auto key = crypto::ContentKey::random();
  const auto plain = s.dir / "in.bin";
  std::ofstream(plain, std::ios::binary) << "new content";
  auto blob = SpooledBlob::encrypt(plain, key, s.dir);
  const auto bytes = blobBytes(blob);
  std::ofstream(s.dir / "report.txt") << "old";
  {
    AttachmentSaver saver(s.dir, key, blob.hash(), blob.size());
    feed(saver, bytes);
    CHECK_THROWS_AS(saver.finish("report.txt", false), std::runtime_error);
  }
  CHECK(slurp(s.dir / "report.txt") == "old");
  AttachmentSaver saver(s.dir, key, blob.hash(), blob.size());
  feed(saver, bytes);
  saver.finish("report.txt", true);
  CHECK(slurp(s.dir / "report.txt") == "new content");
}

TEST_CASE("Attachment names from the wire are reduced to a plain file name", "[client][attachment]") {
  CHECK(sanitizeFileName("report.pdf", "x") == "report.pdf");
  CHECK(sanitizeFileName("../../etc/passwd", "x") == "passwd");
  CHECK(sanitizeFileName("/abs/path/file.txt", "x") == "file.txt");
  CHECK(sanitizeFileName("..\\..\\windows\\evil.dll", "x") == "evil.dll");
  CHECK(sanitizeFileName("..", "fallback") == "fallback");
  CHECK(sanitizeFileName(".", "fallback") == "fallback");
  CHECK(sanitizeFileName("", "fallback") == "fallback");
  CHECK(sanitizeFileName("dir/", "fallback") == "fallback");
  CHECK(sanitizeFileName(".bashrc", "x") == "bashrc");
  CHECK(sanitizeFileName(std::string("a\nb\x01" "c.txt"), "x") == "abc.txt");
  const auto longName = sanitizeFileName(std::string(500, 'a') + ".csv", "x");
  CHECK(longName.size() <= 200);
  CHECK(longName.substr(longName.size() - 4) == ".csv");
  for (const char* evil : {"../x", "a/../../b", "/", "....//", "x/.."}) {
    const auto n = sanitizeFileName(evil, "fallback");
    CHECK(n.find('/') == std::string::npos);
    CHECK(n != "..");
    CHECK(n != ".");
  }
}

TEST_CASE("The final chunk is always shorter than a full chunk: writer and reader agree with the spec",
          "[client][attachment]") {
  Scratch s;
  const auto key = crypto::ContentKey::random();
  constexpr std::size_t C = crypto::AttachmentChunkPlainBytes;
  // The writer: whole chunks are followed by an empty final chunk.
  for (std::size_t k : {std::size_t{1}, std::size_t{2}}) {
    const auto plain = s.dir / "whole.bin";
    std::ofstream(plain, std::ios::binary) << randomText(k * C, static_cast<unsigned>(k));
    auto blob = SpooledBlob::encrypt(plain, key, s.dir / "spool");
    CHECK(blob.size() == crypto::StreamHeaderBytes + k * C + (k + 1) * crypto::StreamChunkOverhead);
  }
  // The reader: the other layout, the final tag on the last full chunk, is
  // refused (24 + C + 17 bytes for C bytes of plaintext).
  crypto::Bytes plain(C, 0x5a);
  crypto::StreamEncryptor enc(key);
  crypto::Bytes blob(enc.header().begin(), enc.header().end());
  const auto c = enc.push(plain, true);
  blob.insert(blob.end(), c.begin(), c.end());
  REQUIRE(blob.size() == crypto::StreamHeaderBytes + C + crypto::StreamChunkOverhead);
  AttachmentSaver saver(s.dir, key, crypto::hash256(blob), blob.size());
  CHECK_THROWS_AS(
      [&] {
        feed(saver, blob);
        (void)saver.finish("out.bin", true);
      }(),
      VerifyError);
  CHECK_FALSE(fs::exists(s.dir / "out.bin"));
}

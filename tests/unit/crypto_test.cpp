// Unit tests for crypto/primitives and crypto/types: every verify/open is fed
// good, empty, truncated, tampered, reordered and wrong-key input.
#include "crypto/primitives.hpp"

#include <catch2/catch.hpp>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

using namespace focal::crypto;

namespace {

void init() { initialize(); }

Bytes bytesOf(std::string_view s) {
  auto v = asBytes(s);
  return Bytes(v.begin(), v.end());
}

Bytes patterned(std::size_t n, std::uint8_t seed = 1) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 31);
  return b;
}

constexpr std::string_view Ctx = "focal/v1/test";

// `r` is the failure `expected`.
template <class T>
void checkFails(const focal::Expected<T, CryptoError>& r, CryptoError expected) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == expected);
}

// `rebuilt` is the key pair `kp`: the same public and secret key.
template <class KeyPair>
void checkSamePair(const KeyPair& rebuilt, const KeyPair& kp) {
  CHECK(rebuilt.publicKey == kp.publicKey);
  CHECK(rebuilt.secretKey.equals(kp.secretKey));
}

// A fresh key pair, a message of n patterned bytes, and its signature under Ctx.
struct SignedSample {
  SigningKeyPair kp;
  Bytes msg;
  Signature sig;
};

SignedSample signedSample(std::size_t n) {
  init();
  auto kp = SigningKeyPair::generate();
  Bytes msg = patterned(n);
  const Signature sig = sign(Ctx, msg, kp.secretKey);
  return SignedSample{std::move(kp), std::move(msg), sig};
}

}  // namespace

// ---- signing ---------------------------------------------------------------------

TEST_CASE("A signature verifies under the same key, context and message", "[crypto][sign]") {
  const auto [kp, msg, sig] = signedSample(1024);
  CHECK(verify(Ctx, msg, sig, kp.publicKey));
  // Ed25519 is deterministic: same inputs, same signature.
  CHECK(sign(Ctx, msg, kp.secretKey) == sig);
}

TEST_CASE("The signed bytes are exactly context, a zero byte, then the message", "[crypto][sign]") {
  init();
  const auto kp = SigningKeyPair::generate();
  // One message below and one above the internal stack buffer size.
  for (std::size_t n : {std::size_t{0}, std::size_t{100}, std::size_t{10000}}) {
    const Bytes msg = patterned(n);
    const Signature sig = sign(Ctx, msg, kp.secretKey);
    Bytes signedBytes = bytesOf(Ctx);
    signedBytes.push_back(0);
    signedBytes.insert(signedBytes.end(), msg.begin(), msg.end());
    CHECK(crypto_sign_verify_detached(sig.data(), signedBytes.data(), signedBytes.size(),
                                      kp.publicKey.data()) == 0);
    CHECK(verify(Ctx, msg, sig, kp.publicKey));
  }
}

TEST_CASE("Verification fails when any byte of the message is altered", "[crypto][sign]") {
  const auto [kp, msg, sig] = signedSample(64);
  for (std::size_t i = 0; i < msg.size(); ++i) {
    Bytes m = msg;
    m[i] ^= 0x01;
    CHECK_FALSE(verify(Ctx, m, sig, kp.publicKey));
  }
}

TEST_CASE("Verification fails when any byte of the signature is altered", "[crypto][sign]") {
  const auto [kp, msg, sig] = signedSample(200);
  for (std::size_t i = 0; i < Signature::size; ++i) {
    Signature s = sig;
    s.bytes[i] ^= 0x80;
    CHECK_FALSE(verify(Ctx, msg, s, kp.publicKey));
  }
  CHECK_FALSE(verify(Ctx, msg, Signature{}, kp.publicKey));
}

TEST_CASE("Verification fails under another signer's key or an all-zero key", "[crypto][sign]") {
  init();
  const auto alice = SigningKeyPair::generate();
  const auto bob = SigningKeyPair::generate();
  const Bytes msg = patterned(32);
  const Signature sig = sign(Ctx, msg, alice.secretKey);
  CHECK_FALSE(verify(Ctx, msg, sig, bob.publicKey));
  CHECK_FALSE(verify(Ctx, msg, sig, SigningPublicKey{}));
}

TEST_CASE("A signature made for one context does not verify under another", "[crypto][sign]") {
  init();
  const auto kp = SigningKeyPair::generate();
  const Bytes msg = bytesOf("bulletin");
  const Signature sig = sign("focal/v1/auth", msg, kp.secretKey);
  CHECK(verify("focal/v1/auth", msg, sig, kp.publicKey));
  CHECK_FALSE(verify("focal/v1/ack", msg, sig, kp.publicKey));
  CHECK_FALSE(verify("", msg, sig, kp.publicKey));
  // The separator prevents shifting bytes between context and message:
  // ("ab", "c") and ("a", "bc") are different signed strings.
  const Signature s2 = sign("ab", bytesOf("c"), kp.secretKey);
  CHECK_FALSE(verify("a", bytesOf("bc"), s2, kp.publicKey));
  CHECK_FALSE(verify("abc", {}, s2, kp.publicKey));
}

TEST_CASE("Truncated, extended and empty messages do not verify in each other's place",
          "[crypto][sign]") {
  const auto [kp, msg, sig] = signedSample(100);
  CHECK_FALSE(verify(Ctx, ByteView(msg).first(99), sig, kp.publicKey));
  CHECK_FALSE(verify(Ctx, ByteView(msg).first(0), sig, kp.publicKey));
  Bytes longer = msg;
  longer.push_back(0);
  CHECK_FALSE(verify(Ctx, longer, sig, kp.publicKey));

  const Signature empty = sign(Ctx, {}, kp.secretKey);
  CHECK(verify(Ctx, {}, empty, kp.publicKey));
  CHECK_FALSE(verify(Ctx, Bytes{0}, empty, kp.publicKey));
}

TEST_CASE("A context containing NUL is refused by sign and verify", "[crypto][sign]") {
  init();
  const auto kp = SigningKeyPair::generate();
  const std::string_view bad("focal\0x", 7);
  CHECK_THROWS_AS(sign(bad, {}, kp.secretKey), std::invalid_argument);
  // Even a signature over the same bytes must not pass through a NUL context.
  const Signature sig = sign("focal", bytesOf("x"), kp.secretKey);
  CHECK_FALSE(verify(bad, {}, sig, kp.publicKey));
}

TEST_CASE("SigningKeyPair::fromSecret rebuilds the key pair from the seed alone", "[crypto][sign]") {
  init();
  const auto kp = SigningKeyPair::generate();
  checkSamePair(SigningKeyPair::fromSecret(kp.secretKey.clone()), kp);
  // A secret key whose public half is wrong is repaired from the seed.
  SigningSecretKey broken = kp.secretKey.clone();
  std::memset(broken.data() + 32, 0xAB, 32);
  checkSamePair(SigningKeyPair::fromSecret(std::move(broken)), kp);
}

// ---- key wrapping -----------------------------------------------------------------

TEST_CASE("A wrapped content key unwraps with the recipient's key pair", "[crypto][wrap]") {
  init();
  const auto bob = BoxKeyPair::generate();
  const auto key = ContentKey::random();
  const WrappedKey w = wrapKey(key, bob.publicKey);
  auto k = unwrapKey(w, bob);
  REQUIRE(k.ok());
  CHECK(k->equals(key));
  // Sealed boxes are randomised: two wraps of the same key differ.
  CHECK_FALSE(wrapKey(key, bob.publicKey) == w);
}

TEST_CASE("Unwrapping with another recipient's key pair fails", "[crypto][wrap]") {
  init();
  const auto bob = BoxKeyPair::generate();
  const auto eve = BoxKeyPair::generate();
  const WrappedKey w = wrapKey(ContentKey::random(), bob.publicKey);
  checkFails(unwrapKey(w, eve), CryptoError::DecryptFailed);
}

TEST_CASE("Any altered byte of a wrapped key makes unwrapping fail", "[crypto][wrap]") {
  init();
  const auto bob = BoxKeyPair::generate();
  const WrappedKey w = wrapKey(ContentKey::random(), bob.publicKey);
  for (std::size_t i = 0; i < WrappedKey::size; ++i) {
    WrappedKey t = w;
    t.bytes[i] ^= 0x04;
    checkFails(unwrapKey(t, bob), CryptoError::DecryptFailed);
  }
}

TEST_CASE("Wrapping to a low-order encryption key is refused", "[crypto][wrap]") {
  init();
  const auto key = ContentKey::random();
  CHECK_THROWS_AS(wrapKey(key, BoxPublicKey{}), std::invalid_argument);
  BoxPublicKey one{};
  one.bytes[0] = 1;  // u = 1, a point of order 4
  CHECK_THROWS_AS(wrapKey(key, one), std::invalid_argument);
}

TEST_CASE("BoxKeyPair::fromSecret recomputes the public key", "[crypto][wrap]") {
  init();
  const auto kp = BoxKeyPair::generate();
  const auto again = BoxKeyPair::fromSecret(kp.secretKey.clone());
  checkSamePair(again, kp);
  auto k = unwrapKey(wrapKey(ContentKey::random(), kp.publicKey), again);
  CHECK(k.ok());
}

// ---- hashing ------------------------------------------------------------------------

TEST_CASE("hash256 with a context is BLAKE2b-256 of context, zero byte and data",
          "[crypto][hash]") {
  init();
  const Bytes data = patterned(300);
  Bytes joined = bytesOf(Ctx);
  joined.push_back(0);
  joined.insert(joined.end(), data.begin(), data.end());
  Hash256 expected;
  crypto_generichash(expected.data(), 32, joined.data(), joined.size(), nullptr, 0);
  CHECK(hash256(Ctx, data) == expected);
  CHECK(hash256(joined) == expected);
  CHECK_FALSE(hash256(data) == expected);
  CHECK_FALSE(hash256("focal/v1/other", data) == expected);
  CHECK_THROWS_AS(hash256(std::string_view("a\0b", 3), data), std::invalid_argument);
  // Known answer: BLAKE2b-256 of the empty string.
  CHECK(toHex(hash256(ByteView{})) ==
        "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
}

TEST_CASE("The incremental hasher equals one-shot hashing and finishes once", "[crypto][hash]") {
  init();
  const Bytes data = patterned(1000);
  Hasher h;
  h.update(ByteView(data).first(10));
  h.update(ByteView(data).subspan(10, 500));
  h.update({});
  h.update(ByteView(data).subspan(510));
  CHECK(h.finish() == hash256(data));
  CHECK_THROWS_AS(h.finish(), std::logic_error);
}

// ---- AEAD ---------------------------------------------------------------------------

TEST_CASE("AEAD round trips, including an empty plaintext", "[crypto][aead]") {
  init();
  const auto key = ContentKey::random();
  const auto nonce = randomFixed<AeadNonce>();
  const Bytes ad = bytesOf("header bytes");
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{1024}, std::size_t{70000}}) {
    const Bytes pt = patterned(n);
    const Bytes ct = aeadEncrypt(key, nonce, pt, ad);
    REQUIRE(ct.size() == n + crypto_aead_xchacha20poly1305_ietf_ABYTES);
    auto back = aeadDecrypt(key, nonce, ct, ad);
    REQUIRE(back.ok());
    CHECK(*back == pt);
  }
}

TEST_CASE("AEAD rejects altered ciphertext, wrong AD, wrong nonce and wrong key",
          "[crypto][aead]") {
  init();
  const auto key = ContentKey::random();
  const auto nonce = randomFixed<AeadNonce>();
  const Bytes ad = bytesOf("header");
  const Bytes ct = aeadEncrypt(key, nonce, patterned(50), ad);

  for (std::size_t i = 0; i < ct.size(); ++i) {
    Bytes t = ct;
    t[i] ^= 0x01;
    checkFails(aeadDecrypt(key, nonce, t, ad), CryptoError::DecryptFailed);
  }
  CHECK_FALSE(aeadDecrypt(key, nonce, ct, bytesOf("headeR")).ok());
  CHECK_FALSE(aeadDecrypt(key, nonce, ct, {}).ok());
  AeadNonce other = nonce;
  other.bytes[23] ^= 1;
  CHECK_FALSE(aeadDecrypt(key, other, ct, ad).ok());
  CHECK_FALSE(aeadDecrypt(ContentKey::random(), nonce, ct, ad).ok());
}

TEST_CASE("AEAD rejects truncated ciphertext, shorter than the tag is BadLength",
          "[crypto][aead]") {
  init();
  const auto key = ContentKey::random();
  const auto nonce = randomFixed<AeadNonce>();
  const Bytes ct = aeadEncrypt(key, nonce, patterned(40), {});
  checkFails(aeadDecrypt(key, nonce, ByteView(ct).first(ct.size() - 1), {}), CryptoError::DecryptFailed);
  checkFails(aeadDecrypt(key, nonce, ByteView(ct).first(16), {}), CryptoError::DecryptFailed);
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{15}}) {
    checkFails(aeadDecrypt(key, nonce, ByteView(ct).first(n), {}), CryptoError::BadLength);
  }
}

// ---- attachments ----------------------------------------------------------------------

TEST_CASE("Attachment keys are deterministic, distinct per index and per content key",
          "[crypto][attachment]") {
  init();
  const auto ck = ContentKey::random();
  const auto k0 = attachmentKey(ck, 0);
  const auto k1 = attachmentKey(ck, 1);
  CHECK(attachmentKey(ck, 0).equals(k0));
  CHECK_FALSE(k0.equals(k1));
  CHECK_FALSE(k0.equals(ck));
  CHECK_FALSE(attachmentKey(ck, 0xFFFFFFFFu).equals(k0));
  CHECK_FALSE(attachmentKey(ContentKey::random(), 0).equals(k0));
  // Specification: crypto_kdf with context "focalatt" and subkey id index + 1.
  ContentKey expected;
  crypto_kdf_derive_from_key(expected.data(), 32, 8, "focalatt", ck.data());
  CHECK(attachmentKey(ck, 7).equals(expected));
}

namespace {

struct EncryptedStream {
  std::array<std::uint8_t, StreamHeaderBytes> header;
  std::vector<Bytes> chunks;
};

EncryptedStream encryptStream(const ContentKey& key, const Bytes& data) {
  StreamEncryptor enc(key);
  EncryptedStream s{enc.header(), {}};
  std::size_t off = 0;
  do {
    const std::size_t n = std::min(AttachmentChunkPlainBytes, data.size() - off);
    const bool last = off + n == data.size();
    s.chunks.push_back(enc.push(ByteView(data).subspan(off, n), last));
    off += n;
  } while (off < data.size());
  return s;
}

}  // namespace

TEST_CASE("A multi-chunk attachment stream decrypts to the original", "[crypto][stream]") {
  init();
  const auto key = attachmentKey(ContentKey::random(), 0);
  const Bytes data = patterned(2 * AttachmentChunkPlainBytes + 1234);
  const auto s = encryptStream(key, data);
  REQUIRE(s.chunks.size() == 3);
  CHECK(s.chunks[0].size() == AttachmentChunkPlainBytes + StreamChunkOverhead);

  auto dec = StreamDecryptor::start(key, s.header);
  REQUIRE(dec.ok());
  Bytes out;
  for (std::size_t i = 0; i < s.chunks.size(); ++i) {
    bool final = true;
    auto p = dec->pull(s.chunks[i], final);
    REQUIRE(p.ok());
    CHECK(final == (i + 1 == s.chunks.size()));
    out.insert(out.end(), p->begin(), p->end());
  }
  CHECK(out == data);
}

TEST_CASE("An empty attachment is a single final chunk", "[crypto][stream]") {
  init();
  const auto key = ContentKey::random();
  const auto s = encryptStream(key, {});
  REQUIRE(s.chunks.size() == 1);
  auto dec = StreamDecryptor::start(key, s.header);
  REQUIRE(dec.ok());
  bool final = false;
  auto p = dec->pull(s.chunks[0], final);
  REQUIRE(p.ok());
  CHECK(p->empty());
  CHECK(final);
}

TEST_CASE("A stream missing its final chunk never reports final", "[crypto][stream]") {
  init();
  const auto key = ContentKey::random();
  const auto s = encryptStream(key, patterned(AttachmentChunkPlainBytes * 2 + 5));
  auto dec = StreamDecryptor::start(key, s.header);
  REQUIRE(dec.ok());
  for (std::size_t i = 0; i + 1 < s.chunks.size(); ++i) {
    bool final = true;
    REQUIRE(dec->pull(s.chunks[i], final).ok());
    CHECK_FALSE(final);
  }
  // The caller reaches end of input here without `final`: StreamTruncated.
}

TEST_CASE("Reordered, dropped or replayed stream chunks fail", "[crypto][stream]") {
  init();
  const auto key = ContentKey::random();
  const auto s = encryptStream(key, patterned(AttachmentChunkPlainBytes * 2 + 5));
  bool final = false;
  {
    auto dec = StreamDecryptor::start(key, s.header);
    REQUIRE(dec.ok());
    auto r = dec->pull(s.chunks[1], final);  // chunk 1 first
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == CryptoError::DecryptFailed);
  }
  {
    auto dec = StreamDecryptor::start(key, s.header);
    REQUIRE(dec.ok());
    REQUIRE(dec->pull(s.chunks[0], final).ok());
    CHECK_FALSE(dec->pull(s.chunks[0], final).ok());  // replay
  }
  {
    auto dec = StreamDecryptor::start(key, s.header);
    REQUIRE(dec.ok());
    REQUIRE(dec->pull(s.chunks[0], final).ok());
    CHECK_FALSE(dec->pull(s.chunks[2], final).ok());  // chunk 1 dropped
    CHECK_FALSE(final);
  }
}

TEST_CASE("A tampered chunk, header or key fails and the stream stays failed",
          "[crypto][stream]") {
  init();
  const auto key = ContentKey::random();
  const auto s = encryptStream(key, patterned(AttachmentChunkPlainBytes + 100));
  bool final = false;
  {
    auto dec = StreamDecryptor::start(key, s.header);
    REQUIRE(dec.ok());
    Bytes t = s.chunks[0];
    t[t.size() / 2] ^= 0x10;
    CHECK_FALSE(dec->pull(t, final).ok());
    // The genuine chunk is not accepted after a failure either.
    CHECK_FALSE(dec->pull(s.chunks[0], final).ok());
  }
  {
    auto h = s.header;
    h[0] ^= 1;
    auto dec = StreamDecryptor::start(key, h);
    REQUIRE(dec.ok());  // a header is only checked by the first chunk's tag
    CHECK_FALSE(dec->pull(s.chunks[0], final).ok());
  }
  {
    auto dec = StreamDecryptor::start(ContentKey::random(), s.header);
    REQUIRE(dec.ok());
    CHECK_FALSE(dec->pull(s.chunks[0], final).ok());
  }
}

TEST_CASE("Bad lengths and pulls after the final chunk are errors", "[crypto][stream]") {
  init();
  const auto key = ContentKey::random();
  const auto s = encryptStream(key, patterned(10));
  REQUIRE(s.chunks.size() == 1);

  checkFails(StreamDecryptor::start(key, ByteView(s.header).first(23)), CryptoError::BadLength);

  bool final = false;
  {
    auto dec = StreamDecryptor::start(key, s.header);
    REQUIRE(dec.ok());
    checkFails(dec->pull(ByteView(s.chunks[0]).first(StreamChunkOverhead - 1), final), CryptoError::BadLength);
  }
  {
    auto dec = StreamDecryptor::start(key, s.header);
    REQUIRE(dec.ok());
    const Bytes huge(AttachmentChunkPlainBytes + StreamChunkOverhead + 1);
    checkFails(dec->pull(huge, final), CryptoError::BadLength);
  }
  {
    // A key holder appends a correctly encrypted chunk after the final one
    // (Focal's encryptor refuses to; raw libsodium does not).
    crypto_secretstream_xchacha20poly1305_state st;
    std::array<std::uint8_t, StreamHeaderBytes> header;
    crypto_secretstream_xchacha20poly1305_init_push(&st, header.data(), key.data());
    Bytes last(StreamChunkOverhead + 1), extra(StreamChunkOverhead + 1);
    const std::uint8_t m = 'x';
    crypto_secretstream_xchacha20poly1305_push(&st, last.data(), nullptr, &m, 1, nullptr, 0,
                                               crypto_secretstream_xchacha20poly1305_TAG_FINAL);
    crypto_secretstream_xchacha20poly1305_push(&st, extra.data(), nullptr, &m, 1, nullptr, 0,
                                               crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
    auto dec = StreamDecryptor::start(key, header);
    REQUIRE(dec.ok());
    REQUIRE(dec->pull(last, final).ok());
    REQUIRE(final);
    checkFails(dec->pull(extra, final), CryptoError::DecryptFailed);
    CHECK_FALSE(final);
  }
}

TEST_CASE("Chunks carrying tags Focal never writes are rejected", "[crypto][stream]") {
  init();
  const auto key = ContentKey::random();
  for (std::uint8_t tag : {crypto_secretstream_xchacha20poly1305_TAG_PUSH,
                           crypto_secretstream_xchacha20poly1305_TAG_REKEY}) {
    crypto_secretstream_xchacha20poly1305_state st;
    std::array<std::uint8_t, StreamHeaderBytes> header;
    crypto_secretstream_xchacha20poly1305_init_push(&st, header.data(), key.data());
    Bytes chunk(StreamChunkOverhead + 3);
    const std::uint8_t m[3] = {1, 2, 3};
    crypto_secretstream_xchacha20poly1305_push(&st, chunk.data(), nullptr, m, 3, nullptr, 0, tag);
    auto dec = StreamDecryptor::start(key, header);
    REQUIRE(dec.ok());
    bool final = true;
    checkFails(dec->pull(chunk, final), CryptoError::DecryptFailed);
    CHECK_FALSE(final);
  }
}

TEST_CASE("The encryptor refuses oversized chunks and pushes after the final one",
          "[crypto][stream]") {
  init();
  StreamEncryptor enc(ContentKey::random());
  const Bytes big(AttachmentChunkPlainBytes + 1);
  CHECK_THROWS_AS(enc.push(big, false), std::length_error);
  (void)enc.push(patterned(3), true);
  CHECK_THROWS_AS(enc.push(patterned(3), false), std::logic_error);
}

// ---- passwords -------------------------------------------------------------------------

TEST_CASE("deriveFileKey depends on passphrase, salt and parameters", "[crypto][kdf]") {
  init();
  // Smallest legal parameters keep the test fast; strength is not under test.
  const KdfParams p{crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
  const auto salt = randomFixed<Salt>();
  const auto k = deriveFileKey("correct horse", salt, p);
  CHECK(deriveFileKey("correct horse", salt, p).equals(k));
  CHECK_FALSE(deriveFileKey("correct horsf", salt, p).equals(k));
  CHECK_FALSE(deriveFileKey("correct horse", randomFixed<Salt>(), p).equals(k));
  CHECK_FALSE(deriveFileKey("correct horse", salt, {p.opsLimit + 1, p.memLimit}).equals(k));
  CHECK_FALSE(deriveFileKey("", salt, p).equals(k));
  CHECK_THROWS_AS(deriveFileKey("x", salt, {0, p.memLimit}), std::runtime_error);

  CHECK(KdfParams::of(KdfStrength::Interactive).memLimit == crypto_pwhash_MEMLIMIT_INTERACTIVE);
  CHECK(KdfParams::of(KdfStrength::Moderate).opsLimit == crypto_pwhash_OPSLIMIT_MODERATE);
  CHECK(KdfParams::of(KdfStrength::Sensitive).memLimit == crypto_pwhash_MEMLIMIT_SENSITIVE);
}

// ---- value types and encodings -----------------------------------------------------------

TEST_CASE("A moved-from Secret is invalid and equals compares contents", "[crypto][secret]") {
  init();
  auto a = ContentKey::random();
  const auto copy = a.clone();
  CHECK(copy.equals(a));
  CHECK(copy.data() != a.data());  // clone is a separate allocation

  const std::uint8_t* p = a.data();
  ContentKey b = std::move(a);
  CHECK_FALSE(a.valid());
  CHECK(b.valid());
  CHECK(b.data() == p);  // moved, not copied
  CHECK(b.equals(copy));

  ContentKey c;
  c = std::move(b);
  CHECK_FALSE(b.valid());
  CHECK(c.equals(copy));
  CHECK_FALSE(c.equals(ContentKey{}));
  CHECK(ContentKey{}.equals(ContentKey{}));  // fresh secrets are zeroed

  CHECK_FALSE(ContentKey::fromBytes(patterned(31)).has_value());
  auto fromB = ContentKey::fromBytes(patterned(32));
  REQUIRE(fromB.has_value());
  CHECK(Bytes(fromB->view().begin(), fromB->view().end()) == patterned(32));
}

TEST_CASE("Fixed values parse only from their exact length", "[crypto][types]") {
  CHECK_FALSE(Signature::fromBytes(patterned(63)).has_value());
  CHECK_FALSE(Signature::fromBytes(patterned(65)).has_value());
  auto s = Signature::fromBytes(patterned(64));
  REQUIRE(s.has_value());
  CHECK(Bytes(s->bytes.begin(), s->bytes.end()) == patterned(64));
  CHECK_FALSE(*s == *Signature::fromBytes(patterned(64, 2)));
}

TEST_CASE("Hex is lowercase and strictly parsed", "[crypto][encoding]") {
  init();
  const Bytes b{0x00, 0x01, 0xab, 0xff};
  CHECK(toHex(b) == "0001abff");
  CHECK(toHex(ByteView{}).empty());
  CHECK(fromHex("0001abff") == b);
  CHECK(fromHex("") == Bytes{});
  CHECK_FALSE(fromHex("0001ABFF").has_value());
  CHECK_FALSE(fromHex("0001abf").has_value());
  CHECK_FALSE(fromHex("0001abfg").has_value());
  CHECK_FALSE(fromHex("00 01").has_value());
  CHECK_FALSE(fromHex("0001abff\n").has_value());
}

TEST_CASE("Base64 is the padded standard alphabet and strictly parsed", "[crypto][encoding]") {
  init();
  CHECK(toBase64(bytesOf("f")) == "Zg==");
  CHECK(toBase64(bytesOf("foobar")) == "Zm9vYmFy");
  CHECK(toBase64(Bytes{0xfb, 0xff}) == "+/8=");
  CHECK(toBase64(ByteView{}).empty());
  CHECK(fromBase64("Zm9vYg==") == bytesOf("foob"));
  CHECK(fromBase64("") == Bytes{});
  const Bytes r = patterned(77);
  CHECK(fromBase64(toBase64(r)) == r);

  CHECK_FALSE(fromBase64("Zm9vYg").has_value());      // padding missing
  CHECK_FALSE(fromBase64("Zm9vYg==x").has_value());   // trailing garbage
  CHECK_FALSE(fromBase64("Zm9vYg==\n").has_value());  // trailing newline
  CHECK_FALSE(fromBase64(" Zm9vYg==").has_value());
  CHECK_FALSE(fromBase64("Zm9v Yg==").has_value());
  CHECK_FALSE(fromBase64("Zm9vYg-_").has_value());    // URL-safe alphabet
  CHECK_FALSE(fromBase64("Zh==").has_value());        // non-zero unused bits
  CHECK_FALSE(fromBase64("Zg=").has_value());
  CHECK_FALSE(fromBase64("====").has_value());
}

TEST_CASE("disableCoreDumps zeroes RLIMIT_CORE and makes the process non-dumpable",
          "[crypto][process]") {
  init();
  // In a child, so the test runner itself stays debuggable.
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int code = 0;
    try {
      disableCoreDumps();
      rlimit rl{};
      if (::getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0 || rl.rlim_max != 0) code |= 1;
      if (::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) code |= 2;
    } catch (...) {
      code |= 4;
    }
    ::_exit(code);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("Every crypto error has a description", "[crypto]") {
  for (auto e : {CryptoError::BadSignature, CryptoError::DecryptFailed, CryptoError::BadLength,
                 CryptoError::HashMismatch, CryptoError::StreamTruncated}) {
    CHECK(std::string(describe(e)).size() > 10);
  }
  CHECK(std::string(describe(CryptoError::StreamTruncated)) !=
        std::string(describe(CryptoError::DecryptFailed)));
}

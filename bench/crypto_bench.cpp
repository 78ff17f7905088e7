// focal-crypto-bench: what Focal's crypto wrappers (and frame decoder) cost over bare
// libsodium (and bare Cap'n Proto).
//
// Single-threaded. Each item runs the Focal version and the raw libsodium
// version of the same work for a fixed time budget each (default 1 s), in
// interleaved slices so that frequency scaling and neighbours on a shared
// machine affect both sides alike. Prints ops/s for both and the overhead of
// the wrapper: (raw ops/s / focal ops/s - 1) x 100.
//
// Figures for the notes, never timed assertions.
//
//   focal-crypto-bench [--seconds S] [--json]
#include "crypto/primitives.hpp"
#include "protocol/focal.capnp.h"
#include "protocol/message.hpp"
#include "protocol/signing.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace focal::crypto;
using Clock = std::chrono::steady_clock;

constexpr std::size_t MessageBytes = 1024;
constexpr int Slices = 10;  // interleaved slices per side

// Results flow into this so the optimiser cannot drop the work.
volatile std::uint8_t sink = 0;

struct Result {
  std::string item;
  double focalOps;
  double rawOps;
  double overheadPct() const { return (rawOps / focalOps - 1.0) * 100.0; }
};

struct Side {
  std::function<void()> op;
  std::uint64_t count = 0;
  double seconds = 0;
  std::uint64_t batch = 1;

  // Runs op for about `budget` seconds, in batches sized so that reading the
  // clock costs well under 1% of the time.
  void run(double budget) {
    const auto start = Clock::now();
    for (;;) {
      const auto t0 = Clock::now();
      for (std::uint64_t i = 0; i < batch; ++i) op();
      const auto t1 = Clock::now();
      count += batch;
      if (std::chrono::duration<double>(t1 - t0).count() < 200e-6) batch *= 2;
      if (std::chrono::duration<double>(t1 - start).count() >= budget) {
        seconds += std::chrono::duration<double>(t1 - start).count();
        return;
      }
    }
  }
};

Result measure(std::string item, double budget, std::function<void()> focal,
               std::function<void()> raw) {
  Side f{std::move(focal)};
  Side r{std::move(raw)};
  // Warm-up (caches, page faults, batch sizing); not counted.
  f.run(budget / Slices / 2);
  r.run(budget / Slices / 2);
  f.count = r.count = 0;
  f.seconds = r.seconds = 0;
  for (int s = 0; s < Slices; ++s) {
    f.run(budget / Slices);
    r.run(budget / Slices);
  }
  return {std::move(item), f.count / f.seconds, r.count / r.seconds};
}

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "focal-crypto-bench: self-check failed: %s\n", what);
    std::exit(2);
  }
}

Bytes patterned(std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 131 + 7);
  return b;
}

// ---- single primitives ---------------------------------------------------------------

void benchPrimitives(double budget, std::vector<Result>& out) {
  const auto ctx = focal::protocol::context::BulletinHeader;
  const Bytes msg = patterned(MessageBytes);
  const auto signer = SigningKeyPair::generate();
  const auto box = BoxKeyPair::generate();
  const auto ck = ContentKey::random();
  const auto nonce = randomFixed<AeadNonce>();
  const Bytes ad = patterned(16);

  out.push_back(measure(
      "sign 1 KiB", budget,
      [&] { sink = sink + sign(ctx, msg, signer.secretKey).bytes[0]; },
      [&] {
        std::uint8_t sig[crypto_sign_BYTES];
        crypto_sign_detached(sig, nullptr, msg.data(), msg.size(), signer.secretKey.data());
        sink = sink + sig[0];
      }));

  const Signature focalSig = sign(ctx, msg, signer.secretKey);
  std::uint8_t rawSig[crypto_sign_BYTES];
  crypto_sign_detached(rawSig, nullptr, msg.data(), msg.size(), signer.secretKey.data());
  require(verify(ctx, msg, focalSig, signer.publicKey), "verify");
  out.push_back(measure(
      "verify 1 KiB", budget,
      [&] { sink = sink + verify(ctx, msg, focalSig, signer.publicKey); },
      [&] {
        sink = sink + (crypto_sign_verify_detached(rawSig, msg.data(), msg.size(),
                                                   signer.publicKey.data()) == 0);
      }));

  out.push_back(measure(
      "wrap key (box_seal)", budget,
      [&] { sink = sink + wrapKey(ck, box.publicKey).bytes[0]; },
      [&] {
        std::uint8_t w[WrappedKeyBytes];
        crypto_box_seal(w, ck.data(), ContentKey::size, box.publicKey.data());
        sink = sink + w[0];
      }));

  const WrappedKey wrapped = wrapKey(ck, box.publicKey);
  require(unwrapKey(wrapped, box).ok(), "unwrap");
  out.push_back(measure(
      "unwrap key (box_seal_open)", budget,
      [&] {
        auto k = unwrapKey(wrapped, box);
        sink = sink + k->data()[0];
      },
      [&] {
        std::uint8_t k[32];
        const int rc = crypto_box_seal_open(k, wrapped.data(), WrappedKeyBytes,
                                            box.publicKey.data(), box.secretKey.data());
        sink = sink + k[0] + rc;
        sodium_memzero(k, sizeof k);
      }));

  Bytes ct(MessageBytes + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  out.push_back(measure(
      "AEAD encrypt 1 KiB", budget,
      [&] { sink = sink + aeadEncrypt(ck, nonce, msg, ad)[0]; },
      [&] {
        unsigned long long n = 0;
        crypto_aead_xchacha20poly1305_ietf_encrypt(ct.data(), &n, msg.data(), msg.size(),
                                                   ad.data(), ad.size(), nullptr, nonce.data(),
                                                   ck.data());
        sink = sink + ct[0];
      }));
}

// ---- a whole bulletin ------------------------------------------------------------------
// Seal: random content key, encrypt 1 KiB, hash the ciphertext, wrap the key
// for N recipients, sign a header of 200 + 100 N bytes holding the hash and
// the wrapped keys. Open (as one recipient): verify the header, unwrap its own
// key, check the ciphertext hash, decrypt.

struct Bulletin {
  Bytes header;  // 200 + 100 N bytes: hash(32) | nonce(24) | ... | N x (80 wrapped + 20)
  Signature sig;
  Bytes ciphertext;
};

constexpr std::size_t OffHash = 0, OffNonce = 32, OffRecipients = 200, RecipientBytes = 100;

void benchBulletin(double budget, std::size_t n, std::vector<Result>& out) {
  const auto ctx = focal::protocol::context::BulletinHeader;
  const Bytes content = patterned(MessageBytes);
  const Bytes ad = patterned(16);  // stands for the bulletin id
  const auto sender = SigningKeyPair::generate();
  std::vector<BoxKeyPair> recipients;
  for (std::size_t i = 0; i < n; ++i) recipients.push_back(BoxKeyPair::generate());
  const std::size_t headerBytes = OffRecipients + RecipientBytes * n;

  // Focal: only focal::crypto calls; allocates what the API returns.
  auto focalSeal = [&] {
    Bulletin b;
    b.header = patterned(headerBytes);
    const auto ck = ContentKey::random();
    const auto nonce = randomFixed<AeadNonce>();
    b.ciphertext = aeadEncrypt(ck, nonce, content, ad);
    const Hash256 h = hash256(b.ciphertext);
    std::memcpy(b.header.data() + OffHash, h.data(), Hash256::size);
    std::memcpy(b.header.data() + OffNonce, nonce.data(), AeadNonce::size);
    for (std::size_t i = 0; i < n; ++i) {
      const WrappedKey w = wrapKey(ck, recipients[i].publicKey);
      std::memcpy(b.header.data() + OffRecipients + i * RecipientBytes, w.data(), WrappedKeyBytes);
    }
    b.sig = sign(ctx, b.header, sender.secretKey);
    return b;
  };

  // Raw: the same libsodium calls into buffers allocated once, the header
  // already laid out behind its context prefix.
  Bytes rawSigned(ctx.size() + 1 + headerBytes);
  std::memcpy(rawSigned.data(), ctx.data(), ctx.size());
  rawSigned[ctx.size()] = 0;
  std::uint8_t* rawHeader = rawSigned.data() + ctx.size() + 1;
  {
    const Bytes filler = patterned(headerBytes);
    std::memcpy(rawHeader, filler.data(), headerBytes);
  }
  Bytes rawCt(content.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  std::uint8_t rawSig[crypto_sign_BYTES];
  auto rawSeal = [&] {
    std::uint8_t ck[32];
    std::uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    randombytes_buf(ck, sizeof ck);
    randombytes_buf(nonce, sizeof nonce);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(rawCt.data(), &clen, content.data(), content.size(),
                                               ad.data(), ad.size(), nullptr, nonce, ck);
    crypto_generichash(rawHeader + OffHash, 32, rawCt.data(), rawCt.size(), nullptr, 0);
    std::memcpy(rawHeader + OffNonce, nonce, sizeof nonce);
    for (std::size_t i = 0; i < n; ++i) {
      crypto_box_seal(rawHeader + OffRecipients + i * RecipientBytes, ck, sizeof ck,
                      recipients[i].publicKey.data());
    }
    crypto_sign_detached(rawSig, nullptr, rawSigned.data(), rawSigned.size(),
                         sender.secretKey.data());
    sodium_memzero(ck, sizeof ck);
  };

  const std::string to = std::to_string(n) + (n == 1 ? " recipient" : " recipients");
  out.push_back(measure(
      "seal 1 KiB bulletin to " + to, budget, [&] { sink = sink + focalSeal().sig.bytes[0]; },
      [&] {
        rawSeal();
        sink = sink + rawSig[0];
      }));

  // Open, as the last recipient.
  const Bulletin sealed = focalSeal();
  rawSeal();
  const BoxKeyPair& me = recipients[n - 1];
  const std::size_t myOff = OffRecipients + (n - 1) * RecipientBytes;

  auto focalOpen = [&]() -> bool {
    if (!verify(ctx, sealed.header, sealed.sig, sender.publicKey)) return false;
    const auto w = WrappedKey::fromBytes(ByteView(sealed.header).subspan(myOff, WrappedKeyBytes));
    auto ck = unwrapKey(*w, me);
    if (!ck) return false;
    const auto h = Hash256::fromBytes(ByteView(sealed.header).subspan(OffHash, Hash256::size));
    if (!(hash256(sealed.ciphertext) == *h)) return false;
    const auto nonce =
        AeadNonce::fromBytes(ByteView(sealed.header).subspan(OffNonce, AeadNonce::size));
    auto pt = aeadDecrypt(*ck, *nonce, sealed.ciphertext, ad);
    return pt.ok() && (*pt)[0] == content[0];
  };
  Bytes rawPt(content.size());
  auto rawOpen = [&]() -> bool {
    if (crypto_sign_verify_detached(rawSig, rawSigned.data(), rawSigned.size(),
                                    sender.publicKey.data()) != 0) {
      return false;
    }
    std::uint8_t ck[32];
    if (crypto_box_seal_open(ck, rawHeader + myOff, WrappedKeyBytes, me.publicKey.data(),
                             me.secretKey.data()) != 0) {
      return false;
    }
    std::uint8_t h[32];
    crypto_generichash(h, sizeof h, rawCt.data(), rawCt.size(), nullptr, 0);
    bool ok = sodium_memcmp(h, rawHeader + OffHash, sizeof h) == 0;
    unsigned long long plen = 0;
    ok = ok && crypto_aead_xchacha20poly1305_ietf_decrypt(rawPt.data(), &plen, nullptr,
                                                          rawCt.data(), rawCt.size(), ad.data(),
                                                          ad.size(), rawHeader + OffNonce, ck) == 0;
    sodium_memzero(ck, sizeof ck);
    return ok && rawPt[0] == content[0];
  };
  require(focalOpen(), "focal open");
  require(rawOpen(), "raw open");
  out.push_back(measure(
      "open 1 KiB bulletin sent to " + to, budget, [&] { sink = sink + focalOpen(); },
      [&] { sink = sink + rawOpen(); }));
}

// ---- frame decode --------------------------------------------------------------------
// A Send frame carrying a 1 KiB bulletin, decoded as the hub decodes every
// frame (protocol::decode: aligned copy, two checking passes with a one-pass
// traversal budget, the reader kept) beside a bare Cap'n Proto
// FlatArrayMessageReader over an aligned copy that reads the same fields.
// The difference is the price of the checks, not of Cap'n Proto.

void benchFrameDecode(double budget, std::vector<Result>& out) {
  namespace wire = focal::wire;
  capnp::MallocMessageBuilder m;
  auto frame = m.initRoot<wire::ClientFrame>();
  frame.setId(42);
  auto bulletin = frame.initSend().initBulletin();
  const Bytes header = patterned(420);
  const Bytes ciphertext = patterned(MessageBytes + 40);
  const Bytes signature = patterned(64);
  bulletin.setHeader(focal::protocol::kjBytes(header));
  bulletin.setSignature(focal::protocol::kjBytes(signature));
  bulletin.setCiphertext(focal::protocol::kjBytes(ciphertext));
  const Bytes bytes = focal::protocol::toBytes(m);

  auto focalDecode = [&]() -> std::size_t {
    auto parsed = focal::protocol::decode<wire::ClientFrame>(bytes);
    if (!parsed) return 0;
    return parsed->root().getSend().getBulletin().getCiphertext().size();
  };
  auto rawDecode = [&]() -> std::size_t {
    auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
    std::memcpy(words.begin(), bytes.data(), bytes.size());
    capnp::FlatArrayMessageReader reader(words.asPtr());
    return reader.getRoot<wire::ClientFrame>().getSend().getBulletin().getCiphertext().size();
  };
  require(focalDecode() == ciphertext.size(), "focal decode");
  require(rawDecode() == ciphertext.size(), "raw decode");
  out.push_back(measure(
      "decode Send frame (" + std::to_string(bytes.size()) + " B)", budget,
      [&] { sink = sink + static_cast<std::uint8_t>(focalDecode()); },
      [&] { sink = sink + static_cast<std::uint8_t>(rawDecode()); }));
}

void printTable(const std::vector<Result>& results, double budget) {
  std::printf("focal-crypto-bench: single thread, %.2f s per side per item, libsodium %s\n\n",
              budget, sodium_version_string());
  std::printf("%-40s %14s %14s %10s\n", "item", "focal ops/s", "raw ops/s", "overhead");
  std::printf("%-40s %14s %14s %10s\n", std::string(40, '-').c_str(), "-------------",
              "-------------", "--------");
  for (const auto& r : results) {
    std::printf("%-40s %14.0f %14.0f %+9.1f%%\n", r.item.c_str(), r.focalOps, r.rawOps,
                r.overheadPct());
  }
}

void printJson(const std::vector<Result>& results, double budget) {
  std::printf("{\"seconds\": %g, \"libsodium\": \"%s\", \"results\": [\n", budget,
              sodium_version_string());
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    std::printf("  {\"item\": \"%s\", \"focal_ops_per_s\": %.1f, \"raw_ops_per_s\": %.1f, "
                "\"overhead_pct\": %.2f}%s\n",
                r.item.c_str(), r.focalOps, r.rawOps, r.overheadPct(),
                i + 1 < results.size() ? "," : "");
  }
  std::printf("]}\n");
}

[[noreturn]] void usage(int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: focal-crypto-bench [--seconds S] [--json]\n"
               "  --seconds S  time budget per side per item (default 1, 0.01..600)\n"
               "  --json       machine-readable output\n");
  std::exit(code);
}

}  // namespace

int main(int argc, char** argv) {
  double budget = 1.0;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--seconds" && i + 1 < argc) {
      char* end = nullptr;
      budget = std::strtod(argv[++i], &end);
      if (end == argv[i] || *end != '\0' || !(budget >= 0.01 && budget <= 600)) usage(1);
    } else if (a == "--help" || a == "-h") {
      usage(0);
    } else {
      usage(1);
    }
  }

  initialize();
  std::vector<Result> results;
  benchPrimitives(budget, results);
  benchBulletin(budget, 1, results);
  benchBulletin(budget, 10, results);
  benchFrameDecode(budget, results);

  if (json) {
    printJson(results, budget);
  } else {
    printTable(results, budget);
  }
  return 0;
}

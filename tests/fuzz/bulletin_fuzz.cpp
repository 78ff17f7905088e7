// libFuzzer harness for opening bulletins: protocol::verifyHeader and
// protocol::openBulletin with a fixed recipient (fuzz_fixtures.hpp).
//
// Input layout:
//   byte 0        mode: even = relayed, odd = authentic sender (see below)
//   bytes 1..2    u16 big-endian header length H
//   H bytes       BulletinHeader bytes
//   64 bytes      signature (mode "relayed" only; zero-padded if short)
//   the rest      ciphertext (relayed) or Content plaintext (sender)
//
// Two attackers:
//  - relayed: a hostile hub hands the recipient arbitrary header, signature
//    and ciphertext bytes. Only seeds carry a valid signature, so mutations
//    mostly stop at the signature check; that is the point: nothing before
//    it may crash, and nothing after it may be reached without it.
//  - authentic sender: a registered member (or a stolen sender key) sends a
//    crafted bulletin. The harness plays that sender: it takes the fuzzed
//    header, points senderKey at the fixed sender, wraps a fresh content key
//    for our entry (if the header has one for our member id and one of our
//    keys), encrypts the fuzzed plaintext, fixes contentHash/contentSize,
//    signs, and opens. This reaches the content decoder and the attachment
//    cross-checks with attacker-chosen bytes.
//
// Properties (a violation aborts, which libFuzzer reports as a crash):
//  - relayed: openBulletin fails exactly when verifyHeader fails, with the
//    same error; a success implies the ciphertext matches the signed hash;
//  - sender: verifyHeader never says BadSignature (we signed), and when our
//    entry got a wrapped key, openBulletin either succeeds or says Malformed
//    (never HashMismatch/KeyUnwrapFailed/DecryptFailed: those would mean
//    a correct bulletin is refused);
//  - reading every field of an opened bulletin never throws.
#include "fuzz_fixtures.hpp"
#include "protocol/bulletin.hpp"
#include "protocol/signing.hpp"

#include <capnp/message.h>
#include <kj/exception.h>

#include <cstdio>
#include <cstdlib>

using namespace focal;
using namespace focal::protocol;

namespace {

struct Keys {
  crypto::MemberKeys sender = fuzz::fixedSender();
  crypto::MemberKeys me = fuzz::fixedRecipient();
};

const Keys& keys() {
  static const Keys* k = [] {
    crypto::initialize();
    return new Keys();
  }();
  return *k;
}

std::size_t sink = 0;
volatile std::size_t published = 0;

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "bulletin_fuzz: property violated: %s\n", what);
  std::abort();
}

void touchOpened(const OpenedBulletin& o) {
  try {
    auto c = o.content.root();
    sink += static_cast<std::size_t>(c.getCategory());
    sink += c.getTitle().size() + c.getBody().size() + c.getStixBundle().size();
    for (auto t : c.getAttackTechniques()) sink += t.size();
    for (auto a : c.getAttachments()) sink += a.getName().size() + a.getMediaType().size() + a.getPlainSize();
    auto h = o.header.root();
    sink += h.getCaseRef().size() + h.getHandlingText().size() + h.getAddresses().size();
  } catch (const kj::Exception& e) {
    std::fprintf(stderr, "%s\n", e.getDescription().cStr());
    broken("an opened bulletin throws when read");
  }
  published = sink;
}

void relayed(ByteView header, const crypto::Signature& sig, ByteView ciphertext) {
  const auto& k = keys();
  auto verified = verifyHeader(header, sig);
  auto opened = openBulletin(header, sig, ciphertext, k.sender.identity.publicKey, k.me);
  if (!verified.ok()) {
    if (opened.ok()) broken("openBulletin accepted what verifyHeader refused");
    if (opened.error() != verified.error()) broken("openBulletin and verifyHeader disagree on the error");
    return;
  }
  if (!opened.ok()) return;
  auto h = opened->header.root();
  if (ciphertext.size() != h.getContentSize() ||
      !(crypto::hash256(ciphertext) == *crypto::Hash256::fromBytes(view(h.getContentHash())))) {
    broken("opened a bulletin whose ciphertext does not match its signed hash");
  }
  touchOpened(*opened);
}

void authenticSender(ByteView headerIn, ByteView plaintext) {
  const auto& k = keys();
  auto parsed = decode<wire::BulletinHeader>(headerIn);
  if (!parsed.ok()) return;  // the relayed mode covers undecodable headers

  capnp::MallocMessageBuilder b;
  bool wrapped = false;
  Bytes ciphertext;
  try {
    b.setRoot(parsed->root());
    auto h = b.getRoot<wire::BulletinHeader>();
    h.setSenderKey(kjBytes(k.sender.identity.publicKey.view()));
    const auto content = crypto::ContentKey::random();
    // Our entry is the first one with our member id (openBulletin's rule).
    for (auto r : h.getRecipients()) {
      if (view(r.getMemberId().asReader()) != k.me.memberId) continue;
      const auto key = crypto::BoxPublicKey::fromBytes(view(r.getEncryptionKey().asReader()));
      const crypto::BoxKeyPair* ours = nullptr;
      if (key && *key == k.me.encryption.publicKey) ours = &k.me.encryption;
      for (const auto& p : k.me.previousEncryption) {
        if (key && ours == nullptr && *key == p.publicKey) ours = &p;
      }
      if (ours != nullptr) {
        r.setWrappedKey(kjBytes(crypto::wrapKey(content, ours->publicKey).view()));
        wrapped = true;
      }
      break;
    }
    const auto id = crypto::BulletinId::fromBytes(view(h.getBulletinId().asReader()));
    const auto nonce = crypto::AeadNonce::fromBytes(view(h.getContentNonce().asReader()));
    if (id && nonce) {
      // Seal v2: commit to the new key and use its AD (PROTOCOL.md §8.1);
      // a malformed hub id makes the header Malformed, refused above.
      const bool v2 = h.getSuite() == wire::CIPHER_SUITE_V2;
      if (v2) h.setKeyCommit(kjBytes(keyCommitment(content, *id, k.sender.identity.publicKey).view()));
      const Bytes ad = v2 ? contentAdV2(*id, k.sender.identity.publicKey, view(h.getHubId().asReader()))
                          : contentAd(*id);
      ciphertext = crypto::aeadEncrypt(content, *nonce, plaintext, ad);
    } else {
      ciphertext.assign(plaintext.begin(), plaintext.end());
      wrapped = false;  // the header is malformed: nothing is expected to open
    }
    h.setContentHash(kjBytes(crypto::hash256(ciphertext).view()));
    h.setContentSize(ciphertext.size());
  } catch (const kj::Exception& e) {
    std::fprintf(stderr, "%s\n", e.getDescription().cStr());
    broken("a header that decode() accepted throws when copied");
  }
  const Bytes header = toBytes(b);
  const auto sig = crypto::sign(context::BulletinHeader, header, k.sender.identity.secretKey);

  auto verified = verifyHeader(header, sig);
  if (!verified.ok() && verified.error() == OpenError::BadSignature) broken("a correctly signed header is refused");
  auto opened = openBulletin(header, sig, ciphertext, k.sender.identity.publicKey, k.me);
  if (!verified.ok()) {
    if (opened.ok()) broken("openBulletin accepted what verifyHeader refused");
    return;
  }
  if (opened.ok()) {
    touchOpened(*opened);
    return;
  }
  if (wrapped && opened.error() != OpenError::Malformed) {
    std::fprintf(stderr, "error: %s\n", describe(opened.error()));
    broken("a correctly sealed bulletin addressed to us did not open (and its content was not malformed)");
  }
  if (!wrapped && opened.error() != OpenError::NotARecipient && opened.error() != OpenError::Malformed) {
    std::fprintf(stderr, "error: %s\n", describe(opened.error()));
    broken("a bulletin without an entry for our key failed with an unexpected error");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  (void)keys();
  const bool senderMode = (data[0] & 1) != 0;
  const std::size_t headerLen = (std::size_t{data[1]} << 8) | data[2];
  ByteView rest(data + 3, size - 3);
  const ByteView header = rest.subspan(0, std::min(headerLen, rest.size()));
  rest = rest.subspan(header.size());
  crypto::Signature sig;
  const std::size_t sigLen = std::min<std::size_t>(crypto::Signature::size, rest.size());
  std::copy(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(sigLen), sig.bytes.begin());
  rest = rest.subspan(sigLen);
  if (senderMode) {
    authenticSender(header, rest);
  } else {
    relayed(header, sig, rest);
  }
  return 0;
}

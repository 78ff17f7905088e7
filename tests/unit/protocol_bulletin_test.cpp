// Bulletin seal/open: round trips, and every way a hub, a recipient or a
// stranger could alter a bulletin is caught by the recipient with the right
// error.
#include "protocol/bulletin.hpp"
#include "protocol/signing.hpp"

#include <capnp/message.h>
#include <catch2/catch.hpp>

#include <openssl/bn.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>

using namespace focal;
using namespace focal::protocol;
using crypto::Bytes;
using crypto::ByteView;

namespace {

constexpr std::int64_t Now = 1'700'000'000'000;

crypto::MemberKeys member(const std::string& id) {
  crypto::initialize();  // idempotent; libsodium must be ready before sodium_malloc
  return crypto::MemberKeys::generate(id, Now - 86'400'000);
}

BulletinDraft draftTo(const std::vector<const crypto::MemberKeys*>& to) {
  BulletinDraft d;
  d.hubId = "focal-hub";  // the test hub (seal v2 binds its id)
  d.tlp = wire::Tlp::AMBER;
  d.handling = wire::Handling::H2;
  d.sourceReliability = wire::SourceReliability::B;
  d.infoAccuracy = 2;
  d.priority = wire::Priority::URGENT;
  d.caseRef = "AWGC-2024-017";
  d.addresses = {"members"};
  for (const auto* m : to) d.recipients.push_back({m->memberId, m->encryption.publicKey});
  d.category = wire::Category::ALERT;
  d.title = "Phishing kit targeting regional banks";
  d.body = "Indicators and a summary of the kit's behaviour follow.";
  d.attackTechniques = {"T1566.001", "T1204.002"};
  d.stixBundle = R"({"type":"bundle","id":"bundle--1","objects":[]})";
  return d;
}

Bytes toVec(capnp::Data::Reader d) { return Bytes(d.begin(), d.end()); }

// Re-encodes a header with `edit` applied and signs it with `signer`: what a
// sender (or a forger with some key) can produce.
std::pair<Bytes, crypto::Signature> resign(ByteView header, const crypto::SigningSecretKey& signer,
                                            const std::function<void(wire::BulletinHeader::Builder)>& edit) {
  auto parsed = decode<wire::BulletinHeader>(header);
  REQUIRE(parsed.ok());
  capnp::MallocMessageBuilder m;
  m.setRoot(parsed->root());
  edit(m.getRoot<wire::BulletinHeader>());
  Bytes bytes = toBytes(m);
  return {bytes, crypto::sign(context::BulletinHeader, bytes, signer)};
}

struct Fixture {
  crypto::MemberKeys alice = member("sg-csa");
  crypto::MemberKeys bob = member("my-nacsa");
  crypto::MemberKeys carol = member("th-tcsd");
  crypto::ContentKey key = crypto::ContentKey::random();
};

}  // namespace

TEST_CASE("A bulletin sealed to one recipient opens to the same content", "[protocol][bulletin]") {
  Fixture f;
  BulletinDraft d = draftTo({&f.bob});
  auto sealed = sealBulletin(d, f.alice, f.key, Now);
  REQUIRE(sealed.ok());
  CHECK(sealed->ciphertext.size() <= MaxContentBytes);

  auto opened = openBulletin(sealed->header, sealed->signature, sealed->ciphertext, f.alice.identity.publicKey, f.bob);
  REQUIRE(opened.ok());
  auto h = opened->header.root();
  CHECK(h.getVersion() == 1);
  CHECK(h.getSuite() == wire::CIPHER_SUITE_V2);
  CHECK(view(h.getHubId()) == "focal-hub");
  CHECK(view(h.getKeyCommit()).size() == 32);
  CHECK(toVec(h.getBulletinId()) == Bytes(sealed->id.bytes.begin(), sealed->id.bytes.end()));
  CHECK(view(h.getSenderId()) == "sg-csa");
  CHECK(toVec(h.getSenderKey()) == Bytes(f.alice.identity.publicKey.bytes.begin(), f.alice.identity.publicKey.bytes.end()));
  CHECK(h.getCreatedAtMs() == Now);
  CHECK(h.getTlp() == wire::Tlp::AMBER);
  CHECK(h.getHandling() == wire::Handling::H2);
  CHECK(h.getSourceReliability() == wire::SourceReliability::B);
  CHECK(h.getInfoAccuracy() == 2);
  CHECK(h.getPriority() == wire::Priority::URGENT);
  CHECK(view(h.getCaseRef()) == "AWGC-2024-017");
  CHECK(h.getKind() == wire::BulletinKind::BULLETIN);
  CHECK(h.getCommentDeadlineMs() == 0);
  CHECK(h.getReplyTo().size() == 0);
  CHECK(h.getRevises().size() == 0);
  REQUIRE(h.getAddresses().size() == 1);
  CHECK(view(h.getAddresses()[0]) == "members");
  REQUIRE(h.getRecipients().size() == 1);
  CHECK(view(h.getRecipients()[0].getMemberId()) == "my-nacsa");
  CHECK(h.getContentSize() == sealed->ciphertext.size());
  const auto hash = crypto::hash256(sealed->ciphertext);
  CHECK(toVec(h.getContentHash()) == Bytes(hash.bytes.begin(), hash.bytes.end()));

  auto c = opened->content.root();
  CHECK(c.getCategory() == wire::Category::ALERT);
  CHECK(view(c.getTitle()) == d.title);
  CHECK(view(c.getBody()) == d.body);
  REQUIRE(c.getAttackTechniques().size() == 2);
  CHECK(view(c.getAttackTechniques()[0]) == "T1566.001");
  CHECK(view(c.getAttackTechniques()[1]) == "T1204.002");
  CHECK(view(c.getStixBundle()) == d.stixBundle);
  CHECK(c.getAttachments().size() == 0);
  CHECK(opened->contentKey.equals(f.key));
}

TEST_CASE("A bulletin sealed to ten recipients opens for each of them, recipients sorted", "[protocol][bulletin]") {
  Fixture f;
  std::vector<crypto::MemberKeys> members;
  const char* ids[] = {"vn-a05", "bn-itpss", "kh-cyber", "id-bssn", "la-mps", "mm-mcpd", "my-nacsa", "ph-dict",
                       "sg-csa", "th-tcsd"};
  for (const char* id : ids) members.push_back(member(id));
  std::vector<const crypto::MemberKeys*> to;
  for (auto& m : members) to.push_back(&m);
  BulletinDraft d = draftTo(to);
  d.attachments.push_back({"kit.zip", "application/zip", 123456, crypto::randomFixed<crypto::Hash256>(), 124000});
  d.attachments.push_back({"iocs.csv", "text/csv", 99, crypto::randomFixed<crypto::Hash256>(), 140});
  d.replyTo = crypto::randomFixed<crypto::BulletinId>();
  const auto fixedId = crypto::randomFixed<crypto::BulletinId>();
  auto sealed = sealBulletin(d, members[8], f.key, Now, fixedId);  // sg-csa sends to all ten
  REQUIRE(sealed.ok());
  CHECK(sealed->id == fixedId);

  auto verified = verifyHeader(sealed->header, sealed->signature);
  REQUIRE(verified.ok());
  auto recipients = verified->root().getRecipients();
  REQUIRE(recipients.size() == 10);
  for (unsigned i = 1; i < recipients.size(); ++i) {
    CHECK(view(recipients[i - 1].getMemberId()) < view(recipients[i].getMemberId()));
  }
  CHECK(toVec(verified->root().getReplyTo()) == Bytes(d.replyTo->bytes.begin(), d.replyTo->bytes.end()));
  REQUIRE(verified->root().getAttachments().size() == 2);
  CHECK(verified->root().getAttachments()[0].getSize() == 124000);

  for (auto& m : members) {
    INFO(m.memberId);
    auto opened = openBulletin(sealed->header, sealed->signature, sealed->ciphertext, members[8].identity.publicKey, m);
    REQUIRE(opened.ok());
    CHECK(view(opened->content.root().getTitle()) == d.title);
    auto infos = opened->content.root().getAttachments();
    REQUIRE(infos.size() == 2);
    CHECK(view(infos[0].getName()) == "kit.zip");
    CHECK(view(infos[0].getMediaType()) == "application/zip");
    CHECK(infos[0].getPlainSize() == 123456);
    CHECK(toVec(infos[1].getBlobHash()) == Bytes(d.attachments[1].blobHash.bytes.begin(), d.attachments[1].blobHash.bytes.end()));
  }
}

TEST_CASE("toWire carries the sealed bytes unchanged", "[protocol][bulletin]") {
  Fixture f;
  auto sealed = sealBulletin(draftTo({&f.bob}), f.alice, f.key, Now);
  REQUIRE(sealed.ok());
  capnp::MallocMessageBuilder m;
  toWire(*sealed, m.initRoot<wire::Bulletin>());
  auto b = m.getRoot<wire::Bulletin>().asReader();
  CHECK(toVec(b.getHeader()) == sealed->header);
  CHECK(toVec(b.getSignature()) == Bytes(sealed->signature.bytes.begin(), sealed->signature.bytes.end()));
  CHECK(toVec(b.getCiphertext()) == sealed->ciphertext);
}

TEST_CASE("A recipient opens with an encryption key it held before a rotation", "[protocol][bulletin]") {
  Fixture f;
  auto sealed = sealBulletin(draftTo({&f.bob}), f.alice, f.key, Now);
  REQUIRE(sealed.ok());
  f.bob.previousEncryption.insert(f.bob.previousEncryption.begin(), std::move(f.bob.encryption));
  f.bob.encryption = crypto::BoxKeyPair::generate();
  auto opened = openBulletin(sealed->header, sealed->signature, sealed->ciphertext, f.alice.identity.publicKey, f.bob);
  CHECK(opened.ok());
}

TEST_CASE("Sealing refuses drafts that break the rules", "[protocol][bulletin][seal]") {
  Fixture f;
  auto sealWith = [&](const std::function<void(BulletinDraft&)>& edit) {
    BulletinDraft d = draftTo({&f.bob, &f.carol});
    edit(d);
    return sealBulletin(d, f.alice, f.key, Now);
  };
  auto fails = [&](const std::function<void(BulletinDraft&)>& edit, SealError e) {
    auto s = sealWith(edit);
    return !s.ok() && s.error() == e;
  };
  CHECK(sealWith([](BulletinDraft&) {}).ok());
  CHECK(fails([](BulletinDraft& d) { d.recipients.clear(); }, SealError::NoRecipients));
  CHECK(fails([](BulletinDraft& d) { d.tlp = wire::Tlp::UNSET; }, SealError::MissingTlp));
  CHECK(fails([&](BulletinDraft& d) { d.recipients.push_back({"my-nacsa", f.carol.encryption.publicKey}); },
              SealError::DuplicateRecipient));
  CHECK(fails([&](BulletinDraft& d) {
          d.recipients.clear();
          for (std::size_t i = 0; i <= MaxRecipients; ++i) d.recipients.push_back({"m" + std::to_string(i), f.bob.encryption.publicKey});
        },
        SealError::TooManyRecipients));
  CHECK(fails([](BulletinDraft& d) { d.body.assign(MaxContentBytes, 'x'); }, SealError::TooLarge));
  CHECK(fails([](BulletinDraft& d) { d.addresses.assign(MaxAddresses + 1, "members"); }, SealError::TooLarge));
  CHECK(fails([](BulletinDraft& d) { d.attachments.resize(MaxAttachments + 1, {"a", "b", 1, {}, 1}); }, SealError::TooLarge));
  CHECK(fails([](BulletinDraft& d) { d.attachments.push_back({"big.bin", "x", 1, {}, MaxAttachmentBytes + 1}); },
              SealError::TooLarge));
  CHECK(fails([](BulletinDraft& d) { d.infoAccuracy = 5; }, SealError::InvalidField));
  CHECK(fails([](BulletinDraft& d) { d.handling = wire::Handling::H3; }, SealError::InvalidField));
  CHECK(sealWith([](BulletinDraft& d) { d.handling = wire::Handling::H3; d.handlingText = "no onward sharing"; }).ok());
  CHECK(fails([](BulletinDraft& d) { d.kind = wire::BulletinKind::SUMMARY_RECORD; }, SealError::InvalidField));
  CHECK(fails([](BulletinDraft& d) { d.commentDeadlineMs = Now + 1; }, SealError::InvalidField));
  CHECK(sealWith([](BulletinDraft& d) {
          d.kind = wire::BulletinKind::SUMMARY_RECORD;
          d.commentDeadlineMs = Now + 7 * 86'400'000;
        }).ok());
  CHECK(fails([](BulletinDraft& d) { d.attachments.push_back({"../etc/passwd", "x", 1, {}, 1}); }, SealError::InvalidField));
  CHECK(fails([](BulletinDraft& d) { d.attachments.push_back({"", "x", 1, {}, 1}); }, SealError::InvalidField));
  CHECK(fails([](BulletinDraft& d) { d.recipients[0].memberId = ""; }, SealError::InvalidField));
  CHECK(fails([](BulletinDraft& d) { d.caseRef.assign(MaxTextFieldBytes + 1, 'c'); }, SealError::InvalidField));
  // Every error has a sentence.
  for (auto e : {SealError::NoRecipients, SealError::TooManyRecipients, SealError::DuplicateRecipient,
                 SealError::MissingTlp, SealError::TooLarge, SealError::InvalidField}) {
    CHECK(std::string(describe(e)).back() == '.');
  }
}

TEST_CASE("Opening refuses altered bulletins with the matching error", "[protocol][bulletin][open]") {
  Fixture f;
  auto sealed = sealBulletin(draftTo({&f.bob, &f.carol}), f.alice, f.key, Now);
  REQUIRE(sealed.ok());
  const auto& alicePk = f.alice.identity.publicKey;
  auto openAs = [&](ByteView header, const crypto::Signature& sig, ByteView ciphertext, const crypto::MemberKeys& me,
                    const crypto::SigningPublicKey& expected) {
    return openBulletin(header, sig, ciphertext, expected, me);
  };
  auto errorOf = [&](ByteView header, const crypto::Signature& sig, ByteView ciphertext,
                     const crypto::MemberKeys& me) -> std::optional<OpenError> {
    auto o = openAs(header, sig, ciphertext, me, alicePk);
    if (o.ok()) return std::nullopt;
    return o.error();
  };
  REQUIRE(openAs(sealed->header, sealed->signature, sealed->ciphertext, f.bob, alicePk).ok());

  SECTION("a changed header byte breaks the signature") {
    // The nonce is opaque data in the middle of the header: any change there
    // still parses, so the signature is what catches it.
    auto verified = verifyHeader(sealed->header, sealed->signature);
    REQUIRE(verified.ok());
    auto nonce = verified->root().getContentNonce();
    Bytes header = sealed->header;
    auto pos = std::search(header.begin(), header.end(), nonce.begin(), nonce.end());
    REQUIRE(pos != header.end());
    pos[5] ^= 0x01;
    CHECK(errorOf(header, sealed->signature, sealed->ciphertext, f.bob) == OpenError::BadSignature);
  }
  SECTION("no single-bit change anywhere in the header opens") {
    int badSignature = 0;
    for (std::size_t i = 0; i < sealed->header.size(); ++i) {
      Bytes header = sealed->header;
      header[i] ^= static_cast<std::uint8_t>(1u << (i % 8));
      auto e = errorOf(header, sealed->signature, sealed->ciphertext, f.bob);
      INFO("byte " << i);
      REQUIRE(e.has_value());
      badSignature += (*e == OpenError::BadSignature);
    }
    CHECK(badSignature > 0);
  }
  SECTION("a changed signature byte is a bad signature") {
    auto sig = sealed->signature;
    sig.bytes[10] ^= 0x80;
    CHECK(errorOf(sealed->header, sig, sealed->ciphertext, f.bob) == OpenError::BadSignature);
  }
  SECTION("a changed ciphertext byte is a hash mismatch") {
    for (std::size_t i : {std::size_t{0}, sealed->ciphertext.size() / 2, sealed->ciphertext.size() - 1}) {
      Bytes c = sealed->ciphertext;
      c[i] ^= 0x20;
      CHECK(errorOf(sealed->header, sealed->signature, c, f.bob) == OpenError::HashMismatch);
    }
  }
  SECTION("a truncated or extended ciphertext is a hash mismatch") {
    Bytes c(sealed->ciphertext.begin(), sealed->ciphertext.end() - 1);
    CHECK(errorOf(sealed->header, sealed->signature, c, f.bob) == OpenError::HashMismatch);
    CHECK(errorOf(sealed->header, sealed->signature, ByteView{}, f.bob) == OpenError::HashMismatch);
    c = sealed->ciphertext;
    c.push_back(0);
    CHECK(errorOf(sealed->header, sealed->signature, c, f.bob) == OpenError::HashMismatch);
  }
  SECTION("wrapped keys swapped between recipients do not unwrap, even re-signed by the sender") {
    auto [header, sig] = resign(sealed->header, f.alice.identity.secretKey, [](wire::BulletinHeader::Builder h) {
      auto rs = h.getRecipients();
      Bytes first = toVec(rs[0].getWrappedKey().asReader());
      Bytes second = toVec(rs[1].getWrappedKey().asReader());
      rs[0].setWrappedKey(kjBytes(second));
      rs[1].setWrappedKey(kjBytes(first));
    });
    REQUIRE(verifyHeader(header, sig).ok());
    CHECK(errorOf(header, sig, sealed->ciphertext, f.bob) == OpenError::KeyUnwrapFailed);
    CHECK(errorOf(header, sig, sealed->ciphertext, f.carol) == OpenError::KeyUnwrapFailed);
  }
  SECTION("a member who is not a recipient is told so") {
    auto dave = member("la-mps");
    CHECK(errorOf(sealed->header, sealed->signature, sealed->ciphertext, dave) == OpenError::NotARecipient);
    CHECK(errorOf(sealed->header, sealed->signature, sealed->ciphertext, f.alice) == OpenError::NotARecipient);
  }
  SECTION("a recipient's id with a key that is not the one addressed is not a recipient") {
    auto impostor = member("my-nacsa");  // same id, other keys
    CHECK(errorOf(sealed->header, sealed->signature, sealed->ciphertext, impostor) == OpenError::NotARecipient);
  }
  SECTION("a sender key other than the directory's is an unexpected sender") {
    auto o = openAs(sealed->header, sealed->signature, sealed->ciphertext, f.bob, f.carol.identity.publicKey);
    REQUIRE_FALSE(o.ok());
    CHECK(o.error() == OpenError::UnexpectedSender);
  }
  SECTION("a signature over the same header by another key is a bad signature") {
    const auto sig = crypto::sign(context::BulletinHeader, sealed->header, f.carol.identity.secretKey);
    CHECK(errorOf(sealed->header, sig, sealed->ciphertext, f.bob) == OpenError::BadSignature);
    // The sender's key over the same bytes, but for another purpose.
    const auto wrongContext = crypto::sign(context::Ack, sealed->header, f.alice.identity.secretKey);
    CHECK(errorOf(sealed->header, wrongContext, sealed->ciphertext, f.bob) == OpenError::BadSignature);
  }
  SECTION("an unknown version or cipher suite is refused before the signature is checked") {
    auto [v2, sigV2] = resign(sealed->header, f.alice.identity.secretKey, [](auto h) { h.setVersion(2); });
    CHECK(errorOf(v2, sigV2, sealed->ciphertext, f.bob) == OpenError::UnsupportedVersion);
    auto [s3, sigS3] = resign(sealed->header, f.alice.identity.secretKey, [](auto h) { h.setSuite(3); });
    CHECK(errorOf(s3, sigS3, sealed->ciphertext, f.bob) == OpenError::UnsupportedVersion);
    CHECK(errorOf(v2, sealed->signature, sealed->ciphertext, f.bob) == OpenError::UnsupportedVersion);
  }
  SECTION("a signed header with unsorted recipients or bad lengths is malformed") {
    auto [unsorted, sig1] = resign(sealed->header, f.alice.identity.secretKey, [](wire::BulletinHeader::Builder h) {
      auto rs = h.getRecipients();
      std::string first(view(rs[0].getMemberId().asReader()));
      std::string second(view(rs[1].getMemberId().asReader()));
      rs[0].setMemberId(protocol::asText(second));
      rs[1].setMemberId(protocol::asText(first));
    });
    CHECK(errorOf(unsorted, sig1, sealed->ciphertext, f.bob) == OpenError::Malformed);
    auto [shortKey, sig2] = resign(sealed->header, f.alice.identity.secretKey, [](wire::BulletinHeader::Builder h) {
      h.getRecipients()[0].setWrappedKey(kjBytes(Bytes(79, 1)));
    });
    CHECK(errorOf(shortKey, sig2, sealed->ciphertext, f.bob) == OpenError::Malformed);
    auto [noTlp, sig3] = resign(sealed->header, f.alice.identity.secretKey, [](auto h) { h.setTlp(wire::Tlp::UNSET); });
    CHECK(errorOf(noTlp, sig3, sealed->ciphertext, f.bob) == OpenError::Malformed);
    auto [noRecipients, sig4] = resign(sealed->header, f.alice.identity.secretKey, [](auto h) { h.initRecipients(0); });
    CHECK(errorOf(noRecipients, sig4, sealed->ciphertext, f.bob) == OpenError::Malformed);
    CHECK(errorOf(Bytes{}, sealed->signature, sealed->ciphertext, f.bob) == OpenError::Malformed);
    CHECK(errorOf(Bytes(16, 0), sealed->signature, sealed->ciphertext, f.bob) == OpenError::Malformed);
  }
  SECTION("the content is bound to the bulletin id by the key commitment and the associated data") {
    // The sender re-issues the same ciphertext under another id: the hash
    // still matches; the commitment (and the AEAD) name the id.
    auto [header, sig] = resign(sealed->header, f.alice.identity.secretKey, [](wire::BulletinHeader::Builder h) {
      h.setBulletinId(kjBytes(crypto::randomFixed<crypto::BulletinId>().view()));
    });
    CHECK(errorOf(header, sig, sealed->ciphertext, f.bob) == OpenError::KeyCommitMismatch);
  }
  SECTION("content whose attachment list differs from the signed one is malformed") {
    auto [header, sig] = resign(sealed->header, f.alice.identity.secretKey, [](wire::BulletinHeader::Builder h) {
      auto a = h.initAttachments(1);
      a[0].setBlobHash(kjBytes(Bytes(32, 7)));
      a[0].setSize(100);
    });
    CHECK(errorOf(header, sig, sealed->ciphertext, f.bob) == OpenError::Malformed);
  }
  for (auto e : {OpenError::Malformed, OpenError::UnsupportedVersion, OpenError::BadSignature, OpenError::UnexpectedSender,
                 OpenError::NotARecipient, OpenError::KeyUnwrapFailed, OpenError::HashMismatch, OpenError::DecryptFailed,
                 OpenError::KeyCommitMismatch}) {
    CHECK(std::string(describe(e)).back() == '.');
  }
}

TEST_CASE("A recipient cannot re-seal content to a third party in the original sender's name", "[protocol][bulletin][open]") {
  // Alice sends to Bob. Bob learns K and the plaintext, and wants Carol to
  // believe Alice sent it to her.
  Fixture f;
  auto sealed = sealBulletin(draftTo({&f.bob}), f.alice, f.key, Now);
  REQUIRE(sealed.ok());
  auto opened = openBulletin(sealed->header, sealed->signature, sealed->ciphertext, f.alice.identity.publicKey, f.bob);
  REQUIRE(opened.ok());

  auto toCarol = [&](wire::BulletinHeader::Builder h) {
    auto rs = h.initRecipients(1);
    rs[0].setMemberId(protocol::asText(f.carol.memberId));
    rs[0].setEncryptionKey(kjBytes(f.carol.encryption.publicKey.view()));
    rs[0].setWrappedKey(kjBytes(crypto::wrapKey(opened->contentKey, f.carol.encryption.publicKey).view()));
  };

  SECTION("keeping Alice's signature: it does not cover the new recipient list") {
    auto [header, ignored] = resign(sealed->header, f.bob.identity.secretKey, toCarol);
    auto o = openBulletin(header, sealed->signature, sealed->ciphertext, f.alice.identity.publicKey, f.carol);
    REQUIRE_FALSE(o.ok());
    CHECK(o.error() == OpenError::BadSignature);
  }
  SECTION("signing with Bob's key while the header names Alice's key") {
    auto [header, sig] = resign(sealed->header, f.bob.identity.secretKey, toCarol);
    auto o = openBulletin(header, sig, sealed->ciphertext, f.alice.identity.publicKey, f.carol);
    REQUIRE_FALSE(o.ok());
    CHECK(o.error() == OpenError::BadSignature);
    CHECK_FALSE(verifyHeader(header, sig).ok());
  }
  SECTION("signing with Bob's key and naming Bob's key under Alice's id") {
    auto [header, sig] = resign(sealed->header, f.bob.identity.secretKey, [&](wire::BulletinHeader::Builder h) {
      toCarol(h);
      h.setSenderKey(kjBytes(f.bob.identity.publicKey.view()));
    });
    REQUIRE(verifyHeader(header, sig).ok());  // a valid signature by Bob...
    // ...but Carol checks the key against the directory entry for "sg-csa".
    auto o = openBulletin(header, sig, sealed->ciphertext, f.alice.identity.publicKey, f.carol);
    REQUIRE_FALSE(o.ok());
    CHECK(o.error() == OpenError::UnexpectedSender);
  }
}

TEST_CASE("The content associated data is the context, a zero byte and the id", "[protocol][bulletin]") {
  crypto::BulletinId id;
  for (std::size_t i = 0; i < id.size; ++i) id.bytes[i] = static_cast<std::uint8_t>(i);
  const Bytes ad = contentAd(id);
  Bytes expected(context::Content.begin(), context::Content.end());
  expected.push_back(0);
  expected.insert(expected.end(), id.bytes.begin(), id.bytes.end());
  CHECK(ad == expected);
  CHECK(ad.size() == 16 + 1 + 16);
}

TEST_CASE("An attachment name with a path separator is refused by sealing and is Malformed on opening",
          "[protocol][bulletin][open]") {
  Fixture f;
  // The sender's side: sealing refuses such names before anything is signed.
  for (const char* bad : {"dir/evil.csv", "../evil.csv", "dir\\evil.csv", "", ".", ".."}) {
    INFO("name '" << bad << "'");
    BulletinDraft d = draftTo({&f.bob});
    d.attachments.push_back({bad, "text/csv", 10, crypto::randomFixed<crypto::Hash256>(), 51});
    auto sealed = sealBulletin(d, f.alice, f.key, Now);
    REQUIRE_FALSE(sealed.ok());
    CHECK(sealed.error() == SealError::InvalidField);
  }

  // A sender that does not follow the rules: the content is rewritten with
  // `name` and encrypted and signed again, correctly in every other way.
  BulletinDraft d = draftTo({&f.bob});
  d.attachments.push_back({"evil.csv", "text/csv", 10, crypto::randomFixed<crypto::Hash256>(), 51});
  auto sealed = sealBulletin(d, f.alice, f.key, Now);
  REQUIRE(sealed.ok());
  auto renamed = [&](const std::string& name) {
    auto header = decode<wire::BulletinHeader>(sealed->header);
    REQUIRE(header.ok());
    const auto id = *crypto::BulletinId::fromBytes(view(header->root().getBulletinId()));
    const auto nonce = *crypto::AeadNonce::fromBytes(view(header->root().getContentNonce()));
    const Bytes ad = contentAdV2(id, f.alice.identity.publicKey, "focal-hub");
    auto plain = crypto::aeadDecrypt(f.key, nonce, sealed->ciphertext, ad);
    REQUIRE(plain.ok());
    auto content = decode<wire::Content>(*plain);
    REQUIRE(content.ok());
    capnp::MallocMessageBuilder m;
    m.setRoot(content->root());
    m.getRoot<wire::Content>().getAttachments()[0].setName(name);
    const Bytes ciphertext = crypto::aeadEncrypt(f.key, nonce, toBytes(m), ad);
    auto [h, sig] = resign(sealed->header, f.alice.identity.secretKey, [&](wire::BulletinHeader::Builder b) {
      b.setContentHash(kjBytes(crypto::hash256(ciphertext).view()));
      b.setContentSize(ciphertext.size());
    });
    return openBulletin(h, sig, ciphertext, f.alice.identity.publicKey, f.bob);
  };
  auto good = renamed("other.csv");  // the rewriting itself is sound
  REQUIRE(good.ok());
  CHECK(view(good->content.root().getAttachments()[0].getName()) == "other.csv");
  for (const char* bad : {"dir/evil.csv", "../../.ssh/authorized_keys", "dir\\evil.csv", "", ".", ".."}) {
    INFO("name '" << bad << "'");
    auto opened = renamed(bad);
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.error() == OpenError::Malformed);
  }
}

// ---- seal v2: one signature means one text (issue 27) -----------------------------------

namespace {

// Poly1305 over GF(2^130 - 5), with OpenSSL's BIGNUM: enough to build, as an
// attacker would (Len, Grubbs, Ristenpart 2021), one XChaCha20-Poly1305
// ciphertext that opens under two different keys.
struct Bn {
  BIGNUM* v = BN_new();
  Bn() = default;
  Bn(const Bn&) = delete;
  Bn& operator=(const Bn&) = delete;
  ~Bn() { BN_free(v); }
};

void fromLittleEndian(Bn& out, const std::uint8_t* bytes, std::size_t n) { BN_lebin2bn(bytes, static_cast<int>(n), out.v); }

// r and s of XChaCha20-Poly1305-IETF's one-time key for (key, nonce), as
// libsodium derives them: HChaCha20 subkey, ChaCha20-IETF block 0.
void polyKey(const crypto::ContentKey& key, const crypto::AeadNonce& nonce, Bn& r, Bn& s) {
  std::uint8_t subkey[32];
  crypto_core_hchacha20(subkey, nonce.data(), key.data(), nullptr);
  std::uint8_t nonce12[12] = {};
  std::memcpy(nonce12 + 4, nonce.data() + 16, 8);
  std::uint8_t block[64];
  crypto_stream_chacha20_ietf(block, sizeof block, nonce12, subkey);
  static constexpr std::uint8_t Clamp[16] = {0xff, 0xff, 0xff, 0x0f, 0xfc, 0xff, 0xff, 0x0f,
                                             0xfc, 0xff, 0xff, 0x0f, 0xfc, 0xff, 0xff, 0x0f};
  for (int i = 0; i < 16; ++i) block[i] &= Clamp[i];
  fromLittleEndian(r, block, 16);
  fromLittleEndian(s, block + 16, 16);
}

// The Poly1305 message blocks of the AEAD: AD, zero padding, ciphertext,
// zero padding, le64(len AD), le64(len C); each as 16 bytes.
std::vector<std::array<std::uint8_t, 16>> macBlocks(ByteView ad, ByteView c) {
  std::vector<std::array<std::uint8_t, 16>> out;
  auto add = [&](ByteView data) {
    for (std::size_t i = 0; i < data.size(); i += 16) {
      std::array<std::uint8_t, 16> b{};
      std::memcpy(b.data(), data.data() + i, std::min<std::size_t>(16, data.size() - i));
      out.push_back(b);
    }
  };
  add(ad);
  add(c);
  std::array<std::uint8_t, 16> lengths{};
  for (int i = 0; i < 8; ++i) {
    lengths[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(ad.size()) >> (8 * i));
    lengths[8 + i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(c.size()) >> (8 * i));
  }
  out.push_back(lengths);
  return out;
}

// A 32-byte ciphertext and its tag that XChaCha20-Poly1305 opens under both
// k1 and k2 (to two different texts) with `nonce` and `ad`: block 0 of the
// ciphertext solves sum_i m_i (r1^e_i - r2^e_i) = s2 - s1 (mod p); block 1
// is random, redrawn until the solution is a valid block and the tags agree.
Bytes twoKeyCiphertext(const crypto::ContentKey& k1, const crypto::ContentKey& k2, const crypto::AeadNonce& nonce,
                       ByteView ad) {
  BN_CTX* ctx = BN_CTX_new();
  Bn p, two128, r1, s1, r2, s2;
  BN_set_bit(p.v, 130);
  BN_sub_word(p.v, 5);
  BN_set_bit(two128.v, 128);
  polyKey(k1, nonce, r1, s1);
  polyKey(k2, nonce, r2, s2);
  for (int attempt = 0; attempt < 10'000; ++attempt) {
    Bytes c(32);
    crypto::randomFill(std::span<std::uint8_t>(c.data() + 16, 16));
    const auto blocks = macBlocks(ad, c);
    const std::size_t n = blocks.size();
    const std::size_t free = (ad.size() + 15) / 16;  // ciphertext block 0
    Bn sum, target, coef, pw1, pw2, m, e, t;
    BN_zero(sum.v);
    for (std::size_t i = 0; i < n; ++i) {
      BN_set_word(e.v, n - i);  // block i is multiplied by r^(n - i)
      BN_mod_exp(pw1.v, r1.v, e.v, p.v, ctx);
      BN_mod_exp(pw2.v, r2.v, e.v, p.v, ctx);
      BN_mod_sub(t.v, pw1.v, pw2.v, p.v, ctx);  // r1^e - r2^e
      if (i == free) {
        BN_copy(coef.v, t.v);
        continue;
      }
      fromLittleEndian(m, blocks[i].data(), 16);
      BN_add(m.v, m.v, two128.v);
      BN_mod_mul(t.v, t.v, m.v, p.v, ctx);
      BN_mod_add(sum.v, sum.v, t.v, p.v, ctx);
    }
    // m_free = (s2 - s1 - sum) / coef  (mod p)
    BN_mod_sub(target.v, s2.v, s1.v, p.v, ctx);
    BN_mod_sub(target.v, target.v, sum.v, p.v, ctx);
    if (BN_mod_inverse(t.v, coef.v, p.v, ctx) == nullptr) continue;
    BN_mod_mul(m.v, target.v, t.v, p.v, ctx);
    // A block value is 2^128 + (16 bytes): anything else is not reachable.
    if (BN_cmp(m.v, two128.v) < 0 || BN_num_bits(m.v) > 129) continue;
    BN_sub(m.v, m.v, two128.v);
    std::uint8_t block[16];
    BN_bn2lebinpad(m.v, block, 16);
    std::memcpy(c.data(), block, 16);
    // The tag under k1: Poly1305 of the finished blocks.
    const auto finished = macBlocks(ad, c);
    Bn h;
    BN_zero(h.v);
    for (const auto& b : finished) {
      fromLittleEndian(m, b.data(), 16);
      BN_add(m.v, m.v, two128.v);
      BN_mod_add(h.v, h.v, m.v, p.v, ctx);
      BN_mod_mul(h.v, h.v, r1.v, p.v, ctx);
    }
    BN_add(h.v, h.v, s1.v);
    BN_mask_bits(h.v, 128);
    std::uint8_t tag[16];
    BN_bn2lebinpad(h.v, tag, 16);
    Bytes out = c;
    out.insert(out.end(), tag, tag + 16);
    if (crypto::aeadDecrypt(k1, nonce, out, ad).ok() && crypto::aeadDecrypt(k2, nonce, out, ad).ok()) {
      BN_CTX_free(ctx);
      return out;
    }
  }
  BN_CTX_free(ctx);
  FAIL("no two-key ciphertext found");
  return {};
}

}  // namespace

// Alice's seal v2 bulletin to Bob and Carol.
struct ToBobAndCarol : Fixture {
  SealedBulletin sealed = sealBulletin(draftTo({&bob, &carol}), alice, key, Now).value();
  crypto::BulletinId id = sealed.id;
};

TEST_CASE_METHOD(ToBobAndCarol,
                 "Seal v2: a ciphertext built to open under two keys is refused by the recipient given the second key",
                 "[protocol][bulletin][seal-v2]") {
  // A sender wraps K1 for Bob and K2 for Carol over one ciphertext and one
  // header signature. Without a key commitment each would read a different
  // text under the same signature; with it, Carol's key is not the one the
  // header commits to.
  const auto nonce = crypto::randomFixed<crypto::AeadNonce>();
  const auto k2 = crypto::ContentKey::random();
  const Bytes ad = contentAdV2(id, alice.identity.publicKey, "focal-hub");
  const Bytes ciphertext = twoKeyCiphertext(key, k2, nonce, ad);
  // The attack is real: the one ciphertext opens under both keys, to two texts.
  auto under1 = crypto::aeadDecrypt(key, nonce, ciphertext, ad);
  auto under2 = crypto::aeadDecrypt(k2, nonce, ciphertext, ad);
  REQUIRE(under1.ok());
  REQUIRE(under2.ok());
  CHECK(*under1 != *under2);

  const auto hash = crypto::hash256(ciphertext);
  auto [header, sig] = resign(sealed.header, alice.identity.secretKey, [&](wire::BulletinHeader::Builder h) {
    h.setContentNonce(kjBytes(nonce.view()));
    h.setContentHash(kjBytes(hash.view()));
    h.setContentSize(ciphertext.size());
    auto rs = h.getRecipients();  // sorted: my-nacsa (Bob), th-tcsd (Carol)
    rs[0].setWrappedKey(kjBytes(crypto::wrapKey(key, bob.encryption.publicKey).view()));
    rs[1].setWrappedKey(kjBytes(crypto::wrapKey(k2, carol.encryption.publicKey).view()));
    h.setKeyCommit(kjBytes(keyCommitment(key, id, alice.identity.publicKey).view()));
  });
  REQUIRE(verifyHeader(header, sig).ok());
  auto carolOpens = openBulletin(header, sig, ciphertext, alice.identity.publicKey, carol);
  REQUIRE_FALSE(carolOpens.ok());
  CHECK(carolOpens.error() == OpenError::KeyCommitMismatch);
  // Bob's key is the committed one: his AEAD opens (to bytes that are no
  // Content here, so Malformed), never the commitment check.
  auto bobOpens = openBulletin(header, sig, ciphertext, alice.identity.publicKey, bob);
  REQUIRE_FALSE(bobOpens.ok());
  CHECK(bobOpens.error() == OpenError::Malformed);
}

TEST_CASE_METHOD(ToBobAndCarol, "Seal v2: the content is bound to the committed key, the sender's key and the hub",
                 "[protocol][bulletin][seal-v2]") {
  auto errorOf = [&](const std::pair<Bytes, crypto::Signature>& resigned, const crypto::SigningPublicKey& sender,
                     const crypto::MemberKeys& me) -> std::optional<OpenError> {
    auto o = openBulletin(resigned.first, resigned.second, sealed.ciphertext, sender, me);
    if (o.ok()) return std::nullopt;
    return o.error();
  };
  SECTION("a different key wrapped for one recipient is refused at the commitment, before decryption") {
    const auto other = crypto::ContentKey::random();
    auto resigned = resign(sealed.header, alice.identity.secretKey, [&](wire::BulletinHeader::Builder h) {
      h.getRecipients()[1].setWrappedKey(kjBytes(crypto::wrapKey(other, carol.encryption.publicKey).view()));
    });
    CHECK(errorOf(resigned, alice.identity.publicKey, carol) == OpenError::KeyCommitMismatch);
    CHECK(errorOf(resigned, alice.identity.publicKey, bob) == std::nullopt);
  }
  SECTION("a header re-signed by another member (a recipient who knows K) does not decrypt") {
    // Bob takes Alice's ciphertext and key and makes it his own bulletin,
    // with a correct commitment under his own key: the AD names Alice.
    auto resigned = resign(sealed.header, bob.identity.secretKey, [&](wire::BulletinHeader::Builder h) {
      h.setSenderId(asText(bob.memberId));
      h.setSenderKey(kjBytes(bob.identity.publicKey.view()));
      h.setKeyCommit(kjBytes(keyCommitment(key, id, bob.identity.publicKey).view()));
    });
    CHECK(errorOf(resigned, bob.identity.publicKey, carol) == OpenError::DecryptFailed);
  }
  SECTION("the same bulletin named for another hub does not decrypt") {
    auto resigned = resign(sealed.header, alice.identity.secretKey,
                           [&](wire::BulletinHeader::Builder h) { h.setHubId(asText("other-hub")); });
    CHECK(errorOf(resigned, alice.identity.publicKey, bob) == OpenError::DecryptFailed);
  }
  SECTION("v2 fields must be exactly present in suite 2 and absent in suite 1") {
    auto noCommit = resign(sealed.header, alice.identity.secretKey,
                           [&](wire::BulletinHeader::Builder h) { h.setKeyCommit(kjBytes(Bytes{})); });
    CHECK(errorOf(noCommit, alice.identity.publicKey, bob) == OpenError::Malformed);
    auto badHub = resign(sealed.header, alice.identity.secretKey,
                         [&](wire::BulletinHeader::Builder h) { h.setHubId(asText("Not A Hub")); });
    CHECK(errorOf(badHub, alice.identity.publicKey, bob) == OpenError::Malformed);
    auto v1WithCommit = resign(sealed.header, alice.identity.secretKey,
                               [&](wire::BulletinHeader::Builder h) { h.setSuite(wire::CIPHER_SUITE); });
    CHECK(errorOf(v1WithCommit, alice.identity.publicKey, bob) == OpenError::Malformed);
  }
}

TEST_CASE("Seal v1 bulletins, sealed before v2, still open", "[protocol][bulletin][seal-v2]") {
  Fixture f;
  BulletinDraft d = draftTo({&f.bob});
  d.suite = wire::CIPHER_SUITE;
  auto sealed = sealBulletin(d, f.alice, f.key, Now);
  REQUIRE(sealed.ok());
  auto opened = openBulletin(sealed->header, sealed->signature, sealed->ciphertext, f.alice.identity.publicKey, f.bob);
  REQUIRE(opened.ok());
  CHECK(opened->header.root().getSuite() == wire::CIPHER_SUITE);
  CHECK(opened->header.root().getKeyCommit().size() == 0);
  CHECK(view(opened->content.root().getTitle()) == d.title);
  // A v2 draft without a hub id is refused before anything is sealed.
  BulletinDraft noHub = draftTo({&f.bob});
  noHub.hubId.clear();
  CHECK(sealBulletin(noHub, f.alice, f.key, Now).error() == SealError::InvalidField);
}

TEST_CASE("Seal v2 test vector (PROTOCOL.md section 16)", "[protocol][bulletin][seal-v2]") {
  // Inputs: K = 0x00..0x1f, id = 0xa0..0xaf, senderKey = 0x40..0x5f,
  // hubId "focal-hub". Expected values computed with Python's hashlib.
  crypto::initialize();  // ContentKey lives in libsodium's guarded memory
  crypto::ContentKey k;
  for (std::size_t i = 0; i < k.size; ++i) k.data()[i] = static_cast<std::uint8_t>(i);
  crypto::BulletinId id;
  for (std::size_t i = 0; i < id.size; ++i) id.bytes[i] = static_cast<std::uint8_t>(0xa0 + i);
  crypto::SigningPublicKey sender;
  for (std::size_t i = 0; i < sender.size; ++i) sender.bytes[i] = static_cast<std::uint8_t>(0x40 + i);
  CHECK(crypto::toHex(keyCommitment(k, id, sender)) == "e62be49b1f4929a4d1a9ee74ddabf8e79f0660ce9b213859d376d38e4077939a");
  CHECK(crypto::toHex(contentAdV2(id, sender, "focal-hub")) == "666f63616c2f76322f636f6e74656e7400a0a1a2a3a4a5a6a7a8a9aaabacadaeaf4041424344454647"
                                                        "48494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f0009666f63616c2d687562");
}

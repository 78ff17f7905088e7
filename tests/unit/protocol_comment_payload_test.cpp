// protocol/records.hpp: the sealed payload of a comment (PROTOCOL.md
// §12.4): the commenter's head rides inside it (gossip, §11.4), it is sealed
// in every comment, and a comment of the older format (bare text) still
// opens.
#include "protocol/log.hpp"
#include "protocol/message.hpp"
#include "protocol/records.hpp"
#include "protocol/signing.hpp"

#include <capnp/message.h>
#include <catch2/catch.hpp>
#include <sodium.h>

using namespace focal;

namespace {

constexpr std::int64_t T0 = 1'700'000'000'000;

crypto::Bytes sealedOf(const protocol::SignedRecordBytes& r) {
  auto parsed = protocol::decode<wire::Comment>(r.body);
  REQUIRE(parsed);
  const auto s = protocol::view(parsed->root().getSealedText());
  return crypto::Bytes(s.begin(), s.end());
}

struct Commenting {
  bool ready = (crypto::initialize(), true);
  crypto::MemberKeys sender = crypto::MemberKeys::generate("sg-asean-sec", T0);
  crypto::MemberKeys author = crypto::MemberKeys::generate("my-pdrm", T0);
  crypto::BulletinId record = *crypto::BulletinId::fromBytes(crypto::Bytes(16, 3));
  crypto::SigningKeyPair hub = crypto::SigningKeyPair::generate();
  protocol::SignedHead head =
      protocol::signLogHead("asean-wgcc", 7, *crypto::Hash256::fromBytes(crypto::Bytes(32, 9)), T0, hub.secretKey);
};

}  // namespace

TEST_CASE_METHOD(Commenting, "A comment's sealed payload carries the author's head for the record's sender only",
                 "[protocol][records][gossip]") {
  const auto c = protocol::makeComment(record, true, "Item 4: MY, not TH", sender.publicKeys().encryption, author, T0,
                                       head);
  const auto sealed = sealedOf(c);
  auto opened = protocol::openComment(sealed, sender.encryption);
  REQUIRE(opened);
  CHECK(opened->payloadVersion == 1);
  CHECK(opened->text == "Item 4: MY, not TH");
  REQUIRE(opened->logHead);
  CHECK(opened->logHead->head == head.head);
  CHECK(opened->logHead->signature == head.signature);
  CHECK(protocol::openCommentText(sealed, sender.encryption) == std::optional<std::string>("Item 4: MY, not TH"));
  // Nobody else opens it.
  CHECK_FALSE(protocol::openComment(sealed, author.encryption));

  // SECURITY: a comment without text is sealed too, and with a head its
  // length is the same whatever head it carries: the hub cannot tell the
  // comments that carry a head, or a conflicting one, apart.
  const auto bare = sealedOf(protocol::makeComment(record, false, "", sender.publicKeys().encryption, author, T0, head));
  const auto other = protocol::signLogHead("asean-wgcc", 7, *crypto::Hash256::fromBytes(crypto::Bytes(32, 1)),
                                           T0 + 5, hub.secretKey);
  const auto conflicting =
      sealedOf(protocol::makeComment(record, false, "", sender.publicKeys().encryption, author, T0, other));
  CHECK_FALSE(bare.empty());
  CHECK(bare.size() == conflicting.size());
  auto empty = protocol::openComment(bare, sender.encryption);
  REQUIRE(empty);
  CHECK(empty->text.empty());
  CHECK(empty->logHead);
  // The cost (bench/RESULTS.md): the sealed payload of a comment without
  // text, with and without the head, and an old-format comment's (none).
  const auto noHead = sealedOf(protocol::makeComment(record, false, "", sender.publicKeys().encryption, author, T0));
  CHECK(bare.size() == 274);  // hub id of 10 characters
  CHECK(noHead.size() == 90);
  // Without a head (no verified log yet) it still opens.
  const auto headless = sealedOf(protocol::makeComment(record, false, "t", sender.publicKeys().encryption, author, T0));
  auto h = protocol::openComment(headless, sender.encryption);
  REQUIRE(h);
  CHECK_FALSE(h->logHead);
  CHECK(h->text == "t");
}

TEST_CASE_METHOD(Commenting, "A comment of the older format (bare sealed text) still opens, with no head",
                 "[protocol][records][gossip]") {
  const std::string text = "Item 2: agreed";
  crypto::Bytes sealed(text.size() + crypto_box_SEALBYTES);
  crypto_box_seal(sealed.data(), reinterpret_cast<const unsigned char*>(text.data()), text.size(),
                  sender.publicKeys().encryption.data());
  auto opened = protocol::openComment(sealed, sender.encryption);
  REQUIRE(opened);
  CHECK(opened->payloadVersion == 0);
  CHECK(opened->text == text);
  CHECK_FALSE(opened->logHead);
  CHECK(protocol::openCommentText(sealed, sender.encryption) == std::optional<std::string>(text));

  // A later payload version this client cannot read is not shown as text.
  const crypto::Bytes later{protocol::CommentPayloadMarker, 2, 1, 2, 3};
  crypto::Bytes sealedLater(later.size() + crypto_box_SEALBYTES);
  crypto_box_seal(sealedLater.data(), later.data(), later.size(), sender.publicKeys().encryption.data());
  CHECK_FALSE(protocol::openComment(sealedLater, sender.encryption));
}

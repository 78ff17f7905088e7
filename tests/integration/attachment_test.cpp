// Attachments through the real hub: an interrupted upload resumes from the
// offset the hub reports, and the recipient's streamed download decrypts to
// the original bytes.
#include "hub_fixture.hpp"

#include "client/attachment_saver.hpp"
#include "client/bulletin_reader.hpp"
#include "client/key_directory.hpp"
#include "client/spooled_blob.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <random>
#include <sstream>

using namespace focal;
using namespace focal::test;

TEST_CASE("An interrupted upload resumes where the hub stopped, and the download matches", "[integration]") {
  Hub hub;
  auto a = hub.createMember("sg-spf", "SG");
  auto b = hub.createMember("my-pdrm", "MY");
  TempDir work;
  const auto plainFile = work.path() / "capture.pcap";
  std::string plain(1300 * 1024, '\0');
  std::mt19937 rng(11);
  for (auto& c : plain) c = static_cast<char>(rng());
  std::ofstream(plainFile, std::ios::binary) << plain;

  auto contentKey = crypto::ContentKey::random();
  auto blob = client::SpooledBlob::encrypt(plainFile, crypto::attachmentKey(contentKey, 0), work.path());
  REQUIRE(blob.size() > 2 * protocol::MaxChunkBytes);

  client::ConnectOptions oneChunk;
  oneChunk.chunkWindow = 1;  // deterministic: chunk 0 is confirmed before chunk 1 is read
  {
    auto first = hub.connect(a.keys, oneChunk);
    const auto full = blob.reader();
    client::BlobReader failing = [&](std::uint64_t offset, std::span<std::uint8_t> out) -> std::size_t {
      if (offset >= protocol::MaxChunkBytes) throw std::runtime_error("disk went away");
      return full(offset, out);
    };
    CHECK_THROWS_WITH(first->uploadBlob(failing, blob.size(), blob.hash()), "disk went away");
  }
  std::uint64_t resumedAt = ~0ull, last = 0;
  auto second = hub.connect(a.keys, oneChunk);
  second->uploadBlob(blob.reader(), blob.size(), blob.hash(), [&](std::uint64_t done, std::uint64_t total) {
    if (resumedAt == ~0ull) resumedAt = done;
    last = done;
    CHECK(total == blob.size());
  });
  CHECK(resumedAt == protocol::MaxChunkBytes);
  CHECK(last == blob.size());

  protocol::BulletinDraft d;
  d.tlp = wire::Tlp::AMBER;
  d.category = wire::Category::TOOL;
  d.title = "capture";
  d.addresses = {"my-pdrm"};
  d.recipients = {{"my-pdrm", b.keys.encryption.publicKey}};
  d.attachments.push_back({"capture.pcap", "application/vnd.tcpdump.pcap", blob.plainSize(), blob.hash(), blob.size()});
  auto sealed = protocol::sealBulletin(d, a.keys, contentKey, nowMs());
  REQUIRE(sealed.ok());
  second->send(*sealed);

  auto rc = hub.connect(b.keys);
  auto page = rc->fetch(0);
  REQUIRE(page.items.size() == 1);
  const auto dir = client::HubDirectory::fetch(*rc);
  auto opened = client::openReceived(page.items[0].bulletin, dir, b.keys);
  REQUIRE(opened.ok());
  REQUIRE(opened->attachments.size() == 1);
  const auto& att = opened->attachments[0];
  client::AttachmentSaver saver(work.path(), crypto::attachmentKey(opened->contentKey, 0), att.blobHash, att.blobSize);
  rc->downloadBlob(opened->id, att.blobHash, att.blobSize, [&](crypto::ByteView bytes) { saver.write(bytes); });
  const auto saved = saver.finish("received.pcap", false);
  std::ifstream in(saved, std::ios::binary);
  std::stringstream got;
  got << in.rdbuf();
  CHECK(got.str() == plain);

  // A member who is not a recipient cannot download it.
  auto c = hub.createMember("th-tcsd", "TH");
  auto stranger = hub.connect(c.keys);
  CHECK_THROWS_AS(stranger->downloadBlob(opened->id, att.blobHash, att.blobSize, [](crypto::ByteView) {}),
                  client::HubError);
}

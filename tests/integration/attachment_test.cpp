// Attachments through the real hub: an interrupted upload resumes from the
// offset the hub reports, and the recipient's streamed download decrypts to
// the original bytes.
#include "hub_fixture.hpp"

#include "client/client_error.hpp"

#include <catch2/catch.hpp>

using namespace focal;
using namespace focal::test;

TEST_CASE_METHOD(TwoMembers, "An interrupted upload resumes where the hub stopped, and the download matches",
                 "[integration]") {
  TempDir work;
  const auto file = randomAttachment(work.path(), "capture.pcap", 1300 * 1024, 11);
  const auto& blob = file.blob;
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

  auto d = draftTo({&b.keys}, "capture", wire::Tlp::AMBER, wire::Category::TOOL);
  d.attachments.push_back(file.entry("application/vnd.tcpdump.pcap"));
  second->send(sealDraft(d, a.keys, file.contentKey));

  auto rc = hub.connect(b.keys);
  const auto saved = saveOnlyAttachment(*rc, b.keys, work.path(), "received.pcap");
  CHECK(saved.content == file.plain);

  // A member who is not a recipient cannot download it.
  auto c = hub.createMember("th-tcsd", "TH");
  auto stranger = hub.connect(c.keys);
  const auto& att = saved.attachment;
  CHECK_THROWS_AS(stranger->downloadBlob(saved.bulletinId, att.blobHash, att.blobSize, [](crypto::ByteView) {}),
                  client::HubError);
}

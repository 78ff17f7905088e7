// Push frames: one PushFrames serves a fan-out, each member's frame
// differing only in its seq, byte for byte what frames::push builds alone.
#include "protocol/message.hpp"
#include "server/frames.hpp"

#include <catch2/catch.hpp>

using namespace focal;
using namespace focal::server;

namespace {

protocol::Parsed<wire::ServerFrame> decodeFrame(const crypto::Bytes& frame) {
  REQUIRE(frame.size() > protocol::FrameHeaderBytes);
  std::array<std::uint8_t, protocol::FrameHeaderBytes> prefix{};
  std::copy_n(frame.begin(), prefix.size(), prefix.begin());
  auto len = protocol::frameLength(prefix, protocol::MaxFrameBytes);
  REQUIRE(len);
  REQUIRE(*len == frame.size() - protocol::FrameHeaderBytes);
  auto parsed = protocol::decode<wire::ServerFrame>(
      crypto::ByteView(frame.data() + protocol::FrameHeaderBytes, frame.size() - protocol::FrameHeaderBytes));
  REQUIRE(parsed);
  return std::move(*parsed);
}

crypto::Bytes bytesOf(capnp::Data::Reader d) { return crypto::Bytes(d.begin(), d.end()); }

}  // namespace

TEST_CASE("push frames of a fan-out differ only in seq and equal a push built alone", "[server][frames]") {
  const crypto::Bytes header(300, 0x11), signature(64, 0x22), ciphertext(1500, 0x33);
  const StoredRecord forward{crypto::Bytes(40, 0x44), crypto::Bytes(64, 0x55)};
  frames::PushFrames pushes(1'700'000, header, signature, ciphertext, &forward, nullptr);
  const auto a = pushes.frame(5);
  const auto b = pushes.frame(9);
  const auto again = pushes.frame(5);
  CHECK(a == again);
  CHECK(a == frames::push(5, 1'700'000, header, signature, ciphertext, &forward, nullptr));
  CHECK(b == frames::push(9, 1'700'000, header, signature, ciphertext, &forward, nullptr));
  REQUIRE(a.size() == b.size());
  CHECK(a != b);

  for (const auto& [frame, seq] : {std::pair{&a, 5u}, std::pair{&b, 9u}}) {
    auto parsed = decodeFrame(*frame);
    const auto root = parsed.root();
    REQUIRE(root.isPush());
    CHECK(root.getId() == 0);
    const auto d = root.getPush();
    CHECK(d.getSeq() == seq);
    CHECK(d.getQueuedAtMs() == 1'700'000);
    CHECK(bytesOf(d.getBulletin().getHeader()) == header);
    CHECK(bytesOf(d.getBulletin().getSignature()) == signature);
    CHECK(bytesOf(d.getBulletin().getCiphertext()) == ciphertext);
    REQUIRE(d.hasForward());
    CHECK(bytesOf(d.getForward().getBody()) == forward.body);
    CHECK_FALSE(d.hasRetraction());
  }
}

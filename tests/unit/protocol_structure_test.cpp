// PROTOCOL.md §3, the decoding limits as an independent implementation
// computes them: every pointer of a message is checked, including those of
// fields the schema does not know (a newer peer's), and the traversal cost and
// nesting depth are counted by the rule written in §3. Each limit is tested at
// its edge: exactly at the limit accepted, one word (or level) over refused.
//
// Messages are crafted word by word. A ClientFrame root is given one pointer
// more than the schema knows (pointer index P, an "unknown field"); the data
// section is all zero (id 0, the first union member with a null pointer),
// which decodes.
#include "protocol/message.hpp"

#include <capnp/message.h>
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

using namespace focal;
using namespace focal::protocol;
using crypto::Bytes;
using crypto::ByteView;

namespace {

constexpr std::uint64_t D = wire::ClientFrame::_capnpPrivate::dataWordSize;
constexpr std::uint64_t P = wire::ClientFrame::_capnpPrivate::pointerCount;

std::uint64_t structWord(std::int32_t offset, std::uint64_t dataWords, std::uint64_t ptrs) {
  return (std::uint64_t{static_cast<std::uint32_t>(offset) << 2}) | (dataWords << 32) | (ptrs << 48);
}
enum Elem : std::uint64_t { VoidElems = 0, ByteElems = 2, PointerElems = 6, CompositeElems = 7 };
std::uint64_t listWord(std::int32_t offset, Elem size, std::uint64_t count) {
  return 1u | (std::uint64_t{static_cast<std::uint32_t>(offset) << 2}) | (std::uint64_t{size} << 32) | (count << 35);
}
std::uint64_t farWord(bool doubleFar, std::uint32_t offsetWords, std::uint32_t segment) {
  return 2u | (doubleFar ? 4u : 0u) | (std::uint64_t{offsetWords} << 3) | (std::uint64_t{segment} << 32);
}
std::uint64_t capabilityWord(std::uint32_t index) { return 3u | (std::uint64_t{index} << 32); }

Bytes serialise(const std::vector<std::vector<std::uint64_t>>& segments) {
  Bytes out;
  auto le32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  };
  le32(static_cast<std::uint32_t>(segments.size() - 1));
  for (const auto& s : segments) le32(static_cast<std::uint32_t>(s.size()));
  while (out.size() % 8 != 0) out.push_back(0);
  for (const auto& s : segments) {
    for (std::uint64_t w : s) {
      for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(w >> (8 * i)));
    }
  }
  return out;
}

// The root ClientFrame struct's words (data, the known pointers, then the
// unknown pointer), without the pointer to it.
std::vector<std::uint64_t> rootBody(std::uint64_t unknownPointer) {
  std::vector<std::uint64_t> w(D + P, 0);
  w.push_back(unknownPointer);
  return w;
}

// Segment 0: root pointer, root struct, then `tail` right after the unknown
// pointer (an offset-0 pointer there points at the tail's first word).
Bytes withUnknownField(std::uint64_t unknownPointer, const std::vector<std::uint64_t>& tail = {}) {
  std::vector<std::uint64_t> seg{structWord(0, D, P + 1)};
  for (auto w : rootBody(unknownPointer)) seg.push_back(w);
  seg.insert(seg.end(), tail.begin(), tail.end());
  return serialise({seg});
}

// N/8 + 16: the traversal budget of §3 for a body of `bytes`.
std::uint64_t budgetOf(const Bytes& bytes) { return bytes.size() / 8 + 16; }

bool accepted(const Bytes& b) { return decode<wire::ClientFrame>(b).ok(); }
std::string refusal(const Bytes& b) {
  auto r = decode<wire::ClientFrame>(b);
  if (r.ok()) return "(accepted)";
  CHECK(r.error().code == wire::ErrorCode::MALFORMED_FRAME);
  return r.error().message;
}

}  // namespace

TEST_CASE("An unknown field is checked like a known one: no capability pointer", "[protocol][frame][decode][structure]") {
  REQUIRE(accepted(withUnknownField(0)));  // the crafted frame is sound with a null unknown field
  CHECK_THAT(refusal(withUnknownField(capabilityWord(0))), Catch::Matchers::Contains("capability"));
  CHECK_THAT(refusal(withUnknownField(capabilityWord(7))), Catch::Matchers::Contains("capability"));
  // A pointer of kind "other" that is not a capability either.
  CHECK_THAT(refusal(withUnknownField(3u | (5u << 2))), Catch::Matchers::Contains("unknown kind"));
  // The reference client reads ServerFrames through the same decoder.
  constexpr std::uint64_t SD = wire::ServerFrame::_capnpPrivate::dataWordSize;
  constexpr std::uint64_t SP = wire::ServerFrame::_capnpPrivate::pointerCount;
  std::vector<std::uint64_t> seg{structWord(0, SD, SP + 1)};
  seg.resize(1 + SD + SP, 0);
  seg.push_back(capabilityWord(0));
  CHECK_FALSE(decode<wire::ServerFrame>(serialise({seg})).ok());
}

TEST_CASE("An unknown List(Void) is charged one word per element", "[protocol][frame][decode][structure]") {
  // The case: 2^28 elements in no bytes at all.
  CHECK_THAT(refusal(withUnknownField(listWord(0, VoidElems, 1u << 28))), Catch::Matchers::Contains("traversal limit"));
  // Cost = 1 (root pointer) + (D + P + 1) (root struct) + count; size in
  // words = 1 (segment table) + 1 + D + P + 1. So count may be 17.
  const Bytes atLimit = withUnknownField(listWord(0, VoidElems, 17));
  CHECK(1 + (D + P + 1) + 17 == budgetOf(atLimit));
  CHECK(accepted(atLimit));
  CHECK_THAT(refusal(withUnknownField(listWord(0, VoidElems, 18))), Catch::Matchers::Contains("traversal limit"));
}

TEST_CASE("A composite list's tag word is charged, and zero-sized elements one word each",
          "[protocol][frame][decode][structure]") {
  // Unknown pointer -> composite list of 0 words; its tag claims `n` elements
  // of 0 data and 0 pointers. Cost = 1 + (D + P + 1) + 1 (tag) + 0 + n;
  // size = 1 + 1 + D + P + 1 + 1 words: n may be 17.
  auto zeroSized = [](std::uint64_t n) { return withUnknownField(listWord(0, CompositeElems, 0), {n << 2}); };
  CHECK(1 + (D + P + 1) + 1 + 17 == budgetOf(zeroSized(17)));
  CHECK(accepted(zeroSized(17)));
  CHECK_THAT(refusal(zeroSized(18)), Catch::Matchers::Contains("traversal limit"));
  // A tag that is not a struct tag, and elements that overrun the word count.
  CHECK_FALSE(accepted(withUnknownField(listWord(0, CompositeElems, 1), {listWord(0, ByteElems, 1), 0})));
  CHECK_FALSE(accepted(withUnknownField(listWord(0, CompositeElems, 1), {(2u << 2) | structWord(0, 1, 0), 0})));
}

TEST_CASE("Far pointer landing pads are charged: one word, or two for a double-far",
          "[protocol][frame][decode][structure]") {
  auto single = [](std::uint64_t count) {
    // seg 0: far pointer -> seg 1 word 0 (pad: the struct pointer, offset 0 -> word 1)
    std::vector<std::uint64_t> seg1{structWord(0, D, P + 1)};
    for (auto w : rootBody(listWord(0, VoidElems, count))) seg1.push_back(w);
    return serialise({{farWord(false, 0, 1)}, seg1});
  };
  auto doubled = [](std::uint64_t count) {
    // seg 0: double-far -> seg 1 (pad: far -> seg 2 word 0, then the tag); seg 2: the struct.
    return serialise({{farWord(true, 0, 1)}, {farWord(false, 0, 2), structWord(0, D, P + 1)},
                      rootBody(listWord(0, VoidElems, count))});
  };
  // single: cost 1 + 1 (pad) + (D + P + 1) + count; size 2 (table) + 1 + 1 + D + P + 1.
  CHECK(1 + 1 + (D + P + 1) + 18 == budgetOf(single(18)));
  CHECK(accepted(single(18)));
  CHECK_THAT(refusal(single(19)), Catch::Matchers::Contains("traversal limit"));
  // double: cost 1 + 2 (pad) + (D + P + 1) + count; size 2 + 1 + 2 + D + P + 1.
  CHECK(1 + 2 + (D + P + 1) + 18 == budgetOf(doubled(18)));
  CHECK(accepted(doubled(18)));
  CHECK_THAT(refusal(doubled(19)), Catch::Matchers::Contains("traversal limit"));
  // A pad out of bounds, a pad that is itself far, a double-far whose first word is not far.
  CHECK_FALSE(accepted(serialise({{farWord(false, 1, 1)}, {structWord(0, 0, 0)}})));
  CHECK_FALSE(accepted(serialise({{farWord(false, 0, 1)}, {farWord(false, 0, 0)}})));
  CHECK_FALSE(accepted(serialise({{farWord(true, 0, 1)}, {structWord(0, 0, 0), structWord(0, 0, 0)}})));
}

TEST_CASE("Two pointers to one object are charged twice", "[protocol][frame][decode][structure]") {
  // Unknown pointer -> pointer list of k elements, each a Data of 8 words at
  // the same place. Cost = 1 + (D + P + 1) + k + 8k; size = 1 + 1 + D + P + 1 + k + 8,
  // so cost <= size + 16 while 8k <= 25: k = 3 passes, k = 4 does not.
  auto shared = [](std::uint64_t k) {
    std::vector<std::uint64_t> tail;
    const auto dataAt = static_cast<std::int32_t>(k);  // the 8 words after the k pointers
    for (std::uint64_t i = 0; i < k; ++i) {
      tail.push_back(listWord(dataAt - static_cast<std::int32_t>(i) - 1, ByteElems, 64));
    }
    tail.resize(tail.size() + 8, 0x4141414141414141ull);
    return withUnknownField(listWord(0, PointerElems, k), tail);
  };
  CHECK(accepted(shared(1)));
  CHECK(accepted(shared(3)));
  CHECK_FALSE(accepted(shared(4)));
}

TEST_CASE("Depth: the root struct is level 1, 16 levels are accepted, 17 refused", "[protocol][frame][decode][structure]") {
  // Unknown pointer -> a chain of `m` structs of one pointer each; the last
  // pointer is null. The deepest struct is at level 1 + m.
  auto chain = [](std::uint64_t m) {
    std::vector<std::uint64_t> tail;
    for (std::uint64_t i = 0; i + 1 < m; ++i) tail.push_back(structWord(0, 0, 1));
    tail.push_back(0);
    return withUnknownField(structWord(0, 0, 1), tail);
  };
  CHECK(accepted(chain(15)));  // levels 1..16
  CHECK_THAT(refusal(chain(16)), Catch::Matchers::Contains("nested"));
  // A Data (a list of bytes) is an object too: at level 16 accepted, at 17 refused.
  auto chainToData = [](std::uint64_t m) {
    std::vector<std::uint64_t> tail;
    for (std::uint64_t i = 0; i + 1 < m; ++i) tail.push_back(structWord(0, 0, 1));
    tail.push_back(listWord(0, ByteElems, 8));
    tail.push_back(0x0041414141414141ull);
    return withUnknownField(structWord(0, 0, 1), tail);
  };
  // chainToData(m): m structs (levels 2..m + 1), the last one's pointer -> Data at level m + 2.
  CHECK(accepted(chainToData(14)));
  CHECK_THAT(refusal(chainToData(15)), Catch::Matchers::Contains("nested"));
}

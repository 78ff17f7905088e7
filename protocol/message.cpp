// Framing and decoding of untrusted Cap'n Proto bytes (see message.hpp).
//
// SECURITY: every function here except toBytes/toFrame/errorName runs on
// attacker-controlled bytes. No length from the wire is trusted before it is
// compared with a limit; no kj::Exception leaves this file.
#include "protocol/message.hpp"

#include "protocol/text.hpp"

#include <capnp/dynamic.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>
#include <kj/io.h>
#include <kj/debug.h>
#include <kj/exception.h>

#include <cstring>
#include <exception>
#include <unordered_map>
#include <vector>

namespace focal::protocol {

namespace {

WireError malformed(std::string message) { return WireError{wire::ErrorCode::MALFORMED_FRAME, std::move(message)}; }

// A structural defect found by RawWalk; becomes malformedFrame.
struct WalkError {
  std::string why;
};

// A kj description reads "expected <condition>; <text>" for KJ_REQUIRE
// failures. The peer gets the text only, cut short: enough to debug a client,
// nothing about our source.
std::string shortReason(kj::StringPtr description) {
  std::string_view d(description.cStr(), description.size());
  if (auto semi = d.rfind("; "); semi != std::string_view::npos) d.remove_prefix(semi + 2);
  constexpr std::size_t MaxReason = 120;
  if (d.size() > MaxReason) d = d.substr(0, MaxReason);
  return "malformed message: " + std::string(d);
}

// Typed walk of everything the schema knows about, through the same readers
// the handlers will use. RawWalk checks pointers, bounds and cost, but not
// what only a typed read checks: NUL-terminated Text, a list pointer
// where a struct is expected (or the reverse), list element sizes that do not
// match the schema. Recursion is bounded by the reader's nesting limit.
//
// SECURITY: every Text is also checked to be valid UTF-8 without NUL
// (protocol/text.hpp), so no reader of a decoded message meets a text that
// a C-string conversion would cut short or that is not text at all. The
// first bad field is reported by its schema name.
struct TextFault {
  kj::StringPtr field;
  TextProblem problem = TextProblem::None;
};

void walkValue(capnp::DynamicValue::Reader value, kj::StringPtr field, TextFault& fault);

// Whether reading the field can fail: pointer fields (Text, Data, lists,
// structs) and groups (which hold pointer fields in turn). A void, bool,
// number or enum is read from the data section, where a read past its end
// yields the default: there is nothing to check, and reading it through
// the dynamic API only cost schema look-ups (about half of a push's
// decoding time in the bench's receivers).
bool mayFail(const capnp::StructSchema::Field& field) {
  const auto proto = field.getProto();
  if (proto.isGroup()) return true;
  switch (proto.getSlot().getType().which()) {
    case capnp::schema::Type::TEXT:
    case capnp::schema::Type::DATA:
    case capnp::schema::Type::LIST:
    case capnp::schema::Type::STRUCT:
    case capnp::schema::Type::ANY_POINTER:
    case capnp::schema::Type::INTERFACE:
      return true;
    default:
      return false;
  }
}

// The non-union fields of a struct type that walkStruct reads, computed
// once per type and thread (schemas are immutable and few).
const std::vector<capnp::StructSchema::Field>& checkedFields(const capnp::StructSchema& schema) {
  thread_local std::unordered_map<std::uint64_t, std::vector<capnp::StructSchema::Field>> cache;
  auto it = cache.find(schema.getProto().getId());
  if (it == cache.end()) {
    std::vector<capnp::StructSchema::Field> fields;
    for (auto field : schema.getNonUnionFields()) {
      if (mayFail(field)) fields.push_back(field);
    }
    it = cache.emplace(schema.getProto().getId(), std::move(fields)).first;
  }
  return it->second;
}

void walkStruct(capnp::DynamicStruct::Reader s, TextFault& fault) {
  for (const auto& field : checkedFields(s.getSchema())) {
    walkValue(s.get(field), field.getProto().getName(), fault);
    if (fault.problem != TextProblem::None) return;
  }
  KJ_IF_MAYBE(field, s.which()) {
    if (mayFail(*field)) walkValue(s.get(*field), field->getProto().getName(), fault);
  }
  // An unknown union discriminant (a newer peer) reads as "no member"; the
  // handler answers invalidRequest for it.
}

void walkValue(capnp::DynamicValue::Reader value, kj::StringPtr field, TextFault& fault) {
  switch (value.getType()) {
    case capnp::DynamicValue::TEXT: {
      const auto text = value.as<capnp::Text>();
      if (const auto problem = checkText(std::string_view(text.begin(), text.size())); problem != TextProblem::None) {
        fault = TextFault{field, problem};
      }
      break;
    }
    case capnp::DynamicValue::DATA:
      (void)value.as<capnp::Data>();
      break;
    case capnp::DynamicValue::LIST:
      for (auto element : value.as<capnp::DynamicList>()) {
        walkValue(element, field, fault);
        if (fault.problem != TextProblem::None) return;
      }
      break;
    case capnp::DynamicValue::STRUCT:
      walkStruct(value.as<capnp::DynamicStruct>(), fault);
      break;
    case capnp::DynamicValue::ANY_POINTER:
    case capnp::DynamicValue::CAPABILITY:
      // The schema has neither; unknown fields are covered by RawWalk.
      break;
    default:  // void, bool, numbers, enums: nothing behind them
      break;
  }
}

// Slack over one pass, in words (PROTOCOL.md §3): a message may cost its own
// size in words plus this much. A message built by a Cap'n Proto builder
// costs at most its size (the segment table is part of the size and is never
// charged), so the slack only admits up to 16 elements of zero-sized lists.
constexpr std::uint64_t OnePassSlackWords = 16;

// ---- the raw structural walk (PROTOCOL.md §3) ----------------------------------
//
// Follows every pointer of the message from the root, whatever the schema
// says about it (unknown fields from a newer schema and unknown union
// members included), and charges each object it reaches by the rule of §3:
//   root pointer 1 word; a far pointer's landing pad 1 or 2 words; a struct
//   data + pointer words; a list its content words (ceil(count * bits / 64)),
//   a list of Void `count`; a composite list 1 (tag) + its word count, plus
//   `count` when its elements are zero-sized.
// An object reached twice is charged twice. Refused: a total over the budget,
// an object deeper than MaxNestingDepth (the root struct is at depth 1, an
// object reached through a pointer held by an object at depth d is at d + 1;
// a composite list's elements belong to the list), any pointer of kind
// "other" (capabilities), an object or landing pad outside its segment, a far
// pointer to a segment that does not exist, a landing pad that is not a
// struct or list pointer, a composite list whose tag is not a struct tag or
// whose elements overrun its word count. This is the definition the hub and
// the reference client apply; the typed walk below then checks the fields the
// schema knows (Text terminators, pointer kinds, element sizes).
class RawWalk {
 public:
  // `message` must already have passed FlatArrayMessageReader's segment
  // table checks (the table fits, the sizes add up to the message).
  RawWalk(kj::ArrayPtr<const capnp::word> message, std::uint64_t budget) : budget_(budget) {
    // The reader has validated the segment table; read it again for the
    // segment boundaries (little-endian u32: count - 1, then the sizes).
    const auto* table = reinterpret_cast<const kj::byte*>(message.begin());
    const std::uint32_t count = le32(table) + 1;
    const std::size_t tableWords = count / 2 + 1;
    std::size_t at = tableWords;
    for (std::uint32_t i = 0; i < count; ++i) {
      const std::uint32_t size = le32(table + 4 * (i + 1));
      segments_.push_back(kj::arrayPtr(message.begin() + at, size));
      at += size;
    }
  }

  void run() {
    charge(1);  // the root pointer
    if (segments_.empty() || segments_[0].size() == 0) fail("the message has no root pointer");
    pointer(0, 0, 1);
  }

 private:
  [[noreturn]] static void fail(const std::string& why) { throw WalkError{why}; }

  static std::uint32_t le32(const kj::byte* p) {
    return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 24);
  }
  std::uint64_t load(std::uint32_t seg, std::uint64_t index) const {
    const auto* p = reinterpret_cast<const kj::byte*>(segments_[seg].begin() + index);
    return std::uint64_t{le32(p)} | (std::uint64_t{le32(p + 4)} << 32);
  }
  // The signed 30-bit word offset of a struct or list pointer.
  static std::int64_t offsetOf(std::uint64_t w) {
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(w)) >> 2;
  }
  void charge(std::uint64_t words) {
    cost_ += words;
    if (cost_ > budget_) {
      fail("the message exceeds its traversal limit (" + std::to_string(budget_) + " words)");
    }
  }
  // [pos, pos + words) lies inside segment `seg`.
  void bounds(std::uint32_t seg, std::int64_t pos, std::uint64_t words, const char* what) const {
    if (pos < 0 || static_cast<std::uint64_t>(pos) > segments_[seg].size() ||
        words > segments_[seg].size() - static_cast<std::uint64_t>(pos)) {
      fail(std::string(what) + " lies outside its segment");
    }
  }
  std::uint32_t segmentOf(std::uint64_t farWord) const {
    const auto id = static_cast<std::uint32_t>(farWord >> 32);
    if (id >= segments_.size()) fail("a far pointer names a segment that does not exist");
    return id;
  }

  // The pointer stored at word `index` of segment `seg`; its object is at `depth`.
  void pointer(std::uint32_t seg, std::uint64_t index, int depth) {
    const std::uint64_t w = load(seg, index);
    if (w == 0) return;  // null
    const unsigned kind = w & 3u;
    if (kind == 3) {
      fail(((w >> 2) & 0x3fffffffu) == 0 ? "a capability pointer (capabilities are never allowed)"
                                          : "a pointer of unknown kind");
    }
    if (depth > MaxNestingDepth) fail("nested more than " + std::to_string(MaxNestingDepth) + " levels deep");
    if (kind != 2) {
      object(w, seg, static_cast<std::int64_t>(index) + 1 + offsetOf(w), depth);
      return;
    }
    // Far pointer: a landing pad of one word (a struct or list pointer whose
    // offset is relative to the pad) or two (a far pointer to the object's
    // start, then a tag giving its kind and size).
    const std::uint32_t padSeg = segmentOf(w);
    const bool doubleFar = (w >> 2) & 1u;
    const std::int64_t padAt = static_cast<std::int64_t>((w >> 3) & 0x1fffffffu);
    const std::uint64_t padWords = doubleFar ? 2 : 1;
    bounds(padSeg, padAt, padWords, "a far pointer's landing pad");
    charge(padWords);
    if (!doubleFar) {
      const std::uint64_t ref = load(padSeg, static_cast<std::uint64_t>(padAt));
      if ((ref & 3u) > 1) fail("a far pointer's landing pad is not a struct or list pointer");
      object(ref, padSeg, padAt + 1 + offsetOf(ref), depth);
      return;
    }
    const std::uint64_t far = load(padSeg, static_cast<std::uint64_t>(padAt));
    const std::uint64_t tag = load(padSeg, static_cast<std::uint64_t>(padAt) + 1);
    if ((far & 3u) != 2) fail("the first word of a double-far landing pad is not a far pointer");
    if ((tag & 3u) > 1) fail("the tag of a double-far landing pad is not a struct or list pointer");
    object(tag, segmentOf(far), static_cast<std::int64_t>((far >> 3) & 0x1fffffffu), depth);
  }

  // The object described by struct or list pointer `ref`, starting at word
  // `pos` of segment `seg`.
  void object(std::uint64_t ref, std::uint32_t seg, std::int64_t pos, int depth) {
    if ((ref & 3u) == 0) {  // struct
      const std::uint64_t data = (ref >> 32) & 0xffffu;
      const std::uint64_t ptrs = ref >> 48;
      bounds(seg, pos, data + ptrs, "a struct");
      charge(data + ptrs);
      for (std::uint64_t i = 0; i < ptrs; ++i) pointer(seg, static_cast<std::uint64_t>(pos) + data + i, depth + 1);
      return;
    }
    const unsigned elementSize = (ref >> 32) & 7u;
    const std::uint64_t count = ref >> 35;  // elements, or words for a composite list
    static constexpr std::uint64_t BitsPerElement[] = {0, 1, 8, 16, 32, 64, 64};
    if (elementSize == 7) {  // composite: tag word, then `count` words of elements
      bounds(seg, pos, 1 + count, "a composite list");
      charge(1 + count);
      const std::uint64_t tag = load(seg, static_cast<std::uint64_t>(pos));
      if ((tag & 3u) != 0) fail("a composite list's tag is not a struct tag");
      const std::uint64_t elements = (tag >> 2) & 0x3fffffffu;
      const std::uint64_t data = (tag >> 32) & 0xffffu;
      const std::uint64_t ptrs = tag >> 48;
      if (elements * (data + ptrs) > count) fail("a composite list's elements overrun its word count");
      if (data + ptrs == 0) charge(elements);
      for (std::uint64_t e = 0; e < elements && ptrs != 0; ++e) {
        const std::uint64_t first = static_cast<std::uint64_t>(pos) + 1 + e * (data + ptrs) + data;
        for (std::uint64_t i = 0; i < ptrs; ++i) pointer(seg, first + i, depth + 1);
      }
      return;
    }
    const std::uint64_t words = (count * BitsPerElement[elementSize] + 63) / 64;
    bounds(seg, pos, words, "a list");
    charge(elementSize == 0 ? count : words);
    if (elementSize == 6) {
      for (std::uint64_t i = 0; i < count; ++i) pointer(seg, static_cast<std::uint64_t>(pos) + i, depth + 1);
    }
  }

  std::vector<kj::ArrayPtr<const capnp::word>> segments_;
  std::uint64_t budget_;
  std::uint64_t cost_ = 0;
};

capnp::ReaderOptions readerOptions(std::size_t messageBytes) {
  capnp::ReaderOptions opts;
  opts.traversalLimitInWords = traversalLimitWords(messageBytes);
  opts.nestingLimit = MaxNestingDepth;
  return opts;
}

}  // namespace

Expected<std::uint32_t, WireError> frameLength(std::span<const std::uint8_t, FrameHeaderBytes> prefix,
                                               std::uint32_t max) {
  const std::uint32_t len = (std::uint32_t{prefix[0]} << 24) | (std::uint32_t{prefix[1]} << 16) |
                            (std::uint32_t{prefix[2]} << 8) | std::uint32_t{prefix[3]};
  if (len > max) {
    return unexpected(WireError{wire::ErrorCode::FRAME_TOO_LARGE,
                                "frame of " + std::to_string(len) + " bytes exceeds the limit of " +
                                    std::to_string(max)});
  }
  if (len == 0) return unexpected(malformed("empty frame"));
  if (len % sizeof(capnp::word) != 0) return unexpected(malformed("frame length is not a multiple of 8"));
  return len;
}

template <class T>
Expected<Parsed<T>, WireError> decode(ByteView bytes) {
  if (bytes.empty()) return unexpected(malformed("empty message"));
  if (bytes.size() % sizeof(capnp::word) != 0) return unexpected(malformed("message length is not a multiple of 8"));

  // Our own aligned copy: the caller's buffer may sit at any offset, and the
  // message must outlive it.
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  const capnp::ReaderOptions opts = readerOptions(bytes.size());

  try {
    // Two throwaway readers do the checking, each with the budget of one
    // pass over the message (PROTOCOL.md §3: size in words + 16): the raw
    // walk reaches every pointer, known field or not, and is the rule; the
    // typed walk then reads what the schema knows. The caller's reader
    // (budget traversalLimitWords, about four passes) can then read every
    // field several times without a kj::Exception surfacing in a handler.
    capnp::ReaderOptions onePass = opts;
    onePass.traversalLimitInWords = words.size() + OnePassSlackWords;
    {
      capnp::FlatArrayMessageReader structure(words.asPtr(), onePass);
      if (structure.getEnd() != words.end()) return unexpected(malformed("trailing bytes after the message"));
      RawWalk(words.asPtr(), onePass.traversalLimitInWords).run();
    }
    TextFault fault;
    {
      capnp::FlatArrayMessageReader typed(words.asPtr(), onePass);
      walkStruct(capnp::toDynamic(typed.getRoot<T>()), fault);
    }
    if (fault.problem != TextProblem::None) {
      return unexpected(malformed("text field " + std::string(fault.field.cStr()) + " " + describe(fault.problem)));
    }
  } catch (const WalkError& e) {
    return unexpected(malformed("malformed message: " + e.why));
  } catch (const kj::Exception& e) {
    return unexpected(malformed(shortReason(e.getDescription())));
  } catch (const std::exception&) {
    return unexpected(malformed("malformed message"));
  }
  return Parsed<T>(kj::mv(words), opts);
}

template Expected<Parsed<wire::ClientFrame>, WireError> decode<wire::ClientFrame>(ByteView);
template Expected<Parsed<wire::ServerFrame>, WireError> decode<wire::ServerFrame>(ByteView);
template Expected<Parsed<wire::BulletinHeader>, WireError> decode<wire::BulletinHeader>(ByteView);
template Expected<Parsed<wire::Content>, WireError> decode<wire::Content>(ByteView);
template Expected<Parsed<wire::AckBody>, WireError> decode<wire::AckBody>(ByteView);
template Expected<Parsed<wire::LogEvent>, WireError> decode<wire::LogEvent>(ByteView);
template Expected<Parsed<wire::LogHead>, WireError> decode<wire::LogHead>(ByteView);
template Expected<Parsed<wire::LogEntry>, WireError> decode<wire::LogEntry>(ByteView);
template Expected<Parsed<wire::ForwardRecord>, WireError> decode<wire::ForwardRecord>(ByteView);
template Expected<Parsed<wire::Permission>, WireError> decode<wire::Permission>(ByteView);
template Expected<Parsed<wire::ActionItem>, WireError> decode<wire::ActionItem>(ByteView);
template Expected<Parsed<wire::ActionUpdate>, WireError> decode<wire::ActionUpdate>(ByteView);
template Expected<Parsed<wire::Retraction>, WireError> decode<wire::Retraction>(ByteView);
template Expected<Parsed<wire::Comment>, WireError> decode<wire::Comment>(ByteView);
template Expected<Parsed<wire::CommentPayload>, WireError> decode<wire::CommentPayload>(ByteView);
template Expected<Parsed<wire::CarriedHead>, WireError> decode<wire::CarriedHead>(ByteView);
template Expected<Parsed<wire::Proposal>, WireError> decode<wire::Proposal>(ByteView);
template Expected<Parsed<wire::Decision>, WireError> decode<wire::Decision>(ByteView);
template Expected<Parsed<wire::SignedRecord>, WireError> decode<wire::SignedRecord>(ByteView);
template Expected<Parsed<wire::Meeting>, WireError> decode<wire::Meeting>(ByteView);

Bytes toBytes(capnp::MessageBuilder& message) {
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return Bytes(bytes.begin(), bytes.end());
}

Bytes toFrame(capnp::MessageBuilder& message) {
  const std::size_t bodyBytes = capnp::computeSerializedSizeInWords(message) * sizeof(capnp::word);
  // Sizes over 4 GiB cannot come from a MessageBuilder we filled under our
  // own limits; the peer refuses anything over MaxFrameBytes anyway.
  KJ_REQUIRE(bodyBytes <= 0xffffffffu, "message too large to frame");
  const auto len = static_cast<std::uint32_t>(bodyBytes);
  // Serialised straight behind the length prefix: one copy of the message
  // (a flat array first, then the frame, was two allocations and copies).
  Bytes frame(FrameHeaderBytes + bodyBytes);
  frame[0] = static_cast<std::uint8_t>(len >> 24);
  frame[1] = static_cast<std::uint8_t>(len >> 16);
  frame[2] = static_cast<std::uint8_t>(len >> 8);
  frame[3] = static_cast<std::uint8_t>(len);
  kj::ArrayOutputStream out(kj::arrayPtr(reinterpret_cast<kj::byte*>(frame.data()) + FrameHeaderBytes, bodyBytes));
  capnp::writeMessage(out, message);
  KJ_REQUIRE(out.getArray().size() == bodyBytes, "serialised size differs from the computed one");
  return frame;
}

const char* errorName(wire::ErrorCode code) {
  using C = wire::ErrorCode;
  switch (code) {
    case C::INTERNAL: return "internal";
    case C::MALFORMED_FRAME: return "malformed-frame";
    case C::FRAME_TOO_LARGE: return "frame-too-large";
    case C::UNAUTHENTICATED: return "unauthenticated";
    case C::BAD_SIGNATURE: return "bad-signature";
    case C::UNKNOWN_RECIPIENT: return "unknown-recipient";
    case C::REVOKED_KEY: return "revoked-key";
    case C::POLICY_DENIED: return "policy-denied";
    case C::RATE_LIMITED: return "rate-limited";
    case C::DUPLICATE: return "duplicate";
    case C::UNAVAILABLE: return "unavailable";
    case C::NOT_FOUND: return "not-found";
    case C::FORBIDDEN: return "forbidden";
    case C::INVALID_REQUEST: return "invalid-request";
    case C::STALE_TIMESTAMP: return "stale-timestamp";
    case C::UNSUPPORTED_VERSION: return "unsupported-version";
    case C::TOO_MANY_CONNECTIONS: return "too-many-connections";
    case C::SLOW_CONSUMER: return "slow-consumer";
    case C::TIMEOUT: return "timeout";
    case C::TOO_LARGE: return "too-large";
    case C::STALE_POSITION: return "stale-position";
    case C::EXPIRED: return "expired";
  }
  return "unknown-error";  // a code from a newer peer
}

}  // namespace focal::protocol

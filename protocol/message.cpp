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
// the handlers will use. totalSize() alone checks pointers and bounds, but
// not what only a typed read checks: NUL-terminated Text, a list pointer
// where a struct is expected (or the reverse), list element sizes that do not
// match the schema, and the amplification of lists of zero-sized structs
// (each element is charged to the traversal limit only when the list is read
// as a typed list). Recursion is bounded by the reader's nesting limit.
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
      // The schema has neither; an unknown field is covered by totalSize().
      break;
    default:  // void, bool, numbers, enums: nothing behind them
      break;
  }
}

// Slack over one pass, in words. A pass never reads the segment table and
// reads each object once, so a well-formed message needs none; this only
// keeps the bound from being exact to the word.
constexpr std::size_t OnePassSlackWords = 16;

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
    // Throwaway readers do the checking, each with a budget of one pass over
    // the message: a message built by a Cap'n Proto builder is read in full
    // for at most its own size, so anything costlier shares objects between
    // pointers or claims zero-sized list elements, i.e. is an amplification
    // attempt. That leaves the caller's reader (budget traversalLimitWords,
    // about four passes) room to read every field several times without a
    // kj::Exception surfacing in a handler.
    capnp::ReaderOptions onePass = opts;
    onePass.traversalLimitInWords = words.size() + OnePassSlackWords;
    {
      capnp::FlatArrayMessageReader structure(words.asPtr(), onePass);
      if (structure.getEnd() != words.end()) return unexpected(malformed("trailing bytes after the message"));
      (void)structure.getRoot<T>().totalSize();
    }
    TextFault fault;
    {
      capnp::FlatArrayMessageReader typed(words.asPtr(), onePass);
      walkStruct(capnp::toDynamic(typed.getRoot<T>()), fault);
    }
    if (fault.problem != TextProblem::None) {
      return unexpected(malformed("text field " + std::string(fault.field.cStr()) + " " + describe(fault.problem)));
    }
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
template Expected<Parsed<wire::Retraction>, WireError> decode<wire::Retraction>(ByteView);
template Expected<Parsed<wire::Comment>, WireError> decode<wire::Comment>(ByteView);
template Expected<Parsed<wire::Proposal>, WireError> decode<wire::Proposal>(ByteView);
template Expected<Parsed<wire::Decision>, WireError> decode<wire::Decision>(ByteView);
template Expected<Parsed<wire::SignedRecord>, WireError> decode<wire::SignedRecord>(ByteView);

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
  }
  return "unknown-error";  // a code from a newer peer
}

}  // namespace focal::protocol

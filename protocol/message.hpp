// Framing and decoding of untrusted Cap'n Proto bytes.
//
// SECURITY: everything here parses attacker-controlled input. The decoder
//  - checks a frame's length prefix before allocating anything,
//  - copies the body into a fresh capnp::word-aligned buffer,
//  - reads with the synchronous flat-array reader under strict limits
//    (MaxNestingDepth, traversal proportional to size),
//  - walks every pointer of the message once, known field or not, with the
//    cost and depth rules of PROTOCOL.md §3, then every field the schema
//    knows, so structural damage is found here and reported as a typed
//    error, not later in a handler,
//  - refuses any Text field that is not valid UTF-8 or holds a NUL
//    (protocol/text.hpp), naming the field,
//  - never lets a kj::Exception escape: it becomes malformedFrame.
#pragma once

#include "crypto/expected.hpp"
#include "crypto/types.hpp"
#include "protocol/focal.capnp.h"
#include "protocol/limits.hpp"
#include "protocol/text.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>

#include <memory>
#include <string>

namespace focal::protocol {

using crypto::ByteView;
using crypto::Bytes;

struct WireError {
  wire::ErrorCode code;
  std::string message;
};

// Reads the 4-byte big-endian length prefix. Errors: frameTooLarge (over
// `max`), malformedFrame (zero length or not a multiple of 8, since a Cap'n
// Proto message is whole words).
Expected<std::uint32_t, WireError> frameLength(std::span<const std::uint8_t, FrameHeaderBytes> prefix,
                                               std::uint32_t max = MaxFrameBytes);

// A decoded message that owns its aligned bytes. Move-only.
template <class T>
class Parsed {
 public:
  Parsed(kj::Array<capnp::word> words, const capnp::ReaderOptions& opts)
      : words_(kj::mv(words)), reader_(std::make_unique<capnp::FlatArrayMessageReader>(words_.asPtr(), opts)) {}
  typename T::Reader root() const { return reader_->getRoot<T>(); }
  // p->getField(): a Reader is a value, so operator-> hands out a holder
  // that yields a pointer to it (a Reader returned directly cannot chain).
  struct Arrow {
    typename T::Reader reader;
    const typename T::Reader* operator->() const { return &reader; }
  };
  Arrow operator->() const { return Arrow{root()}; }

  // The buffer may hold decrypted content (Parsed<wire::Content>): wipe it.
  ~Parsed() {
    if (words_.size() != 0) sodium_memzero(words_.begin(), words_.size() * sizeof(capnp::word));
  }
  Parsed(Parsed&&) noexcept = default;
  Parsed& operator=(Parsed&& o) noexcept {
    if (this != &o) {
      if (words_.size() != 0) sodium_memzero(words_.begin(), words_.size() * sizeof(capnp::word));
      reader_ = std::move(o.reader_);
      words_ = kj::mv(o.words_);
    }
    return *this;
  }

 private:
  kj::Array<capnp::word> words_;
  std::unique_ptr<capnp::FlatArrayMessageReader> reader_;
};

// Decodes one message body (without the length prefix) as T, with the limits
// above. `bytes` may have any alignment; it is copied.
template <class T>
Expected<Parsed<T>, WireError> decode(ByteView bytes);

// Serialises a builder to standard unpacked framing (no length prefix).
Bytes toBytes(capnp::MessageBuilder& message);
// Serialises with the 4-byte length prefix, ready to write on a stream.
Bytes toFrame(capnp::MessageBuilder& message);

// Convenience views of Cap'n Proto Data/Text as bytes.
inline ByteView view(capnp::Data::Reader d) { return {d.begin(), d.size()}; }
inline std::string_view view(capnp::Text::Reader t) { return {t.begin(), t.size()}; }
inline kj::ArrayPtr<const kj::byte> kjBytes(ByteView b) { return {b.data(), b.size()}; }

// Human name of an error code ("policy-denied"), as used in PROTOCOL.md and the CLI.
const char* errorName(wire::ErrorCode code);

extern template Expected<Parsed<wire::ClientFrame>, WireError> decode<wire::ClientFrame>(ByteView);
extern template Expected<Parsed<wire::ServerFrame>, WireError> decode<wire::ServerFrame>(ByteView);
extern template Expected<Parsed<wire::BulletinHeader>, WireError> decode<wire::BulletinHeader>(ByteView);
extern template Expected<Parsed<wire::Content>, WireError> decode<wire::Content>(ByteView);
extern template Expected<Parsed<wire::AckBody>, WireError> decode<wire::AckBody>(ByteView);
extern template Expected<Parsed<wire::LogEvent>, WireError> decode<wire::LogEvent>(ByteView);
extern template Expected<Parsed<wire::LogHead>, WireError> decode<wire::LogHead>(ByteView);
extern template Expected<Parsed<wire::LogEntry>, WireError> decode<wire::LogEntry>(ByteView);
// Signed working-group records (the bytes inside SignedRecord.body).
extern template Expected<Parsed<wire::ForwardRecord>, WireError> decode<wire::ForwardRecord>(ByteView);
extern template Expected<Parsed<wire::Permission>, WireError> decode<wire::Permission>(ByteView);
extern template Expected<Parsed<wire::Retraction>, WireError> decode<wire::Retraction>(ByteView);
extern template Expected<Parsed<wire::Comment>, WireError> decode<wire::Comment>(ByteView);
extern template Expected<Parsed<wire::Meeting>, WireError> decode<wire::Meeting>(ByteView);
extern template Expected<Parsed<wire::CommentPayload>, WireError> decode<wire::CommentPayload>(ByteView);
extern template Expected<Parsed<wire::CarriedHead>, WireError> decode<wire::CarriedHead>(ByteView);
extern template Expected<Parsed<wire::Proposal>, WireError> decode<wire::Proposal>(ByteView);
extern template Expected<Parsed<wire::Decision>, WireError> decode<wire::Decision>(ByteView);
extern template Expected<Parsed<wire::SignedRecord>, WireError> decode<wire::SignedRecord>(ByteView);

}  // namespace focal::protocol

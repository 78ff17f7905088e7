#include "client/raw_bulletin.hpp"

#include "protocol/message.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>

namespace focal::client {

namespace {
crypto::Bytes copyData(capnp::Data::Reader d) { return crypto::Bytes(d.begin(), d.end()); }
}  // namespace

RawBulletin RawBulletin::fromWire(wire::Bulletin::Reader b) {
  return RawBulletin{copyData(b.getHeader()), copyData(b.getSignature()), copyData(b.getCiphertext())};
}

RawBulletin RawBulletin::fromSealed(const protocol::SealedBulletin& s) {
  return RawBulletin{s.header, crypto::Bytes(s.signature.bytes.begin(), s.signature.bytes.end()), s.ciphertext};
}

void toWire(const RawBulletin& raw, wire::Bulletin::Builder out) {
  out.setHeader(protocol::kjBytes(raw.header));
  out.setSignature(protocol::kjBytes(raw.signature));
  out.setCiphertext(protocol::kjBytes(raw.ciphertext));
}

crypto::Bytes RawBulletin::encode() const {
  capnp::MallocMessageBuilder message;
  toWire(*this, message.initRoot<wire::Bulletin>());
  return protocol::toBytes(message);
}

std::optional<RawBulletin> RawBulletin::decode(crypto::ByteView bytes) {
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0 ||
      bytes.size() > protocol::MaxFrameBytes) {
    return std::nullopt;
  }
  // Word-aligned copy: Cap'n Proto reads words in place.
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  capnp::ReaderOptions opts;
  opts.nestingLimit = protocol::MaxNestingDepth;
  opts.traversalLimitInWords = protocol::traversalLimitWords(bytes.size());
  std::optional<RawBulletin> out;
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                 capnp::FlatArrayMessageReader reader(words.asPtr(), opts);
                 out = fromWire(reader.getRoot<wire::Bulletin>());
               })) {
    (void)e;
    return std::nullopt;
  }
  return out;
}

std::optional<crypto::BulletinId> RawBulletin::claimedId() const {
  auto h = protocol::decode<wire::BulletinHeader>(header);
  if (!h) return std::nullopt;
  return crypto::BulletinId::fromBytes(protocol::view(h->root().getBulletinId()));
}

std::optional<std::string> RawBulletin::claimedSender() const {
  auto h = protocol::decode<wire::BulletinHeader>(header);
  if (!h) return std::nullopt;
  return std::string(protocol::view(h->root().getSenderId()));
}

}  // namespace focal::client

// Directory log: entry hash chain, signed heads and events (see log.hpp).
#include "protocol/log.hpp"

#include "protocol/signing.hpp"

namespace focal::protocol {

namespace {

void putU64(crypto::Hasher& h, std::uint64_t v) {
  std::uint8_t b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
  h.update(ByteView(b, sizeof b));
}

void putText(crypto::Hasher& h, std::string_view t) {
  std::uint8_t b[4];
  const auto n = static_cast<std::uint32_t>(t.size());
  for (int i = 0; i < 4; ++i) b[i] = static_cast<std::uint8_t>(n >> (24 - 8 * i));
  h.update(ByteView(b, sizeof b));
  h.update(crypto::asBytes(t));
}

}  // namespace

crypto::Hash256 auditEntryHash(std::uint64_t index, const crypto::Hash256& prevHash, std::int64_t timeMs,
                               std::string_view event, std::string_view actor, std::string_view remote,
                               std::string_view detail) {
  crypto::Hasher h;
  h.update(crypto::asBytes(context::Audit));
  const std::uint8_t separator = 0;
  h.update(ByteView(&separator, 1));
  putU64(h, index);
  h.update(prevHash.view());
  putU64(h, static_cast<std::uint64_t>(timeMs));
  putText(h, event);
  putText(h, actor);
  putText(h, remote);
  putText(h, detail);
  return h.finish();
}

crypto::Hash256 logEntryHash(std::uint64_t index, const crypto::Hash256& prevHash, std::int64_t recordedAtMs,
                             ByteView event, const crypto::SigningPublicKey& authorKey,
                             const crypto::Signature& signature) {
  crypto::Hasher h;
  h.update(crypto::asBytes(context::LogEntry));
  const std::uint8_t separator = 0;
  h.update(ByteView(&separator, 1));
  putU64(h, index);
  h.update(prevHash.view());
  putU64(h, static_cast<std::uint64_t>(recordedAtMs));  // two's complement, big-endian
  h.update(crypto::hash256(event).view());
  h.update(authorKey.view());
  h.update(signature.view());
  return h.finish();
}

void setLogPosition(wire::LogEvent::Builder event, const LogPosition& position) {
  auto p = event.initPosition();
  p.setHubId(asText(position.hubId));
  p.setIndex(position.index);
  p.setPrevEntryHash(kjBytes(position.prevEntryHash.view()));
}

SignedHead signLogHead(std::string_view hubId, std::uint64_t size, const crypto::Hash256& root, std::int64_t timeMs,
                       const crypto::SigningSecretKey& hubKey) {
  capnp::MallocMessageBuilder message;
  auto head = message.initRoot<wire::LogHead>();
  head.setHubId(asText(hubId));
  head.setSize(size);
  head.setRootHash(kjBytes(root.view()));
  head.setTimeMs(timeMs);
  SignedHead out;
  out.head = toBytes(message);
  out.signature = crypto::sign(context::LogHead, out.head, hubKey);
  return out;
}

SignedEvent signLogEvent(capnp::MessageBuilder& event, const crypto::SigningSecretKey& author) {
  SignedEvent out;
  out.event = toBytes(event);
  out.signature = crypto::sign(context::LogEvent, out.event, author);
  return out;
}

SignedEvent signLogEvent(capnp::MessageBuilder& event, const crypto::SecretKeyOps& author) {
  SignedEvent out;
  out.event = toBytes(event);
  out.signature = author.sign(context::LogEvent, out.event);
  return out;
}

const char* describe(LogError e) {
  switch (e) {
    case LogError::Malformed: return "The log record does not parse or has a field of the wrong length.";
    case LogError::BadSignature: return "The log record's signature does not verify.";
  }
  return "Unknown log error.";
}

Expected<Parsed<wire::LogHead>, LogError> verifyLogHead(ByteView head, const crypto::Signature& sig,
                                                        const crypto::SigningPublicKey& hubKey) {
  if (!crypto::verify(context::LogHead, head, sig, hubKey)) return unexpected(LogError::BadSignature);
  auto parsed = decode<wire::LogHead>(head);
  if (!parsed) return unexpected(LogError::Malformed);
  if (parsed->root().getRootHash().size() != crypto::Hash256::size) return unexpected(LogError::Malformed);
  return std::move(parsed).value();
}

Expected<Parsed<wire::LogEvent>, LogError> verifyLogEvent(ByteView event, const crypto::Signature& sig,
                                                          const crypto::SigningPublicKey& author) {
  if (!crypto::verify(context::LogEvent, event, sig, author)) return unexpected(LogError::BadSignature);
  auto parsed = decode<wire::LogEvent>(event);
  if (!parsed) return unexpected(LogError::Malformed);
  return std::move(parsed).value();
}

}  // namespace focal::protocol

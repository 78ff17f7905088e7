// The directory log: append-only, hash-chained, every entry signed by its
// author, every head signed by the hub (DESIGN.md §7, PROTOCOL.md §Log).
// Pure functions over bytes; the server stores, the client verifies.
#pragma once

#include "crypto/key_ops.hpp"
#include "crypto/primitives.hpp"
#include "protocol/message.hpp"

namespace focal::protocol {

// entryHash(i) = BLAKE2b-256("focal/v1/log-entry" || 0x00 || u64be index ||
//   prevHash || i64be recordedAtMs || BLAKE2b-256(event) || authorKey || signature)
crypto::Hash256 logEntryHash(std::uint64_t index, const crypto::Hash256& prevHash, std::int64_t recordedAtMs,
                             ByteView event, const crypto::SigningPublicKey& authorKey,
                             const crypto::Signature& signature);
inline crypto::Hash256 logGenesisPrev() { return crypto::Hash256{}; }

// hash(i) of the audit trail (focal.capnp AuditEntry):
//   BLAKE2b-256("focal/v1/audit" || 0x00 || u64be index || hash(i-1) || i64be timeMs
//     || for each of event, actor, remote, detail: u32be len || bytes); hash(-1) = 32 zero bytes
crypto::Hash256 auditEntryHash(std::uint64_t index, const crypto::Hash256& prevHash, std::int64_t timeMs,
                               std::string_view event, std::string_view actor, std::string_view remote,
                               std::string_view detail);

// The place an entry is signed for (LogEvent.position, log v2): the log's
// hub, the entry's index and entryHash(index - 1) (logGenesisPrev() for
// entry 0). Set it before signLogEvent.
struct LogPosition {
  std::string hubId;
  std::uint64_t index = 0;
  crypto::Hash256 prevEntryHash;
};
void setLogPosition(wire::LogEvent::Builder event, const LogPosition& position);

// Builds and signs a LogHead.
struct SignedHead {
  Bytes head;
  crypto::Signature signature;
};
SignedHead signLogHead(std::string_view hubId, std::uint64_t size, const crypto::Hash256& root, std::int64_t timeMs,
                       const crypto::SigningSecretKey& hubKey);

// Serialises a LogEvent builder and signs it (admin requests, rotations).
struct SignedEvent {
  Bytes event;
  crypto::Signature signature;
};
SignedEvent signLogEvent(capnp::MessageBuilder& event, const crypto::SigningSecretKey& author);
// The same through a member's key operations (in process or the key agent).
SignedEvent signLogEvent(capnp::MessageBuilder& event, const crypto::SecretKeyOps& author);

// Verifying side of the two functions above: parse only after the signature
// over the exact bytes verified. A head must carry a 32-byte rootHash; the
// caller still checks hubId and that the log only grew.
enum class LogError {
  Malformed,     // bytes do not parse, or a field has the wrong length
  BadSignature,  // signature does not verify under the given key
};
const char* describe(LogError e);
Expected<Parsed<wire::LogHead>, LogError> verifyLogHead(ByteView head, const crypto::Signature& sig,
                                                        const crypto::SigningPublicKey& hubKey);
Expected<Parsed<wire::LogEvent>, LogError> verifyLogEvent(ByteView event, const crypto::Signature& sig,
                                                          const crypto::SigningPublicKey& author);

}  // namespace focal::protocol

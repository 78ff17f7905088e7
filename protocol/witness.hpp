// Witnesses of the directory log (PROTOCOL.md §11.6): the policy a log's
// genesis names (who witnesses, and how many cosignatures k a client
// requires), the cosignature a witness makes over a hub-signed head, and
// the one rule that counts the valid, fresh cosignatures of a head. Pure:
// no I/O. The hub checks a submitted cosignature with checkCosignature, a
// client counts them with countCosignatures before it seals or accepts.
//
// SECURITY: a cosignature says "the witness saw the hub's log at this size
// and root, and never cosigned a head it conflicts with". A hub that shows
// two views of its log can get cosignatures for at most one of them from
// an honest witness, so a client that requires k fresh cosignatures from
// distinct witnesses is shown a view that at least k witnesses also saw.
// The witness key is the policy's, never the member's current key: an
// admin (or the hub) rotating a witness member's keys does not move it.
#pragma once

#include "crypto/key_ops.hpp"
#include "crypto/primitives.hpp"
#include "protocol/message.hpp"
#include "protocol/limits.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace focal::protocol {

struct WitnessKey {
  std::string memberId;
  crypto::SigningPublicKey key;
  bool operator==(const WitnessKey&) const = default;
};

struct WitnessPolicy {
  std::vector<WitnessKey> witnesses;
  std::uint32_t threshold = 0;  // k; 0 = no witnessing

  bool active() const { return threshold > 0; }
  const WitnessKey* find(std::string_view memberId) const;
  bool operator==(const WitnessPolicy&) const = default;
};

// Most witnesses a policy may name.
inline constexpr std::size_t MaxWitnesses = 32;

// Reads and checks a policy: member ids in member-id syntax, 32-byte keys,
// ids and keys distinct, at most MaxWitnesses, 1 <= k <= witnesses (or
// k = 0 with no witnesses). Error: the sentence saying what is wrong.
Expected<WitnessPolicy, std::string> readWitnessPolicy(wire::WitnessPolicy::Reader policy);
void writeWitnessPolicy(wire::WitnessPolicy::Builder out, const WitnessPolicy& policy);

// How old a cosignature may be (by its cosignedAtMs) and still count, and
// how far in the future (the witness's clock ahead of the client's).
inline constexpr std::int64_t CosignatureFreshnessMs = 24LL * 60 * 60 * 1000;
inline constexpr std::int64_t CosignatureFutureMs = MaxClockSkewMs;

struct Cosignature {
  std::string witnessId;
  crypto::Bytes head;               // LogHead bytes, as the hub signed them
  crypto::Signature headSignature;  // the hub's
  std::int64_t cosignedAtMs = 0;
  crypto::Signature signature;      // the witness's, context "focal/v1/cosign"
};

// The bytes a cosignature signs (after "focal/v1/cosign" || 0x00):
// head || i64be cosignedAtMs.
crypto::Bytes cosignMessage(crypto::ByteView head, std::int64_t cosignedAtMs);
Cosignature cosign(std::string witnessId, crypto::ByteView head, const crypto::Signature& headSignature,
                   std::int64_t cosignedAtMs, const crypto::SigningSecretKey& witnessKey);
Cosignature cosign(std::string witnessId, crypto::ByteView head, const crypto::Signature& headSignature,
                   std::int64_t cosignedAtMs, const crypto::SecretKeyOps& witness);

// Wire form. read checks only lengths (64-byte signatures, a head of at
// most 1 KiB); checkCosignature does the rest.
Expected<Cosignature, std::string> readCosignature(wire::Cosignature::Reader c);
void writeCosignature(wire::Cosignature::Builder out, const Cosignature& c);

// What a checked cosignature's head says.
struct CosignedHead {
  std::uint64_t size = 0;
  crypto::Hash256 root;
  std::int64_t timeMs = 0;
};

// Is `c` a cosignature by a witness `policy` names, over a head the hub
// (`hubKey`) signed for `hubId`? Error: the sentence saying why not.
// Freshness and which head it is are the caller's (countCosignatures).
Expected<CosignedHead, std::string> checkCosignature(const WitnessPolicy& policy, std::string_view hubId,
                                                     const crypto::SigningPublicKey& hubKey, const Cosignature& c);

// The cosignatures that count for a log at (size, root) at time nowMs:
// valid (checkCosignature), of a head with exactly this size and root,
// cosignedAtMs within [nowMs - freshnessMs, nowMs + CosignatureFutureMs],
// at most one per witness. `problems` names every one that does not count.
struct CosignatureCount {
  std::vector<std::string> witnesses;  // distinct, in the order found
  std::vector<std::string> problems;
  std::size_t count() const { return witnesses.size(); }
};
CosignatureCount countCosignatures(const WitnessPolicy& policy, std::string_view hubId,
                                   const crypto::SigningPublicKey& hubKey, std::uint64_t size,
                                   const crypto::Hash256& root, std::span<const Cosignature> cosignatures,
                                   std::int64_t nowMs, std::int64_t freshnessMs = CosignatureFreshnessMs);

}  // namespace focal::protocol

// Witness policy, cosignatures and the rule that counts them
// (protocol/witness.hpp, PROTOCOL.md §11.6).
#include "protocol/witness.hpp"

#include "crypto/primitives.hpp"
#include "protocol/distribution.hpp"
#include "protocol/log.hpp"
#include "protocol/message.hpp"
#include "protocol/signing.hpp"
#include "protocol/text.hpp"

#include <algorithm>
#include <set>

namespace focal::protocol {

namespace {

// A cosigned head is a LogHead: a few dozen bytes. Anything much larger is
// not one (and would be stored and served to every client).
constexpr std::size_t MaxCosignedHeadBytes = 1024;

}  // namespace

const WitnessKey* WitnessPolicy::find(std::string_view memberId) const {
  auto it = std::find_if(witnesses.begin(), witnesses.end(), [&](const WitnessKey& w) { return w.memberId == memberId; });
  return it == witnesses.end() ? nullptr : &*it;
}

Expected<WitnessPolicy, std::string> readWitnessPolicy(wire::WitnessPolicy::Reader policy) {
  WitnessPolicy out;
  out.threshold = policy.getThreshold();
  const auto list = policy.getWitnesses();
  if (list.size() > MaxWitnesses) {
    return unexpected("a witness policy names at most " + std::to_string(MaxWitnesses) + " witnesses");
  }
  std::set<std::string> ids;
  std::set<std::string> keys;
  for (auto w : list) {
    const std::string id(view(w.getMemberId()));
    if (!isMemberIdSyntax(id)) return unexpected(std::string("a witness member id is not a member id"));
    auto key = crypto::SigningPublicKey::fromBytes(view(w.getKey()));
    if (!key) return unexpected("witness " + id + ": the key is not 32 bytes");
    if (!ids.insert(id).second) return unexpected("witness " + id + " is named twice");
    if (!keys.insert(crypto::toHex(*key)).second) return unexpected("witness " + id + ": its key is another witness's");
    out.witnesses.push_back(WitnessKey{id, *key});
  }
  if (out.threshold > out.witnesses.size()) {
    return unexpected("the witness threshold " + std::to_string(out.threshold) + " is more than the " +
                      std::to_string(out.witnesses.size()) + " witnesses named");
  }
  if (out.threshold == 0 && !out.witnesses.empty()) {
    return unexpected(std::string("a witness policy that names witnesses needs a threshold of at least 1"));
  }
  return out;
}

void writeWitnessPolicy(wire::WitnessPolicy::Builder out, const WitnessPolicy& policy) {
  out.setThreshold(policy.threshold);
  auto list = out.initWitnesses(static_cast<capnp::uint>(policy.witnesses.size()));
  for (capnp::uint i = 0; i < list.size(); ++i) {
    list[i].setMemberId(asText(policy.witnesses[i].memberId));
    list[i].setKey(kjBytes(policy.witnesses[i].key.view()));
  }
}

crypto::Bytes cosignMessage(crypto::ByteView head, std::int64_t cosignedAtMs) {
  crypto::Bytes m(head.begin(), head.end());
  const auto t = static_cast<std::uint64_t>(cosignedAtMs);
  for (int shift = 56; shift >= 0; shift -= 8) m.push_back(static_cast<std::uint8_t>(t >> shift));
  return m;
}

Cosignature cosign(std::string witnessId, crypto::ByteView head, const crypto::Signature& headSignature,
                   std::int64_t cosignedAtMs, const crypto::SigningSecretKey& witnessKey) {
  Cosignature c{std::move(witnessId), crypto::Bytes(head.begin(), head.end()), headSignature, cosignedAtMs, {}};
  c.signature = crypto::sign(context::Cosign, cosignMessage(head, cosignedAtMs), witnessKey);
  return c;
}

Cosignature cosign(std::string witnessId, crypto::ByteView head, const crypto::Signature& headSignature,
                   std::int64_t cosignedAtMs, const crypto::SecretKeyOps& witness) {
  Cosignature c{std::move(witnessId), crypto::Bytes(head.begin(), head.end()), headSignature, cosignedAtMs, {}};
  c.signature = witness.sign(context::Cosign, cosignMessage(head, cosignedAtMs));
  return c;
}

Expected<Cosignature, std::string> readCosignature(wire::Cosignature::Reader c) {
  auto headSig = crypto::Signature::fromBytes(view(c.getHeadSignature()));
  auto sig = crypto::Signature::fromBytes(view(c.getSignature()));
  if (!headSig || !sig) return unexpected(std::string("a cosignature's signatures must be 64 bytes"));
  const auto head = view(c.getHead());
  if (head.empty() || head.size() > MaxCosignedHeadBytes) {
    return unexpected(std::string("a cosignature's head is empty or too large"));
  }
  return Cosignature{std::string(view(c.getWitnessId())), crypto::Bytes(head.begin(), head.end()), *headSig,
                     c.getCosignedAtMs(), *sig};
}

void writeCosignature(wire::Cosignature::Builder out, const Cosignature& c) {
  out.setWitnessId(asText(c.witnessId));
  out.setHead(kjBytes(c.head));
  out.setHeadSignature(kjBytes(c.headSignature.view()));
  out.setCosignedAtMs(c.cosignedAtMs);
  out.setSignature(kjBytes(c.signature.view()));
}

Expected<CosignedHead, std::string> checkCosignature(const WitnessPolicy& policy, std::string_view hubId,
                                                     const crypto::SigningPublicKey& hubKey, const Cosignature& c) {
  const WitnessKey* w = policy.find(c.witnessId);
  if (w == nullptr) return unexpected("'" + c.witnessId + "' is not a witness of this log");
  if (!crypto::verify(context::Cosign, cosignMessage(c.head, c.cosignedAtMs), c.signature, w->key)) {
    return unexpected("the cosignature of witness " + c.witnessId + " does not verify under its key");
  }
  auto head = verifyLogHead(c.head, c.headSignature, hubKey);
  if (!head) return unexpected("witness " + c.witnessId + " cosigned a head the hub did not sign");
  if (view(head->root().getHubId()) != hubId) {
    return unexpected("witness " + c.witnessId + " cosigned a head of another hub");
  }
  auto root = crypto::Hash256::fromBytes(view(head->root().getRootHash()));
  if (!root) return unexpected("witness " + c.witnessId + " cosigned a malformed head");
  return CosignedHead{head->root().getSize(), *root, head->root().getTimeMs()};
}

CosignatureCount countCosignatures(const WitnessPolicy& policy, std::string_view hubId,
                                   const crypto::SigningPublicKey& hubKey, std::uint64_t size,
                                   const crypto::Hash256& root, std::span<const Cosignature> cosignatures,
                                   std::int64_t nowMs, std::int64_t freshnessMs) {
  CosignatureCount out;
  for (const auto& c : cosignatures) {
    auto head = checkCosignature(policy, hubId, hubKey, c);
    if (!head) {
      out.problems.push_back(head.error());
    } else if (head->size != size || head->root != root) {
      out.problems.push_back("witness " + c.witnessId + " cosigned a head of " + std::to_string(head->size) +
                             " entries that is not this log's head of " + std::to_string(size));
    } else if (c.cosignedAtMs < nowMs - freshnessMs) {
      out.problems.push_back("the cosignature of witness " + c.witnessId + " is older than the freshness window");
    } else if (c.cosignedAtMs > nowMs + CosignatureFutureMs) {
      out.problems.push_back("the cosignature of witness " + c.witnessId + " is dated in the future");
    } else if (std::find(out.witnesses.begin(), out.witnesses.end(), c.witnessId) == out.witnesses.end()) {
      out.witnesses.push_back(c.witnessId);
    }
  }
  return out;
}

}  // namespace focal::protocol

#include "protocol/enrolment_bundle.hpp"

#include "protocol/distribution.hpp"
#include "protocol/json_fields.hpp"
#include "protocol/log.hpp"

#include <capnp/message.h>
#include <nlohmann/json.hpp>

#include <set>

namespace focal::protocol {

namespace {

using nlohmann::json;
using json_fields::hexField;
using json_fields::onlyKeys;

constexpr std::string_view PemBegin = "-----BEGIN CERTIFICATE-----";

BundleRefusal refusal(BundleError code, std::string message) { return {code, std::move(message)}; }
Unexpected<BundleRefusal> malformed(const std::string& what) { return unexpected(refusal(BundleError::Malformed, what)); }

bool str(const json& j, const char* key, std::string& out) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

Expected<Bytes, BundleRefusal> hexBytes(const json& j, const char* key, const std::string& what) {
  std::string text;
  auto bytes = str(j, key, text) ? crypto::fromHex(text) : std::nullopt;
  if (!bytes || bytes->empty()) return malformed(what + " (hex)");
  return std::move(*bytes);
}

// Version 2: head.cosignatures, each as the hub stores it (PROTOCOL.md §11.6).
Expected<std::vector<Cosignature>, BundleRefusal> parseCosignatures(const json& head) {
  const auto list = head.find("cosignatures");
  if (list == head.end() || !list->is_array() || list->size() > MaxWitnesses) {
    return malformed("head.cosignatures (an array of at most " + std::to_string(MaxWitnesses) + ")");
  }
  std::vector<Cosignature> out;
  for (const auto& c : *list) {
    Cosignature cs;
    const auto at = c.is_object() ? c.find("cosigned_at_ms") : c.end();
    if (!c.is_object() || !onlyKeys(c, {"witness_id", "log_head", "head_signature", "cosigned_at_ms", "signature"}) ||
        !str(c, "witness_id", cs.witnessId) || at == c.end() || !at->is_number_integer() ||
        !hexField(c, "head_signature", cs.headSignature) || !hexField(c, "signature", cs.signature)) {
      return malformed("head.cosignatures (witness_id, log_head, head_signature, cosigned_at_ms, signature)");
    }
    auto bytes = hexBytes(c, "log_head", "head.cosignatures.log_head");
    if (!bytes) return unexpected(bytes.error());
    cs.head = std::move(*bytes);
    cs.cosignedAtMs = at->get<std::int64_t>();
    out.push_back(std::move(cs));
  }
  return out;
}

// Version 2: witnesses {members: [{member_id, key}], threshold}, checked by
// the same rules as the genesis's policy (readWitnessPolicy).
Expected<WitnessPolicy, BundleRefusal> parsePolicy(const json& w) {
  const auto members = w.find("members");
  const auto threshold = w.find("threshold");
  if (!onlyKeys(w, {"members", "threshold"}) || members == w.end() || !members->is_array() ||
      members->size() > MaxWitnesses || threshold == w.end() || !threshold->is_number_unsigned() ||
      *threshold > MaxWitnesses) {
    return malformed("witnesses (members, threshold)");
  }
  capnp::MallocMessageBuilder message;
  auto policy = message.initRoot<wire::WitnessPolicy>();
  WitnessPolicy raw;
  raw.threshold = threshold->get<std::uint32_t>();
  for (const auto& m : *members) {
    WitnessKey k;
    if (!m.is_object() || !onlyKeys(m, {"member_id", "key"}) || !str(m, "member_id", k.memberId) ||
        !hexField(m, "key", k.key)) {
      return malformed("witnesses.members (member_id, key)");
    }
    raw.witnesses.push_back(std::move(k));
  }
  writeWitnessPolicy(policy, raw);
  auto checked = readWitnessPolicy(policy.asReader());
  if (!checked) return malformed("witnesses: " + checked.error());
  return std::move(*checked);
}

// Version 1: witnesses {keys, threshold}, reserved: none may be named.
Expected<Ok, BundleRefusal> checkNoWitnesses(const json& w) {
  const auto keys = w.find("keys");
  const auto threshold = w.find("threshold");
  if (!onlyKeys(w, {"keys", "threshold"}) || keys == w.end() || !keys->is_array() || threshold == w.end() ||
      !threshold->is_number_unsigned()) {
    return malformed("witnesses (keys, threshold)");
  }
  // SECURITY: a version-1 bundle that asks for witnesses names keys
  // without member ids, which no client can check: refused rather than
  // silently weakened.
  if (!keys->empty() || *threshold != 0) {
    return unexpected(refusal(BundleError::WitnessesUnsupported,
                              "a version-1 bundle names witnesses, which it cannot: make a new bundle"));
  }
  return Ok{};
}

Expected<Ok, BundleRefusal> parseHead(const json& j, EnrolmentBundle& b) {
  const auto head = j.find("head");
  const bool v2 = b.version >= 2;
  if (head == j.end() || !head->is_object() ||
      !(v2 ? onlyKeys(*head, {"size", "root", "time_ms", "log_head", "signature", "cosignatures"})
           : onlyKeys(*head, {"size", "root", "time_ms", "log_head", "signature"}))) {
    return malformed("head");
  }
  const auto size = head->find("size");
  const auto time = head->find("time_ms");
  if (size == head->end() || !size->is_number_unsigned() || *size == 0 || time == head->end() ||
      !time->is_number_integer() || !hexField(*head, "root", b.headRoot) ||
      !hexField(*head, "signature", b.headSignature)) {
    return malformed("head (size >= 1, root, time_ms, log_head, signature)");
  }
  b.headSize = size->get<std::uint64_t>();
  b.headTimeMs = time->get<std::int64_t>();
  auto bytes = hexBytes(*head, "log_head", "head.log_head");
  if (!bytes) return unexpected(bytes.error());
  b.headBytes = std::move(*bytes);
  if (v2) {
    auto cosignatures = parseCosignatures(*head);
    if (!cosignatures) return unexpected(cosignatures.error());
    b.headCosignatures = std::move(*cosignatures);
  }
  return Ok{};
}

// The JSON's shape and syntax; the signatures are checked by the caller.
Expected<EnrolmentBundle, BundleRefusal> parseFields(const json& j) {
  if (!j.is_object()) return malformed("not a JSON object");
  const auto format = j.find("format");
  const auto version = j.find("version");
  if (format == j.end() || !format->is_string() || *format != std::string(EnrolmentBundleFormat) ||
      version == j.end() || !version->is_number_integer() || *version < 1 || *version > EnrolmentBundleVersion) {
    return unexpected(refusal(BundleError::UnsupportedFormat, "not a focal-enrolment-bundle of version 1 to " +
                                                                  std::to_string(EnrolmentBundleVersion)));
  }
  if (!onlyKeys(j, {"format", "version", "hub_id", "hub_address", "hub_key", "ca_certificate_pem", "genesis_hash",
                    "head", "witnesses"})) {
    return malformed("an unknown field");
  }
  EnrolmentBundle b;
  b.version = version->get<int>();
  if (!str(j, "hub_id", b.hubId) || !isMemberIdSyntax(b.hubId)) return malformed("hub_id");
  if (!str(j, "hub_address", b.hubAddress) || b.hubAddress.find(':') == std::string::npos ||
      b.hubAddress.find_first_of(" \t\r\n") != std::string::npos) {
    return malformed("hub_address (HOST:PORT)");
  }
  if (!hexField(j, "hub_key", b.hubKey)) return malformed("hub_key (64 hex digits)");
  if (!str(j, "ca_certificate_pem", b.caPem) || b.caPem.find(PemBegin) == std::string::npos) {
    return malformed("ca_certificate_pem (a PEM certificate)");
  }
  if (!hexField(j, "genesis_hash", b.genesisHash)) return malformed("genesis_hash (64 hex digits)");
  if (auto ok = parseHead(j, b); !ok) return unexpected(ok.error());
  const auto w = j.find("witnesses");
  if (w == j.end() || !w->is_object()) return malformed("witnesses");
  if (b.version == 1) {
    if (auto ok = checkNoWitnesses(*w); !ok) return unexpected(ok.error());
    return b;
  }
  auto policy = parsePolicy(*w);
  if (!policy) return unexpected(policy.error());
  b.witnesses = std::move(*policy);
  return b;
}

// SECURITY: every cosignature the bundle carries must be one the policy's
// witness made over a hub-signed head of exactly the bundle's size and root
// (its time may differ: the hub signs later heads of an unchanged log); a
// forged one means the bundle was altered, so the whole bundle is refused.
// Freshness is not checked: the bundle pins a floor, not the present.
Expected<Ok, BundleRefusal> checkCosignatures(const EnrolmentBundle& b) {
  std::set<std::string> seen;
  for (const auto& c : b.headCosignatures) {
    const auto bad = [](const std::string& why) { return unexpected(refusal(BundleError::BadCosignature, why)); };
    auto head = checkCosignature(b.witnesses, b.hubId, b.hubKey, c);
    if (!head) return bad(head.error());
    if (head->size != b.headSize || !(head->root == b.headRoot)) {
      return bad("witness " + c.witnessId + " cosigned another head than the bundle's");
    }
    if (!seen.insert(c.witnessId).second) return bad("witness " + c.witnessId + " has two cosignatures");
  }
  return Ok{};
}

}  // namespace

const char* bundleErrorName(BundleError e) {
  switch (e) {
    case BundleError::TooLarge: return "bundle-too-large";
    case BundleError::Malformed: return "bundle-malformed";
    case BundleError::UnsupportedFormat: return "bundle-unsupported";
    case BundleError::BadHeadSignature: return "bundle-bad-signature";
    case BundleError::HeadMismatch: return "bundle-head-mismatch";
    case BundleError::GenesisMismatch: return "bundle-genesis-mismatch";
    case BundleError::WitnessesUnsupported: return "bundle-witnesses-unsupported";
    case BundleError::BadCosignature: return "bundle-bad-cosignature";
  }
  return "bundle-malformed";
}

std::string renderEnrolmentBundle(const EnrolmentBundle& b) {
  // In the order PROTOCOL.md §11.3 lists the fields, for a person reading it.
  using ordered = nlohmann::ordered_json;
  ordered members = ordered::array();
  for (const auto& w : b.witnesses.witnesses) members.push_back({{"member_id", w.memberId}, {"key", crypto::toHex(w.key)}});
  ordered cosignatures = ordered::array();
  for (const auto& c : b.headCosignatures) {
    cosignatures.push_back({{"witness_id", c.witnessId},
                            {"log_head", crypto::toHex(c.head)},
                            {"head_signature", crypto::toHex(c.headSignature)},
                            {"cosigned_at_ms", c.cosignedAtMs},
                            {"signature", crypto::toHex(c.signature)}});
  }
  const ordered j = {{"format", EnrolmentBundleFormat},
                  {"version", EnrolmentBundleVersion},
                  {"hub_id", b.hubId},
                  {"hub_address", b.hubAddress},
                  {"hub_key", crypto::toHex(b.hubKey)},
                  {"ca_certificate_pem", b.caPem},
                  {"genesis_hash", crypto::toHex(b.genesisHash)},
                  {"head",
                   {{"size", b.headSize},
                    {"root", crypto::toHex(b.headRoot)},
                    {"time_ms", b.headTimeMs},
                    {"log_head", crypto::toHex(b.headBytes)},
                    {"signature", crypto::toHex(b.headSignature)},
                    {"cosignatures", cosignatures}}},
                  {"witnesses", {{"members", members}, {"threshold", b.witnesses.threshold}}}};
  return j.dump(2) + "\n";
}

Expected<EnrolmentBundle, BundleRefusal> parseEnrolmentBundle(std::string_view text) {
  if (text.size() > MaxEnrolmentBundleBytes) {
    return unexpected(refusal(BundleError::TooLarge, "the bundle is " + std::to_string(text.size()) +
                                                         " bytes; at most " +
                                                         std::to_string(MaxEnrolmentBundleBytes) + " are accepted"));
  }
  const json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return unexpected(refusal(BundleError::Malformed, "not JSON (truncated or damaged?)"));
  auto b = parseFields(j);
  if (!b) return b;
  auto head = verifyLogHead(b->headBytes, b->headSignature, b->hubKey);
  if (!head) {
    return unexpected(refusal(BundleError::BadHeadSignature, "the head's signature does not verify under hub_key"));
  }
  const auto h = head->root();
  const auto root = crypto::Hash256::fromBytes(ByteView(h.getRootHash().begin(), h.getRootHash().size()));
  if (std::string_view(h.getHubId().cStr(), h.getHubId().size()) != b->hubId || h.getSize() != b->headSize ||
      !root || !(*root == b->headRoot) || h.getTimeMs() != b->headTimeMs) {
    return unexpected(refusal(BundleError::HeadMismatch, "the signed head names another hub id, size, root or time "
                                                         "than the bundle's fields"));
  }
  if (b->headSize == 1 && !(b->headRoot == b->genesisHash)) {
    return unexpected(refusal(BundleError::GenesisMismatch, "a one-entry head whose root is not the genesis hash"));
  }
  if (auto ok = checkCosignatures(*b); !ok) return unexpected(ok.error());
  return b;
}

}  // namespace focal::protocol

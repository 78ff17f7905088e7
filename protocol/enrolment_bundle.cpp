#include "protocol/enrolment_bundle.hpp"

#include "protocol/distribution.hpp"
#include "protocol/json_fields.hpp"
#include "protocol/log.hpp"

#include <nlohmann/json.hpp>

namespace focal::protocol {

namespace {

using nlohmann::json;
using json_fields::hexField;
using json_fields::onlyKeys;

constexpr std::string_view PemBegin = "-----BEGIN CERTIFICATE-----";

BundleRefusal refusal(BundleError code, std::string message) { return {code, std::move(message)}; }

// The JSON's shape and syntax; the signature is checked by the caller.
Expected<EnrolmentBundle, BundleRefusal> parseFields(const json& j) {
  const auto bad = [](const std::string& what) { return unexpected(refusal(BundleError::Malformed, what)); };
  if (!j.is_object()) return bad("not a JSON object");
  const auto format = j.find("format");
  const auto version = j.find("version");
  if (format == j.end() || !format->is_string() || *format != std::string(EnrolmentBundleFormat) ||
      version == j.end() || !version->is_number_integer() || *version != EnrolmentBundleVersion) {
    return unexpected(refusal(BundleError::UnsupportedFormat,
                              "not a focal-enrolment-bundle of version " + std::to_string(EnrolmentBundleVersion)));
  }
  if (!onlyKeys(j, {"format", "version", "hub_id", "hub_address", "hub_key", "ca_certificate_pem", "genesis_hash",
                    "head", "witnesses"})) {
    return bad("an unknown field");
  }
  EnrolmentBundle b;
  const auto str = [&](const char* key, std::string& out) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  if (!str("hub_id", b.hubId) || !isMemberIdSyntax(b.hubId)) return bad("hub_id");
  if (!str("hub_address", b.hubAddress) || b.hubAddress.find(':') == std::string::npos ||
      b.hubAddress.find_first_of(" \t\r\n") != std::string::npos) {
    return bad("hub_address (HOST:PORT)");
  }
  if (!hexField(j, "hub_key", b.hubKey)) return bad("hub_key (64 hex digits)");
  if (!str("ca_certificate_pem", b.caPem) || b.caPem.find(PemBegin) == std::string::npos) {
    return bad("ca_certificate_pem (a PEM certificate)");
  }
  if (!hexField(j, "genesis_hash", b.genesisHash)) return bad("genesis_hash (64 hex digits)");
  const auto head = j.find("head");
  if (head == j.end() || !head->is_object() || !onlyKeys(*head, {"size", "root", "time_ms", "log_head", "signature"})) {
    return bad("head");
  }
  const auto size = head->find("size");
  const auto time = head->find("time_ms");
  const auto bytes = head->find("log_head");
  if (size == head->end() || !size->is_number_unsigned() || *size == 0 || time == head->end() ||
      !time->is_number_integer() || !hexField(*head, "root", b.headRoot) ||
      !hexField(*head, "signature", b.headSignature) || bytes == head->end() || !bytes->is_string()) {
    return bad("head (size >= 1, root, time_ms, log_head, signature)");
  }
  b.headSize = size->get<std::uint64_t>();
  b.headTimeMs = time->get<std::int64_t>();
  auto headBytes = crypto::fromHex(bytes->get<std::string>());
  if (!headBytes || headBytes->empty()) return bad("head.log_head (hex)");
  b.headBytes = std::move(*headBytes);
  const auto w = j.find("witnesses");
  if (w == j.end() || !w->is_object() || !onlyKeys(*w, {"keys", "threshold"})) return bad("witnesses");
  const auto keys = w->find("keys");
  const auto threshold = w->find("threshold");
  if (keys == w->end() || !keys->is_array() || threshold == w->end() || !threshold->is_number_unsigned()) {
    return bad("witnesses (keys, threshold)");
  }
  // SECURITY: a bundle that asks for witnesses cannot be honoured by a
  // client that has none to check: refused rather than silently weakened.
  if (!keys->empty() || *threshold != 0) {
    return unexpected(refusal(BundleError::WitnessesUnsupported,
                              "the bundle names witnesses, which this version of focal cannot check"));
  }
  return b;
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
  }
  return "bundle-malformed";
}

std::string renderEnrolmentBundle(const EnrolmentBundle& b) {
  // In the order PROTOCOL.md §11.3 lists the fields, for a person reading it.
  using ordered = nlohmann::ordered_json;
  ordered keys = ordered::array();
  for (const auto& k : b.witnessKeys) keys.push_back(crypto::toHex(k));
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
                    {"signature", crypto::toHex(b.headSignature)}}},
                  {"witnesses", {{"keys", keys}, {"threshold", b.witnessThreshold}}}};
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
  return b;
}

}  // namespace focal::protocol

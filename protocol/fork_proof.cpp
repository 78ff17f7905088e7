// The fork proof format and its checker (protocol/fork_proof.hpp, PROTOCOL.md §11.5).
#include "protocol/fork_proof.hpp"

#include "protocol/directory_log.hpp"
#include "protocol/distribution.hpp"
#include "protocol/json_fields.hpp"
#include "protocol/limits.hpp"

#include <nlohmann/json.hpp>

namespace focal::protocol {

namespace {

using nlohmann::json;
using json_fields::hexField;
using json_fields::onlyKeys;
using ordered = nlohmann::ordered_json;

Expected<ForkProof, std::string> bad(const std::string& what) {
  return unexpected("not a fork proof: " + what);
}

ordered headJson(const SignedHead& h) {
  return {{"log_head", crypto::toHex(h.head)}, {"signature", crypto::toHex(h.signature)}};
}

bool readHead(const json& j, const char* key, SignedHead& out) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_object() || !onlyKeys(*it, {"log_head", "signature"})) return false;
  const auto bytes = it->find("log_head");
  if (bytes == it->end() || !bytes->is_string() || bytes->get_ref<const std::string&>().size() > 2 * MaxHeaderBytes) {
    return false;
  }
  auto head = crypto::fromHex(bytes->get<std::string>());
  if (!head || head->empty()) return false;
  out.head = std::move(*head);
  return hexField(*it, "signature", out.signature);
}

bool readEntry(const json& j, ProofEntry& e) {
  if (!j.is_object() || !onlyKeys(j, {"index", "recorded_at_ms", "author_key", "event", "signature"})) return false;
  const auto index = j.find("index");
  const auto at = j.find("recorded_at_ms");
  const auto event = j.find("event");
  if (index == j.end() || !index->is_number_unsigned() || at == j.end() || !at->is_number_integer() ||
      event == j.end() || !event->is_string() || event->get_ref<const std::string&>().size() > 2 * MaxLogEventBytes) {
    return false;
  }
  auto bytes = crypto::fromHex(event->get<std::string>());
  if (!bytes) return false;
  e.index = index->get<std::uint64_t>();
  e.recordedAtMs = at->get<std::int64_t>();
  e.event = std::move(*bytes);
  return hexField(j, "author_key", e.authorKey) && hexField(j, "signature", e.signature);
}

Expected<ProofHeadFacts, std::string> headFacts(const ForkProof& p, const SignedHead& h, const char* which) {
  auto parsed = verifyLogHead(h.head, h.signature, p.hubKey);
  if (!parsed) {
    return unexpected(std::string("the ") + which + " head " +
                      (parsed.error() == LogError::BadSignature ? "is not signed by hub_key" : "does not parse"));
  }
  const auto r = parsed->root();
  if (view(r.getHubId()) != p.hubId) return unexpected(std::string("the ") + which + " head names another hub");
  ProofHeadFacts f;
  f.size = r.getSize();
  f.root = *crypto::Hash256::fromBytes(view(r.getRootHash()));  // length checked by verifyLogHead
  f.timeMs = r.getTimeMs();
  if (f.size == 0) return unexpected(std::string("the ") + which + " head is of an empty log");
  return f;
}

}  // namespace

std::string renderForkProof(const ForkProof& p) {
  // In the order PROTOCOL.md §11.5 lists the fields, for a person reading it.
  ordered entries = ordered::array();
  for (const auto& e : p.entries) {
    entries.push_back({{"index", e.index},
                       {"recorded_at_ms", e.recordedAtMs},
                       {"author_key", crypto::toHex(e.authorKey)},
                       {"event", crypto::toHex(e.event)},
                       {"signature", crypto::toHex(e.signature)}});
  }
  const ordered j = {{"format", ForkProofFormat},
                     {"version", ForkProofVersion},
                     {"hub_id", p.hubId},
                     {"hub_key", crypto::toHex(p.hubKey)},
                     {"smaller", headJson(p.smaller)},
                     {"larger", headJson(p.larger)},
                     {"larger_hash_at_smaller_size", crypto::toHex(p.largerHashAtSmallerSize)},
                     {"entries", entries},
                     {"note", p.note}};
  return j.dump(2) + "\n";
}

Expected<ForkProof, std::string> parseForkProof(std::string_view text) {
  if (text.size() > MaxForkProofBytes) return bad("larger than " + std::to_string(MaxForkProofBytes) + " bytes");
  const json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad("not JSON (truncated or damaged?)");
  if (!j.is_object()) return bad("not a JSON object");
  const auto format = j.find("format");
  const auto version = j.find("version");
  if (format == j.end() || !format->is_string() || *format != std::string(ForkProofFormat) ||
      version == j.end() || !version->is_number_integer() || *version != ForkProofVersion) {
    return bad("not a focal-fork-proof of version " + std::to_string(ForkProofVersion));
  }
  if (!onlyKeys(j, {"format", "version", "hub_id", "hub_key", "smaller", "larger", "larger_hash_at_smaller_size",
                    "entries", "note"})) {
    return bad("an unknown field");
  }
  ForkProof p;
  const auto hub = j.find("hub_id");
  if (hub == j.end() || !hub->is_string() || !isMemberIdSyntax(hub->get<std::string>())) return bad("hub_id");
  p.hubId = hub->get<std::string>();
  if (!hexField(j, "hub_key", p.hubKey)) return bad("hub_key (64 hex digits)");
  if (!readHead(j, "smaller", p.smaller) || !readHead(j, "larger", p.larger)) {
    return bad("smaller / larger (log_head hex, signature 128 hex digits)");
  }
  if (!hexField(j, "larger_hash_at_smaller_size", p.largerHashAtSmallerSize)) {
    return bad("larger_hash_at_smaller_size (64 hex digits)");
  }
  const auto entries = j.find("entries");
  if (entries == j.end() || !entries->is_array() || entries->size() > MaxForkProofEntries) {
    return bad("entries (an array of at most " + std::to_string(MaxForkProofEntries) + ")");
  }
  for (const auto& item : *entries) {
    ProofEntry e;
    if (!readEntry(item, e)) return bad("entry " + std::to_string(p.entries.size()));
    p.entries.push_back(std::move(e));
  }
  const auto note = j.find("note");
  if (note != j.end()) {
    if (!note->is_string() || note->get_ref<const std::string&>().size() > MaxForkProofNoteBytes) return bad("note");
    p.note = note->get<std::string>();
  }
  return p;
}

Expected<ForkFacts, std::string> checkForkProof(const ForkProof& p) {
  const auto no = [](const std::string& why) { return Expected<ForkFacts, std::string>(unexpected(why)); };
  auto s = headFacts(p, p.smaller, "smaller");
  if (!s) return no(s.error());
  auto l = headFacts(p, p.larger, "larger");
  if (!l) return no(l.error());
  if (s->size > l->size) return no("the smaller head is larger than the larger one");
  if (p.entries.size() != l->size - s->size) {
    return no("it must carry the larger log's entries " + std::to_string(s->size) + " to " +
              std::to_string(l->size - 1) + " (" + std::to_string(l->size - s->size) + "), it carries " +
              std::to_string(p.entries.size()));
  }
  crypto::Hash256 hash = p.largerHashAtSmallerSize;
  for (std::size_t i = 0; i < p.entries.size(); ++i) {
    const auto& e = p.entries[i];
    if (e.index != s->size + i) return no("entry " + std::to_string(i) + " has index " + std::to_string(e.index));
    hash = logEntryHash(e.index, hash, e.recordedAtMs, e.event, e.authorKey, e.signature);
  }
  if (!(hash == l->root)) {
    return no("the entries do not chain from larger_hash_at_smaller_size to the larger head's root");
  }
  if (p.largerHashAtSmallerSize == s->root) {
    return no("the two heads are consistent: the larger log extends the smaller one");
  }
  return ForkFacts{p.hubId, p.hubKey, *s, *l, p.largerHashAtSmallerSize};
}

}  // namespace focal::protocol

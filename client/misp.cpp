#include "client/misp.hpp"

#include "client/attack_techniques.hpp"
#include "client/cli_context.hpp"
#include "client/stix.hpp"
#include "crypto/types.hpp"
#include "protocol/limits.hpp"

#include <fmt/format.h>

#include <array>
#include <ctime>
#include <set>

namespace focal::client::misp {

namespace {

// One MISP attribute type and the STIX 2.1 object property it is.
struct TypeMap {
  std::string_view misp;
  std::string_view category;  // MISP's category for the type
  std::string_view sco;       // STIX cyber-observable type
  std::string_view path;      // the property as a pattern writes it
};

// Export: the first row of a STIX (sco, path) wins; import: every row.
constexpr TypeMap Types[] = {
    {"ip-dst", "Network activity", "ipv4-addr", "value"},
    {"ip-dst", "Network activity", "ipv6-addr", "value"},
    {"domain", "Network activity", "domain-name", "value"},
    {"url", "Network activity", "url", "value"},
    {"email-src", "Payload delivery", "email-addr", "value"},
    {"md5", "Payload delivery", "file", "hashes.MD5"},
    {"sha1", "Payload delivery", "file", "hashes.'SHA-1'"},
    {"sha256", "Payload delivery", "file", "hashes.'SHA-256'"},
    {"sha512", "Payload delivery", "file", "hashes.'SHA-512'"},
    {"filename", "Payload delivery", "file", "name"},
    {"mutex", "Artifacts dropped", "mutex", "name"},
    // Import only: MISP types that land on the same STIX property.
    {"ip-src", "Network activity", "ipv4-addr", "value"},
    {"hostname", "Network activity", "domain-name", "value"},
    {"email-dst", "Payload delivery", "email-addr", "value"},
    {"email", "Payload delivery", "email-addr", "value"},
    {"link", "External analysis", "url", "value"},
};

const TypeMap* byStix(std::string_view sco, std::string_view path) {
  for (const auto& t : Types) {
    if (t.sco == sco && t.path == path) return &t;
  }
  return nullptr;
}

const TypeMap* byMisp(std::string_view type, std::string_view value) {
  for (const auto& t : Types) {
    if (t.misp != type) continue;
    // ip-dst/ip-src: IPv6 when the value has a colon.
    if (t.sco == "ipv4-addr" && value.find(':') != std::string_view::npos) continue;
    return &t;
  }
  return nullptr;
}

// STIX 2.1 §2.9: a cyber-observable's deterministic id, UUIDv5 in this
// namespace over the JSON of its id-contributing properties.
constexpr std::array<std::uint8_t, 16> ScoNamespace = {0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c,
                                                       0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7};

// The SCO property an attribute sets: {"value": v}, {"name": v} or
// {"hashes": {"SHA-256": v}}.
nlohmann::json scoProperties(const TypeMap& t, const std::string& value) {
  if (t.path.rfind("hashes.", 0) == 0) {
    std::string algo(t.path.substr(7));
    if (algo.front() == '\'') algo = algo.substr(1, algo.size() - 2);
    return {{"hashes", {{algo, value}}}};
  }
  return {{std::string(t.path), value}};
}

std::string quote(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// "[type:path = 'value']" -> (type, path, value); nullopt for anything else
// (several comparisons, other operators): those indicators have no single
// MISP attribute.
struct Simple {
  std::string sco, path, value;
};
std::optional<Simple> simplePattern(std::string_view p) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
  };
  p = trim(p);
  if (p.size() < 2 || p.front() != '[' || p.back() != ']') return std::nullopt;
  p = trim(p.substr(1, p.size() - 2));
  // The left side: up to the first '=' outside quotes.
  bool quoted = false;
  std::size_t eq = std::string_view::npos;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\' && quoted) ++i;
    else if (p[i] == '\'') quoted = !quoted;
    else if (p[i] == '=' && !quoted) {
      eq = i;
      break;
    }
  }
  if (eq == std::string_view::npos) return std::nullopt;
  const auto left = trim(p.substr(0, eq));
  auto right = trim(p.substr(eq + 1));
  const auto colon = left.find(':');
  if (colon == std::string_view::npos || right.size() < 2 || right.front() != '\'' || right.back() != '\'') {
    return std::nullopt;
  }
  Simple s{std::string(left.substr(0, colon)), std::string(left.substr(colon + 1)), ""};
  right = right.substr(1, right.size() - 2);
  for (std::size_t i = 0; i < right.size(); ++i) {
    if (right[i] == '\\' && i + 1 < right.size()) {
      s.value += right[++i];
    } else if (right[i] == '\'') {
      return std::nullopt;  // a second literal: not a single comparison
    } else {
      s.value += right[i];
    }
  }
  return s;
}

std::string seconds(std::int64_t ms) { return std::to_string(ms / 1000); }

std::string isoDate(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

// MISP's TLP taxonomy (tlp:clear … tlp:red; tlp:white read as CLEAR).
std::string tlpTag(wire::Tlp tlp) {
  std::string name = tlpName(tlp);
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return "tlp:" + name;
}

// MISP distribution: CLEAR all communities (3), GREEN this community (1),
// AMBER and stricter your organisation only (0).
const char* distributionOf(wire::Tlp tlp) {
  switch (tlp) {
    case wire::Tlp::CLEAR: return "3";
    case wire::Tlp::GREEN: return "1";
    default: return "0";
  }
}

std::string uuidOf(const std::string& stixId) { return stixId.substr(stixId.find("--") + 2); }

}  // namespace

nlohmann::json eventFor(const OpenedMessage& m) {
  const std::string bulletin = crypto::toHex(m.id);
  nlohmann::json tags = nlohmann::json::array({{{"name", tlpTag(m.tlp)}}});
  for (const auto& id : m.attackTechniques) {
    const auto t = findAttackTechnique(id);
    const std::string name = t ? std::string(t->name) : id;
    tags.push_back({{"name", fmt::format("misp-galaxy:mitre-attack-pattern=\"{} - {}\"", name, id)}});
  }
  nlohmann::json attributes = nlohmann::json::array();
  if (!m.stixBundle.empty()) {
    const auto v = stix::validateBundle(m.stixBundle, m.tlp);
    if (v.problem) throw cli::UsageError(v.problem->code, "the bulletin's STIX bundle: " + v.problem->message);
    for (const auto& o : v.bundle->value("objects", nlohmann::json::array())) {
      const std::string type = o["type"].get<std::string>();
      const std::string id = o["id"].get<std::string>();
      const std::string when = seconds(m.createdAtMs);
      if (type == "indicator" && o["pattern_type"] == "stix") {
        const auto s = simplePattern(o["pattern"].get<std::string>());
        const TypeMap* t = s ? byStix(s->sco, s->path) : nullptr;
        if (!t) continue;
        nlohmann::json a{{"uuid", uuidOf(id)},     {"type", t->misp}, {"category", t->category},
                         {"value", s->value},      {"to_ids", true},  {"distribution", "5"},
                         {"timestamp", when},      {"comment", o.value("name", "")}};
        attributes.push_back(std::move(a));
        continue;
      }
      // Observables: one attribute for each mapped property (not for detection).
      for (const auto& t : Types) {
        if (t.sco != type || byStix(t.sco, t.path) != &t) continue;
        std::string value;
        if (t.path.rfind("hashes.", 0) == 0) {
          const auto algo = scoProperties(t, "")["hashes"].begin().key();
          if (o.contains("hashes") && o["hashes"].contains(algo) && o["hashes"][algo].is_string()) {
            value = o["hashes"][algo].get<std::string>();
          }
        } else if (o.contains(std::string(t.path)) && o[std::string(t.path)].is_string()) {
          value = o[std::string(t.path)].get<std::string>();
        }
        if (value.empty()) continue;
        attributes.push_back({{"uuid", stix::uuid5(stix::FocalNamespace, id + "/" + std::string(t.misp))},
                              {"type", t.misp},
                              {"category", t.category},
                              {"value", value},
                              {"to_ids", false},
                              {"distribution", "5"},
                              {"timestamp", when},
                              {"comment", ""}});
      }
    }
  }
  nlohmann::json event{
      {"uuid", stix::uuid5(stix::FocalNamespace, "focal/bulletin/" + bulletin + "/misp-event")},
      {"info", m.title},
      {"date", isoDate(m.createdAtMs)},
      {"timestamp", seconds(m.createdAtMs)},
      // urgent -> 1 High, normal -> 2 Medium (4 Undefined is never written).
      {"threat_level_id", m.priority == wire::Priority::URGENT ? "1" : "2"},
      {"analysis", "2"},  // a sent bulletin is a completed analysis
      {"distribution", distributionOf(m.tlp)},
      {"published", false},
      {"Orgc", {{"name", m.senderName.empty() ? m.senderId : m.senderName}}},
      {"Tag", tags},
      {"Attribute", attributes}};
  return {{"Event", std::move(event)}};
}

Imported importEvent(std::string_view text, std::int64_t nowMs) {
  auto fail = [](const std::string& why) { return cli::UsageError("bad-misp", "the MISP event " + why); };
  if (text.size() > protocol::MaxContentBytes * 4) throw fail("is too large");
  // Nesting checked before parsing, as for a STIX bundle.
  if (!stix::nestsWithin(text, stix::MaxStixDepth)) throw fail("nests too deeply");
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded()) throw fail("is not JSON");
  const nlohmann::json& ev = doc.is_object() && doc.contains("Event") ? doc["Event"] : doc;
  if (!ev.is_object()) throw fail("has no Event object");
  if (!ev.contains("info") || !ev["info"].is_string() || ev["info"].get<std::string>().empty()) {
    throw fail("has no info (its title)");
  }
  Imported out;
  out.title = ev["info"].get<std::string>();
  // Tags: the event's own, and those of its galaxies' clusters as MISP
  // writes them in Galaxy[].GalaxyCluster[].tag_name.
  std::vector<std::string> tags;
  if (ev.contains("Tag") && ev["Tag"].is_array()) {
    for (const auto& t : ev["Tag"]) {
      if (t.is_object() && t.contains("name") && t["name"].is_string()) tags.push_back(t["name"].get<std::string>());
    }
  }
  if (ev.contains("Galaxy") && ev["Galaxy"].is_array()) {
    for (const auto& g : ev["Galaxy"]) {
      if (!g.is_object() || !g.contains("GalaxyCluster") || !g["GalaxyCluster"].is_array()) continue;
      for (const auto& c : g["GalaxyCluster"]) {
        if (c.is_object() && c.contains("tag_name") && c["tag_name"].is_string()) {
          tags.push_back(c["tag_name"].get<std::string>());
        }
      }
    }
  }
  std::set<std::string> seenAttack;
  for (const auto& tag : tags) {
    std::string lower = tag;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.rfind("tlp:", 0) == 0) {
      wire::Tlp level{};
      const std::string value = lower.substr(4) == "white" ? "clear" : lower.substr(4);
      if (!parseTlp(value, level)) continue;  // tlp:ex:chr and other extensions say nothing of the level
      if (out.tlp && *out.tlp != level) {
        throw fail(fmt::format("has two TLP tags ({} and {}); keep one", tlpTag(*out.tlp), tlpTag(level)));
      }
      out.tlp = level;
    } else if (tag.rfind("misp-galaxy:mitre-attack-pattern=", 0) == 0) {
      // misp-galaxy:mitre-attack-pattern="Spearphishing Link - T1566.002"
      const auto dash = tag.rfind(" - ");
      std::string id = dash == std::string::npos ? "" : tag.substr(dash + 3);
      if (!id.empty() && id.back() == '"') id.pop_back();
      id = normalizeAttackId(id);
      if (id.size() < 5 || id[0] != 'T') throw fail("has an ATT&CK galaxy tag without a technique id: " + tag);
      if (seenAttack.insert(id).second) out.attack.push_back(id);
    }
  }
  // Attributes (the event's own and those of its MISP objects) into STIX.
  std::vector<const nlohmann::json*> attributes;
  auto collect = [&attributes](const nlohmann::json& holder) {
    if (holder.contains("Attribute") && holder["Attribute"].is_array()) {
      for (const auto& a : holder["Attribute"]) attributes.push_back(&a);
    }
  };
  collect(ev);
  if (ev.contains("Object") && ev["Object"].is_array()) {
    for (const auto& o : ev["Object"]) {
      if (o.is_object()) collect(o);
    }
  }
  const std::string eventUuid = ev.value("uuid", "");
  const std::string created = stix::timestamp(nowMs);
  nlohmann::json objects = nlohmann::json::array();
  std::set<std::string> ids;
  std::set<std::string> skipped;
  for (const auto* ap : attributes) {
    const auto& a = *ap;
    if (!a.is_object() || !a.contains("type") || !a["type"].is_string() || !a.contains("value") ||
        !a["value"].is_string()) {
      continue;
    }
    const std::string type = a["type"].get<std::string>();
    const std::string value = a["value"].get<std::string>();
    const TypeMap* t = byMisp(type, value);
    if (!t) {
      skipped.insert(type);
      continue;
    }
    bool toIds = false;
    if (a.contains("to_ids")) toIds = a["to_ids"].is_boolean() ? a["to_ids"].get<bool>() : a["to_ids"] == "1";
    out.summary += fmt::format("{} {}{}\n", type, value, toIds ? "  (for detection)" : "");
    const std::string auuid = a.value("uuid", "");
    const std::string sco = std::string(t->sco) + "--" +
                            stix::uuid5(ScoNamespace, scoProperties(*t, value).dump());
    if (!toIds) {
      if (!ids.insert(sco).second) continue;
      nlohmann::json o{{"type", t->sco}, {"spec_version", "2.1"}, {"id", sco}};
      o.update(scoProperties(*t, value));
      objects.push_back(std::move(o));
      continue;
    }
    std::string id = "indicator--" + auuid;
    if (!stix::isIdentifier(id)) id = "indicator--" + stix::uuid5(stix::FocalNamespace, eventUuid + "/" + type + "/" + value);
    if (!ids.insert(id).second) continue;
    nlohmann::json ind{{"type", "indicator"},
                       {"spec_version", "2.1"},
                       {"id", id},
                       {"created", created},
                       {"modified", created},
                       {"name", a.value("comment", "").empty() ? fmt::format("{} {}", type, value) : a.value("comment", "")},
                       {"indicator_types", {"malicious-activity"}},
                       {"pattern", fmt::format("[{}:{} = {}]", t->sco, t->path, quote(value))},
                       {"pattern_type", "stix"},
                       {"valid_from", created}};
    objects.push_back(std::move(ind));
  }
  out.skipped.assign(skipped.begin(), skipped.end());
  if (!objects.empty()) {
    std::string bundleId = "bundle--" + eventUuid;
    if (!stix::isIdentifier(bundleId)) bundleId = "bundle--" + stix::uuid5(stix::FocalNamespace, "misp/" + out.title);
    out.stixBundle = nlohmann::json{{"type", "bundle"}, {"id", bundleId}, {"objects", objects}}.dump(2);
  }
  return out;
}

}  // namespace focal::client::misp

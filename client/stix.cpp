#include "client/stix.hpp"

#include "protocol/limits.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <cctype>
#include <ctime>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>

namespace focal::client::stix {

namespace {

struct TlpMarking {
  wire::Tlp tlp;
  std::string_view id;
  std::string_view name;   // "TLP:AMBER+STRICT"
  std::string_view value;  // the extension's tlp_2_0: "amber+strict"
};

// OASIS cti-stix-common-objects, objects/marking-definition/ and
// extension-definition-specifications/tlp-2.0/ (created 2022-10-01).
constexpr TlpMarking TlpMarkings[] = {
    {wire::Tlp::CLEAR, "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", "TLP:CLEAR", "clear"},
    {wire::Tlp::GREEN, "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", "TLP:GREEN", "green"},
    {wire::Tlp::AMBER, "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", "TLP:AMBER", "amber"},
    {wire::Tlp::AMBER_STRICT, "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", "TLP:AMBER+STRICT",
     "amber+strict"},
    {wire::Tlp::RED, "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", "TLP:RED", "red"},
};

// The STIX 1.x-era TLP 1.0 marking definitions (STIX 2.1 §7.2.1.4): a
// bundle may mark objects with them; they rank as their TLP 2.0 successor
// (WHITE as CLEAR).
struct Tlp1Marking {
  std::string_view id;
  wire::Tlp tlp;
};
constexpr Tlp1Marking Tlp1Markings[] = {
    {"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", wire::Tlp::CLEAR},
    {"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", wire::Tlp::GREEN},
    {"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", wire::Tlp::AMBER},
    {"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", wire::Tlp::RED},
};

std::optional<wire::Tlp> anyTlpOf(std::string_view id) {
  if (auto t = tlpOfMarkingId(id)) return t;
  for (const auto& m : Tlp1Markings) {
    if (m.id == id) return m.tlp;
  }
  return std::nullopt;
}

bool isUuid(std::string_view u) {
  if (u.size() != 36) return false;
  for (std::size_t i = 0; i < u.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? u[i] != '-' : std::isxdigit(static_cast<unsigned char>(u[i])) == 0) return false;
  }
  // RFC 4122: version 1-8 (STIX ids are v4 or v5), variant 10xx.
  const char version = u[14];
  const char variant = static_cast<char>(std::tolower(static_cast<unsigned char>(u[19])));
  return version >= '1' && version <= '8' && (variant == '8' || variant == '9' || variant == 'a' || variant == 'b');
}

bool isTypeName(std::string_view t) {
  // STIX 2.1 §3.1: 3-250 characters, a-z 0-9 and hyphen, starting with a
  // letter, no doubled or trailing hyphen.
  if (t.size() < 3 || t.size() > 250 || std::islower(static_cast<unsigned char>(t.front())) == 0 || t.back() == '-') {
    return false;
  }
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok || (c == '-' && i > 0 && t[i - 1] == '-')) return false;
  }
  return true;
}

// ---- the validator ----

// Properties STIX 2.1 defines as timestamps on the objects Focal checks.
const std::set<std::string, std::less<>>& timestampProperties() {
  static const std::set<std::string, std::less<>> s = {
      "created",       "modified",       "valid_from",    "valid_until",   "first_seen", "last_seen",
      "first_observed", "last_observed", "published",     "start_time",    "stop_time",  "ctime",
      "mtime",          "atime",         "date",          "start",         "end",        "created_time",
      "modified_time",  "account_created", "account_expires", "credential_last_changed",
      "account_first_login", "account_last_login", "validity_not_before", "validity_not_after"};
  return s;
}

struct ObjectRule {
  std::string_view type;
  bool sco = false;  // a cyber-observable: spec_version optional, no created/modified
  std::vector<std::string_view> required;
  std::vector<std::string_view> anyOf;  // at least one of these (SCOs with no single key property)
};

const std::vector<ObjectRule>& objectRules() {
  static const std::vector<ObjectRule> rules = {
      {"attack-pattern", false, {"name"}, {}},
      {"campaign", false, {"name"}, {}},
      {"course-of-action", false, {"name"}, {}},
      {"grouping", false, {"context", "object_refs"}, {}},
      {"identity", false, {"name"}, {}},
      {"incident", false, {"name"}, {}},
      {"indicator", false, {"pattern", "pattern_type", "valid_from"}, {}},
      {"infrastructure", false, {"name"}, {}},
      {"intrusion-set", false, {"name"}, {}},
      {"location", false, {}, {"region", "country", "latitude"}},
      {"malware", false, {"is_family"}, {}},
      {"malware-analysis", false, {"product"}, {}},
      {"note", false, {"content", "object_refs"}, {}},
      {"observed-data", false, {"first_observed", "last_observed", "number_observed"}, {"object_refs", "objects"}},
      {"opinion", false, {"opinion", "object_refs"}, {}},
      {"report", false, {"name", "published", "object_refs"}, {}},
      {"threat-actor", false, {"name"}, {}},
      {"tool", false, {"name"}, {}},
      {"vulnerability", false, {"name"}, {}},
      {"relationship", false, {"relationship_type", "source_ref", "target_ref"}, {}},
      {"sighting", false, {"sighting_of_ref"}, {}},
      {"marking-definition", false, {}, {"definition_type", "extensions"}},
      {"extension-definition", false, {"name", "schema", "version", "extension_types", "created_by_ref"}, {}},
      {"language-content", false, {"object_ref", "contents"}, {}},
      {"artifact", true, {}, {"payload_bin", "url"}},
      {"autonomous-system", true, {"number"}, {}},
      {"directory", true, {"path"}, {}},
      {"domain-name", true, {"value"}, {}},
      {"email-addr", true, {"value"}, {}},
      {"email-message", true, {"is_multipart"}, {}},
      {"file", true, {}, {"hashes", "name"}},
      {"ipv4-addr", true, {"value"}, {}},
      {"ipv6-addr", true, {"value"}, {}},
      {"mac-addr", true, {"value"}, {}},
      {"mutex", true, {"name"}, {}},
      {"network-traffic", true, {"protocols"}, {}},
      {"process", true, {}, {}},
      {"software", true, {"name"}, {}},
      {"url", true, {"value"}, {}},
      {"user-account", true, {}, {}},
      {"windows-registry-key", true, {}, {}},
      {"x509-certificate", true, {}, {}},
  };
  return rules;
}

const ObjectRule* ruleFor(std::string_view type) {
  for (const auto& r : objectRules()) {
    if (r.type == type) return &r;
  }
  return nullptr;
}

class Checker {
 public:
  explicit Checker(wire::Tlp tlp) : tlp_(tlp) {}

  std::optional<StixProblem> run(const nlohmann::json& bundle) {
    if (!bundle.is_object() || bundle.value("type", nlohmann::json()) != "bundle") {
      return invalid("the top level is not a STIX bundle (an object with \"type\": \"bundle\")");
    }
    const auto id = bundle.find("id");
    if (id == bundle.end() || !id->is_string() || !isIdentifier(id->get<std::string>()) ||
        id->get<std::string>().rfind("bundle--", 0) != 0) {
      return invalid("the bundle's id is not bundle--UUID");
    }
    const auto objects = bundle.find("objects");
    if (objects == bundle.end()) return std::nullopt;  // an empty bundle is valid STIX 2.1
    if (!objects->is_array()) return invalid("the bundle's objects is not an array");
    if (objects->size() > MaxStixObjects) {
      return invalid(fmt::format("the bundle has {} objects (at most {})", objects->size(), MaxStixObjects));
    }
    for (const auto& o : *objects) {
      if (!o.is_object()) return invalid("an element of objects is not an object");
      const auto oid = o.find("id");
      if (oid == o.end() || !oid->is_string()) return invalid("an object has no id");
      const std::string idText = oid->get<std::string>();
      if (!ids_.insert(idText).second) return invalid(fmt::format("{} appears twice in the bundle", idText));
    }
    for (const auto& o : *objects) {
      if (auto p = object(o)) return p;
    }
    return std::nullopt;
  }

 private:
  static StixProblem invalid(std::string message) { return StixProblem{"invalid-stix", std::move(message)}; }

  std::optional<StixProblem> object(const nlohmann::json& o) {
    const std::string id = o.at("id").get<std::string>();
    const auto type = o.find("type");
    if (type == o.end() || !type->is_string() || !isTypeName(type->get<std::string>())) {
      return invalid(fmt::format("{}: no valid type", id));
    }
    const std::string t = type->get<std::string>();
    if (!isIdentifier(id) || id.compare(0, t.size() + 2, t + "--") != 0) {
      return invalid(fmt::format("{}: the id is not {}--UUID", id, t));
    }
    const ObjectRule* rule = ruleFor(t);
    const bool sco = rule != nullptr && rule->sco;
    const auto spec = o.find("spec_version");
    if (spec == o.end() ? !sco : *spec != "2.1") {
      return invalid(fmt::format("{}: spec_version must be \"2.1\"", id));
    }
    if (t != "marking-definition" && !sco) {
      for (const char* p : {"created", "modified"}) {
        if (!o.contains(p)) return invalid(fmt::format("{}: required property {} is missing", id, p));
      }
    }
    if (t == "marking-definition" && !o.contains("created")) {
      return invalid(fmt::format("{}: required property created is missing", id));
    }
    if (rule != nullptr) {
      for (auto p : rule->required) {
        if (!o.contains(p)) return invalid(fmt::format("{}: required property {} is missing", id, p));
      }
      bool any = rule->anyOf.empty();
      for (auto p : rule->anyOf) any = any || o.contains(p);
      if (!any) return invalid(fmt::format("{}: needs one of its identifying properties", id));
    }
    for (const auto& [key, value] : o.items()) {
      if (timestampProperties().count(key) != 0 && value.is_string() && !isTimestamp(value.get<std::string>())) {
        return invalid(fmt::format("{}: {} is not an RFC 3339 UTC timestamp (e.g. 2026-12-07T09:30:00.000Z)", id, key));
      }
      if (timestampProperties().count(key) != 0 && !value.is_string()) {
        return invalid(fmt::format("{}: {} is not a timestamp string", id, key));
      }
    }
    if (auto p = typeSpecific(o, t, id)) return p;
    if (auto p = refs(o, id, 0, t == "observed-data")) return p;
    return markings(o, id);
  }

  std::optional<StixProblem> typeSpecific(const nlohmann::json& o, const std::string& t, const std::string& id) {
    auto str = [&](const char* key) { return o.contains(key) && o[key].is_string(); };
    if (t == "indicator") {
      if (!str("pattern") || !str("pattern_type")) return invalid(fmt::format("{}: pattern and pattern_type are strings", id));
      if (o.at("pattern_type") == "stix") {
        if (auto why = checkPattern(o.at("pattern").get<std::string>())) {
          return invalid(fmt::format("{}: the pattern does not parse: {}", id, *why));
        }
      }
    }
    if (t == "malware" && (!o.at("is_family").is_boolean() || (o.at("is_family") == true && !o.contains("name")))) {
      return invalid(fmt::format("{}: is_family is a boolean, and a malware family needs a name", id));
    }
    if (t == "observed-data" && (!o.at("number_observed").is_number_integer() || o.at("number_observed") < 1)) {
      return invalid(fmt::format("{}: number_observed is a positive integer", id));
    }
    if (o.contains("confidence") &&
        (!o.at("confidence").is_number_integer() || o.at("confidence") < 0 || o.at("confidence") > 100)) {
      return invalid(fmt::format("{}: confidence is an integer from 0 to 100", id));
    }
    if (t == "marking-definition") {
      // SECURITY: a bundle may not redefine a TLP 2.0 id (a "GREEN" that
      // is not the OASIS GREEN would defeat the TLP check below).
      if (auto level = tlpOfMarkingId(id); level && o != tlpMarkingDefinition(*level)) {
        return invalid(fmt::format("{}: is not the OASIS {} marking definition it claims to be", id,
                                   tlpMarkingDefinition(*level)["name"].get<std::string>()));
      }
      if (o.value("definition_type", "") == "tlp") {
        const auto def = o.find("definition");
        if (def == o.end() || !def->is_object() || !def->contains("tlp") || !def->at("tlp").is_string()) {
          return invalid(fmt::format("{}: a tlp definition needs definition.tlp", id));
        }
        static const std::map<std::string, wire::Tlp, std::less<>> v1 = {
            {"white", wire::Tlp::CLEAR}, {"clear", wire::Tlp::CLEAR}, {"green", wire::Tlp::GREEN},
            {"amber", wire::Tlp::AMBER}, {"red", wire::Tlp::RED}};
        const auto level = v1.find(def->at("tlp").get<std::string>());
        if (level == v1.end()) return invalid(fmt::format("{}: unknown TLP level", id));
        localTlp_[id] = level->second;
      }
    }
    return std::nullopt;
  }

  // Every *_ref and *_refs, at any depth (extensions, granular markings).
  std::optional<StixProblem> refs(const nlohmann::json& v, const std::string& id, int depth, bool observed) {
    if (depth > MaxStixDepth) return invalid(fmt::format("{}: nested too deeply", id));
    if (!v.is_object()) {
      if (v.is_array()) {
        for (const auto& e : v) {
          if (auto p = refs(e, id, depth + 1, false)) return p;
        }
      }
      return std::nullopt;
    }
    for (const auto& [key, value] : v.items()) {
      // observed-data's deprecated `objects` refers to its own keys ("0").
      if (observed && key == "objects") continue;
      const bool one = key.size() > 4 && key.compare(key.size() - 4, 4, "_ref") == 0;
      const bool many = key.size() > 5 && key.compare(key.size() - 5, 5, "_refs") == 0;
      if (one || many) {
        if (one && !value.is_string()) return invalid(fmt::format("{}: {} is not an identifier", id, key));
        if (many && (!value.is_array() || value.empty())) {
          return invalid(fmt::format("{}: {} is not a non-empty list of identifiers", id, key));
        }
        for (const auto& r : one ? nlohmann::json::array({value}) : value) {
          if (!r.is_string() || !isIdentifier(r.get<std::string>())) {
            return invalid(fmt::format("{}: {} holds something that is not an identifier", id, key));
          }
          const std::string ref = r.get<std::string>();
          if (ids_.count(ref) == 0 && !anyTlpOf(ref)) {
            return invalid(fmt::format("{}: {} {} is neither in the bundle nor a TLP marking definition", id, key,
                                       ref));
          }
        }
        continue;
      }
      if (value.is_structured()) {
        if (auto p = refs(value, id, depth + 1, false)) return p;
      }
    }
    return std::nullopt;
  }

  // SECURITY (TLP 2.0): an object may be marked as strict as the bulletin,
  // never stricter: an AMBER indicator cannot travel in a GREEN bulletin.
  std::optional<StixProblem> markings(const nlohmann::json& o, const std::string& id) {
    std::vector<std::string> marks;
    if (const auto m = o.find("object_marking_refs"); m != o.end()) {
      for (const auto& r : *m) marks.push_back(r.get<std::string>());
    }
    if (const auto g = o.find("granular_markings"); g != o.end() && g->is_array()) {
      for (const auto& gm : *g) {
        if (gm.is_object() && gm.contains("marking_ref") && gm["marking_ref"].is_string()) {
          marks.push_back(gm["marking_ref"].get<std::string>());
        }
      }
    }
    for (const auto& mark : marks) {
      std::optional<wire::Tlp> level = anyTlpOf(mark);
      if (!level) {
        const auto local = localTlp_.find(mark);
        if (local != localTlp_.end()) level = local->second;
      }
      if (level && tlpRank(*level) > tlpRank(tlp_)) {
        return StixProblem{"stix-tlp",
                           fmt::format("{} is marked TLP:{}, stricter than the bulletin's TLP:{}; send it in a "
                                       "TLP:{} bulletin or leave it out",
                                       id, protocol::tlpName(*level), protocol::tlpName(tlp_),
                                       protocol::tlpName(*level))};
      }
    }
    return std::nullopt;
  }

  wire::Tlp tlp_;
  std::set<std::string, std::less<>> ids_;
  std::map<std::string, wire::Tlp, std::less<>> localTlp_;  // TLP marking definitions in the bundle
};

}  // namespace

std::string_view tlpMarkingId(wire::Tlp tlp) {
  for (const auto& m : TlpMarkings) {
    if (m.tlp == tlp) return m.id;
  }
  return {};
}

nlohmann::json tlpMarkingDefinition(wire::Tlp tlp) {
  for (const auto& m : TlpMarkings) {
    if (m.tlp != tlp) continue;
    return nlohmann::json{
        {"type", "marking-definition"},
        {"spec_version", "2.1"},
        {"id", m.id},
        {"created", "2022-10-01T00:00:00.000Z"},
        {"name", m.name},
        {"extensions",
         {{std::string(TlpExtensionId), {{"extension_type", "property-extension"}, {"tlp_2_0", m.value}}}}}};
  }
  throw std::logic_error("tlpMarkingDefinition: no TLP level");
}

std::optional<wire::Tlp> tlpOfMarkingId(std::string_view id) {
  for (const auto& m : TlpMarkings) {
    if (m.id == id) return m.tlp;
  }
  return std::nullopt;
}

int tlpRank(wire::Tlp tlp) {
  switch (tlp) {
    case wire::Tlp::CLEAR: return 0;
    case wire::Tlp::GREEN: return 1;
    case wire::Tlp::AMBER: return 2;
    case wire::Tlp::AMBER_STRICT: return 3;
    case wire::Tlp::RED: return 4;
    default: return -1;
  }
}

std::string uuid5(const std::array<std::uint8_t, 16>& ns, std::string_view name) {
  // RFC 4122 §4.3: SHA-1 over namespace || name, first 16 bytes, version 5,
  // variant 10.
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha1(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), ns.data(), ns.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), name.data(), name.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1 || len < 16) {
    throw std::runtime_error("SHA-1 (OpenSSL) failed");
  }
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0f) | 0x50);
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3f) | 0x80);
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += fmt::format("{:02x}", digest[i]);
  }
  return out;
}

std::string timestamp(std::int64_t unixMs) {
  if (unixMs < 0) unixMs = 0;
  const std::time_t t = static_cast<std::time_t>(unixMs / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(unixMs % 1000));
}

bool isTimestamp(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.s+]Z
  if (s.size() < 20 || s.back() != 'Z') return false;
  auto digits = [&](std::size_t at, std::size_t n, int lo, int hi) {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    return v >= lo && v <= hi;
  };
  if (!digits(0, 4, 0, 9999) || s[4] != '-' || !digits(5, 2, 1, 12) || s[7] != '-' || !digits(8, 2, 1, 31) ||
      s[10] != 'T' || !digits(11, 2, 0, 23) || s[13] != ':' || !digits(14, 2, 0, 59) || s[16] != ':' ||
      !digits(17, 2, 0, 60)) {
    return false;
  }
  if (s.size() == 20) return true;
  if (s[19] != '.' || s.size() < 22) return false;
  for (std::size_t i = 20; i + 1 < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

bool isIdentifier(std::string_view text) {
  const auto sep = text.find("--");
  if (sep == std::string_view::npos) return false;
  return isTypeName(text.substr(0, sep)) && isUuid(text.substr(sep + 2));
}

bool nestsWithin(std::string_view text, int limit) {
  int depth = 0;
  bool inString = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (inString) {
      if (c == '\\') ++i;
      else if (c == '"') inString = false;
      continue;
    }
    if (c == '"') inString = true;
    else if (c == '[' || c == '{') {
      if (++depth > limit) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

Validated validateBundle(std::string_view text, wire::Tlp tlp) {
  Validated out;
  if (text.size() > protocol::MaxContentBytes) {
    out.problem = StixProblem{"invalid-stix", fmt::format("the bundle is {} bytes; a bulletin's content holds at most {}",
                                                          text.size(), protocol::MaxContentBytes)};
    return out;
  }
  if (!nestsWithin(text, MaxStixDepth)) {
    out.problem = StixProblem{"invalid-stix", fmt::format("the bundle nests deeper than {} levels", MaxStixDepth)};
    return out;
  }
  auto bundle = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (bundle.is_discarded()) {
    out.problem = StixProblem{"invalid-stix", "the bundle is not JSON"};
    return out;
  }
  try {
    if (auto p = Checker(tlp).run(bundle)) {
      out.problem = std::move(*p);
      return out;
    }
  } catch (const std::exception& e) {
    // A type the checks above did not expect (nlohmann throws on a wrong
    // get<>): still a refusal, never an escape.
    out.problem = StixProblem{"invalid-stix", std::string("the bundle is malformed: ") + e.what()};
    return out;
  }
  out.bundle = std::move(bundle);
  return out;
}

}  // namespace focal::client::stix

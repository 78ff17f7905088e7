// STIX 2.1 (issue 21, docs/cti.md): UUIDv5, the patterning grammar against a
// corpus of valid and invalid patterns, the carried-bundle validator on good
// and hostile input, TLP consistency, and the export of every bulletin
// checked against the vendored OASIS STIX 2.1 JSON schemas.
#include "client/stix.hpp"
#include "client/stix_export.hpp"
#include "client/cli_context.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

using namespace focal;
using namespace focal::client;
using Catch::Matchers::Contains;

namespace {

std::vector<std::string> corpus(const std::string& name) {
  std::ifstream in(std::string(FOCAL_TEST_DATA_DIR) + "/stix-patterns/" + name);
  REQUIRE(in);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.front() == '#') continue;
    out.push_back(line);
  }
  return out;
}

constexpr const char* Indicator = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
constexpr const char* Address = "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd";

// A carried bundle: an indicator, the address it is about, and the
// relationship between them; `indicatorExtra` is spliced into the indicator.
std::string bundle(const std::string& indicatorExtra = "", const std::string& pattern =
                                                               "[ipv4-addr:value = '198.51.100.7']") {
  return R"({"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[
    {"type":"indicator","spec_version":"2.1","id":")" + std::string(Indicator) +
         R"(","created":"2026-12-01T10:00:00.000Z","modified":"2026-12-01T10:00:00.000Z",
     "name":"Phishing kit C2","indicator_types":["malicious-activity"],"pattern":")" + pattern +
         R"(","pattern_type":"stix","valid_from":"2026-12-01T10:00:00Z")" + indicatorExtra + R"(},
    {"type":"ipv4-addr","spec_version":"2.1","id":")" + Address + R"(","value":"198.51.100.7"},
    {"type":"relationship","spec_version":"2.1","id":"relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad",
     "created":"2026-12-01T10:00:00.000Z","modified":"2026-12-01T10:00:00.000Z","relationship_type":"related-to",
     "source_ref":")" + Indicator + R"(","target_ref":")" + Address + R"("}]})";
}

std::string problemOf(std::string_view text, wire::Tlp tlp = wire::Tlp::GREEN) {
  auto v = stix::validateBundle(text, tlp);
  if (!v.problem) return "";
  return v.problem->code + ": " + v.problem->message;
}

OpenedMessage bulletin(wire::Tlp tlp, std::string carried = "") {
  crypto::initialize();  // OpenedMessage holds a content key (libsodium memory)
  OpenedMessage m;
  m.id = *crypto::BulletinId::fromBytes(*crypto::fromHex("0f3c9a1e5b7d2c4f6a8e0b1d3f5a7c9e"));
  m.senderId = "my-pdrm-cyber";
  m.senderName = "PDRM Cyber Crime";
  m.senderFingerprint = "ab12 cd34";
  m.createdAtMs = 1'796'000'000'123;
  m.tlp = tlp;
  m.category = wire::Category::ALERT;
  m.handling = wire::Handling::H2;
  m.sourceReliability = wire::SourceReliability::B;
  m.infoAccuracy = 2;
  m.title = "Phishing kit targeting banks";
  m.body = "Seen at three banks.";
  m.attackTechniques = {"T1566.002"};
  m.stixBundle = std::move(carried);
  return m;
}

const nlohmann::json* find(const nlohmann::json& bundle, std::string_view type) {
  for (const auto& o : bundle["objects"]) {
    if (o["type"] == type) return &o;
  }
  return nullptr;
}

// The vendored OASIS schemas through python3-jsonschema (tests/stix_validate.py).
std::string schemaProblems(const nlohmann::json& bundle) {
  const auto dir = std::filesystem::temp_directory_path() / ("focal-stix-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "bundle.json";
  std::ofstream(file) << bundle.dump(2);
  const auto errors = dir / "errors.txt";
  const std::string cmd = std::string("python3 ") + FOCAL_STIX_VALIDATOR + " " + FOCAL_TEST_DATA_DIR +
                          "/stix2-schemas " + file.string() + " 2> " + errors.string();
  const int rc = std::system(cmd.c_str());
  std::stringstream s;
  s << std::ifstream(errors).rdbuf();
  std::filesystem::remove_all(dir);
  if (rc != 0 && s.str().empty()) return "the validator did not run (python3 with python3-jsonschema?)";
  return rc == 0 ? "" : s.str();
}

}  // namespace

TEST_CASE("uuid5 is RFC 4122 version 5 over SHA-1", "[stix]") {
  // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org").
  const std::array<std::uint8_t, 16> dns = {0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
                                            0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};
  CHECK(stix::uuid5(dns, "python.org") == "886313e1-3b8a-5372-9b90-0c9aee199e5d");
  CHECK(stix::uuid5(stix::FocalNamespace, "a") != stix::uuid5(stix::FocalNamespace, "b"));
}

TEST_CASE("every pattern of the valid corpus parses", "[stix][pattern]") {
  for (const auto& p : corpus("valid.txt")) {
    INFO(p);
    CHECK(stix::checkPattern(p) == std::nullopt);
  }
}

TEST_CASE("every pattern of the invalid corpus is refused with a reason", "[stix][pattern]") {
  for (const auto& p : corpus("invalid.txt")) {
    INFO(p);
    const auto why = stix::checkPattern(p);
    REQUIRE(why.has_value());
    CHECK_FALSE(why->empty());
  }
  CHECK(stix::checkPattern("").has_value());
}

TEST_CASE("pattern nesting is bounded", "[stix][pattern]") {
  std::string ok = std::string(20, '(') + "[file:name = 'a']" + std::string(20, ')');
  CHECK(stix::checkPattern(ok) == std::nullopt);
  std::string deep = std::string(100000, '(') + "[file:name = 'a']" + std::string(100000, ')');
  const auto why = stix::checkPattern(deep);
  REQUIRE(why.has_value());
  CHECK_THAT(*why, Contains("deeper than"));
  std::string deepComparison = "[" + std::string(100000, '(') + "file:name = 'a'" + std::string(100000, ')') + "]";
  CHECK(stix::checkPattern(deepComparison).has_value());
}

TEST_CASE("timestamps and identifiers as STIX writes them", "[stix]") {
  CHECK(stix::isTimestamp("2026-12-07T09:30:00Z"));
  CHECK(stix::isTimestamp("2026-12-07T09:30:00.123456Z"));
  CHECK_FALSE(stix::isTimestamp("2026-12-07T09:30:00"));
  CHECK_FALSE(stix::isTimestamp("2026-12-07T09:30:00+00:00"));
  CHECK_FALSE(stix::isTimestamp("2026-13-07T09:30:00Z"));
  CHECK_FALSE(stix::isTimestamp("2026-12-07T24:30:00Z"));
  CHECK_FALSE(stix::isTimestamp("2026-12-07T09:30:00.Z"));
  CHECK(stix::timestamp(1'796'000'000'123) == "2026-11-30T00:53:20.123Z");
  CHECK(stix::isIdentifier(Indicator));
  CHECK_FALSE(stix::isIdentifier("indicator--8e2e2d2b-17d4-4cbf-938f"));
  CHECK_FALSE(stix::isIdentifier("Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"));
  CHECK_FALSE(stix::isIdentifier("indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"));
  CHECK_FALSE(stix::isIdentifier("indicator--8e2e2d2b-17d4-4cbf-c38f-98ee46b3cd3f"));  // variant
}

TEST_CASE("a valid carried bundle passes", "[stix]") {
  auto v = stix::validateBundle(bundle(), wire::Tlp::GREEN);
  INFO((v.problem ? v.problem->message : ""));
  REQUIRE(v.bundle);
  CHECK((*v.bundle)["objects"].size() == 3);
  // Objects marked as strict as the bulletin, or less, travel.
  CHECK(problemOf(bundle(R"(,"object_marking_refs":["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"])")) == "");
  CHECK(problemOf(bundle(R"(,"object_marking_refs":["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"])")) == "");
  // An empty bundle is valid STIX 2.1.
  CHECK(problemOf(R"({"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d"})") == "");
}

TEST_CASE("an object marked stricter than the bulletin is refused by name", "[stix][tlp]") {
  const std::string amber = R"(,"object_marking_refs":["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"])";
  const auto p = problemOf(bundle(amber), wire::Tlp::GREEN);
  CHECK_THAT(p, Contains("stix-tlp"));
  CHECK_THAT(p, Contains(Indicator));
  CHECK_THAT(p, Contains("TLP:AMBER"));
  CHECK(problemOf(bundle(amber), wire::Tlp::AMBER) == "");
  CHECK(problemOf(bundle(amber), wire::Tlp::RED) == "");
  // RED in AMBER+STRICT, through a granular marking.
  const std::string red = R"(,"granular_markings":[{"selectors":["pattern"],"marking_ref":"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"}])";
  CHECK_THAT(problemOf(bundle(red), wire::Tlp::AMBER_STRICT), Contains("stix-tlp"));
  // A TLP 1.0 AMBER marking ranks as AMBER.
  const std::string v1 = R"(,"object_marking_refs":["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"])";
  CHECK_THAT(problemOf(bundle(v1), wire::Tlp::CLEAR), Contains("stix-tlp"));
}

TEST_CASE("a bundle cannot redefine a TLP 2.0 marking id", "[stix][tlp]") {
  // A "GREEN" definition that is really something else would defeat the check.
  std::string text = bundle();
  const std::string fake =
      R"({"type":"marking-definition","spec_version":"2.1","id":"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb","created":"2022-10-01T00:00:00.000Z","name":"TLP:GREEN","definition_type":"statement","definition":{"statement":"anything goes"}},)";
  text.insert(text.find("{\"type\":\"indicator\""), fake);
  CHECK_THAT(problemOf(text), Contains("not the OASIS TLP:GREEN"));
  // The exact OASIS object is accepted.
  text = bundle();
  text.insert(text.find("{\"type\":\"indicator\""), stix::tlpMarkingDefinition(wire::Tlp::GREEN).dump() + ",");
  CHECK(problemOf(text) == "");
}

TEST_CASE("malformed bundles are refused with a reason and never throw", "[stix][hostile]") {
  const std::pair<const char*, std::string> cases[] = {
      {"not JSON", "{\"type\":"},
      {"not a STIX bundle", R"({"type":"report"})"},
      {"bundle's id", R"({"type":"bundle","id":"bundle--1","objects":[]})"},
      {"objects is not an array", R"({"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":{}})"},
      {"no valid type", R"({"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{"id":"x--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}]})"},
      {"has no id", R"({"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{"type":"indicator"}]})"},
      {"spec_version", bundle(R"(,"spec_version":"2.0")")},
      {"required property valid_from", [] {
         auto b = bundle();
         const auto at = b.find(R"(,"valid_from")");
         return b.erase(at, std::string(R"(,"valid_from":"2026-12-01T10:00:00Z")").size());
       }()},
      {"not an RFC 3339", bundle(R"(,"valid_until":"2026-12-01 10:00")")},
      {"the pattern does not parse", bundle("", "[ipv4-addr:value = ]")},
      {"neither in the bundle nor a TLP", bundle(R"(,"created_by_ref":"identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")")},
      {"not an identifier", bundle(R"(,"created_by_ref":"someone")")},
      {"confidence", bundle(R"(,"confidence":101)")},
      {"appears twice", [] {
         auto b = bundle();
         const std::string rel = b.substr(b.find(R"({"type":"relationship")"));
         return b.substr(0, b.size() - 2) + "," + rel.substr(0, rel.size() - 2) + "]}";
       }()},
      {"nests deeper", std::string(100, '[') + std::string(100, ']')},
  };
  for (const auto& [why, text] : cases) {
    INFO(why << ": " << text);
    const auto p = problemOf(text);
    CHECK_THAT(p, Contains(why));
  }
  std::string huge(protocol::MaxContentBytes + 1, ' ');
  CHECK_THAT(problemOf(huge), Contains("bytes"));
}

TEST_CASE("random mutations of a bundle never escape the validator", "[stix][hostile]") {
  std::mt19937 rng(21);
  const std::string good = bundle();
  for (int i = 0; i < 3000; ++i) {
    std::string t = good;
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      const auto at = rng() % t.size();
      switch (rng() % 3) {
        case 0: t[at] = static_cast<char>(rng() % 256); break;
        case 1: t.erase(at, 1 + rng() % 16); break;
        default: t.insert(at, 1, "{}[]\",:0a-"[rng() % 11]); break;
      }
      if (t.empty()) t = "{";
    }
    CHECK_NOTHROW(stix::validateBundle(t, wire::Tlp::GREEN));
  }
}

TEST_CASE("a plain bulletin exports a bundle valid against the OASIS schemas", "[stix][export]") {
  const auto b = stixBundleFor(bulletin(wire::Tlp::GREEN));
  CHECK(schemaProblems(b) == "");
  CHECK(b == stixBundleFor(bulletin(wire::Tlp::GREEN)));  // deterministic ids: re-export is identical
  const auto* report = find(b, "report");
  REQUIRE(report);
  CHECK((*report)["name"] == "Phishing kit targeting banks");
  CHECK((*report)["description"] == "Seen at three banks.");
  CHECK((*report)["published"] == "2026-11-30T00:53:20.123Z");
  CHECK((*report)["confidence"] == 70);  // accuracy 2: Admiralty "probably true"
  CHECK((*report)["object_marking_refs"] == nlohmann::json::array({"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"}));
  const auto& provenance = (*report)["extensions"][focalProvenanceExtensionId()];
  CHECK(provenance["bulletin_id"] == "0f3c9a1e5b7d2c4f6a8e0b1d3f5a7c9e");
  CHECK(provenance["sender_id"] == "my-pdrm-cyber");
  CHECK(provenance["handling"] == "H2");
  CHECK(provenance["evaluation"] == "B2");
  CHECK(provenance["signature_verified"] == true);
  const auto* pattern = find(b, "attack-pattern");
  REQUIRE(pattern);
  CHECK((*pattern)["id"] == "attack-pattern--2b742742-28c3-4e1b-bab7-8350d6300fa7");  // MITRE's id
  CHECK((*pattern)["name"] == "Spearphishing Link");
  CHECK((*pattern)["external_references"][0] ==
        nlohmann::json{{"source_name", "mitre-attack"},
                       {"external_id", "T1566.002"},
                       {"url", "https://attack.mitre.org/techniques/T1566/002/"}});
  const auto* marking = find(b, "marking-definition");
  REQUIRE(marking);
  CHECK(*marking == stix::tlpMarkingDefinition(wire::Tlp::GREEN));
  const auto* identity = find(b, "identity");
  REQUIRE(identity);
  CHECK((*identity)["name"] == "PDRM Cyber Crime");
  // Every id in the report's object_refs is in the bundle.
  std::set<std::string> ids;
  for (const auto& o : b["objects"]) ids.insert(o["id"].get<std::string>());
  for (const auto& r : (*report)["object_refs"]) CHECK(ids.count(r.get<std::string>()) == 1);
}

TEST_CASE("a carried bundle exports with its objects and unmarked ones take the bulletin's TLP", "[stix][export]") {
  const std::string clear = R"(,"object_marking_refs":["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"])";
  const auto b = stixBundleFor(bulletin(wire::Tlp::AMBER, bundle(clear)));
  CHECK(schemaProblems(b) == "");
  const auto* indicator = find(b, "indicator");
  REQUIRE(indicator);
  CHECK((*indicator)["object_marking_refs"][0] == "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487");
  const auto* address = find(b, "ipv4-addr");
  REQUIRE(address);
  CHECK((*address)["object_marking_refs"][0] == "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421");
  // Both TLP definitions used are in the bundle, exactly as OASIS publishes them.
  int markings = 0;
  for (const auto& o : b["objects"]) {
    if (o["type"] == "marking-definition") ++markings;
  }
  CHECK(markings == 2);
  const auto* report = find(b, "report");
  REQUIRE(report);
  CHECK((*report)["report_types"] == nlohmann::json::array({"threat-report", "indicator"}));
  // The export re-checks the carried bundle: one that no longer validates is refused.
  auto bad = bulletin(wire::Tlp::GREEN, bundle(R"(,"object_marking_refs":["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"])"));
  CHECK_THROWS_AS(stixBundleFor(bad), cli::UsageError);
}

TEST_CASE("the schema check itself refuses an invalid export", "[stix][export]") {
  // Proves the validator is live: a report without published fails.
  auto b = stixBundleFor(bulletin(wire::Tlp::CLEAR));
  for (auto& o : b["objects"]) {
    if (o["type"] == "report") o.erase("published");
  }
  CHECK_THAT(schemaProblems(b), Contains("published"));
}

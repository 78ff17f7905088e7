// Issue 21 end to end with the real hub and CLI (docs/cti.md): a bulletin
// sent with --stix and --attack exports as a STIX 2.1 bundle that validates
// against the OASIS schemas, with the TLP 2.0 marking of its level and the
// ATT&CK attack-pattern; a plain bulletin exports valid STIX too; an
// AMBER-marked bundle in a GREEN bulletin and an invalid bundle are refused
// before sealing; a hostile sender's invalid bundle is a verification
// problem on receipt, never exported; MISP events go in and come out.
#include "hub_fixture.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace focal;
using namespace focal::test;
using nlohmann::json;
using Catch::Matchers::Contains;

namespace {

using Inst = wire::Institution;

constexpr const char* Green = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
constexpr const char* Amber = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
constexpr const char* Indicator = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";

struct Cti {
  Hub hub;
  TempDir home;
  TestMember myLe = hub.createMember("my-le", "MY", Inst::LAW_ENFORCEMENT, true);
  TestMember sgLe = hub.createMember("sg-le", "SG", Inst::LAW_ENFORCEMENT, true);

  ProcessResult run(const TestMember& m, const std::vector<std::string>& args) {
    return runCli(concat(concat(hub.cliGlobals(m.keyFile, home.path() / m.id()), {"--json"}), args));
  }
  // --json as `m`; requires exit `expected` and returns the document.
  json cli(const TestMember& m, const std::vector<std::string>& args, int expected = 0) {
    auto r = run(m, args);
    INFO("focal " << args.front() << " as " << m.id() << " -> exit " << r.exitCode << "\nstdout: " << r.out
                  << "\nstderr: " << r.err);
    REQUIRE(r.exitCode == expected);
    json j;
    REQUIRE_NOTHROW(j = json::parse(r.out));
    return j;
  }
  fs::path file(const std::string& name, const std::string& text) {
    const auto p = home.path() / name;
    std::ofstream(p) << text;
    return p;
  }
  // The export of `id` as sg-le, parsed.
  json exported(const std::string& id, const std::string& format, bool understood = false) {
    std::vector<std::string> args{"export", id, "--format", format};
    if (understood) args.emplace_back("--i-understand-tlp");
    auto r = run(sgLe, args);
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    return json::parse(r.out);
  }
};

std::string bundle(const std::string& indicatorExtra = "") {
  return R"({"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[
    {"type":"indicator","spec_version":"2.1","id":")" + std::string(Indicator) +
         R"(","created":"2026-12-01T10:00:00.000Z","modified":"2026-12-01T10:00:00.000Z",
     "name":"Phishing kit C2","indicator_types":["malicious-activity"],
     "pattern":"[domain-name:value = 'secure-login.bank.example']","pattern_type":"stix",
     "valid_from":"2026-12-01T10:00:00Z")" + indicatorExtra + R"(},
    {"type":"domain-name","spec_version":"2.1","id":"domain-name--3c10e93f-798e-5a26-a0c1-08156efab7f5",
     "value":"secure-login.bank.example"}]})";
}

// The vendored OASIS schemas through tests/stix_validate.py: "" when valid.
std::string schemaProblems(const fs::path& dir, const json& b) {
  const auto file = dir / "export-check.json";
  std::ofstream(file) << b.dump(2);
  const auto errors = dir / "export-check.err";
  const std::string cmd = std::string("python3 ") + FOCAL_STIX_VALIDATOR + " " + FOCAL_TEST_DATA_DIR +
                          "/stix2-schemas " + file.string() + " 2> " + errors.string();
  const int rc = std::system(cmd.c_str());
  const auto err = slurp(errors);
  if (rc != 0 && err.empty()) return "the validator did not run (python3 with python3-jsonschema?)";
  return rc == 0 ? "" : err;
}

const json* objectOf(const json& b, const std::string& type) {
  for (const auto& o : b["objects"]) {
    if (o["type"] == type) return &o;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("a bulletin sent with --stix and --attack exports a bundle valid against the OASIS schemas",
          "[integration][cti]") {
  Cti g;
  const auto stixFile = g.file("alert.stix.json", bundle());
  const auto sent = g.cli(g.myLe, {"send", "--to", "sg-le", "--tlp", "green", "--category", "alert", "--title",
                                   "Phishing kit targeting banks", "--body", "Seen at three banks.", "--attack",
                                   "T1566.002", "--evaluation", "B2", "--stix", stixFile.string()});
  const std::string id = sent.at("bulletin_id");

  // The receiver validates the carried bundle again before showing it.
  const auto read = g.cli(g.sgLe, {"read", id});
  CHECK(read.at("stix_objects") == 2);
  CHECK(read.at("stix_problem").is_null());
  const auto text = runCli(concat(g.hub.cliGlobals(g.sgLe.keyFile, g.home.path() / "sg-le"), {"read", id}));
  CHECK_THAT(text.out, Contains("STIX:      2 object(s): indicator, domain-name  [validated"));

  const auto b = g.exported(id, "stix");
  CHECK(schemaProblems(g.home.path(), b) == "");
  const auto* marking = objectOf(b, "marking-definition");
  REQUIRE(marking);
  CHECK(marking->at("id") == Green);
  const auto* pattern = objectOf(b, "attack-pattern");
  REQUIRE(pattern);
  CHECK(pattern->at("external_references")[0].at("external_id") == "T1566.002");
  CHECK(pattern->at("external_references")[0].at("url") == "https://attack.mitre.org/techniques/T1566/002/");
  const auto* indicator = objectOf(b, "indicator");
  REQUIRE(indicator);
  CHECK(indicator->at("id") == Indicator);
  CHECK(indicator->at("object_marking_refs") == json::array({Green}));  // unmarked: the bulletin's TLP
  const auto* report = objectOf(b, "report");
  REQUIRE(report);
  CHECK(report->at("confidence") == 70);
  // Exporting again gives the same ids.
  CHECK(g.exported(id, "stix") == b);
}

TEST_CASE("a plain bulletin exports valid STIX", "[integration][cti]") {
  Cti g;
  const auto sent = g.cli(g.myLe, {"send", "--to", "sg-le", "--tlp", "clear", "--category", "trend", "--title",
                                   "Scam call centres", "--body", "A trend report."});
  const auto b = g.exported(sent.at("bulletin_id"), "stix");
  CHECK(schemaProblems(g.home.path(), b) == "");
  const auto* report = objectOf(b, "report");
  REQUIRE(report);
  CHECK(report->at("name") == "Scam call centres");
  CHECK(report->at("report_types") == json::array({"threat-report"}));
  const auto read = g.cli(g.sgLe, {"read", sent.at("bulletin_id")});
  CHECK(read.at("stix_objects").is_null());
}

TEST_CASE("an AMBER-marked bundle in a GREEN bulletin and an invalid bundle are refused before sealing",
          "[integration][cti]") {
  Cti g;
  const auto amber = g.file("amber.json", bundle(std::string(R"(,"object_marking_refs":[")") + Amber + "\"]"));
  auto r = g.cli(g.myLe,
                 {"send", "--to", "sg-le", "--tlp", "green", "--category", "alert", "--title", "t", "--body", "b",
                  "--stix", amber.string()},
                 1);
  CHECK(r.at("error").at("code") == "stix-tlp");
  CHECK_THAT(r.at("error").at("message").get<std::string>(), Contains(Indicator));
  CHECK_THAT(r.at("error").at("message").get<std::string>(), Contains("TLP:AMBER"));
  // In an AMBER bulletin it travels.
  g.cli(g.myLe, {"send", "--to", "sg-le", "--tlp", "amber", "--category", "alert", "--title", "t", "--body", "b",
                 "--stix", amber.string()});

  const auto invalid = g.file("invalid.json", bundle(R"(,"valid_until":"yesterday")"));
  r = g.cli(g.myLe,
            {"send", "--to", "sg-le", "--tlp", "green", "--category", "alert", "--title", "t", "--body", "b", "--stix",
             invalid.string()},
            1);
  CHECK(r.at("error").at("code") == "invalid-stix");
  CHECK_THAT(r.at("error").at("message").get<std::string>(), Contains("valid_until"));
  const auto badPattern = g.file("pattern.json", [] {
    auto b = bundle();
    const std::string from = "[domain-name:value = 'secure-login.bank.example']";
    return b.replace(b.find(from), from.size(), "[domain-name:value = ]");
  }());
  r = g.cli(g.myLe,
            {"send", "--to", "sg-le", "--tlp", "green", "--category", "alert", "--title", "t", "--body", "b", "--stix",
             badPattern.string()},
            1);
  CHECK_THAT(r.at("error").at("message").get<std::string>(), Contains("pattern does not parse"));
  // Nothing was sent: sg-le's inbox holds only the AMBER bulletin.
  CHECK(g.cli(g.sgLe, {"inbox"}).size() == 1);
}

TEST_CASE("an invalid bundle from a modified client is a verification problem on receipt", "[integration][cti]") {
  Cti g;
  // A modified client seals what focal send refuses: an AMBER indicator in
  // a GREEN bulletin.
  auto draft = draftTo({&g.sgLe.keys}, "hostile bundle", wire::Tlp::GREEN);
  draft.stixBundle = bundle(std::string(R"(,"object_marking_refs":[")") + Amber + "\"]");
  const auto sealed = sealDraft(draft, g.myLe.keys, crypto::ContentKey::random());
  g.hub.connect(g.myLe.keys)->send(sealed);
  const std::string id = crypto::toHex(sealed.id);

  const auto read = g.cli(g.sgLe, {"read", id});  // the signed content is still shown
  CHECK(read.at("title") == "hostile bundle");
  CHECK(read.at("stix_objects").is_null());
  CHECK_THAT(read.at("stix_problem").get<std::string>(), Contains("stricter than the bulletin"));
  const auto text = runCli(concat(g.hub.cliGlobals(g.sgLe.keyFile, g.home.path() / "sg-le"), {"read", id}));
  CHECK_THAT(text.out, Contains("WARNING: the carried STIX bundle does not verify"));
  const auto r = g.cli(g.sgLe, {"export", id, "--format", "stix"}, 1);
  CHECK(r.at("error").at("code") == "stix-tlp");
}

TEST_CASE("MISP events import with focal send --misp and export with --format misp", "[integration][cti][misp]") {
  Cti g;
  const std::string dir = std::string(FOCAL_TEST_DATA_DIR) + "/misp/";
  // TLP, title, ATT&CK and attributes from the event.
  const auto sent = g.cli(g.myLe, {"send", "--to", "sg-le", "--misp", dir + "event-amber.json"});
  const std::string id = sent.at("bulletin_id");
  const auto read = g.cli(g.sgLe, {"read", id});
  CHECK(read.at("tlp") == "TLP:AMBER");
  CHECK(read.at("title") == "Phishing kit targeting banks in the region");
  CHECK(read.at("category") == "alert");
  CHECK(read.at("attack") == json::array({"T1566.002"}));
  CHECK(read.at("stix_objects") == 6);
  CHECK_THAT(read.at("body").get<std::string>(), Contains("sha256 aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"));

  // Out again as MISP (AMBER: only with --i-understand-tlp).
  g.cli(g.sgLe, {"export", id, "--format", "misp"}, 1);
  const auto event = g.exported(id, "misp", true);
  const auto original = json::parse(slurp(dir + "event-amber.json"));
  CHECK(event["Event"]["info"] == original["Event"]["info"]);
  std::set<std::string> tags;
  for (const auto& t : event["Event"]["Tag"]) tags.insert(t["name"].get<std::string>());
  CHECK(tags.count("tlp:amber") == 1);
  CHECK(tags.count(R"(misp-galaxy:mitre-attack-pattern="Spearphishing Link - T1566.002")") == 1);
  std::set<std::pair<std::string, std::string>> values;
  for (const auto& a : event["Event"]["Attribute"]) {
    values.emplace(a["type"].get<std::string>(), a["value"].get<std::string>());
  }
  CHECK(values.count({"ip-dst", "198.51.100.7"}) == 1);
  CHECK(values.count({"url", "https://secure-login.bank.example/it's/verify"}) == 1);
  CHECK(values.count({"filename", "invoice-2026-12.exe"}) == 1);
  CHECK(values.size() == 6);
  // And its STIX export validates against the OASIS schemas too.
  CHECK(schemaProblems(g.home.path(), g.exported(id, "stix", true)) == "");

  // No tlp: tag: refused unless --tlp.
  auto r = g.cli(g.myLe, {"send", "--to", "sg-le", "--misp", dir + "event-no-tlp.json"}, 1);
  CHECK(r.at("error").at("code") == "no-tlp");
  g.cli(g.myLe, {"send", "--to", "sg-le", "--tlp", "green", "--misp", dir + "event-no-tlp.json"});
  // A --tlp that contradicts the event's tag is refused.
  r = g.cli(g.myLe, {"send", "--to", "sg-le", "--tlp", "green", "--misp", dir + "event-amber.json"}, 1);
  CHECK(r.at("error").at("code") == "bad-tlp");
  r = g.cli(g.myLe, {"send", "--to", "sg-le", "--misp", dir + "event-two-tlp.json"}, 1);
  CHECK(r.at("error").at("code") == "bad-misp");
}

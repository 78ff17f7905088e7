// MISP events (issue 21, docs/cti.md): import of MISP event files written
// from MISP's core format documentation (tests/data/misp), export of a
// bulletin as an event, and the round trip between the two.
#include "client/misp.hpp"
#include "client/stix.hpp"
#include "client/cli_context.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace focal;
using namespace focal::client;
using Catch::Matchers::Contains;

namespace {

std::string eventFile(const std::string& name) {
  std::ifstream in(std::string(FOCAL_TEST_DATA_DIR) + "/misp/" + name);
  REQUIRE(in);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

constexpr std::int64_t Now = 1'796'200'000'000;

// The bulletin a receiver opens after `focal send --misp` of `imported`.
OpenedMessage bulletinOf(const misp::Imported& imported) {
  crypto::initialize();  // OpenedMessage holds a content key (libsodium memory)
  OpenedMessage m;
  m.id = *crypto::BulletinId::fromBytes(*crypto::fromHex("11223344556677889900aabbccddeeff"));
  m.senderId = "xx-cert";
  m.senderName = "CERT-EXAMPLE";
  m.createdAtMs = Now;
  m.tlp = *imported.tlp;
  m.priority = wire::Priority::URGENT;
  m.category = wire::Category::ALERT;
  m.title = imported.title;
  m.body = imported.summary;
  m.attackTechniques = imported.attack;
  m.stixBundle = imported.stixBundle;
  return m;
}

// (type, value, to_ids) of every attribute, sorted.
std::vector<std::tuple<std::string, std::string, bool>> attributes(const nlohmann::json& event) {
  std::vector<std::tuple<std::string, std::string, bool>> out;
  for (const auto& a : event["Event"]["Attribute"]) {
    const bool toIds = a["to_ids"].is_boolean() ? a["to_ids"].get<bool>() : a["to_ids"] == "1";
    out.emplace_back(a["type"].get<std::string>(), a["value"].get<std::string>(), toIds);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> tagNames(const nlohmann::json& event) {
  std::vector<std::string> out;
  for (const auto& t : event["Event"]["Tag"]) out.push_back(t["name"].get<std::string>());
  return out;
}

}  // namespace

TEST_CASE("a MISP event imports as title TLP ATT&CK and a valid STIX bundle", "[misp]") {
  const auto imported = misp::importEvent(eventFile("event-amber.json"), Now);
  CHECK(imported.title == "Phishing kit targeting banks in the region");
  REQUIRE(imported.tlp);
  CHECK(*imported.tlp == wire::Tlp::AMBER);
  CHECK(imported.attack == std::vector<std::string>{"T1566.002"});
  CHECK(imported.skipped == std::vector<std::string>{"text"});
  CHECK_THAT(imported.summary, Contains("ip-dst 198.51.100.7  (for detection)"));
  const auto v = stix::validateBundle(imported.stixBundle, wire::Tlp::AMBER);
  INFO((v.problem ? v.problem->message : ""));
  REQUIRE(v.bundle);
  int indicators = 0;
  int observables = 0;
  for (const auto& o : (*v.bundle)["objects"]) {
    if (o["type"] == "indicator") {
      ++indicators;
      CHECK(stix::checkPattern(o["pattern"].get<std::string>()) == std::nullopt);
    } else {
      ++observables;
      CHECK(o["type"] == "ipv4-addr");  // ip-src, not for detection
    }
  }
  CHECK(indicators == 5);  // ip-dst, domain, url, sha256, and the file object's filename
  CHECK(observables == 1);
  // The attribute's own uuid becomes the indicator's, so platforms de-duplicate.
  CHECK_THAT(imported.stixBundle, Contains("indicator--9a3f1c5e-7b2d-4e6a-8c1f-5d3b7a9e1f2c"));
  // A quote in a value is escaped in the pattern.
  CHECK_THAT(imported.stixBundle, Contains(R"([url:value = 'https://secure-login.bank.example/it\\'s/verify'])"));
}

TEST_CASE("MISP galaxy clusters and tlp:white import", "[misp]") {
  const auto imported = misp::importEvent(eventFile("event-galaxy-white.json"), Now);
  REQUIRE(imported.tlp);
  CHECK(*imported.tlp == wire::Tlp::CLEAR);
  CHECK(imported.attack == std::vector<std::string>{"T1566"});
  CHECK_FALSE(stix::validateBundle(imported.stixBundle, wire::Tlp::CLEAR).problem);
}

TEST_CASE("MISP events that cannot become a bulletin are refused with a reason", "[misp]") {
  const auto noTlp = misp::importEvent(eventFile("event-no-tlp.json"), Now);
  CHECK_FALSE(noTlp.tlp);  // focal send then needs --tlp
  const std::pair<std::string, const char*> cases[] = {
      {eventFile("event-two-tlp.json"), "two TLP tags"},
      {"{", "not JSON"},
      {R"({"Event": 3})", "no Event"},
      {R"({"Event": {"uuid": "x"}})", "no info"},
      {R"({"Event": {"info": "x", "Tag": [{"name": "misp-galaxy:mitre-attack-pattern=\"Phishing\""}]}})",
       "without a technique id"},
      {std::string(200, '[') + std::string(200, ']'), "nests too deeply"},
  };
  for (const auto& [text, why] : cases) {
    INFO(why);
    try {
      misp::importEvent(text, Now);
      FAIL("accepted");
    } catch (const cli::UsageError& e) {
      CHECK(e.code() == "bad-misp");
      CHECK_THAT(e.what(), Contains(why));
    }
  }
}

TEST_CASE("a bulletin exports as a MISP event with TLP and ATT&CK tags", "[misp]") {
  const auto imported = misp::importEvent(eventFile("event-amber.json"), Now);
  const auto event = misp::eventFor(bulletinOf(imported));
  const auto& e = event["Event"];
  CHECK(e["info"] == "Phishing kit targeting banks in the region");
  CHECK(e["date"] == "2026-12-02");  // the sending time
  CHECK(e["threat_level_id"] == "1");
  CHECK(e["distribution"] == "0");
  CHECK(e["analysis"] == "2");
  CHECK(tagNames(event) ==
        std::vector<std::string>{"tlp:amber", R"(misp-galaxy:mitre-attack-pattern="Spearphishing Link - T1566.002")"});
  CHECK(misp::eventFor(bulletinOf(imported)) == event);  // deterministic
}

TEST_CASE("MISP import then export round-trips the event", "[misp]") {
  for (const char* file : {"event-amber.json", "event-galaxy-white.json"}) {
    INFO(file);
    const auto text = eventFile(file);
    const auto original = nlohmann::json::parse(text);
    const auto imported = misp::importEvent(text, Now);
    const auto exported = misp::eventFor(bulletinOf(imported));
    CHECK(exported["Event"]["info"] == original["Event"]["info"]);
    // Every mapped attribute comes back with its type, value and to_ids (ip-src
    // is read as the same STIX address as ip-dst and comes back as ip-dst).
    auto expected = attributes(original);
    expected.erase(std::remove_if(expected.begin(), expected.end(),
                                  [](const auto& a) { return std::get<0>(a) == "text"; }),
                   expected.end());
    for (auto& a : expected) {
      if (std::get<0>(a) == "ip-src") std::get<0>(a) = "ip-dst";
    }
    if (original["Event"].contains("Object")) {
      for (const auto& a : original["Event"]["Object"][0]["Attribute"]) {
        expected.emplace_back(a["type"].get<std::string>(), a["value"].get<std::string>(), a["to_ids"].get<bool>());
      }
    }
    std::sort(expected.begin(), expected.end());
    CHECK(attributes(exported) == expected);
    // And importing the export gives the same bulletin again.
    const auto again = misp::importEvent(exported.dump(), Now);
    CHECK(again.title == imported.title);
    CHECK(again.tlp == imported.tlp);
    CHECK(again.attack == imported.attack);
    CHECK(nlohmann::json::parse(again.stixBundle)["objects"].size() ==
          nlohmann::json::parse(imported.stixBundle)["objects"].size());
  }
}

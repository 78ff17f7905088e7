// Issue 20, "a local archive with history and search": with the real focald
// and the real CLI, a bulletin read and acknowledged is found later by one
// word of its body (focal search) and listed as acknowledged (focal
// history), through the key file and through the key agent; a canary scan
// of the whole profile directory finds neither that word nor the title in
// any file; a retraction removes the content from the archive; a profile
// opened with another key file refuses to open the archive; `focal read`
// works from the local copy when the hub is out of reach; archive-keep
// removes an old body and its cached copy.
#include "hub_fixture.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>

using namespace focal;
using namespace focal::test;
using nlohmann::json;
using Catch::Matchers::Contains;

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Every regular file under `dir` whose bytes hold any of `needles`, in any
// case (an index may keep words folded to lower case).
std::vector<std::string> filesHolding(const fs::path& dir, const std::vector<std::string>& needles) {
  std::vector<std::string> hits;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const auto text = lower(slurp(e.path()));
    for (const auto& n : needles) {
      if (text.find(lower(n)) != std::string::npos) hits.push_back(e.path().string() + " holds " + n);
    }
  }
  return hits;
}

std::size_t countFiles(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("a bulletin read and acknowledged is found by one word of its body, and no file of the profile holds it",
          "[integration][archive]") {
  Hub hub;
  TempDir home;
  TempDir runtime;
  const auto sg = hub.createMember("sg-spf-cyber", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  const auto my = hub.createMember("my-pdrm-cyber", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  const auto profile = home.path() / "my";
  const auto sgArgs = concat(hub.cliGlobals(sg.keyFile, home.path() / "sg"), {"--json"});
  const auto myArgs = concat(hub.cliGlobals(my.keyFile, profile), {"--json"});
  const std::string canary = "Quetzalcanary";
  const std::string title = "Mule accounts of the Xylophonist ring";
  const std::string body = "Twelve accounts move funds for the " + canary + " operation.\nDetails follow.";

  const std::string id = runCliJson(concat(sgArgs, {"send", "--to", "my-pdrm-cyber", "--tlp", "amber", "--category",
                                                    "alert", "--case", "AWGC-2026-07", "--attack", "T1566.002",
                                                    "--title", title, "--body", body}))
                             .at("bulletin_id");
  const std::string retractedId = runCliJson(concat(sgArgs, {"send", "--to", "my-pdrm-cyber", "--tlp", "green",
                                                             "--category", "trend", "--title", "Wrong suspect",
                                                             "--body", "Named Pangolincanary by mistake"}))
                                      .at("bulletin_id");
  runCliJson(concat(myArgs, {"inbox"}));
  CHECK(runCliJson(concat(myArgs, {"read", id})).at("title") == title);
  CHECK(runCliJson(concat(myArgs, {"search", "pangolincanary"})).at("count") == 1);
  runCliJson(concat(sgArgs, {"retract", retractedId, "--reason", "wrong suspect"}));
  runCliJson(concat(myArgs, {"inbox"}));  // the retraction arrives and is verified
  runCliJson(concat(myArgs, {"ack", id, retractedId}));

  // Found by one word of the body, with the filters; acknowledged.
  const auto found = runCliJson(concat(myArgs, {"search", canary.substr(0, 1) + lower(canary.substr(1))}));
  REQUIRE(found.at("count") == 1);
  const auto& row = found.at("bulletins").at(0);
  CHECK(row.at("bulletin_id") == id);
  CHECK(row.at("title") == title);
  CHECK(row.at("body") == body);
  CHECK(row.at("acknowledged") == true);
  CHECK(row.at("retracted") == false);
  CHECK(row.at("tlp") == "TLP:AMBER");
  CHECK(row.at("case") == "AWGC-2026-07");
  CHECK(runCliJson(concat(myArgs, {"search", canary, "--tlp", "green"})).at("count") == 0);
  CHECK(runCliJson(concat(myArgs, {"search", canary, "--from", "sg-spf-cyber", "--attack", "T1566"})).at("count") == 1);
  // Hostile input is words, not search syntax.
  CHECK(runCliJson(concat(myArgs, {"search", "NEAR( \" * )"})).at("count") == 0);

  const auto history = runCliJson(concat(myArgs, {"history"}));
  REQUIRE(history.at("count") == 2);
  for (const auto& r : history.at("bulletins")) {
    CHECK(r.at("acknowledged") == true);
    if (r.at("bulletin_id") == retractedId) {
      CHECK(r.at("retracted") == true);
      CHECK(r.at("retraction_reason") == "wrong suspect");
      CHECK(r.at("content_removed") == "retracted");
      CHECK(r.at("title").is_null());
      CHECK(r.at("body").is_null());
    }
  }
  CHECK(runCliJson(concat(myArgs, {"search", "pangolincanary"})).at("count") == 0);
  CHECK(runCliJson(concat(myArgs, {"history", "--case", "AWGC-2026-07", "--since", "1d"})).at("count") == 1);
  // Text output: one line per bulletin, marks included.
  const auto text = runCli(concat(hub.cliGlobals(my.keyFile, profile), {"history"}));
  CHECK(text.exitCode == 0);
  CHECK_THAT(text.out, Contains("[acknowledged]") && Contains("[RETRACTED: wrong suspect]") && Contains(title));

  // Through the key agent: no passphrase, the same archive.
  {
    const auto argv = concat({FOCAL_CLI_PATH}, concat(myArgs, {"unlock", "--for", "5m"}));
    const auto unlocked = runProcess(argv, {{"XDG_RUNTIME_DIR", runtime.path().string()}, {"FOCAL_PASSPHRASE", TestPassphrase}});
    REQUIRE(unlocked.exitCode == 0);
    const auto viaAgent = runProcess(concat({FOCAL_CLI_PATH}, concat(myArgs, {"search", canary})),
                                     {{"XDG_RUNTIME_DIR", runtime.path().string()}});
    CHECK(viaAgent.exitCode == 0);
    CHECK(json::parse(viaAgent.out).at("count") == 1);
    runProcess(concat({FOCAL_CLI_PATH}, concat(myArgs, {"lock"})), {{"XDG_RUNTIME_DIR", runtime.path().string()}});
  }

  // The canary scan: no title, no body word in any file of the profile.
  const auto archive = profile / "members" / "my-pdrm-cyber" / "archive.bin";
  REQUIRE(fs::exists(archive));
  CHECK(countFiles(profile) >= 5);
  const auto hits = filesHolding(profile, {canary, title, "Xylophonist", "Pangolincanary", "Twelve accounts"});
  INFO("canary found: " << (hits.empty() ? "" : hits.front()));
  CHECK(hits.empty());

  // Another key file for the same member id opens nothing, and says so.
  const auto otherKey = makeKeyFileWithPublic(home.path(), "my-pdrm-cyber");
  const auto refused = runCliJson(concat(hub.cliGlobals(otherKey, profile), {"--json", "history"}), 1);
  CHECK(refused.at("error").at("code") == "archive-key");
  CHECK_THAT(refused.at("error").at("message").get<std::string>(), Contains("archive"));

  // Offline: read verifies the cached copy against the profile's verified log.
  hub.stop();
  const auto offline = runCli(concat(myArgs, {"read", id}));
  INFO("stdout: " << offline.out << "\nstderr: " << offline.err);
  CHECK(offline.exitCode == 0);
  CHECK(json::parse(offline.out).at("body") == body);
  CHECK_THAT(offline.err, Contains("out of reach"));
  CHECK(runCliJson(concat(myArgs, {"search", canary})).at("count") == 1);

  // Retention: AMBER bodies older than a second go at the next save, and
  // the cached copy that could open them again with them.
  CHECK(runCliJson(concat(myArgs, {"profile", "set", "--archive-keep", "amber=1s"})).at("archive_keep") == "amber=1s");
  const auto after = runCliJson(concat(myArgs, {"history", "--tlp", "amber"})).at("bulletins").at(0);
  CHECK(after.at("content_removed") == "retention");
  CHECK(after.at("body").is_null());
  CHECK(after.at("title") == title);
  CHECK(runCliJson(concat(myArgs, {"search", "twelve"})).at("count") == 0);
  CHECK_FALSE(fs::exists(profile / "members" / "my-pdrm-cyber" / "cache" / (id + ".bulletin")));
}

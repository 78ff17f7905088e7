// Validation at the edge, against the real focald and focal (issue 19,
// finding 3): a typo state never becomes a member state (the CLI refuses a
// non-ISO code before sending; the hub refuses it, and any state outside
// focal.toml's member_states, until the operator adds it, which the audit
// trail records); --attack ids are checked against ATT&CK v18.1 and read
// shows their names; new key files need 12-character passphrases.
#include "hub_fixture.hpp"

#include "client/client_error.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <regex>

using namespace focal;
using namespace focal::test;
using nlohmann::json;

namespace {

ProcessResult focalWith(const std::vector<std::string>& args, const std::string& passphrase) {
  std::vector<std::string> argv{FOCAL_CLI_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return runProcess(argv, {{"FOCAL_PASSPHRASE", passphrase}});
}

wire::ErrorCode registrationError(Hub& hub, const std::string& id, const std::string& state) {
  try {
    hub.createMember(id, state);
  } catch (const client::HubError& e) {
    return e.code();
  }
  FAIL("the hub registered " << id << " with state " << state);
  return wire::ErrorCode::INTERNAL;
}

}  // namespace

TEST_CASE("The hub refuses a state that is not ISO 3166-1 or not a member state until the operator adds it",
          "[integration][edge]") {
  Hub hub;
  // The defaults focald init wrote.
  const std::string config = slurp(hub.dir() / "focal.toml");
  CHECK(config.find(R"(member_states = ["BN", "ID", "KH", "LA", "MM", "MY", "PH", "SG", "TH", "VN"])") !=
        std::string::npos);

  CHECK(registrationError(hub, "zz-typo", "ZZ") == wire::ErrorCode::INVALID_REQUEST);
  CHECK(registrationError(hub, "fr-police", "FR") == wire::ErrorCode::POLICY_DENIED);
  hub.createMember("sg-spf", "SG");  // a listed state still registers

  // The operator adds FR: the hub takes it after a restart and records the
  // change in its audit trail.
  {
    const std::string withFr =
        std::regex_replace(config, std::regex(R"(member_states = \[)"), R"(member_states = ["FR", )");
    std::ofstream out(hub.dir() / "focal.toml", std::ios::trunc);
    out << withFr;
  }
  hub.restart();
  hub.createMember("fr-police", "FR");
  CHECK(registrationError(hub, "zz-typo", "ZZ") == wire::ErrorCode::INVALID_REQUEST);

  TempDir home;
  auto audit = runCliJson(concat(hub.cliGlobals(hub.adminKeyFile(), home.path() / "admin"), {"admin", "audit"}));
  std::vector<std::string> recorded;
  for (const auto& e : audit.at("entries")) {
    if (e.at("event") == "config.member-states") recorded.push_back(e.at("detail"));
  }
  REQUIRE(recorded.size() == 2);  // the first start, then the addition
  CHECK(recorded[0] == "BN,ID,KH,LA,MM,MY,PH,SG,TH,VN");
  CHECK(recorded[1] == "BN,FR,ID,KH,LA,MM,MY,PH,SG,TH,VN");
  // Refusals are audited too.
  bool refusalAudited = false;
  for (const auto& e : audit.at("entries")) {
    if (e.at("event") == "admin.refused" && e.at("detail").get<std::string>().find("ZZ") != std::string::npos) {
      refusalAudited = true;
    }
  }
  CHECK(refusalAudited);
}

TEST_CASE("focald init writes the member states it is given and refuses bad ones", "[integration][edge]") {
  TempDir home;
  const auto pub = makeKeyFileWithPublic(home.path()).string() + ".pub";
  auto typo = runProcess({FOCALD_PATH, "init", (home.path() / "b").string(), "--admin-pub", pub,
                          "--member-states", "SG,MY,ZZ"},
                         {});
  CHECK(typo.exitCode != 0);
  CHECK(typo.err.find("ZZ") != std::string::npos);

  auto notListed = runProcess({FOCALD_PATH, "init", (home.path() / "c").string(), "--admin-pub", pub,
                               "--member-states", "SG,MY", "--admin-state", "TH"},
                              {});
  CHECK(notListed.exitCode != 0);

  auto good = runProcess({FOCALD_PATH, "init", (home.path() / "d").string(), "--admin-pub", pub,
                          "--member-states", "SG,MY,FR", "--admin-state", "FR"},
                         {});
  INFO(good.err);
  REQUIRE(good.exitCode == 0);
  CHECK(slurp(home.path() / "d" / "focal.toml").find(R"(member_states = ["FR", "MY", "SG"])") != std::string::npos);
}

TEST_CASE("The CLI refuses a non-ISO state, unknown ATT&CK ids and short passphrases, and read names the techniques",
          "[integration][edge]") {
  Hub hub;
  TempDir home;
  const auto sgKey = home.path() / "sg.key";
  const auto myKey = home.path() / "my.key";

  // keygen: a short passphrase is refused and writes nothing.
  auto shortKey = focalWith({"--json", "keygen", "--member", "sg-spf-cyber", "--out", sgKey.string(), "--kdf",
                             "interactive"},
                            "elevenchars");
  CHECK(shortKey.exitCode == 1);
  CHECK(shortKey.out.find("short-passphrase") != std::string::npos);
  CHECK_FALSE(fs::exists(sgKey));
  CHECK_FALSE(fs::exists(sgKey.string() + ".pub"));
  runCliJson({"keygen", "--member", "sg-spf-cyber", "--out", sgKey.string(), "--kdf", "interactive"});
  runCliJson({"keygen", "--member", "my-pdrm-cyber", "--out", myKey.string(), "--kdf", "interactive"});

  // admin register --state ZZ: refused before anything is sent.
  const auto adminArgs = hub.cliGlobals(hub.adminKeyFile(), home.path() / "admin");
  const auto before = runCliJson(concat(adminArgs, {"admin", "log"})).at("entries").size();
  auto zz = runCliJson(concat(adminArgs, {"admin", "register", sgKey.string() + ".pub", "--state", "ZZ",
                                        "--institution", "law-enforcement", "--name", "SPF"}),
                     1);
  CHECK(zz.at("error").at("code") == "bad-state");
  CHECK(runCliJson(concat(adminArgs, {"admin", "log"})).at("entries").size() == before);
  // A resource-panel member joins by consensus only (issue 27): the CLI says how.
  auto panel = runCliJson(concat(adminArgs, {"admin", "register", sgKey.string() + ".pub", "--institution",
                                           "resource-panel", "--name", "Expert"}),
                          1);
  CHECK(panel.at("error").at("code") == "bad-institution");
  CHECK(panel.at("error").at("message").get<std::string>().find("focal admin propose-admission") != std::string::npos);
  CHECK(runCliJson(concat(adminArgs, {"admin", "log"})).at("entries").size() == before);
  // An ISO code outside the hub's member states: the hub refuses it (exit 2).
  auto fr = runCliJson(concat(adminArgs, {"admin", "register", sgKey.string() + ".pub", "--state", "FR",
                                        "--institution", "law-enforcement", "--name", "SPF"}),
                     2);
  CHECK(fr.at("error").at("code") == "policy-denied");
  runCliJson(concat(adminArgs, {"admin", "register", sgKey.string() + ".pub", "--state", "SG", "--institution",
                              "law-enforcement", "--name", "SPF"}));
  runCliJson(concat(adminArgs, {"admin", "register", myKey.string() + ".pub", "--state", "MY", "--institution",
                              "law-enforcement", "--name", "PDRM"}));

  const auto sgArgs = hub.cliGlobals(sgKey, home.path() / "sg");
  const auto myArgs = hub.cliGlobals(myKey, home.path() / "my");
  auto send = [&](const std::string& attack) {
    return runCli(concat(concat({"--json"}, sgArgs), {"send", "--to", "my-pdrm-cyber", "--tlp", "green", "--category",
                                                      "alert", "--title", "ttp", "--body", "b", "--attack", attack}));
  };
  auto unknown = send("T1566.002,foo");
  CHECK(unknown.exitCode == 1);
  CHECK(unknown.out.find("bad-attack") != std::string::npos);
  CHECK(unknown.out.find("foo") != std::string::npos);
  CHECK(send("T9999").exitCode == 1);

  // A revoked id is sent, with a warning.
  auto revoked = send("T1002");
  CHECK(revoked.exitCode == 0);
  CHECK(revoked.err.find("warning: ATT&CK technique T1002 (Data Compressed) is revoked") != std::string::npos);

  // Lower case is accepted and written in the canonical form; read names it.
  auto ok = send("t1566.002,T1204");
  INFO(ok.err);
  REQUIRE(ok.exitCode == 0);
  const std::string id = json::parse(ok.out).at("bulletin_id");
  auto read = runCliJson(concat(myArgs, {"read", id}));
  CHECK(read.at("attack") == json::array({"T1566.002", "T1204"}));
  CHECK(read.at("attack_names") == json::array({"Spearphishing Link", "User Execution"}));
  auto text = runCli(concat(myArgs, {"read", id}));
  CHECK(text.exitCode == 0);
  CHECK(text.out.find("T1566.002 (Spearphishing Link), T1204 (User Execution)") != std::string::npos);
}

// Issue 19, finding 6, with the real focald and focal: an ack of an unknown
// id says so; a retracted bulletin is listed once by inbox; --timeout is
// validated with its range; not-found is exit 5 wherever it is found; an
// over-long --case is named; unknown commands and options are reported as
// such, pointing to the subcommand's help; focald's usage errors exit 2.
#include "hub_fixture.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <regex>

using namespace focal;
using namespace focal::test;
using nlohmann::json;
using Catch::Matchers::Contains;

namespace {

// sg-spf and my-pdrm with key files and CLI profiles of their own.
struct SgAndMy {
  Hub hub;
  TempDir home;
  TestMember sg = hub.createMember("sg-spf", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  TestMember my = hub.createMember("my-pdrm", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  std::vector<std::string> sgArgs = hub.cliGlobals(sg.keyFile, home.path() / "sg");
  std::vector<std::string> myArgs = hub.cliGlobals(my.keyFile, home.path() / "my");
};

}  // namespace

TEST_CASE_METHOD(SgAndMy,
                 "focal ack of an id that is not queued reports it as not found, exit 5",
                 "[integration][cli][findings]") {
  const std::string unknown(32, '0');

  // Only an unknown id: nothing acknowledged, exit 5, no "Acknowledged".
  auto text = runCli(concat(myArgs, {"ack", unknown}));
  INFO("stdout: " << text.out << "\nstderr: " << text.err);
  CHECK(text.exitCode == 5);
  CHECK_THAT(text.out, !Contains("Acknowledged"));
  CHECK_THAT(text.err, Contains(unknown) && Contains("not in your queue"));
  auto j = runCliJson(concat(myArgs, {"ack", unknown}), 5);
  CHECK(j.at("acknowledged_ids").empty());
  CHECK(j.at("not_found_ids") == json::array({unknown}));
  CHECK(j.at("removed") == 0);

  // A queued id and an unknown one: the queued one is acknowledged, the
  // other reported, exit 5.
  const std::string id = runCliJson(concat(sgArgs, {"send", "--to", "my-pdrm", "--tlp", "green", "--category", "trend",
                                                 "--title", "t", "--body", "b"}))
                             .at("bulletin_id");
  auto mixed = runCliJson(concat(myArgs, {"ack", id, unknown}), 5);
  CHECK(mixed.at("acknowledged_ids") == json::array({id}));
  CHECK(mixed.at("not_found_ids") == json::array({unknown}));
  CHECK(mixed.at("removed") == 1);
  // Acknowledged before: no longer queued, so not found now.
  CHECK(runCliJson(concat(myArgs, {"ack", id}), 5).at("not_found_ids") == json::array({id}));
}

TEST_CASE_METHOD(SgAndMy,
                 "focal inbox lists a retracted bulletin once, marked retracted", "[integration][cli][findings]") {
  const std::string id = runCliJson(concat(sgArgs, {"send", "--to", "my-pdrm", "--tlp", "green", "--category", "trend",
                                                 "--title", "soon withdrawn", "--body", "b"}))
                             .at("bulletin_id");
  runCliJson(concat(sgArgs, {"retract", id, "--reason", "a test artefact"}));
  // Queued twice now (the bulletin and the announcement), listed once.
  auto inbox = runCliJson(concat(myArgs, {"inbox"}));
  REQUIRE(inbox.size() == 1);
  CHECK(inbox[0].at("bulletin_id") == id);
  CHECK(inbox[0].at("retracted") == true);
  CHECK(inbox[0].at("retraction_reason") == "a test artefact");
  CHECK(inbox[0].at("announces_retraction") == true);
  auto text = runCli(concat(myArgs, {"inbox"}));
  CHECK(text.exitCode == 0);
  std::size_t rows = 0;
  for (std::size_t at = text.out.find(id); at != std::string::npos; at = text.out.find(id, at + 1)) ++rows;
  CHECK(rows == 1);
  CHECK_THAT(text.out, Contains("1 bulletin(s)"));
}

TEST_CASE("A --timeout outside 0.1 to 3600 seconds is refused, naming the range, and so are other durations", "[integration][cli][findings]") {
  for (const char* bad : {"0", "-1", "1e300", "nan", "inf", "0.01", "3601", "ten"}) {
    INFO(bad);
    auto r = runCli({"--timeout", bad, "inbox"});
    CHECK(r.exitCode == 1);
    CHECK_THAT(r.err, Contains("--timeout") && Contains("0.1 to 3600") && Contains(std::string("'") + bad + "'"));
    CHECK(r.err.size() < 200);  // no 300-digit bound
    CHECK_THAT(r.err, !Contains("timed out"));
  }
  // The other durations name their range too.
  auto window = runCli({"send", "--summary-record", "--to", "x", "--tlp", "green", "--title", "t", "--comment-window",
                        "367d"});
  CHECK(window.exitCode == 1);
  CHECK_THAT(window.err, Contains("--comment-window") && Contains("1s to 366d") && Contains("'367d'"));
  auto expires = runCli({"admin", "propose-amendment", "--text", "x", "--expires", "91d"});
  CHECK(expires.exitCode == 1);
  CHECK_THAT(expires.err, Contains("--expires") && Contains("1s to 90d") && Contains("'91d'"));
  // In range: it goes on to the next problem (no hub configured here).
  TempDir profile;
  auto ok = runCli({"--timeout", "0.5", "--profile-dir", profile.path().string(), "inbox"});
  CHECK_THAT(ok.err, !Contains("--timeout"));
}

TEST_CASE("Not found exits 5, whether the client or the hub found nothing", "[integration][cli][findings]") {
  Hub hub;
  TempDir home;
  auto my = hub.createMember("my-pdrm", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  const auto myArgs = hub.cliGlobals(my.keyFile, home.path() / "my");
  const std::string unknown(32, 'a');
  // The client: not queued, not cached.
  CHECK(runCliJson(concat(myArgs, {"read", unknown}), 5).at("error").at("code") == "not-found");
  CHECK(runCliJson(concat(myArgs, {"thread", unknown}), 5).at("error").at("code") == "not-found");
  CHECK(runCliJson(concat(myArgs, {"fingerprint", "nobody-here"}), 5).at("error").at("code") == "not-found");
  CHECK(runCliJson(concat(myArgs, {"approve", unknown}), 5).at("error").at("code") == "not-found");
  // The hub: notFound.
  CHECK(runCliJson(concat(myArgs, {"status", unknown}), 5).at("error").at("code") == "not-found");
  CHECK(runCliJson(concat(myArgs, {"record-status", unknown}), 5).at("error").at("code") == "not-found");
  // Documented where the exit codes are.
  CHECK_THAT(runCli({"--help"}).out, Contains("5  not found"));
}

TEST_CASE("An over-long --case or --handling-text is refused naming the option and its limit",
          "[integration][cli][findings]") {
  Hub hub;
  TempDir home;
  auto sg = hub.createMember("sg-spf", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  hub.createMember("my-pdrm", "MY");
  const auto sgArgs = hub.cliGlobals(sg.keyFile, home.path() / "sg");
  const std::string tooLong(1025, 'c');
  auto r = runCliJson(concat(sgArgs, {"send", "--to", "my-pdrm", "--tlp", "green", "--category", "trend", "--title", "t",
                                   "--body", "b", "--case", tooLong}),
                   1);
  CHECK(r.at("error").at("code") == "too-long");
  CHECK_THAT(r.at("error").at("message").get<std::string>(), Contains("--case") && Contains("1024") && Contains("1025"));
  auto h3 = runCliJson(concat(sgArgs, {"send", "--to", "my-pdrm", "--tlp", "green", "--category", "trend", "--title", "t",
                                    "--body", "b", "--handling", "H3", "--handling-text", tooLong}),
                    1);
  CHECK_THAT(h3.at("error").at("message").get<std::string>(), Contains("--handling-text") && Contains("1024"));
  // At the limit it is sent.
  runCliJson(concat(sgArgs, {"send", "--to", "my-pdrm", "--tlp", "green", "--category", "trend", "--title", "t", "--body",
                          "b", "--case", std::string(1024, 'c')}));
}

TEST_CASE("TLP is accepted as TLP:AMBER+STRICT and as amber+strict", "[integration][cli][findings]") {
  Hub hub;
  TempDir home;
  auto sg = hub.createMember("sg-spf", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  hub.createMember("sg-le2", "SG");
  const auto sgArgs = hub.cliGlobals(sg.keyFile, home.path() / "sg");
  for (const char* tlp : {"TLP:AMBER+STRICT", "amber+strict", "tlp:amber+strict", "AMBER+STRICT"}) {
    INFO(tlp);
    runCliJson(concat(sgArgs, {"send", "--to", "sg-le2", "--tlp", tlp, "--category", "trend", "--title", "t", "--body",
                            "b"}));
  }
  auto bad = runCliJson(concat(sgArgs, {"send", "--to", "sg-le2", "--tlp", "TLP:PURPLE", "--category", "trend", "--title",
                                     "t", "--body", "b"}),
                     1);
  CHECK_THAT(bad.at("error").at("message").get<std::string>(), Contains("TLP:PURPLE"));
}

TEST_CASE("Unknown commands and options are reported as such, pointing to the subcommand's help",
          "[integration][cli][findings]") {
  auto bogus = runCli({"bogus"});
  CHECK(bogus.exitCode == 1);
  CHECK_THAT(bogus.err, Contains("unknown command 'bogus'") && Contains("focal --help"));
  auto option = runCli({"send", "--bogus"});
  CHECK(option.exitCode == 1);
  CHECK_THAT(option.err, Contains("unknown option '--bogus'") && Contains("focal send --help"));
  CHECK_THAT(option.err, !Contains("--to is required"));
  auto nested = runCli({"admin", "register", "x.pub", "--bogus"});
  CHECK(nested.exitCode == 1);
  CHECK_THAT(nested.err, Contains("unknown option '--bogus'") && Contains("focal admin register --help"));
  auto missing = runCli({"send", "--to", "x"});
  CHECK(missing.exitCode == 1);
  CHECK_THAT(missing.err, Contains("focal send --help"));
  auto asJson = runCli({"--json", "send", "--bogus"});
  CHECK(asJson.exitCode == 1);
  CHECK(json::parse(asJson.out).at("error").at("code") == "usage");

  // focald: usage errors exit 2, named, documented in --help.
  auto hub = runProcess({FOCALD_PATH, "bogus"});
  CHECK(hub.exitCode == 2);
  CHECK_THAT(hub.err, Contains("unknown command 'bogus'") && Contains("focald --help"));
  auto hubOption = runProcess({FOCALD_PATH, "run", "/nonexistent", "--bogus"});
  CHECK(hubOption.exitCode == 2);
  CHECK_THAT(hubOption.err, Contains("unknown option '--bogus'") && Contains("focald run --help"));
  auto help = runProcess({FOCALD_PATH, "--help"});
  CHECK(help.exitCode == 0);
  CHECK_THAT(help.out, Contains("Exit codes") && Contains("2  usage"));
}

TEST_CASE("focal --version and focald --version print one version line and exit 0", "[integration][cli][findings]") {
  // "focal 0.1.0", plus "(git <12 hex>)" or "(git <12 hex>, modified)" when built from a checkout.
  const std::regex line(R"((focald?) (\d+\.\d+\.\d+)( \(git [0-9a-f]{12}(, modified)?\))?\n)");
  auto client = runCli({"--version"});
  auto hub = runProcess({FOCALD_PATH, "--version"});
  CHECK(client.exitCode == 0);
  CHECK(hub.exitCode == 0);
  std::smatch c;
  std::smatch h;
  REQUIRE(std::regex_match(client.out, c, line));
  REQUIRE(std::regex_match(hub.out, h, line));
  CHECK(c[1] == "focal");
  CHECK(h[1] == "focald");
  CHECK(c[2] == h[2]);  // one project version, one revision for both programs
  CHECK(c[3] == h[3]);
  // It wins over a missing command, as --help does.
  CHECK(runCli({"--version", "send"}).exitCode == 0);
}

// The `focal` CLI end to end, as a POC would use it: keygen, registration by
// the admin, an AMBER alert with an attachment from SG to MY, read + verify +
// save, ack, delivery status; --json everywhere.
#include "hub_fixture.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

using namespace focal;
using namespace focal::test;
using nlohmann::json;

namespace {

json runJson(const std::vector<std::string>& args, int expectedExit = 0,
             const std::optional<std::string>& stdinText = std::nullopt) {
  auto r = runCli(concat({"--json"}, args), stdinText);
  INFO("focal " << args.front() << " -> exit " << r.exitCode << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exitCode == expectedExit);
  json j;
  REQUIRE_NOTHROW(j = json::parse(r.out));
  return j;
}

}  // namespace

TEST_CASE("CLI end to end: keygen, register, AMBER alert with attachment, read, save, ack, status", "[integration]") {
  // Each CLI command is one connection; with the default cap of 8 per
  // member, this also checks that the hub releases each one when it closes.
  Hub hub;
  TempDir home;
  const auto sgKey = home.path() / "sg.key";
  const auto myKey = home.path() / "my.key";
  const auto sgProfile = home.path() / "sg-profile";
  const auto myProfile = home.path() / "my-profile";
  const auto adminProfile = home.path() / "admin-profile";

  // keygen (Interactive KDF keeps the test fast; the default is moderate).
  auto kg = runJson({"keygen", "--member", "sg-spf-cyber", "--out", sgKey.string(), "--kdf", "interactive"});
  CHECK(kg.at("fingerprint").get<std::string>().size() == 35);
  runJson({"keygen", "--member", "my-pdrm-cyber", "--out", myKey.string(), "--kdf", "interactive"});
  CHECK(fs::exists(sgKey.string() + ".pub"));
  CHECK((fs::status(sgKey).permissions() & fs::perms::group_all) == fs::perms::none);
  // Refuses to overwrite.
  runJson({"keygen", "--member", "sg-spf-cyber", "--out", sgKey.string(), "--kdf", "interactive"}, 1);

  // Registration by the admin (a non-admin is refused by the hub: exit 2).
  const auto adminArgs = hub.cliGlobals(hub.adminKeyFile(), adminProfile);
  auto reg = runJson(concat(adminArgs, {"admin", "register", sgKey.string() + ".pub", "--state", "SG",
                                        "--institution", "law-enforcement", "--name", "SPF Cybercrime"}));
  CHECK(reg.at("log_index").get<std::uint64_t>() > 0);
  runJson(concat(adminArgs, {"admin", "register", myKey.string() + ".pub", "--state", "MY", "--institution",
                             "law-enforcement", "--name", "PDRM Cyber"}));
  const auto sgArgs = hub.cliGlobals(sgKey, sgProfile);
  const auto myArgs = hub.cliGlobals(myKey, myProfile);
  auto refused = runJson(concat(sgArgs, {"admin", "register", myKey.string() + ".pub", "--state", "MY",
                                         "--institution", "law-enforcement", "--name", "again"}),
                         2);
  CHECK(refused.at("error").at("code") == "forbidden");

  // The directory shows both with the fingerprints keygen printed.
  auto dir = runJson(concat(myArgs, {"directory"}));
  bool sawSg = false;
  for (const auto& m : dir) {
    if (m.at("member_id") == "sg-spf-cyber") {
      sawSg = true;
      CHECK(m.at("fingerprint") == kg.at("fingerprint"));
      CHECK(m.at("state") == "SG");
      CHECK(m.at("cert_valid") == true);
    }
  }
  CHECK(sawSg);

  // An attachment of a few chunks (not a multiple of the chunk size).
  const auto attachment = home.path() / "iocs.bin";
  {
    std::mt19937 rng(7);
    std::string data(700 * 1024 + 123, '\0');
    for (auto& ch : data) ch = static_cast<char>(rng());
    std::ofstream(attachment, std::ios::binary) << data;
  }
  auto sent = runJson(concat(sgArgs, {"send", "--to", "my-pdrm-cyber", "--tlp", "amber", "--category", "alert",
                                      "--title", "Phishing kit targeting banks", "--body",
                                      "Indicators attached.", "--attach", attachment.string(), "--priority",
                                      "urgent", "--attack", "T1566.002", "--case", "AWGC-2026-7"}));
  const std::string id = sent.at("bulletin_id");
  CHECK(id.size() == 32);
  CHECK(sent.at("recipient_ids") == json::array({"my-pdrm-cyber"}));

  auto inbox = runJson(concat(myArgs, {"inbox"}));
  REQUIRE(inbox.size() == 1);
  CHECK(inbox[0].at("bulletin_id") == id);
  CHECK(inbox[0].at("sender").at("member_id") == "sg-spf-cyber");
  CHECK(inbox[0].at("tlp") == "TLP:AMBER");
  CHECK(inbox[0].at("priority") == "urgent");
  CHECK(inbox[0].at("title") == "Phishing kit targeting banks");

  const auto saveDir = home.path() / "received";
  fs::create_directories(saveDir);
  auto read = runJson(concat(myArgs, {"read", id, "--save-dir", saveDir.string()}));
  CHECK(read.at("verified") == true);
  CHECK(read.at("sender").at("member_id") == "sg-spf-cyber");
  CHECK(read.at("sender").at("fingerprint") == kg.at("fingerprint"));
  CHECK(read.at("tlp") == "TLP:AMBER");
  CHECK(read.at("category") == "alert");
  CHECK(read.at("body") == "Indicators attached.");
  CHECK(read.at("case") == "AWGC-2026-7");
  REQUIRE(read.at("attachments").size() == 1);
  CHECK(read.at("attachments")[0].at("name") == "iocs.bin");
  CHECK(slurp(saveDir / "iocs.bin") == slurp(attachment));
  // Saving again refuses to overwrite, unless --force.
  runJson(concat(myArgs, {"read", id, "--save-dir", saveDir.string()}), 1);
  runJson(concat(myArgs, {"read", id, "--save-dir", saveDir.string(), "--force"}));

  // The text view carries the TLP banner.
  auto text = runCli(concat(myArgs, {"read", id}));
  CHECK(text.exitCode == 0);
  CHECK(text.out.find("=== TLP:AMBER ===") != std::string::npos);

  // The very next command after the recipient's read: the hub says what it
  // did at once (PROTOCOL.md §10), with no wait for its deferred write.
  auto st = runJson(concat(sgArgs, {"status", id}));
  REQUIRE(st.at("recipients").size() == 1);
  CHECK(st.at("recipients")[0].at("state") == "delivered");
  CHECK(st.at("recipients")[0].at("delivered_at").is_string());

  auto acked = runJson(concat(myArgs, {"ack", id}));
  CHECK(acked.at("removed") == 1);
  st = runJson(concat(sgArgs, {"status", id}));
  CHECK(st.at("recipients")[0].at("state") == "acknowledged");
  CHECK(st.at("recipients")[0].at("delivered_at").is_string());
  CHECK(runJson(concat(myArgs, {"inbox"})).empty());
  // Still readable from the local cache after the ack.
  CHECK(runJson(concat(myArgs, {"read", id})).at("title") == "Phishing kit targeting banks");

  // Body from standard input, a group address, and the safety number.
  auto piped = runJson(concat(sgArgs, {"send", "--to", "state:MY", "--tlp", "green", "--category", "trend",
                                       "--title", "From stdin"}),
                       0, std::string("piped body\n"));
  CHECK(piped.at("recipient_ids") == json::array({"my-pdrm-cyber"}));
  CHECK(runJson(concat(myArgs, {"read", piped.at("bulletin_id")})).at("body") == "piped body\n");
  auto sn = runJson(concat(myArgs, {"fingerprint", "sg-spf-cyber", "my-pdrm-cyber"}));
  CHECK(sn.at("safety_number").get<std::string>().size() >= 60);

  // Errors are JSON with a code, and the documented exit codes.
  auto bad = runJson(concat(myArgs, {"read", "00112233445566778899aabbccddeeff"}), 5);
  CHECK(bad.at("error").at("code") == "not-found");
  auto unknown = runJson(concat(sgArgs, {"send", "--to", "nobody", "--tlp", "amber", "--category", "trend", "--title",
                                         "x", "--body", "y"}),
                         1);
  CHECK(unknown.at("error").contains("message"));
  auto down = runJson({"--hub", "127.0.0.1:1", "--ca", hub.caFile().string(), "--key", myKey.string(),
                       "--profile-dir", myProfile.string(), "inbox"},
                      4);
  CHECK(down.at("error").at("code") == "network");
}

// Issue 20, "Be told": --exec runs a command per verified bulletin, before
// its line is printed, so waiting for the lines is waiting for the commands.
TEST_CASE("focal listen --exec runs a command for each verified bulletin with its metadata and never the passphrase",
          "[integration][listen]") {
  Hub hub;
  TempDir home;
  auto sender = hub.createMember("sg-spf", "SG");
  auto listener = hub.createMember("my-pdrm", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  auto sc = hub.connect(sender.keys);
  auto normal = sealTo(sender.keys, {&listener.keys}, "routine trend", "normal body");
  (void)sc->send(normal);
  auto urgentDraft = draftTo({&listener.keys}, "urgent alert", wire::Tlp::AMBER);
  urgentDraft.priority = wire::Priority::URGENT;
  urgentDraft.body = "line one\nline two";
  const auto urgent = sealDraft(urgentDraft, sender.keys, crypto::ContentKey::random());
  (void)sc->send(urgent);

  const fs::path out = home.path() / "exec";
  fs::create_directories(out);
  const std::string command = "cat > '" + out.string() + "/'\"$FOCAL_BULLETIN_ID\".body; env | grep '^FOCAL_' | sort > '" +
                              out.string() + "/'\"$FOCAL_BULLETIN_ID\".env";
  const auto twoLines = [](const ProcessResult& soFar) { return std::count(soFar.out.begin(), soFar.out.end(), '\n') >= 2; };
  const auto listen = [&](const std::vector<std::string>& extra) {
    auto r = runCli(concat(concat(hub.cliGlobals(listener.keyFile, home.path() / "p"), {"--json", "listen", "--all"}),
                           extra),
                    std::nullopt, std::chrono::seconds(60), twoLines);
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exitCode == 0);
    return r;
  };
  const auto file = [&](const protocol::SealedBulletin& b, const char* ext) {
    return out / (crypto::toHex(b.id) + ext);
  };

  SECTION("--urgent-only --with-body: only the urgent one, body on standard input") {
    listen({"--exec", command, "--urgent-only", "--with-body"});
    CHECK_FALSE(fs::exists(file(normal, ".env")));
    REQUIRE(fs::exists(file(urgent, ".env")));
    CHECK(slurp(file(urgent, ".body")) == "line one\nline two");
    const auto env = slurp(file(urgent, ".env"));
    INFO(env);
    CHECK_THAT(env, Catch::Contains("FOCAL_BULLETIN_ID=" + crypto::toHex(urgent.id) + "\n") &&
                        Catch::Contains("FOCAL_SENDER=sg-spf\n") && Catch::Contains("FOCAL_PRIORITY=urgent\n") &&
                        Catch::Contains("FOCAL_TLP=AMBER\n") && Catch::Contains("FOCAL_RETRACTED=0\n") &&
                        Catch::Contains("FOCAL_TITLE=urgent alert\n") && Catch::Contains("FOCAL_CREATED_AT=20"));
    // runCli sets FOCAL_PASSPHRASE for listen: the command never sees it.
    CHECK(env.find("FOCAL_PASSPHRASE") == std::string::npos);
  }
  SECTION("without --with-body the body stays out; every verified bulletin runs it") {
    listen({"--exec", command});
    CHECK(slurp(file(normal, ".body")).empty());
    CHECK(slurp(file(urgent, ".body")).empty());
    CHECK_THAT(slurp(file(normal, ".env")), Catch::Contains("FOCAL_PRIORITY=normal"));
  }
  SECTION("a failing command is reported and listen goes on") {
    auto r = listen({"--exec", "exit 7"});
    CHECK_THAT(r.err, Catch::Contains("--exec: the command for " + crypto::toHex(normal.id) + " exited with 7"));
    CHECK_THAT(r.err, Catch::Contains(crypto::toHex(urgent.id)));
  }
  SECTION("--urgent-only needs --exec") {
    auto r = runCli(concat(hub.cliGlobals(listener.keyFile, home.path() / "p"), {"listen", "--urgent-only"}));
    CHECK(r.exitCode == 1);  // a usage error
    CHECK_THAT(r.err + r.out, Catch::Contains("--exec"));
  }
}

TEST_CASE("focal listen prints the backlog, then each pushed bulletin as a JSON line, until SIGINT", "[integration]") {
  Hub hub;
  TempDir home;
  auto sender = hub.createMember("sg-spf", "SG");
  auto listener = hub.createMember("my-pdrm", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  auto sc = hub.connect(sender.keys);
  sc->send(sealTo(sender.keys, {&listener.keys}, "from the backlog"));

  // The live bulletin is sent once listen printed the backlog (it
  // subscribes before it drains the backlog, so the push cannot be missed),
  // and listen is stopped once it printed both: no guess at how long
  // anything takes.
  bool sentLive = false;
  const auto result = runCli(
      concat(hub.cliGlobals(listener.keyFile, home.path() / "p"), {"--json", "listen"}), std::nullopt,
      std::chrono::seconds(60), [&](const ProcessResult& soFar) {
        const auto lines = std::count(soFar.out.begin(), soFar.out.end(), '\n');
        if (lines >= 1 && !sentLive) {
          sentLive = true;
          sc->send(sealTo(sender.keys, {&listener.keys}, "pushed live"));
        }
        return lines >= 2;
      });

  INFO("stdout: " << result.out << "\nstderr: " << result.err);
  CHECK(result.exitCode == 0);  // SIGINT ends it cleanly
  std::vector<json> lines;
  std::istringstream in(result.out);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(json::parse(line));
  }
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].at("title") == "from the backlog");
  CHECK(lines[1].at("title") == "pushed live");
  for (const auto& l : lines) {
    CHECK(l.at("verified") == true);
    CHECK(l.at("sender").at("member_id") == "sg-spf");
  }
}

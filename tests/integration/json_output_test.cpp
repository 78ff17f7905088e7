// Issue 19, finding 7: one JSON dialect for focal and focald, documented in
// docs/json.md. The key tables of docs/json.md are parsed here and every
// command's real --json output (real focald, real focal CLI) is checked
// against them: every documented key present with its documented type
// (null only where the table allows it), no undocumented key, times in RFC
// 3339 UTC with milliseconds, TLP labels as in TLP 2.0. The document's own
// examples are checked against its tables too, so the file cannot drift from
// itself or from the binaries.
#include "hub_fixture.hpp"

#include "protocol/fork_proof.hpp"
#include "protocol/log.hpp"
#include "protocol/work_programme.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

extern char** environ;

using namespace focal;
using namespace focal::test;
using nlohmann::json;

namespace {

struct KeySpec {
  std::string type;  // string, integer, boolean, time, tlp, object, array
  bool nullable = false;
};

struct DocSection {
  std::map<std::string, KeySpec> keys;  // "[].sender.member_id" -> spec
  std::vector<json> examples;
};

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// docs/json.md: "## HEADING" sections, ```json example blocks (focal listen:
// one document per line), and "| `path` | type | meaning |" table rows.
std::map<std::string, DocSection> loadDoc() {
  std::ifstream in(FOCAL_JSON_DOC);
  REQUIRE(in.good());
  std::map<std::string, DocSection> doc;
  std::string section;
  std::string line;
  std::string block;
  bool inBlock = false;
  while (std::getline(in, line)) {
    if (inBlock) {
      if (line.rfind("```", 0) == 0) {
        inBlock = false;
        if (section == "focal listen") {
          std::istringstream lines(block);
          for (std::string l; std::getline(lines, l);) {
            if (!trim(l).empty()) doc[section].examples.push_back(json::parse(l));
          }
        } else {
          INFO("the example of " << section);
          json j;
          REQUIRE_NOTHROW(j = json::parse(block));
          doc[section].examples.push_back(j);
        }
      } else {
        block += line + "\n";
      }
      continue;
    }
    if (line.rfind("## ", 0) == 0) {
      section = trim(line.substr(3));
    } else if (line.rfind("```json", 0) == 0) {
      inBlock = true;
      block.clear();
    } else if (line.rfind("| `", 0) == 0) {
      const auto close = line.find('`', 3);
      REQUIRE(close != std::string::npos);
      const std::string path = line.substr(3, close - 3);
      const auto bar = line.find('|', close);
      const auto bar2 = line.find('|', bar + 1);
      std::string type = trim(line.substr(bar + 1, bar2 - bar - 1));
      KeySpec spec;
      if (!type.empty() && type.back() == '?') {
        spec.nullable = true;
        type.pop_back();
      }
      spec.type = type;
      INFO(section << ": " << path);
      REQUIRE(std::set<std::string>{"string", "integer", "boolean", "time", "tlp", "object", "array"}.contains(type));
      doc[section].keys[path] = spec;
    }
  }
  return doc;
}

const std::map<std::string, DocSection>& theDoc() {
  static const auto doc = loadDoc();
  return doc;
}

bool typeMatches(const KeySpec& spec, const json& v) {
  if (v.is_null()) return spec.nullable;
  static const std::regex time(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$)");
  static const std::set<std::string> tlps{"TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"};
  if (spec.type == "string") return v.is_string();
  if (spec.type == "integer") return v.is_number_integer();
  if (spec.type == "boolean") return v.is_boolean();
  if (spec.type == "time") return v.is_string() && std::regex_match(v.get<std::string>(), time);
  if (spec.type == "tlp") return v.is_string() && tlps.contains(v.get<std::string>());
  if (spec.type == "object") return v.is_object();
  if (spec.type == "array") return v.is_array();
  return false;
}

// Every key of every object in `j`, as documented paths ("[].sender.name").
void collect(const json& j, const std::string& prefix, std::vector<std::pair<std::string, const json*>>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string path = prefix.empty() ? it.key() : prefix + "." + it.key();
      out.emplace_back(path, &it.value());
      collect(it.value(), path, out);
    }
  } else if (j.is_array()) {
    for (const auto& e : j) collect(e, prefix + "[]", out);
  }
}

// The objects at `path` ("" = the document; "[]" = the top-level array's elements).
void objectsAt(const json& j, const std::string& path, std::vector<const json*>& out) {
  if (path.empty()) {
    if (j.is_object()) out.push_back(&j);
    return;
  }
  if (path.rfind("[]", 0) == 0) {
    if (!j.is_array()) return;
    std::string rest = path.substr(2);
    if (!rest.empty() && rest.front() == '.') rest.erase(0, 1);
    for (const auto& e : j) objectsAt(e, rest, out);
    return;
  }
  auto end = path.find_first_of(".[");
  const std::string key = path.substr(0, end);
  if (!j.is_object() || !j.contains(key)) return;
  std::string rest = end == std::string::npos ? "" : path.substr(end);
  if (!rest.empty() && rest.front() == '.') rest.erase(0, 1);
  objectsAt(j.at(key), rest, out);
}

std::set<std::string> checkedSections;

// A valid fork proof of a hub that exists only here: two heads of 3 entries
// with different roots, signed by one fresh key.
std::string madeUpForkProof() {
  const auto key = crypto::SigningKeyPair::generate();
  protocol::ForkProof p;
  p.hubId = "made-up-hub";
  p.hubKey = key.publicKey;
  const auto one = crypto::hash256(crypto::asBytes(std::string_view("one")));
  const auto two = crypto::hash256(crypto::asBytes(std::string_view("two")));
  p.smaller = protocol::signLogHead(p.hubId, 3, one, nowMs(), key.secretKey);
  p.larger = protocol::signLogHead(p.hubId, 3, two, nowMs(), key.secretKey);
  p.largerHashAtSmallerSize = two;
  p.note = "made up for the test";
  return protocol::renderForkProof(p);
}

// `j` against the table of docs/json.md section `section`.
void checkDocument(const std::string& section, const json& j) {
  INFO("docs/json.md section '" << section << "', document:\n" << j.dump(2));
  const auto it = theDoc().find(section);
  REQUIRE(it != theDoc().end());
  const auto& keys = it->second.keys;
  REQUIRE_FALSE(keys.empty());
  std::vector<std::pair<std::string, const json*>> found;
  collect(j, "", found);
  for (const auto& [path, value] : found) {
    INFO("key " << path << " = " << value->dump());
    const auto spec = keys.find(path);
    CHECK(spec != keys.end());  // an undocumented key
    if (spec != keys.end()) CHECK(typeMatches(spec->second, *value));
  }
  for (const auto& [path, spec] : keys) {
    const auto dot = path.rfind('.');
    const std::string parent = dot == std::string::npos ? (path.rfind("[].", 0) == 0 ? "[]" : "") : path.substr(0, dot);
    const std::string key = dot == std::string::npos ? path : path.substr(dot + 1);
    std::vector<const json*> parents;
    objectsAt(j, parent, parents);
    for (const auto* p : parents) {
      INFO("documented key " << path << " in " << p->dump());
      CHECK(p->contains(key));
    }
  }
  checkedSections.insert(section);
}

json parseOut(const ProcessResult& r, int expectedExit, const std::string& what) {
  INFO(what << " -> exit " << r.exitCode << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exitCode == expectedExit);
  json j;
  REQUIRE_NOTHROW(j = json::parse(r.out));
  return j;
}

// `focal --json ARGS`, its exit code checked, its document checked against `section`.
json runChecked(const std::string& section, const std::vector<std::string>& args, int expectedExit = 0,
                const std::optional<std::string>& stdinText = std::nullopt) {
  auto j = parseOut(runCli(concat({"--json"}, args), stdinText), expectedExit, "focal " + section);
  checkDocument(section, j);
  return j;
}

// `focal --json listen --all` until its first line, then SIGINT: the first line.
json firstListenLine(const std::vector<std::string>& args) {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  std::vector<std::string> argv{FOCAL_CLI_PATH, "--json"};
  for (const auto& a : args) argv.push_back(a);
  argv.push_back("listen");
  argv.push_back("--all");
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<std::string> envStrings{std::string("FOCAL_PASSPHRASE=") + TestPassphrase};
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).rfind("FOCAL_PASSPHRASE=", 0) != 0) envStrings.emplace_back(*e);
  }
  std::vector<char*> cenv;
  for (auto& e : envStrings) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  pid_t pid = -1;
  REQUIRE(posix_spawn(&pid, FOCAL_CLI_PATH, &actions, nullptr, cargv.data(), cenv.data()) == 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (text.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char buf[4096];
    const auto n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(fds[0]);
  INFO("listen printed: " << text);
  REQUIRE(text.find('\n') != std::string::npos);
  return json::parse(text.substr(0, text.find('\n')));
}

}  // namespace

TEST_CASE("docs/json.md: every example matches its own key table", "[integration][json]") {
  for (const auto& [section, s] : theDoc()) {
    if (s.keys.empty()) continue;
    INFO(section);
    CHECK_FALSE(s.examples.empty());
    for (const auto& e : s.examples) checkDocument(section, e);
  }
}

TEST_CASE("Every focal and focald command's --json output is the documented dialect", "[integration][json]") {
  // focald init --json, and its error document.
  TempDir spare;
  const auto pub = makeKeyFileWithPublic(spare.path()).string() + ".pub";
  const auto init = runProcess({FOCALD_PATH, "init", (spare.path() / "hub").string(), "--admin-pub", pub,
                                "--listen", "127.0.0.1:0", "--json"},
                               {});
  checkDocument("focald init", parseOut(init, 0, "focald init"));
  checkDocument("Errors", parseOut(runProcess({FOCALD_PATH, "init", "--json"}), 2, "focald init (no DIR)"));
  checkDocument("focald purge", parseOut(runProcess({FOCALD_PATH, "purge", (spare.path() / "hub").string(), "--dry-run",
                                                    "--as-of", "2099-12-31", "--json"}),
                                         0, "focald purge --dry-run"));
  // focald backup and restore, plain and sealed (to the key init's admin made), and a refused restore.
  const auto hubDir = (spare.path() / "hub").string();
  const auto operatorKey = pub.substr(0, pub.size() - 4);
  const std::map<std::string, std::string> passphrase{{"FOCAL_PASSPHRASE", TestPassphrase}};
  const auto plainBackup = (spare.path() / "plain").string();
  const auto sealedBackup = (spare.path() / "sealed").string();
  checkDocument("focald backup", parseOut(runProcess({FOCALD_PATH, "backup", hubDir, plainBackup, "--json"}), 0,
                                          "focald backup"));
  checkDocument("focald backup", parseOut(runProcess({FOCALD_PATH, "backup", hubDir, sealedBackup, "--encrypt-to", pub,
                                                      "--json"}),
                                          0, "focald backup --encrypt-to"));
  checkDocument("focald restore",
                parseOut(runProcess({FOCALD_PATH, "restore", plainBackup, (spare.path() / "r1").string(), "--json"}), 0,
                         "focald restore"));
  checkDocument("focald restore",
                parseOut(runProcess({FOCALD_PATH, "restore", sealedBackup, (spare.path() / "r2").string(),
                                     "--decrypt-with", operatorKey, "--json"},
                                    passphrase),
                         0, "focald restore --decrypt-with"));
  checkDocument("Errors", parseOut(runProcess({FOCALD_PATH, "restore", sealedBackup, (spare.path() / "r3").string(),
                                               "--json"}),
                                   2, "focald restore of a sealed backup without --decrypt-with"));

  Hub hub;
  TempDir home;
  const auto& h = home.path();
  const auto admin = hub.cliGlobals(hub.adminKeyFile(), h / "admin");

  // keygen + register through the CLI; the other members through the fixture.
  const auto phKey = h / "ph.key";
  checkDocument("focal keygen", parseOut(runCli({"--json", "keygen", "--member", "ph-nbi-cyber", "--out",
                                                 phKey.string(), "--kdf", "interactive"}),
                                          0, "keygen"));
  runChecked("focal admin register", concat(admin, {"admin", "register", phKey.string() + ".pub", "--state", "PH",
                                                    "--institution", "law-enforcement", "--name", "NBI Cybercrime"}));
  auto sg = hub.createMember("sg-spf-cyber", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  auto my = hub.createMember("my-pdrm-cyber", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  auto th = hub.createMember("th-tcsd", "TH", wire::Institution::LAW_ENFORCEMENT, true);
  auto sec = hub.createMember("sg-asean-sec", "SG", wire::Institution::SECRETARIAT, true);
  const auto sgArgs = hub.cliGlobals(sg.keyFile, h / "sg");
  const auto myArgs = hub.cliGlobals(my.keyFile, h / "my");
  const auto thArgs = hub.cliGlobals(th.keyFile, h / "th");
  const auto secArgs = hub.cliGlobals(sec.keyFile, h / "sec");
  const auto phArgs = hub.cliGlobals(phKey, h / "ph");

  // Profile: a fresh one shows nulls; set fills them.
  checkDocument("focal profile show",
                parseOut(runCli({"--json", "--profile-dir", (h / "fresh").string(), "profile", "show"}), 0, "show"));
  auto set = runChecked("focal profile show", {"--profile-dir", (h / "fresh").string(), "profile", "set", "--hub",
                                               hub.address(), "--key", sg.keyFile.string()});
  CHECK(set.at("ca_file").is_null());
  CHECK(set.at("hub_address") == hub.address());

  runChecked("focal directory", concat(myArgs, {"directory"}));
  runChecked("focal admin list", concat(admin, {"admin", "list"}));
  runChecked("focal fingerprint", concat(myArgs, {"fingerprint"}));
  runChecked("focal fingerprint", concat(myArgs, {"fingerprint", "sg-spf-cyber"}));
  runChecked("focal fingerprint MEMBER MEMBER", concat(myArgs, {"fingerprint", "sg-spf-cyber", "my-pdrm-cyber"}));
  runChecked("focal verify", concat(myArgs, {"verify", "sg-spf-cyber", "--yes"}));

  // A bulletin with every marking and an attachment; TLP given in the TLP 2.0 spelling.
  const auto attachment = h / "iocs.csv";
  std::ofstream(attachment) << "indicator,type\n203.0.113.45,ipv4\n";
  auto sent = runChecked("focal send", concat(sgArgs, {"send", "--to", "my-pdrm-cyber", "--tlp", "TLP:AMBER",
                                                       "--category", "alert", "--title", "Phishing kit", "--body",
                                                       "Indicators attached.", "--attach", attachment.string(),
                                                       "--priority", "urgent", "--attack", "T1566.002", "--case",
                                                       "AWGC-2026-7", "--handling", "H1", "--evaluation", "B2"}));
  const std::string amberId = sent.at("bulletin_id");
  auto inbox = runChecked("focal inbox", concat(myArgs, {"inbox"}));
  REQUIRE(inbox.size() == 1);
  CHECK(inbox[0].at("tlp") == "TLP:AMBER");
  CHECK(inbox[0].at("sender").at("member_id") == "sg-spf-cyber");
  fs::create_directories(h / "received");
  auto read = runChecked("focal read", concat(myArgs, {"read", amberId, "--save-dir", (h / "received").string()}));
  CHECK(read.at("case") == "AWGC-2026-7");
  CHECK(read.at("attachments")[0].at("saved_to").is_string());
  CHECK(read.at("tlp") == "TLP:AMBER");
  auto line = firstListenLine(myArgs);
  checkDocument("focal listen", line);
  CHECK(line.at("bulletin_id") == amberId);
  runChecked("focal status", concat(sgArgs, {"status", amberId}));
  // focal taxii: its one start line, then stopped (SIGINT) as a user would.
  {
    const auto pass = h / "taxii.pass";
    std::ofstream(pass) << "a long random TAXII password\n";
    fs::permissions(pass, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
    const auto taxii = runCli(concat(myArgs, {"--json", "taxii", "--listen", "127.0.0.1:0", "--user", "misp",
                                             "--password-file", pass.string()}),
                              std::nullopt, std::chrono::seconds(60),
                              [](const ProcessResult& soFar) { return soFar.out.find('\n') != std::string::npos; });
    INFO(taxii.err);
    CHECK(taxii.exitCode == 0);
    const auto startLine = json::parse(taxii.out.substr(0, taxii.out.find('\n')));
    checkDocument("focal taxii", startLine);
    CHECK(startLine.at("bulletin_count") == 1);
  }

  // GREEN, no markings: the nulls. Forward, permit, reply, thread, export, retract.
  auto green = runChecked("focal send", concat(sgArgs, {"send", "--to", "my-pdrm-cyber", "--tlp", "green",
                                                        "--category", "trend", "--title", "Scam call centre",
                                                        "--body", "b"}));
  const std::string greenId = green.at("bulletin_id");
  auto plain = runChecked("focal read", concat(myArgs, {"read", greenId}));
  for (const char* k : {"case", "handling", "handling_text", "evaluation", "reply_to_id", "key_warning"}) {
    INFO(k);
    CHECK(plain.at(k).is_null());
  }
  runChecked("focal forward", concat(myArgs, {"forward", greenId, "--to", "th-tcsd"}));
  runChecked("focal permit", concat(sgArgs, {"permit", greenId, "--to", "my-pdrm-cyber"}));
  auto reply = runChecked("focal send", concat(myArgs, {"reply", greenId, "--body", "Seen here too"}));
  auto thread = runChecked("focal thread", concat(myArgs, {"thread", reply.at("bulletin_id")}));
  REQUIRE(thread.size() == 2);
  CHECK(thread[1].at("reply_to_id") == greenId);
  runChecked("focal export", concat(myArgs, {"export", greenId}));
  runChecked("focal export --out FILE", concat(myArgs, {"export", greenId, "--out", (h / "green.json").string()}));
  {
    std::ifstream file(h / "green.json");
    json exported;
    REQUIRE_NOTHROW(exported = json::parse(file));
    checkDocument("focal export", exported);
  }
  runChecked("focal retract", concat(sgArgs, {"retract", greenId, "--reason", "test artefact"}));
  auto afterRetraction = runChecked("focal inbox", concat(thArgs, {"inbox"}));
  runChecked("focal ack", concat(myArgs, {"ack", amberId}));
  CHECK(runChecked("focal history", concat(myArgs, {"history"})).at("count") >= 2);
  CHECK(runChecked("focal search", concat(myArgs, {"search", "phishing", "--tlp", "amber"})).at("count") == 1);

  // A summary record: comment and record-status.
  auto record = runChecked("focal send", concat(secArgs, {"send", "--summary-record", "--to", "my-pdrm-cyber",
                                                          "--tlp", "green", "--title", "Summary", "--body", "1. 2.",
                                                          "--comment-window", "7d"}));
  CHECK(record.at("comment_deadline_at").is_string());
  runChecked("focal comment", concat(myArgs, {"comment", record.at("bulletin_id"), "--text", "Item 2", "--objection"}));
  runChecked("focal record-status", concat(secArgs, {"record-status", record.at("bulletin_id")}));

  // The work programme (PROTOCOL.md §12.10), and a reminder to a fresh
  // member of the owning state (an item due tomorrow is reminded at once).
  auto la = hub.createMember("la-lpd-cyber", "LA", wire::Institution::LAW_ENFORCEMENT, true);
  const auto laArgs = hub.cliGlobals(la.keyFile, h / "la");
  const auto tomorrow = protocol::dayText(nowMs() + protocol::DayMs);
  auto action = runChecked("focal action add",
                           concat(secArgs, {"action", "add", "--record", record.at("bulletin_id"), "--owner", "state:MY",
                                            "--due", "2027-03-31", "--text", "Circulate the contact list"}));
  runChecked("focal action update",
             concat(myArgs, {"action", "update", action.at("action_id"), "--status", "done", "--note", "Sent"}));
  runChecked("focal actions", concat(thArgs, {"actions"}));
  runChecked("focal action add", concat(secArgs, {"action", "add", "--record", record.at("bulletin_id"), "--owner",
                                                  "state:LA", "--due", tomorrow, "--text", "Due tomorrow"}));
  auto reminder = firstListenLine(laArgs);
  checkDocument("focal listen: action reminder", reminder);
  CHECK(reminder.at("action_reminder").at("due_day") == tomorrow);

  // Needs and offers (§12.9).
  auto need = runChecked("focal send", concat(myArgs, {"need", "--tlp", "green", "--title", "Forensics training",
                                                       "--body", "20 investigators"}));
  auto offer = runChecked("focal send", concat(thArgs, {"offer", need.at("bulletin_id"), "--body", "We host it"}));
  runChecked("focal send", concat(myArgs, {"need-met", need.at("bulletin_id"), "--offer", offer.at("bulletin_id")}));
  auto needs = runChecked("focal needs", concat(myArgs, {"needs"}));
  CHECK(needs.at("needs").at(0).at("status") == "met");

  // Consensus.
  const auto candidate = h / "acme.key";
  parseOut(runCli({"--json", "keygen", "--member", "acme-labs", "--out", candidate.string(), "--kdf", "interactive"}),
           0, "keygen acme");
  auto admission = runChecked("focal admin propose-admission",
                              concat(admin, {"admin", "propose-admission", candidate.string() + ".pub", "--name",
                                             "ACME Threat Labs", "--institution", "resource-panel"}));
  auto amendment = runChecked("focal admin propose-admission",
                              concat(admin, {"admin", "propose-amendment", "--text", "Para 10: comments in 10 days"}));
  runChecked("focal proposals", concat(sgArgs, {"proposals"}));
  runChecked("focal approve", concat(sgArgs, {"approve", admission.at("proposal_id")}));
  runChecked("focal approve", concat(myArgs, {"reject", amendment.at("proposal_id")}));

  // A working-group role (§12.7), named by an amendment every member state
  // adopted; a meeting (§12.8) with a paper and an action item from it.
  auto appointment = runChecked("focal admin propose-admission",
                                concat(admin, {"admin", "propose-amendment", "--text", "MY names its SOMTC focal point"}));
  for (const auto* args : {&sgArgs, &myArgs, &thArgs, &phArgs, &laArgs}) {
    runCliJson(concat(*args, {"approve", appointment.at("proposal_id")}));
  }
  runChecked("focal role assign", concat(secArgs, {"role", "assign", "my-pdrm-cyber", "--role", "somtc-focal-point",
                                                   "--decision", appointment.at("proposal_id")}));
  auto meeting = runChecked("focal meeting create", concat(secArgs, {"meeting", "create", "--title", "WG on CC 2027",
                                                                     "--host-state", "MY", "--date", "2027-03-15"}));
  const auto meetingId = meeting.at("meeting_id").get<std::string>();
  runChecked("focal meeting list", concat(myArgs, {"meeting", "list"}));
  runChecked("focal send", concat(secArgs, {"send", "--meeting", meetingId, "--tlp", "green", "--title", "Agenda",
                                            "--body", "1. Opening"}));
  runChecked("focal action add", concat(secArgs, {"action", "add", "--meeting", meetingId, "--owner", "state:MY",
                                                  "--due", "2027-03-31", "--text", "Host the workshop"}));
  runChecked("focal meeting show", concat(myArgs, {"meeting", "show", meetingId}));
  CHECK(runChecked("focal meeting report", concat(myArgs, {"meeting", "report", meetingId})).at("action_items").size() == 1);
  runChecked("focal meeting report --out FILE",
             concat(myArgs, {"meeting", "report", meetingId, "--out", (h / "report.md").string()}));

  // Administration.
  const auto th2 = h / "th-2.key";
  parseOut(runCli({"--json", "keygen", "--member", "th-tcsd", "--out", th2.string(), "--kdf", "interactive"}), 0,
           "keygen th-2");
  runChecked("focal admin rotate", concat(admin, {"admin", "rotate", "th-tcsd", th2.string() + ".pub"}));
  runChecked("focal admin revoke", concat(admin, {"admin", "role", "sg-asean-sec", "--admin", "no"}));
  runChecked("focal admin revoke", concat(admin, {"admin", "revoke", "ph-nbi-cyber", "--reason", "left"}));
  auto log = runChecked("focal admin log", concat(admin, {"admin", "log"}));
  CHECK(log.at("entries")[0].at("kind") == "genesis");
  CHECK(log.at("entries")[0].at("hub_id").is_string());
  runChecked("focal admin audit", concat(admin, {"admin", "audit"}));

  // Keys and the log.
  runChecked("focal rotate-key", concat(sgArgs, {"rotate-key", "--out", (h / "sg-2.key").string(), "--kdf",
                                                 "interactive"}));
  auto verified = runChecked("focal verify-log", concat(myArgs, {"verify-log"}));
  runChecked("focal verify-log", concat(myArgs, {"verify-log", "--compare", verified.at("head")}));
  // A fork proof (of a made-up hub, built here) checked offline; a recorded
  // fork exported and cleared (PROTOCOL.md §11.5).
  const auto proof = h / "fork-proof.json";
  std::ofstream(proof) << madeUpForkProof();
  runChecked("focal verify-log --proof FILE", concat(myArgs, {"verify-log", "--proof", proof.string()}));
  const auto forked = h / "forked-profile";
  fs::create_directories(forked / "log" / "made-up-hub");
  std::ofstream(forked / "log" / "made-up-hub" / "fork.json") << madeUpForkProof();
  runChecked("focal verify-log --proof-out FILE",
             {"--profile-dir", forked.string(), "verify-log", "--proof-out", (h / "exported.json").string()});
  runChecked("focal verify-log --clear-fork", {"--profile-dir", forked.string(), "verify-log", "--clear-fork"});
  runChecked("focal alarms", concat(thArgs, {"alarms"}));
  runChecked("focal alarms --ack", concat(thArgs, {"alarms", "--all"}));
  runChecked("focal unlock --status", concat(thArgs, {"unlock", "--status"}));
  runChecked("focal unlock", concat(thArgs, {"unlock", "--for", "5m"}));
  runChecked("focal lock", concat(thArgs, {"lock"}));

  // Errors: a usage error, a not-found.
  runChecked("Errors", concat(myArgs, {"read", "00112233445566778899aabbccddeeff"}), 5);
  runChecked("Errors", concat(myArgs, {"send", "--bogus"}), 1);

  // focal witness, on a hub whose genesis names one witness.
  {
    auto wk = crypto::MemberKeys::generate("wit-sg", nowMs());
    const auto pub = h / "wit-sg.pub";
    std::ofstream(pub) << crypto::formatPublicKeys(wk.publicKeys());
    Hub witnessed(HubOptions{{}, false, {"--witness", pub.string()}});
    const auto w = witnessed.registerKeys(std::move(wk), "SG", wire::Institution::POLICY_SECURITY, true);
    runChecked("focal witness", concat(witnessed.cliGlobals(w.keyFile, h / "witness"), {"witness", "--follow", "--once"}));
  }

  // Admins by quorum: a hub with an SG and an MY admin (k = 2).
  {
    const auto myKey = makeKeyFileWithPublic(h, "my-admin");
    Hub quorum(HubOptions{{}, false, {"--admin-state", "SG", "--co-admin", myKey.string() + ".pub:MY"}});
    const auto sgAdmin = quorum.cliGlobals(quorum.adminKeyFile(), h / "q-sg");
    const auto myAdmin = quorum.cliGlobals(myKey, h / "q-my");
    const auto poc = makeKeyFileWithPublic(h, "vn-poc");
    const auto pending = runChecked("focal admin register (pending)",
                                    concat(sgAdmin, {"admin", "register", poc.string() + ".pub", "--state", "VN",
                                                     "--institution", "law-enforcement", "--name", "VN"}));
    runChecked("focal admin pending", concat(myAdmin, {"admin", "pending"}));
    runChecked("focal admin approve", concat(myAdmin, {"admin", "approve", pending.at("proposal_id")}));
  }

  // Every documented section was exercised.
  for (const auto& [section, s] : theDoc()) {
    if (s.keys.empty()) continue;
    INFO("docs/json.md section not exercised: " << section);
    CHECK(checkedSections.contains(section));
  }
  (void)afterRetraction;
  (void)phArgs;
}

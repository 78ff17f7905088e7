// Issue 18, finding 6 (client side): files the CLI writes. Attachments of
// the same name are saved under distinct names and never overwrite each
// other or an existing file without --force; --save-dir is created 0700;
// a failed save exits non-zero; `focal export` creates its file 0600 and
// never replaces one without --force.
#include "hub_fixture.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <fstream>

using namespace focal;
using namespace focal::test;
using nlohmann::json;

namespace {

unsigned modeOf(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

struct TwoMembers {
  Hub hub;
  TempDir home;
  TestMember sg = hub.createMember("sg-spf-cyber", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  TestMember my = hub.createMember("my-pdrm-cyber", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  std::vector<std::string> sgArgs() const { return hub.cliGlobals(sg.keyFile, home.path() / "sg"); }
  std::vector<std::string> myArgs() const { return hub.cliGlobals(my.keyFile, home.path() / "my"); }
  fs::path file(const std::string& dir, const std::string& name, const std::string& content) const {
    fs::create_directories(home.path() / dir);
    const auto p = home.path() / dir / name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
};

}  // namespace

TEST_CASE_METHOD(TwoMembers, "Attachments of the same name are saved under distinct names, none overwritten",
                 "[integration][attachment][files]") {
  const auto a = file("a", "report.txt", "first report\n");
  const auto b = file("b", "report.txt", "second report\n");
  const auto c = file("c", "report (2).txt", "a file really called report (2)\n");
  auto sent = runCliJson(concat(sgArgs(), {"send", "--to", "my-pdrm-cyber", "--tlp", "green", "--category", "tool",
                                             "--title", "three reports", "--body", "b", "--attach", a.string(),
                                             "--attach", b.string(), "--attach", c.string()}));
  const std::string id = sent.at("bulletin_id");

  // A --save-dir that does not exist yet (README's example) is created 0700.
  const auto saveDir = home.path() / "received" / "today";
  auto read = runCliJson(concat(myArgs(), {"read", id, "--save-dir", saveDir.string()}));
  CHECK(modeOf(saveDir) == 0700);
  CHECK(modeOf(saveDir.parent_path()) == 0700);
  const auto& atts = read.at("attachments");
  REQUIRE(atts.size() == 3);
  CHECK(atts[0].at("saved_to") == (saveDir / "report.txt").string());
  CHECK(atts[1].at("saved_to") == (saveDir / "report (3).txt").string());
  CHECK(atts[2].at("saved_to") == (saveDir / "report (2).txt").string());
  CHECK(slurp(saveDir / "report.txt") == "first report\n");
  CHECK(slurp(saveDir / "report (3).txt") == "second report\n");
  CHECK(slurp(saveDir / "report (2).txt") == "a file really called report (2)\n");

  // Again: every target exists; nothing is written without --force.
  std::ofstream(saveDir / "report.txt") << "edited by the user\n";
  auto refused = runCliJson(concat(myArgs(), {"read", id, "--save-dir", saveDir.string()}), 1);
  CHECK(refused.at("error").at("code") == "exists");
  CHECK(slurp(saveDir / "report.txt") == "edited by the user\n");
  // With --force the files that existed are replaced, each by its own
  // attachment; still three files, the same three names.
  runCliJson(concat(myArgs(), {"read", id, "--save-dir", saveDir.string(), "--force"}));
  CHECK(slurp(saveDir / "report.txt") == "first report\n");
  CHECK(slurp(saveDir / "report (3).txt") == "second report\n");
  CHECK(std::distance(fs::directory_iterator(saveDir), fs::directory_iterator()) == 3);

  // The text view says where each one went.
  const auto textDir = home.path() / "text";
  auto text = runCli(concat(myArgs(), {"read", id, "--save-dir", textDir.string()}));
  CHECK(text.exitCode == 0);
  CHECK_THAT(text.out, Catch::Contains("  report.txt  13 bytes  text/plain  -> saved to " + (textDir / "report.txt").string()));
  CHECK_THAT(text.out, Catch::Contains("  report.txt  14 bytes  text/plain  -> saved to " +
                                       (textDir / "report (3).txt").string()));

  // A save that fails exits non-zero and says so: here a directory stands
  // where --force would put the second file.
  const auto blocked = home.path() / "blocked";
  fs::create_directories(blocked / "report (3).txt");
  auto failed = runCli(concat(myArgs(), {"read", id, "--save-dir", blocked.string(), "--force"}));
  INFO("stdout: " << failed.out << "\nstderr: " << failed.err);
  CHECK(failed.exitCode != 0);
  CHECK_THAT(failed.err, Catch::Contains("report (3).txt"));
  CHECK_THAT(failed.err, Catch::Contains("saved report.txt to " + (blocked / "report.txt").string()));

  // A --save-dir that is a file is refused before anything else.
  const auto notDir = file("x", "plain", "");
  auto bad = runCliJson(concat(myArgs(), {"read", id, "--save-dir", notDir.string()}), 1);
  CHECK(bad.at("error").at("code") == "bad-save-dir");
}

TEST_CASE_METHOD(TwoMembers, "focal export creates its file 0600 and replaces an existing one only with --force",
                 "[integration][files][export]") {
  auto sent = runCliJson(concat(sgArgs(), {"send", "--to", "my-pdrm-cyber", "--tlp", "amber", "--category", "alert",
                                             "--title", "amber export", "--body", "secret body"}));
  const std::string id = sent.at("bulletin_id");
  ::umask(022);  // what most shells have: a plain open() would make 0644
  const auto out = home.path() / "alert.json";
  auto r = runCli(concat(myArgs(), {"export", id, "--out", out.string(), "--i-understand-tlp"}));
  REQUIRE(r.exitCode == 0);
  CHECK(modeOf(out) == 0600);
  CHECK(json::parse(slurp(out)).at("body") == "secret body");

  // Never over an existing file without --force.
  std::ofstream(out, std::ios::trunc) << "the user's own file\n";
  ::chmod(out.c_str(), 0644);
  auto refused = runCliJson(concat(myArgs(), {"export", id, "--out", out.string(), "--i-understand-tlp"}), 1);
  CHECK(refused.at("error").at("code") == "exists");
  CHECK(slurp(out) == "the user's own file\n");
  // Nor through a symbolic link planted at the path.
  const auto target = home.path() / "elsewhere";
  const auto link = home.path() / "link.json";
  fs::create_symlink(target, link);
  runCliJson(concat(myArgs(), {"export", id, "--out", link.string(), "--i-understand-tlp"}), 1);
  CHECK(!fs::exists(target));
  // --force replaces it with a new 0600 file.
  r = runCli(concat(myArgs(), {"export", id, "--out", out.string(), "--i-understand-tlp", "--force"}));
  REQUIRE(r.exitCode == 0);
  CHECK(modeOf(out) == 0600);
  CHECK(json::parse(slurp(out)).at("body") == "secret body");
}

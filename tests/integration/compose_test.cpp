// Issue 20, "Compose in an editor": focal send without --body or
// --body-file on a terminal opens $VISUAL / $EDITOR on a template, as git
// commit does. The CLI runs on a pseudo-terminal here (forkpty), with a
// shell script as the editor.
#include "hub_fixture.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

using namespace focal;
using namespace focal::test;
using nlohmann::json;

namespace {

// `focal ARGS` with its standard input, output and error on a new
// pseudo-terminal, `env` added to the environment. Returns the exit code
// and everything it wrote to the terminal.
ProcessResult onTerminal(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv = concat({FOCAL_CLI_PATH}, args);
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    ::unsetenv("VISUAL");
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    ::execv(raw[0], raw.data());
    ::_exit(127);
  }
  ProcessResult r;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  char buf[4096];
  for (;;) {
    pollfd p{master, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      break;
    }
    if (::poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n > 0) r.out.append(buf, static_cast<std::size_t>(n));
    else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break;  // EIO: the child side closed
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(master);
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

void writeScript(const fs::path& p, const std::string& body) {
  {
    std::ofstream out(p);
    out << "#!/bin/sh\n" << body;
  }
  fs::permissions(p, fs::perms::owner_all);
}

}  // namespace

TEST_CASE("focal send on a terminal without --body writes the body in the editor", "[integration][compose]") {
  Hub hub;
  TempDir home;
  const auto sg = hub.createMember("sg-spf-cyber", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  const auto my = hub.createMember("my-pdrm-cyber", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  const fs::path runtime = home.path() / "runtime";
  fs::create_directories(runtime);
  const fs::path editor = home.path() / "editor.sh";
  const fs::path seen = home.path() / "template.txt";
  const auto send = concat(hub.cliGlobals(sg.keyFile, home.path() / "sg"),
                           {"--json", "send", "--to", "my-pdrm-cyber", "--tlp", "green", "--category", "trend",
                            "--title", "Written in vi"});
  const std::map<std::string, std::string> env = {
      {"EDITOR", editor.string()}, {"FOCAL_PASSPHRASE", TestPassphrase}, {"XDG_RUNTIME_DIR", runtime.string()}};
  const auto inboxTitles = [&] {
    return runCliJson(concat(hub.cliGlobals(my.keyFile, home.path() / "my"), {"inbox"})).size();
  };

  SECTION("what the editor leaves, without the # lines, is the body") {
    writeScript(editor, "cp \"$1\" '" + seen.string() + "'\nprintf 'Seen in three states.\\n# not sent\\n\\n' > \"$1\"\n");
    const auto r = onTerminal(send, env);
    INFO(r.out);
    REQUIRE(r.exitCode == 0);
    const auto id = json::parse(r.out.substr(r.out.find('{'))).at("bulletin_id").get<std::string>();
    const auto read = runCliJson(concat(hub.cliGlobals(my.keyFile, home.path() / "my"), {"read", id}));
    CHECK(read.at("body") == "Seen in three states.");
    // The template names what is being sent.
    CHECK_THAT(slurp(seen), Catch::Contains("# Title:    Written in vi") && Catch::Contains("# To:       my-pdrm-cyber") &&
                                Catch::Contains("an empty body sends nothing"));
    // The file with the body is gone.
    CHECK(fs::is_empty(runtime));
  }
  SECTION("an empty body sends nothing") {
    writeScript(editor, "printf '# only a comment\\n\\n' > \"$1\"\n");
    const auto r = onTerminal(send, env);
    INFO(r.out);
    CHECK(r.exitCode == 1);
    CHECK_THAT(r.out, Catch::Contains("empty-body"));
    CHECK(inboxTitles() == 0);
    CHECK(fs::is_empty(runtime));
  }
  SECTION("an editor that fails sends nothing") {
    writeScript(editor, "exit 3\n");
    const auto r = onTerminal(send, env);
    CHECK(r.exitCode == 1);
    CHECK_THAT(r.out, Catch::Contains("editor-failed"));
    CHECK(inboxTitles() == 0);
  }
  SECTION("the key file opens before the editor: a mistyped passphrase loses no written body") {
    writeScript(editor, "cp \"$1\" '" + seen.string() + "'\nprintf 'x\\n' > \"$1\"\n");
    auto wrong = env;
    wrong["FOCAL_PASSPHRASE"] = "not the passphrase at all";
    const auto r = onTerminal(send, wrong);
    CHECK(r.exitCode == 1);
    CHECK_FALSE(fs::exists(seen));  // the editor never ran
  }
  SECTION("without VISUAL or EDITOR the error says what to do") {
    auto noEditor = env;
    noEditor["EDITOR"] = "";
    const auto r = onTerminal(send, noEditor);
    CHECK(r.exitCode == 1);
    CHECK_THAT(r.out, Catch::Contains("no-editor") && Catch::Contains("--body-file"));
  }
}

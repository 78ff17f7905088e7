// Issue 20, "unlock once": `focal unlock` starts a key agent; later commands
// (inbox, read, send) run against the real focald with no passphrase
// anywhere, signing and opening through the agent; `focal lock`, the
// lifetime, SIGTERM and a dead agent's socket each end that. The agent's
// socket answers hostile requests with typed errors and lives in a private
// directory.
#include "hub_fixture.hpp"

#include "client/agent_client.hpp"
#include "tests/support/deadline.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>

using namespace focal;
using namespace focal::test;
using nlohmann::json;
using Catch::Matchers::Contains;

namespace {

// sg-spf and my-pdrm with key files; sg's commands run with XDG_RUNTIME_DIR
// in a directory of the test, and without FOCAL_PASSPHRASE unless asked.
struct AgentDay {
  Hub hub;
  TempDir home;
  TempDir runtime;
  TestMember sg = hub.createMember("sg-spf", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  TestMember my = hub.createMember("my-pdrm", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  std::vector<std::string> sgArgs = hub.cliGlobals(sg.keyFile, home.path() / "sg");

  ~AgentDay() { sgRun({"lock"}); }  // never leave an agent behind a failed check

  ProcessResult sgRun(const std::vector<std::string>& args, bool withPassphrase = false) const {
    std::map<std::string, std::string> env{{"XDG_RUNTIME_DIR", runtime.path().string()}};
    if (withPassphrase) env["FOCAL_PASSPHRASE"] = TestPassphrase;
    auto argv = concat({FOCAL_CLI_PATH}, concat(sgArgs, args));
    return runProcess(argv, env, std::nullopt, std::chrono::seconds(60));
  }
  json sgJson(const std::vector<std::string>& args, int expectedExit = 0, bool withPassphrase = false) const {
    const auto r = sgRun(concat({"--json"}, args), withPassphrase);
    INFO("focal " << args.front() << " -> exit " << r.exitCode << "\nstdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exitCode == expectedExit);
    return json::parse(r.out);  // throws (and fails the test) when it is not one document
  }
  json unlock(const std::vector<std::string>& more = {}) const { return sgJson(concat({"unlock"}, more), 0, true); }
  bool agentRunning() const { return sgJson({"unlock", "--status"}).at("running").get<bool>(); }
};

mode_t modeOf(const fs::path& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// One raw exchange on the agent's socket: `frame` as written, the status
// byte of the answer (-1: no answer).
int rawExchange(const fs::path& socket, const std::string& frame) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  (void)::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  unsigned char answer[5] = {};
  std::size_t got = 0;
  while (got < sizeof answer) {
    const ssize_t n = ::recv(fd, answer + got, sizeof answer - got, 0);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return got == sizeof answer ? answer[4] : -1;
}

std::string framed(const std::string& body) {
  std::string f(4, '\0');
  for (int i = 0; i < 4; ++i) f[i] = static_cast<char>(body.size() >> (24 - 8 * i));
  return f + body;
}

}  // namespace

TEST_CASE_METHOD(AgentDay, "after focal unlock, inbox, read and send need no passphrase, and after focal lock they do",
                 "[integration][agent]") {
  auto conn = hub.connect(my.keys);
  conn->send(sealTo(my.keys, {&sg.keys}, "Botnet takedown notice", "The body only sg opens"));

  // Without an agent and without a passphrase: refused, as before.
  auto before = sgRun({"--json", "inbox"});
  CHECK(before.exitCode == 1);
  CHECK_THAT(before.out, Contains("no-passphrase"));

  const auto info = unlock({"--for", "10m"});
  CHECK(info.at("running") == true);
  CHECK(info.at("member_id") == "sg-spf");
  const fs::path socket = info.at("socket").get<std::string>();
  CHECK(socket.parent_path() == runtime.path() / "focal");
  CHECK(modeOf(socket.parent_path()) == 0700);
  CHECK(modeOf(socket) == 0600);
  // No core dump of the keys, ever.
  const auto limits = slurp("/proc/" + std::to_string(info.at("pid").get<int>()) + "/limits");
  CHECK_THAT(limits, Contains("Max core file size        0                    0"));

  const auto inbox = sgJson({"inbox"});
  REQUIRE(inbox.size() == 1);
  CHECK(inbox[0].at("title") == "Botnet takedown notice");
  const std::string id = inbox[0].at("bulletin_id");
  const auto read = sgJson({"read", id});
  CHECK(read.at("body") == "The body only sg opens");
  const auto sent = sgJson({"send", "--to", "my-pdrm", "--tlp", "green", "--category", "trend", "--title",
                            "Signed by the agent", "--body", "sealed and signed without the key file"});
  CHECK(sent.at("recipient_ids") == json::array({"my-pdrm"}));
  CHECK(sgJson({"ack", id}).at("acknowledged_ids") == json::array({id}));

  const auto locked = sgJson({"lock"});
  CHECK(locked.at("locked") == true);
  CHECK_FALSE(fs::exists(socket));
  CHECK_FALSE(agentRunning());
  auto after = sgRun({"--json", "inbox"});
  CHECK(after.exitCode == 1);
  CHECK_THAT(after.out, Contains("no-passphrase"));
  CHECK(sgJson({"lock"}).at("locked") == false);
}

TEST_CASE_METHOD(AgentDay, "the key agent stops at the end of --for, and on SIGTERM, removing its socket",
                 "[integration][agent]") {
  auto info = unlock({"--for", "2s"});
  fs::path socket = info.at("socket").get<std::string>();
  CHECK(fs::exists(socket));
  CHECK(test_support::waitUntil([&] { return !fs::exists(socket); }, std::chrono::seconds(20)));
  CHECK_FALSE(agentRunning());

  info = unlock();
  socket = info.at("socket").get<std::string>();
  REQUIRE(::kill(info.at("pid").get<pid_t>(), SIGTERM) == 0);
  CHECK(test_support::waitUntil([&] { return !fs::exists(socket); }, std::chrono::seconds(20)));
  CHECK_FALSE(agentRunning());
}

TEST_CASE_METHOD(AgentDay, "a dead agent's socket is found stale and removed, and unlock starts a new one",
                 "[integration][agent]") {
  auto info = unlock();
  const fs::path socket = info.at("socket").get<std::string>();
  const auto pid = info.at("pid").get<pid_t>();
  REQUIRE(::kill(pid, SIGKILL) == 0);
  // Killed: its socket file stays behind, and nobody answers on it.
  REQUIRE(test_support::waitUntil([&] { return ::kill(pid, 0) != 0 || slurp("/proc/" + std::to_string(pid) + "/stat").find(" Z ") != std::string::npos; },
                                  std::chrono::seconds(20)));
  CHECK(fs::exists(socket));
  CHECK_FALSE(agentRunning());
  CHECK_FALSE(fs::exists(socket));
  // The commands fall back to the key file.
  auto r = sgRun({"--json", "inbox"}, true);
  CHECK(r.exitCode == 0);
  info = unlock();
  CHECK(info.at("pid").get<pid_t>() != pid);
  CHECK(agentRunning());
}

TEST_CASE_METHOD(AgentDay, "the key agent answers malformed and oversize requests with typed errors and keeps serving",
                 "[integration][agent]") {
  const auto info = unlock();
  const fs::path socket = info.at("socket").get<std::string>();
  using S = client::agent::Status;
  auto status = [](S s) { return static_cast<int>(s); };
  // A length over the limit: refused before a byte of body is read.
  CHECK(rawExchange(socket, std::string("\xff\xff\xff\xff", 4)) == status(S::TooLarge));
  CHECK(rawExchange(socket, framed(std::string("\x09\x01", 2))) == status(S::BadVersion));
  CHECK(rawExchange(socket, framed(std::string("\x01\x63", 2))) == status(S::UnknownOp));
  CHECK(rawExchange(socket, framed(std::string("\x01", 1))) == status(S::Malformed));
  // Sign with a context length past the end, and with a NUL in the context.
  CHECK(rawExchange(socket, framed(std::string("\x01\x02\x00\x40" "ab", 6))) == status(S::Malformed));
  CHECK(rawExchange(socket, framed(std::string("\x01\x02\x00\x02" "a\0msg", 9))) == status(S::Malformed));
  // Open: an unknown "named" flag, a short box, a box for nobody.
  CHECK(rawExchange(socket, framed(std::string("\x01\x03\x07", 3))) == status(S::Malformed));
  CHECK(rawExchange(socket, framed(std::string("\x01\x03\x00" "short", 8))) == status(S::BadLength));
  CHECK(rawExchange(socket, framed(std::string("\x01\x03\x00", 3) + std::string(80, 'x'))) == status(S::DecryptFailed));
  // A truncated frame and an empty connection get no answer, and no crash.
  CHECK(rawExchange(socket, std::string("\x00\x00\x01\x00" "abc", 7)) == -1);
  CHECK(rawExchange(socket, "") == -1);
  // Still serving, with the same keys.
  const auto again = sgJson({"unlock", "--status"});
  CHECK(again.at("running") == true);
  CHECK(again.at("pid") == info.at("pid"));
  CHECK(sgJson({"inbox"}).empty());
}

TEST_CASE_METHOD(AgentDay, "unlock reads the passphrase from --passphrase-file and refuses a wrong one",
                 "[integration][agent]") {
  const auto wrong = home.path() / "wrong";
  std::ofstream(wrong) << "not the passphrase at all\n";
  auto r = sgRun({"--json", "unlock", "--passphrase-file", wrong.string()});
  CHECK(r.exitCode == 1);
  CHECK_THAT(r.out, Contains("key-file"));
  CHECK_FALSE(agentRunning());
  const auto right = home.path() / "right";
  std::ofstream(right) << TestPassphrase << "\n";
  CHECK(sgJson({"unlock", "--passphrase-file", right.string(), "--idle", "5m"}).at("idle_timeout_seconds") == 300);
  CHECK(agentRunning());
}

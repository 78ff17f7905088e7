// A sender killed in the middle of an attachment upload (issue 6): the real
// `focal send --attach` is SIGKILLed while the hub is receiving its chunks,
// at three depths of the upload. Nothing of it may become a bulletin: no
// bulletin row, no queue entry, nothing in the recipient's inbox; what is
// left is an unfinished upload (purged later, counted against the sender's
// open uploads). Then the same send runs to the end and the recipient gets
// exactly one bulletin whose attachment is the original file.
#include "hub_fixture.hpp"

#include "server/sqlite.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

extern char** environ;

using namespace focal;
using namespace focal::test;
using nlohmann::json;

namespace {

// The CLI started in the background (output to /dev/null), for killing.
pid_t spawnCli(const std::vector<std::string>& args) {
  std::vector<std::string> argv{FOCAL_CLI_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::vector<std::string> envStrings{std::string("FOCAL_PASSPHRASE=") + TestPassphrase};
  for (char** e = environ; *e != nullptr; ++e) envStrings.emplace_back(*e);
  std::vector<char*> cenv;
  for (auto& e : envStrings) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0].c_str(), &fa, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(rc == 0);
  return pid;
}

struct UploadState {
  std::int64_t bulletins = 0, deliveries = 0, links = 0, unfinished = 0, finished = 0, received = 0;
};

UploadState uploadState(const Hub& hub) {
  auto db = server::sqlite::Database::open(hub.database(), server::sqlite::Database::Mode::ReadOnly);
  UploadState s;
  auto count = [&](const char* sql) {
    auto st = db.prepare(sql);
    REQUIRE(st->step());
    return st->columnInt(0);
  };
  s.bulletins = count("SELECT count(*) FROM bulletins");
  s.deliveries = count("SELECT count(*) FROM deliveries");
  s.links = count("SELECT count(*) FROM bulletin_blobs");
  s.unfinished = count("SELECT count(*) FROM blobs WHERE complete = 0");
  s.finished = count("SELECT count(*) FROM blobs WHERE complete = 1");
  s.received = count("SELECT coalesce(max(received), 0) FROM blobs WHERE complete = 0");
  return s;
}

}  // namespace

TEST_CASE("A sender killed mid-upload leaves no bulletin and nothing in the inbox, and the send done again arrives once",
          "[integration][crash][upload]") {
  Hub hub;
  auto sg = hub.createMember("sg-spf", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  auto my = hub.createMember("my-pdrm", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  TempDir home;
  const auto sgArgs = hub.cliGlobals(sg.keyFile, home.path() / "sg-profile");
  const auto myArgs = hub.cliGlobals(my.keyFile, home.path() / "my-profile");

  // 24 MiB of noise: long enough an upload (tens of 512 KiB chunks) to be
  // caught in the middle.
  const auto file = home.path() / "capture.pcap";
  {
    std::mt19937_64 rng(42);
    std::string data(24 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i + 8 <= data.size(); i += 8) {
      const auto v = rng();
      std::memcpy(data.data() + i, &v, 8);
    }
    std::ofstream(file, std::ios::binary) << data;
  }
  const std::int64_t fileSize = static_cast<std::int64_t>(fs::file_size(file));
  const auto sendArgs = concat(sgArgs, {"--json", "send", "--to", "my-pdrm", "--tlp", "amber", "--category", "tool",
                                        "--title", "capture", "--body", "see attachment", "--attach", file.string()});

  // Kill at three depths: as soon as the hub holds any of it, past a third,
  // past two thirds (each `focal send` seals under a new content key, so
  // each attempt is a new upload).
  int kills = 0;
  for (double depth : {0.0, 1.0 / 3, 2.0 / 3}) {
    const pid_t pid = spawnCli(sendArgs);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    bool caught = false;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto st = uploadState(hub);
      if (st.received > static_cast<std::int64_t>(depth * static_cast<double>(fileSize)) && st.finished == 0) {
        caught = true;
        break;
      }
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) break;  // ended before we caught it
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    INFO("kill at depth " << depth);
    REQUIRE(caught);
    ++kills;

    const auto st = uploadState(hub);
    CHECK(st.bulletins == 0);
    CHECK(st.deliveries == 0);
    CHECK(st.links == 0);
    CHECK(st.finished == 0);
    CHECK(st.unfinished == kills);
    auto inbox = runCli(concat(myArgs, {"--json", "inbox"}));
    REQUIRE(inbox.exitCode == 0);
    CHECK(json::parse(inbox.out).empty());
  }

  // Done again, to the end: one bulletin, delivered once, attachment intact.
  auto sent = runCli(sendArgs);
  INFO(sent.out << sent.err);
  REQUIRE(sent.exitCode == 0);
  const auto id = json::parse(sent.out).at("bulletin_id").get<std::string>();
  auto inbox = runCli(concat(myArgs, {"--json", "inbox"}));
  REQUIRE(inbox.exitCode == 0);
  const auto items = json::parse(inbox.out);
  REQUIRE(items.size() == 1);
  CHECK(items[0].at("bulletin_id") == id);
  const auto saveDir = home.path() / "saved";
  fs::create_directories(saveDir);
  auto read = runCli(concat(myArgs, {"--json", "read", id, "--save-dir", saveDir.string()}));
  INFO(read.out << read.err);
  REQUIRE(read.exitCode == 0);
  CHECK(json::parse(read.out).at("verified") == true);
  CHECK(slurp(saveDir / "capture.pcap") == slurp(file));
  const auto st = uploadState(hub);
  CHECK(st.bulletins == 1);
  CHECK(st.deliveries == 1);
  CHECK(st.links == 1);
  CHECK(st.unfinished == kills);  // the killed uploads wait for the purge; none became part of anything
  std::printf("client-kill: %d senders SIGKILLed mid-upload of %lld bytes: 0 bulletins, 0 queue entries, %lld "
              "unfinished uploads left; the send done again delivered once, attachment identical\n",
              kills, static_cast<long long>(fileSize), static_cast<long long>(st.unfinished));
}

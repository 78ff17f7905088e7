// Freshness of the directory log's head against a real focald on a test
// clock (focald run --test-clock FILE) and the real focal CLI whose clock
// FOCAL_TEST_CLOCK_ADVANCE_MS moves forward (client/client_clock.hpp):
// the hub signs a new head of the same size every hour without entries, a
// client refuses to seal once its newest head is older than 24 h (a frozen
// hub), and refuses a head signed earlier than one it verified (a replay).
//
// Clock arithmetic: bulletins carry the client's time and the hub accepts
// times within ±10 minutes of its own, so the hub clock and the client's
// advance always move together before a send is expected to pass.
#include "hub_fixture.hpp"

#include "tests/support/deadline.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace focal;
using namespace focal::test;
using nlohmann::json;

namespace {

constexpr std::int64_t HourMs = 3600 * 1000;

struct FreshnessWorld {
  Hub hub{HubOptions{.limits = {}, .testClock = true}};
  TempDir home;
  TestMember sg = hub.createMember("sg-spf-cyber", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  TestMember my = hub.createMember("my-pdrm-cyber", "MY", wire::Institution::LAW_ENFORCEMENT, true);

  // `focal --json ARGS` as SG, its clock `advanceMs` ahead of the real time
  // (the hub's address is read each time: a restart changes its port).
  ProcessResult sgAt(std::int64_t advanceMs, const std::vector<std::string>& args) const {
    std::vector<std::string> argv{FOCAL_CLI_PATH, "--json"};
    const auto globals = hub.cliGlobals(sg.keyFile, home.path() / "sg-profile");
    argv.insert(argv.end(), globals.begin(), globals.end());
    argv.insert(argv.end(), args.begin(), args.end());
    return runProcess(argv, {{"FOCAL_PASSPHRASE", TestPassphrase},
                             {"FOCAL_TEST_CLOCK_ADVANCE_MS", std::to_string(advanceMs)}});
  }
  ProcessResult sendAt(std::int64_t advanceMs, const std::string& title) const {
    return sgAt(advanceMs, {"send", "--to", "my-pdrm-cyber", "--tlp", "amber", "--category", "alert", "--title", title,
                            "--body", "indicators attached"});
  }
  // verify-log's document (it never seals, so it runs with any head).
  json verifyLogAt(std::int64_t advanceMs) const {
    auto r = sgAt(advanceMs, {"verify-log"});
    INFO("verify-log at +" << advanceMs << " ms -> exit " << r.exitCode << "\nstdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exitCode == 0);
    return json::parse(r.out);
  }
  // Waits (bounded) until the hub serves a head signed after `before`.
  json headAfter(std::int64_t advanceMs, const std::string& before) const {
    json j;
    const bool signed_ = test_support::waitUntil(
        [&] {
          j = verifyLogAt(advanceMs);
          return j.at("head_signed_at").get<std::string>() > before;
        },
        std::chrono::seconds(60), std::chrono::milliseconds(200));
    if (!signed_) FAIL("the hub never signed a head after " << before << "; last: " << j.dump());
    return j;
  }
  std::size_t queuedForMy() const { return hub.connect(my.keys)->fetch(0).items.size(); }
};

}  // namespace

TEST_CASE_METHOD(FreshnessWorld,
                 "Freshness: the hub signs an hourly head without entries, and a client whose newest head is older "
                 "than 24 h refuses to send until the hub signs again",
                 "[integration][freshness]") {
  auto sent = sendAt(0, "Fresh head");
  INFO("send -> " << sent.exitCode << "\n" << sent.out << sent.err);
  REQUIRE(sent.exitCode == 0);
  CHECK(sent.err.find("FOCAL_TEST_CLOCK_ADVANCE_MS is set") != std::string::npos);  // the loud warning
  const auto first = verifyLogAt(0);

  // An hour later on both clocks: a new head, same entries, newer time.
  const std::int64_t hourLater = HourMs + 60'000;
  hub.advanceClock(hourLater);
  const auto hourly = headAfter(hourLater, first.at("head_signed_at"));
  CHECK(hourly.at("entry_count") == first.at("entry_count"));
  CHECK(hourly.at("root") == first.at("root"));
  REQUIRE(sendAt(hourLater, "Still fresh").exitCode == 0);
  REQUIRE(queuedForMy() == 2);

  // The hub is frozen (its clock stops: it signs nothing more) while the
  // client's day goes on: 25 h after the last head, sealing stops.
  const std::int64_t dayLater = hourLater + 25 * HourMs;
  auto refused = sendAt(dayLater, "Frozen hub");
  INFO("send on a stale head -> " << refused.exitCode << "\n" << refused.out << refused.err);
  CHECK(refused.exitCode == 3);
  const auto error = json::parse(refused.out).at("error");
  CHECK(error.at("code") == "stale-head");
  const std::string message = error.at("message");
  CHECK(message.find("25 hours ago") != std::string::npos);
  CHECK(message.find("focal verify-log") != std::string::npos);
  CHECK(message.find("nothing was sent") != std::string::npos);
  CHECK(queuedForMy() == 2);  // nothing reached the hub
  // Reading still works: the user can look at what is going on.
  CHECK(sgAt(dayLater, {"directory"}).exitCode == 0);

  // The hub's clock catches up: it signs a fresh head and sending works again.
  hub.advanceClock(25 * HourMs);
  headAfter(dayLater, hourly.at("head_signed_at"));
  auto again = sendAt(dayLater, "Fresh again");
  INFO("send after the fresh head -> " << again.exitCode << "\n" << again.out << again.err);
  CHECK(again.exitCode == 0);
  CHECK(queuedForMy() == 3);
}

TEST_CASE_METHOD(FreshnessWorld,
                 "Freshness: a head signed earlier than the one the client verified is refused (a hub serving a "
                 "restored copy of its log)",
                 "[integration][freshness]") {
  REQUIRE(sendAt(0, "Before the backup").exitCode == 0);
  const auto start = hub.clockMs();
  // A copy of the hub's state while its head is the append-time one.
  hub.stop();
  const fs::path backup = home.path() / "backup";
  fs::create_directories(backup);
  const auto copyDatabase = [&](const fs::path& from, const fs::path& to) {
    for (const char* suffix : {"", "-wal"}) {
      const fs::path source = from / (std::string("focal.db") + suffix);
      fs::remove(to / source.filename());
      if (fs::exists(source)) fs::copy_file(source, to / source.filename());
    }
  };
  copyDatabase(hub.dir(), backup);
  hub.start();

  const std::int64_t hourLater = HourMs + 60'000;
  const std::string before = verifyLogAt(0).at("head_signed_at");
  hub.advanceClock(hourLater);
  headAfter(hourLater, before);

  // The operator restores the copy (same entries, an older head) and winds
  // the clock back, so the hub serves the older head as its newest.
  hub.stop();
  fs::remove(hub.dir() / "focal.db-shm");
  copyDatabase(backup, hub.dir());
  hub.setClockMs(start);
  hub.start();
  auto r = sgAt(hourLater, {"directory"});
  INFO("directory on a replayed head -> " << r.exitCode << "\n" << r.out << r.err);
  CHECK(r.exitCode == 3);
  CHECK(json::parse(r.out).at("error").at("message").get<std::string>().find("older than the head you verified") !=
        std::string::npos);
}

TEST_CASE_METHOD(FreshnessWorld, "Freshness: head-max-age is a profile setting of at most 30 days",
                 "[integration][freshness]") {
  CHECK(json::parse(sgAt(0, {"profile", "show"}).out).at("head_max_age_ms") == 24 * HourMs);
  auto tooLong = sgAt(0, {"profile", "set", "--head-max-age", "31d"});
  CHECK(tooLong.exitCode == 1);
  CHECK(tooLong.out.find("bad-duration") != std::string::npos);
  REQUIRE(sgAt(0, {"profile", "set", "--head-max-age", "48h"}).exitCode == 0);
  CHECK(json::parse(sgAt(0, {"profile", "show"}).out).at("head_max_age_ms") == 48 * HourMs);
}

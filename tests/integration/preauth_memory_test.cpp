// Memory a peer can make focald hold with a length prefix (issue 18,
// finding 1). Each peer comes from its own loopback address, so the
// per-source connection cap cannot be what keeps memory down: the bound
// must come from how frames are read. Throughout, a registered member on
// 127.0.0.1 is served (a fresh connection and a directory request every
// round, plus the real `focal inbox` while the peers are held).
#include "hub_fixture.hpp"
#include "tests/support/sanitizers.hpp"
#include "tests/support/raw_client.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

using namespace focal;
using namespace focal::test;
using namespace std::chrono_literals;
using test_support::loopbackSource;
using test_support::raiseFdLimit;
using test_support::RawClient;
using test_support::Sanitized;
using test_support::vmRssKiB;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr std::size_t Peers = 1000;
// The bound the issue sets: 1,000 hostile peers may cost at most this much
// resident memory (64 KiB each, TLS state included). Under a sanitizer
// (ASan's quarantine keeps freed memory resident, and shadow memory adds to
// every byte) RSS says nothing about focald's own use: the figure is
// reported but not checked there; the normal build is the one that proves
// it. Everything else (each peer refused, the member served) is checked in
// every build.
constexpr long GrowthBoundKiB = 64 * 1024;

// The deadlines that would otherwise close held peers mid-test are
// stretched: the test is about memory, not deadlines (flood_test checks
// those).
HubOptions patientHub() {
  HubOptions o;
  o.limits = {{"handshake_timeout_ms", "120000"},
              {"unauthenticated_timeout_ms", "120000"},
              {"read_timeout_ms", "120000"}};
  return o;
}

crypto::Bytes prefix(std::uint32_t n) {
  return {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8),
          static_cast<std::uint8_t>(n)};
}

// A member on 127.0.0.1 connecting, authenticating and reading the
// directory, round after round, until stopped; every round must succeed.
class MemberLoop {
 public:
  MemberLoop(const Hub& hub, const crypto::MemberKeys& keys) : thread_([this, &hub, &keys] { run(hub, keys); }) {}
  ~MemberLoop() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int rounds() const { return rounds_; }
  const std::string& firstFailure() const { return failure_; }
  int failures() const { return failures_; }

 private:
  void run(const Hub& hub, const crypto::MemberKeys& keys) {
    while (!stop_) {
      try {
        auto c = hub.connect(keys);
        (void)c->directory();
        ++rounds_;
      } catch (const std::exception& e) {
        if (failures_++ == 0) failure_ = e.what();
      }
      std::this_thread::sleep_for(50ms);  // pacing between rounds, not a wait for a condition
    }
  }
  std::atomic<bool> stop_{false};
  std::atomic<int> rounds_{0};
  std::atomic<int> failures_{0};
  std::string failure_;
  std::thread thread_;
};

void requireInboxWorks(const Hub& hub, const TestMember& member, const fs::path& profile) {
  auto r = runCli(concat(hub.cliGlobals(member.keyFile, profile), {"inbox"}));
  INFO(r.out << r.err);
  REQUIRE(r.exitCode == 0);
}

}  // namespace

TEST_CASE("Pre-authentication memory: 1,000 TLS peers from 1,000 addresses, each sending a 1 MiB length prefix, "
          "raise focald's RSS by less than 64 MiB and get frameTooLarge - a member is served throughout",
          "[hostile][memory]") {
  raiseFdLimit();
  Hub hub(patientHub());
  auto member = hub.createMember("sg-spf", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  TempDir profile;
  requireInboxWorks(hub, member, profile.path());
  const long before = vmRssKiB(hub.pid());
  REQUIRE(before > 0);

  MemberLoop loop(hub, member.keys);
  std::vector<std::unique_ptr<RawClient>> peers;
  long peak = before;
  for (std::size_t i = 0; i < Peers; ++i) {
    auto p = RawClient::connect(loopbackSource(i), hub.port());
    INFO("peer " << i << " from " << loopbackSource(i));
    REQUIRE(p != nullptr);
    auto challenge = p->readFrame();
    REQUIRE((challenge && challenge->root().isChallenge()));
    REQUIRE(p->write(prefix(protocol::MaxFrameBytes)));
    peers.push_back(std::move(p));
    if (i % 50 == 0) peak = std::max(peak, vmRssKiB(hub.pid()));
  }
  peak = std::max(peak, vmRssKiB(hub.pid()));
  // After the flood (each peer refused and closed as soon as its error
  // frame was flushed: no CloseGrace drain that would keep 1,000 TLS
  // streams alive at once): the real CLI is served.
  requireInboxWorks(hub, member, profile.path());
  peak = std::max(peak, vmRssKiB(hub.pid()));

  // Each peer is told why, with the typed error, and closed.
  std::size_t tooLarge = 0;
  std::size_t closed = 0;
  const auto answerBy = SteadyClock::now() + 60s;
  for (auto& p : peers) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(answerBy - SteadyClock::now());
    if (!p->readable(std::max(left, 0ms))) continue;
    auto f = p->readFrame();
    if (f && f->root().isError() && f->root().getError().getCode() == wire::ErrorCode::FRAME_TOO_LARGE) ++tooLarge;
    if (p->waitClosed()) ++closed;
  }
  peak = std::max(peak, vmRssKiB(hub.pid()));
  loop.stop();

  const long growth = peak - before;
  WARN("focald RSS " << before << " KiB -> peak " << peak << " KiB (+" << growth << " KiB) with " << Peers
                     << " peers each promising " << protocol::MaxFrameBytes << " bytes; member rounds "
                     << loop.rounds());
  if (!Sanitized) CHECK(growth < GrowthBoundKiB);
  CHECK(tooLarge == Peers);
  CHECK(closed == Peers);
  INFO(loop.firstFailure());
  CHECK(loop.failures() == 0);
  CHECK(loop.rounds() > 0);
}

TEST_CASE("Authenticated memory: 400 sessions of 50 members, each holding a 1 MiB length prefix with a few bytes "
          "of body, cost focald less than 64 MiB (bodies are read in bounded steps)",
          "[hostile][memory]") {
  raiseFdLimit();
  Hub hub(patientHub());
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) ids.push_back("m" + std::to_string(i));
  auto members = hub.createMembers(ids, "SG");
  auto watcher = hub.createMember("sg-spf", "SG");
  { auto warm = hub.connect(watcher.keys); (void)warm->directory(); }
  const long before = vmRssKiB(hub.pid());

  std::vector<std::unique_ptr<RawClient>> peers;
  long peak = before;
  const crypto::Bytes someBody(64, 0);
  for (std::size_t i = 0; i < members.size() * 8; ++i) {
    auto p = RawClient::connect("127.0.0.1", hub.port());
    REQUIRE(p != nullptr);
    INFO("session " << i << " of " << members[i % members.size()].id());
    REQUIRE(p->authenticate(members[i % members.size()].keys));
    REQUIRE(p->write(prefix(protocol::MaxFrameBytes)));
    REQUIRE(p->write(someBody));
    peers.push_back(std::move(p));
    if (i % 25 == 0) peak = std::max(peak, vmRssKiB(hub.pid()));
  }
  // A request of another member is served while they are held; it also
  // makes sure the hub has read what the held sessions sent.
  auto c = hub.connect(watcher.keys);
  (void)c->directory();
  peak = std::max(peak, vmRssKiB(hub.pid()));

  const long growth = peak - before;
  WARN("focald RSS " << before << " KiB -> peak " << peak << " KiB (+" << growth << " KiB) with " << peers.size()
                     << " authenticated sessions each promising " << protocol::MaxFrameBytes << " bytes");
  if (!Sanitized) CHECK(growth < GrowthBoundKiB);
}

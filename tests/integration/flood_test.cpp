// Floods and slow peers against the real focald, from loopback, while a
// legitimate pair of members keeps sending and receiving.
//
// Phases (each bounded; the hub's deadlines are shortened in focal.toml so
// the test takes seconds, the mechanisms are the same as with the defaults):
//   1. 2,000 TCP connections that never start TLS       (handshake deadline)
//   2. 500 connections that finish TLS and never authenticate
//                                                       (authentication deadline)
//   3. an authenticated subscriber that reads its pushes at 1 byte/s, through
//      the fault proxy                                  (write deadline / outbound cap)
//   4. 100 TLS connections + 1 authenticated session sending a frame header
//      that promises 1 GiB                              (frameTooLarge at once)
//   5. wrong authentication attempts: 1,000 here, 10,000 with
//      FOCAL_FLOOD_FULL=1 (scripts/long-runs.sh)        (per-address limiter)
// Throughout: the legitimate round trip (send -> push) keeps working with
// p99 under 10x its unloaded p99; focald's resident memory stays under the
// stated bound; every flood connection ends within its deadline (+ slack);
// afterwards focald holds no more file descriptors than before.
#include "hub_fixture.hpp"
#include "tests/support/raw_client.hpp"
#include "tests/support/sanitizers.hpp"
#include "fault_proxy.hpp"

#include "client/client_error.hpp"

#include <catch2/catch.hpp>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>

using namespace focal;
using namespace focal::test;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

namespace {

using test_support::Sanitized;
// How late after its deadline the last of a flood's connections may end:
// the hub works through thousands of expiring timers at once, and a
// sanitized hub on a loaded 2-core machine needs several times longer for
// that (measured: 4.6 s for 2,000 in the ASan build while other tests ran).
constexpr int DeadlineSlackMs = Sanitized ? 8000 : 3000;
// focald's resident set must stay under this during the floods. The hub's
// own bounds: at most max_connections (4096) sessions, each an SSL object
// (~30 KiB after a handshake) and a 4-byte read buffer until a frame
// arrives; frames are at most 1 MiB and only authenticated sessions get
// requests served; outbound queues are capped at 16 MiB per session but
// only the slow peer has one. Measured peak in RelWithDebInfo: see
// docs/reliability.md. ASan's shadow memory and quarantine multiply it.
constexpr long MemoryBoundKiB = Sanitized ? 1024 * 1024 : 256 * 1024;
// A legitimate member whose p99 round trip under floods passes this (and ten
// times its unloaded p99) counts as starved.
constexpr double StarvedMs = 2000.0;

long statusKiB(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

std::size_t openFds(pid_t pid) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) ++n;
  return n;
}

int tcpConnect(std::uint16_t port) { return test_support::tcpConnectFrom("127.0.0.1", port); }

// A TLS 1.3 connection (no certificate check: a flood does not care), made
// non-blocking so hundreds can be watched at once with poll().
using RawTls = test_support::RawClient;
std::unique_ptr<RawTls> tlsConnect(std::uint16_t port) {
  auto t = RawTls::connect("127.0.0.1", port);
  if (t) ::fcntl(t->fd(), F_SETFL, ::fcntl(t->fd(), F_GETFL) | O_NONBLOCK);
  return t;
}

// Reads whatever arrived; true once the peer closed (EOF, reset, TLS error).
bool tlsDrainEnded(RawTls& t) {
  char buf[4096];
  for (;;) {
    const int n = SSL_read(t.ssl(), buf, sizeof buf);
    if (n > 0) continue;
    const int err = SSL_get_error(t.ssl(), n);
    return err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE;
  }
}

bool plainDrainEnded(int fd) {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    return true;  // EOF or reset
  }
}

// Waits until every fd has ended (per `ended`), at most `limit` after
// `start`; returns the slowest end time, or nullopt if some did not end.
template <class EndedFn>
std::optional<SteadyClock::duration> waitAllEnded(const std::vector<int>& fds, SteadyClock::time_point start,
                                                  SteadyClock::duration limit, EndedFn ended) {
  std::vector<bool> done(fds.size(), false);
  std::size_t left = fds.size();
  SteadyClock::duration slowest{};
  std::vector<pollfd> p;
  while (left > 0 && SteadyClock::now() - start < limit) {
    p.clear();
    std::vector<std::size_t> index;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (!done[i]) {
        p.push_back({fds[i], POLLIN, 0});
        index.push_back(i);
      }
    }
    if (::poll(p.data(), p.size(), 50) <= 0) continue;
    for (std::size_t k = 0; k < p.size(); ++k) {
      if ((p[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      if (ended(index[k])) {
        done[index[k]] = true;
        --left;
        slowest = std::max(slowest, SteadyClock::now() - start);
      }
    }
  }
  if (left > 0) return std::nullopt;
  return slowest;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// The legitimate traffic: a sends to b, b receives the push; one round
// trip per ~10 ms. Also samples focald's resident set.
class Legit {
 public:
  Legit(Hub& hub, const TestMember& a, const TestMember& b) : hub_(hub), a_(a), b_(b) {
    client::ConnectOptions o;
    o.timeout = 10s;
    sender_ = hub.connect(a.keys, o);
    receiver_ = hub.connect(b.keys, o);
    receiver_->subscribe();
  }
  // Runs `count` round trips now, returns their latencies (ms).
  std::vector<double> runFor(int count) {
    std::vector<double> out;
    for (int i = 0; i < count; ++i) out.push_back(roundTrip());
    return out;
  }
  void start() {
    thread_ = std::thread([this] {
      while (!stop_) {
        try {
          const double ms = roundTrip();
          std::lock_guard lock(mutex_);
          samples_.push_back(ms);
        } catch (const std::exception& e) {
          std::lock_guard lock(mutex_);
          errors_.push_back(e.what());
        }
        const long rss = statusKiB(hub_.pid(), "VmRSS");
        peakRss_ = std::max(peakRss_.load(), rss);
        std::this_thread::sleep_for(10ms);
      }
    });
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  ~Legit() { stop(); }
  std::vector<double> samples() {
    std::lock_guard lock(mutex_);
    return samples_;
  }
  std::vector<std::string> errors() {
    std::lock_guard lock(mutex_);
    return errors_;
  }
  long peakRss() const { return peakRss_; }

 private:
  double roundTrip() {
    const auto sealed = sealTo(a_.keys, {&b_.keys}, "legit " + std::to_string(n_++));
    const auto t0 = SteadyClock::now();
    sender_->send(sealed);
    for (;;) {
      auto push = receiver_->nextPush(10s);
      if (!push) throw std::runtime_error("no push within 10 s");
      if (push->bulletin.claimedId() && *push->bulletin.claimedId() == sealed.id) break;
    }
    return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
  }

  Hub& hub_;
  const TestMember& a_;
  const TestMember& b_;
  std::unique_ptr<client::Connection> sender_, receiver_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<double> samples_;
  std::vector<std::string> errors_;
  std::atomic<long> peakRss_{0};
  int n_ = 0;
};

}  // namespace

TEST_CASE("Floods and slow peers: the hub stays up, bounded and responsive, and every flood connection ends",
          "[integration][flood]") {
  const bool full = std::getenv("FOCAL_FLOOD_FULL") != nullptr;
  const int tcpFlood = 2000, tlsFlood = 500, bigHeaders = 100;
  const int wrongAuth = full ? 10000 : 1000;

  // fds: 2,000 here and 2,000 in focald (which inherits our limit).
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  const rlim_t want = 3 * tcpFlood;
  if (rl.rlim_cur < want) {
    rl.rlim_cur = std::min<rlim_t>(want, rl.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  INFO("RLIMIT_NOFILE " << rl.rlim_cur);
  REQUIRE(rl.rlim_cur >= static_cast<rlim_t>(tcpFlood + 200));  // else the test cannot be run as specified

  constexpr int HandshakeMs = 1500, UnauthMs = 2000, WriteMs = 2000;
  // The floods here all come from 127.0.0.1, the legitimate members' own
  // address, and test deadlines and per-connection limits; the per-source
  // cap (which would refuse most of them at once) has its own test
  // (source_limits_test.cpp), so it is lifted here.
  Hub hub(HubOptions{{{"handshake_timeout_ms", std::to_string(HandshakeMs)},
                      {"unauthenticated_timeout_ms", std::to_string(UnauthMs)},
                      {"write_timeout_ms", std::to_string(WriteMs)},
                      {"max_unauthenticated_per_source", "1000000"}}});
  auto a = hub.createMember("sg-spf", "SG");
  auto b = hub.createMember("my-pdrm", "MY");
  auto slow = hub.createMember("th-slow", "TH");
  const pid_t pid = hub.pid();

  Legit legit(hub, a, b);
  (void)legit.runFor(20);  // warm up
  const auto unloaded = legit.runFor(200);
  const double p99Unloaded = percentile(unloaded, 0.99);
  const long rssBefore = statusKiB(pid, "VmRSS");
  const std::size_t fdsBefore = openFds(pid);
  // The slow peer authenticates now: the wrong-authentication flood below
  // blocks new authentications from 127.0.0.1 for a minute.
  FaultProxy slowProxy("127.0.0.1", hub.port());
  slowProxy.faults().upstreamRcvBuf = 4096;
  auto slowConn = std::make_unique<client::Connection>();
  slowConn->connect("127.0.0.1", slowProxy.port(), hub.caFile());
  slowConn->authenticate(slow.keys);
  slowConn->subscribe();
  auto slowSender = hub.connect(a.keys);

  legit.start();

  SECTION("all phases") {
    // 1. TCP connections that never start TLS.
    {
      std::vector<int> fds;
      const auto start = SteadyClock::now();
      for (int i = 0; i < tcpFlood; ++i) {
        const int fd = tcpConnect(hub.port());
        if (fd >= 0) fds.push_back(fd);
      }
      CHECK(fds.size() == static_cast<std::size_t>(tcpFlood));
      const auto slowest = waitAllEnded(fds, start, std::chrono::milliseconds(HandshakeMs + DeadlineSlackMs) + 2s,
                                        [&](std::size_t i) { return plainDrainEnded(fds[i]); });
      for (int fd : fds) ::close(fd);
      REQUIRE(slowest.has_value());
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*slowest).count();
      WARN("flood 1: " << fds.size() << " TCP connections without TLS, all closed by the hub, the last after "
                       << ms << " ms (handshake deadline " << HandshakeMs << " ms)");
      CHECK(ms < HandshakeMs + DeadlineSlackMs);
    }
    // 2. TLS done, never authenticated.
    {
      std::vector<std::unique_ptr<RawTls>> conns;
      const auto start = SteadyClock::now();
      for (int i = 0; i < tlsFlood; ++i) {
        auto t = tlsConnect(hub.port());
        if (t) conns.push_back(std::move(t));
      }
      const auto handshakes = SteadyClock::now() - start;
      CHECK(conns.size() == static_cast<std::size_t>(tlsFlood));
      std::vector<int> fds;
      for (auto& c : conns) fds.push_back(c->fd());
      // Each connection's deadline runs from its own accept; the last was
      // accepted at `handshakes`.
      const auto slowest = waitAllEnded(fds, start, handshakes + std::chrono::milliseconds(UnauthMs + DeadlineSlackMs) + 2s,
                                        [&](std::size_t i) { return tlsDrainEnded(*conns[i]); });
      REQUIRE(slowest.has_value());
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*slowest - handshakes).count();
      WARN("flood 2: " << conns.size() << " TLS connections never authenticating ("
                       << std::chrono::duration_cast<std::chrono::milliseconds>(handshakes).count()
                       << " ms of handshakes), all closed; the last " << ms
                       << " ms after the last handshake (deadline " << UnauthMs << " ms)");
      CHECK(ms < UnauthMs + DeadlineSlackMs);
    }
    // 3. A subscriber reading 1 byte per second.
    {
      slowProxy.faults().downBytesPerSecond = 1;
      const auto start = SteadyClock::now();
      const std::string big(100 * 1024, 'p');
      int sent = 0;
      std::optional<SteadyClock::duration> closedAfter;
      std::string closeLine;
      for (int i = 0; i < 200 && !closedAfter; ++i) {
        if (sent < 80) {
          slowSender->send(sealTo(a.keys, {&slow.keys}, "to the slow reader", big));
          ++sent;
        } else {
          std::this_thread::sleep_for(50ms);
        }
        const auto log = slurp(hub.dir() / "focald.err");
        for (const char* marker : {"peer did not read for", "is a slow consumer"}) {
          if (log.find(marker) != std::string::npos) {
            closedAfter = SteadyClock::now() - start;
            closeLine = marker;
          }
        }
      }
      REQUIRE(closedAfter.has_value());
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*closedAfter).count();
      WARN("flood 3: the 1 byte/s reader was closed (\"" << closeLine << "\") " << ms << " ms after " << sent
                                                          << " pushes of 100 KiB began (write deadline " << WriteMs
                                                          << " ms)");
      CHECK(ms < 20000);
      slowConn.reset();
      slowProxy.resetAll();
    }
    // 4. A frame header promising 1 GiB.
    {
      std::vector<std::unique_ptr<RawTls>> conns;
      const auto start = SteadyClock::now();
      const unsigned char header[4] = {0x40, 0x00, 0x00, 0x00};
      for (int i = 0; i < bigHeaders; ++i) {
        auto t = tlsConnect(hub.port());
        if (!t) continue;
        ::fcntl(t->fd(), F_SETFL, ::fcntl(t->fd(), F_GETFL) & ~O_NONBLOCK);
        const bool written = SSL_write(t->ssl(), header, 4) == 4;
        ::fcntl(t->fd(), F_SETFL, ::fcntl(t->fd(), F_GETFL) | O_NONBLOCK);
        if (written) conns.push_back(std::move(t));
      }
      CHECK(conns.size() == static_cast<std::size_t>(bigHeaders));
      std::vector<int> fds;
      for (auto& c : conns) fds.push_back(c->fd());
      const auto slowest =
          waitAllEnded(fds, start, 10s, [&](std::size_t i) { return tlsDrainEnded(*conns[i]); });
      REQUIRE(slowest.has_value());
      // Authenticated, too.
      auto c = hub.connect(a.keys);
      c->sendRawBytes(crypto::Bytes{0x40, 0x00, 0x00, 0x00});
      auto f = c->receiveFrame(5s);
      REQUIRE(f.has_value());
      REQUIRE(f->root().isError());
      CHECK(f->root().getError().getCode() == wire::ErrorCode::FRAME_TOO_LARGE);
      CHECK_THROWS_AS(c->receiveFrame(5s), client::TransportError);
      WARN("flood 4: " << conns.size() << " + 1 frame headers of 1 GiB: all refused and closed within "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(*slowest).count() << " ms");
    }
    // 5. Wrong authentication attempts (a registered id, a key that is not
    //    its key), from two threads.
    {
      std::atomic<int> unauthenticated{0}, rateLimited{0}, other{0};
      std::atomic<long> slowestMs{0};
      const auto start = SteadyClock::now();
      auto attempts = [&](int n, int salt) {
        auto wrong = crypto::MemberKeys::generate("sg-spf", nowMs() + salt);
        client::ConnectOptions o;
        o.timeout = 5s;
        for (int i = 0; i < n; ++i) {
          const auto t0 = SteadyClock::now();
          try {
            client::Connection c(o);
            c.connect(hub.host(), hub.port(), hub.caFile());
            c.authenticate(wrong);
            ++other;  // accepted: must never happen
          } catch (const client::HubError& e) {
            if (e.code() == wire::ErrorCode::UNAUTHENTICATED) {
              ++unauthenticated;
            } else if (e.code() == wire::ErrorCode::RATE_LIMITED) {
              ++rateLimited;
            } else {
              ++other;
            }
          } catch (const std::exception&) {
            ++other;
          }
          const long ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count();
          long prev = slowestMs.load();
          while (ms > prev && !slowestMs.compare_exchange_weak(prev, ms)) {
          }
        }
      };
      std::thread t1(attempts, wrongAuth / 2, 1);
      attempts(wrongAuth - wrongAuth / 2, 2);
      t1.join();
      const auto secs = std::chrono::duration<double>(SteadyClock::now() - start).count();
      WARN("flood 5: " << wrongAuth << " wrong authentications in " << secs << " s: " << unauthenticated
                       << " unauthenticated, " << rateLimited << " rate-limited, " << other
                       << " other; slowest attempt " << slowestMs << " ms");
      CHECK(other == 0);
      CHECK(unauthenticated + rateLimited == wrongAuth);
      CHECK(rateLimited > 0);
      CHECK(slowestMs < 5000);
    }
  }
  legit.stop();
  const auto loaded = legit.samples();
  const auto errors = legit.errors();
  for (const auto& e : errors) WARN("legit client error: " << e);
  CHECK(errors.empty());
  REQUIRE(loaded.size() >= 20);
  const double p99Loaded = percentile(loaded, 0.99);
  const long peak = std::max(legit.peakRss(), statusKiB(pid, "VmHWM"));
  WARN("legit round trip: unloaded p50 " << percentile(unloaded, 0.5) << " ms, p99 " << p99Unloaded
                                         << " ms; under floods p50 " << percentile(loaded, 0.5) << " ms, p99 "
                                         << p99Loaded << " ms, max " << percentile(loaded, 1.0) << " ms over "
                                         << loaded.size() << " round trips");
  WARN("focald memory: RSS " << rssBefore << " KiB before, peak (VmHWM) " << peak << " KiB; bound "
                             << MemoryBoundKiB << " KiB");
  // Starvation, not speed: the two phases run minutes apart on a shared
  // machine whose own load may change in between (a 4x rise in the
  // machine's load once made 49 ms fail a bound of 11 ms), so a ratio alone
  // would test the machine. A flood that starves the member shows as
  // errors above or round trips of seconds; the figures are reported.
  CHECK(p99Loaded < std::max(10 * p99Unloaded, StarvedMs));
  CHECK(peak < MemoryBoundKiB);
  // Every flood connection is gone from focald.
  std::size_t fdsAfter = openFds(pid);
  for (int i = 0; i < 50 && fdsAfter > fdsBefore + 2; ++i) {
    std::this_thread::sleep_for(100ms);
    fdsAfter = openFds(pid);
  }
  INFO("focald fds before " << fdsBefore << ", after " << fdsAfter);
  CHECK(fdsAfter <= fdsBefore + 2);  // + the slow-peer sender and the 1 GiB session's closing leftovers
  CHECK(hub.running());
}

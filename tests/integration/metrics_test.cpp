// The metrics listener of a live hub (server/metrics_http.hpp): /metrics
// moves with a real exchange and passes `promtool check metrics`; /healthz
// and /readyz answer; hostile requests are refused without harm to the hub.
#include "hub_fixture.hpp"

#include "tests/support/deadline.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <regex>

using namespace focal;
using namespace focal::test;
using namespace std::chrono_literals;

namespace {

// A TCP connection to 127.0.0.1:port (a test failure when it cannot be made).
int connectLoopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  timeval tv{10, 0};  // every read in these tests is bounded
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

// Sends `request` as is and reads until the server closes (or 10 s).
std::string httpExchange(std::uint16_t port, const std::string& request) {
  const int fd = connectLoopback(port);
  std::size_t sent = 0;
  while (sent < request.size()) {
    const auto n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early on a request it refuses
    sent += static_cast<std::size_t>(n);
  }
  std::string reply;
  char buf[8192];
  for (;;) {
    const auto n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return reply;
}

struct HttpResult {
  int status = 0;
  std::string body;
};

HttpResult httpGet(std::uint16_t port, const std::string& path, const std::string& method = "GET") {
  const auto raw = httpExchange(port, method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  HttpResult r;
  if (raw.rfind("HTTP/1.1 ", 0) == 0) r.status = std::stoi(raw.substr(9, 3));
  const auto end = raw.find("\r\n\r\n");
  if (end != std::string::npos) r.body = raw.substr(end + 4);
  return r;
}

// The value of one sample line `series` (name and labels exactly as
// exposed); -1 when absent.
double sampleOf(const std::string& exposition, const std::string& series) {
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

}  // namespace

TEST_CASE_METHOD(TwoMembers, "A live hub's metrics move with a real exchange and pass promtool check metrics",
                 "[integration][metrics]") {
  REQUIRE(hub.metricsPort() != 0);
  const auto before = httpGet(hub.metricsPort(), "/metrics");
  REQUIRE(before.status == 200);

  auto sc = hub.connect(a.keys);
  const auto sealed = sealTo(a.keys, {&b.keys}, "counted");
  sc->send(sealed);
  // A refusal with a reason: the same id with other bytes.
  const auto other = sealDraft(draftTo({&b.keys}, "other bytes"), a.keys, crypto::ContentKey::random(), sealed.id);
  CHECK(hubRefusal([&] { sc->send(other); }).code() == wire::ErrorCode::DUPLICATE);
  auto rc = hub.connect(b.keys);
  const auto page = rc->fetch(0);
  REQUIRE(page.items.size() == 1);
  const std::vector<crypto::BulletinId> ids{sealed.id};
  CHECK(rc->ack(ids) == 1);

  // Deliveries are counted when the fetch is served; the rest before each
  // reply: all of it has happened by now.
  const auto after = httpGet(hub.metricsPort(), "/metrics");
  REQUIRE(after.status == 200);
  const auto& m = after.body;
  auto moved = [&](const std::string& series) { return sampleOf(m, series) - sampleOf(before.body, series); };
  CHECK(moved("focal_bulletins_accepted_total") == 1);
  CHECK(moved("focal_bulletins_refused_total{reason=\"duplicate\"}") == 1);
  CHECK(moved("focal_acks_total") == 1);
  CHECK(moved("focal_deliveries_total") == 1);
  CHECK(moved("focal_authentications_total{outcome=\"success\"}") == 2);
  CHECK(moved("focal_commit_group_size_count") >= 2);
  CHECK(sampleOf(m, "focal_sessions_open") == 2);
  CHECK(sampleOf(m, "focal_disk_low_space") == 0);
  CHECK(sampleOf(m, "focal_database_writable") == 1);
  CHECK(sampleOf(m, "focal_up") == 1);
  CHECK(m.find("focal_build_info{version=\"") != std::string::npos);
  CHECK(m.find("focal_commit_seconds_bucket{le=\"+Inf\"}") != std::string::npos);
  CHECK(m.find("focal_write_queue_depth ") != std::string::npos);
  CHECK(m.find("focal_checkpoints_total ") != std::string::npos);
  // Privacy: no member id in any label or value.
  CHECK(m.find(a.id()) == std::string::npos);
  CHECK(m.find(b.id()) == std::string::npos);

  if (skipped("promtool check metrics", ::access("/usr/bin/promtool", X_OK) == 0 ? "" : "promtool is not installed "
                                                                                         "(Debian package prometheus)")) {
    return;
  }
  const auto lint = runProcess({"/usr/bin/promtool", "check", "metrics"}, {}, m);
  INFO(lint.out << lint.err);
  CHECK(lint.exitCode == 0);
}

TEST_CASE_METHOD(OneMember, "The health endpoints answer and the metrics listener refuses what it does not serve",
                 "[integration][metrics]") {
  const auto port = hub.metricsPort();
  REQUIRE(port != 0);
  const auto health = httpGet(port, "/healthz");
  CHECK(health.status == 200);
  CHECK(health.body == "ok\n");
  const auto ready = httpGet(port, "/readyz");
  CHECK(ready.status == 200);
  CHECK(ready.body == "ready\n");
  CHECK(httpGet(port, "/metrics?name[]=x").status == 200);  // a query is ignored
  CHECK(httpGet(port, "/nothing").status == 404);
  CHECK(httpGet(port, "/metrics", "POST").status == 405);

  // SECURITY: a request head over the limit, a body, and garbage are each
  // closed unanswered.
  const std::string huge(64 * 1024, 'a');
  CHECK(httpExchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + huge + "\r\n\r\n").find("200 OK") ==
        std::string::npos);
  CHECK(httpExchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello").find("200 OK") ==
        std::string::npos);
  CHECK(httpExchange(port, "\x16\x03\x01 not http at all\r\n\r\n").find("200") == std::string::npos);

  // More idle connections than the cap: the extra ones are closed at once;
  // once they are gone a scrape is served again.
  std::vector<int> idle;
  for (int i = 0; i < 20; ++i) idle.push_back(connectLoopback(port));
  char byte = 0;
  int closedAtOnce = 0;
  for (int fd : idle) {
    timeval tv{0, 200'000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::read(fd, &byte, 1) == 0) ++closedAtOnce;
  }
  CHECK(closedAtOnce >= 4);
  for (int fd : idle) ::close(fd);
  CHECK(test_support::waitUntil([&] { return httpGet(port, "/healthz").status == 200; }, 10s));
  // The hub itself never noticed.
  auto c = hub.connect(a.keys);
  c->ping();
}

// focald under systemd's Type=notify (packaging/focald.service): the real
// focald sends READY=1 (with a STATUS naming its listener) to NOTIFY_SOCKET
// once it serves, and STOPPING=1 when SIGTERM stops it. The test plays the
// service manager: a datagram socket of its own, named in focald's
// environment. Built only when focald is (FOCAL_SYSTEMD).
#include "hub_fixture.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#ifdef FOCAL_SYSTEMD

using namespace focal::test;

namespace {

// The service manager's end: a bound AF_UNIX datagram socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path) : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(path.string().size() < sizeof(addr.sun_path));
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0);
  }
  ~NotifySocket() { ::close(fd_); }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  // Every datagram received within `timeoutMs` until one contains `want`.
  std::string waitFor(const std::string& want, int timeoutMs) {
    std::string all;
    for (int waited = 0; waited < timeoutMs && all.find(want) == std::string::npos; waited += 100) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) all.append(buf, static_cast<std::size_t>(n)).push_back('\n');
    }
    return all;
  }

 private:
  int fd_;
};

}  // namespace

TEST_CASE("focald tells systemd READY=1 once it serves and STOPPING=1 on SIGTERM", "[integration][packaging]") {
  focal::test_support::TempDir dir;
  const auto path = dir / "notify";
  NotifySocket manager(path);
  // focald inherits the test's environment (hub_fixture spawns it with it).
  REQUIRE(::setenv("NOTIFY_SOCKET", path.c_str(), 1) == 0);
  Hub hub;
  ::unsetenv("NOTIFY_SOCKET");
  const std::string ready = manager.waitFor("READY=1", 30'000);
  CHECK(ready.find("READY=1") != std::string::npos);
  CHECK(ready.find("STATUS=hub ") != std::string::npos);
  CHECK(ready.find(" listening on " + hub.address()) != std::string::npos);
  hub.stop();
  CHECK(manager.waitFor("STOPPING=1", 10'000).find("STOPPING=1") != std::string::npos);
}

#endif

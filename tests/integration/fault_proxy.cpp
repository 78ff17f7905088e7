#include "fault_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace focal::test {

namespace {

constexpr int StepMs = 20;

void setNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

sockaddr_in loopback(const std::string& host, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) throw std::runtime_error("FaultProxy: bad host " + host);
  return a;
}

}  // namespace

struct FaultProxy::Conn {
  int client = -1;
  int target = -1;
  // 0: forwarding, 1: reset requested, 2: half-open requested
  std::atomic<int> action{0};
  std::atomic<std::uint64_t> upBytes{0};
  std::atomic<int> running{2};
  std::thread up, down;
};

FaultProxy::FaultProxy(std::string targetHost, std::uint16_t targetPort)
    : targetHost_(std::move(targetHost)), targetPort_(targetPort) {
  listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listenFd_ < 0) throw std::runtime_error("FaultProxy: socket failed");
  auto a = loopback("127.0.0.1", 0);
  if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listenFd_, 128) != 0) {
    ::close(listenFd_);
    throw std::runtime_error("FaultProxy: bind/listen failed");
  }
  socklen_t len = sizeof a;
  ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptThread_ = std::thread([this] { acceptLoop(); });
}

FaultProxy::~FaultProxy() {
  stop_ = true;
  if (acceptThread_.joinable()) acceptThread_.join();
  ::close(listenFd_);
  reap(true);
}

void FaultProxy::acceptLoop() {
  while (!stop_) {
    pollfd p{listenFd_, POLLIN, 0};
    if (::poll(&p, 1, StepMs) <= 0) {
      reap(false);
      continue;
    }
    const int client = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    const int target = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (const int rcv = faults_.upstreamRcvBuf.load(); rcv > 0) {
      ::setsockopt(target, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    }
    auto a = loopback(targetHost_, targetPort_.load());
    if (target < 0 || ::connect(target, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      if (target >= 0) ::close(target);
      ::close(client);
      continue;
    }
    const int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(target, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setNonBlocking(client);
    setNonBlocking(target);
    auto c = std::make_shared<Conn>();
    c->client = client;
    c->target = target;
    ++accepted_;
    c->up = std::thread([this, c] { pump(c, true); });
    c->down = std::thread([this, c] { pump(c, false); });
    std::lock_guard lock(mutex_);
    conns_.push_back(std::move(c));
  }
}

void FaultProxy::pump(std::shared_ptr<Conn> c, bool up) {
  const int src = up ? c->client : c->target;
  const int dst = up ? c->target : c->client;
  std::vector<char> buf(64 * 1024);
  using Clock = std::chrono::steady_clock;
  auto sleepMs = [&](int ms) {
    const auto until = Clock::now() + std::chrono::milliseconds(ms);
    while (!stop_ && c->action.load() != 1 && Clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(ms, StepMs)));
    }
  };
  // Writes all of [p, p+n) to dst; false when the connection is going away.
  auto writeAll = [&](const char* p, std::size_t n) {
    while (n > 0) {
      if (stop_ || c->action.load() != 0) return false;
      const std::size_t step = faults_.byteByByte ? 1 : n;
      const ssize_t w = ::send(dst, p, step, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
          pollfd q{dst, POLLOUT, 0};
          ::poll(&q, 1, StepMs);
          continue;
        }
        return false;
      }
      p += w;
      n -= static_cast<std::size_t>(w);
      if (faults_.byteByByte && faults_.byteDelayMs > 0 && n > 0) sleepMs(faults_.byteDelayMs);
    }
    return true;
  };

  while (!stop_) {
    const int action = c->action.load();
    if (action == 1) break;
    if (action == 2 && !up) break;  // half-open: the target side is gone
    pollfd p{src, POLLIN, 0};
    if (::poll(&p, 1, StepMs) <= 0) continue;
    std::size_t want = buf.size();
    const int rate = faults_.downBytesPerSecond;
    if (!up && rate > 0) want = std::min<std::size_t>(want, static_cast<std::size_t>(rate));
    const ssize_t n = ::recv(src, buf.data(), want, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
    if (n <= 0) {
      if (c->action.load() == 0) ::shutdown(dst, SHUT_WR);  // pass the FIN on
      break;
    }
    if (c->action.load() == 2 || faults_.blackhole || (!up && faults_.blackholeDown)) continue;  // read and dropped
    std::size_t forward = static_cast<std::size_t>(n);
    bool resetNow = false;
    if (up) {
      const auto limit = faults_.resetAfterUpBytes.load();
      const auto before = c->upBytes.fetch_add(forward);
      if (limit > 0 && before + forward >= limit) {
        forward = before >= limit ? 0 : static_cast<std::size_t>(limit - before);
        resetNow = true;
      }
    }
    if (faults_.latencyMs > 0) sleepMs(faults_.latencyMs);
    if (!writeAll(buf.data(), forward)) break;
    if (resetNow) {
      c->action = 1;
      ++resets_;
      break;
    }
    if (!up && rate > 0) sleepMs(1000);
  }
  // The last pump out closes both sockets (with RST when asked).
  if (--c->running == 0) {
    if (c->action.load() == 1) {
      const linger l{1, 0};
      ::setsockopt(c->client, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      ::setsockopt(c->target, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    ::close(c->client);
    ::close(c->target);
    c->client = c->target = -1;
  } else if (c->action.load() == 2 && !up) {
    // Half-open: the hub sees a FIN; the client sees nothing at all.
    ::shutdown(c->target, SHUT_RDWR);
  }
}

void FaultProxy::reap(bool all) {
  std::vector<std::shared_ptr<Conn>> done;
  {
    std::lock_guard lock(mutex_);
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (all || (*it)->running.load() == 0) {
        done.push_back(std::move(*it));
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : done) {
    if (all && c->action.load() == 0) c->action = 1;
    if (c->up.joinable()) c->up.join();
    if (c->down.joinable()) c->down.join();
  }
}

void FaultProxy::resetAll() {
  std::lock_guard lock(mutex_);
  for (auto& c : conns_) {
    if (c->action.load() == 0) {
      c->action = 1;
      ++resets_;
    }
  }
}

void FaultProxy::halfOpenAll() {
  std::lock_guard lock(mutex_);
  for (auto& c : conns_) {
    int expected = 0;
    c->action.compare_exchange_strong(expected, 2);
  }
}

std::size_t FaultProxy::live() {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (auto& c : conns_) n += c->running.load() > 0 ? 1 : 0;
  return n;
}

}  // namespace focal::test

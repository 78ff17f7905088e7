// A small userspace TCP fault proxy for tests (netem and toxiproxy are not
// available here). It listens on 127.0.0.1 port 0 and forwards every
// connection to a target (the hub), applying faults that can be changed
// while connections are live:
//
//   FaultProxy proxy("127.0.0.1", hub.port());
//   proxy.faults().latencyMs = 20;        // each forwarded chunk waits 20 ms
//   proxy.faults().byteByByte = true;     // one byte per write, both ways
//   proxy.faults().downBytesPerSecond = 1;// a peer that reads 1 byte/s
//   proxy.faults().blackhole = true;      // bytes vanish (dropped packets)
//   proxy.faults().blackholeDown = true;  // requests arrive, replies vanish
//   proxy.resetAll();                     // RST both sides of every connection
//   proxy.halfOpenAll();                  // hub side closed, client never told
//   proxy.faults().resetAfterUpBytes = N; // RST once N client bytes went up
//
// "up" is client -> target, "down" is target -> client. The proxy owns one
// thread per direction per connection (tests use a handful of connections),
// polls in 20 ms steps so faults take effect promptly, and stops every
// thread in its destructor. Loopback only.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace focal::test {

struct Faults {
  std::atomic<int> latencyMs{0};            // delay before each forwarded chunk
  std::atomic<bool> byteByByte{false};      // forward one byte per write
  std::atomic<int> byteDelayMs{0};          // pause between bytes in byteByByte
  std::atomic<int> downBytesPerSecond{0};   // 0 = unlimited; reads from the target paced
  std::atomic<bool> blackhole{false};       // read and discard both ways
  std::atomic<bool> blackholeDown{false};   // read and discard target -> client only (lost replies)
  std::atomic<std::uint64_t> resetAfterUpBytes{0};  // 0 = never; per connection
  std::atomic<int> upstreamRcvBuf{0};       // SO_RCVBUF of new target sockets (0 = default)
};

class FaultProxy {
 public:
  FaultProxy(std::string targetHost, std::uint16_t targetPort);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  std::uint16_t port() const { return port_; }
  Faults& faults() { return faults_; }
  // Point new connections at another target port (a restarted hub).
  void setTargetPort(std::uint16_t port) { targetPort_ = port; }

  // Every live connection: RST to both sides.
  void resetAll();
  // Every live connection: the target side is closed (FIN), the client side
  // stays open and silent; bytes from the client are read and dropped.
  void halfOpenAll();
  std::size_t accepted() const { return accepted_.load(); }
  std::size_t resets() const { return resets_.load(); }
  std::size_t live();

 private:
  struct Conn;
  void acceptLoop();
  void pump(std::shared_ptr<Conn> c, bool up);
  void reap(bool all);

  std::string targetHost_;
  std::atomic<std::uint16_t> targetPort_;
  std::uint16_t port_ = 0;
  int listenFd_ = -1;
  std::atomic<bool> stop_{false};
  Faults faults_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<Conn>> conns_;
  std::atomic<std::size_t> accepted_{0};
  std::atomic<std::size_t> resets_{0};
  std::thread acceptThread_;
};

}  // namespace focal::test

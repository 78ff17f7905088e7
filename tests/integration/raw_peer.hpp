// Hostile-peer helpers for integration tests: TCP and TLS connections made
// with the socket API and OpenSSL directly (no certificate check, any bytes
// on the wire), each bound to a chosen loopback source address, so a test
// can stand for thousands of peers on as many addresses. Every blocking
// call has a timeout (SO_RCVTIMEO / SO_SNDTIMEO): nothing here hangs a test.
#pragma once

#include "crypto/keyfile.hpp"
#include "protocol/message.hpp"

#include <openssl/ssl.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace focal::test {

// Raises this process's soft RLIMIT_NOFILE to the hard limit; returns the
// new soft limit.
std::uint64_t raiseFdLimit();

// focald's resident set (VmRSS, KiB) or -1 when it cannot be read.
long vmRssKiB(pid_t pid);

// The i-th distinct loopback address 127.1.x.y (x, y in 1..250), i < 62,500.
std::string loopbackSource(std::size_t i);

// A TCP socket bound to `source` (port chosen at connect:
// IP_BIND_ADDRESS_NO_PORT) and connected to 127.0.0.1:port; blocking, with
// send/receive timeouts of `timeout`. -1 on failure (errno set).
int tcpConnectFrom(const std::string& source, std::uint16_t port,
                   std::chrono::milliseconds timeout = std::chrono::seconds(30));
// The same, non-blocking: the connect may still be in progress (EINPROGRESS
// is success). -1 on failure.
int tcpConnectFromNonBlocking(const std::string& source, std::uint16_t port);

// One TLS 1.3 connection over a blocking socket.
class RawTlsPeer {
 public:
  // Connects and completes the handshake; nullptr on failure.
  static std::unique_ptr<RawTlsPeer> connect(const std::string& source, std::uint16_t port,
                                             std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~RawTlsPeer();
  RawTlsPeer(const RawTlsPeer&) = delete;
  RawTlsPeer& operator=(const RawTlsPeer&) = delete;

  // Writes every byte; false on failure.
  bool write(crypto::ByteView bytes);
  // Reads one frame (frames over 2 MiB count as failure); nullopt when the
  // connection ended, timed out or the frame does not decode.
  std::optional<protocol::Parsed<wire::ServerFrame>> readFrame();
  // Reads the challenge, answers it as `keys` (a real Authenticate bound to
  // this TLS session) and waits for `authenticated`.
  bool authenticate(const crypto::MemberKeys& keys);
  // True when something can be read within `timeout`.
  bool readable(std::chrono::milliseconds timeout);
  // How a connection ended, as this side saw it.
  enum class Ending { CloseNotify, Eof, Reset, StillOpen };
  // Reads (and discards) until the peer closes or the socket's receive
  // timeout passes.
  Ending waitEnding();
  // True when the peer closed in any way (close_notify, FIN or reset)
  // within the socket's receive timeout.
  bool waitClosed() { return waitEnding() != Ending::StillOpen; }
  int fd() const { return fd_; }

 private:
  RawTlsPeer() = default;
  bool readExact(std::uint8_t* out, std::size_t n);
  int fd_ = -1;
  SSL* ssl_ = nullptr;
};

}  // namespace focal::test

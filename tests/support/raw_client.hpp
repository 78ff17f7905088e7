// One raw client for every test that speaks to a hub below the client
// library (unit, integration, fuzz): TLS 1.3 over a blocking socket with
// OpenSSL directly, and frames as bytes, so a test can send anything a
// hostile peer would. Every blocking call has a timeout (SO_RCVTIMEO /
// SO_SNDTIMEO): nothing here hangs a test. Failures a test must not meet
// (no challenge, a frame the hub must never send) throw std::runtime_error;
// a test framework reports that as a failure, the fuzz harness as a crash.
//
// Also the socket-level hostile-peer helpers: a connection from a chosen
// loopback source address (a test can stand for thousands of peers), the fd
// limit, a process's resident set.
#pragma once

#include "crypto/keyfile.hpp"
#include "protocol/message.hpp"
#include "protocol/log.hpp"
#include "protocol/signing.hpp"

#include <openssl/ssl.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace focal::test_support {

class InProcessHub;

// Raises this process's soft RLIMIT_NOFILE to the hard limit; returns the
// new soft limit.
std::uint64_t raiseFdLimit();

// A process's resident set (VmRSS, KiB) or -1 when it cannot be read.
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

using ServerFrame = protocol::Parsed<wire::ServerFrame>;
using FrameBuilder = std::function<void(wire::ClientFrame::Builder)>;

// "frame kind N", or an error frame's code name and message.
std::string describe(const ServerFrame& f);

// One TLS 1.3 connection to a hub.
class RawClient {
 public:
  // Connects from 127.0.0.1, checks the hub's certificate against `caFile`,
  // completes the handshake and reads the challenge; throws on failure.
  RawClient(std::uint16_t port, const std::filesystem::path& caFile,
            std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // The same for an in-process hub.
  explicit RawClient(const InProcessHub& hub, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // A hostile peer: connects from `source` without checking the certificate
  // and completes the handshake only (the challenge is left unread);
  // nullptr on failure.
  static std::unique_ptr<RawClient> connect(const std::string& source, std::uint16_t port,
                                            std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // Writes every byte; false on failure.
  bool write(crypto::ByteView bytes);
  void writeRaw(crypto::ByteView bytes) { write(bytes); }

  enum class Read { Frame, Closed, TimedOut };
  // The next frame; nullopt when the hub closed the connection or the
  // receive timeout passed (`how` says which). Throws on a frame over
  // protocol::MaxFrameBytes or one that does not decode.
  std::optional<ServerFrame> read(Read* how = nullptr);
  // Lenient, for hostile-peer tests: nullopt on anything but a frame that
  // decodes (frames over 2 MiB count as failure).
  std::optional<ServerFrame> readFrame();

  // Serialises a request with a fresh id and writes it; returns the id, and
  // the exact bytes written in `sent` (to be replayed elsewhere).
  std::uint64_t send(const FrameBuilder& build, crypto::Bytes* sent = nullptr);
  // Sends a request and returns the reply with its id; pushes met on the way
  // are kept in pushes(). Throws when the connection ends first.
  ServerFrame call(const FrameBuilder& build);
  // An admin request carrying a signed log event, as it is.
  ServerFrame admin(const protocol::SignedEvent& ev);
  // The same event signed again by `author` for the place after the hub's
  // current head (log v2, PROTOCOL.md §11.1), as a client library does.
  ServerFrame admin(const protocol::SignedEvent& ev, const crypto::SigningSecretKey& author);

  // Reads the challenge (the constructor does; connect() does not). False
  // when the next frame is not a challenge.
  bool readChallenge();
  // An Authenticate frame signed over this session's challenge and TLS
  // exporter (`bindToChannel` false: another TLS session's value, as a relay
  // would send); returns the bytes written.
  crypto::Bytes sendAuthenticate(const std::string& memberId, const crypto::SigningKeyPair& key,
                                 bool bindToChannel = true);
  // Sends Authenticate and returns the hub's `authenticated` answer; throws
  // on any other answer. `sent`: the exact bytes written.
  ServerFrame authenticated(const std::string& memberId, const crypto::SigningKeyPair& key,
                            crypto::Bytes* sent = nullptr);
  // Reads the challenge when not yet read, authenticates as `keys` and
  // waits for `authenticated`; false otherwise.
  bool authenticate(const crypto::MemberKeys& keys);

  // Reads until the hub closes; the last error frame's code, if any.
  std::optional<wire::ErrorCode> finalError();
  // True when something can be read within `timeout`.
  bool readable(std::chrono::milliseconds timeout);
  // How a connection ended, as this side saw it.
  enum class Ending { CloseNotify, Eof, Reset, StillOpen };
  // Reads (and discards) until the peer closes or the receive timeout passes.
  Ending waitEnding();
  // True when the peer closed in any way within the receive timeout.
  bool waitClosed() { return waitEnding() != Ending::StillOpen; }

  int fd() const { return fd_; }
  SSL* ssl() const { return ssl_; }
  std::vector<ServerFrame>& pushes() { return pushes_; }
  // From the challenge (after readChallenge).
  std::uint32_t challengeVersion() const { return challengeVersion_; }
  const std::string& challengeHubId() const { return challengeHubId_; }
  const crypto::SigningPublicKey& hubKey() const { return hubKey_; }

 private:
  RawClient() = default;
  Read readExact(std::uint8_t* out, std::size_t n);
  // After SSL_read/SSL_write wanted to read or write again: true when the
  // socket timeout did not pass since `since` (the last progress), i.e. a
  // signal cut the call short (a socket with SO_RCVTIMEO is never restarted after a
  // signal, and OpenSSL reports EINTR as "want read"), so call it again.
  bool cutShort(std::chrono::steady_clock::time_point since) const;

  std::chrono::milliseconds timeout_{0};  // SO_RCVTIMEO and SO_SNDTIMEO

  int fd_ = -1;
  SSL_CTX* ownCtx_ = nullptr;  // with the CA to check; the hostile peers share one without
  SSL* ssl_ = nullptr;
  crypto::Challenge nonce_;
  crypto::SigningPublicKey hubKey_;
  std::uint32_t challengeVersion_ = 0;
  std::string challengeHubId_;
  std::uint64_t nextId_ = 1;
  std::vector<ServerFrame> pushes_;
};

}  // namespace focal::test_support

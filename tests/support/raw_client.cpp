// RawClient over a blocking socket and OpenSSL; the loopback-source socket
// helpers the hostile-peer tests use.
#include "tests/support/raw_client.hpp"

#include "tests/support/log_events.hpp"

#include "crypto/primitives.hpp"
#include "tests/support/in_process_hub.hpp"

#include <capnp/message.h>
#include <openssl/err.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <fstream>
#include <limits>
#include <mutex>
#include <stdexcept>

namespace focal::test_support {

namespace {

// SSL_write on a connection the hub closed would raise SIGPIPE, which ends
// the whole test process; the write fails with EPIPE instead.
void ignoreSigpipe() {
  static std::once_flag once;
  std::call_once(once, [] { std::signal(SIGPIPE, SIG_IGN); });
}

SSL_CTX* peerContext() {
  static SSL_CTX* ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    return c;
  }();
  return ctx;
}

int boundSocket(const std::string& source, bool nonBlocking) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonBlocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  const int one = 1;
  // The local port is picked at connect(), per destination, instead of at
  // bind() from one range shared by every destination.
  ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  if (::inet_pton(AF_INET, source.c_str(), &local.sin_addr) != 1 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

sockaddr_in hubAddress(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("raw client: " + what); }

}  // namespace

std::uint64_t raiseFdLimit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  r.rlim_cur = r.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &r);
  ::getrlimit(RLIMIT_NOFILE, &r);
  return r.rlim_cur;
}

long vmRssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

std::string loopbackSource(std::size_t i) {
  return "127.1." + std::to_string(i / 250 + 1) + "." + std::to_string(i % 250 + 1);
}

int tcpConnectFrom(const std::string& source, std::uint16_t port, std::chrono::milliseconds timeout) {
  const int fd = boundSocket(source, false);
  if (fd < 0) return -1;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const auto hub = hubAddress(port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&hub), sizeof hub) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int tcpConnectFromNonBlocking(const std::string& source, std::uint16_t port) {
  const int fd = boundSocket(source, true);
  if (fd < 0) return -1;
  const auto hub = hubAddress(port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&hub), sizeof hub) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string describe(const ServerFrame& f) {
  if (f.root().which() != wire::ServerFrame::ERROR) return "frame kind " + std::to_string(int(f.root().which()));
  return std::string(protocol::errorName(f.root().getError().getCode())) + ": " +
         std::string(protocol::view(f.root().getError().getMessage()));
}

RawClient::RawClient(std::uint16_t port, const std::filesystem::path& caFile, std::chrono::milliseconds timeout)
    : timeout_(timeout) {
  ignoreSigpipe();
  fd_ = tcpConnectFrom("127.0.0.1", port, timeout);
  if (fd_ < 0) fail("cannot connect to port " + std::to_string(port));
  ownCtx_ = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ownCtx_, TLS1_3_VERSION);
  if (SSL_CTX_load_verify_locations(ownCtx_, caFile.c_str(), nullptr) != 1) fail("cannot load " + caFile.string());
  SSL_CTX_set_verify(ownCtx_, SSL_VERIFY_PEER, nullptr);
  ssl_ = SSL_new(ownCtx_);
  SSL_set_fd(ssl_, fd_);
  if (SSL_connect(ssl_) != 1) fail("TLS handshake failed");
  if (!readChallenge()) fail("no challenge from the hub");
}

RawClient::RawClient(const InProcessHub& hub, std::chrono::milliseconds timeout)
    : RawClient(hub.port, hub.init.caFile, timeout) {}

std::unique_ptr<RawClient> RawClient::connect(const std::string& source, std::uint16_t port,
                                              std::chrono::milliseconds timeout) {
  ignoreSigpipe();
  auto p = std::unique_ptr<RawClient>(new RawClient());
  p->timeout_ = timeout;
  p->fd_ = tcpConnectFrom(source, port, timeout);
  if (p->fd_ < 0) return nullptr;
  p->ssl_ = SSL_new(peerContext());
  SSL_set_fd(p->ssl_, p->fd_);
  if (SSL_connect(p->ssl_) != 1) return nullptr;
  return p;
}

RawClient::~RawClient() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (ownCtx_ != nullptr) SSL_CTX_free(ownCtx_);
  if (fd_ >= 0) ::close(fd_);
}

bool RawClient::cutShort(std::chrono::steady_clock::time_point since) const {
  return std::chrono::steady_clock::now() - since < timeout_;
}

bool RawClient::write(crypto::ByteView bytes) {
  std::size_t done = 0;
  auto since = std::chrono::steady_clock::now();  // the last progress
  while (done < bytes.size()) {
    ERR_clear_error();
    const int n = SSL_write(ssl_, bytes.data() + done, static_cast<int>(bytes.size() - done));
    if (n <= 0) {
      if (SSL_get_error(ssl_, n) == SSL_ERROR_WANT_WRITE && cutShort(since)) continue;
      return false;
    }
    done += static_cast<std::size_t>(n);
    since = std::chrono::steady_clock::now();
  }
  return true;
}

RawClient::Read RawClient::readExact(std::uint8_t* out, std::size_t n) {
  std::size_t done = 0;
  auto since = std::chrono::steady_clock::now();  // the last progress
  while (done < n) {
    ERR_clear_error();
    const int r = SSL_read(ssl_, out + done, static_cast<int>(n - done));
    if (r <= 0) {
      if (SSL_get_error(ssl_, r) != SSL_ERROR_WANT_READ) return Read::Closed;
      // libFuzzer's SIGALRM (its -timeout check) once ended a wait here
      // after milliseconds, which read as a hub that never answered.
      if (cutShort(since)) continue;
      return Read::TimedOut;
    }
    done += static_cast<std::size_t>(r);
    since = std::chrono::steady_clock::now();
  }
  return Read::Frame;
}

std::optional<ServerFrame> RawClient::read(Read* how) {
  std::array<std::uint8_t, protocol::FrameHeaderBytes> prefix{};
  Read r = readExact(prefix.data(), prefix.size());
  std::optional<ServerFrame> out;
  if (r == Read::Frame) {
    const std::uint32_t len = (std::uint32_t{prefix[0]} << 24) | (std::uint32_t{prefix[1]} << 16) |
                              (std::uint32_t{prefix[2]} << 8) | prefix[3];
    if (len > protocol::MaxFrameBytes) fail("the hub sent a frame over the protocol limit");
    crypto::Bytes body(len);
    if ((r = readExact(body.data(), len)) == Read::Frame) {
      auto parsed = protocol::decode<wire::ServerFrame>(body);
      if (!parsed.ok()) fail("the hub sent a frame that does not decode");
      out.emplace(std::move(parsed).value());
    }
  }
  if (how != nullptr) *how = r;
  return out;
}

std::optional<ServerFrame> RawClient::readFrame() {
  std::array<std::uint8_t, protocol::FrameHeaderBytes> prefix{};
  if (readExact(prefix.data(), prefix.size()) != Read::Frame) return std::nullopt;
  auto length = protocol::frameLength(prefix, 2 * protocol::MaxFrameBytes);
  if (!length) return std::nullopt;
  crypto::Bytes body(*length);
  if (readExact(body.data(), body.size()) != Read::Frame) return std::nullopt;
  auto parsed = protocol::decode<wire::ServerFrame>(body);
  if (!parsed) return std::nullopt;
  return std::move(parsed).value();
}

std::uint64_t RawClient::send(const FrameBuilder& build, crypto::Bytes* sent) {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ClientFrame>();
  const std::uint64_t id = nextId_++;
  f.setId(id);
  build(f);
  auto bytes = protocol::toFrame(m);
  write(bytes);
  if (sent != nullptr) *sent = std::move(bytes);
  return id;
}

ServerFrame RawClient::call(const FrameBuilder& build) {
  const std::uint64_t id = send(build);
  for (;;) {
    auto f = read();
    if (!f) fail("the connection ended before the answer to request " + std::to_string(id));
    if (f->root().getId() == id) return std::move(*f);
    if (f->root().which() != wire::ServerFrame::PUSH) fail("an unexpected frame: " + describe(*f));
    pushes_.push_back(std::move(*f));
  }
}

ServerFrame RawClient::admin(const protocol::SignedEvent& ev) {
  return call([&](wire::ClientFrame::Builder f) {
    auto a = f.initAdmin();
    a.setEvent(protocol::kjBytes(ev.event));
    a.setSignature(protocol::kjBytes(ev.signature.view()));
  });
}

ServerFrame RawClient::admin(const protocol::SignedEvent& ev, const crypto::SigningSecretKey& author) {
  auto page = call([](wire::ClientFrame::Builder f) {
    auto q = f.initLog();
    q.setFrom(std::numeric_limits<std::uint64_t>::max());
    q.setLimit(1);
  });
  if (!page.root().isLog()) fail("log: " + describe(page));
  auto head = protocol::decode<wire::LogHead>(protocol::view(page.root().getLog().getHead().getHead()));
  if (!head) fail("log: the head does not parse");
  const auto h = head->root();
  const auto root = crypto::Hash256::fromBytes(protocol::view(h.getRootHash()));
  if (!root) fail("log: the head's root hash has the wrong length");
  return admin(test_support::events::positioned(
      ev, protocol::LogPosition{std::string(protocol::view(h.getHubId())), h.getSize(), *root}, author));
}

bool RawClient::readChallenge() {
  auto challenge = readFrame();
  if (!challenge || !challenge->root().isChallenge()) return false;
  const auto c = challenge->root().getChallenge();
  const auto nonce = crypto::Challenge::fromBytes(protocol::view(c.getNonce()));
  const auto hubKey = crypto::SigningPublicKey::fromBytes(protocol::view(c.getHubKey()));
  if (!nonce || !hubKey) return false;
  nonce_ = *nonce;
  hubKey_ = *hubKey;
  challengeVersion_ = c.getVersion();
  challengeHubId_ = std::string(protocol::view(c.getHubId()));
  return true;
}

crypto::Bytes RawClient::sendAuthenticate(const std::string& memberId, const crypto::SigningKeyPair& key,
                                          bool bindToChannel) {
  std::array<std::uint8_t, protocol::context::TlsExporterBytes> exporter{};
  const auto& label = protocol::context::TlsExporterLabel;
  if (SSL_export_keying_material(ssl_, exporter.data(), exporter.size(), label.data(), label.size(), nullptr, 0, 0) !=
      1) {
    fail("TLS exporter failed");
  }
  if (!bindToChannel) exporter[0] ^= 1;
  const auto sig = crypto::sign(protocol::context::Auth, protocol::authMessage(nonce_, exporter, hubKey_, memberId),
                                key.secretKey);
  crypto::Bytes sent;
  send(
      [&](wire::ClientFrame::Builder f) {
        auto a = f.initAuthenticate();
        a.setVersion(wire::PROTOCOL_VERSION);
        a.setMemberId(protocol::asText(memberId));
        a.setIdentityKey(protocol::kjBytes(key.publicKey.view()));
        a.setSignature(protocol::kjBytes(sig.view()));
      },
      &sent);
  return sent;
}

ServerFrame RawClient::authenticated(const std::string& memberId, const crypto::SigningKeyPair& key,
                                     crypto::Bytes* sent) {
  auto bytes = sendAuthenticate(memberId, key);
  auto reply = read();
  if (!reply) fail("the hub closed the connection instead of authenticating " + memberId);
  if (!reply->root().isAuthenticated()) fail("authenticating " + memberId + ": " + describe(*reply));
  if (sent != nullptr) *sent = std::move(bytes);
  return std::move(*reply);
}

bool RawClient::authenticate(const crypto::MemberKeys& keys) {
  if (challengeVersion_ == 0 && !readChallenge()) return false;
  sendAuthenticate(keys.memberId, keys.identity);
  auto reply = readFrame();
  return reply && reply->root().isAuthenticated();
}

std::optional<wire::ErrorCode> RawClient::finalError() {
  std::optional<wire::ErrorCode> last;
  while (auto f = read()) {
    if (f->root().which() == wire::ServerFrame::ERROR) last = f->root().getError().getCode();
  }
  return last;
}

bool RawClient::readable(std::chrono::milliseconds timeout) {
  if (SSL_pending(ssl_) > 0) return true;
  pollfd p{fd_, POLLIN, 0};
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    const int r = ::poll(&p, 1, static_cast<int>(std::max<std::chrono::milliseconds::rep>(left.count(), 0)));
    if (r >= 0 || errno != EINTR) return r > 0;
  }
}

RawClient::Ending RawClient::waitEnding() {
  std::array<std::uint8_t, 4096> scratch{};
  auto since = std::chrono::steady_clock::now();  // the last byte read
  for (;;) {
    ERR_clear_error();
    errno = 0;
    const int r = SSL_read(ssl_, scratch.data(), static_cast<int>(scratch.size()));
    if (r > 0) {
      since = std::chrono::steady_clock::now();
      continue;
    }
    switch (SSL_get_error(ssl_, r)) {
      case SSL_ERROR_ZERO_RETURN: return Ending::CloseNotify;
      case SSL_ERROR_WANT_READ:
        if (cutShort(since)) continue;
        return Ending::StillOpen;  // the receive timeout (SO_RCVTIMEO)
      case SSL_ERROR_SYSCALL: return errno == ECONNRESET ? Ending::Reset : Ending::Eof;
      default:
        // OpenSSL 3 reports a FIN without close_notify as this error.
        if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) return Ending::Eof;
        return errno == ECONNRESET ? Ending::Reset : Ending::Eof;
    }
  }
}

}  // namespace focal::test_support

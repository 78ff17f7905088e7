#include "raw_peer.hpp"

#include "crypto/primitives.hpp"
#include "protocol/signing.hpp"

#include <capnp/message.h>
#include <openssl/err.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <fstream>

namespace focal::test {

namespace {

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

std::unique_ptr<RawTlsPeer> RawTlsPeer::connect(const std::string& source, std::uint16_t port,
                                                std::chrono::milliseconds timeout) {
  auto p = std::unique_ptr<RawTlsPeer>(new RawTlsPeer());
  p->fd_ = tcpConnectFrom(source, port, timeout);
  if (p->fd_ < 0) return nullptr;
  p->ssl_ = SSL_new(peerContext());
  SSL_set_fd(p->ssl_, p->fd_);
  if (SSL_connect(p->ssl_) != 1) return nullptr;
  return p;
}

RawTlsPeer::~RawTlsPeer() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
}

bool RawTlsPeer::write(crypto::ByteView bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const int n = SSL_write(ssl_, bytes.data() + done, static_cast<int>(bytes.size() - done));
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool RawTlsPeer::readExact(std::uint8_t* out, std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    const int r = SSL_read(ssl_, out + done, static_cast<int>(n - done));
    if (r <= 0) return false;
    done += static_cast<std::size_t>(r);
  }
  return true;
}

std::optional<protocol::Parsed<wire::ServerFrame>> RawTlsPeer::readFrame() {
  std::array<std::uint8_t, protocol::FrameHeaderBytes> prefix{};
  if (!readExact(prefix.data(), prefix.size())) return std::nullopt;
  auto length = protocol::frameLength(prefix, 2 * protocol::MaxFrameBytes);
  if (!length) return std::nullopt;
  crypto::Bytes body(*length);
  if (!readExact(body.data(), body.size())) return std::nullopt;
  auto parsed = protocol::decode<wire::ServerFrame>(body);
  if (!parsed) return std::nullopt;
  return std::move(parsed).value();
}

bool RawTlsPeer::authenticate(const crypto::MemberKeys& keys) {
  auto challenge = readFrame();
  if (!challenge || !challenge->root().isChallenge()) return false;
  const auto ch = challenge->root().getChallenge();
  const auto nonce = crypto::Challenge::fromBytes(protocol::view(ch.getNonce()));
  const auto hubKey = crypto::SigningPublicKey::fromBytes(protocol::view(ch.getHubKey()));
  if (!nonce || !hubKey) return false;
  std::array<std::uint8_t, protocol::context::TlsExporterBytes> exporter{};
  const auto& label = protocol::context::TlsExporterLabel;
  if (SSL_export_keying_material(ssl_, exporter.data(), exporter.size(), label.data(), label.size(), nullptr, 0, 0) !=
      1) {
    return false;
  }
  const auto message = protocol::authMessage(*nonce, exporter, *hubKey, keys.memberId);
  const auto sig = crypto::sign(protocol::context::Auth, message, keys.identity.secretKey);
  capnp::MallocMessageBuilder mb;
  auto f = mb.initRoot<wire::ClientFrame>();
  f.setId(1);
  auto a = f.initAuthenticate();
  a.setVersion(wire::PROTOCOL_VERSION);
  a.setMemberId(capnp::Text::Reader(keys.memberId.data(), keys.memberId.size()));
  a.setIdentityKey(protocol::kjBytes(keys.identity.publicKey.view()));
  a.setSignature(protocol::kjBytes(sig.view()));
  if (!write(protocol::toFrame(mb))) return false;
  auto reply = readFrame();
  return reply && reply->root().isAuthenticated();
}

bool RawTlsPeer::readable(std::chrono::milliseconds timeout) {
  if (SSL_pending(ssl_) > 0) return true;
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

RawTlsPeer::Ending RawTlsPeer::waitEnding() {
  std::array<std::uint8_t, 4096> scratch{};
  for (;;) {
    ERR_clear_error();
    errno = 0;
    const int r = SSL_read(ssl_, scratch.data(), static_cast<int>(scratch.size()));
    if (r > 0) continue;
    switch (SSL_get_error(ssl_, r)) {
      case SSL_ERROR_ZERO_RETURN: return Ending::CloseNotify;
      case SSL_ERROR_WANT_READ: return Ending::StillOpen;  // the receive timeout (SO_RCVTIMEO)
      case SSL_ERROR_SYSCALL: return errno == ECONNRESET ? Ending::Reset : Ending::Eof;
      default:
        // OpenSSL 3 reports a FIN without close_notify as this error.
        if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) return Ending::Eof;
        return errno == ECONNRESET ? Ending::Reset : Ending::Eof;
    }
  }
}

}  // namespace focal::test

// The key agent process: socket, serving loop, start in the background
// (client/key_agent.hpp).
#include "client/key_agent.hpp"

#include "client/agent_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace focal::client::agent {

namespace {

// A peer gets this long to send its request and take the answer: a
// same-uid process that trickles bytes holds the agent no longer.
constexpr int PeerTimeoutSeconds = 2;

std::int64_t bootMs() {
  timespec ts{};
  ::clock_gettime(CLOCK_BOOTTIME, &ts);  // counts suspended time: a laptop asleep overnight is locked on waking
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

std::int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

bool sendFrame(int fd, const crypto::Bytes& body) {
  crypto::Bytes frame(4 + body.size());
  for (int i = 0; i < 4; ++i) frame[i] = static_cast<std::uint8_t>(body.size() >> (24 - 8 * i));
  std::copy(body.begin(), body.end(), frame.begin() + 4);
  const bool sent = sendAll(fd, frame.data(), frame.size());
  sodium_memzero(frame.data(), frame.size());
  return sent;
}

crypto::Bytes statusFrame(Status s) { return crypto::Bytes{static_cast<std::uint8_t>(s)}; }

// One connection: its uid checked, one request read (bounded in size and
// time), answered. Returns what the request asked of the agent.
Handled serveConnection(int fd, const crypto::LocalKeyOps& keys, const AgentInfo& info) {
  Handled none;
  timeval tv{PeerTimeoutSeconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || !peerAllowed(cred.uid, ::geteuid())) {
    sendFrame(fd, statusFrame(Status::Refused));
    return none;
  }
  std::uint8_t head[4];
  if (!recvAll(fd, head, 4)) return none;
  std::size_t n = 0;
  for (auto b : head) n = (n << 8) | b;
  if (n > MaxAgentFrameBytes) {
    sendFrame(fd, statusFrame(Status::TooLarge));
    return none;
  }
  crypto::Bytes body(n);
  if (!recvAll(fd, body.data(), n)) return none;
  Handled h = handleRequest(body, keys, info);
  sendFrame(fd, h.response);
  sodium_memzero(h.response.data(), h.response.size());
  return h;
}

// The value of FOCAL_PASSPHRASE, when the user unlocked with it, is
// overwritten in the agent's copy of the environment.
void wipePassphraseEnv() {
  constexpr std::string_view Name = "FOCAL_PASSPHRASE=";
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::string_view(*e).starts_with(Name)) sodium_memzero(*e + Name.size(), std::strlen(*e + Name.size()));
  }
  ::unsetenv("FOCAL_PASSPHRASE");
}

void detachStdio(int keepFd) {
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
    if (null > 2) ::close(null);
  }
  // Nothing of the command's (pipes, the hub connection) stays open in it.
  if (keepFd > 3) ::close_range(3, static_cast<unsigned>(keepFd - 1), 0);
  ::close_range(static_cast<unsigned>(keepFd + 1), ~0U, 0);
}

[[noreturn]] void runAgent(crypto::MemberKeys keys, int listenFd, const std::filesystem::path& socket, AgentInfo info,
                           const AgentTimes& times) {
  int rc = 0;
  try {
    ::setsid();
    detachStdio(listenFd);
    crypto::disableCoreDumps();
    crypto::relockSecretMemory();  // best effort, as sodium_malloc's own lock
    wipePassphraseEnv();
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
    const int sfd = ::signalfd(-1, &set, SFD_CLOEXEC);
    if (sfd < 0) fail("signalfd");
    info.pid = static_cast<std::uint32_t>(::getpid());
    std::optional<crypto::LocalKeyOps> ops(std::in_place, std::move(keys));
    serve(listenFd, sfd, socket, *ops, info, times);
    ops.reset();  // wiped (Secret slots are zeroed on release)
  } catch (const std::exception&) {
    rc = 1;
  }
  ::_exit(rc);  // never back into the command that forked it
}

}  // namespace

const char* describe(StopReason r) {
  switch (r) {
    case StopReason::Locked: return "locked";
    case StopReason::Lifetime: return "lifetime over";
    case StopReason::Idle: return "idle timeout";
    case StopReason::Signal: return "signal";
  }
  return "stopped";
}

void prepareSocketDir(const std::filesystem::path& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) fail("cannot create " + dir.string());
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) fail("cannot inspect " + dir.string());
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) {
    throw std::runtime_error(dir.string() + " is not a directory of this user: the key agent's socket does not go there");
  }
  if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), 0700) != 0) fail("cannot make " + dir.string() + " private");
}

int listenAt(const std::filesystem::path& socket) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = socket.string();
  if (path.size() >= sizeof addr.sun_path) {
    throw std::runtime_error("the key agent's socket path is too long (" + path + "): set XDG_RUNTIME_DIR");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) throw std::runtime_error(path + " exists and is not a socket");
    ::unlink(path.c_str());  // stale: the caller found no agent answering there
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  const mode_t old = ::umask(0177);  // the socket is born 0600
  const int bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (bound != 0 || ::chmod(path.c_str(), 0600) != 0 || ::listen(fd, 16) != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    fail("cannot listen at " + path);
  }
  return fd;
}

StopReason serve(int listenFd, int signalFd, const std::filesystem::path& socket, const crypto::LocalKeyOps& keys,
                 AgentInfo& info, const AgentTimes& times) {
  struct stat own {};
  ::lstat(socket.c_str(), &own);
  const std::int64_t endAt = bootMs() + times.lifetime.count();
  std::int64_t idleAt = bootMs() + times.idle.count();
  StopReason reason = StopReason::Signal;
  for (;;) {
    const std::int64_t now = bootMs();
    if (now >= endAt) {
      reason = StopReason::Lifetime;
      break;
    }
    if (now >= idleAt) {
      reason = StopReason::Idle;
      break;
    }
    info.idleExpiresAtMs = std::min(info.expiresAtMs, wallMs() + (idleAt - now));
    pollfd fds[2] = {{listenFd, POLLIN, 0}, {signalFd, POLLIN, 0}};
    const auto wait = std::min<std::int64_t>(std::min(endAt, idleAt) - now, 60'000);
    if (::poll(fds, 2, static_cast<int>(wait)) < 0 && errno != EINTR) break;
    if ((fds[1].revents & POLLIN) != 0) break;  // SIGTERM, SIGINT or SIGHUP
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int fd = ::accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    const Handled h = serveConnection(fd, keys, info);
    ::close(fd);
    if (h.used) idleAt = bootMs() + times.idle.count();
    if (h.lock) {
      reason = StopReason::Locked;
      break;
    }
  }
  ::close(listenFd);
  // Only our own socket: a newer agent may already listen at that path.
  struct stat now {};
  if (::lstat(socket.c_str(), &now) == 0 && now.st_ino == own.st_ino && now.st_dev == own.st_dev) {
    ::unlink(socket.c_str());
  }
  return reason;
}

pid_t startAgent(crypto::MemberKeys keys, const std::filesystem::path& socket, const std::string& keyFile,
                 const AgentTimes& times) {
  prepareSocketDir(socket.parent_path());
  // One agent per socket: an older one for the same file is told to go,
  // and its socket is gone before ours is bound.
  if (lockAgent(socket)) {
    for (int i = 0; i < 100 && describeAgent(socket); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  AgentInfo info;
  info.memberId = keys.memberId;
  info.createdAtMs = keys.createdAtMs;
  info.identity = keys.identity.publicKey;
  info.encryption = keys.encryption.publicKey;
  for (const auto& p : keys.previousEncryption) info.previousEncryption.push_back(p.publicKey);
  info.keyFile = keyFile;
  if (auto stamp = stampOf(keyFile)) info.stamp = *stamp;
  info.expiresAtMs = wallMs() + times.lifetime.count();
  info.idleTimeoutMs = times.idle.count();
  info.idleExpiresAtMs = std::min(info.expiresAtMs, wallMs() + times.idle.count());
  const int fd = listenAt(socket);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    fail("fork");
  }
  if (pid == 0) runAgent(std::move(keys), fd, socket, std::move(info), times);
  ::close(fd);
  return pid;
}

}  // namespace focal::client::agent

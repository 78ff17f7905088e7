// A command's side of the key agent: connect, one framed request, one
// framed response (client/agent_client.hpp).
#include "client/agent_client.hpp"

#include "crypto/secure_file.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace focal::client::agent {

namespace {

// How long a command waits for the agent's answer (it answers in
// microseconds; a hung agent must not hang the command).
constexpr int AnswerTimeoutSeconds = 10;

// A socket file that refuses connections is an agent that died: removed
// when it is a socket of ours (never anything else at that path).
void removeStale(const std::filesystem::path& socket) {
  struct stat st {};
  if (::lstat(socket.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_uid == ::geteuid()) ::unlink(socket.c_str());
}

int connectTo(const std::filesystem::path& socket) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = socket.string();
  if (path.size() >= sizeof addr.sun_path) return -1;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == ECONNREFUSED) removeStale(socket);
    return -1;
  }
  timeval tv{AnswerTimeoutSeconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

}  // namespace

std::optional<crypto::Bytes> call(const std::filesystem::path& socket, crypto::ByteView request) {
  if (request.size() > MaxAgentFrameBytes) throw AgentError("a request too large for the key agent");
  crypto::UniqueFd fd(connectTo(socket));
  if (fd.get() < 0) return std::nullopt;
  std::uint8_t len[4];
  for (int i = 0; i < 4; ++i) len[i] = static_cast<std::uint8_t>(request.size() >> (24 - 8 * i));
  if (!sendAll(fd.get(), len, 4) || !sendAll(fd.get(), request.data(), request.size()) || !recvAll(fd.get(), len, 4)) {
    throw AgentError("the key agent at " + socket.string() + " stopped answering (locked or expired?)");
  }
  std::size_t n = 0;
  for (auto b : len) n = (n << 8) | b;
  if (n == 0 || n > MaxAgentFrameBytes) throw AgentError("the key agent sent a malformed answer");
  crypto::Bytes body(n);
  if (!recvAll(fd.get(), body.data(), n)) throw AgentError("the key agent's answer was cut short");
  return body;
}

std::optional<AgentInfo> describeAgent(const std::filesystem::path& socket) {
  std::optional<crypto::Bytes> r;
  try {
    r = call(socket, simpleRequest(Op::Describe));
  } catch (const AgentError&) {
    return std::nullopt;  // it went away while asked: as good as none
  }
  if (!r || r->empty() || (*r)[0] != static_cast<std::uint8_t>(Status::Ok)) return std::nullopt;
  return decodeInfo(crypto::ByteView(*r).subspan(1));
}

bool lockAgent(const std::filesystem::path& socket) {
  std::optional<crypto::Bytes> r;
  try {
    r = call(socket, simpleRequest(Op::Lock));
  } catch (const AgentError&) {
    return true;  // it closed on us: it is going away
  }
  return r.has_value();
}

crypto::Bytes AgentKeyOps::request(crypto::ByteView body) const {
  auto r = call(socket_, body);
  if (!r) throw AgentError("the key agent for this key file is gone (focal lock, or its time ran out): run the command again, or focal unlock");
  return std::move(*r);
}

crypto::Signature AgentKeyOps::sign(std::string_view context, crypto::ByteView message) const {
  if (context.find('\0') != std::string_view::npos) throw std::invalid_argument("signing context contains NUL");
  const auto r = request(signRequest(context, message));
  const auto status = static_cast<Status>(r[0]);
  if (status != Status::Ok) throw AgentError(std::string("key agent: ") + describe(status));
  auto sig = crypto::Signature::fromBytes(crypto::ByteView(r).subspan(1));
  if (!sig) throw AgentError("the key agent sent a malformed signature");
  return *sig;
}

Expected<crypto::SealOpened, crypto::CryptoError> AgentKeyOps::openSealed(crypto::ByteView sealed,
                                                                          const crypto::BoxPublicKey* to) const {
  auto r = request(openRequest(sealed, to));
  const auto status = static_cast<Status>(r[0]);
  if (status == Status::DecryptFailed) return unexpected(crypto::CryptoError::DecryptFailed);
  if (status == Status::BadLength) return unexpected(crypto::CryptoError::BadLength);
  if (status != Status::Ok || r.size() < 1 + crypto::BoxPublicKey::size) {
    sodium_memzero(r.data(), r.size());
    throw AgentError(std::string("key agent: ") + describe(status));
  }
  crypto::SealOpened out{crypto::Bytes(r.begin() + 1 + crypto::BoxPublicKey::size, r.end()),
                         *crypto::BoxPublicKey::fromBytes(crypto::ByteView(r).subspan(1, crypto::BoxPublicKey::size))};
  sodium_memzero(r.data(), r.size());
  return out;
}

Expected<crypto::ArchiveKeyDerived, crypto::CryptoError> AgentKeyOps::archiveKey(const crypto::BoxPublicKey* of) const {
  auto r = request(archiveKeyRequest(of));
  const auto status = static_cast<Status>(r[0]);
  if (status == Status::DecryptFailed) return unexpected(crypto::CryptoError::DecryptFailed);
  constexpr std::size_t Size = 1 + crypto::BoxPublicKey::size + crypto::ArchiveKey::size;
  if (status != Status::Ok || r.size() != Size) {
    sodium_memzero(r.data(), r.size());
    throw AgentError(std::string("key agent: ") + describe(status));
  }
  const crypto::ByteView v(r);
  crypto::ArchiveKeyDerived out{*crypto::ArchiveKey::fromBytes(v.subspan(1 + crypto::BoxPublicKey::size)),
                                *crypto::BoxPublicKey::fromBytes(v.subspan(1, crypto::BoxPublicKey::size))};
  sodium_memzero(r.data(), r.size());
  return out;
}

std::optional<crypto::Keyring> agentKeyring(const std::filesystem::path& socket, const std::string& keyFile,
                                            std::string* staleReason) {
  auto info = describeAgent(socket);
  if (!info) return std::nullopt;
  const auto stamp = stampOf(keyFile);
  if (info->keyFile != keyFile || !stamp || !(*stamp == info->stamp)) {
    if (staleReason != nullptr) {
      *staleReason = "the key agent holds the keys " + keyFile +
                     " had when it was unlocked; the file changed since (focal lock, then focal unlock)";
    }
    return std::nullopt;
  }
  return crypto::Keyring(std::move(info->memberId), info->identity, info->encryption,
                         std::move(info->previousEncryption), info->createdAtMs,
                         std::make_shared<const AgentKeyOps>(socket));
}

}  // namespace focal::client::agent

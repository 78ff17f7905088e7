// The key agent's wire format and its answer to one request
// (client/agent_protocol.hpp).
#include "client/agent_protocol.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace focal::client::agent {

namespace {

using crypto::ByteView;
using crypto::Bytes;

void putU16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void putU64(Bytes& b, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void putBytes(Bytes& b, ByteView v) { b.insert(b.end(), v.begin(), v.end()); }
void putText(Bytes& b, std::string_view s) {
  putU16(b, static_cast<std::uint16_t>(s.size()));
  putBytes(b, crypto::asBytes(s));
}

// Bounds-checked reading of untrusted bytes: every read says whether it fit.
class Cursor {
 public:
  explicit Cursor(ByteView b) : b_(b) {}
  bool u8(std::uint8_t& v) {
    if (left() < 1) return false;
    v = b_[pos_++];
    return true;
  }
  bool u16(std::uint16_t& v) {
    if (left() < 2) return false;
    v = static_cast<std::uint16_t>((b_[pos_] << 8) | b_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool u64(std::uint64_t& v) {
    if (left() < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | b_[pos_ + i];
    pos_ += 8;
    return true;
  }
  bool i64(std::int64_t& v) {
    std::uint64_t u = 0;
    if (!u64(u)) return false;
    v = static_cast<std::int64_t>(u);
    return true;
  }
  bool take(std::size_t n, ByteView& out) {
    if (left() < n) return false;
    out = b_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  bool text(std::string& out) {
    std::uint16_t n = 0;
    ByteView v;
    if (!u16(n) || !take(n, v)) return false;
    out.assign(reinterpret_cast<const char*>(v.data()), v.size());
    return true;
  }
  template <class Fixed>
  bool fixed(Fixed& out) {
    ByteView v;
    if (!take(Fixed::size, v)) return false;
    out = *Fixed::fromBytes(v);
    return true;
  }
  ByteView rest() {
    auto r = b_.subspan(pos_);
    pos_ = b_.size();
    return r;
  }
  std::size_t left() const { return b_.size() - pos_; }

 private:
  ByteView b_;
  std::size_t pos_ = 0;
};

Bytes statusOnly(Status s) { return Bytes{static_cast<std::uint8_t>(s)}; }

Bytes answerSign(Cursor& c, const crypto::LocalKeyOps& keys) {
  std::string context;
  if (!c.text(context) || context.find('\0') != std::string::npos) return statusOnly(Status::Malformed);
  const auto sig = keys.sign(context, c.rest());
  Bytes out = statusOnly(Status::Ok);
  putBytes(out, sig.view());
  return out;
}

Bytes answerOpen(Cursor& c, const crypto::LocalKeyOps& keys) {
  std::uint8_t named = 0;
  crypto::BoxPublicKey to;
  if (!c.u8(named) || named > 1 || (named == 1 && !c.fixed(to))) return statusOnly(Status::Malformed);
  auto opened = keys.openSealed(c.rest(), named == 1 ? &to : nullptr);
  if (!opened) {
    return statusOnly(opened.error() == crypto::CryptoError::BadLength ? Status::BadLength : Status::DecryptFailed);
  }
  Bytes out = statusOnly(Status::Ok);
  putBytes(out, opened->openedWith.view());
  putBytes(out, opened->plaintext);
  sodium_memzero(opened->plaintext.data(), opened->plaintext.size());
  return out;
}

Bytes answerArchiveKey(Cursor& c, const crypto::LocalKeyOps& keys) {
  std::uint8_t named = 0;
  crypto::BoxPublicKey of;
  if (!c.u8(named) || named > 1 || (named == 1 && !c.fixed(of)) || c.left() != 0) return statusOnly(Status::Malformed);
  auto derived = keys.archiveKey(named == 1 ? &of : nullptr);
  if (!derived) return statusOnly(Status::DecryptFailed);
  Bytes out = statusOnly(Status::Ok);
  putBytes(out, derived->of.view());
  putBytes(out, derived->key.view());
  return out;
}

}  // namespace

const char* describe(Status s) {
  // Indexed by the status byte (Ok .. Refused).
  static constexpr const char* Text[] = {
      "ok",
      "the agent found the request malformed",
      "the request is larger than the agent accepts",
      "the agent does not know this request",
      "the agent speaks another version of its protocol",
      "the sealed box does not open with this member's keys",
      "the sealed box is too short",
      "the agent refuses connections from other users",
  };
  const auto i = static_cast<std::size_t>(s);
  return i < std::size(Text) ? Text[i] : "unknown agent status";
}

std::optional<KeyFileStamp> stampOf(const std::filesystem::path& keyFile) {
  struct stat st {};
  if (::stat(keyFile.c_str(), &st) != 0) return std::nullopt;
  return KeyFileStamp{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                      static_cast<std::int64_t>(st.st_size),
                      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

Bytes encodeInfo(const AgentInfo& i) {
  Bytes b;
  putText(b, i.memberId);
  putU64(b, static_cast<std::uint64_t>(i.createdAtMs));
  putBytes(b, i.identity.view());
  putBytes(b, i.encryption.view());
  putU16(b, static_cast<std::uint16_t>(i.previousEncryption.size()));
  for (const auto& p : i.previousEncryption) putBytes(b, p.view());
  putText(b, i.keyFile);
  putU64(b, i.stamp.device);
  putU64(b, i.stamp.inode);
  putU64(b, static_cast<std::uint64_t>(i.stamp.size));
  putU64(b, static_cast<std::uint64_t>(i.stamp.mtimeNs));
  putU64(b, static_cast<std::uint64_t>(i.expiresAtMs));
  putU64(b, static_cast<std::uint64_t>(i.idleTimeoutMs));
  putU64(b, static_cast<std::uint64_t>(i.idleExpiresAtMs));
  putU64(b, i.pid);
  return b;
}

std::optional<AgentInfo> decodeInfo(ByteView payload) {
  Cursor c(payload);
  AgentInfo i;
  std::uint16_t n = 0;
  std::uint64_t pid = 0;
  if (!c.text(i.memberId) || !c.i64(i.createdAtMs) || !c.fixed(i.identity) || !c.fixed(i.encryption) || !c.u16(n)) {
    return std::nullopt;
  }
  i.previousEncryption.resize(n);
  for (auto& p : i.previousEncryption) {
    if (!c.fixed(p)) return std::nullopt;
  }
  if (!c.text(i.keyFile) || !c.u64(i.stamp.device) || !c.u64(i.stamp.inode) || !c.i64(i.stamp.size) ||
      !c.i64(i.stamp.mtimeNs) || !c.i64(i.expiresAtMs) || !c.i64(i.idleTimeoutMs) || !c.i64(i.idleExpiresAtMs) ||
      !c.u64(pid) || c.left() != 0) {
    return std::nullopt;
  }
  i.pid = static_cast<std::uint32_t>(pid);
  return i;
}

Bytes signRequest(std::string_view context, ByteView message) {
  Bytes b{WireVersion, static_cast<std::uint8_t>(Op::Sign)};
  putText(b, context);
  putBytes(b, message);
  return b;
}

Bytes openRequest(ByteView sealed, const crypto::BoxPublicKey* to) {
  Bytes b{WireVersion, static_cast<std::uint8_t>(Op::OpenSealed), static_cast<std::uint8_t>(to != nullptr ? 1 : 0)};
  if (to != nullptr) putBytes(b, to->view());
  putBytes(b, sealed);
  return b;
}

Bytes archiveKeyRequest(const crypto::BoxPublicKey* of) {
  Bytes b{WireVersion, static_cast<std::uint8_t>(Op::ArchiveKey), static_cast<std::uint8_t>(of != nullptr ? 1 : 0)};
  if (of != nullptr) putBytes(b, of->view());
  return b;
}

Bytes simpleRequest(Op op) { return Bytes{WireVersion, static_cast<std::uint8_t>(op)}; }

Handled handleRequest(ByteView body, const crypto::LocalKeyOps& keys, const AgentInfo& info) {
  Handled h;
  Cursor c(body);
  std::uint8_t version = 0, op = 0;
  if (!c.u8(version) || !c.u8(op)) {
    h.response = statusOnly(Status::Malformed);
    return h;
  }
  if (version != WireVersion) {
    h.response = statusOnly(Status::BadVersion);
    return h;
  }
  switch (static_cast<Op>(op)) {
    case Op::Describe:
      h.response = statusOnly(c.left() == 0 ? Status::Ok : Status::Malformed);
      if (c.left() == 0) putBytes(h.response, encodeInfo(info));
      return h;
    case Op::Sign:
      h.response = answerSign(c, keys);
      h.used = true;
      return h;
    case Op::OpenSealed:
      h.response = answerOpen(c, keys);
      h.used = true;
      return h;
    case Op::ArchiveKey:
      h.response = answerArchiveKey(c, keys);
      h.used = true;
      return h;
    case Op::Lock:
      h.lock = c.left() == 0;
      h.response = statusOnly(h.lock ? Status::Ok : Status::Malformed);
      return h;
  }
  h.response = statusOnly(Status::UnknownOp);
  return h;
}

bool recvAll(int fd, std::uint8_t* p, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::recv(fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

bool sendAll(int fd, const std::uint8_t* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool peerAllowed(uid_t peer, uid_t self) { return peer == self; }

std::filesystem::path socketPath(const std::filesystem::path& profileDir, const std::string& keyFile) {
  std::error_code ec;
  auto profile = std::filesystem::absolute(profileDir, ec).lexically_normal().string();
  if (ec) profile = profileDir.string();
  Bytes input = Bytes(profile.begin(), profile.end());
  input.push_back(0);
  input.insert(input.end(), keyFile.begin(), keyFile.end());
  const auto h = crypto::hash256("focal/v1/agent-socket", input);
  const std::string name = "agent-" + crypto::toHex(h.view()).substr(0, 16) + ".sock";
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  if (runtime != nullptr && runtime[0] == '/') return std::filesystem::path(runtime) / "focal" / name;
  return std::filesystem::path(profile) / "agent" / name;
}

}  // namespace focal::client::agent

// The key agent (`focal unlock`): its wire between a command and the agent,
// where its socket lives, and the agent's answer to one request. The agent
// holds one key file's secret keys and performs the private-key operations
// itself (sign, open sealed boxes); the keys never leave it. SECURITY.md §6.
//
// Wire (fixed binary, big-endian), one request per connection:
//   frame    = u32 n | n bytes            (n <= MaxAgentFrameBytes)
//   request  = u8 version (1) | u8 op | payload
//   response = u8 status | payload        (payload only with status Ok)
//   Describe   ()                          -> AgentInfo (encodeInfo)
//   Sign       u16 len | context | message -> signature (64)
//   OpenSealed u8 named | [key (32)] | box -> key that opened (32) | plaintext
//   Lock       ()                          -> ()  and the agent wipes and exits
//   ArchiveKey u8 named | [key (32)]       -> key it came from (32) | archive key (32)
//     the purpose-bound key of the member's local archive (crypto::
//     deriveArchiveKey over "focal/v1/archive-key" and the agent's member
//     id), from the named encryption key or the current one; never the
//     secret key itself, and no other derivation can be asked for.
// Every request is treated as hostile: bounded, parsed with checks, and
// answered with a typed status, never by a crash.
#pragma once

#include "crypto/key_ops.hpp"
#include "protocol/limits.hpp"

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

namespace focal::client::agent {

inline constexpr std::uint8_t WireVersion = 1;
// A signed record or header never exceeds one hub frame.
inline constexpr std::size_t MaxAgentFrameBytes = protocol::MaxFrameBytes + 4096;

enum class Op : std::uint8_t { Describe = 1, Sign = 2, OpenSealed = 3, Lock = 4, ArchiveKey = 5 };
enum class Status : std::uint8_t {
  Ok = 0,
  Malformed = 1,      // a field is missing, too long or left over
  TooLarge = 2,       // the frame is over MaxAgentFrameBytes
  UnknownOp = 3,
  BadVersion = 4,
  DecryptFailed = 5,  // the box did not open with the key(s) asked for
  BadLength = 6,      // the box is shorter than its overhead
  Refused = 7,        // the peer is another user
};
const char* describe(Status s);

// Identifies the key file the agent read, so a command notices that the file
// was replaced since (rotate-key writes a new one): the agent is then ignored.
struct KeyFileStamp {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::int64_t size = 0;
  std::int64_t mtimeNs = 0;
  bool operator==(const KeyFileStamp&) const = default;
};
std::optional<KeyFileStamp> stampOf(const std::filesystem::path& keyFile);

struct AgentInfo {
  std::string memberId;
  std::int64_t createdAtMs = 0;
  crypto::SigningPublicKey identity;
  crypto::BoxPublicKey encryption;
  std::vector<crypto::BoxPublicKey> previousEncryption;  // newest first
  std::string keyFile;        // absolute path
  KeyFileStamp stamp;
  std::int64_t expiresAtMs = 0;      // unix ms: the lifetime's end
  std::int64_t idleTimeoutMs = 0;
  std::int64_t idleExpiresAtMs = 0;  // unix ms: the end if nothing uses it before
  std::uint32_t pid = 0;
};
crypto::Bytes encodeInfo(const AgentInfo& info);
std::optional<AgentInfo> decodeInfo(crypto::ByteView payload);

// Request bodies (without the frame's length).
crypto::Bytes signRequest(std::string_view context, crypto::ByteView message);
crypto::Bytes openRequest(crypto::ByteView sealed, const crypto::BoxPublicKey* to);
crypto::Bytes archiveKeyRequest(const crypto::BoxPublicKey* of);
crypto::Bytes simpleRequest(Op op);

// The agent's side of one request: `body` from the socket (hostile).
struct Handled {
  crypto::Bytes response;  // status | payload
  bool used = false;       // a key operation ran (restarts the idle timer)
  bool lock = false;       // Lock: answer, then wipe and exit
};
Handled handleRequest(crypto::ByteView body, const crypto::LocalKeyOps& keys, const AgentInfo& info);

// Whole reads and writes on a socket (EINTR retried; MSG_NOSIGNAL): false
// when the peer closed, failed or timed out (SO_RCVTIMEO/SO_SNDTIMEO).
bool recvAll(int fd, std::uint8_t* p, std::size_t n);
bool sendAll(int fd, const std::uint8_t* p, std::size_t n);

// Only the agent's own uid may use it (SO_PEERCRED of each connection).
bool peerAllowed(uid_t peer, uid_t self);

// The socket of the agent for `keyFile` used from `profileDir`: in
// $XDG_RUNTIME_DIR/focal, else PROFILE/agent (directories 0700), named
// agent-<16 hex of BLAKE2b(profile dir, key file)>.sock so two profiles or
// two key files never share one.
std::filesystem::path socketPath(const std::filesystem::path& profileDir, const std::string& keyFile);

}  // namespace focal::client::agent

// A command's side of the key agent (client/agent_protocol.hpp): find the
// agent for a key file, ask it for its public keys, sign and open through
// it, stop it. One connection per request, so a long `focal listen` never
// holds the agent for others.
#pragma once

#include "client/agent_protocol.hpp"

#include <stdexcept>

namespace focal::client::agent {

// The agent stopped, or answered what a working agent never answers, in
// the middle of a command (locked, expired, killed).
class AgentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One request and its response (status | payload). nullopt when no agent
// listens at `socket`; a socket file nobody listens on (an agent that died)
// is removed then. Throws AgentError when the exchange breaks halfway.
std::optional<crypto::Bytes> call(const std::filesystem::path& socket, crypto::ByteView request);

// The running agent's description; nullopt when none runs there.
std::optional<AgentInfo> describeAgent(const std::filesystem::path& socket);
// Asks the agent to wipe its keys and exit; false when none was running.
bool lockAgent(const std::filesystem::path& socket);

// The private-key operations done by the agent at `socket`.
class AgentKeyOps final : public crypto::SecretKeyOps {
 public:
  explicit AgentKeyOps(std::filesystem::path socket) : socket_(std::move(socket)) {}
  crypto::Signature sign(std::string_view context, crypto::ByteView message) const override;
  Expected<crypto::SealOpened, crypto::CryptoError> openSealed(crypto::ByteView sealed,
                                                               const crypto::BoxPublicKey* to) const override;
  Expected<crypto::ArchiveKeyDerived, crypto::CryptoError> archiveKey(const crypto::BoxPublicKey* of) const override;

 private:
  crypto::Bytes request(crypto::ByteView body) const;  // status Ok's payload or a typed failure
  std::filesystem::path socket_;
};

// The keys of the agent running for `keyFile` (absolute) at `socket`, when
// it runs and holds that very file (same stamp); nullopt otherwise (no
// agent, or the file was replaced since unlock: `staleReason` says so).
std::optional<crypto::Keyring> agentKeyring(const std::filesystem::path& socket, const std::string& keyFile,
                                            std::string* staleReason = nullptr);

}  // namespace focal::client::agent

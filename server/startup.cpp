#include "server/startup.hpp"

#include "protocol/log.hpp"
#include "server/secure_file.hpp"

#include <spdlog/spdlog.h>

#include <limits>
#include <stdexcept>

namespace focal::server {

crypto::SigningKeyPair loadHubKey(const std::filesystem::path& path) {
  if (accessibleByOthers(path)) spdlog::warn("{} is accessible by group or others; chmod 600 it", path.string());
  auto bytes = readFileLimited(path, crypto::SigningSecretKey::size + 1);
  auto secret = crypto::SigningSecretKey::fromBytes(bytes);
  sodium_memzero(bytes.data(), bytes.size());
  if (!secret) throw std::runtime_error(path.string() + " is not a 64-byte Ed25519 secret key");
  return crypto::SigningKeyPair::fromSecret(std::move(*secret));
}

Directory loadDirectory(Store& store, const Config& config, const crypto::SigningKeyPair& hubKey, const Clock& clock) {
  auto entries =
      store.logEntries(0, std::numeric_limits<std::uint32_t>::max(), std::numeric_limits<std::size_t>::max());
  if (entries.empty()) throw std::runtime_error("the directory log is empty; was this hub initialised?");
  auto replayed = Directory::replay(entries);
  if (!replayed) throw std::runtime_error("the directory log does not verify: " + replayed.error());
  Directory dir = std::move(replayed).value();
  if (dir.hubId() != config.hubId) {
    throw std::runtime_error("focal.toml names hub '" + config.hubId + "' but the log belongs to '" + dir.hubId() +
                             "'");
  }
  if (!(dir.hubKey() == hubKey.publicKey)) {
    throw std::runtime_error("the hub signing key is not the key named in the log's genesis");
  }
  auto head = store.head(dir.size());
  bool good = false;
  if (head) {
    auto parsed = protocol::verifyLogHead(head->head, head->signature, hubKey.publicKey);
    good = parsed && parsed->root().getSize() == dir.size() &&
           crypto::Hash256::fromBytes(protocol::view(parsed->root().getRootHash())) == std::optional(dir.root()) &&
           protocol::view(parsed->root().getHubId()) == dir.hubId();
  }
  if (!good) {
    spdlog::warn("no valid signed head for log size {}; signing one", dir.size());
    auto h = protocol::signLogHead(dir.hubId(), dir.size(), dir.root(), clock.nowMs(), hubKey.secretKey);
    head = StoredHead{dir.size(), std::move(h.head), h.signature};
  }
  dir.setHead(std::move(*head));
  return dir;
}

}  // namespace focal::server

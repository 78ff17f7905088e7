#include "server/bundle_command.hpp"

#include "crypto/primitives.hpp"
#include "protocol/enrolment_bundle.hpp"
#include "protocol/log.hpp"
#include "protocol/witness.hpp"
#include "server/config.hpp"
#include "server/sqlite.hpp"
#include "server/store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace focal::server {

namespace fs = std::filesystem;

namespace {

std::string readText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The witness policy the genesis entry names (PROTOCOL.md §11.6): what
// clients enrolled with the bundle pin.
protocol::WitnessPolicy genesisPolicy(const StoredLogEntry& genesis) {
  auto event = protocol::decode<wire::LogEvent>(genesis.event);
  if (!event || !event->root().isGenesis()) throw std::runtime_error("entry 0 of the log is not a genesis");
  auto policy = protocol::readWitnessPolicy(event->root().getGenesis().getWitnesses());
  if (!policy) throw std::runtime_error("the genesis's witness policy: " + policy.error());
  return std::move(policy).value();
}

bool wildcardHost(const std::string& host) { return host.empty() || host == "0.0.0.0" || host == "::"; }

// The address clients are told to connect to.
std::string bundleAddress(const Config& cfg, const std::string& address) {
  if (!address.empty()) {
    auto a = parseListenAddress(address);
    if (!a) throw std::runtime_error("--address: " + a.error());
    if (wildcardHost(a->host) || a->port == 0) throw std::runtime_error("--address must name a host and port clients can reach");
    return formatListenAddress(a->host, a->port);
  }
  if (wildcardHost(cfg.listenHost) || cfg.listenPort == 0) {
    throw std::runtime_error("focal.toml listens on " + formatListenAddress(cfg.listenHost, cfg.listenPort) +
                             ", which clients cannot connect to: give --address HOST:PORT");
  }
  return formatListenAddress(cfg.listenHost, cfg.listenPort);
}

}  // namespace

std::string makeEnrolmentBundle(const fs::path& dir, const std::string& address, std::string* warning) {
  auto config = loadConfig(dir / "focal.toml");
  if (!config) throw std::runtime_error(config.error());
  const Config& cfg = *config;
  if (!fs::exists(cfg.database)) throw std::runtime_error(cfg.database.string() + ": no database");
  // Read-only, no hub lock: a running focald is neither stopped nor blocked.
  Store store(sqlite::Database::open(cfg.database, sqlite::Database::Mode::ReadOnly));
  std::uint64_t size = 0;
  {
    auto s = store.database().prepare("SELECT max(size) FROM log_heads");
    if (s->step() && !s->columnIsNull(0)) size = static_cast<std::uint64_t>(s->columnInt(0));
  }
  const auto head = size > 0 ? store.head(size) : std::nullopt;
  const auto genesis = store.logEntries(0, 1, 1u << 20);
  const auto last = size > 0 ? store.logEntries(size - 1, 1, 1u << 20) : std::vector<StoredLogEntry>{};
  if (!head || genesis.empty() || genesis[0].index != 0 || last.empty() || last[0].index != size - 1) {
    throw std::runtime_error(cfg.database.string() + ": no signed log head with its entries (run focald check)");
  }
  protocol::EnrolmentBundle b;
  b.hubId = cfg.hubId;
  b.hubAddress = bundleAddress(cfg, address);
  b.hubKey = genesis[0].authorKey;  // the genesis is signed by the hub key it names (PROTOCOL.md §11)
  b.caPem = readText(cfg.tlsCertificate);
  b.genesisHash = genesis[0].entryHash;
  b.headBytes = head->head;
  b.headSignature = head->signature;
  auto parsed = protocol::verifyLogHead(head->head, head->signature, b.hubKey);
  if (!parsed) throw std::runtime_error("the stored log head does not verify under the genesis hub key");
  b.headSize = parsed->root().getSize();
  b.headTimeMs = parsed->root().getTimeMs();
  b.headRoot = last[0].entryHash;
  b.witnesses = genesisPolicy(genesis[0]);
  // The cosignatures the hub holds for this size that are of this very log
  // (as focald serves them, server/startup.cpp): a stale row is left out.
  for (auto& c : store.cosignatures(size)) {
    auto h = protocol::checkCosignature(b.witnesses, b.hubId, b.hubKey, c);
    if (h && h->size == b.headSize && h->root == b.headRoot) b.headCosignatures.push_back(std::move(c));
  }
  if (warning != nullptr && b.headCosignatures.size() < b.witnesses.threshold) {
    *warning = "warning: the head of " + std::to_string(b.headSize) + " entries has " +
               std::to_string(b.headCosignatures.size()) + " of the " + std::to_string(b.witnesses.threshold) +
               " witness cosignatures the log requires; the bundle carries those it has (run the witnesses, then "
               "make the bundle again)";
  }
  const std::string text = protocol::renderEnrolmentBundle(b);
  // What a client will check, checked here first: a bundle focald writes is
  // one a client accepts (a head that disagrees with the entries is refused).
  if (auto ok = protocol::parseEnrolmentBundle(text); !ok) {
    throw std::runtime_error("the hub's own log does not make a valid bundle: " + ok.error().message);
  }
  return text;
}

void writeNewPublicFile(const fs::path& file, const std::string& text) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) throw std::runtime_error(file.string() + " exists; --out never overwrites a file");
    throw std::runtime_error("cannot create " + file.string() + ": " + std::strerror(errno));
  }
  ::fchmod(fd, 0644);  // whatever the umask: the bundle is public
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(file.c_str());
      throw std::runtime_error("cannot write " + file.string() + ": " + why);
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  if (::close(fd) != 0 || !synced) {
    ::unlink(file.c_str());
    throw std::runtime_error("cannot write " + file.string());
  }
}

}  // namespace focal::server

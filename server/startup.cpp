#include "server/startup.hpp"

#include "protocol/log.hpp"
#include "server/sqlite.hpp"
#include "server/certificate.hpp"
#include "crypto/secure_file.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include <capnp/message.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace focal::server {

namespace {

namespace fs = std::filesystem;

std::string renewHint(const fs::path& dir, const Config& config) {
  if (hubMadeCertificate(dir, config)) {
    return "make a new one with: focald init --renew-cert " + dir.string() +
           " (then every client must pin the new certificate)";
  }
  return "replace it with a valid certificate for the same key or a new one (then every client must pin it)";
}

// A log made before entries were bound to their place (v1) moves to v2
// with one hub-signed `logVersion` checkpoint, appended here before the hub
// serves; the entries before it keep verifying under the v1 rules
// (PROTOCOL.md §11.1, "Log versions"). The writer thread has not started:
// this is the only writer.
void appendVersionCheckpoint(const Config& config, Directory& dir, const crypto::SigningKeyPair& hubKey,
                             const Clock& clock) {
  const std::int64_t now = std::max(clock.nowMs(), dir.log().lastRecordedAtMs());
  capnp::MallocMessageBuilder mb;
  auto e = mb.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(now);
  e.initLogVersion().setVersion(protocol::CurrentLogVersion);
  protocol::setLogPosition(e, protocol::LogPosition{dir.hubId(), dir.size(), dir.root()});
  const auto ev = protocol::signLogEvent(mb, hubKey.secretKey);
  if (auto ok = dir.check(ev.event, ev.signature, dir.hubId(), hubKey.publicKey, std::nullopt, now, now); !ok) {
    throw std::runtime_error("the log version checkpoint is refused: " + ok.error().message);
  }
  const auto entry = dir.prepare(ev.event, ev.signature, dir.hubId(), hubKey.publicKey, now);
  auto h = protocol::signLogHead(dir.hubId(), entry.index + 1, entry.entryHash, now, hubKey.secretKey);
  StoredHead head{entry.index + 1, std::move(h.head), h.signature};
  {
    auto db = sqlite::Database::open(config.database, sqlite::Database::Mode::ReadWrite);
    sqlite::Transaction txn(db);
    if (auto ok = Store::appendLogEntry(db, entry, head); !ok) {
      throw std::runtime_error("cannot append the log version checkpoint: " + ok.error().message);
    }
    txn.commit();
  }
  dir.apply(entry);
  dir.setHead(std::move(head));
  spdlog::warn("directory log moved to version {} at entry {}: entries are bound to their place from here on",
               protocol::CurrentLogVersion, entry.index);
}

}  // namespace

bool hubMadeCertificate(const fs::path& dir, const Config& config) {
  const auto made = [](const fs::path& configured, const fs::path& expected) {
    std::error_code e1, e2;
    const auto a = fs::weakly_canonical(configured, e1);
    const auto b = fs::weakly_canonical(expected, e2);
    return !e1 && !e2 && a == b;
  };
  return made(config.tlsCertificate, dir / "tls" / "cert.pem") && made(config.tlsPrivateKey, dir / "tls" / "key.pem");
}

std::vector<std::string> checkHubFiles(const fs::path& dir, const Config& config,
                                       std::chrono::system_clock::time_point now) {
  std::vector<std::string> problems;
  for (const auto& key : {config.signingKey, config.tlsPrivateKey}) {
    struct stat st {};
    if (::stat(key.c_str(), &st) != 0) {
      problems.push_back(key.string() + ": cannot read the private key: " + std::strerror(errno));
      continue;
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
      problems.push_back(fmt::format("{}: private key is accessible by group or others (mode {:04o}); "
                                     "fix with: chmod 600 {}",
                                     key.string(), st.st_mode & 07777, key.string()));
    }
  }
  try {
    const auto v = certificateValidity(config.tlsCertificate);
    if (now < v.notBefore) {
      problems.push_back(config.tlsCertificate.string() + ": TLS certificate is not valid until " +
                         formatUtc(v.notBefore) + " (is this machine's clock right?); " + renewHint(dir, config));
    } else if (now > v.notAfter) {
      problems.push_back(config.tlsCertificate.string() + ": TLS certificate expired on " + formatUtc(v.notAfter) +
                         "; " + renewHint(dir, config));
    }
  } catch (const std::exception& e) {
    problems.push_back(config.tlsCertificate.string() + ": " + e.what());
  }
  return problems;
}

std::vector<std::string> certificateWarnings(const fs::path& dir, const Config& config,
                                             std::chrono::system_clock::time_point now) {
  std::vector<std::string> warnings;
  try {
    const auto v = certificateValidity(config.tlsCertificate);
    if (now <= v.notAfter && v.notAfter - now < CertificateExpiryWarning) {
      warnings.push_back(config.tlsCertificate.string() + ": TLS certificate expires on " + formatUtc(v.notAfter) +
                         "; " + renewHint(dir, config));
    }
  } catch (const std::exception&) {
    // Reported by checkHubFiles.
  }
  return warnings;
}

crypto::SigningKeyPair loadHubKey(const std::filesystem::path& path) {
  auto bytes = crypto::readFileLimited(path, crypto::SigningSecretKey::size + 1);
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
  if (dir.log().version() < protocol::CurrentLogVersion) {
    appendVersionCheckpoint(config, dir, hubKey, clock);
    return dir;
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
  // The witnesses' cosignatures of this size that still check against the
  // log (a stored row the log no longer matches is not served).
  for (auto& c : store.cosignatures(dir.size())) {
    auto h = protocol::checkCosignature(dir.witnessPolicy(), dir.hubId(), dir.hubKey(), c);
    if (h && h->size == dir.size() && h->root == dir.root()) head->cosignatures.push_back(std::move(c));
  }
  dir.setHead(std::move(*head));
  return dir;
}

}  // namespace focal::server

#include "server/backup_command.hpp"

#include "crypto/primitives.hpp"
#include "crypto/sealed_file.hpp"
#include "crypto/secure_file.hpp"
#include "server/config.hpp"
#include "server/directory.hpp"
#include "server/sqlite.hpp"
#include "server/startup.hpp"
#include "server/store.hpp"
#include "server/tls.hpp"

#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <limits>
#include <random>
#include <set>
#include <stdexcept>

namespace focal::server {

namespace fs = std::filesystem;

namespace {

constexpr const char* Manifest = "backup.json";
// The largest file a backup copies besides the database (keys, certificate, config).
constexpr std::size_t MaxSmallFileBytes = 1024 * 1024;

// `path` relative to `dir`; refused when it lies outside.
fs::path inside(const fs::path& dir, const fs::path& path, const std::string& what) {
  const auto rel = fs::absolute(path).lexically_normal().lexically_relative(fs::absolute(dir).lexically_normal());
  if (rel.empty() || *rel.begin() == "..") {
    throw std::runtime_error(what + " " + path.string() + " lies outside " + dir.string() +
                             ": focald backup copies a hub directory that holds all its files");
  }
  return rel;
}

std::string hashFile(const fs::path& p) {
  // Streamed: the database may be large.
  crypto::Hasher h;
  std::FILE* f = std::fopen(p.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error("cannot read " + p.string());
  std::vector<std::uint8_t> buf(1 << 16);
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) h.update({buf.data(), n});
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) throw std::runtime_error("cannot read " + p.string());
  return crypto::toHex(h.finish());
}

void makePrivateDir(const fs::path& p) {
  if (::mkdir(p.c_str(), 0700) != 0) {
    throw std::runtime_error("cannot create " + p.string() + ": " + std::strerror(errno) +
                             (errno == EEXIST ? " (it exists; choose a new directory)" : ""));
  }
}

void copySmall(const fs::path& from, const fs::path& to, mode_t mode) {
  fs::create_directories(to.parent_path());
  const auto bytes = crypto::readFileLimited(from, MaxSmallFileBytes);
  crypto::writeFileAtomic(to, crypto::ByteView(bytes.data(), bytes.size()), mode);
}

// SQLite's online backup of `from` into a new file `to`: one read
// transaction, so a consistent snapshot of a hub that keeps writing.
void backupDatabase(const fs::path& from, const fs::path& to) {
  auto src = sqlite::Database::open(from, sqlite::Database::Mode::ReadOnly);
  fs::create_directories(to.parent_path());
  auto dst = sqlite::Database::open(to, sqlite::Database::Mode::ReadWriteCreate);
  sqlite3_backup* b = sqlite3_backup_init(dst.handle(), "main", src.handle(), "main");
  if (b == nullptr) throw std::runtime_error(std::string("backup of the database: ") + sqlite3_errmsg(dst.handle()));
  const int rc = sqlite3_backup_step(b, -1);
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) throw std::runtime_error(std::string("backup of the database: ") + sqlite3_errstr(rc));
  dst.exec("PRAGMA journal_mode=WAL");  // as the hub keeps it
  ::chmod(to.c_str(), 0600);
}

std::uint64_t logEntryCount(sqlite::Database& db) {
  auto count = db.prepare("SELECT count(*) FROM log_entries");
  if (!count->step()) throw std::runtime_error("the copied database has no directory log");
  return static_cast<std::uint64_t>(count->columnInt(0));
}

// The roles of a backup's files (the sealed files' labels; the manifest's "role").
constexpr const char* RoleConfig = "config";
constexpr const char* RoleDatabase = "database";
constexpr const char* RoleHubKey = "hub-key";
constexpr const char* RoleTlsCertificate = "tls-certificate";
constexpr const char* RoleTlsKey = "tls-key";
constexpr std::array<const char*, 5> Roles{RoleConfig, RoleDatabase, RoleHubKey, RoleTlsCertificate, RoleTlsKey};
constexpr const char* SealedSuffix = ".sealed";
constexpr int PlainFormat = 1;
constexpr int SealedFormat = 2;
// Beside the database's copy while a sealed backup stages it.
constexpr std::uint64_t StagingHeadroomBytes = 64ull * 1024 * 1024;
constexpr std::string_view StagingPrefix = ".backup-staging-";

std::int64_t unixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// ---- the staging area of a sealed backup ---------------------------------------
//
// SECURITY: the database's plaintext copy exists only here, in a 0700
// directory beside the live database (so under the hub directory's own
// protection, never in OUT nor in /tmp), while it is sealed. It is removed
// by ~StagingArea on every path out of backupHub, and by onStagingSignal
// when SIGINT, SIGTERM or SIGHUP stops focald meanwhile: the handler only
// unlinks the fixed paths prepared in advance (async-signal-safe), then
// lets the signal take its default course. Only SIGKILL or a crash leaves
// it; the next sealed backup removes a staging directory whose focald is gone.
namespace staging {
constexpr std::size_t Paths = 5;  // the copy, -journal, -wal, -shm, then the directory
constexpr std::size_t MaxPathBytes = 4096;
char paths[Paths][MaxPathBytes];
volatile std::sig_atomic_t armed = 0;

void onStagingSignal(int sig) {
  if (armed != 0) {
    for (std::size_t i = 0; i + 1 < Paths; ++i) ::unlink(paths[i]);
    ::rmdir(paths[Paths - 1]);
  }
  ::raise(sig);  // SA_RESETHAND: the default action, once this handler returns
}
}  // namespace staging

class StagingArea {
 public:
  explicit StagingArea(const fs::path& beside) {
    removeStale(beside);
    std::array<std::uint8_t, 8> rnd{};
    crypto::randomFill(rnd);
    dir_ = beside / (std::string(StagingPrefix) + std::to_string(::getpid()) + "-" + crypto::toHex(rnd));
    copy_ = dir_ / "focal.db";
    const std::array<std::string, staging::Paths> paths{copy_.string(), copy_.string() + "-journal",
                                                       copy_.string() + "-wal", copy_.string() + "-shm",
                                                       dir_.string()};
    for (std::size_t i = 0; i < paths.size(); ++i) {
      if (paths[i].size() >= staging::MaxPathBytes) throw std::runtime_error("the hub directory's path is too long");
      std::memcpy(staging::paths[i], paths[i].c_str(), paths[i].size() + 1);
    }
    // Armed before the directory exists: a signal at any moment after this
    // finds at most what the handler removes.
    staging::armed = 1;
    struct sigaction sa {};
    sa.sa_handler = staging::onStagingSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    for (std::size_t i = 0; i < Signals.size(); ++i) ::sigaction(Signals[i], &sa, &previous_[i]);
    try {
      makePrivateDir(dir_);
    } catch (...) {
      disarm();
      throw;
    }
  }
  StagingArea(const StagingArea&) = delete;
  StagingArea& operator=(const StagingArea&) = delete;
  ~StagingArea() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    disarm();
  }
  const fs::path& copy() const { return copy_; }

 private:
  static constexpr std::array<int, 3> Signals{SIGINT, SIGTERM, SIGHUP};
  void disarm() {
    staging::armed = 0;
    for (std::size_t i = 0; i < Signals.size(); ++i) ::sigaction(Signals[i], &previous_[i], nullptr);
  }
  // A staging directory whose focald no longer runs (killed, crashed).
  static void removeStale(const fs::path& beside) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(beside, ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind(StagingPrefix, 0) != 0) continue;
      const long pid = std::strtol(name.c_str() + StagingPrefix.size(), nullptr, 10);
      if (pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH)) continue;
      std::error_code ignored;
      fs::remove_all(e.path(), ignored);
    }
  }
  fs::path dir_;
  fs::path copy_;
  std::array<struct sigaction, 3> previous_{};
};

// Refuses a sealed backup whose staging copy would not fit beside the database.
void requireStagingSpace(const fs::path& database) {
  std::error_code ec;
  std::uint64_t need = StagingHeadroomBytes;
  for (const char* suffix : {"", "-wal"}) {
    const auto size = fs::file_size(database.string() + suffix, ec);
    if (!ec) need += size;
  }
  struct statvfs st {};
  if (::statvfs(database.parent_path().c_str(), &st) != 0) return;  // unknown: the copy itself will say
  const std::uint64_t available = std::uint64_t{st.f_bavail} * st.f_frsize;
  if (available < need) {
    throw BackupError("no-space", "a sealed backup stages the database's copy beside it, in " +
                                      database.parent_path().string() + ", before it seals it: " +
                                      std::to_string(need) + " bytes needed, " + std::to_string(available) +
                                      " free; free space there (the hub needs it too)");
  }
}

// ---- the manifest of a sealed backup --------------------------------------------

struct SealedEntry {
  std::string name;  // relative path in the hub directory
  std::string role;
  mode_t mode = 0600;
  crypto::SealedFileSummary summary;
};

std::string b64(crypto::ByteView b) { return crypto::toBase64(b); }

template <class F>
std::optional<F> fixedFromBase64(const nlohmann::json& j, const char* key) {
  const auto bytes = crypto::fromBase64(j.at(key).get<std::string>());
  if (!bytes) return std::nullopt;
  return F::fromBytes(*bytes);
}

BackupRecipient recipientOf(const std::string& memberId, const crypto::SigningPublicKey& identity) {
  return {memberId, crypto::fingerprint(memberId, identity)};
}

}  // namespace

std::vector<std::string> hubDirectoryProblems(const fs::path& dir, std::chrono::system_clock::time_point now) {
  std::vector<std::string> problems;
  auto config = loadConfig(dir / "focal.toml");
  if (!config) return {config.error()};
  for (auto& line : checkHubFiles(dir, *config, now)) problems.push_back(std::move(line));
  // What run would load next, each on its own so one problem hides no other.
  const auto attempt = [&](const std::function<void()>& f) {
    try {
      f();
    } catch (const std::exception& e) {
      problems.emplace_back(e.what());
    }
  };
  attempt([&] { (void)loadHubKey(config->signingKey); });
  attempt([&] { (void)makeServerTlsContext(config->tlsCertificate, config->tlsPrivateKey); });
  attempt([&] {
    if (!fs::exists(config->database)) throw std::runtime_error(config->database.string() + ": no database");
    Store::checkSchemaFile(config->database);
    // Read only, and without the hub lock: a running hub keeps serving.
    Store store = Store::openReader(config->database);
    {
      auto s = store.database().prepare("PRAGMA quick_check");
      while (s->step()) {
        const auto line = s->columnText(0);
        if (line != "ok") throw std::runtime_error(config->database.string() + ": damaged: " + line);
      }
    }
    // The whole directory log, as `focald run` replays it at startup.
    const auto entries =
        store.logEntries(0, std::numeric_limits<std::uint32_t>::max(), std::numeric_limits<std::size_t>::max());
    if (entries.empty()) throw std::runtime_error("the directory log is empty; was this hub initialised?");
    auto log = Directory::replay(entries);
    if (!log) throw std::runtime_error("the directory log does not verify: " + log.error());
    if (log->hubId() != config->hubId) {
      throw std::runtime_error("focal.toml names hub '" + config->hubId + "' but the log belongs to '" + log->hubId() +
                               "'");
    }
    if (fs::exists(config->signingKey) && !(log->hubKey() == loadHubKey(config->signingKey).publicKey)) {
      throw std::runtime_error(config->signingKey.string() + " is not the hub key the log's genesis names");
    }
  });
  return problems;
}

namespace {

// The plain backup (format 1): the files as they are, and their hashes.
void writePlainBackup(const Config& config, const fs::path& dir, const fs::path& out,
                      const std::array<fs::path, 5>& rels, BackupReport& report) {
  const auto& [toml, db, key, cert, tlsKey] = rels;
  backupDatabase(config.database, out / db);
  copySmall(dir / toml, out / toml, 0600);
  copySmall(config.signingKey, out / key, 0600);
  copySmall(config.tlsCertificate, out / cert, 0644);
  copySmall(config.tlsPrivateKey, out / tlsKey, 0600);
  nlohmann::json files = nlohmann::json::object();
  for (const auto& rel : rels) {
    struct stat st {};
    ::stat((out / rel).c_str(), &st);
    files[rel.string()] = {{"blake2b", hashFile(out / rel)}, {"mode", st.st_mode & 0777}};
    report.bytes += fs::file_size(out / rel);
  }
  {
    // Any schema version (a backup before an upgrade holds the older one).
    auto copy = sqlite::Database::open(out / db, sqlite::Database::Mode::ReadOnly);
    report.logEntries = logEntryCount(copy);
  }
  nlohmann::json m{{"format", PlainFormat},
                   {"hub_id", config.hubId},
                   {"log_entries", report.logEntries},
                   {"created_at_ms", report.createdAtMs},
                   {"files", files}};
  crypto::writeFileAtomic(out / Manifest, m.dump(2) + "\n", 0600);
}

// The sealed backup (format 2): no plaintext in `out` (see the header).
void writeSealedBackup(const Config& config, const fs::path& dir, const fs::path& out,
                       const std::array<fs::path, 5>& rels, const std::vector<crypto::PublicKeys>& encryptTo,
                       BackupReport& report) {
  const crypto::ContentKey backupKey = crypto::ContentKey::random();
  std::vector<SealedEntry> entries;
  const auto sealedPath = [&](const fs::path& rel) {
    const fs::path p = out / (rel.string() + SealedSuffix);
    fs::create_directories(p.parent_path());
    return p;
  };
  {
    requireStagingSpace(config.database);
    StagingArea staging(config.database.parent_path());
    backupDatabase(config.database, staging.copy());
    {
      auto copy = sqlite::Database::open(staging.copy(), sqlite::Database::Mode::ReadOnly);
      report.logEntries = logEntryCount(copy);
    }
    const std::string name = rels[1].string();
    entries.push_back({name, RoleDatabase, 0600,
                       crypto::sealFile(backupKey, RoleDatabase, name, staging.copy(), sealedPath(rels[1]))});
  }  // the plaintext copy is gone here
  const std::array<std::pair<fs::path, const char*>, 4> small{{{dir / rels[0], RoleConfig},
                                                               {config.signingKey, RoleHubKey},
                                                               {config.tlsCertificate, RoleTlsCertificate},
                                                               {config.tlsPrivateKey, RoleTlsKey}}};
  for (std::size_t i = 0; i < small.size(); ++i) {
    const auto& [from, role] = small[i];
    const fs::path& rel = rels[i == 0 ? 0 : i + 1];
    struct stat st {};
    if (::stat(from.c_str(), &st) != 0) throw std::runtime_error("cannot read " + from.string());
    auto bytes = crypto::readFileLimited(from, MaxSmallFileBytes);
    try {
      entries.push_back({rel.string(), role, static_cast<mode_t>(st.st_mode & 0644),
                         crypto::sealBytes(backupKey, role, rel.string(), bytes, sealedPath(rel))});
    } catch (...) {
      sodium_memzero(bytes.data(), bytes.size());
      throw;
    }
    sodium_memzero(bytes.data(), bytes.size());
  }
  nlohmann::json files = nlohmann::json::array();
  for (const auto& e : entries) {
    files.push_back({{"name", e.name},
                     {"role", e.role},
                     {"mode", e.mode},
                     {"size", e.summary.plainBytes},
                     {"blake2b", crypto::toHex(e.summary.plainHash)},
                     {"sealed_blake2b", crypto::toHex(e.summary.sealedHash)}});
    report.bytes += fs::file_size(out / (e.name + SealedSuffix));
  }
  nlohmann::json innerRecipients = nlohmann::json::array();
  nlohmann::json outerRecipients = nlohmann::json::array();
  for (const auto& pk : encryptTo) {
    innerRecipients.push_back({{"member_id", pk.memberId},
                               {"identity_key", b64(pk.identity.view())},
                               {"encryption_key", b64(pk.encryption.view())}});
    outerRecipients.push_back({{"member_id", pk.memberId},
                               {"encryption_key", b64(pk.encryption.view())},
                               {"sealed_key", b64(crypto::wrapKey(backupKey, pk.encryption).view())}});
    report.recipients.push_back(recipientOf(pk.memberId, pk.identity));
  }
  const nlohmann::json inner{{"format", SealedFormat},
                             {"hub_id", config.hubId},
                             {"log_entries", report.logEntries},
                             {"created_at_ms", report.createdAtMs},
                             {"recipients", innerRecipients},
                             {"files", files}};
  const auto nonce = crypto::randomFixed<crypto::AeadNonce>();
  const std::string innerText = inner.dump();
  crypto::Bytes sealedManifest(nonce.bytes.begin(), nonce.bytes.end());
  const auto ciphertext = crypto::aeadEncrypt(crypto::backupManifestKey(backupKey), nonce, crypto::asBytes(innerText),
                                              crypto::asBytes(crypto::BackupManifestContext));
  sealedManifest.insert(sealedManifest.end(), ciphertext.begin(), ciphertext.end());
  const nlohmann::json outer{{"format", SealedFormat},
                             {"sealed", true},
                             {"recipients", outerRecipients},
                             {"manifest", b64(sealedManifest)}};
  crypto::writeFileAtomic(out / Manifest, outer.dump(2) + "\n", 0600);
}

}  // namespace

BackupReport backupHub(const fs::path& dir, const fs::path& out, const std::vector<crypto::PublicKeys>& encryptTo) {
  auto config = loadConfig(dir / "focal.toml");
  if (!config) throw std::runtime_error(config.error());
  const std::array<fs::path, 5> rels{fs::path("focal.toml"), inside(dir, config->database, "the database"),
                                     inside(dir, config->signingKey, "the hub key"),
                                     inside(dir, config->tlsCertificate, "the TLS certificate"),
                                     inside(dir, config->tlsPrivateKey, "the TLS key")};
  for (std::size_t i = 0; i < encryptTo.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (encryptTo[i].encryption == encryptTo[j].encryption) {
        throw BackupError("usage", "--encrypt-to names the key of " + encryptTo[i].memberId + " twice");
      }
    }
  }
  makePrivateDir(out);
  BackupReport report;
  report.hubId = config->hubId;
  report.createdAtMs = unixMs(std::chrono::system_clock::now());
  report.sealed = !encryptTo.empty();
  try {
    if (encryptTo.empty()) {
      writePlainBackup(*config, dir, out, rels, report);
    } else {
      writeSealedBackup(*config, dir, out, rels, encryptTo, report);
    }
  } catch (...) {
    std::error_code ec;
    fs::remove_all(out, ec);
    throw;
  }
  return report;
}

std::optional<fs::path> backupBeforeUpgrade(const fs::path& dir, const fs::path& database,
                                            std::chrono::system_clock::time_point now) {
  int version = 0;
  {
    auto db = sqlite::Database::open(database, sqlite::Database::Mode::ReadOnly);
    version = db.userVersion();
  }
  if (version < 1 || version >= Store::SchemaVersion) return std::nullopt;  // nothing to upgrade, or not ours
  const auto t = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
  const fs::path parent = dir / "backups";
  fs::create_directories(parent);
  fs::permissions(parent, fs::perms::owner_all, fs::perm_options::replace);
  fs::path out = parent / ("pre-upgrade-v" + std::to_string(version) + "-" + stamp);
  for (int n = 2; fs::exists(out); ++n) {
    out = parent / ("pre-upgrade-v" + std::to_string(version) + "-" + stamp + "-" + std::to_string(n));
  }
  backupHub(dir, out);
  return out;
}

namespace {

// A refusal of restoreHub: its code and problems.
RestoreReport& refuse(RestoreReport& r, std::string code, std::vector<std::string> problems) {
  r.code = std::move(code);
  r.problems = std::move(problems);
  return r;
}

// A file name backup.json gives: relative, normal, inside the backup.
bool safeName(const fs::path& rel) {
  return !rel.empty() && !rel.is_absolute() && rel.lexically_normal() == rel && *rel.begin() != "..";
}

// The plain backup's files, checked against backup.json, copied into `temp`.
void placePlain(const fs::path& backup, const nlohmann::json& manifest, const fs::path& temp,
                std::vector<std::string>& problems) {
  std::vector<std::pair<fs::path, mode_t>> files;
  for (const auto& [name, entry] : manifest.at("files").items()) {
    const fs::path rel(name);
    if (!safeName(rel)) {
      problems.push_back("backup.json names a file outside the backup: " + name);
      continue;
    }
    try {
      if (hashFile(backup / rel) != entry.at("blake2b").get<std::string>()) {
        problems.push_back(name + ": altered or damaged");
      }
      // Never more open than owner read-write, others read.
      files.emplace_back(rel, static_cast<mode_t>(entry.at("mode").get<unsigned>() & 0644));
    } catch (const std::exception& e) {
      problems.emplace_back(name + ": " + e.what());
    }
  }
  if (!problems.empty()) return;
  for (const auto& [rel, mode] : files) {
    fs::create_directories((temp / rel).parent_path());
    fs::copy_file(backup / rel, temp / rel);
    ::chmod((temp / rel).c_str(), mode);
  }
}

// The sealed backup's manifest, opened with the operator's keys.
nlohmann::json openSealedManifest(const nlohmann::json& outer, const crypto::Keyring& keys, RestoreReport& report,
                                  crypto::ContentKey& backupKey) {
  std::vector<std::string> sealedTo;
  std::optional<crypto::ContentKey> opened;
  for (const auto& r : outer.at("recipients")) {
    sealedTo.push_back(r.at("member_id").get<std::string>());
    const auto pk = fixedFromBase64<crypto::BoxPublicKey>(r, "encryption_key");
    const auto wrapped = fixedFromBase64<crypto::WrappedKey>(r, "sealed_key");
    if (!pk || !wrapped) throw BackupError("damaged", "backup.json: a recipient's key is malformed");
    if (opened || !keys.holdsEncryptionKey(*pk)) continue;
    auto key = keys.unwrapKey(*wrapped, &*pk);
    if (!key) {
      throw BackupError("damaged", "backup.json: the backup key sealed to " + keys.memberId +
                                       "'s encryption key does not open: backup.json was altered");
    }
    opened.emplace(std::move(*key));
  }
  if (!opened) {
    std::string names;
    for (const auto& n : sealedTo) names += (names.empty() ? "" : ", ") + n;
    throw BackupError("wrong-key", "this backup is sealed to " + (names.empty() ? std::string("nobody") : names) +
                                       ", not to a key of " + keys.memberId +
                                       "'s key file: give --decrypt-with the key file of one of them");
  }
  backupKey = std::move(*opened);
  const auto sealed = crypto::fromBase64(outer.at("manifest").get<std::string>());
  if (!sealed || sealed->size() < crypto::AeadNonce::size) {
    throw BackupError("damaged", "backup.json: the manifest is malformed");
  }
  const auto nonce = crypto::AeadNonce::fromBytes({sealed->data(), crypto::AeadNonce::size});
  auto plain = crypto::aeadDecrypt(crypto::backupManifestKey(backupKey), *nonce,
                                   crypto::ByteView(*sealed).subspan(crypto::AeadNonce::size),
                                   crypto::asBytes(crypto::BackupManifestContext));
  if (!plain) {
    throw BackupError("damaged", "backup.json: the manifest does not decrypt under the backup key: it was altered");
  }
  auto inner = nlohmann::json::parse(plain->begin(), plain->end());
  if (inner.at("format") != SealedFormat) throw BackupError("damaged", "backup.json: the manifest's format is not 2");
  report.hubId = inner.at("hub_id").get<std::string>();
  report.logEntries = inner.at("log_entries").get<std::uint64_t>();
  report.createdAtMs = inner.at("created_at_ms").get<std::int64_t>();
  for (const auto& r : inner.at("recipients")) {
    const auto identity = fixedFromBase64<crypto::SigningPublicKey>(r, "identity_key");
    if (!identity) throw BackupError("damaged", "backup.json: a recipient's identity key is malformed");
    report.recipients.push_back(recipientOf(r.at("member_id").get<std::string>(), *identity));
  }
  return inner;
}

// The sealed backup's files, each decrypted and checked, into `temp`.
void placeSealed(const fs::path& backup, const nlohmann::json& inner, const crypto::ContentKey& backupKey,
                 const fs::path& temp, std::vector<std::string>& problems) {
  std::set<std::string> roles;
  for (const auto& e : inner.at("files")) {
    const auto name = e.at("name").get<std::string>();
    const auto role = e.at("role").get<std::string>();
    const fs::path rel(name);
    if (!safeName(rel)) {
      problems.push_back("backup.json names a file outside the backup: " + name);
      continue;
    }
    if (std::find_if(Roles.begin(), Roles.end(), [&](const char* r) { return role == r; }) == Roles.end() ||
        !roles.insert(role).second) {
      problems.push_back("backup.json: " + name + " has an unknown or repeated role " + role);
      continue;
    }
    const fs::path sealed = backup / (name + SealedSuffix);
    if (!fs::exists(sealed)) {
      problems.push_back(name + SealedSuffix + ": missing");
      continue;
    }
    fs::create_directories((temp / rel).parent_path());
    const auto mode = static_cast<mode_t>(e.at("mode").get<unsigned>() & 0644);
    const auto opened =
        crypto::openFile(backupKey, role, name, sealed, temp / rel, mode == 0 ? static_cast<mode_t>(0600) : mode);
    if (!opened) {
      problems.push_back(name + SealedSuffix + " " + crypto::describe(opened.error()));
    } else if (crypto::toHex(opened->sealedHash) != e.at("sealed_blake2b").get<std::string>() ||
               crypto::toHex(opened->plainHash) != e.at("blake2b").get<std::string>() ||
               opened->plainBytes != e.at("size").get<std::uint64_t>()) {
      problems.push_back(name + SealedSuffix + ": altered or damaged (not the file backup.json names)");
    }
  }
  for (const char* role : Roles) {
    if (!roles.contains(role)) problems.push_back(std::string("backup.json names no ") + role + " file");
  }
}

}  // namespace

RestoreReport restoreHub(const fs::path& backup, const fs::path& newDir, std::chrono::system_clock::time_point now,
                         const RestoreOptions& options) {
  RestoreReport report;
  std::error_code ec;
  if (fs::exists(newDir, ec)) {
    return refuse(report, "exists", {newDir.string() + " exists: restore into a new directory"});
  }
  nlohmann::json manifest;
  try {
    const auto bytes = crypto::readFileLimited(backup / Manifest, MaxSmallFileBytes);
    manifest = nlohmann::json::parse(bytes.begin(), bytes.end());
    const auto format = manifest.at("format").get<int>();
    if (format != PlainFormat && format != SealedFormat) {
      return refuse(report, "not-a-backup", {"backup.json: unknown format " + std::to_string(format)});
    }
  } catch (const std::exception& e) {
    return refuse(report, "not-a-backup", {(backup / Manifest).string() + ": not a focald backup (" + e.what() + ")"});
  }
  report.sealed = manifest.at("format") == SealedFormat;
  crypto::ContentKey backupKey;
  nlohmann::json inner;
  if (report.sealed) {
    if (!options.decryptionKeys) {
      std::string names;
      for (const auto& r : manifest.value("recipients", nlohmann::json::array())) {
        names += (names.empty() ? "" : ", ") + r.value("member_id", std::string("?"));
      }
      return refuse(report, "sealed",
                    {"this backup is sealed (to " + names +
                     "): give --decrypt-with FILE.key, the key file of one of them"});
    }
    const crypto::Keyring keys = options.decryptionKeys();
    try {
      inner = openSealedManifest(manifest, keys, report, backupKey);
    } catch (const BackupError& e) {
      return refuse(report, e.code(), {e.what()});
    } catch (const std::exception& e) {
      return refuse(report, "damaged", {std::string("backup.json: ") + e.what()});
    }
  } else {
    if (options.decryptionKeys) {
      return refuse(report, "not-sealed",
                    {"this backup is not sealed: it holds the hub's keys in the clear; restore it without "
                     "--decrypt-with (and keep it like the hub directory)"});
    }
    report.hubId = manifest.value("hub_id", std::string());
    report.logEntries = manifest.value("log_entries", std::uint64_t{0});
    if (manifest.contains("created_at_ms")) report.createdAtMs = manifest.at("created_at_ms").get<std::int64_t>();
  }
  // Placed beside newDir, checked there, renamed into place last.
  const fs::path parent = fs::absolute(newDir).parent_path();
  const fs::path temp = parent / ("." + newDir.filename().string() + ".restoring-" + std::to_string(std::random_device{}()));
  std::vector<std::string> problems;
  std::string code = "damaged";
  try {
    makePrivateDir(temp);
    if (report.sealed) {
      placeSealed(backup, inner, backupKey, temp, problems);
    } else {
      placePlain(backup, manifest, temp, problems);
    }
    if (problems.empty()) {
      code = "check-failed";
      problems = hubDirectoryProblems(temp, now);
    }
    if (problems.empty()) {
      // What the operator compares before serving it (SECURITY.md §7.2).
      const auto config = loadConfig(temp / "focal.toml");
      if (!config) throw std::runtime_error(config.error());
      report.hubKeyFingerprint = crypto::fingerprint(config->hubId, loadHubKey(config->signingKey).publicKey);
      fs::rename(temp, newDir);
    }
  } catch (const std::exception& e) {
    problems.emplace_back(e.what());
  }
  if (!problems.empty()) {
    fs::remove_all(temp, ec);
    return refuse(report, code, std::move(problems));
  }
  return report;
}

}  // namespace focal::server

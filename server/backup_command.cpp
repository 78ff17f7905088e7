#include "server/backup_command.hpp"

#include "crypto/primitives.hpp"
#include "crypto/secure_file.hpp"
#include "server/config.hpp"
#include "server/directory.hpp"
#include "server/sqlite.hpp"
#include "server/startup.hpp"
#include "server/store.hpp"
#include "server/tls.hpp"

#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <limits>
#include <random>
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

BackupReport backupHub(const fs::path& dir, const fs::path& out) {
  auto config = loadConfig(dir / "focal.toml");
  if (!config) throw std::runtime_error(config.error());
  const fs::path db = inside(dir, config->database, "the database");
  const fs::path key = inside(dir, config->signingKey, "the hub key");
  const fs::path cert = inside(dir, config->tlsCertificate, "the TLS certificate");
  const fs::path tlsKey = inside(dir, config->tlsPrivateKey, "the TLS key");
  makePrivateDir(out);
  BackupReport report;
  try {
    backupDatabase(config->database, out / db);
    copySmall(dir / "focal.toml", out / "focal.toml", 0600);
    copySmall(config->signingKey, out / key, 0600);
    copySmall(config->tlsCertificate, out / cert, 0644);
    copySmall(config->tlsPrivateKey, out / tlsKey, 0600);
    nlohmann::json files = nlohmann::json::object();
    for (const auto& rel : {fs::path("focal.toml"), db, key, cert, tlsKey}) {
      struct stat st {};
      ::stat((out / rel).c_str(), &st);
      files[rel.string()] = {{"blake2b", hashFile(out / rel)}, {"mode", st.st_mode & 0777}};
      report.bytes += fs::file_size(out / rel);
    }
    {
      // Any schema version (a backup before an upgrade holds the older one).
      auto copy = sqlite::Database::open(out / db, sqlite::Database::Mode::ReadOnly);
      auto count = copy.prepare("SELECT count(*) FROM log_entries");
      if (!count->step()) throw std::runtime_error("the copied database has no directory log");
      report.logEntries = static_cast<std::uint64_t>(count->columnInt(0));
    }
    nlohmann::json m{{"format", 1}, {"hub_id", config->hubId}, {"log_entries", report.logEntries}, {"files", files}};
    crypto::writeFileAtomic(out / Manifest, m.dump(2) + "\n", 0600);
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

std::vector<std::string> restoreHub(const fs::path& backup, const fs::path& newDir,
                                    std::chrono::system_clock::time_point now) {
  std::error_code ec;
  if (fs::exists(newDir, ec)) return {newDir.string() + " exists: restore into a new directory"};
  nlohmann::json manifest;
  try {
    const auto bytes = crypto::readFileLimited(backup / Manifest, MaxSmallFileBytes);
    manifest = nlohmann::json::parse(bytes.begin(), bytes.end());
    if (manifest.at("format") != 1) return {"backup.json: unknown format"};
  } catch (const std::exception& e) {
    return {(backup / Manifest).string() + ": not a focald backup (" + e.what() + ")"};
  }
  std::vector<std::string> problems;
  std::vector<fs::path> files;
  std::vector<mode_t> modes;
  for (const auto& [name, entry] : manifest.at("files").items()) {
    const fs::path rel(name);
    if (rel.is_absolute() || rel.lexically_normal() != rel || (!rel.empty() && *rel.begin() == "..")) {
      problems.push_back("backup.json names a file outside the backup: " + name);
      continue;
    }
    try {
      if (hashFile(backup / rel) != entry.at("blake2b").get<std::string>()) {
        problems.push_back(name + ": altered or damaged");
      }
      // Never more open than owner read-write, others read.
      modes.push_back(static_cast<mode_t>(entry.at("mode").get<unsigned>() & 0644));
    } catch (const std::exception& e) {
      problems.emplace_back(name + ": " + e.what());
      modes.push_back(0600);
    }
    files.push_back(rel);
  }
  if (!problems.empty()) return problems;
  // Placed beside newDir, checked there, renamed into place last.
  const fs::path parent = fs::absolute(newDir).parent_path();
  const fs::path temp = parent / ("." + newDir.filename().string() + ".restoring-" + std::to_string(std::random_device{}()));
  try {
    makePrivateDir(temp);
    for (std::size_t i = 0; i < files.size(); ++i) {
      const auto& rel = files[i];
      fs::create_directories((temp / rel).parent_path());
      fs::copy_file(backup / rel, temp / rel);
      ::chmod((temp / rel).c_str(), modes[i]);
    }
    problems = hubDirectoryProblems(temp, now);
    if (problems.empty()) fs::rename(temp, newDir);
  } catch (const std::exception& e) {
    problems.emplace_back(e.what());
  }
  if (!problems.empty()) fs::remove_all(temp, ec);
  return problems;
}

}  // namespace focal::server

// focald: the Focal hub. main() only wires things together (STYLE.md 13):
//   focald init DIR [options]      create a hub (see init_command.hpp)
//   focald init --renew-cert DIR   a new TLS certificate for an existing hub
//   focald run DIR [options]       serve until SIGINT/SIGTERM
//   focald check DIR               report what would stop `run`, one line each
//   focald bundle DIR              the enrolment bundle (see bundle_command.hpp)
#include "crypto/passphrase_input.hpp"
#include "crypto/primitives.hpp"
#include "protocol/build_info.hpp"
#include "protocol/command_line.hpp"
#include "protocol/json_fields.hpp"
#include "server/clock.hpp"
#include "server/commit_queue.hpp"
#include "server/config.hpp"
#include "server/backup_command.hpp"
#include "server/bundle_command.hpp"
#include "server/certificate.hpp"
#include "server/directory.hpp"
#include "server/hub.hpp"
#include "server/hub_lock.hpp"
#include "server/init_command.hpp"
#include "server/logging.hpp"
#include "server/metrics_http.hpp"
#include "server/net.hpp"
#include "server/purge_command.hpp"
#include "server/startup.hpp"
#include "server/store.hpp"
#include "server/tls.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <sys/resource.h>
#ifdef FOCAL_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include <csignal>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <optional>
#include <cstdio>
#include <iostream>
#include <limits>
#include <string_view>

namespace {

using namespace focal;
using namespace focal::server;
namespace fs = std::filesystem;

// Exit codes of check and of a refused run.
constexpr int ExitProblems = 2;

// SECURITY/availability: every connection is a file descriptor, so the soft
// limit (often 1024) would cap connections far below max_connections and
// make accept fail instead of the hub's own caps answering. Raised to the
// hard limit; a hard limit still too low is reported.
void raiseFdLimit(const Limits& limits) {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return;
  if (r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
    ::getrlimit(RLIMIT_NOFILE, &r);
  }
  // Sessions, refusing sessions, and some for the database, log and listener.
  const rlim_t needed = rlim_t{limits.maxConnections} + Hub::MaxRefusingSessions + 64;
  if (r.rlim_cur != RLIM_INFINITY && r.rlim_cur < needed) {
    spdlog::warn("the file descriptor limit is {} but max_connections = {} needs about {}; raise the hard limit "
                 "(ulimit -Hn, LimitNOFILE=) or lower max_connections",
                 r.rlim_cur, limits.maxConnections, needed);
  }
}

// Tells the service manager focald's state (focald.service is Type=notify):
// "READY=1" once the listener is bound, "STOPPING=1" when a signal stops it.
// A no-op outside systemd (no NOTIFY_SOCKET) and in a build without
// libsystemd (FOCAL_SYSTEMD=OFF), whose package installs the unit with
// Type=simple (packaging/CMakeLists.txt).
void notifyServiceManager([[maybe_unused]] const std::string& state) {
#ifdef FOCAL_SYSTEMD
  (void)::sd_notify(0, state.c_str());
#endif
}

// A hub made before --admin-pub keeps the admin key init wrote into DIR:
// what `focald run` logs and `focald check` prints about it.
std::optional<std::string> legacyAdminKeyWarning(const fs::path& dir) {
  const auto file = legacyAdminKeyFile(dir);
  if (!file) return std::nullopt;
  return file->string() +
         " is an admin private key that an older focald init made on this machine; whoever controls the hub can "
         "use it. The admin copies it to their own machine and rotates it there (focal rotate-key --identity --out NEW.key), "
         "then it is deleted here (shred -u): SECURITY.md section 1, \"An admin key made by an older init\"";
}

int renewCommand(const fs::path& dir, bool json) {
  const RenewResult r = renewCertificate(dir);
  if (json) {
    nlohmann::json j = {{"certificate", r.certificate.string()},
                        {"certificateSha256", r.fingerprint},
                        {"previousCertificateSha256", r.previousFingerprint},
                        {"notAfter", r.notAfter}};
    std::cout << j.dump() << std::endl;
    return 0;
  }
  std::cout << "New TLS certificate and key for the hub in " << fs::absolute(dir).string() << "\n"
            << "  certificate:          " << r.certificate.string() << "\n"
            << "  valid until:          " << r.notAfter << "\n"
            << "  new SHA-256:          " << r.fingerprint << "\n"
            << "  replaced SHA-256:     " << (r.previousFingerprint.empty() ? "(unreadable)" : r.previousFingerprint)
            << "\n"
            << "Every client pins the hub's certificate: until it pins the new one it cannot connect.\n"
            << "Give every member " << r.certificate.string() << " and the new SHA-256 over a trusted channel;\n"
            << "each replaces the file its --ca option or profile names (focal profile set --ca FILE).\n"
            << "Then start the hub: focald run " << fs::absolute(dir).string() << std::endl;
  return 0;
}

int checkCommand(const fs::path& dir) {
  const fs::path configFile = dir / "focal.toml";
  auto config = loadConfig(configFile);
  if (!config) {
    std::cout << "problem: " << config.error() << std::endl;
    return ExitProblems;
  }
  std::size_t problems = 0;
  for (const auto& line : hubDirectoryProblems(dir, std::chrono::system_clock::now())) {
    std::cout << "problem: " << line << "\n";
    ++problems;
  }
  for (const auto& line : certificateWarnings(dir, *config, std::chrono::system_clock::now())) {
    std::cout << "warning: " << line << "\n";
  }
  if (const auto line = legacyAdminKeyWarning(dir)) std::cout << "warning: " << *line << "\n";
  if (const auto pid = HubLock::holder(dir)) {
    std::cout << "running: focald pid " << (*pid == 0 ? std::string("unknown") : std::to_string(*pid))
              << " serves this directory\n";
  }
  if (problems > 0) {
    std::cout << problems << (problems == 1 ? " problem" : " problems") << " in " << dir.string() << std::endl;
    return ExitProblems;
  }
  std::cout << "ok: " << dir.string() << std::endl;
  return 0;
}

int initCommand(const InitOptions& options, bool json) {
  SystemClock clock;
  const InitResult r = initHub(options, clock);
  nlohmann::json admins = nlohmann::json::array();
  for (const auto& [id, fp] : r.admins) admins.push_back({{"admin_id", id}, {"fingerprint", fp}});
  if (json) {
    // The JSON dialect of focal (docs/json.md, focald init).
    nlohmann::json j = {
        {"config_file", r.configFile.string()},
        {"hub_id", r.hubId},
        {"hub_address", r.address},
        {"ca_file", r.caFile.string()},
        {"certificate_sha256", r.certificateFingerprint},
        {"hub_key_fingerprint", r.hubKeyFingerprint},
        {"admin_id", r.adminId},
        {"admin_public_key_file", r.adminPublicKeyFile.string()},
        {"admin_fingerprint", r.adminFingerprint},
        {"admins", admins},
        {"admin_quorum", r.adminQuorum},
        {"forced_rotation_delay_ms", r.forcedRotationDelayMs},
    };
    std::cout << j.dump(2) << std::endl;
    return 0;
  }
  std::cout << "Focal hub created in " << r.configFile.parent_path().string() << "\n"
            << "  hub id:               " << r.hubId << "\n"
            << "  address:              " << r.address << "\n"
            << "  CA file (pin it):     " << r.caFile.string() << "\n"
            << "  certificate SHA-256:  " << r.certificateFingerprint << "\n"
            << "  hub key fingerprint:  " << r.hubKeyFingerprint << "\n"
            << "  admin:                " << r.adminId << " (registered from " << r.adminPublicKeyFile.string()
            << ")\n"
            << "  admin fingerprint:    " << r.adminFingerprint << "\n";
  for (std::size_t i = 1; i < r.admins.size(); ++i) {
    std::cout << "  co-admin:             " << r.admins[i].first << "  " << r.admins[i].second << "\n";
  }
  std::cout << "  admin quorum:         " << r.adminQuorum << " of " << r.admins.size()
            << " admins for every directory change; another member's key rotation waits "
            << r.forcedRotationDelayMs / 3'600'000 << " h\n";
  if (r.adminQuorum < 2) {
    std::cout << "WARNING: admin quorum 1: ONE admin key can register, revoke and rotate members. Use this\n"
              << "only for a test hub; a hub in service needs --co-admin FILE.pub:CC and --admin-quorum 2.\n";
  }
  std::cout
            << "Give clients the address, the CA file and both fingerprints over a trusted channel.\n"
            << "The hub's signing key (hub.key) is stored unencrypted, mode 0600, so the hub can sign\n"
            << "log heads unattended: protect and back it up like the TLS private key.\n"
            << "No admin private key exists on this machine: the admin's stays on their own.\n";
  std::cout << "Start the hub with: focald run " << r.configFile.parent_path().string() << std::endl;
  return 0;
}

void reportError(bool json, std::string_view code, const std::string& message);

using protocol::json_fields::isoTime;  // docs/json.md's times, as focal writes them

int purgeCommand(const fs::path& dir, bool dryRun, const std::string& asOf, bool json) {
  std::int64_t nowMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  if (!asOf.empty()) {
    // A day (its end: everything due during it counts) or a UTC time.
    std::optional<std::int64_t> at;
    if (const auto next = parseSealV1Until(asOf)) at = *next - 1;
    int y = 0;
    unsigned mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    char z = 0, tail = 0;
    if (!at && asOf.size() == 20 &&
        std::sscanf(asOf.c_str(), "%4d-%2u-%2uT%2u:%2u:%2u%c%c", &y, &mo, &d, &h, &mi, &sec, &z, &tail) == 7 &&
        z == 'Z' && h < 24 && mi < 60 && sec < 60) {
      if (const auto day = parseSealV1Until(asOf.substr(0, 10))) {
        at = *day - 86'400'000 + (std::int64_t{h} * 3600 + std::int64_t{mi} * 60 + sec) * 1000;
      }
    }
    if (!at) {
      reportError(json, "usage", "--as-of " + asOf + ": give a day YYYY-MM-DD or a time YYYY-MM-DDTHH:MM:SSZ (UTC)");
      return ExitProblems;  // usage
    }
    nowMs = *at;
  }
  PurgeReport r;
  try {
    r = purgeHub(dir, dryRun, nowMs);
  } catch (const HubLockHeld& e) {
    reportError(json, "hub-running", e.what());
    return ExitProblems;
  }
  std::uint64_t bytes = 0;
  for (const auto& l : r.tally.levels) bytes += l.attachmentBytes;
  if (json) {
    nlohmann::json levels = nlohmann::json::array();
    for (std::size_t i = 0; i < RetentionPolicy::Levels; ++i) {
      const auto& l = r.tally.levels[i];
      levels.push_back({{"level", RetentionPolicy::LevelNames[i]},
                        {"bulletins", l.bulletins},
                        {"acknowledged", l.acknowledged},
                        {"oldest_accepted_at", isoTime(l.oldestAcceptedMs)},
                        {"attachment_bytes", l.attachmentBytes}});
    }
    std::cout << nlohmann::json{{"dry_run", dryRun},
                                {"as_of", isoTime(nowMs)},
                                {"levels", levels},
                                {"bulletins", r.tally.bulletins()},
                                {"attachments", r.tally.blobs},
                                {"attachment_bytes", bytes},
                                {"batches", r.batches}}
                     .dump(2)
              << std::endl;
    return 0;
  }
  std::cout << (dryRun ? "Due under focal.toml [retention] as of " : "Purged under focal.toml [retention] as of ")
            << isoTime(nowMs).get<std::string>() << (dryRun ? " (dry run: nothing removed)" : "") << ":\n";
  std::cout << fmt::format("  {:<13} {:>10} {:>13}  {:<21} {:>17}\n", "LEVEL", "BULLETINS", "ACKNOWLEDGED", "OLDEST",
                           "ATTACHMENT BYTES");
  for (std::size_t i = 0; i < RetentionPolicy::Levels; ++i) {
    const auto& l = r.tally.levels[i];
    const auto oldest = isoTime(l.oldestAcceptedMs);
    std::cout << fmt::format("  {:<13} {:>10} {:>13}  {:<21} {:>17}\n", RetentionPolicy::LevelNames[i], l.bulletins,
                             l.acknowledged, oldest.is_null() ? "-" : oldest.get<std::string>(), l.attachmentBytes);
  }
  std::cout << "Total: " << r.tally.bulletins() << " bulletins, " << r.tally.blobs << " attachments, " << bytes
            << " attachment bytes" << (dryRun ? " would go." : " removed, in " + std::to_string(r.batches) +
                                                               " batches (one retention.purge audit row each).")
            << std::endl;
  return 0;
}

nlohmann::json recipientsJson(const std::vector<BackupRecipient>& recipients) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : recipients) j.push_back({{"member_id", r.memberId}, {"fingerprint", r.fingerprint}});
  return j;
}

std::string recipientsText(const std::vector<BackupRecipient>& recipients) {
  std::string text;
  for (const auto& r : recipients) text += "\n  " + r.memberId + "  fingerprint " + r.fingerprint;
  return text;
}

int backupCommand(const fs::path& dir, const fs::path& out, const std::vector<std::string>& encryptTo, bool json) {
  // The operators' FILE.pub, read and checked as init reads --admin-pub.
  std::vector<crypto::PublicKeys> recipients;
  for (const auto& file : encryptTo) {
    auto pub = crypto::readPublicKeyFile(file);
    if (!pub) throw BackupError("bad-public-key", "--encrypt-to " + file + ": " + crypto::describe(pub.error()));
    recipients.push_back(std::move(*pub));
  }
  const auto r = backupHub(dir, out, recipients);
  if (json) {
    std::cout << nlohmann::json{{"backup_dir", fs::absolute(out).string()},
                                {"hub_id", r.hubId},
                                {"log_entries", r.logEntries},
                                {"bytes", r.bytes},
                                {"created_at", isoTime(r.createdAtMs)},
                                {"sealed", r.sealed},
                                {"recipients", recipientsJson(r.recipients)}}
                     .dump(2)
              << std::endl;
    return 0;
  }
  std::cout << (r.sealed ? "Sealed backup of " : "Backup of ") << dir.string() << " in " << out.string() << ": "
            << r.logEntries << " directory-log entries, " << r.bytes << " bytes.\n";
  if (r.sealed) {
    std::cout << "Sealed to (check each fingerprint with its operator):" << recipientsText(r.recipients) << "\n"
              << "It holds no plaintext; only these operators' key files open it. Restore with:\n"
              << "  focald restore " << out.string() << " NEWDIR --decrypt-with FILE.key" << std::endl;
  } else {
    std::cout << "It holds the hub's private keys (mode 0700). Restore with: focald restore " << out.string()
              << " NEWDIR" << std::endl;
  }
  return 0;
}

// The operator's key file for restore --decrypt-with: the passphrase from
// --passphrase-file, else FOCAL_PASSPHRASE, else the terminal, as focal asks it.
crypto::Keyring operatorKeys(const fs::path& keyFile, const fs::path& passphraseFile) {
  std::string passphrase;
  if (!passphraseFile.empty()) {
    try {
      passphrase = crypto::readPassphraseFile(passphraseFile);
    } catch (const std::length_error& e) {
      throw BackupError("usage", e.what());
    } catch (const std::exception& e) {
      throw BackupError("key-file", e.what());
    }
  } else if (const char* env = std::getenv("FOCAL_PASSPHRASE"); env != nullptr) {
    passphrase = env;
  } else if (auto typed = crypto::promptHidden("Passphrase of " + keyFile.string() + ": ")) {
    passphrase = std::move(*typed);
  } else {
    throw BackupError("key-file", "no terminal to ask the passphrase of " + keyFile.string() +
                                      ": give --passphrase-file FILE or set FOCAL_PASSPHRASE");
  }
  auto keys = crypto::readKeyFile(keyFile, passphrase);
  sodium_memzero(passphrase.data(), passphrase.size());
  if (!keys) {
    throw BackupError("key-file", "--decrypt-with " + keyFile.string() + ": " + crypto::describe(keys.error()));
  }
  return crypto::Keyring(std::move(*keys));
}

int restoreCommand(const fs::path& backup, const fs::path& newDir, const fs::path& decryptWith,
                   const fs::path& passphraseFile, bool json) {
  RestoreOptions options;
  if (!decryptWith.empty()) options.decryptionKeys = [&] { return operatorKeys(decryptWith, passphraseFile); };
  const auto r = restoreHub(backup, newDir, std::chrono::system_clock::now(), options);
  if (!r.problems.empty()) {
    if (json) {
      std::string message;
      for (const auto& line : r.problems) message += (message.empty() ? "" : "; ") + line;
      reportError(true, r.code, message + "; nothing restored");
    } else {
      for (const auto& line : r.problems) std::cout << "problem: " << line << "\n";
      std::cout << "nothing restored" << std::endl;
    }
    return ExitProblems;
  }
  if (json) {
    std::cout << nlohmann::json{{"hub_dir", fs::absolute(newDir).string()},
                                {"hub_id", r.hubId},
                                {"hub_key_fingerprint", r.hubKeyFingerprint},
                                {"log_entries", r.logEntries},
                                {"created_at", r.createdAtMs ? isoTime(*r.createdAtMs) : nlohmann::json()},
                                {"sealed", r.sealed},
                                {"recipients", recipientsJson(r.recipients)}}
                     .dump(2)
              << std::endl;
    return 0;
  }
  std::cout << "Restored hub " << r.hubId << " (" << r.logEntries << " directory-log entries";
  if (r.createdAtMs) std::cout << ", backed up at " << isoTime(*r.createdAtMs).get<std::string>();
  std::cout << ") into " << newDir.string() << ".\n"
            << "  hub key fingerprint: " << r.hubKeyFingerprint
            << " (compare it with the one focald init printed before you serve this hub)\n";
  if (r.sealed) std::cout << "The backup was sealed to:" << recipientsText(r.recipients) << "\n";
  std::cout << "Start it with: focald run " << newDir.string() << std::endl;
  return 0;
}

// focald's exit codes (also in `focald --help`).
constexpr int ExitFailure = 1;  // a failure at run time: I/O, key, database, TLS
constexpr int ExitUsage = 2;    // bad arguments, unknown command or option, invalid configuration

constexpr const char* Footer = R"(Exit codes:
  0  ok (run: stopped by SIGINT/SIGTERM)
  1  failure at run time: I/O, key file, database, TLS
  2  usage: bad arguments, unknown command or option, invalid focal.toml or --listen;
     or a hub directory problem that `focald check` reports (file modes, certificate
     validity), or the directory is held by another running focald; or a backup that
     restore refuses (damaged, sealed to another key), a key file or FILE.pub that
     does not open
With --json, an error is {"error": {"code": ..., "message": ...}} on stdout (docs/json.md).)";

// An error as focal reports it: JSON on stdout with --json, else a line on stderr.
void reportError(bool json, std::string_view code, const std::string& message) {
  if (json) {
    std::cout << nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump(2) << std::endl;
  } else {
    std::cerr << "focald: " << (code == "usage" ? "" : "error: ") << message << std::endl;
  }
}

// The metrics listener of `hub` on HOST:PORT (metrics_http.hpp).
std::unique_ptr<MetricsServer> bindMetrics(const std::string& host, std::uint16_t port, const Hub& hub,
                                           const CommitQueue& commits) {
  const std::string where = formatListenAddress(host, port);
  std::unique_ptr<MetricsServer> server;
  try {
    server = std::make_unique<MetricsServer>(host, port,
                                             metricsRoutes(hub.metrics(), commits, std::string(protocol::buildVersion())));
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("the metrics listener cannot listen on " + where + ": " + e.code().message() +
                             " (change [metrics] listen in focal.toml, or set enabled = false)");
  }
  if (!server->endpoint().address().is_loopback()) {
    spdlog::warn("the metrics listener on {} is not on loopback: it has no authentication; keep it on a private "
                 "network", where);
  }
  return server;
}

// SIGHUP (systemctl reload focald): the TLS certificate and key
// (Hub::reloadTls), and focal.toml's [log] level unless --log-level set
// it. Sessions are untouched; a file that does not load changes nothing.
void reloadOnHangup(Hub& hub, const fs::path& dir, const std::optional<std::string>& logLevelOverride) {
  notifyServiceManager("RELOADING=1");
  spdlog::info("SIGHUP: reloading the TLS certificate and the log level");
  hub.reloadTls();
  if (logLevelOverride) {
    spdlog::info("log level stays {} (set by --log-level)", *logLevelOverride);
  } else if (auto config = loadConfig(dir / "focal.toml"); !config) {
    spdlog::error("focal.toml not read again, the log level stays: {}", config.error());
  } else {
    // Said under whichever of the two levels shows more.
    const auto next = spdlog::level::from_str(config->logLevel);
    const auto said = "log level " + config->logLevel + " (focal.toml [log] level)";
    if (next > spdlog::get_level()) spdlog::info("{}", said);
    spdlog::set_level(next);
    if (next <= spdlog::level::info) spdlog::info("{}", said);
  }
  notifyServiceManager("READY=1");
}

struct RunOptions {
  fs::path dir;
  std::string listen;                    // overrides [hub] listen
  fs::path testClock;                    // tests only
  std::optional<std::string> logLevel;  // overrides [log] level, also on SIGHUP
};

int runCommand(const RunOptions& options) {
  const fs::path& dir = options.dir;
  const std::string& listenOverride = options.listen;
  const fs::path& testClockFile = options.testClock;
  // One focald per directory, for the life of this process (hub_lock.hpp).
  std::optional<HubLock> lock;
  try {
    lock.emplace(HubLock::acquire(dir));
  } catch (const std::exception& e) {
    std::cerr << "focald: " << e.what() << std::endl;
    return ExitProblems;
  }
  auto config = loadConfig(dir / "focal.toml");
  if (!config) {
    std::cerr << "focald: " << config.error() << std::endl;
    return ExitUsage;
  }
  Config cfg = std::move(config).value();
  if (const auto problems = checkHubFiles(dir, cfg, std::chrono::system_clock::now()); !problems.empty()) {
    for (const auto& line : problems) std::cerr << "focald: " << line << "\n";
    std::cerr << "focald: not started (focald check " << dir.string() << " lists every problem)" << std::endl;
    return ExitProblems;
  }
  for (const auto& line : certificateWarnings(dir, cfg, std::chrono::system_clock::now())) spdlog::warn("{}", line);
  if (const auto line = legacyAdminKeyWarning(dir)) spdlog::warn("{}", *line);
  if (!options.logLevel) spdlog::set_level(spdlog::level::from_str(cfg.logLevel));
  raiseFdLimit(cfg.limits);
  if (!listenOverride.empty()) {
    auto addr = parseListenAddress(listenOverride);
    if (!addr) {
      std::cerr << "focald: --listen: " << addr.error() << std::endl;
      return ExitUsage;
    }
    cfg.listenHost = addr->host;
    cfg.listenPort = addr->port;
  }

  SystemClock systemClock;
  std::unique_ptr<FileClock> testClock;
  if (!testClockFile.empty()) {
    testClock = std::make_unique<FileClock>(testClockFile);
    spdlog::warn("TEST CLOCK: hub time is read from {}; never run a real hub like this", testClockFile.string());
  }
  Clock& clock = testClock ? static_cast<Clock&>(*testClock) : systemClock;
  auto hubKey = loadHubKey(cfg.signingKey);
  // SECURITY/data: an upgrade changes the database in place; the hub as it
  // was is backed up first, or the hub does not start.
  try {
    if (auto saved = backupBeforeUpgrade(dir, cfg.database, std::chrono::system_clock::now())) {
      spdlog::info("the database schema will be upgraded to version {}; the hub as it was is backed up in {}",
                   Store::SchemaVersion, saved->string());
    }
  } catch (const std::exception& e) {
    std::cerr << "focald: the database schema needs an upgrade, and the backup before it failed: " << e.what()
              << "\nfocald: not started; nothing was changed" << std::endl;
    return 1;
  }
  if (Store::migrateFile(cfg.database)) spdlog::info("database schema upgraded to version {}", Store::SchemaVersion);
  // The space reserve lives beside the database, on the same filesystem,
  // so deleting it frees exactly the space the database needs.
  CommitQueue::Options writerOptions;
  writerOptions.maxQueued = cfg.limits.writeQueue;
  writerOptions.maxBatch = cfg.limits.writeBatch;
  writerOptions.reserveFile = cfg.database.parent_path() / "focal.reserve";
  CommitQueue commits(cfg.database, writerOptions);
  Store store = Store::openReader(cfg.database);
  Directory directory = loadDirectory(store, cfg, hubKey, clock);
  auto tls = makeServerTlsContext(cfg.tlsCertificate, cfg.tlsPrivateKey);
  spdlog::info("hub {}: log size {}, {} members", directory.hubId(), directory.size(), directory.members().size());

  net::io_context io(1);
  const std::string host = cfg.listenHost;
  const std::uint16_t port = cfg.listenPort;
  const std::string hubId = directory.hubId();
  const bool metricsEnabled = cfg.metricsEnabled;
  const std::string metricsHost = cfg.metricsHost;
  const std::uint16_t metricsPort = cfg.metricsPort;
  Hub hub(io, std::move(cfg), clock, store, commits, std::move(directory), std::move(hubKey), tls);
  if (testClock) {
    hub.setDeadlinePoll(std::chrono::milliseconds(100));
    hub.setPurgePoll(std::chrono::milliseconds(100));
  }
  // Bound before anything starts: a taken port stops focald here (exit 1).
  std::unique_ptr<MetricsServer> metrics;
  if (metricsEnabled) metrics = bindMetrics(metricsHost, metricsPort, hub, commits);
  // Signals are caught from here on (queued until waited for), before
  // anyone is told the hub listens.
  net::signal_set signals(io, SIGINT, SIGTERM);
  net::signal_set hangups(io, SIGHUP);
  commits.start();
  const auto bound = hub.listen(host, port);
  if (metrics) {
    // Integration tests parse this line too, before the listener's.
    std::cout << "focald metrics on "
              << formatListenAddress(metrics->endpoint().address().to_string(), metrics->endpoint().port())
              << std::endl;
    metrics->start();
  }
  // Integration tests parse this line for the port (port 0 = any).
  std::cout << "focald listening on " << formatListenAddress(bound.address().to_string(), bound.port())
            << std::endl;
  hub.auditMemberStates();
  hub.start();

  std::function<void()> awaitHangup = [&] {
    hangups.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      reloadOnHangup(hub, dir, options.logLevel);
      awaitHangup();
    });
  };
  awaitHangup();
  signals.async_wait([&hub, &hangups](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {} received", signal);
    hangups.cancel();
    notifyServiceManager("STOPPING=1");
    hub.stop();
  });
  // Ready once bound and SIGTERM is handled (a stop right after is clean).
  notifyServiceManager("READY=1\nSTATUS=hub " + hubId + " listening on " +
                       formatListenAddress(bound.address().to_string(), bound.port()));
  io.run();
  commits.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Store::configureProcess();  // before any connection opens
  CLI::App app{"focald: the Focal hub"};
  app.set_version_flag("--version", "focald " + std::string(protocol::buildVersion()),
                       "Print the version (and the git revision it was built from) and exit");
  app.require_subcommand(1);
  app.footer(Footer);

  InitOptions init;
  bool json = false;
  std::string tlsCert;
  std::string tlsKey;
  auto* initCmd = app.add_subcommand("init", "Create a new hub in DIR");
  initCmd->add_option("DIR", init.dir, "Hub directory (created)")->required();
  initCmd->add_option("--listen", init.listen, "HOST:PORT to listen on")->capture_default_str();
  initCmd->add_option("--name", init.hubId, "Hub id")->capture_default_str();
  initCmd->add_option("--metrics", init.metrics,
                      "HOST:PORT of the metrics and health listener (/metrics, /healthz, /readyz; no authentication), "
                      "or off; default 127.0.0.1:7444 (127.0.0.1:0 when --listen's port is 0)");
  initCmd->add_option("--tls-cert", tlsCert, "TLS certificate chain (PEM); default: generate a self-signed one");
  initCmd->add_option("--tls-key", tlsKey, "TLS private key (PEM)");
  std::string adminPub;
  initCmd->add_option("--admin-pub", adminPub,
                      "The first admin's public key file (FILE.pub, made by `focal keygen` on the admin's own "
                      "machine); required. No admin private key is made on the hub.");
  initCmd->add_option("--admin-id", init.adminId,
                      "Member id of the first admin (default: the one in --admin-pub; if given, must match it)");
  initCmd->add_option("--admin-name", init.adminName, "Display name of the first admin");
  initCmd->add_option("--admin-state", init.adminState,
                      "ISO 3166-1 alpha-2 member state of the first admin (one of --member-states)");
  initCmd->add_option("--member-states", init.memberStates,
                      "The working group's member states, ISO 3166-1 alpha-2, comma-separated (written to "
                      "focal.toml [working_group]; default: the ten ASEAN states BN,ID,KH,LA,MM,MY,PH,SG,TH,VN)")
      ->delimiter(',');
  initCmd->add_option("--admin-institution", init.adminInstitution,
                      "law-enforcement, policy-security, secretariat, dialogue-partner or resource-panel")
      ->capture_default_str();
  initCmd->add_flag("--json", json, "Print the result as one JSON object");
  initCmd->footer(
      "Example (the admin, on their own machine, then the operator, on the hub):\n"
      "  focal keygen --member sg-admin --out sg-admin.key       # gives sg-admin.key.pub\n"
      "  focald init /var/lib/focal --admin-pub sg-admin.key.pub --admin-state SG\n"
      "The .pub file is public; check its fingerprint with the admin over a second channel.");
  initCmd->add_option("--witness", init.witnessKeyFiles,
                      "A witness of the log: a member's public key file (FILE.pub from `focal keygen`); repeat for "
                      "each. Clients then require cosignatures of the log head from these members "
                      "(`focal witness --follow`) before they seal or accept anything");
  std::uint32_t witnessThreshold = 0;
  auto* thresholdOpt = initCmd->add_option("--witness-threshold", witnessThreshold,
                                           "How many fresh witness cosignatures clients require (1..the number of "
                                           "--witness; default: all)");
  std::vector<std::string> coAdmins;
  initCmd->add_option("--co-admin", coAdmins,
                      "A further first admin: FILE.pub:CC (its public key file and member state; FILE.pub alone "
                      "for an admin without a state, e.g. the secretariat's); repeat for each. With co-admins "
                      "every directory change needs --admin-quorum admins from two member states");
  std::uint32_t adminQuorum = 0;
  auto* quorumOpt = initCmd->add_option("--admin-quorum", adminQuorum,
                                        "k: how many admins must sign a registration, revocation, role change "
                                        "or another member's key rotation (default: 2 with --co-admin, else 1: "
                                        "a single-admin test hub, which every client warns about)");
  std::string rotationDelay = "72h";
  initCmd->add_option("--forced-rotation-delay", rotationDelay,
                      "How long an admin's rotation of ANOTHER member's keys waits before it takes effect, so the "
                      "member is told and can object: 72h, 3d, 30m, or 0 for none (at most 30d)")
      ->capture_default_str();
  bool renewCert = false;
  initCmd->add_flag("--renew-cert", renewCert,
                    "For an existing hub in DIR (stopped): a new self-signed TLS key and certificate, everything "
                    "else kept; every client must then pin the new certificate");

  fs::path checkDir;
  auto* checkCmd = app.add_subcommand(
      "check", "Report what would stop `focald run DIR` (configuration, key file modes, certificate, database "
               "integrity, the directory log's chain and signatures), one line each; exit 2 on any problem");
  checkCmd->add_option("DIR", checkDir, "Hub directory")->required();

  fs::path bundleDir;
  std::string bundleOut;
  std::string bundleAddress;
  auto* bundleCmd = app.add_subcommand(
      "bundle", "Print the enrolment bundle of the hub in DIR (public material only) for a new point of contact");
  bundleCmd->add_option("DIR", bundleDir, "Hub directory (the hub may be running)")->required();
  bundleCmd->add_option("--out", bundleOut, "Write the bundle to FILE (mode 0644; never overwrites) instead of stdout");
  bundleCmd->add_option("--address", bundleAddress,
                        "HOST:PORT clients connect to (default: focal.toml's listen, which is refused when it is a "
                        "wildcard such as 0.0.0.0 or [::])");
  bundleCmd->footer(
      "The bundle (JSON, PROTOCOL.md section 11.3) holds the hub id, address, hub public key, the TLS certificate\n"
      "clients pin, the genesis entry hash, the witness policy and the latest signed head with its witness\n"
      "cosignatures (a warning on stderr when it has fewer than the threshold); no private key. Hand it to the member\n"
      "over a channel that protects its integrity; they run: focal profile init --bundle FILE --key KEYFILE");

  fs::path backupDir, backupOut;
  std::vector<std::string> encryptTo;
  auto* backupCmd = app.add_subcommand(
      "backup", "Copy the hub in DIR (it may be running) into OUT, a new directory (0700), consistently; "
                "sealed to operators' keys with --encrypt-to");
  backupCmd->add_option("DIR", backupDir, "Hub directory")->required();
  backupCmd->add_option("OUT", backupOut, "New directory for the backup (must not exist)")->required();
  backupCmd->add_option("--encrypt-to", encryptTo,
                        "Seal the backup to this operator's public key file (FILE.pub from `focal keygen`); repeat "
                        "for each operator who may restore it. No plaintext of the database, keys or "
                        "configuration is written to OUT")
      ->allow_extra_args(false);
  backupCmd->add_flag("--json", json, "Print the result as one JSON object (docs/json.md)");
  backupCmd->footer(
      "The database is copied with SQLite's online backup API (one consistent snapshot while the hub keeps\n"
      "writing), with focal.toml, hub.key and the TLS certificate and key, and backup.json naming each file's\n"
      "BLAKE2b-256. Without --encrypt-to the backup holds the hub's private keys in the clear: keep it like\n"
      "the hub directory. With --encrypt-to every file is sealed (XChaCha20-Poly1305 secretstream under a\n"
      "random backup key, sealed to each operator's X25519 key) and backup.json's manifest is encrypted and\n"
      "authenticated; the database's copy is staged in a 0700 directory beside the live one while it is\n"
      "sealed and removed on every path. Operators make their key on their own machine.\n"
      "Example:\n"
      "  focal keygen --member ops-alice --out ops-alice.key        # on the operator's machine\n"
      "  focald backup /var/lib/focal /srv/backup/focal-$(date +%F) --encrypt-to ops-alice.key.pub \\\n"
      "      --encrypt-to ops-bob.key.pub\n"
      "  focald restore /srv/backup/focal-2026-12-07 /var/lib/focal-restored --decrypt-with ops-alice.key");
  fs::path restoreFrom, restoreInto, decryptWith, passphraseFile;
  auto* restoreCmd = app.add_subcommand(
      "restore", "Check a backup and place it as a new hub directory, only if focald run would accept it");
  restoreCmd->add_option("BACKUP", restoreFrom, "A directory made by focald backup")->required();
  restoreCmd->add_option("NEWDIR", restoreInto, "The hub directory to create (must not exist)")->required();
  restoreCmd->add_option("--decrypt-with", decryptWith,
                         "For a sealed backup: the key file (FILE.key) of an operator it is sealed to; its "
                         "passphrase from --passphrase-file, else FOCAL_PASSPHRASE, else the terminal");
  auto* passphraseOpt = restoreCmd->add_option("--passphrase-file", passphraseFile,
                                               "Read the --decrypt-with key file's passphrase from the first line of "
                                               "FILE");
  restoreCmd->add_flag("--json", json, "Print the result as one JSON object (docs/json.md)");
  restoreCmd->footer(
      "Every file is checked against backup.json (a sealed backup: opened with --decrypt-with, every file\n"
      "decrypted and authenticated, a file altered, cut short, swapped or missing refused), then the copy is\n"
      "checked as focald check does (database integrity, the directory log's chain and signatures, the hub key\n"
      "against the log) in a temporary directory (0700) beside NEWDIR, which is renamed to NEWDIR only when\n"
      "nothing is wrong. Exit 2 on a problem, one line each; nothing is left behind.\n"
      "Example:\n"
      "  focald restore /srv/backup/focal-2026-12-07 /var/lib/focal-restored --decrypt-with ops-alice.key\n"
      "  focald check /var/lib/focal-restored");

  fs::path purgeDir;
  bool purgeDryRun = false;
  std::string purgeAsOf;
  auto* purgeCmd = app.add_subcommand(
      "purge", "Apply focal.toml [retention] to the hub in DIR now (hub stopped), or show what is due (--dry-run)");
  purgeCmd->add_option("DIR", purgeDir, "Hub directory")->required();
  purgeCmd->add_flag("--dry-run", purgeDryRun,
                     "Only show what would go, per TLP level (read only; the hub may be running)");
  auto* asOfOpt = purgeCmd->add_option("--as-of", purgeAsOf,
                                       "With --dry-run: what will be due by then: a day YYYY-MM-DD (its end) or a time "
                                       "YYYY-MM-DDTHH:MM:SSZ, UTC");
  purgeCmd->add_flag("--json", json, "Print the result as one JSON object (docs/json.md)");
  purgeCmd->footer(
      "The running hub applies [retention] itself every hour, in bounded batches, each audited; this command\n"
      "does the same offline and refuses while focald runs on DIR. Purged: bulletins past their level's\n"
      "acknowledged_days or unacknowledged_days, with their queue entries and the attachments no other\n"
      "bulletin refers to; the sender's focal status then says expired. Never purged: the directory log, the\n"
      "audit trail, a summary record whose silence procedure is open.\n"
      "Example:\n"
      "  focald purge /var/lib/focal --dry-run --as-of 2027-03-31\n"
      "  systemctl stop focald && focald purge /var/lib/focal && systemctl start focald");

  fs::path runDir;
  std::string logLevel = "info";
  std::string listen;
  auto* runCmd = app.add_subcommand(
      "run", "Serve the hub in DIR until SIGINT/SIGTERM; SIGHUP reloads the TLS certificate and the log level");
  runCmd->add_option("DIR", runDir, "Hub directory")->required();
  std::string logFormat = "auto";
  runCmd->add_option("--log-format", logFormat,
                     "auto, text, json or journal: json is one JSON object per line on stderr (time, level, message, "
                     "logger, thread, session); journal sends to journald with priorities; auto is journal when "
                     "stderr is the journal (under systemd), else text")
      ->check(CLI::IsMember({"auto", "text", "json", "journal"}))
      ->capture_default_str();
  auto* logLevelOpt = runCmd->add_option("--log-level", logLevel,
                                         "trace, debug, info, warn, error or off (default: focal.toml [log] level, "
                                         "itself info by default); kept across SIGHUP")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  runCmd->add_option("--listen", listen, "HOST:PORT, overrides the configuration");
  fs::path testClock;
  runCmd->add_option("--test-clock", testClock,
                     "TESTS ONLY: read the hub's time (Unix ms, one integer) from FILE on every use, so tests can "
                     "move time past comment deadlines. Whoever can write FILE controls the hub's clock.");

  if (auto rc = protocol::parseCommandLine(app, argc, argv, "focald", [&](const std::string& message) {
        bool wantJson = false;
        for (int i = 1; i < argc; ++i) wantJson = wantJson || std::string_view(argv[i]) == "--json";
        reportError(wantJson, "usage", message);
        return ExitUsage;
      })) {
    return *rc;
  }

  try {
    crypto::initialize();
    crypto::disableCoreDumps();
    std::signal(SIGPIPE, SIG_IGN);
    // Only `run` logs much; its --log-format decides, every other command logs text.
    installLogger(*runCmd ? parseLogFormat(logFormat).value_or(LogFormat::Auto) : LogFormat::Text);
    spdlog::set_level(spdlog::level::from_str(logLevel));

    if (*checkCmd) return checkCommand(checkDir);
    if (*purgeCmd) {
      if (*asOfOpt && !purgeDryRun) {
        reportError(json, "usage", "--as-of goes with --dry-run: a purge removes only what is due now");
        return ExitUsage;
      }
      return purgeCommand(purgeDir, purgeDryRun, purgeAsOf, json);
    }
    if (*backupCmd) return backupCommand(backupDir, backupOut, encryptTo, json);
    if (*restoreCmd) {
      if (*passphraseOpt && decryptWith.empty()) {
        reportError(json, "usage", "--passphrase-file goes with --decrypt-with");
        return ExitUsage;
      }
      return restoreCommand(restoreFrom, restoreInto, decryptWith, passphraseFile, json);
    }
    if (*bundleCmd) {
      std::string warning;
      const std::string text = makeEnrolmentBundle(bundleDir, bundleAddress, &warning);
      if (!warning.empty()) std::cerr << warning << std::endl;
      if (bundleOut.empty()) {
        std::cout << text << std::flush;
      } else {
        writeNewPublicFile(bundleOut, text);
        std::cout << "Enrolment bundle of " << bundleDir.string() << " written to " << bundleOut << std::endl;
      }
      return 0;
    }
    if (*initCmd && renewCert) return renewCommand(init.dir, json);
    if (*initCmd) {
      if (adminPub.empty()) {
        reportError(json, "usage",
                    "focald init needs --admin-pub FILE.pub: the first admin makes their keys on their own "
                    "machine (focal keygen --member ID --out FILE.key) and gives you FILE.key.pub");
        return ExitUsage;
      }
      init.adminPublicKeyFile = adminPub;
      for (const auto& co : coAdmins) {
        const auto colon = co.rfind(':');
        const bool hasState = colon != std::string::npos && co.size() - colon == 3;
        init.coAdmins.push_back({hasState ? co.substr(0, colon) : co, hasState ? co.substr(colon + 1) : ""});
      }
      if (*quorumOpt) init.adminQuorum = adminQuorum;
      const auto delay = rotationDelay == "0" ? std::optional<std::int64_t>(0) : protocol::parseDurationMs(rotationDelay);
      if (!delay) {
        reportError(json, "usage", "--forced-rotation-delay " + rotationDelay + ": give 72h, 3d, 30m, 90s or 0");
        return ExitUsage;
      }
      init.forcedRotationDelayMs = *delay;
      if (*thresholdOpt) init.witnessThreshold = witnessThreshold;
      if (!tlsCert.empty()) init.tlsCertificate = tlsCert;
      if (!tlsKey.empty()) init.tlsPrivateKey = tlsKey;
      return initCommand(init, json);
    }
    return runCommand(RunOptions{runDir, listen, testClock,
                                 logLevelOpt->count() > 0 ? std::optional<std::string>(logLevel) : std::nullopt});
  } catch (const BackupError& e) {
    reportError(json, e.code(), e.what());
    return ExitProblems;
  } catch (const std::exception& e) {
    reportError(json && (*initCmd || *purgeCmd || *backupCmd || *restoreCmd), "failure", e.what());
    return ExitFailure;
  }
}

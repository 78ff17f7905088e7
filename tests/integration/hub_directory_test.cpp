// The hub directory and what focald refuses to start with (issue 18,
// findings 5 and 6): one focald per directory (an flock naming the
// holder's pid), private key files readable by others, certificates outside
// their validity, and what init says about the first admin's key. Every
// case runs the real focald binary.
#include "hub_fixture.hpp"

#include "server/certificate.hpp"
#include "server/sqlite.hpp"
#include "server/store.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <fstream>

using namespace focal;
using namespace focal::test;
using namespace std::chrono_literals;
using SystemClock = std::chrono::system_clock;

namespace {

// focald run on `dir`, given at most `timeout`: a run that is refused exits
// at once; one that starts is stopped by SIGINT at the timeout.
ProcessResult runFocald(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 15s) {
  std::vector<std::string> argv{FOCALD_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return runProcess(argv, {{"FOCAL_PASSPHRASE", TestPassphrase}}, std::nullopt, timeout);
}

ProcessResult runOn(const Hub& hub) { return runFocald({"run", hub.dir().string(), "--listen", "127.0.0.1:0"}); }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void replaceCertificate(const Hub& hub, SystemClock::time_point notBefore, SystemClock::time_point notAfter) {
  server::generateSelfSignedCertificate(hub.dir() / "tls" / "cert.pem", hub.dir() / "tls" / "key.pem", "focal-hub",
                                        {"localhost", "127.0.0.1"}, server::CertificateValidity{notBefore, notAfter});
}

}  // namespace

TEST_CASE("One focald per directory: a second `focald run DIR` exits non-zero naming the running one's pid, and the "
          "first keeps serving",
          "[hostile][lock]") {
  Hub hub;
  auto member = hub.createMember("sg-spf", "SG");
  const auto second = runOn(hub);
  INFO(second.out << second.err);
  CHECK(second.exitCode != 0);
  CHECK(contains(second.err, "pid " + std::to_string(hub.pid())));
  CHECK_FALSE(contains(second.out, "listening"));
  // The first one was not disturbed.
  auto c = hub.connect(member.keys);
  CHECK(c->directory().members.size() == 2);
  // After it stops, the directory is free again (the lock is the process's,
  // not the file's).
  c.reset();
  hub.restart();
  CHECK_NOTHROW(hub.connect(member.keys));
}

TEST_CASE("One focald per directory: `focald init` on a running hub's directory exits non-zero naming its pid and "
          "changes nothing",
          "[hostile][lock]") {
  Hub hub;
  const auto configBefore = slurp(hub.dir() / "focal.toml");
  TempDir adminHome;
  const auto adminKey = makeKeyFileWithPublic(adminHome.path());
  const auto init = runFocald({"init", hub.dir().string(), "--admin-pub", adminKey.string() + ".pub"});
  INFO(init.out << init.err);
  CHECK(init.exitCode != 0);
  CHECK(contains(init.err, "pid " + std::to_string(hub.pid())));
  CHECK(slurp(hub.dir() / "focal.toml") == configBefore);
  // Renewing the certificate is refused too while the hub runs.
  const auto renew = runFocald({"init", "--renew-cert", hub.dir().string()});
  INFO(renew.out << renew.err);
  CHECK(renew.exitCode != 0);
  CHECK(contains(renew.err, "pid " + std::to_string(hub.pid())));
  CHECK_NOTHROW(hub.connect(hub.adminKeys()));
}

TEST_CASE("focald refuses to start when a private key file is accessible by group or others, naming the file and "
          "the chmod that fixes it - `focald check` reports the same",
          "[hostile][startup]") {
  Hub hub;
  hub.stop();
  for (const auto& key : {hub.dir() / "hub.key", hub.dir() / "tls" / "key.pem"}) {
    for (const mode_t mode : {mode_t{0644}, mode_t{0640}, mode_t{0604}, mode_t{0620}}) {
      INFO(key.string() << " mode " << std::oct << mode);
      REQUIRE(::chmod(key.c_str(), mode) == 0);
      const auto run = runOn(hub);
      INFO(run.out << run.err);
      CHECK(run.exitCode != 0);
      CHECK(contains(run.err, key.string()));
      CHECK(contains(run.err, "chmod 600 " + key.string()));
      CHECK_FALSE(contains(run.out, "listening"));
      const auto check = runFocald({"check", hub.dir().string()});
      INFO(check.out << check.err);
      CHECK(check.exitCode != 0);
      CHECK(contains(check.out, "chmod 600 " + key.string()));
      REQUIRE(::chmod(key.c_str(), 0600) == 0);
    }
  }
  const auto check = runFocald({"check", hub.dir().string()});
  INFO(check.out << check.err);
  CHECK(check.exitCode == 0);
  CHECK_NOTHROW(hub.start());
}

TEST_CASE("focald refuses to start with an expired or not yet valid TLS certificate - `focald init --renew-cert` "
          "makes a new one, keeps everything else and prints the fingerprint clients must pin",
          "[hostile][startup]") {
  Hub hub;
  auto member = hub.createMember("sg-spf", "SG");
  hub.stop();
  const auto now = SystemClock::now();

  SECTION("expired") { replaceCertificate(hub, now - 24h * 30, now - 24h); }
  SECTION("not yet valid") { replaceCertificate(hub, now + 24h, now + 24h * 30); }
  const bool expired = server::certificateValidity(hub.caFile()).notAfter < now;

  const auto run = runOn(hub);
  INFO(run.out << run.err);
  CHECK(run.exitCode != 0);
  CHECK(contains(run.err, (hub.dir() / "tls" / "cert.pem").string()));
  CHECK(contains(run.err, expired ? "expired on" : "not valid until"));
  CHECK(contains(run.err, "focald init --renew-cert"));
  CHECK_FALSE(contains(run.out, "listening"));

  const auto check = runFocald({"check", hub.dir().string()});
  INFO(check.out << check.err);
  CHECK(check.exitCode != 0);
  CHECK(contains(check.out, expired ? "expired on" : "not valid until"));

  const auto oldFingerprint = server::certificateFingerprint(hub.caFile());
  const auto configBefore = slurp(hub.dir() / "focal.toml");
  const auto hubKeyBefore = slurp(hub.dir() / "hub.key");
  const auto renew = runFocald({"init", "--renew-cert", hub.dir().string()});
  INFO(renew.out << renew.err);
  REQUIRE(renew.exitCode == 0);
  const auto newFingerprint = server::certificateFingerprint(hub.caFile());
  CHECK(newFingerprint != oldFingerprint);
  CHECK(contains(renew.out, newFingerprint));
  CHECK(contains(renew.out, "pin"));
  CHECK(slurp(hub.dir() / "focal.toml") == configBefore);
  CHECK(slurp(hub.dir() / "hub.key") == hubKeyBefore);
  struct stat st {};
  REQUIRE(::stat((hub.dir() / "tls" / "key.pem").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  // The hub starts with it; a client pinning the new certificate (the same
  // CA file path, renewed) connects and finds its data.
  REQUIRE_NOTHROW(hub.start());
  auto c = hub.connect(member.keys);
  CHECK(c->directory().members.size() == 2);
}

// Issue 27: whoever controls the hub machine must not hold an admin key.
bool holdsPrivateKeyFile(const fs::path& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    char magic[8] = {};
    in.read(magic, sizeof magic);
    if (in.gcount() == sizeof magic && std::string_view(magic, sizeof magic) == "FOCALKEY") return true;
  }
  return false;
}

TEST_CASE("focald init takes the first admin's public key and leaves no admin private key on the hub machine",
          "[hostile][init]") {
  TempDir adminHome;  // the admin's own machine
  const auto adminKey = makeKeyFileWithPublic(adminHome.path(), "sg-admin");
  const auto adminPub = adminKey.string() + ".pub";
  SECTION("--admin-pub: the admin is entry 1, signed by the hub key; no key file anywhere in the hub") {
    TempDir parent;
    const auto dir = parent.path() / "hub";
    const auto init = runFocald({"init", dir.string(), "--admin-pub", adminPub, "--admin-state", "SG", "--json"});
    INFO(init.out << init.err);
    REQUIRE(init.exitCode == 0);
    const auto j = nlohmann::json::parse(init.out);
    CHECK(j.at("admin_id").get<std::string>() == "sg-admin");
    CHECK_FALSE(j.contains("admin_key_file"));
    CHECK_FALSE(holdsPrivateKeyFile(dir));
    CHECK_FALSE(fs::exists(dir / "admin.key"));
    const auto check = runFocald({"check", dir.string()});
    INFO(check.out << check.err);
    CHECK(check.exitCode == 0);
    CHECK_FALSE(contains(check.out, "warning"));
    // The positive control: the scan does find a key file where one is.
    CHECK(holdsPrivateKeyFile(adminHome.path()));
  }
  SECTION("without --admin-pub: a usage error that says how, and no hub") {
    TempDir parent;
    const auto dir = parent.path() / "hub";
    const auto init = runFocald({"init", dir.string()});
    INFO(init.out << init.err);
    CHECK(init.exitCode == 2);
    CHECK(contains(init.err, "--admin-pub"));
    CHECK(contains(init.err, "focal keygen"));
    CHECK_FALSE(fs::exists(dir));
  }
  SECTION("a .pub whose certificate does not verify, a missing one, or a different --admin-id: refused, no hub") {
    TempDir parent;
    std::string text = slurp(adminPub);
    const auto at = text.find("certificate: ") + 13;
    text[at] = text[at] == 'A' ? 'B' : 'A';
    const auto forged = parent.path() / "forged.pub";
    { std::ofstream(forged) << text; }
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"--admin-pub", forged.string()},
             {"--admin-pub", (parent.path() / "missing.pub").string()},
             {"--admin-pub", adminPub, "--admin-id", "admin"}}) {
      const auto dir = parent.path() / "hub";
      std::vector<std::string> argv{"init", dir.string()};
      argv.insert(argv.end(), args.begin(), args.end());
      const auto init = runFocald(argv);
      INFO(init.out << init.err);
      CHECK(init.exitCode == 1);
      CHECK(contains(init.err, "--admin-"));
      CHECK_FALSE(fs::exists(dir / "focal.toml"));
    }
  }
  SECTION("a hub made by an older init, with DIR/admin.key: focald check warns and says what to do") {
    Hub hub;
    hub.stop();
    fs::copy_file(adminKey, hub.dir() / "admin.key");
    const auto check = runFocald({"check", hub.dir().string()});
    INFO(check.out << check.err);
    CHECK(check.exitCode == 0);
    CHECK(contains(check.out, "warning: " + (hub.dir() / "admin.key").string()));
    CHECK(contains(check.out, "rotate-key --identity"));
  }
}

// Issue 22: `focald check` also reads the database and replays the whole
// directory log, as `focald run` would, on a running or a stopped hub.
TEST_CASE("focald check verifies the database and the directory log's chain, also while the hub runs",
          "[startup][check]") {
  Hub hub;
  (void)hub.createMember("sg-spf", "SG");
  (void)hub.createMember("my-pdrm", "MY");
  const auto running = runFocald({"check", hub.dir().string()});
  INFO(running.out << running.err);
  CHECK(running.exitCode == 0);
  CHECK(contains(running.out, "running: focald pid"));

  hub.stop();
  {
    // An operator (or an intruder) drops entry 2 and closes the gap.
    auto db = server::sqlite::Database::open(hub.database(), server::sqlite::Database::Mode::ReadWrite);
    db.exec("DELETE FROM log_entries WHERE idx = 2");
    db.exec("UPDATE log_entries SET idx = idx - 1 WHERE idx > 2");
  }
  const auto check = runFocald({"check", hub.dir().string()});
  INFO(check.out << check.err);
  CHECK(check.exitCode == 2);
  CHECK(contains(check.out, "problem: the directory log does not verify"));
}

// Issue 22, backup and restore: a backup of a running hub, checked and
// placed as a new hub directory, serves what was queued before and passes
// the clients' log verification; a damaged backup places nothing.
TEST_CASE("focald backup of a running hub restores into a new directory that serves an earlier bulletin",
          "[startup][backup]") {
  Hub hub;
  TempDir home;
  const auto sg = hub.createMember("sg-spf", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  const auto my = hub.createMember("my-pdrm", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  const auto myArgs = hub.cliGlobals(my.keyFile, home.path() / "my");
  runCliJson(concat(myArgs, {"verify-log"}));  // MY's client has verified the log before
  const auto id = runCliJson(concat(hub.cliGlobals(sg.keyFile, home.path() / "sg"),
                                    {"send", "--to", "my-pdrm", "--tlp", "green", "--category", "trend", "--title",
                                     "before the backup", "--body", "kept"}))
                      .at("bulletin_id")
                      .get<std::string>();

  const fs::path backup = home.path() / "backup";
  const auto b = runFocald({"backup", hub.dir().string(), backup.string()});
  INFO(b.out << b.err);
  REQUIRE(b.exitCode == 0);
  struct stat st {};
  REQUIRE(::stat(backup.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  CHECK(runFocald({"backup", hub.dir().string(), backup.string()}).exitCode != 0);  // never over an existing one

  SECTION("restored: the new directory serves the bulletin and the log verifies") {
    const fs::path restored = home.path() / "restored";
    const auto r = runFocald({"restore", backup.string(), restored.string()});
    INFO(r.out << r.err);
    REQUIRE(r.exitCode == 0);
    CHECK(runFocald({"check", restored.string()}).exitCode == 0);
    // The drill: the hub's state replaced by the restored one (the test's
    // member key files, which live beside it, stay).
    hub.stop();
    for (const char* f : {"focal.db", "focal.db-wal", "focal.db-shm", "hub.key", "focal.toml", "tls"}) {
      fs::remove_all(hub.dir() / f);
    }
    fs::copy(restored, hub.dir(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    hub.start();  // on a new port
    const auto myNow = hub.cliGlobals(my.keyFile, home.path() / "my");
    const auto read = runCliJson(concat(myNow, {"read", id}));
    CHECK(read.at("body") == "kept");
    runCliJson(concat(myNow, {"verify-log"}));
  }
  SECTION("a backup.json naming a file outside the backup is refused and nothing is placed") {
    const auto manifestFile = backup / "backup.json";
    auto manifest = nlohmann::json::parse(slurp(manifestFile));
    manifest["files"]["../outside"] = {{"blake2b", std::string(64, '0')}, {"mode", 0600}};
    {
      std::ofstream out(manifestFile, std::ios::trunc);
      out << manifest.dump();
    }
    const fs::path restored = home.path() / "restored";
    const auto r = runFocald({"restore", backup.string(), restored.string()});
    INFO(r.out << r.err);
    CHECK(r.exitCode == 2);
    CHECK(contains(r.out, "problem: backup.json names a file outside the backup: ../outside"));
    CHECK_FALSE(fs::exists(restored));
  }
  SECTION("an altered backup is refused and nothing is placed") {
    {
      std::ofstream out(backup / "hub.key", std::ios::binary | std::ios::app);
      out << "x";
    }
    const fs::path restored = home.path() / "restored";
    const auto r = runFocald({"restore", backup.string(), restored.string()});
    INFO(r.out << r.err);
    CHECK(r.exitCode == 2);
    CHECK(contains(r.out, "problem: hub.key: altered or damaged"));
    CHECK_FALSE(fs::exists(restored));
    std::size_t leftovers = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(home.path())) {
      if (e.path().filename().string().rfind(".restored", 0) == 0) ++leftovers;
    }
    CHECK(leftovers == 0);
  }
}

// An upgrade changes the database in place: `focald run` backs the hub up
// as it was first and says where (issue 22). A version 5 database is made
// from a new one by taking away what step 5 -> 6 adds.
TEST_CASE("focald run backs the hub up before it upgrades the database schema, and serves what it held",
          "[startup][backup][migration]") {
  Hub hub;
  TempDir home;
  const auto sg = hub.createMember("sg-spf", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  const auto my = hub.createMember("my-pdrm", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  const auto id = runCliJson(concat(hub.cliGlobals(sg.keyFile, home.path() / "sg"),
                                    {"send", "--to", "my-pdrm", "--tlp", "green", "--category", "trend", "--title",
                                     "before the upgrade", "--body", "kept"}))
                      .at("bulletin_id")
                      .get<std::string>();
  hub.stop();
  {
    auto db = server::sqlite::Database::open(hub.database(), server::sqlite::Database::Mode::ReadWrite);
    // Back to version 5: without what versions 6 (carried heads), 7
    // (retention), 8 (meetings) and 9 (the work programme) added.
    db.exec("DROP TABLE ack_heads; DROP TABLE decision_heads; DROP TABLE expired_bulletins; "
            "DROP INDEX bulletins_retention; DROP TABLE meetings; DROP TABLE action_updates; DROP TABLE actions; "
            "PRAGMA user_version = 5;");
  }
  const auto userVersion = [](const fs::path& file) {
    return server::sqlite::Database::open(file, server::sqlite::Database::Mode::ReadOnly).userVersion();
  };
  REQUIRE(userVersion(hub.database()) == 5);
  hub.start();

  // The backup holds the database as it was, and the log line names it.
  std::vector<fs::path> backups;
  for (const auto& e : fs::directory_iterator(hub.dir() / "backups")) backups.push_back(e.path());
  REQUIRE(backups.size() == 1);
  CHECK(backups[0].filename().string().rfind("pre-upgrade-v5-", 0) == 0);
  CHECK(userVersion(backups[0] / "focal.db") == 5);
  CHECK(fs::exists(backups[0] / "backup.json"));
  CHECK(userVersion(hub.database()) == server::Store::SchemaVersion);
  const auto read = runCliJson(concat(hub.cliGlobals(my.keyFile, home.path() / "my"), {"read", id}));
  CHECK(read.at("body") == "kept");
  hub.stop();  // its log (focald.err) is complete once it has stopped
  CHECK(contains(slurp(hub.dir() / "focald.err"), "backed up in " + backups[0].string()));

  // Up to date: no second backup.
  hub.start();
  CHECK(std::distance(fs::directory_iterator(hub.dir() / "backups"), fs::directory_iterator()) == 1);
}

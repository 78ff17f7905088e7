// Issue 22, `focald backup --encrypt-to`: a backup of a running hub sealed to
// operators' keys (crypto/sealed_file.hpp, server/backup_command.hpp). The
// real focald backs up a live hub; the output holds none of the hub's
// secrets nor the database in the clear; `focald restore --decrypt-with`
// places a hub that serves an earlier bulletin and passes the clients'
// verify-log; and every way a sealed backup can be wrong (no key, another
// operator's key, a wrong passphrase, a byte changed in each kind of file,
// a file cut short, two files swapped, a file missing, the manifest edited)
// is refused with its code, exit 2, and nothing placed.
#include "hub_fixture.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>

using namespace focal;
using namespace focal::test;
using namespace std::chrono_literals;

namespace {

ProcessResult runFocald(const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env = {{"FOCAL_PASSPHRASE", TestPassphrase}}) {
  std::vector<std::string> argv{FOCALD_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return runProcess(argv, env, std::nullopt, 60s);
}

// `focald ARGS --json`: the exit code and the one JSON document on stdout.
nlohmann::json focaldJson(const std::vector<std::string>& args, int expectedExit,
                          const std::map<std::string, std::string>& env = {{"FOCAL_PASSPHRASE", TestPassphrase}}) {
  const auto r = runFocald(concat(args, {"--json"}), env);
  INFO("focald " << args.at(0) << " exit " << r.exitCode << "\n" << r.out << r.err);
  REQUIRE(r.exitCode == expectedExit);
  nlohmann::json j;
  REQUIRE_NOTHROW(j = nlohmann::json::parse(r.out));
  return j;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string fileBytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void writeBytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// Every regular file under `dir`.
std::vector<fs::path> filesUnder(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  return files;
}

// Nothing of a refused restore is left: neither NEWDIR nor its temporary directory.
void requireNothingPlaced(const fs::path& restored) {
  CHECK_FALSE(fs::exists(restored));
  for (const auto& e : fs::directory_iterator(restored.parent_path())) {
    INFO(e.path().string());
    CHECK(e.path().filename().string().rfind("." + restored.filename().string() + ".restoring", 0) != 0);
  }
}

std::size_t stagingDirsIn(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().rfind(".backup-staging-", 0) == 0) ++n;
  }
  return n;
}

// A hub with an earlier bulletin, sealed-backed-up to two operators.
struct SealedBackup {
  Hub hub;
  TempDir home;
  TestMember sg = hub.createMember("sg-spf", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  TestMember my = hub.createMember("my-pdrm", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  fs::path alice = makeKeyFileWithPublic(home.path(), "ops-alice");
  fs::path bob = makeKeyFileWithPublic(home.path(), "ops-bob");
  fs::path backup = home.path() / "backup";
  fs::path restored = home.path() / "restored";
  std::string bulletinId;
  nlohmann::json made;

  SealedBackup() {
    runCliJson(concat(hub.cliGlobals(my.keyFile, home.path() / "my"), {"verify-log"}));
    bulletinId = runCliJson(concat(hub.cliGlobals(sg.keyFile, home.path() / "sg"),
                                   {"send", "--to", "my-pdrm", "--tlp", "amber", "--category", "trend", "--title",
                                    "before the sealed backup", "--body", "kept under seal"}))
                     .at("bulletin_id")
                     .get<std::string>();
    made = focaldJson({"backup", hub.dir().string(), backup.string(), "--encrypt-to", alice.string() + ".pub",
                       "--encrypt-to", bob.string() + ".pub"},
                      0);
  }

  nlohmann::json restoreError(const std::vector<std::string>& extra,
                              const std::map<std::string, std::string>& env = {{"FOCAL_PASSPHRASE", TestPassphrase}}) {
    const auto j = focaldJson(concat({"restore", backup.string(), restored.string()}, extra), 2, env);
    requireNothingPlaced(restored);
    return j.at("error");
  }
  nlohmann::json restoreWithAlice() { return restoreError({"--decrypt-with", alice.string()}); }
};

}  // namespace

TEST_CASE("A sealed backup of a running hub holds nothing in the clear and restores with an operator key into a hub "
          "that serves an earlier bulletin and passes verify-log",
          "[backup][sealed]") {
  SealedBackup s;
  CHECK(s.made.at("sealed") == true);
  REQUIRE(s.made.at("recipients").size() == 2);
  CHECK(s.made.at("recipients")[0].at("member_id") == "ops-alice");
  CHECK(s.made.at("recipients")[1].at("member_id") == "ops-bob");
  CHECK(s.made.at("log_entries").get<int>() > 2);
  struct stat st {};
  REQUIRE(::stat(s.backup.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  // The staging copy of the database is gone from the hub directory.
  CHECK(stagingDirsIn(s.hub.dir()) == 0);

  // No plaintext: not the database (its header, a page of it), the hub key's
  // secret seed, the TLS key, the configuration, nor the hub's id.
  const std::string hubKey = fileBytes(s.hub.dir() / "hub.key");
  REQUIRE(hubKey.size() == 64);
  const std::string tlsKey = fileBytes(s.hub.dir() / "tls" / "key.pem");
  const std::string tlsKeyLine = tlsKey.substr(tlsKey.find('\n') + 1, 40);
  REQUIRE(contains(fileBytes(s.hub.database()), "CREATE TABLE log_entries"));
  const std::string hubId = "focal-hub";  // the test hub's id (hub_fixture.cpp)
  REQUIRE(contains(fileBytes(s.hub.dir() / "focal.toml"), "id = \"" + hubId + "\""));
  std::set<std::string> names;
  for (const auto& f : filesUnder(s.backup)) {
    names.insert(fs::relative(f, s.backup).string());
    const std::string bytes = fileBytes(f);
    INFO(f.string());
    CHECK_FALSE(contains(bytes, "SQLite format 3"));
    CHECK_FALSE(contains(bytes, "CREATE TABLE"));  // the schema, on the database's first page
    CHECK_FALSE(contains(bytes, "log_entries"));
    CHECK_FALSE(contains(bytes, hubKey.substr(0, 32)));
    CHECK_FALSE(contains(bytes, tlsKeyLine));
    CHECK_FALSE(contains(bytes, "PRIVATE KEY"));
    CHECK_FALSE(contains(bytes, "[hub]"));
    CHECK_FALSE(contains(bytes, hubId));
    CHECK((fs::status(f).permissions() & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none);
  }
  CHECK(names == std::set<std::string>{"backup.json", "focal.db.sealed", "focal.toml.sealed", "hub.key.sealed",
                                       "tls/cert.pem.sealed", "tls/key.pem.sealed"});

  SECTION("the second operator's key opens it too") {
    const auto r = focaldJson({"restore", s.backup.string(), s.restored.string(), "--decrypt-with", s.bob.string()}, 0);
    CHECK(r.at("sealed") == true);
    CHECK(fs::exists(s.restored / "hub.key"));
  }
  SECTION("restored with the first operator's key: the new directory serves the bulletin and the log verifies") {
    const auto r =
        focaldJson({"restore", s.backup.string(), s.restored.string(), "--decrypt-with", s.alice.string()}, 0);
    CHECK(r.at("hub_id") == hubId);
    const auto hubSecret = crypto::SigningSecretKey::fromBytes(crypto::asBytes(hubKey));
    REQUIRE(hubSecret);
    CHECK(r.at("hub_key_fingerprint") ==
          crypto::fingerprint(hubId, crypto::SigningKeyPair::fromSecret(hubSecret->clone()).publicKey));
    CHECK(r.at("log_entries") == s.made.at("log_entries"));
    CHECK(r.at("created_at") == s.made.at("created_at"));
    CHECK(r.at("recipients") == s.made.at("recipients"));
    CHECK(fileBytes(s.restored / "hub.key") == hubKey);
    CHECK(fileBytes(s.restored / "tls" / "key.pem") == tlsKey);
    CHECK((fs::status(s.restored / "hub.key").permissions() & (fs::perms::group_all | fs::perms::others_all)) ==
          fs::perms::none);
    const auto check = runFocald({"check", s.restored.string()});
    INFO(check.out << check.err);
    CHECK(check.exitCode == 0);
    // The drill: the hub's state replaced by the restored one.
    s.hub.stop();
    for (const char* f : {"focal.db", "focal.db-wal", "focal.db-shm", "hub.key", "focal.toml", "tls"}) {
      fs::remove_all(s.hub.dir() / f);
    }
    fs::copy(s.restored, s.hub.dir(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    s.hub.start();
    const auto myNow = s.hub.cliGlobals(s.my.keyFile, s.home.path() / "my");
    CHECK(runCliJson(concat(myNow, {"read", s.bulletinId})).at("body") == "kept under seal");
    runCliJson(concat(myNow, {"verify-log"}));
  }
  SECTION("the text output names the operators and how to restore") {
    const fs::path again = s.home.path() / "again";
    const auto r = runFocald({"backup", s.hub.dir().string(), again.string(), "--encrypt-to", s.alice.string() + ".pub"});
    INFO(r.out << r.err);
    CHECK(r.exitCode == 0);
    CHECK(contains(r.out, "Sealed backup of"));
    CHECK(contains(r.out, "ops-alice  fingerprint "));
    CHECK(contains(r.out, "--decrypt-with FILE.key"));
  }
}

TEST_CASE("A sealed backup is refused with a typed error and exit 2 and nothing placed: no key, another key, a wrong "
          "passphrase, a plain backup given a key",
          "[backup][sealed]") {
  SealedBackup s;
  SECTION("no --decrypt-with") {
    const auto e = s.restoreError({});
    CHECK(e.at("code") == "sealed");
    CHECK(contains(e.at("message").get<std::string>(), "ops-alice, ops-bob"));
    const auto text = runFocald({"restore", s.backup.string(), s.restored.string()});
    CHECK(text.exitCode == 2);
    CHECK(contains(text.out, "problem: this backup is sealed"));
    CHECK(contains(text.out, "nothing restored"));
  }
  SECTION("the key file of an operator it is not sealed to") {
    const auto eve = makeKeyFileWithPublic(s.home.path(), "ops-eve");
    const auto e = s.restoreError({"--decrypt-with", eve.string()});
    CHECK(e.at("code") == "wrong-key");
    CHECK(contains(e.at("message").get<std::string>(), "ops-eve"));
  }
  SECTION("a wrong passphrase, from the environment or from --passphrase-file") {
    CHECK(s.restoreError({"--decrypt-with", s.alice.string()}, {{"FOCAL_PASSPHRASE", "not the passphrase at all"}})
              .at("code") == "key-file");
    const fs::path file = s.home.path() / "passphrase";
    writeBytes(file, "not the passphrase either\n");
    CHECK(s.restoreError({"--decrypt-with", s.alice.string(), "--passphrase-file", file.string()}, {}).at("code") ==
          "key-file");
    writeBytes(file, std::string(TestPassphrase) + "\n");
    CHECK(focaldJson({"restore", s.backup.string(), s.restored.string(), "--decrypt-with", s.alice.string(),
                      "--passphrase-file", file.string()},
                     0, {})
              .at("sealed") == true);
  }
  SECTION("a plain backup given --decrypt-with") {
    const fs::path plain = s.home.path() / "plain";
    REQUIRE(runFocald({"backup", s.hub.dir().string(), plain.string()}).exitCode == 0);
    const auto j = focaldJson({"restore", plain.string(), s.restored.string(), "--decrypt-with", s.alice.string()}, 2);
    CHECK(j.at("error").at("code") == "not-sealed");
    requireNothingPlaced(s.restored);
  }
}

TEST_CASE("A sealed backup altered in any file, cut short, with files swapped or missing, or its manifest edited, is "
          "refused and nothing placed",
          "[backup][sealed]") {
  SealedBackup s;
  SECTION("a byte changed in each kind of file") {
    for (const char* name : {"focal.db.sealed", "hub.key.sealed", "focal.toml.sealed", "tls/cert.pem.sealed",
                             "tls/key.pem.sealed"}) {
      const fs::path f = s.backup / name;
      const std::string original = fileBytes(f);
      std::string bytes = original;
      bytes[bytes.size() - 20] = static_cast<char>(bytes[bytes.size() - 20] ^ 0x01);  // inside the last chunk
      writeBytes(f, bytes);
      const auto e = s.restoreWithAlice();
      INFO(name << ": " << e.dump());
      CHECK(e.at("code") == "damaged");
      CHECK(contains(e.at("message").get<std::string>(), std::string(name) + " does not decrypt"));
      writeBytes(f, original);
    }
  }
  SECTION("a file cut short after its header, or by one byte") {
    const fs::path f = s.backup / "focal.db.sealed";
    const std::string original = fileBytes(f);
    // magic, version, label length, "database" NUL "focal.db", the stream header
    writeBytes(f, original.substr(0, 8 + 1 + 2 + 17 + 24));
    auto e = s.restoreWithAlice();
    CHECK(e.at("code") == "damaged");
    CHECK(contains(e.at("message").get<std::string>(), "focal.db.sealed is truncated"));
    writeBytes(f, original.substr(0, original.size() - 1));
    e = s.restoreWithAlice();
    CHECK(e.at("code") == "damaged");
    CHECK(contains(e.at("message").get<std::string>(), "focal.db.sealed does not decrypt"));
  }
  SECTION("two files swapped") {
    fs::rename(s.backup / "hub.key.sealed", s.home.path() / "swap");
    fs::rename(s.backup / "tls" / "key.pem.sealed", s.backup / "hub.key.sealed");
    fs::rename(s.home.path() / "swap", s.backup / "tls" / "key.pem.sealed");
    const auto e = s.restoreWithAlice();
    CHECK(e.at("code") == "damaged");
    CHECK(contains(e.at("message").get<std::string>(), "hub.key.sealed is another file of the backup"));
    CHECK(contains(e.at("message").get<std::string>(), "tls/key.pem.sealed is another file of the backup"));
  }
  SECTION("a file swapped for the same file of another sealed backup of the same hub") {
    const fs::path other = s.home.path() / "other";
    REQUIRE(runFocald({"backup", s.hub.dir().string(), other.string(), "--encrypt-to", s.alice.string() + ".pub"})
                .exitCode == 0);
    fs::copy_file(other / "hub.key.sealed", s.backup / "hub.key.sealed", fs::copy_options::overwrite_existing);
    const auto e = s.restoreWithAlice();
    CHECK(e.at("code") == "damaged");
    CHECK(contains(e.at("message").get<std::string>(), "hub.key.sealed does not decrypt"));
  }
  SECTION("a file missing") {
    fs::remove(s.backup / "tls" / "cert.pem.sealed");
    const auto e = s.restoreWithAlice();
    CHECK(e.at("code") == "damaged");
    CHECK(contains(e.at("message").get<std::string>(), "tls/cert.pem.sealed: missing"));
  }
  SECTION("the manifest edited") {
    const fs::path manifestFile = s.backup / "backup.json";
    auto outer = nlohmann::json::parse(fileBytes(manifestFile));
    const nlohmann::json original = outer;
    auto text = outer.at("manifest").get<std::string>();
    text[40] = text[40] == 'A' ? 'B' : 'A';
    outer["manifest"] = text;
    writeBytes(manifestFile, outer.dump());
    auto e = s.restoreWithAlice();
    CHECK(e.at("code") == "damaged");
    CHECK(contains(e.at("message").get<std::string>(), "the manifest does not decrypt"));

    // The backup key sealed to alice replaced by the one sealed to bob.
    outer = original;
    outer["recipients"][0]["sealed_key"] = original.at("recipients")[1].at("sealed_key");
    writeBytes(manifestFile, outer.dump());
    e = s.restoreWithAlice();
    CHECK(e.at("code") == "damaged");
    CHECK(contains(e.at("message").get<std::string>(), "does not open"));

    // backup.json that is not JSON at all.
    writeBytes(manifestFile, "{\"format\": 2, \"sealed\"");
    CHECK(s.restoreWithAlice().at("code") == "not-a-backup");
  }
}

TEST_CASE("focald backup --encrypt-to refuses a malformed or unreadable FILE.pub before it writes anything, and "
          "removes a staging directory a killed backup left",
          "[backup][sealed]") {
  Hub hub;
  TempDir home;
  const fs::path out = home.path() / "backup";
  const fs::path bad = home.path() / "bad.pub";
  writeBytes(bad, "focal-public-key v1\nmember: ops\nidentity: not base64\n");
  auto j = focaldJson({"backup", hub.dir().string(), out.string(), "--encrypt-to", bad.string()}, 2);
  CHECK(j.at("error").at("code") == "bad-public-key");
  CHECK(contains(j.at("error").at("message").get<std::string>(), bad.string()));
  CHECK_FALSE(fs::exists(out));
  // A key file is not a public key file either.
  const auto key = makeKeyFileWithPublic(home.path(), "ops-alice");
  j = focaldJson({"backup", hub.dir().string(), out.string(), "--encrypt-to", key.string()}, 2);
  CHECK(j.at("error").at("code") == "bad-public-key");
  j = focaldJson({"backup", hub.dir().string(), out.string(), "--encrypt-to", (home.path() / "none.pub").string()}, 2);
  CHECK(j.at("error").at("code") == "bad-public-key");
  CHECK_FALSE(fs::exists(out));
  // The same operator twice.
  j = focaldJson({"backup", hub.dir().string(), out.string(), "--encrypt-to", key.string() + ".pub", "--encrypt-to",
                  key.string() + ".pub"},
                 2);
  CHECK(j.at("error").at("code") == "usage");
  CHECK_FALSE(fs::exists(out));

  // A staging directory of a focald that is gone (the pid of a process
  // that has exited) is removed by the next sealed backup.
  const pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  REQUIRE(gone > 0);
  int status = 0;
  REQUIRE(::waitpid(gone, &status, 0) == gone);
  const fs::path stale = hub.dir() / (".backup-staging-" + std::to_string(gone) + "-0011223344556677");
  fs::create_directory(stale);
  writeBytes(stale / "focal.db", "SQLite format 3");
  j = focaldJson({"backup", hub.dir().string(), out.string(), "--encrypt-to", key.string() + ".pub"}, 0);
  CHECK(j.at("sealed") == true);
  CHECK_FALSE(fs::exists(stale));
  CHECK(stagingDirsIn(hub.dir()) == 0);
}

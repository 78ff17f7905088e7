// Integration fixture: a real focald on a loopback port 0 in a temporary
// directory, driven by the real client library and the real `focal` CLI.
//
//   Hub hub;                                   // init + run, waits for "listening"
//   auto alice = hub.createMember("sg-spf", "SG");
//   auto c = hub.connect(alice.keys);           // authenticated Connection
//   auto r = runCli({"--json", "inbox"}, env);  // the CLI as a subprocess
//
// The hub is SIGTERMed (SIGKILL after a deadline) when the fixture dies.
#pragma once

#include "client/bulletin_reader.hpp"
#include "client/client_error.hpp"
#include "client/connection.hpp"
#include "client/raw_bulletin.hpp"
#include "client/spooled_blob.hpp"
#include "crypto/keyfile.hpp"
#include "tests/support/files.hpp"
#include "tests/support/temp_dir.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace focal::test {

namespace fs = std::filesystem;

inline constexpr const char* TestPassphrase = "integration-test passphrase";

using test_support::TempDir;

struct ProcessResult {
  int exitCode = -1;  // 128 + signal if killed
  std::string out;
  std::string err;
};

// Holds when a running process has printed what the caller waits for.
using OutputCondition = std::function<bool(const ProcessResult& soFar)>;

// Runs argv[0] with argv, extra environment variables, optional stdin text.
// At `timeout`, or as soon as `interruptWhen` holds for its output so far,
// it is sent SIGINT (how a user stops `focal listen`); SIGKILL 5 s after
// `timeout`.
ProcessResult runProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
                         const std::optional<std::string>& stdinText = std::nullopt,
                         std::chrono::milliseconds timeout = std::chrono::seconds(60),
                         const OutputCondition& interruptWhen = {});

struct TestMember {
  crypto::MemberKeys keys;
  fs::path keyFile;   // set when written (createMember(..., writeKeyFile = true))
  std::string id() const { return keys.memberId; }
};

struct HubOptions {
  // Values for focal.toml's [limits], e.g. {"unauthenticated_timeout_ms", "500"}.
  std::map<std::string, std::string> limits;
  // Run focald with --test-clock: hub time comes from a file the test
  // writes (setClockMs / advanceClock), starting at the real time.
  bool testClock = false;
  // More arguments for `focald init`, e.g. {"--witness", FILE.pub}.
  std::vector<std::string> initArgs{};
  // More arguments for `focald run`, e.g. {"--log-format", "json"}.
  std::vector<std::string> runArgs{};
};

class Hub {
 public:
  explicit Hub(HubOptions options = {});
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  std::string host() const { return "127.0.0.1"; }
  std::uint16_t port() const { return port_; }
  std::string address() const { return host() + ":" + std::to_string(port_); }
  // The metrics listener's port (focald prints it before the listener's;
  // init gets --metrics 127.0.0.1:0); 0 when the hub runs without one.
  std::uint16_t metricsPort() const { return metricsPort_; }
  const fs::path& dir() const { return dir_.path(); }
  const fs::path& caFile() const { return caFile_; }
  const fs::path& adminKeyFile() const { return adminKeyFile_; }
  const crypto::MemberKeys& adminKeys() const { return *adminKeys_; }

  // SIGTERM + wait, then run again on a new port (same directory and data).
  void restart();
  void stop();
  void start();
  bool running();
  // The pid of the process started for focald (the launcher's, which execs
  // focald), or -1 when stopped.
  pid_t pid() const { return pid_; }
  // Commands put before focald's argv from the next start() on, e.g.
  // {"/usr/bin/unshare", "-m", ...}; they must end by exec'ing their
  // arguments, so pid() stays focald's pid.
  void setLauncher(std::vector<std::string> prefix) { launcher_ = std::move(prefix); }

  // A TLS connection that has not authenticated yet.
  std::unique_ptr<client::Connection> connectRaw(client::ConnectOptions options = {}) const;
  // Connected and authenticated.
  std::unique_ptr<client::Connection> connect(const crypto::MemberKeys& keys, client::ConnectOptions options = {}) const;

  // Generates keys (in memory; a key file with the Interactive KDF when
  // asked) and registers the member through the admin key.
  TestMember createMember(const std::string& id, const std::string& state,
                          wire::Institution institution = wire::Institution::LAW_ENFORCEMENT,
                          bool writeKeyFile = false);
  // Registers `keys` (made by the test) the same way.
  TestMember registerKeys(crypto::MemberKeys keys, const std::string& state,
                          wire::Institution institution = wire::Institution::LAW_ENFORCEMENT,
                          bool writeKeyFile = false);
  // A resource-panel member (or another one without a state) admitted the
  // only way the log allows it: the admin proposes, and one point of
  // contact of every member state in the directory approves (PROTOCOL.md
  // §12.5). `approvers`: those points of contact, one per state.
  // `meetings`: a resource-panel admission limited to them (PROTOCOL.md §12.5).
  TestMember admitByConsensus(const std::string& id, wire::Institution institution,
                              const std::vector<const crypto::MemberKeys*>& approvers, bool writeKeyFile = false,
                              const std::vector<crypto::BulletinId>& meetings = {});
  // Registers many members over one admin connection.
  std::vector<TestMember> createMembers(const std::vector<std::string>& ids, const std::string& state);

  // A second hub made from a copy of this hub's directory (stop this one
  // first): same hub id, hub key, certificate, admin and data; the two
  // diverge from here (a fork). Not started.
  std::unique_ptr<Hub> copyStopped() const;
  // The program start() runs (default focald; FOCAL_LYING_HUB_PATH serves a
  // tampered database unchecked).
  void setExecutable(std::string path) { executable_ = std::move(path); }
  fs::path database() const { return dir() / "focal.db"; }

  // Hub time under HubOptions::testClock (written atomically: temp + rename).
  void setClockMs(std::int64_t ms);
  void advanceClock(std::int64_t ms) { setClockMs(clockMs_ + ms); }
  std::int64_t clockMs() const { return clockMs_; }

  // Environment + global options for running the CLI against this hub.
  std::vector<std::string> cliGlobals(const fs::path& keyFile, const fs::path& profileDir) const;

 private:
  struct Uninitialised {};
  explicit Hub(Uninitialised) {}
  void registerMember(client::Connection& admin, const crypto::PublicKeys& pk, const std::string& state,
                      wire::Institution institution);

  TempDir dir_;
  TempDir adminDir_;  // the first admin's own machine: its key never enters dir_
  fs::path caFile_;
  fs::path adminKeyFile_;
  std::optional<crypto::MemberKeys> adminKeys_;
  std::vector<std::string> launcher_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::uint16_t metricsPort_ = 0;
  int stdoutFd_ = -1;
  std::thread drain_;
  std::string executable_ = FOCALD_PATH;
  fs::path testClockFile_;
  std::vector<std::string> runArgs_;
  std::int64_t clockMs_ = 0;
};

// The cast most integration tests share, for TEST_CASE_METHOD: a default
// hub and its members, registered as the fixture is built. `a` (sg-spf, SG)
// is usually the sender, `b` (my-pdrm, MY) and `c` (th-tcsd, TH) recipients.
struct OneMember {
  Hub hub;
  TestMember a = hub.createMember("sg-spf", "SG");
};
struct TwoMembers : OneMember {
  TestMember b = hub.createMember("my-pdrm", "MY");
};
struct ThreeMembers : TwoMembers {
  TestMember c = hub.createMember("th-tcsd", "TH");
};

// The two members on a stopped hub: for a test that restarts it under a
// launcher (setLauncher) or with its directory changed.
struct TwoMembersStopped : TwoMembers {
  TwoMembersStopped() { hub.stop(); }
};

// For a test that needs something of the machine (root, a tool): true, and
// a WARN "SKIPPED <what>: <unavailableReason>", when the reason is not
// empty; the test then returns.
bool skipped(const std::string& what, const std::string& unavailableReason);

// Registers members with isSecretariat set when their institution is the
// secretariat (see registerMember).
// Runs the focal CLI (FOCAL_CLI_PATH) with FOCAL_PASSPHRASE set (see
// runProcess for `timeout` and `interruptWhen`).
// A key file for `id` (passphrase TestPassphrase) and its FILE.pub, made in
// `dir` as on a member's own machine; returns the key file's path. What the
// first admin hands to `focald init --admin-pub`.
fs::path makeKeyFileWithPublic(const fs::path& dir, const std::string& id = "admin");

ProcessResult runCli(const std::vector<std::string>& args, const std::optional<std::string>& stdinText = std::nullopt,
                     std::chrono::milliseconds timeout = std::chrono::seconds(60),
                     const OutputCondition& interruptWhen = {});

// `focal --json ARGS`: requires exit code `expectedExit` and one JSON
// document on stdout, and returns it (the command, its exit code, stdout and
// stderr are reported when either check fails).
nlohmann::json runCliJson(const std::vector<std::string>& args, int expectedExit = 0);

// The hub's refusal of what `f` asks for: the client::HubError it throws. A
// test failure with the message `accepted` when `f` returns instead.
client::HubError hubRefusal(const std::function<void()>& f, const std::string& accepted = "the hub accepted it");

// A draft to `recipients`, addressed by their plain member ids (what sealTo
// seals), for a test that adds to it (attachments, a given bulletin id).
protocol::BulletinDraft draftTo(const std::vector<const crypto::MemberKeys*>& recipients, const std::string& title,
                                wire::Tlp tlp = wire::Tlp::AMBER, wire::Category category = wire::Category::TREND);

// `draft` sealed by `sender` under `key` (a test failure when it cannot be).
protocol::SealedBulletin sealDraft(const protocol::BulletinDraft& draft, const crypto::MemberKeys& sender,
                                   const crypto::ContentKey& key,
                                   const std::optional<crypto::BulletinId>& id = std::nullopt);

// A sealed bulletin from `sender` to `recipients` (plain member ids).
protocol::SealedBulletin sealTo(const crypto::MemberKeys& sender, const std::vector<const crypto::MemberKeys*>& recipients,
                                const std::string& title, const std::string& body = "body",
                                wire::Tlp tlp = wire::Tlp::AMBER);

std::int64_t nowMs();

// `s` with its header changed by `mutate` and re-signed by `sender` (the
// ciphertext stays valid: its associated data is the bulletin id).
protocol::SealedBulletin resignedHeader(protocol::SealedBulletin s, const crypto::MemberKeys& sender,
                                        const std::function<void(wire::BulletinHeader::Builder)>& mutate);

// What a modified client can do that sealBulletin refuses: `s` (sealed
// under `key`) with its Content rewritten by `mutate`, re-encrypted under
// the same key and nonce, the header's content hash and size updated and
// re-signed by `sender`. The hub sees only ciphertext and a valid signature.
protocol::SealedBulletin withContent(protocol::SealedBulletin s, const crypto::ContentKey& key,
                                     const crypto::MemberKeys& sender,
                                     const std::function<void(wire::Content::Builder)>& mutate);

// The title of a received bulletin, opened as `me` against the hub's
// directory (fetched over `c`).
std::string titleOf(client::Connection& c, const client::RawBulletin& raw, const crypto::MemberKeys& me);

// A file of `size` pseudo-random bytes from `seed` (the same every run),
// `workDir`/`name`, encrypted as attachment 0 under a fresh content key.
struct AttachmentFile {
  std::string name;
  std::string plain;  // the file's bytes
  crypto::ContentKey contentKey;
  client::SpooledBlob blob;
  // The draft's entry for it.
  protocol::AttachmentDraft entry(const std::string& mediaType) const {
    return {name, mediaType, blob.plainSize(), blob.hash(), blob.size()};
  }
};
AttachmentFile randomAttachment(const fs::path& workDir, const std::string& name, std::size_t size, unsigned seed);

// The attachment of the only bulletin queued for `me`, as a recipient gets
// it over `c`: opened against the hub's directory, downloaded and decrypted
// into `workDir` as `saveAs`.
struct SavedAttachment {
  crypto::BulletinId bulletinId;
  client::OpenedAttachment attachment;
  std::string content;
};
SavedAttachment saveOnlyAttachment(client::Connection& c, const crypto::MemberKeys& me, const fs::path& workDir,
                                   const std::string& saveAs);

// CLI argument lists: `a` followed by `b` (global options + a command).
std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b);
// The whole content of a file ("" if it cannot be read).
inline std::string slurp(const fs::path& p) { return test_support::readFile(p); }
// How many times `needle` occurs in `text` (overlapping occurrences count).
std::size_t countOf(const std::string& text, const std::string& needle);

}  // namespace focal::test

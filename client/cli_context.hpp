// What every `focal` command shares: the global options, the profile, the
// passphrase, the key file, a connected and authenticated hub session, the
// output channel. main() owns one CliContext and the command table.
#pragma once

#include "client/archive.hpp"
#include "client/client_clock.hpp"
#include "client/connection.hpp"
#include "client/short_ids.hpp"
#include "client/verified_contacts.hpp"
#include "client/delivery_opener.hpp"
#include "client/bulletin_cache.hpp"
#include "client/bulletin_reader.hpp"
#include "client/key_directory.hpp"
#include "client/key_status.hpp"
#include "client/output.hpp"
#include "client/profile.hpp"
#include "client/safe_text.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace focal::client::cli {

// Exit codes (documented in `focal --help`).
inline constexpr int ExitOk = 0;
inline constexpr int ExitUsage = 1;
inline constexpr int ExitRefused = 2;
inline constexpr int ExitVerify = 3;
inline constexpr int ExitIo = 4;
inline constexpr int ExitNotFound = 5;  // no such bulletin, member or proposal, locally or at the hub

// A mistake of the caller (bad argument, missing setting, wrong passphrase):
// exit code 1, with a short machine code for --json.
class UsageError : public std::runtime_error {
 public:
  UsageError(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

struct GlobalOptions {
  std::string hub;
  std::string ca;
  std::string key;
  std::string profileDir;
  bool json = false;
  double timeoutSeconds = 30;
};

// Throws UsageError("short-passphrase") unless `passphrase` may protect a
// new key file (crypto::MinNewPassphraseChars characters); `what` names the
// file for the message.
void requireNewKeyPassphrase(std::string_view passphrase, std::string_view what);
// What connect() does with a key file that is not the member's current one
// per the verified log (client/key_status.hpp).
enum class StaleKeyFile {
  Warn,    // a warning on stderr naming the newer entry and file; go on
  Refuse,  // UsageError "stale-key-file": rotate-key (it would strand the
           // newer key's bulletins) and ack (it could remove from the hub
           // bulletins this file cannot open, before they were ever cached)
};

inline KeyFileStatus currentKeyStatus() {
  KeyFileStatus s;
  s.state = KeyFileStatus::State::Current;
  return s;
}

class CliContext {
 public:
  GlobalOptions options;

  Output& out();
  Profile& profile();  // opened on first use
  std::string passphrase(bool confirm = false);
  // A passphrase read another way (unlock --passphrase-file/--passphrase-fd):
  // passphrase() returns it instead of asking.
  void setPassphrase(std::string p) { givenPassphrase_ = std::move(p); }
  // The member's keys for signing and opening: through the key agent when
  // one runs for this key file (focal unlock; no passphrase asked), else
  // read from the key file (--key, else the profile's) as loadKeyFile does.
  // Remembers the public keys in the profile (Profile::rememberKeyFile).
  crypto::Keyring loadKeys();
  // The key file itself (passphrase, Argon2id), for what needs the secret
  // keys in this process: writing a new key file (rotate-key), unlock.
  crypto::MemberKeys loadKeyFile();
  // The key file's path (--key, else the profile's), absolute; UsageError
  // "no-key" when there is none. Sets keyFilePath().
  const std::string& resolveKeyFile();
  // The agent socket for the resolved key file and this profile.
  std::filesystem::path agentSocket();
  // Connects to the hub and authenticates with `keys`; then checks the key
  // file against the member's current keys in the verified log (`stale`).
  // A login refused for a key the profile's verified log shows replaced or
  // revoked names the entry and its date (HubError, same code).
  std::unique_ptr<Connection> connect(const crypto::Keyring& keys, StaleKeyFile stale = StaleKeyFile::Warn);
  ConnectOptions connectOptions() const;

  // The path of the key file loadKeys() read (absolute), and whether it is
  // the profile's own `key` setting (so rotate-key may move it on).
  const std::string& keyFilePath() const { return keyPath_; }
  bool keyFileIsProfileKey() const { return keyIsProfileKey_; }
  // The key file's standing after connect() (Current before it).
  const KeyFileStatus& keyStatus() const { return keyStatus_; }

  // Sealing needs a fresh view of the directory log: throws StaleHeadError
  // (exit 3, "stale-head") when the newest head the connection verified is
  // older than the profile's head-max-age (client/head_freshness.hpp).
  // Every command that encrypts to or signs for directory keys calls it
  // after its last directory fetch and before sealing.
  void requireFreshHead(const Connection& c);
  // head-max-age from profile.toml, else DefaultMaxHeadAgeMs; UsageError
  // ("bad-profile") if it is not a duration up to MaxHeadAgeWindowMs.
  std::int64_t maxHeadAgeMs();

  // `focal listen`: brings the connection's verified log up to date and
  // prints the self-monitoring alarms that raised (stderr), as they happen.
  void recheckSelf(Connection& c, const crypto::Keyring& keys);

  // The head this profile held before this run's first connect verified a
  // newer one (size 0: none), for verify-log's "since before" report.
  struct LogBefore {
    std::uint64_t size = 0;
    std::int64_t headTimeMs = 0;
  };
  const LogBefore& logBefore() const { return logBefore_; }

  // The contacts this member verified (members/ID/verified.json); a damaged
  // file reads as empty, with a warning.
  VerifiedContacts contacts(const crypto::Keyring& keys);
  // This member's part of the profile (Profile::memberDir). Every bulletin
  // opened through it goes into the member's archive (archiveOpened).
  BulletinCache cache(const crypto::Keyring& keys);

  // The member's local archive (client/archive.hpp), loaded on first use.
  // UsageError "archive-key" when it is sealed to a key this key file does
  // not hold, VerifyError when it does not authenticate.
  Archive& archive(const crypto::Keyring& keys);
  // Keeps a verified bulletin in the archive. An archive that does not open
  // costs a warning (once), never the command that opened the bulletin.
  void archiveOpened(const crypto::Keyring& keys, const OpenedMessage& m);
  void archiveAcknowledged(const crypto::Keyring& keys, const std::vector<crypto::BulletinId>& ids);
  // Saves the archive if anything changed (retention applied): once per
  // command (main), and after each batch in `focal listen`.
  void saveArchive();
  // archive-keep from profile.toml; UsageError ("bad-profile") if malformed.
  ArchiveRetention archiveRetention();
  std::uint64_t lastSeq(const crypto::Keyring& keys);
  void setLastSeq(const crypto::Keyring& keys, std::uint64_t seq);

 private:
  // "KEYFILE is not your current key file: ..., the current keys are in ..."
  std::string staleKeyMessage(const crypto::Keyring& keys, const KeyFileStatus& s);
  [[noreturn]] void explainLoginFailure(const Connection& c, const crypto::Keyring& keys, const HubError& e);
  // Self-monitoring (client/self_monitor.hpp) after a sync: raises alarms
  // for new entries about the member and prints every one not acknowledged.
  void monitorSelf(const VerifiedLog& log, const std::string& hubId, const crypto::Keyring& keys);

  std::optional<Output> out_;
  std::optional<Profile> profile_;
  std::optional<std::string> givenPassphrase_;
  std::string keyPath_;
  bool keyIsProfileKey_ = false;
  bool profileHasKey_ = false;
  KeyFileStatus keyStatus_ = currentKeyStatus();
  bool logBeforeTaken_ = false;
  LogBefore logBefore_;
  std::optional<Archive> archive_;
  std::string archiveMember_;
  // Archive::knownIds of knownMember_'s archive, read once (nullopt: none
  // usable), and the keys of that member, to apply retention at the end.
  std::optional<Archive::Listing> knownIds_;
  std::string knownMember_;
  std::shared_ptr<const crypto::Keyring> knownKeys_;
  bool archiveWarned_ = false;
};

// A command's work on one bulletin the member received or sent: its keys,
// the hub connection, the member's cache, and the bulletin found and opened
// with every record verified (findBulletin).
struct FoundBulletin {
  crypto::Keyring keys;
  std::unique_ptr<Connection> conn;
  BulletinCache cache;
  std::unique_ptr<HubDirectory> dir;  // set when a check needed the directory
  OpenedMessage message;
  // Set when the hub was out of reach and the bulletin was opened from the
  // local cache against the profile's verified log (conn is null then):
  // why the hub was not reached.
  std::string offline;

  // The verified directory, fetched now if finding the bulletin did not.
  HubDirectory& directory();
};

// Loads the keys, connects, and finds `id`; VerifyError "<what> <typedId>
// does not verify: <reason>" if it does not. With `allowOffline`, a hub out
// of reach (connect failed or timed out) opens the cached copy against the
// profile's verified log instead (openCachedOffline; FoundBulletin::offline).
FoundBulletin findVerifiedBulletin(CliContext& ctx, const crypto::BulletinId& id, std::string_view what,
                                   std::string_view typedId, bool allowOffline = false);

// Registered subcommands; main() runs the one that was parsed.
class CommandTable {
 public:
  void add(CLI::App* app, std::function<int()> run) { commands_.push_back({app, std::move(run)}); }
  // Runs the parsed command; nullopt if none was parsed.
  std::optional<int> runParsed() const;

 private:
  struct Command {
    CLI::App* app;
    std::function<int()> run;
  };
  std::vector<Command> commands_;
};

// Command registration (one file each).
void addKeygenCommand(CLI::App& app, CliContext& ctx, CommandTable& table);
void addAdminCommands(CLI::App& app, CliContext& ctx, CommandTable& table);
void addSendCommand(CLI::App& app, CliContext& ctx, CommandTable& table);
void addInboxCommand(CLI::App& app, CliContext& ctx, CommandTable& table);
void addReadCommand(CLI::App& app, CliContext& ctx, CommandTable& table);
void addDeliveryCommands(CLI::App& app, CliContext& ctx, CommandTable& table);  // ack, status
void addListenCommand(CLI::App& app, CliContext& ctx, CommandTable& table);
void addDirectoryCommands(CLI::App& app, CliContext& ctx, CommandTable& table);  // directory, fingerprint
void addProfileCommands(CLI::App& app, CliContext& ctx, CommandTable& table);
void addKeyCommands(CLI::App& app, CliContext& ctx, CommandTable& table);  // rotate-key, verify-log
void addRecordCommands(CLI::App& app, CliContext& ctx, CommandTable& table);  // forward, permit, retract, thread, export
void addMeetingCommands(CLI::App& app, CliContext& ctx, CommandTable& table);  // meeting create, list, show, report
void addRoleCommands(CLI::App& app, CliContext& ctx, CommandTable& table);     // role assign, end
void addConsensusCommands(CLI::App& app, CliContext& ctx, CommandTable& table);  // comment, record-status
void addAlarmsCommand(CLI::App& app, CliContext& ctx, CommandTable& table);
void addWitnessCommand(CLI::App& app, CliContext& ctx, CommandTable& table);  // witness --follow
void addAgentCommands(CLI::App& app, CliContext& ctx, CommandTable& table);  // unlock (--status), lock
void addHistoryCommands(CLI::App& app, CliContext& ctx, CommandTable& table);  // history, search
void addTaxiiCommand(CLI::App& app, CliContext& ctx, CommandTable& table);
void addActionCommands(CLI::App& app, CliContext& ctx, CommandTable& table);  // action add/update, actions
void addNeedCommands(CLI::App& app, CliContext& ctx, CommandTable& table);    // need, offer, need-met, needs
void addNeedSendCommands(CLI::App& app, CliContext& ctx, CommandTable& table);  // need, offer, need-met (cmd_send.cpp)

// Helpers shared by commands.
// --tlp: clear|green|amber|amber+strict|red in any case, or the TLP 2.0
// spelling TLP:AMBER+STRICT (bulletin_reader.hpp parseTlp).
CLI::Validator tlpValidator();
crypto::BulletinId parseBulletinId(const std::string& hex);  // UsageError if not 32 hex digits
// A whole id from `text` (client/short_ids.hpp); UsageError with the
// resolver's code (bad-id, unknown-id, ambiguous-id) otherwise.
std::string idArg(const std::string& text, const std::vector<std::string>& known, std::string_view what);
// A bulletin id as a command takes it: whole, or a unique prefix among the
// bulletins this profile keeps for any of its members (received, read or
// sent: the bulletin caches, so `focal inbox` makes them known).
crypto::BulletinId bulletinIdArg(CliContext& ctx, const std::string& text);
// A public key file (from focal keygen), its certificate checked; UsageError
// ("bad-public-key") if it does not parse.
crypto::PublicKeys readPublicKeys(const std::string& file);
// The client's clock (client/client_clock.hpp): every command's "now".
using focal::client::nowMs;
// The one-line summary used by inbox and listen (JSON object or text row;
// every field of the sender's rendered with safeLine: one row per bulletin).
// `retractionQueued`: a retraction announcement of the same bulletin is
// queued too (inbox lists each bulletin once).
// A member's id, name, state, institution, roles, status and log index, as
// the directory listings print them (docs/json.md); callers add the rest.
nlohmann::json memberRolesJson(const MemberRecord& m);
// `contacts`: says whether the sender is one this member verified, and
// flags one whose key changed since (null: not shown).
nlohmann::json summaryJson(const Delivery& d, const Expected<OpenedMessage, std::string>& opened,
                           bool retractionQueued = false, const VerifiedContacts* contacts = nullptr);
std::string summaryLine(const Delivery& d, const Expected<OpenedMessage, std::string>& opened,
                        const VerifiedContacts* contacts = nullptr);
// The text mark of a sender whose key changed since it was verified ("" otherwise).
std::string keyChangedMark(const VerifiedContacts* contacts, const std::string& memberId, const std::string& fingerprint);

}  // namespace focal::client::cli

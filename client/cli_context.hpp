// What every `focal` command shares: the global options, the profile, the
// passphrase, the key file, a connected and authenticated hub session, the
// output channel. main() owns one CliContext and the command table.
#pragma once

#include "client/connection.hpp"
#include "client/bulletin_cache.hpp"
#include "client/bulletin_reader.hpp"
#include "client/key_directory.hpp"
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

class CliContext {
 public:
  GlobalOptions options;

  Output& out();
  Profile& profile();  // opened on first use
  std::string passphrase(bool confirm = false);
  crypto::MemberKeys loadKeys();
  // Connects to the hub and authenticates with `keys`.
  std::unique_ptr<Connection> connect(const crypto::MemberKeys& keys);
  ConnectOptions connectOptions() const;

 private:
  std::optional<Output> out_;
  std::optional<Profile> profile_;
};

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
void addConsensusCommands(CLI::App& app, CliContext& ctx, CommandTable& table);  // comment, record-status

// Helpers shared by commands.
crypto::BulletinId parseBulletinId(const std::string& hex);  // UsageError if not 32 hex digits
std::int64_t nowMs();
// Fetches every page of the queue after `afterSeq`, oldest first.
std::vector<Delivery> fetchAll(Connection& c, std::uint64_t afterSeq);
// Opens a received bulletin; refreshes the directory once if the sender is
// unknown (a member registered after it was fetched).
Expected<OpenedMessage, std::string> openWithDirectory(Connection& c, std::unique_ptr<HubDirectory>& dir,
                                                       const RawBulletin& raw, const crypto::MemberKeys& me);
// Opens one delivery of any kind (a bulletin, a forward, a retraction
// announcement), verifying every record, and keeps the still-encrypted
// bulletin and its records in `cache` so `focal read` works later. A
// retraction already cached for the id is attached too.
Expected<OpenedMessage, std::string> openDelivery(Connection& c, std::unique_ptr<HubDirectory>& dir,
                                                  const Delivery& d, const crypto::MemberKeys& me,
                                                  const BulletinCache& cache);
// Opens a cached bulletin with its cached forward and retraction records.
Expected<OpenedMessage, std::string> openCached(Connection& c, std::unique_ptr<HubDirectory>& dir,
                                                const RawBulletin& raw, const crypto::BulletinId& id,
                                                const crypto::MemberKeys& me, const BulletinCache& cache);
// A bulletin by id: every queued delivery of it (bulletin, forward,
// retraction announcement) is verified into the cache first, then the
// cached copy is opened with its records. UsageError "not-found" if it is
// neither queued nor cached.
Expected<OpenedMessage, std::string> findBulletin(Connection& conn, std::unique_ptr<HubDirectory>& directory,
                                                  const BulletinCache& cache, const crypto::BulletinId& id,
                                                  const crypto::MemberKeys& keys);
// The one-line summary used by inbox and listen (JSON object or text row;
// every field of the sender's rendered with safeLine: one row per bulletin).
nlohmann::json summaryJson(const Delivery& d, const Expected<OpenedMessage, std::string>& opened);
std::string summaryLine(const Delivery& d, const Expected<OpenedMessage, std::string>& opened);

}  // namespace focal::client::cli

// focal unlock [--status] / focal lock: the key agent
// (client/key_agent.hpp) that lets a working day's commands sign and open
// without asking the passphrase again.
#include "client/agent_client.hpp"
#include "client/cli_context.hpp"
#include "client/key_agent.hpp"
#include "crypto/passphrase_input.hpp"
#include "protocol/command_line.hpp"

#include <fmt/format.h>

namespace focal::client::cli {

namespace {

constexpr std::int64_t MaxAgentLifetimeMs = 7LL * 24 * 3600 * 1000;

struct UnlockArgs {
  std::string lifetime = "8h";
  std::string idle = "1h";
  std::string passphraseFile;
  int passphraseFd = -1;
  bool status = false;
};

std::chrono::milliseconds durationArg(const std::string& text, const char* option) {
  const auto ms = protocol::parseDurationMs(text);
  if (!ms || *ms <= 0 || *ms > MaxAgentLifetimeMs) {
    throw UsageError("usage", fmt::format("{} takes a duration up to 7d (90s, 30m, 8h, 2d), got '{}'", option, text));
  }
  return std::chrono::milliseconds(*ms);
}

// The passphrase from --passphrase-file or --passphrase-fd (crypto/passphrase_input.hpp).
std::string givenPassphrase(const UnlockArgs& a) {
  try {
    return a.passphraseFile.empty() ? crypto::readPassphraseFd(a.passphraseFd)
                                    : crypto::readPassphraseFile(a.passphraseFile);
  } catch (const std::length_error& e) {
    throw UsageError("usage", e.what());
  }
}

nlohmann::json infoJson(const agent::AgentInfo& i, const std::filesystem::path& socket) {
  return {{"running", true},
          {"socket", socket.string()},
          {"pid", i.pid},
          {"member_id", i.memberId},
          {"key_file", i.keyFile},
          {"expires_at", jsonTime(i.expiresAtMs)},
          {"idle_timeout_seconds", i.idleTimeoutMs / 1000},
          {"idle_expires_at", jsonTime(i.idleExpiresAtMs)}};
}

void printInfo(CliContext& ctx, const agent::AgentInfo& i, const std::filesystem::path& socket) {
  ctx.out().line(fmt::format("Key agent for {} ({}), pid {}", safeLine(i.keyFile), safeLine(i.memberId), i.pid));
  ctx.out().line(fmt::format("  socket: {}", socket.string()));
  ctx.out().line(fmt::format("  locks at {} at the latest; after {} s unused (next: {})", formatTime(i.expiresAtMs),
                             i.idleTimeoutMs / 1000, formatTime(i.idleExpiresAtMs)));
}

int runAgentStatus(CliContext& ctx);

int runUnlock(CliContext& ctx, const UnlockArgs& a) {
  if (a.status) return runAgentStatus(ctx);
  agent::AgentTimes times{durationArg(a.lifetime, "--for"), durationArg(a.idle, "--idle")};
  if (times.idle > times.lifetime) times.idle = times.lifetime;
  if (!a.passphraseFile.empty() && a.passphraseFd >= 0) {
    throw UsageError("usage", "give --passphrase-file or --passphrase-fd, not both");
  }
  if (!a.passphraseFile.empty() || a.passphraseFd >= 0) ctx.setPassphrase(givenPassphrase(a));
  const auto socket = ctx.agentSocket();
  // Read (and the passphrase checked) before anything else: a wrong one
  // leaves a running agent as it was.
  auto keys = ctx.loadKeyFile();
  ctx.setPassphrase({});
  agent::startAgent(std::move(keys), socket, ctx.keyFilePath(), times);
  const auto info = agent::describeAgent(socket);
  if (!info) throw std::runtime_error("the key agent did not start at " + socket.string());
  if (ctx.out().json()) {
    ctx.out().document(infoJson(*info, socket));
  } else {
    ctx.out().line("Unlocked: commands with this key file sign and open through the key agent, without the passphrase.");
    printInfo(ctx, *info, socket);
    ctx.out().line("Lock it with: focal lock");
  }
  return ExitOk;
}

int runLock(CliContext& ctx) {
  const auto socket = ctx.agentSocket();
  const bool was = agent::lockAgent(socket);
  if (ctx.out().json()) {
    ctx.out().document({{"locked", was}, {"socket", socket.string()}});
  } else {
    ctx.out().line(was ? "Locked: the key agent wiped its keys and stopped." : "No key agent was running for this key file.");
  }
  return ExitOk;
}

int runAgentStatus(CliContext& ctx) {
  const auto socket = ctx.agentSocket();
  const auto info = agent::describeAgent(socket);
  const auto stamp = agent::stampOf(ctx.keyFilePath());
  const bool stale = info && (!stamp || !(*stamp == info->stamp));
  if (ctx.out().json()) {
    nlohmann::json j = info ? infoJson(*info, socket)
                            : nlohmann::json{{"running", false},     {"socket", socket.string()}, {"pid", nullptr},
                                             {"member_id", nullptr}, {"key_file", ctx.keyFilePath()},
                                             {"expires_at", nullptr}, {"idle_timeout_seconds", nullptr},
                                             {"idle_expires_at", nullptr}};
    j["key_file_changed"] = stale;
    ctx.out().document(j);
    return ExitOk;
  }
  if (!info) {
    ctx.out().line(fmt::format("Locked: no key agent runs for {} (focal unlock starts one).", ctx.keyFilePath()));
    return ExitOk;
  }
  printInfo(ctx, *info, socket);
  if (stale) ctx.out().line("  the key file changed since it was unlocked: commands do not use this agent (focal lock, focal unlock)");
  return ExitOk;
}

}  // namespace

void addAgentCommands(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto* unlock = app.add_subcommand("unlock", "Unlock your key file once: a key agent signs and opens for later commands");
  unlock->footer(R"(Asks the passphrase once (FOCAL_PASSPHRASE, --passphrase-file, --passphrase-fd, else the
terminal) and starts a key agent in the background, like ssh-agent. The agent holds
the key file's secret keys in locked memory and does the signing and opening itself;
the keys never leave it. Later commands with the same key file and profile use it and
ask nothing; without it they read the key file as before. It stops, wiping the keys,
on focal lock, after --for, after --idle without use, or on SIGTERM. Any process of
your user can use it while it runs (as with ssh-agent); other users cannot.
Example:
  focal unlock --for 8h --idle 30m
  focal inbox
  focal unlock --status        # running? until when? (asks nothing)
  focal lock)");
  auto u = std::make_shared<UnlockArgs>();
  unlock->add_option("--for", u->lifetime, "How long the agent runs at most (90s, 30m, 8h, 2d; default 8h, up to 7d)");
  unlock->add_option("--idle", u->idle, "Lock after this long without a signature or opening (default 1h)");
  unlock->add_option("--passphrase-file", u->passphraseFile, "Read the passphrase from the first line of FILE");
  unlock->add_option("--passphrase-fd", u->passphraseFd, "Read the passphrase from the first line of descriptor N")
      ->check(CLI::NonNegativeNumber);
  unlock->add_flag("--status", u->status, "Only show whether the key agent runs for your key file, and until when");
  table.add(unlock, [&ctx, u] { return runUnlock(ctx, *u); });

  auto* lock = app.add_subcommand("lock", "Stop the key agent of your key file: it wipes the keys");
  lock->footer(R"(Example:
  focal lock)");
  table.add(lock, [&ctx] { return runLock(ctx); });
}

}  // namespace focal::client::cli

// focal: the command-line client of a Focal hub. main() wires the options,
// the commands and the mapping of failures to exit codes; nothing else.
#include "client/cli_context.hpp"
#include "client/client_error.hpp"
#include "client/head_freshness.hpp"
#include "crypto/types.hpp"
#include "protocol/build_info.hpp"
#include "protocol/command_line.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string_view>

using namespace focal::client;
using namespace focal::client::cli;

namespace {

constexpr const char* Footer = R"(Settings:
  --hub, --ca and --key fall back to the profile (focal profile set ...).
  The key passphrase comes from FOCAL_PASSPHRASE, else a prompt on the terminal;
  after focal unlock, commands with that key file use the key agent and ask nothing.

Exit codes:
  0  ok
  1  usage: bad arguments, unknown command or option, missing settings, wrong passphrase,
     a key file that does not open the local archive (archive-key)
  2  the hub refused (typed error, e.g. policy-denied, unknown-recipient)
  3  verification failed (signature, sender key, hash, attachment, the directory
     log); also stale-head: the newest verified log head is older than the
     profile's head-max-age (focal profile set), so nothing is sealed; a local
     archive (focal history, search) that does not authenticate
  4  I/O or network failure (connect, TLS, timeout, file)
  5  not found: no such bulletin, member or proposal (locally or at the hub;
     error code not-found)
With --json every error is {"error": {"code": ..., "message": ...}} on stdout
(docs/json.md).

Start here:
  focal keygen --member sg-spf-cyber --out sg.key
  focal profile set --hub hub.example.org:7443 --ca hub-ca.pem --key sg.key
  focal send --to my-pdrm-cyber --tlp amber --category alert --title "Phishing wave" --body "..."
  focal inbox
  focal read 3f2a...  --save-dir ./received
  focal search "phishing kit"      (every bulletin you opened, kept sealed in the profile))";

// --json is looked for before parsing, so that a parse error is already
// reported as JSON.
bool jsonRequested(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--") break;
    if (a == "--json") return true;
  }
  return false;
}

// --timeout: a number of seconds in [MinTimeoutSeconds, MaxTimeoutSeconds].
// Outside it a deadline is useless (0) or overflows the clock (1e300).
constexpr double MinTimeoutSeconds = 0.1;
constexpr double MaxTimeoutSeconds = 3600;

std::string checkTimeout(std::string& text) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  const bool number = !text.empty() && end == text.c_str() + text.size() && errno == 0 && std::isfinite(v);
  if (number && v >= MinTimeoutSeconds && v <= MaxTimeoutSeconds) return {};
  return fmt::format("takes a number of seconds from {} to {}, got '{}'", MinTimeoutSeconds, MaxTimeoutSeconds, text);
}

}  // namespace

int main(int argc, char** argv) {
  focal::crypto::initialize();
  focal::crypto::disableCoreDumps();
  announceTestClock();

  CLI::App app{"focal - end-to-end encrypted bulletins between cybercrime points of contact"};
  app.footer(Footer);
  app.set_version_flag("--version", "focal " + std::string(focal::protocol::buildVersion()),
                       "Print the version (and the git revision it was built from) and exit");
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the command
  CliContext ctx;
  auto& o = ctx.options;
  app.add_option("--hub", o.hub, "Hub address HOST:PORT");
  app.add_option("--ca", o.ca, "The hub's certificate or CA (PEM): the only trust anchor");
  app.add_option("--key", o.key, "Your key file (from focal keygen)");
  app.add_option("--profile-dir", o.profileDir, "Profile directory (default $FOCAL_HOME or ~/.focal)");
  app.add_option("--timeout", o.timeoutSeconds,
                 fmt::format("Deadline in seconds for each network step, {} to {} (default 30)", MinTimeoutSeconds,
                             MaxTimeoutSeconds))
      ->check(CLI::Validator(checkTimeout, "SECONDS"));
  app.add_flag("--json", o.json, "Machine-readable output: one JSON document on stdout");

  // Every command's registration, in the order focal --help lists them.
  using AddCommands = void (*)(CLI::App&, CliContext&, CommandTable&);
  constexpr AddCommands Commands[] = {
      addKeygenCommand, addAgentCommands, addAdminCommands, addSendCommand, addInboxCommand, addReadCommand, addHistoryCommands, addTaxiiCommand, addDeliveryCommands,
      addListenCommand, addDirectoryCommands, addProfileCommands, addKeyCommands, addRecordCommands, addMeetingCommands, addRoleCommands,
      addConsensusCommands, addActionCommands, addNeedCommands, addAlarmsCommand, addWitnessCommand,
  };
  CommandTable table;
  for (const AddCommands add : Commands) add(app, ctx, table);

  if (auto rc = focal::protocol::parseCommandLine(app, argc, argv, "focal", [&](const std::string& message) {
        Output(o.json || jsonRequested(argc, argv)).error("usage", message);
        return ExitUsage;
      })) {
    return *rc;
  }

  Output& out = ctx.out();
  try {
    auto rc = table.runParsed();
    if (!rc) {
      out.error("usage", "no command (see focal --help)");
      return ExitUsage;
    }
    ctx.saveArchive();  // what the command opened, acknowledged or let expire
    return *rc;
  } catch (const NotFoundError& e) {
    out.error("not-found", e.what());
    return ExitNotFound;
  } catch (const UsageError& e) {
    out.error(e.code(), e.what());
    return ExitUsage;
  } catch (const HubError& e) {
    out.error(e.codeName(), e.hubMessage().empty() ? e.codeName() : e.hubMessage());
    // One exit code for not-found, whether the hub or the client found nothing.
    return e.code() == focal::wire::ErrorCode::NOT_FOUND || e.code() == focal::wire::ErrorCode::EXPIRED ? ExitNotFound
                                                                                                    : ExitRefused;
  } catch (const StaleHeadError& e) {
    // A verification failure (exit 3) with its own code: the head is too old.
    out.error("stale-head", e.what());
    return ExitVerify;
  } catch (const VerifyError& e) {
    out.error("verification-failed", e.what());
    return ExitVerify;
  } catch (const TransportError& e) {
    out.error(e.kind() == TransportError::Kind::Timeout ? "timeout" : "network", e.what());
    return ExitIo;
  } catch (const std::exception& e) {
    out.error("io", e.what());
    return ExitIo;
  }
}

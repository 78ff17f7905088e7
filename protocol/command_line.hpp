// What the two programs, focal and focald, share on their command lines: the
// naming of a parse failure, and durations written "14d", "36h", "30m",
// "90s". Header-only and inline: only the two main()s and the CLI include
// it, and they already compile CLI11 (protocol/'s library does not link it).
#pragma once

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace focal::protocol {

// "focal admin register": `program` and the deepest subcommand parsed.
inline std::string commandPath(const CLI::App& app, std::string_view program) {
  std::string path(program);
  for (const CLI::App* at = &app; !at->get_subcommands().empty();) {
    at = at->get_subcommands().front();
    path += " " + at->get_name();
  }
  return path;
}

// A parse failure named for what it is. CLI11 checks required options before
// it reports unknown arguments, so `focal send --bogus` would say "--to is
// required" and `focal bogus` "A subcommand is required": the arguments it
// could not place are looked at first. Ends with the help to read: the
// command's, or the program's for a mistake in a global option.
inline std::string describeParseError(const CLI::App& app, const CLI::ParseError& e, std::string_view program) {
  const auto path = commandPath(app, program);
  const auto extras = app.remaining(true);
  std::string what = e.what();
  if (!extras.empty()) {
    const auto& first = extras.front();
    if (!first.empty() && first.front() == '-') {
      what = "unknown option '" + first + "'";
    } else if (path == program) {
      what = "unknown command '" + first + "'";
    } else {
      what = "unexpected argument '" + first + "'";
    }
    if (extras.size() > 1) what += fmt::format(" (and {} more)", extras.size() - 1);
  }
  const auto colon = what.find(':');
  if (extras.empty() && colon != std::string::npos && what.rfind("--", 0) == 0 &&
      app.get_option_no_throw(what.substr(0, colon)) != nullptr) {
    return what + " (see " + std::string(program) + " --help)";
  }
  return what + " (see " + path + " --help)";
}

// Parses the command line. A help or --version request prints its text and
// returns its exit code (0); a parse failure is described (describeParseError) and handed to
// `reportUsage(message)`, whose exit code is returned. nullopt: parsed, go on.
template <class ReportUsage>
std::optional<int> parseCommandLine(CLI::App& app, int argc, char** argv, std::string_view program,
                                    ReportUsage&& reportUsage) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return reportUsage(describeParseError(app, e, program));
  }
  return std::nullopt;
}

// "14d", "36h", "30m", "90s" (1 to 999999 units) in milliseconds; nullopt
// for anything else. The caller checks its own upper limit.
inline std::optional<std::int64_t> parseDurationMs(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  const auto digits = text.substr(0, text.size() - 1);
  if (digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  std::int64_t n = 0;
  for (char c : digits) n = n * 10 + (c - '0');
  std::int64_t unit = 0;
  switch (text.back()) {
    case 's': unit = 1000; break;
    case 'm': unit = 60'000; break;
    case 'h': unit = 3'600'000; break;
    case 'd': unit = 86'400'000; break;
    default: return std::nullopt;
  }
  if (n <= 0) return std::nullopt;
  return n * unit;
}

}  // namespace focal::protocol

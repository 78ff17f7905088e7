// focald's log output: where it goes and in what form (`focald
// --log-format`, docs/operations.md "Logs").
//   text     one line per event on stderr: "TIME LEVEL message" (colour at
//            a terminal)
//   json     one JSON object per line on stderr, with the keys time (UTC,
//            RFC 3339 with milliseconds), level (trace, debug, info,
//            warning, error, critical), message, logger, thread, and
//            session when the message is about one ("session N: ...")
//   journal  straight to journald with its priority (debug .. crit) and
//            SYSLOG_IDENTIFIER=focald, so `journalctl -p warning` filters
//            (needs a build with libsystemd, FOCAL_SYSTEMD)
//   auto     journal when stderr is the journal (systemd sets
//            JOURNAL_STREAM to stderr's device:inode), else text
// SECURITY: messages can carry text a peer chose (a member id that failed
// its syntax check is never logged, but an error string may be); JSON
// output replaces invalid UTF-8 instead of failing, and every control
// character is escaped, so one line is always one event.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace focal::server {

enum class LogFormat { Auto, Text, Json, Journal };

// "auto", "text", "json", "journal"; nullopt for anything else.
std::optional<LogFormat> parseLogFormat(std::string_view name);

// The formatter of the json format (exposed for tests).
std::unique_ptr<spdlog::formatter> makeJsonLogFormatter();

// Installs the default logger "focald" in `format` (Auto resolved as
// above; Journal without libsystemd falls back to text with a warning).
// Returns the format in use.
LogFormat installLogger(LogFormat format);

}  // namespace focal::server

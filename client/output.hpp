// The CLI's output channel. Text for people; with --json exactly one JSON
// document per command on stdout (listen: one object per line), errors as
// {"error": {"code": "...", "message": "..."}}.
//
// SECURITY: nothing reaches the terminal unfiltered (client/safe_text.hpp).
// line() and note() pass their text through safeBlock as a backstop: no
// control, C1, bidi control or non-UTF-8 byte is emitted even from a field a
// command forgot; commands still render each single-line field of another
// party with safeLine, so its newlines cannot add a row. error() renders the
// message as one line. JSON documents are dumped with
// error_handler_t::replace (a byte that is not UTF-8 becomes U+FFFD: a JSON
// string cannot hold it, and a dump must never throw) and then
// jsonTerminalSafe (C1, bidi and separators as \uXXXX: same values).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace focal::client::cli {

class Output {
 public:
  explicit Output(bool json) : json_(json) {}
  bool json() const { return json_; }
  // The command's JSON result (pretty) — only in JSON mode.
  void document(const nlohmann::json& j) const;
  // One compact JSON line, flushed (streams).
  void jsonLine(const nlohmann::json& j) const;
  // A line of text for people — only in text mode.
  void line(std::string_view text) const;
  // A line for people on stderr, in either mode (progress and confirmations
  // that are not the command's result).
  void note(std::string_view text) const;
  void error(std::string_view code, std::string_view message) const;

 private:
  bool json_;
};

// "2026-11-28T10:12:58Z"; "-" for 0.
std::string formatTime(std::int64_t unixMs);

}  // namespace focal::client::cli

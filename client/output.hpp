// The CLI's output channel. Text for people; with --json exactly one JSON
// document per command on stdout (listen: one object per line), errors as
// {"error": {"code": "...", "message": "..."}} on stdout, with the exit code
// of main() (docs/json.md).
//
// The JSON dialect (docs/json.md, one for focal and focald): snake_case keys;
// every documented key always present, null when absent (never "" or "-");
// times in keys ending _at, RFC 3339 UTC with milliseconds
// ("2026-11-28T10:12:58.123Z"); identifiers in keys ending _id / _ids, named
// by their kind for the thing described (bulletin_id, member_id, ...) and by
// their role otherwise (reply_to_id, proposer_id, ...); TLP as in TLP 2.0
// ("TLP:AMBER+STRICT").
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
  // "focal: warning: ..." on stderr, in both modes (stdout stays one document).
  void warning(std::string_view message) const;

 private:
  bool json_;
};

// "2026-11-28T10:12:58Z"; "-" for 0. For text output.
std::string formatTime(std::int64_t unixMs);

// JSON values of the dialect above.
// "2026-11-28T10:12:58.123Z" (RFC 3339, UTC, always 3 fractional digits);
// null for 0 (unset) or a negative time.
nlohmann::json jsonTime(std::int64_t unixMs);
// The text, or null when empty.
nlohmann::json jsonText(const std::string& text);
// A TLP 2.0 label ("TLP:AMBER+STRICT") from its bare name ("AMBER+STRICT");
// null for an empty or "UNSET" name.
nlohmann::json jsonTlp(std::string_view bareName);
// The one shape of a bulletin's sender everywhere:
// {"member_id": ..., "name": ..., "fingerprint": ...} (name/fingerprint null
// when unknown).
nlohmann::json senderJson(const std::string& memberId, const std::string& name, const std::string& fingerprint);

}  // namespace focal::client::cli

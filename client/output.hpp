// The CLI's output channel. Text for people; with --json exactly one JSON
// document per command on stdout (listen: one object per line), errors as
// {"error": {"code": "...", "message": "..."}}.
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
  void error(std::string_view code, std::string_view message) const;
  // "focal: warning: ..." on stderr, in both modes (stdout stays one document).
  void warning(std::string_view message) const;

 private:
  bool json_;
};

// "2026-11-28T10:12:58Z"; "-" for 0.
std::string formatTime(std::int64_t unixMs);

}  // namespace focal::client::cli

#include "client/output.hpp"

#include <cstdio>
#include "client/safe_text.hpp"
#include "protocol/json_fields.hpp"

#include <ctime>
#include <iostream>

namespace focal::client::cli {

void Output::document(const nlohmann::json& j) const {
  std::cout << jsonTerminalSafe(j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)) << "\n";
  std::cout.flush();
}

void Output::jsonLine(const nlohmann::json& j) const {
  std::cout << jsonTerminalSafe(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) << "\n";
  std::cout.flush();
}

void Output::line(std::string_view text) const {
  if (json_) return;
  std::cout << safeBlock(text) << "\n";
}

void Output::note(std::string_view text) const {
  std::cout.flush();
  std::cerr << safeBlock(text) << "\n";
}

void Output::error(std::string_view code, std::string_view message) const {
  if (json_) {
    std::cout.flush();
    document(nlohmann::json{{"error", {{"code", code}, {"message", message}}}});
  } else {
    std::cout.flush();
    std::cerr << "focal: " << safeLine(code) << ": " << safeLine(message) << "\n";
  }
}

void Output::warning(std::string_view message) const {
  std::cout.flush();
  std::cerr << "focal: warning: " << safeBlock(message) << "\n";
}

std::string formatTime(std::int64_t unixMs) {
  if (unixMs <= 0) return "-";
  const std::time_t t = static_cast<std::time_t>(unixMs / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json jsonTime(std::int64_t unixMs) { return protocol::json_fields::isoTime(unixMs); }

nlohmann::json jsonText(const std::string& text) {
  if (text.empty()) return nullptr;
  return text;
}

nlohmann::json jsonTlp(std::string_view bareName) {
  if (bareName.empty() || bareName == "UNSET") return nullptr;
  return "TLP:" + std::string(bareName);
}

nlohmann::json senderJson(const std::string& memberId, const std::string& name, const std::string& fingerprint) {
  return {{"member_id", jsonText(memberId)}, {"name", jsonText(name)}, {"fingerprint", jsonText(fingerprint)}};
}

}  // namespace focal::client::cli

#include "client/short_ids.hpp"

#include "client/safe_text.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace focal::client {

Expected<std::string, IdPrefixProblem> resolveIdPrefix(std::string_view text, const std::vector<std::string>& known,
                                                       std::string_view what) {
  std::string id(text);
  for (auto& ch : id) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const bool hex = !id.empty() && std::all_of(id.begin(), id.end(), [](char ch) {
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
  });
  if (!hex || id.size() > 32 || id.size() < MinIdPrefixDigits) {
    return unexpected(IdPrefixProblem{
        "bad-id", fmt::format("a {} id is 32 hex digits, or a unique first {} or more of them, got '{}'", what,
                              MinIdPrefixDigits, safeLine(text))});
  }
  if (id.size() == 32) return id;
  std::set<std::string> matches;
  for (const auto& k : known) {
    if (k.size() == 32 && k.compare(0, id.size(), id) == 0) matches.insert(k);
  }
  if (matches.empty()) {
    return unexpected(IdPrefixProblem{
        "unknown-id", fmt::format("no {} this profile knows starts with {}: give the whole id ({} lists them)", what,
                                  id, what == "proposal" ? "focal proposals" : "focal inbox")});
  }
  if (matches.size() > 1) {
    std::vector<std::string> shown(matches.begin(), matches.end());
    const std::size_t total = shown.size();
    if (shown.size() > 10) shown.resize(10);
    return unexpected(IdPrefixProblem{
        "ambiguous-id", fmt::format("{} is the start of {} {} ids: {}{}; give more digits", id, total, what,
                                    fmt::join(shown, ", "), total > shown.size() ? ", ..." : "")});
  }
  return *matches.begin();
}

}  // namespace focal::client

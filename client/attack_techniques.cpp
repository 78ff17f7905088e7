#include "client/attack_techniques.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <vector>

namespace focal::client {

namespace detail {
extern const char AttackTechniquesTsv[];
}

namespace {

// Parsed once, on first use; sorted by id. The views point into the
// embedded text, which lives for the whole program.
const std::vector<AttackTechnique>& table() {
  static const std::vector<AttackTechnique> t = [] {
    std::vector<AttackTechnique> out;
    std::string_view text(detail::AttackTechniquesTsv);
    while (!text.empty()) {
      const auto eol = text.find('\n');
      std::string_view line = text.substr(0, eol);
      text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
      if (line.empty() || line.front() == '#') continue;
      std::string_view cols[5];
      for (auto& c : cols) {
        const auto tab = line.find('\t');
        c = line.substr(0, tab);
        line = tab == std::string_view::npos ? std::string_view() : line.substr(tab + 1);
      }
      AttackStatus status = AttackStatus::Active;
      if (cols[2] == "deprecated") status = AttackStatus::Deprecated;
      else if (cols[2] == "revoked") status = AttackStatus::Revoked;
      else if (cols[2] != "active") throw std::logic_error("attack-enterprise-techniques.tsv: bad status");
      out.push_back(AttackTechnique{cols[0], cols[1], status, cols[4]});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
  }();
  return t;
}

}  // namespace

std::optional<AttackTechnique> findAttackTechnique(std::string_view id) {
  const auto& t = table();
  auto it = std::lower_bound(t.begin(), t.end(), id, [](const AttackTechnique& a, std::string_view v) { return a.id < v; });
  if (it == t.end() || it->id != id) return std::nullopt;
  return *it;
}

std::string normalizeAttackId(std::string_view id) {
  while (!id.empty() && std::isspace(static_cast<unsigned char>(id.front()))) id.remove_prefix(1);
  while (!id.empty() && std::isspace(static_cast<unsigned char>(id.back()))) id.remove_suffix(1);
  std::string out(id);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

const char* attackStatusName(AttackStatus s) {
  switch (s) {
    case AttackStatus::Active: return "active";
    case AttackStatus::Deprecated: return "deprecated";
    case AttackStatus::Revoked: return "revoked";
  }
  return "unknown";
}

}  // namespace focal::client

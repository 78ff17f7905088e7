// Syntax of the identifiers the hub accepts from members and operators.
// SECURITY: these are checked before an identifier is stored, logged or used
// as a map key; they keep control characters and look-alike tricks out of
// logs and the directory.
#pragma once

#include <string_view>

namespace focal::server {

// Member and hub ids: [a-z0-9][a-z0-9.-]{1,62} (2 to 63 bytes).
inline bool validMemberId(std::string_view id) {
  if (id.size() < 2 || id.size() > 63) return false;
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(id[0])) return false;
  for (char c : id.substr(1)) {
    if (!alnum(c) && c != '.' && c != '-') return false;
  }
  return true;
}

// ISO 3166 alpha-2 in upper case, or empty (partners, resource panel).
inline bool validStateCode(std::string_view s) {
  return s.empty() || (s.size() == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z');
}

// Group addresses of a bulletin (DESIGN.md §8). They look like member ids,
// so no member may be registered under one of them.
inline bool isGroupAddress(std::string_view a) {
  return a == "all" || a == "members" || a == "partners" || a == "resource-panel" || a == "somtc-focal-points" ||
         a.substr(0, 6) == "state:";
}

}  // namespace focal::server

// Strict readers for the JSON formats focal and focald share (the enrolment
// bundle, the fork proof): a hex field of exactly a fixed-size type's length,
// and "no field but these". Header-only; nlohmann-json stays private to
// focal_protocol (include this only from .cpp files).
#pragma once

#include "crypto/types.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <set>
#include <string_view>

namespace focal::protocol::json_fields {

// A hex field of exactly F's size.
template <typename F>
bool hexField(const nlohmann::json& j, const char* key, F& out) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return false;
  const auto bytes = crypto::fromHex(it->get<std::string>());
  if (!bytes) return false;
  auto f = F::fromBytes(*bytes);
  if (!f) return false;
  out = *f;
  return true;
}

// A time as docs/json.md writes it (ISO 8601 UTC with milliseconds), or
// null for 0: focal's --json times and focald's alike.
inline nlohmann::json isoTime(std::int64_t unixMs) {
  if (unixMs <= 0) return nullptr;
  const auto t = static_cast<std::time_t>(unixMs / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(unixMs % 1000));
  return std::string(buf);
}

inline bool onlyKeys(const nlohmann::json& j, std::initializer_list<std::string_view> keys) {
  const std::set<std::string_view> allowed(keys);
  for (const auto& item : j.items()) {
    if (allowed.count(item.key()) == 0) return false;
  }
  return true;
}

}  // namespace focal::protocol::json_fields

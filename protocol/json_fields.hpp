// Strict readers for the JSON formats focal and focald share (the enrolment
// bundle, the fork proof): a hex field of exactly a fixed-size type's length,
// and "no field but these". Header-only; nlohmann-json stays private to
// focal_protocol (include this only from .cpp files).
#pragma once

#include "crypto/types.hpp"

#include <nlohmann/json.hpp>

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

inline bool onlyKeys(const nlohmann::json& j, std::initializer_list<std::string_view> keys) {
  const std::set<std::string_view> allowed(keys);
  for (const auto& item : j.items()) {
    if (allowed.count(item.key()) == 0) return false;
  }
  return true;
}

}  // namespace focal::protocol::json_fields

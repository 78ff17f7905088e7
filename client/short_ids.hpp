// Short ids, as git takes them (issue 20): a command that takes a bulletin
// or proposal id also takes a unique prefix of it, at least
// MinIdPrefixDigits hex digits, among the ids the caller knows (the
// profile's bulletin caches, the hub's proposal listing).
#pragma once

#include "crypto/expected.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace focal::client {

inline constexpr std::size_t MinIdPrefixDigits = 6;

struct IdPrefixProblem {
  std::string code;  // bad-id (not hex, too short or long), unknown-id, ambiguous-id
  std::string message;
};

// `text`: a whole id (32 hex digits, any case) or a prefix of one id in
// `known` (lower-case hex; others ignored). Returns the whole id in lower
// case; an ambiguous prefix's message lists the candidates (at most ten).
// `what`: "bulletin" or "proposal", for the messages.
Expected<std::string, IdPrefixProblem> resolveIdPrefix(std::string_view text, const std::vector<std::string>& known,
                                                       std::string_view what);

}  // namespace focal::client

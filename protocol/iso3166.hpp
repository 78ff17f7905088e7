// ISO 3166-1 alpha-2 country codes: the member states a member may belong to.
//
// The table (iso3166_table.cpp) is generated from Debian's iso-codes data by
// scripts/gen-iso3166-table.py and committed, so that every build accepts
// the same codes (a hub and a client built on machines with different
// iso-codes versions never disagree).
//
// Where it is used: at the edge, for NEW directory entries (the CLI before
// it sends a registration or an admission proposal, the hub before it
// appends one). A log entry already written is judged by the log's own
// syntax rule (two upper-case letters, PROTOCOL.md §11), never by this
// table: a code later withdrawn from ISO 3166 must not make an old log
// fail verification.
#pragma once

#include <cstddef>
#include <string_view>

namespace focal::protocol {

// True when `code` is an officially assigned alpha-2 code, in upper case.
bool isIso3166Alpha2(std::string_view code);
// The country's short name (UTF-8), or "" when `code` is not in the table.
std::string_view iso3166Name(std::string_view code);

namespace detail {
struct Iso3166Entry {
  const char* code;
  const char* name;
};
extern const Iso3166Entry Iso3166Table[];
extern const std::size_t Iso3166TableSize;
}  // namespace detail

}  // namespace focal::protocol

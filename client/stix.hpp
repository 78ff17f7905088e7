// STIX 2.1 as Focal carries it (issue 21, docs/cti.md): the OASIS TLP 2.0
// marking definitions, deterministic UUIDv5 ids, and the validator every
// carried bundle passes twice — in the sender's client before sealing and in
// the receiver's client before it is shown or exported.
//
// SECURITY: a carried bundle is hostile input from another member. The
// validator never throws on any input (a parse failure is a StixProblem),
// bounds JSON nesting before parsing (MaxStixDepth) and pattern nesting
// while parsing (MaxPatternDepth), and refuses a bundle over the content
// limit before reading it.
#pragma once

#include "protocol/names.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace focal::client::stix {

// The carried bundle shares the content's limit (protocol/limits.hpp) with
// the title and body; a bundle alone may not be larger.
inline constexpr int MaxStixDepth = 32;      // JSON nesting of a carried bundle
inline constexpr int MaxPatternDepth = 32;   // parentheses and brackets of one pattern
inline constexpr std::size_t MaxStixObjects = 10000;

// ---- TLP 2.0 (the OASIS extension-definition--60a3c5c5-…) ----

inline constexpr std::string_view TlpExtensionId = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";
// "marking-definition--bab4a63c-…" for GREEN; empty for UNSET.
std::string_view tlpMarkingId(wire::Tlp tlp);
// The exact OASIS marking-definition object of a level (as published in
// oasis-open/cti-stix-common-objects, objects/marking-definition/).
nlohmann::json tlpMarkingDefinition(wire::Tlp tlp);
// The level of a TLP 2.0 marking-definition id, or nullopt.
std::optional<wire::Tlp> tlpOfMarkingId(std::string_view id);
// CLEAR 0 < GREEN 1 < AMBER 2 < AMBER+STRICT 3 < RED 4 (UNSET -1).
int tlpRank(wire::Tlp tlp);

// ---- ids and timestamps ----

// RFC 4122 name-based UUID, version 5 (SHA-1 through OpenSSL's EVP), in
// lower-case 8-4-4-4-12 form.
std::string uuid5(const std::array<std::uint8_t, 16>& ns, std::string_view name);
// Focal's namespace for every id it derives (docs/cti.md).
inline constexpr std::array<std::uint8_t, 16> FocalNamespace = {0x9e, 0x22, 0x10, 0xb8, 0xe7, 0xd1, 0x49, 0x12,
                                                                0xb7, 0xdc, 0x99, 0xe9, 0x46, 0x45, 0xfc, 0xcc};
// "2026-11-28T10:12:58.123Z": STIX's timestamp with millisecond precision.
std::string timestamp(std::int64_t unixMs);
// True for an RFC 3339 UTC timestamp as STIX requires it (…T…Z, optional
// fraction, valid ranges).
bool isTimestamp(std::string_view text);
// True for "type--UUID" (type: lower-case letters, digits, hyphens; UUID in
// RFC 4122 form).
bool isIdentifier(std::string_view text);

// ---- validation ----

// True when no [ or { of a JSON text nests deeper than `limit` (strings
// skipped). Checked before a hostile text is parsed, so neither the parser
// nor the parsed value's destructor can be driven into deep recursion.
bool nestsWithin(std::string_view text, int limit);

struct StixProblem {
  // "invalid-stix": not a valid STIX 2.1 bundle; "stix-tlp": an object is
  // marked stricter than the bulletin.
  std::string code;
  std::string message;  // names the object (its id) when one is at fault
};

// The STIX patterning grammar (STIX 2.1 §9, the OASIS STIXPattern.g4):
// observation expressions joined by AND/OR/FOLLOWEDBY with START/STOP,
// WITHIN and REPEATS qualifiers, comparison expressions with AND/OR/NOT and
// every operator, object paths, and all literal kinds. Returns the reason
// when it does not parse.
std::optional<std::string> checkPattern(std::string_view pattern);

// Parses and validates a carried bundle for a bulletin of level `tlp`:
// bundle and object ids, spec_version 2.1, required properties per object
// type, timestamps, references resolvable in the bundle or to a TLP 2.0
// marking, indicator patterns, TLP 2.0 marking definitions exactly as
// published, and no object marked stricter than the bulletin. Never throws.
struct Validated {
  std::optional<nlohmann::json> bundle;
  std::optional<StixProblem> problem;
};
Validated validateBundle(std::string_view text, wire::Tlp tlp);

}  // namespace focal::client::stix

// MITRE ATT&CK Enterprise technique ids, names and status, compiled in from
// data/attack/attack-enterprise-techniques.tsv (ATT&CK v18.1, © The MITRE
// Corporation, data/attack/attack-LICENSE.txt).
//
// Used at the edge: `focal send --attack` refuses an id not in the list and
// warns about a deprecated or revoked one; `focal read` shows names. A
// received bulletin is never refused for an id unknown here (it may come
// from a client with a newer ATT&CK release).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace focal::client {

inline constexpr std::string_view AttackVersion = "ATT&CK v18.1";

enum class AttackStatus { Active, Deprecated, Revoked };

struct AttackTechnique {
  std::string_view id;    // "T1566.002"
  std::string_view name;  // "Spearphishing Link"
  AttackStatus status = AttackStatus::Active;
  std::string_view stixId;  // MITRE's "attack-pattern--…" (what OpenCTI and MISP de-duplicate on)
};

// The technique with this id (exact, upper-case "T" form), or nullopt.
std::optional<AttackTechnique> findAttackTechnique(std::string_view id);
// "T1566.002" from " t1566.002 ": trimmed, upper case.
std::string normalizeAttackId(std::string_view id);
const char* attackStatusName(AttackStatus s);

}  // namespace focal::client

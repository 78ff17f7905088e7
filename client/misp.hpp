// MISP events (issue 21, docs/cti.md, MISP): a verified bulletin as a MISP
// event in MISP's core JSON format, and a MISP event as the parts of a
// bulletin (title, TLP, ATT&CK, a STIX 2.1 bundle of its attributes).
//
// SECURITY: an imported event is input from a file the user chose, but its
// attributes become another member's STIX bundle: the bundle built here is
// checked by stix::validateBundle like any other before it is sealed.
#pragma once

#include "client/bulletin_reader.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace focal::client::misp {

// {"Event": {...}} for a bulletin the caller opened and verified; its
// carried indicators (single-comparison STIX patterns) and observables of a
// mapped type become attributes. Throws UsageError("invalid-stix") when the
// carried bundle does not validate.
nlohmann::json eventFor(const OpenedMessage& m);

struct Imported {
  std::string title;                   // Event.info
  std::optional<wire::Tlp> tlp;        // from the event's tlp: tag
  std::vector<std::string> attack;     // from misp-galaxy:mitre-attack-pattern tags
  std::string stixBundle;              // the attributes as STIX 2.1; empty when none is mapped
  std::string summary;                 // a plain-text list of the attributes (the default body)
  std::vector<std::string> skipped;    // attribute types with no STIX mapping
};

// Reads a MISP event ({"Event": {...}} or the bare event object). Throws
// UsageError("bad-misp", …) naming what is wrong: not JSON, no Event, no
// info, two different tlp: tags, a galaxy tag without an ATT&CK id.
Imported importEvent(std::string_view text, std::int64_t nowMs);

}  // namespace focal::client::misp

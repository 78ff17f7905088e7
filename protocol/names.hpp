// The text spelling of every schema enum the client prints, parses or sends
// to a log, and the hub writes to its log and audit trail: one table per
// enum, so the CLI's JSON (docs/json.md), its text output and the hub's
// messages cannot drift apart. Spellings are part of the interface
// (tests/integration/json_output_test.cpp checks them): append, never rename.
//
// A `...Name` function returns the enum's spelling, or the fallback shown
// (e.g. "unset", "unknown") for a value the table does not name. A `parse...`
// function accepts exactly the spellings of its table (case as stated) and
// leaves `out` untouched when it returns false.
#pragma once

#include "protocol/focal.capnp.h"

#include <string_view>

namespace focal::protocol {

// "law-enforcement", "policy-security", "secretariat", "dialogue-partner",
// "resource-panel"; "unset".
const char* institutionName(wire::Institution i);
[[nodiscard]] bool parseInstitution(std::string_view text, wire::Institution& out);

// "CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"; "UNSET".
const char* tlpName(wire::Tlp t);
// clear|green|amber|amber+strict|red in any case, with or without the TLP 2.0
// prefix "TLP:".
[[nodiscard]] bool parseTlp(std::string_view text, wire::Tlp& out);

// "trend", "best-practice", "technique", "tool", "alert", "summary-record",
// "other", "meeting-document"; "unset".
const char* categoryName(wire::Category c);
[[nodiscard]] bool parseCategory(std::string_view text, wire::Category& out);

const char* priorityName(wire::Priority p);  // "normal", "urgent"

// "H0".."H3"; "" when unset. parseHandling: h0..h3 in any case.
const char* handlingName(wire::Handling h);
[[nodiscard]] bool parseHandling(std::string_view text, wire::Handling& out);

// "queued", "delivered", "acknowledged"; "unknown".
const char* deliveryStateName(wire::DeliveryState s);
// "pending", "approved", "objected", "withdrawn", "superseded"; "unknown".
const char* recordStateName(wire::RecordState s);
// "open", "adopted", "rejected", "expired"; "unknown".
const char* proposalStateName(wire::ProposalState s);

// A consensus proposal's subject: "admission", "amendment"; "unknown".
const char* proposalKindName(wire::Proposal::Which w);

// A directory-log event: "genesis", "register", "rotate-encryption",
// "rotate-identity", "revoke", "role-change", "record-approved",
// "admission", "amendment"; "unknown".
const char* logEventName(wire::LogEvent::Which w);

// A server frame's kind, for error messages: "challenge", "accepted",
// "upload-ready", ...; "unknown".
const char* serverFrameName(wire::ServerFrame::Which w);

}  // namespace focal::protocol

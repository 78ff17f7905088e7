// Admins by quorum on the client side (PROTOCOL.md §11.7): how `focal
// admin register|revoke|rotate|role` submit a change (one signed log entry
// where the verified log lets one admin make it, otherwise a proposal that
// other admins approve), and the commands that see and decide pending
// changes: `focal admin pending|approve|reject`.
#pragma once

#include "client/cli_context.hpp"
#include "client/connection.hpp"
#include "crypto/keyfile.hpp"

#include <capnp/message.h>

#include <cstdint>
#include <optional>
#include <string>

namespace focal::client::cli {

struct AdminSubmission {
  std::optional<std::uint64_t> logIndex;  // made now, at this log index
  // Otherwise pending: the proposal, how many more admin approvals it
  // needs, and (another member's key rotation) when it may take effect.
  std::string proposalId;
  std::uint32_t approvalsNeeded = 0;
  std::int64_t notBeforeMs = 0;
};

// Submits the admin change `event` (register, revoke, rotate*, roleChange;
// issuedAtMs set, position not) against the connection's verified log,
// synced first. Warns on stderr when the log lets one admin key decide.
AdminSubmission submitAdminChange(CliContext& ctx, Connection& conn, const crypto::Keyring& keys,
                                  capnp::MallocMessageBuilder& event);

// For a pending submission: prints what happens next (or its --json
// document: pending, proposal_id, action, member_id, approvals_needed,
// effective_not_before) and returns true; false when it was made at once.
bool printPending(CliContext& ctx, const AdminSubmission& s, const std::string& action, const std::string& member);

// Warns on stderr about each open admin change, verified against the
// connection's log, that would rotate `me`'s keys: the member is told before
// it takes effect and how to object (PROTOCOL.md §11.7). `inbox` and
// `listen` call it.
void warnPendingRotations(CliContext& ctx, Connection& conn, const std::string& me);

void addAdminQuorumCommands(CLI::App& admin, CliContext& ctx, CommandTable& table);

}  // namespace focal::client::cli

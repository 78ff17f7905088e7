// The hub's audit trail as an admin reads it, verified by the client: the
// rows form one hash chain from entry 0 (protocol::auditEntryHash), and an
// anchor file keeps the last (index, hash) this client saw, so a trail the
// hub truncated or rewrote since is caught on the next read. The hub is not
// trusted: any mismatch throws VerifyError.
#pragma once

#include "client/connection.hpp"

#include <filesystem>
#include <vector>

namespace focal::client {

// Every row of `rows` (entry 0 first) matches the hash chain; else VerifyError.
void verifyAuditChain(const std::vector<AuditRow>& rows);

// Fetches the whole trail (admins only), verifies its chain and checks it
// against `anchorFile` (absent: first read), then moves the anchor to the
// newest entry.
std::vector<AuditRow> fetchVerifiedAuditTrail(Connection& conn, const std::filesystem::path& anchorFile);

}  // namespace focal::client

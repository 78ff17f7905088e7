// Audit-trail verification (client/audit_trail.hpp), moved out of
// `focal admin audit` so any admin tool checks the trail the same way.
#include "client/audit_trail.hpp"

#include "client/client_error.hpp"
#include "client/profile.hpp"
#include "protocol/log.hpp"

#include <fmt/format.h>

#include <fstream>

namespace focal::client {

void verifyAuditChain(const std::vector<AuditRow>& rows) {
  crypto::Hash256 prev{};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    if (r.index != i) throw VerifyError(fmt::format("audit trail: entry {} is missing (got {})", i, r.index));
    const auto h = protocol::auditEntryHash(r.index, prev, r.timeMs, r.event, r.actor, r.remote, r.detail);
    if (!(crypto::Hash256::fromBytes(r.hash) == std::optional(h))) {
      throw VerifyError(fmt::format("audit trail: entry {} does not match its hash chain (edited or reordered)", i));
    }
    prev = h;
  }
}

std::vector<AuditRow> fetchVerifiedAuditTrail(Connection& conn, const std::filesystem::path& anchor) {
  std::vector<AuditRow> rows;
  for (;;) {
    auto page = conn.audit(rows.size(), protocol::MaxLogPage);
    if (page.empty()) break;
    for (auto& r : page) rows.push_back(std::move(r));
  }
  verifyAuditChain(rows);
  if (std::ifstream in(anchor); in) {
    std::uint64_t index = 0;
    std::string hex;
    in >> index >> hex;
    if (index >= rows.size()) {
      throw VerifyError(fmt::format("audit trail: you saw {} entries before, the hub now serves {} (truncated)",
                                    index + 1, rows.size()));
    }
    if (crypto::toHex(rows[index].hash) != hex) {
      throw VerifyError(fmt::format("audit trail: entry {} differs from the one you saw before (rewritten)", index));
    }
  }
  if (!rows.empty()) {
    std::filesystem::create_directories(anchor.parent_path());
    writeFileAtomic(anchor, fmt::format("{} {}\n", rows.back().index, crypto::toHex(rows.back().hash)), 0600);
  }
  return rows;
}

}  // namespace focal::client

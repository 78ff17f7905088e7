// `focald purge DIR [--dry-run]` (docs/operations.md "Retention"): what the
// retention policy in focal.toml says is due, shown (dry run: read only,
// the hub may be running) or removed offline (the hub must be stopped: it
// holds DIR's lock while it runs, and purges on its own every hour).
#pragma once

#include "server/retention.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>

namespace focal::server {

struct PurgeReport {
  RetentionTally tally;
  std::uint64_t batches = 0;  // commits a real purge made (one audit row each)
};

// Throws std::runtime_error with a message for the operator: focal.toml
// unreadable, database of another schema version, and (real purge) the hub
// running (HubLockHeld).
PurgeReport purgeHub(const std::filesystem::path& dir, bool dryRun, std::int64_t nowMs);

}  // namespace focal::server

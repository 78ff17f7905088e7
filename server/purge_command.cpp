#include "server/purge_command.hpp"

#include "server/config.hpp"
#include "server/hub_lock.hpp"
#include "server/sqlite.hpp"
#include "server/store.hpp"

#include <stdexcept>

namespace focal::server {

namespace {

void add(RetentionTally& total, const RetentionTally& batch) {
  for (std::size_t i = 0; i < RetentionPolicy::Levels; ++i) {
    auto& t = total.levels[i];
    const auto& b = batch.levels[i];
    t.bulletins += b.bulletins;
    t.acknowledged += b.acknowledged;
    t.attachmentBytes += b.attachmentBytes;
    if (b.oldestAcceptedMs != 0 && (t.oldestAcceptedMs == 0 || b.oldestAcceptedMs < t.oldestAcceptedMs)) {
      t.oldestAcceptedMs = b.oldestAcceptedMs;
    }
  }
  total.blobs += batch.blobs;
}

}  // namespace

PurgeReport purgeHub(const std::filesystem::path& dir, bool dryRun, std::int64_t nowMs) {
  auto config = loadConfig(dir / "focal.toml");
  if (!config) throw std::runtime_error(config.error());
  PurgeReport report;
  if (dryRun) {
    auto db = sqlite::Database::open(config->database, sqlite::Database::Mode::ReadOnly);
    Store::checkSchema(db);
    report.tally = Store::retentionDue(db, config->retention, nowMs);
    return report;
  }
  // SECURITY/data: the running hub is the one writer of its database (its
  // log and queue live in its memory too); an offline purge waits for it
  // to stop. Held for the whole purge, so the hub cannot start meanwhile.
  std::optional<HubLock> lock;
  try {
    lock.emplace(HubLock::acquire(dir));
  } catch (const HubLockHeld& e) {
    throw HubLockHeld(std::string(e.what()) +
                             "; focald purge without --dry-run needs the hub stopped (the running hub applies "
                             "[retention] itself every hour; --dry-run shows what is due while it runs)",
                      e.holder());
  }
  auto db = sqlite::Database::open(config->database, sqlite::Database::Mode::ReadWrite);
  Store::checkSchema(db);
  for (bool more = true; more;) {
    sqlite::Transaction t(db);
    const auto batch = Store::purgeExpired(db, config->retention, nowMs);
    t.commit();
    if (batch.bulletins() > 0) ++report.batches;
    add(report.tally, batch);
    more = batch.more;
  }
  return report;
}

}  // namespace focal::server

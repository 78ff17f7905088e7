// The hub's audit trail in SQLite (Store::appendAudit / auditEntries): rows
// are chained exactly as PROTOCOL.md §12.6 says, so a client can verify them.
#include "protocol/log.hpp"
#include "server_test_support.hpp"

#include <catch2/catch.hpp>

using namespace focal;
using namespace focal::server;
using namespace focal::server::testing;

TEST_CASE("Audit rows get consecutive indexes and the documented hash chain", "[server][store][audit]") {
  TempDir dir;
  const auto path = createHubDatabase(dir);
  {
    auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadWrite);
    for (int i = 0; i < 3; ++i) {
      AuditRecord r;
      r.timeMs = 1000 + i;
      r.event = i == 1 ? "auth.failure" : "admin.register";
      r.actor = i == 1 ? "-" : "admin";
      r.remote = "127.0.0.1:5000";
      r.detail = "row " + std::to_string(i);
      auto index = Store::appendAudit(db, r);
      REQUIRE(index);
      CHECK(*index == static_cast<std::uint64_t>(i));
    }
  }
  Store store(sqlite::Database::open(path, sqlite::Database::Mode::ReadOnly));
  const auto rows = store.auditEntries(0, 100, 1 << 20);
  REQUIRE(rows.size() == 3);
  crypto::Hash256 prev{};
  for (const auto& r : rows) {
    const auto h = protocol::auditEntryHash(r.index, prev, r.timeMs, r.event, r.actor, r.remote, r.detail);
    CHECK(h == r.hash);
    prev = h;
  }
  CHECK(store.auditEntries(2, 100, 1 << 20).size() == 1);
  CHECK(store.auditEntries(1, 1, 1 << 20).front().detail == "row 1");
  // The length prefixes keep field boundaries apart.
  CHECK_FALSE(protocol::auditEntryHash(0, {}, 1, "ab", "c", "", "") == protocol::auditEntryHash(0, {}, 1, "a", "bc", "", ""));
}

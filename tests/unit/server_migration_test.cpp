// Schema upgrade: a hub database made before the working-group records
// (schema version 1, as `focald init` wrote it up to e1e87a5^) is upgraded
// in place by Store::migrate, which `focald run` calls before anything else
// opens the database. Its queue keeps every entry, sequence number and ack,
// and the new records (forwards, retractions, permissions) work on it. The
// numbered steps (server/store_schema.cpp) each reach one version; a database
// of a newer version is refused, never touched.
#include "server/store.hpp"
#include "server_test_support.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace focal;
using namespace focal::server;
using namespace focal::server::testing;

namespace {

constexpr std::size_t Unlimited = 1 << 30;

// A version 1 database holding what version 1 code wrote: two bulletins,
// their queue (one entry acknowledged, one delivered), seq values with a
// gap as AUTOINCREMENT can leave them. The version 1 schema is the store's
// own (Store::createSchema at version 1: a released schema never changes);
// a bulletin's row is as version 1 wrote it (its table has not changed
// since), the queue's rows are written here with version 1's columns.
std::filesystem::path createV1Database(const TempDir& dir) {
  const auto path = dir / "focal.db";
  auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadWriteCreate);
  Store::createSchema(db, 1);
  sqlite::Transaction t(db);
  for (std::uint8_t seed : {1, 2}) {
    auto b = makeBulletin(seed, "sg-poc", {});
    REQUIRE(Store::insertBulletin(db, b).ok());
  }
  const auto key = filled<crypto::BoxPublicKey>(7);
  struct Row {
    std::int64_t seq;
    std::uint8_t bulletin;
    const char* member;
    std::int64_t delivered;
    std::int64_t acked;
  };
  for (const Row& r : {Row{3, 1, "my-poc", 1'000'100, 1'000'200}, Row{4, 1, "th-poc", 1'000'100, 0},
                       Row{9, 2, "my-poc", 0, 0}, Row{10, 2, "th-poc", 0, 0}}) {
    auto s = db.prepare(
        "INSERT INTO deliveries(seq, bulletin_id, member_id, enc_key, queued_at_ms, delivered_at_ms, acked_at_ms) "
        "VALUES(?1, ?2, ?3, ?4, 1000000, NULLIF(?5, 0), NULLIF(?6, 0))");
    s->bind(1, r.seq)
        .bind(2, filled<crypto::BulletinId>(r.bulletin).view())
        .bind(3, std::string_view(r.member))
        .bind(4, key.view())
        .bind(5, r.delivered)
        .bind(6, r.acked);
    s->run();
  }
  t.commit();
  return path;
}

std::int64_t scalar(const std::filesystem::path& path, const char* sql) {
  auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadOnly);
  auto s = db.prepare(sql);
  REQUIRE(s->step());
  return s->columnInt(0);
}

// A database of version `from`: refused as it is, brought to the current
// version by one migrate call, and then nothing is left to migrate.
void checkMigratesFrom(sqlite::Database& db, int from) {
  CHECK_THROWS_WITH(Store::checkSchema(db), Catch::Contains("version " + std::to_string(from) +
                                                            " is not the supported version " +
                                                            std::to_string(Store::SchemaVersion)));
  CHECK(Store::migrate(db));
  CHECK(db.userVersion() == Store::SchemaVersion);
  CHECK_FALSE(Store::migrate(db));  // idempotent: nothing left to do
  CHECK_NOTHROW(Store::checkSchema(db));
}

std::vector<std::int64_t> seqsOf(const FetchPage& page) {
  std::vector<std::int64_t> out;
  for (const auto& i : page.items) out.push_back(i.seq);
  return out;
}

}  // namespace

TEST_CASE("a version 1 database is refused until migrated, then upgraded in place keeping its queue",
          "[server][store][migration]") {
  TempDir dir;
  const auto path = createV1Database(dir);
  {
    auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadWrite);
    checkMigratesFrom(db, 1);
  }
  // Every entry, with its seq, delivery and ack marks, and as an original delivery.
  CHECK(scalar(path, "SELECT count(*) FROM deliveries") == 4);
  CHECK(scalar(path, "SELECT count(*) FROM deliveries WHERE forward_id IS NULL AND retraction = 0") == 4);
  CHECK(scalar(path, "SELECT acked_at_ms FROM deliveries WHERE seq = 3") == 1'000'200);
  CHECK(scalar(path, "SELECT delivered_at_ms FROM deliveries WHERE seq = 4") == 1'000'100);
  CHECK(scalar(path, "SELECT count(*) FROM sqlite_master WHERE name = 'deliveries_v1'") == 0);
  CHECK(scalar(path, "SELECT count(*) FROM sqlite_master WHERE name = 'deliveries_queue'") == 1);

  auto store = openStore(path);
  CHECK(seqsOf(store.fetch("my-poc", 0, 10, Unlimited)) == std::vector<std::int64_t>{9});
  CHECK(seqsOf(store.fetch("th-poc", 0, 10, Unlimited)) == std::vector<std::int64_t>{4, 10});
  auto status = store.status(filled<crypto::BulletinId>(1));
  REQUIRE(status);
  REQUIRE(status->recipients.size() == 2);
  CHECK(status->recipients[0].ackedAtMs == 1'000'200);
}

TEST_CASE("after the upgrade, new entries continue the old sequence and the working-group records work",
          "[server][store][migration]") {
  TempDir dir;
  const auto path = createV1Database(dir);
  {
    auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadWrite);
    REQUIRE(Store::migrate(db));
  }
  // A new bulletin: its entries come after every old seq, so a client's
  // fetch cursor (afterSeq) from before the upgrade misses nothing.
  auto sent = writeTxn(path, [](sqlite::Database& db) {
    return Store::insertBulletin(db, makeBulletin(5, "sg-poc", {"my-poc"}));
  });
  REQUIRE(sent.ok());
  REQUIRE(sent->queued.size() == 1);
  CHECK(sent->queued[0].seq > 10);

  // A retraction of an old bulletin reaches both recipients, the one who
  // acknowledged it included.
  NewRetraction r;
  r.bulletinId = filled<crypto::BulletinId>(1);
  r.record = StoredRecord{crypto::Bytes{1, 2, 3}, crypto::Bytes(64, 9)};
  r.recordedAtMs = 2'000'000;
  auto retracted = writeTxn(path, [&](sqlite::Database& db) { return Store::insertRetraction(db, r); });
  REQUIRE(retracted.ok());
  REQUIRE(retracted->queued.size() == 2);
  CHECK(retracted->queued[0].seq > sent->queued[0].seq);

  // A forward of an old bulletin to a new member.
  NewForward f;
  f.forwardId = filled<crypto::BulletinId>(60);
  f.bulletinId = filled<crypto::BulletinId>(2);
  f.forwarderId = "my-poc";
  f.record = StoredRecord{crypto::Bytes{4, 5, 6}, crypto::Bytes(64, 8)};
  f.recordedAtMs = 2'000'001;
  f.recipients.push_back(NewBulletin::Recipient{"vn-poc", filled<crypto::BoxPublicKey>(3)});
  auto forwarded = writeTxn(path, [&](sqlite::Database& db) { return Store::insertForward(db, f); });
  REQUIRE(forwarded.ok());

  auto store = openStore(path);
  auto my = store.fetch("my-poc", 0, 10, Unlimited);
  REQUIRE(my.items.size() == 3);  // bulletin 2, bulletin 5, the retraction of bulletin 1
  CHECK(my.items[2].retraction.body == crypto::Bytes{1, 2, 3});
  auto vn = store.fetch("vn-poc", 0, 10, Unlimited);
  REQUIRE(vn.items.size() == 1);
  CHECK(vn.items[0].forward.body == crypto::Bytes{4, 5, 6});
  CHECK(store.heldThroughForward("vn-poc", filled<crypto::BulletinId>(2)) == std::optional<bool>(true));
  CHECK(store.heldThroughForward("th-poc", filled<crypto::BulletinId>(2)) == std::optional<bool>(false));
}

TEST_CASE("a database of an unknown newer schema is neither migrated nor accepted", "[server][store][migration]") {
  TempDir dir;
  const auto path = createHubDatabase(dir);
  auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadWrite);
  db.setUserVersion(Store::SchemaVersion + 1);
  CHECK_FALSE(Store::migrate(db));
  CHECK_THROWS_WITH(Store::checkSchema(db), Catch::Contains("is not the supported version"));
}

TEST_CASE("a version 2 database gains the consensus tables and keeps its data", "[server][store][migration]") {
  TempDir dir;
  const auto path = dir.path() / "v2.db";
  {
    auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadWriteCreate);
    Store::createSchema(db, 2);  // what a version 2 hub had: no consensus tables
    CHECK_THROWS(db.exec("SELECT count(*) FROM summary_records"));
    db.exec("INSERT INTO acks(member_id, body, signature, received_at_ms) VALUES('sg-a', x'00', zeroblob(64), 1)");
    checkMigratesFrom(db, 2);
  }
  CHECK(scalar(path, "SELECT count(*) FROM acks") == 1);
  CHECK(scalar(path, "SELECT count(*) FROM summary_records") == 0);
  CHECK(scalar(path, "SELECT count(*) FROM proposals") == 0);
}

namespace {

std::string text(const std::filesystem::path& path, const char* sql, int column = 0) {
  auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadOnly);
  auto s = db.prepare(sql);
  REQUIRE(s->step());
  return s->columnText(column);
}

}  // namespace

TEST_CASE("a version 3 database gets the version 4 queue, every entry keeping its seq, marks and kind",
          "[server][store][migration]") {
  TempDir dir;
  const auto path = dir.path() / "v3.db";
  {
    auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadWriteCreate);
    Store::createSchema(db, 3);  // the version 3 queue: AUTOINCREMENT, every entry indexed
    CHECK_THAT(text(path, "SELECT sql FROM sqlite_master WHERE name = 'deliveries'"), Catch::Contains("AUTOINCREMENT"));
  }
  // What a version 3 hub wrote: a bulletin to two members (one acked), its
  // retraction to both, with the gaps AUTOINCREMENT can leave.
  {
    auto sent = writeTxn(path, [](sqlite::Database& db) {
      return Store::insertBulletin(db, makeBulletin(1, "sg-poc", {"my-poc", "th-poc"}));
    });
    REQUIRE(sent.ok());
    auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadWrite);
    db.exec("UPDATE deliveries SET seq = seq + 20 WHERE member_id = 'th-poc'");  // seqs 1 and 22
    db.exec("UPDATE deliveries SET acked_at_ms = 1000500, delivered_at_ms = 1000400 WHERE seq = 1");
    db.exec("UPDATE sqlite_sequence SET seq = 22 WHERE name = 'deliveries'");
  }
  NewRetraction r;
  r.bulletinId = filled<crypto::BulletinId>(1);
  r.record = StoredRecord{crypto::Bytes{1, 2, 3}, crypto::Bytes(64, 9)};
  r.recordedAtMs = 2'000'000;
  REQUIRE(writeTxn(path, [&](sqlite::Database& db) { return Store::insertRetraction(db, r); }).ok());  // 23, 24
  CHECK(scalar(path, "SELECT count(*) FROM deliveries") == 4);
  {
    auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadWrite);
    checkMigratesFrom(db, 3);
  }
  CHECK(scalar(path, "SELECT count(*) FROM deliveries") == 4);
  CHECK(text(path, "SELECT group_concat(seq || ':' || member_id || ':' || retraction, ' ') FROM "
                   "(SELECT * FROM deliveries ORDER BY seq)") == "1:my-poc:0 22:th-poc:0 23:my-poc:1 24:th-poc:1");
  CHECK(scalar(path, "SELECT acked_at_ms FROM deliveries WHERE seq = 1") == 1'000'500);
  CHECK(scalar(path, "SELECT delivered_at_ms FROM deliveries WHERE seq = 1") == 1'000'400);
  CHECK(scalar(path, "SELECT count(*) FROM sqlite_master WHERE name = 'deliveries_old'") == 0);
  // The version 4 form: no AUTOINCREMENT (nothing left in sqlite_sequence),
  // and the queue index covers only pending entries and serves fetch.
  CHECK(scalar(path, "SELECT count(*) FROM sqlite_sequence WHERE name = 'deliveries'") == 0);
  CHECK_THAT(text(path, "SELECT sql FROM sqlite_master WHERE name = 'deliveries_queue'"),
             Catch::Contains("WHERE acked_at_ms IS NULL"));
  CHECK_THAT(text(path, "EXPLAIN QUERY PLAN SELECT seq FROM deliveries WHERE member_id = 'th-poc' AND acked_at_ms "
                        "IS NULL AND seq > 0 ORDER BY seq", 3),  // column 3: the plan's detail
             Catch::Contains("deliveries_queue"));

  auto store = openStore(path);
  CHECK(seqsOf(store.fetch("my-poc", 0, 10, Unlimited)) == std::vector<std::int64_t>{23});
  CHECK(seqsOf(store.fetch("th-poc", 0, 10, Unlimited)) == std::vector<std::int64_t>{22, 24});
  // New entries follow every old seq.
  auto sent = writeTxn(path, [](sqlite::Database& db) {
    return Store::insertBulletin(db, makeBulletin(2, "sg-poc", {"th-poc"}));
  });
  REQUIRE(sent.ok());
  REQUIRE(sent->queued.size() == 1);
  CHECK(sent->queued[0].seq == 25);
}

namespace {

// name -> CREATE statement of every table and index (SQLite's own omitted).
std::map<std::string, std::string> schemaOf(sqlite::Database& db) {
  std::map<std::string, std::string> out;
  auto s = db.prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'");
  while (s->step()) out.emplace(s->columnText(0), s->columnText(1));
  return out;
}

std::string queueSql(sqlite::Database& db) { return schemaOf(db)["deliveries"]; }

}  // namespace

TEST_CASE("a version 1 database migrates one numbered step at a time to exactly a new database's schema",
          "[server][store][migration]") {
  TempDir dir;
  const auto path = createV1Database(dir);
  auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadWrite);
  // The queue as version 1 left it, after every step.
  const auto queueIntact = [&] {
    auto s = db.prepare(
        "SELECT group_concat(seq || ':' || member_id || ':' || ifnull(delivered_at_ms, '-') || ':' || "
        "ifnull(acked_at_ms, '-'), ' ') FROM (SELECT * FROM deliveries ORDER BY seq)");
    REQUIRE(s->step());
    CHECK(s->columnText(0) ==
          "3:my-poc:1000100:1000200 4:th-poc:1000100:- 9:my-poc:-:- 10:th-poc:-:-");
    auto b = db.prepare("SELECT count(*) FROM bulletins");
    REQUIRE(b->step());
    CHECK(b->columnInt(0) == 2);
  };

  // Step 1 -> 2: the working-group tables, the queue's forward and
  // retraction columns (still AUTOINCREMENT), no consensus tables yet.
  REQUIRE(Store::migrate(db, 2));
  CHECK(db.userVersion() == 2);
  queueIntact();
  CHECK(schemaOf(db).count("forwards") == 1);
  CHECK(schemaOf(db).count("summary_records") == 0);
  CHECK_THAT(queueSql(db), Catch::Contains("retraction") && Catch::Contains("AUTOINCREMENT"));
  CHECK_FALSE(Store::migrate(db, 2));  // already there

  // Step 2 -> 3: the consensus tables.
  REQUIRE(Store::migrate(db, 3));
  CHECK(db.userVersion() == 3);
  queueIntact();
  CHECK(schemaOf(db).count("summary_records") == 1);
  CHECK(schemaOf(db).count("decisions") == 1);
  CHECK_THAT(queueSql(db), Catch::Contains("AUTOINCREMENT"));

  // Step 3 -> 4: the lean queue.
  REQUIRE(Store::migrate(db, 4));
  CHECK(db.userVersion() == 4);
  queueIntact();
  CHECK_THAT(queueSql(db), !Catch::Contains("AUTOINCREMENT"));

  // Step 4 -> 5: the witnesses' cosignatures.
  CHECK(schemaOf(db).count("cosignatures") == 0);
  REQUIRE(Store::migrate(db, 5));
  CHECK(db.userVersion() == 5);
  queueIntact();
  CHECK(schemaOf(db).count("cosignatures") == 1);

  // Step 5 -> 6: the heads carried beside acks and decisions.
  CHECK(schemaOf(db).count("ack_heads") == 0);
  REQUIRE(Store::migrate(db, 6));
  CHECK(db.userVersion() == 6);
  queueIntact();
  CHECK(schemaOf(db).count("ack_heads") == 1);
  CHECK(schemaOf(db).count("decision_heads") == 1);

  // Step 6 -> 7: retention's tombstones and the index its pass reads.
  CHECK(schemaOf(db).count("expired_bulletins") == 0);
  REQUIRE(Store::migrate(db, 7));
  CHECK(db.userVersion() == 7);
  queueIntact();
  CHECK(schemaOf(db).count("expired_bulletins") == 1);
  CHECK(schemaOf(db).count("bulletins_retention") == 1);

  // Step 7 -> 8: the working group's meetings.
  CHECK(schemaOf(db).count("meetings") == 0);
  REQUIRE(Store::migrate(db, 8));
  CHECK(db.userVersion() == 8);
  queueIntact();
  CHECK(schemaOf(db).count("meetings") == 1);

  // Step 8 -> 9: the work programme's action items and their updates.
  CHECK(schemaOf(db).count("actions") == 0);
  REQUIRE(Store::migrate(db, 9));
  CHECK(db.userVersion() == Store::SchemaVersion);
  queueIntact();
  CHECK(schemaOf(db).count("actions") == 1);
  CHECK(schemaOf(db).count("action_updates") == 1);
  CHECK(schemaOf(db).count("actions_due") == 1);
  CHECK_FALSE(Store::migrate(db));
  CHECK_NOTHROW(Store::checkSchema(db));

  // The migrated database has exactly the tables and indexes of a new one.
  TempDir fresh;
  auto made = sqlite::Database::open(createHubDatabase(fresh), sqlite::Database::Mode::ReadOnly);
  CHECK(schemaOf(db) == schemaOf(made));
}

TEST_CASE("a database written by a newer focald is refused with a clear error and left as it is",
          "[server][store][migration]") {
  TempDir dir;
  const auto path = createHubDatabase(dir);
  {
    auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadWrite);
    db.setUserVersion(Store::SchemaVersion + 1);
    CHECK_FALSE(Store::migrate(db));
    CHECK(db.userVersion() == Store::SchemaVersion + 1);
  }
  const auto newer = "database schema version " + std::to_string(Store::SchemaVersion + 1) +
                     " is not the supported version " + std::to_string(Store::SchemaVersion) +
                     ": a newer focald wrote it";
  CHECK_FALSE(Store::migrateFile(path));
  CHECK_THROWS_WITH(Store::checkSchemaFile(path), Catch::StartsWith(newer));
  CHECK_THROWS_WITH(Store::openReader(path), Catch::StartsWith(newer));

  // And a file that is no hub database at all says so.
  const auto empty = dir / "empty.db";
  { auto db = sqlite::Database::open(empty, sqlite::Database::Mode::ReadWriteCreate); }
  CHECK_FALSE(Store::migrateFile(empty));
  CHECK_THROWS_WITH(Store::checkSchemaFile(empty), Catch::Contains("not a hub database"));
}

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

// The version 1 schema, verbatim from server/store.cpp at e1e87a5^.
constexpr const char* SchemaV1Sql = R"sql(
CREATE TABLE bulletins(
  id             BLOB PRIMARY KEY CHECK (length(id) = 16),
  sender_id      TEXT NOT NULL,
  sender_key     BLOB NOT NULL CHECK (length(sender_key) = 32),
  header         BLOB NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64),
  ciphertext     BLOB NOT NULL,
  created_at_ms  INTEGER NOT NULL,
  accepted_at_ms INTEGER NOT NULL,
  tlp            INTEGER NOT NULL,
  kind           INTEGER NOT NULL,
  size           INTEGER NOT NULL
);
CREATE TABLE deliveries(
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  bulletin_id     BLOB NOT NULL REFERENCES bulletins(id),
  member_id       TEXT NOT NULL,
  enc_key         BLOB NOT NULL CHECK (length(enc_key) = 32),
  queued_at_ms    INTEGER NOT NULL,
  delivered_at_ms INTEGER,
  acked_at_ms     INTEGER,
  UNIQUE(bulletin_id, member_id)
);
CREATE INDEX deliveries_queue ON deliveries(member_id, acked_at_ms, seq);
CREATE TABLE blobs(
  id            INTEGER PRIMARY KEY,
  hash          BLOB NOT NULL CHECK (length(hash) = 32),
  owner_id      TEXT NOT NULL,
  size          INTEGER NOT NULL CHECK (size > 0),
  received      INTEGER NOT NULL DEFAULT 0,
  complete      INTEGER NOT NULL DEFAULT 0,
  created_at_ms INTEGER NOT NULL,
  UNIQUE(owner_id, hash)
);
CREATE TABLE blob_chunks(
  blob_id INTEGER NOT NULL REFERENCES blobs(id) ON DELETE CASCADE,
  offset  INTEGER NOT NULL,
  data    BLOB NOT NULL,
  PRIMARY KEY(blob_id, offset)
);
CREATE TABLE bulletin_blobs(
  bulletin_id BLOB NOT NULL REFERENCES bulletins(id),
  idx         INTEGER NOT NULL,
  blob_id     INTEGER NOT NULL REFERENCES blobs(id),
  hash        BLOB NOT NULL,
  PRIMARY KEY(bulletin_id, idx)
);
CREATE INDEX bulletin_blobs_blob ON bulletin_blobs(blob_id);
CREATE TABLE acks(
  id             INTEGER PRIMARY KEY,
  member_id      TEXT NOT NULL,
  body           BLOB NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64),
  received_at_ms INTEGER NOT NULL
);
CREATE TABLE log_entries(
  idx            INTEGER PRIMARY KEY,
  recorded_at_ms INTEGER NOT NULL,
  author_id      TEXT NOT NULL,
  author_key     BLOB NOT NULL CHECK (length(author_key) = 32),
  event          BLOB NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64),
  entry_hash     BLOB NOT NULL CHECK (length(entry_hash) = 32)
);
CREATE TABLE log_heads(
  size      INTEGER PRIMARY KEY,
  head      BLOB NOT NULL,
  signature BLOB NOT NULL CHECK (length(signature) = 64)
);
CREATE TABLE IF NOT EXISTS audit(
  idx     INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
  event   TEXT NOT NULL,
  actor   TEXT NOT NULL,
  remote  TEXT NOT NULL,
  detail  TEXT NOT NULL,
  hash    BLOB NOT NULL CHECK (length(hash) = 32)
);
)sql";

constexpr std::size_t Unlimited = 1 << 30;

// A version 1 database holding what version 1 code wrote: two bulletins,
// their queue (one entry acknowledged, one delivered), seq values with a
// gap as AUTOINCREMENT can leave them.
std::filesystem::path createV1Database(const TempDir& dir) {
  const auto path = dir / "focal.db";
  auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadWriteCreate);
  sqlite::Transaction t(db);
  db.exec(SchemaV1Sql);
  for (std::uint8_t seed : {1, 2}) {
    const auto b = makeBulletin(seed, "sg-poc", {"my-poc", "th-poc"});
    auto s = db.prepare(
        "INSERT INTO bulletins(id, sender_id, sender_key, header, signature, ciphertext, created_at_ms, accepted_at_ms, "
        "tlp, kind, size) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 2, 0, ?8)");
    s->bind(1, b.id.view())
        .bind(2, b.senderId)
        .bind(3, b.senderKey.view())
        .bind(4, crypto::ByteView(b.header))
        .bind(5, b.signature.view())
        .bind(6, crypto::ByteView(b.ciphertext))
        .bind(7, b.createdAtMs)
        .bind(8, static_cast<std::int64_t>(b.ciphertext.size()));
    s->run();
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
  db.setUserVersion(1);
  t.commit();
  return path;
}

std::int64_t scalar(const std::filesystem::path& path, const char* sql) {
  auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadOnly);
  auto s = db.prepare(sql);
  REQUIRE(s->step());
  return s->columnInt(0);
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
    CHECK_THROWS_WITH(Store::checkSchema(db), Catch::Contains("version 1 is not the supported version " + std::to_string(Store::SchemaVersion)));
    CHECK(Store::migrate(db));
    CHECK(db.userVersion() == Store::SchemaVersion);
    CHECK_FALSE(Store::migrate(db));  // idempotent: nothing left to do
    CHECK_NOTHROW(Store::checkSchema(db));
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
    Store::createSchema(db);
    // What a version 2 hub wrote: everything but the consensus tables.
    db.exec("DROP TABLE comments; DROP TABLE decisions; DROP TABLE proposals; DROP INDEX summary_records_due; "
            "DROP TABLE summary_records;");
    db.exec("INSERT INTO acks(member_id, body, signature, received_at_ms) VALUES('sg-a', x'00', zeroblob(64), 1)");
    db.setUserVersion(2);
    CHECK_THROWS(Store::checkSchema(db));
    CHECK(Store::migrate(db));
    CHECK(db.userVersion() == Store::SchemaVersion);
    CHECK_FALSE(Store::migrate(db));
    CHECK_NOTHROW(Store::checkSchema(db));
  }
  CHECK(scalar(path, "SELECT count(*) FROM acks") == 1);
  CHECK(scalar(path, "SELECT count(*) FROM summary_records") == 0);
  CHECK(scalar(path, "SELECT count(*) FROM proposals") == 0);
}

namespace {

// The version 3 queue, verbatim from server/store.cpp before version 4.
constexpr const char* DeliveriesV3Sql = R"sql(
CREATE TABLE deliveries(
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  bulletin_id     BLOB NOT NULL REFERENCES bulletins(id),
  member_id       TEXT NOT NULL,
  enc_key         BLOB NOT NULL CHECK (length(enc_key) = 32),
  queued_at_ms    INTEGER NOT NULL,
  delivered_at_ms INTEGER,
  acked_at_ms     INTEGER,
  forward_id      BLOB REFERENCES forwards(id),
  retraction      INTEGER NOT NULL DEFAULT 0 CHECK (retraction IN (0, 1)),
  UNIQUE(bulletin_id, member_id, retraction)
);
CREATE INDEX deliveries_queue ON deliveries(member_id, acked_at_ms, seq);
)sql";

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
    Store::createSchema(db);
    db.exec("DROP INDEX deliveries_queue; DROP TABLE deliveries;");
    db.exec(DeliveriesV3Sql);
    db.setUserVersion(3);
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
    CHECK_THROWS_WITH(Store::checkSchema(db), Catch::Contains("version 3 is not the supported version"));
    CHECK(Store::migrate(db));
    CHECK(db.userVersion() == Store::SchemaVersion);
    CHECK_FALSE(Store::migrate(db));
    CHECK_NOTHROW(Store::checkSchema(db));
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
  CHECK(db.userVersion() == Store::SchemaVersion);
  queueIntact();
  CHECK_THAT(queueSql(db), !Catch::Contains("AUTOINCREMENT"));
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

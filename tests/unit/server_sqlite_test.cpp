// The SQLite wrapper: connection settings the hub's durability promise rests
// on, RAII statements and transactions, and errors that carry their code.
#include "server/sqlite.hpp"
#include "server_test_support.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

using namespace focal;
using namespace focal::server;
using focal::server::testing::TempDir;

namespace {

std::int64_t pragmaInt(sqlite::Database& db, const char* sql) {
  auto s = db.prepare(sql);
  REQUIRE(s->step());
  return s->columnInt(0);
}

}  // namespace

TEST_CASE("a hub connection uses WAL, synchronous=FULL, foreign keys and no trusted schema", "[server][sqlite]") {
  TempDir dir;
  auto db = sqlite::Database::open(dir / "t.db", sqlite::Database::Mode::ReadWriteCreate);
  {
    auto s = db.prepare("PRAGMA journal_mode");
    REQUIRE(s->step());
    CHECK(s->columnText(0) == "wal");
  }
  CHECK(pragmaInt(db, "PRAGMA synchronous") == 2);  // FULL
  CHECK(pragmaInt(db, "PRAGMA foreign_keys") == 1);
  CHECK(pragmaInt(db, "PRAGMA trusted_schema") == 0);
  int defensive = -1;
  REQUIRE(sqlite3_db_config(db.handle(), SQLITE_DBCONFIG_DEFENSIVE, -1, &defensive) == SQLITE_OK);
  CHECK(defensive == 1);
}

TEST_CASE("defensive mode refuses to edit the schema table directly", "[server][sqlite][security]") {
  TempDir dir;
  auto db = sqlite::Database::open(dir / "t.db", sqlite::Database::Mode::ReadWriteCreate);
  db.exec("CREATE TABLE t(x)");
  db.exec("PRAGMA writable_schema=ON");
  CHECK_THROWS_AS(db.exec("UPDATE sqlite_schema SET sql = 'CREATE TABLE t(y)' WHERE name = 't'"), sqlite::Error);
}

TEST_CASE("statements bind and read integers, text, blobs, empty blobs and NULL", "[server][sqlite]") {
  TempDir dir;
  auto db = sqlite::Database::open(dir / "t.db", sqlite::Database::Mode::ReadWriteCreate);
  db.exec("CREATE TABLE t(i INTEGER, s TEXT, b BLOB, e BLOB, n BLOB)");
  const crypto::Bytes blob{0, 1, 2, 0, 255};
  {
    auto s = db.prepare("INSERT INTO t VALUES(?1, ?2, ?3, ?4, ?5)");
    s->bind(1, std::int64_t{-42}).bind(2, std::string_view("h\0i", 3)).bind(3, blob).bind(4, crypto::ByteView{}).bindNull(5);
    s->run();
  }
  auto s = db.prepare("SELECT i, s, b, e, n, typeof(e) FROM t");
  REQUIRE(s->step());
  CHECK(s->columnInt(0) == -42);
  CHECK(s->columnText(1) == std::string("h\0i", 3));
  CHECK(s->columnBlob(2) == blob);
  CHECK(s->columnBlob(3).empty());
  CHECK_FALSE(s->columnIsNull(3));
  CHECK(s->columnText(5) == "blob");  // an empty blob stays a blob, not NULL
  CHECK(s->columnIsNull(4));
  CHECK_FALSE(s->step());
}

TEST_CASE("a cached statement is reset with its bindings cleared after each use", "[server][sqlite]") {
  TempDir dir;
  auto db = sqlite::Database::open(dir / "t.db", sqlite::Database::Mode::ReadWriteCreate);
  db.exec("CREATE TABLE t(x)");
  for (int i = 0; i < 3; ++i) {
    auto s = db.prepare("INSERT INTO t VALUES(?1)");
    if (i != 2) s->bind(1, std::int64_t{i});
    s->run();
  }
  auto s = db.prepare("SELECT count(*), count(x), sum(x) FROM t");
  REQUIRE(s->step());
  CHECK(s->columnInt(0) == 3);
  CHECK(s->columnInt(1) == 2);  // the third insert ran with cleared bindings: NULL
  CHECK(s->columnInt(2) == 1);
}

TEST_CASE("errors throw sqlite::Error with the extended result code", "[server][sqlite]") {
  TempDir dir;
  auto db = sqlite::Database::open(dir / "t.db", sqlite::Database::Mode::ReadWriteCreate);
  db.exec("CREATE TABLE t(x PRIMARY KEY)");
  db.exec("INSERT INTO t VALUES(1)");
  try {
    auto s = db.prepare("INSERT INTO t VALUES(?1)");
    s->bind(1, std::int64_t{1});
    s->run();
    FAIL("a duplicate primary key was accepted");
  } catch (const sqlite::Error& e) {
    CHECK(e.primaryCode() == SQLITE_CONSTRAINT);
    CHECK(e.code() == SQLITE_CONSTRAINT_PRIMARYKEY);
    CHECK_FALSE(e.isUnavailable());
  }
  CHECK_THROWS_AS(db.prepare("SELECT * FROM missing"), sqlite::Error);
  // The failed statement was reset: the connection is still usable.
  CHECK(pragmaInt(db, "SELECT count(*) FROM t") == 1);
}

TEST_CASE("a transaction not committed is rolled back when it goes out of scope", "[server][sqlite]") {
  TempDir dir;
  auto db = sqlite::Database::open(dir / "t.db", sqlite::Database::Mode::ReadWriteCreate);
  db.exec("CREATE TABLE t(x)");
  {
    sqlite::Transaction t(db);
    db.exec("INSERT INTO t VALUES(1)");
    CHECK(db.inTransaction());
  }
  CHECK_FALSE(db.inTransaction());
  CHECK(pragmaInt(db, "SELECT count(*) FROM t") == 0);
  {
    sqlite::Transaction t(db);
    db.exec("INSERT INTO t VALUES(2)");
    t.commit();
  }
  CHECK(pragmaInt(db, "SELECT count(*) FROM t") == 1);
}

TEST_CASE("a read-only connection refuses writes", "[server][sqlite]") {
  TempDir dir;
  {
    auto db = sqlite::Database::open(dir / "t.db", sqlite::Database::Mode::ReadWriteCreate);
    db.exec("CREATE TABLE t(x)");
  }
  auto ro = sqlite::Database::open(dir / "t.db", sqlite::Database::Mode::ReadOnly);
  CHECK(pragmaInt(ro, "SELECT count(*) FROM t") == 0);
  try {
    ro.exec("INSERT INTO t VALUES(1)");
    FAIL("a read-only connection wrote");
  } catch (const sqlite::Error& e) {
    CHECK(e.primaryCode() == SQLITE_READONLY);
    CHECK(e.isUnavailable());
  }
}

TEST_CASE("opening a missing database without create fails", "[server][sqlite]") {
  TempDir dir;
  CHECK_THROWS_AS(sqlite::Database::open(dir / "missing.db", sqlite::Database::Mode::ReadWrite), sqlite::Error);
}

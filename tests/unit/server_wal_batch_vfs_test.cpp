// The WAL write-batching VFS (server/wal_batch_vfs.hpp): one write per
// commit, commits visible to other connections at once whatever the
// synchronous setting, spilled frames readable, large commits whole, and
// errors of the base reported by the write SQLite is doing. Power cuts
// through it: durability_powerloss_test.cpp, which stacks it over its
// power-loss VFS.
#include "server/sqlite.hpp"
#include "server/wal_batch_vfs.hpp"
#include "server_test_support.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <string>

using namespace focal::server;

namespace {

// A VFS under the shim that counts writes to WAL files and can fail them.
struct CountingVfs {
  static constexpr const char* Name = "focal-test-counting";
  static inline std::atomic<int> walWrites{0};
  static inline std::atomic<long> walBytes{0};
  static inline std::atomic<bool> failWalWrites{false};
  static inline const sqlite3_io_methods* realMethods = nullptr;
  static inline sqlite3_io_methods methods{};
  sqlite3_vfs vfs{};

  struct File {
    sqlite3_file base;
    sqlite3_file* real;
  };
  static int xWrite(sqlite3_file* f, const void* p, int n, sqlite3_int64 off) {
    if (failWalWrites) return SQLITE_IOERR_WRITE;
    ++walWrites;
    walBytes += n;
    auto* r = reinterpret_cast<File*>(f)->real;
    return r->pMethods->xWrite(r, p, n, off);
  }
  // Every other method of a WAL file forwards to the real one.
  template <auto M, class... A>
  static auto fwd(sqlite3_file* f, A... a) {
    auto* r = reinterpret_cast<File*>(f)->real;
    return (r->pMethods->*M)(r, a...);
  }
  static int xClose(sqlite3_file* f) { return fwd<&sqlite3_io_methods::xClose>(f); }

  CountingVfs() {
    sqlite3_vfs* def = sqlite3_vfs_find(nullptr);
    vfs = *def;
    vfs.iVersion = 1;
    vfs.zName = Name;
    vfs.pAppData = def;
    vfs.szOsFile = static_cast<int>(sizeof(File)) + def->szOsFile;
    vfs.xOpen = [](sqlite3_vfs* v, sqlite3_filename name, sqlite3_file* f, int flags, int* out) {
      auto* def = static_cast<sqlite3_vfs*>(v->pAppData);
      if ((flags & SQLITE_OPEN_WAL) == 0) return def->xOpen(def, name, f, flags, out);
      auto* file = reinterpret_cast<File*>(f);
      file->real = reinterpret_cast<sqlite3_file*>(file + 1);
      file->base.pMethods = nullptr;
      const int rc = def->xOpen(def, name, file->real, flags, out);
      if (rc != SQLITE_OK) return rc;
      if (realMethods == nullptr) {
        realMethods = file->real->pMethods;
        methods = *realMethods;
        methods.iVersion = 1;
        methods.xWrite = &CountingVfs::xWrite;
        methods.xClose = &CountingVfs::xClose;
        methods.xRead = [](sqlite3_file* f, void* p, int n, sqlite3_int64 o) { return fwd<&sqlite3_io_methods::xRead>(f, p, n, o); };
        methods.xTruncate = [](sqlite3_file* f, sqlite3_int64 s) { return fwd<&sqlite3_io_methods::xTruncate>(f, s); };
        methods.xSync = [](sqlite3_file* f, int fl) { return fwd<&sqlite3_io_methods::xSync>(f, fl); };
        methods.xFileSize = [](sqlite3_file* f, sqlite3_int64* s) { return fwd<&sqlite3_io_methods::xFileSize>(f, s); };
        methods.xLock = [](sqlite3_file* f, int l) { return fwd<&sqlite3_io_methods::xLock>(f, l); };
        methods.xUnlock = [](sqlite3_file* f, int l) { return fwd<&sqlite3_io_methods::xUnlock>(f, l); };
        methods.xCheckReservedLock = [](sqlite3_file* f, int* o) { return fwd<&sqlite3_io_methods::xCheckReservedLock>(f, o); };
        methods.xFileControl = [](sqlite3_file* f, int op, void* a) { return fwd<&sqlite3_io_methods::xFileControl>(f, op, a); };
        methods.xSectorSize = [](sqlite3_file* f) { return fwd<&sqlite3_io_methods::xSectorSize>(f); };
        methods.xDeviceCharacteristics = [](sqlite3_file* f) { return fwd<&sqlite3_io_methods::xDeviceCharacteristics>(f); };
      }
      file->base.pMethods = &methods;
      return SQLITE_OK;
    };
    REQUIRE(sqlite3_vfs_register(&vfs, 0) == SQLITE_OK);
  }
  ~CountingVfs() { sqlite3_vfs_unregister(&vfs); }
};

constexpr const char* BatchOverCounting = "focal-test-batch-over-counting";

sqlite::Database openWriter(const std::filesystem::path& path, const char* sync) {
  REQUIRE(sqlite::registerWalBatchVfs(BatchOverCounting, CountingVfs::Name));
  auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadWriteCreate, 5000, BatchOverCounting);
  db.exec(sync);
  db.exec("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
  return db;
}

void insert(sqlite::Database& db, int id, std::size_t bytes) {
  auto s = db.prepare("INSERT INTO t(id, v) VALUES(?1, ?2)");
  const std::string v(bytes, static_cast<char>('a' + id % 26));
  s->bind(1, std::int64_t{id}).bind(2, focal::crypto::ByteView(reinterpret_cast<const std::uint8_t*>(v.data()), v.size()));
  s->run();
}

// The row in a transaction of its own, committed.
void insertCommitted(sqlite::Database& db, int id, std::size_t bytes) {
  db.exec("BEGIN IMMEDIATE");
  insert(db, id, bytes);
  db.exec("COMMIT");
}

std::int64_t countRows(sqlite::Database& db) {
  auto s = db.prepare("SELECT count(*) FROM t");
  REQUIRE(s->step());
  return s->columnInt(0);
}

}  // namespace

TEST_CASE("WAL batch VFS: a commit of many pages reaches the WAL in one write", "[sqlite][walbatch]") {
  CountingVfs counting;
  testing::TempDir dir;
  auto db = openWriter(dir / "a.db", "PRAGMA synchronous=FULL");
  insertCommitted(db, 0, 100);  // warm up (the WAL header, the table's first pages)
  // Eight rows of 3 KiB in one transaction: eight or more pages, two
  // writes each (frame header, page) without the shim.
  CountingVfs::walWrites = 0;
  db.exec("BEGIN IMMEDIATE");
  for (int i = 1; i <= 8; ++i) insert(db, i, 3000);
  db.exec("COMMIT");
  CHECK(CountingVfs::walWrites == 1);
  CHECK(CountingVfs::walBytes >= 8 * 4096);
  CHECK(countRows(db) == 9);
}

TEST_CASE("WAL batch VFS: every commit is visible to another connection at once, whatever synchronous says",
          "[sqlite][walbatch]") {
  CountingVfs counting;
  for (const char* sync : {"PRAGMA synchronous=FULL", "PRAGMA synchronous=NORMAL", "PRAGMA synchronous=OFF"}) {
    INFO(sync);
    testing::TempDir dir;
    auto writer = openWriter(dir / "v.db", sync);
    auto reader = sqlite::Database::open(dir / "v.db", sqlite::Database::Mode::ReadOnly);
    for (int i = 1; i <= 50; ++i) {
      insertCommitted(writer, i, 500 + 97 * static_cast<std::size_t>(i));
      REQUIRE(countRows(reader) == i);  // a plain connection, no shim: it reads the file
    }
  }
}

TEST_CASE("WAL batch VFS: a commit far larger than one write (over 128 KiB) commits whole", "[sqlite][walbatch]") {
  // Regression: the first version handed the whole buffer to the unix VFS in
  // one write, which masks lengths with 0x1ffff; a commit of 128 KiB or more
  // then failed as "database or disk is full".
  CountingVfs counting;
  testing::TempDir dir;
  auto db = openWriter(dir / "big.db", "PRAGMA synchronous=FULL");
  for (std::size_t rows : {40u, 64u, 256u, 600u}) {
    INFO(rows << " rows of 3 KiB");
    db.exec("DELETE FROM t");
    db.exec("BEGIN IMMEDIATE");
    for (std::size_t i = 0; i < rows; ++i) insert(db, static_cast<int>(i), 3000);
    REQUIRE_NOTHROW(db.exec("COMMIT"));
    auto reader = sqlite::Database::open(dir / "big.db", sqlite::Database::Mode::ReadOnly);
    CHECK(countRows(reader) == static_cast<std::int64_t>(rows));
    auto check = reader.prepare("PRAGMA integrity_check");
    REQUIRE(check->step());
    CHECK(check->columnText(0) == "ok");
  }
}

TEST_CASE("WAL batch VFS: pages spilled from a small cache mid-transaction read back right, and roll back",
          "[sqlite][walbatch]") {
  CountingVfs counting;
  testing::TempDir dir;
  auto db = openWriter(dir / "spill.db", "PRAGMA synchronous=FULL");
  db.exec("PRAGMA cache_size=10");  // forces spills to the WAL inside the transaction
  db.exec("BEGIN IMMEDIATE");
  for (int i = 1; i <= 300; ++i) insert(db, i, 2000);
  {
    // Reading every row back makes SQLite fetch spilled pages from the WAL.
    auto s = db.prepare("SELECT sum(length(v)), count(*) FROM t");
    REQUIRE(s->step());
    CHECK(s->columnInt(0) == 300 * 2000);
    CHECK(s->columnInt(1) == 300);
  }
  db.exec("ROLLBACK");
  CHECK(countRows(db) == 0);
  db.exec("BEGIN IMMEDIATE");
  for (int i = 1; i <= 300; ++i) insert(db, i, 2000);
  db.exec("COMMIT");
  auto reader = sqlite::Database::open(dir / "spill.db", sqlite::Database::Mode::ReadOnly);
  CHECK(countRows(reader) == 300);
}

TEST_CASE("WAL batch VFS: a failing write of the base fails the commit, which then leaves nothing behind",
          "[sqlite][walbatch]") {
  CountingVfs counting;
  testing::TempDir dir;
  auto db = openWriter(dir / "fail.db", "PRAGMA synchronous=FULL");
  insertCommitted(db, 1, 100);
  db.exec("BEGIN IMMEDIATE");
  insert(db, 2, 3000);
  insert(db, 3, 3000);
  CountingVfs::failWalWrites = true;
  CHECK_THROWS_AS(db.exec("COMMIT"), sqlite::Error);
  CountingVfs::failWalWrites = false;
  if (db.inTransaction()) db.exec("ROLLBACK");
  auto reader = sqlite::Database::open(dir / "fail.db", sqlite::Database::Mode::ReadOnly);
  CHECK(countRows(reader) == 1);
  // And the connection goes on.
  insertCommitted(db, 4, 100);
  CHECK(countRows(reader) == 2);
}

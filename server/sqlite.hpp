// A thin RAII layer over the SQLite C API.
//
// Contract (the habits of SQLite's own legacy.c): every call's result code is
// checked right after the call; any unexpected code throws sqlite::Error
// carrying the extended result code; statements are finalized by their
// destructor on every path. SQL text is always a static string: values travel
// only as bound parameters, never spliced into SQL.
//
// A Database is used by one thread at a time (the connection is opened with
// SQLITE_OPEN_NOMUTEX); the hub has one write connection owned by the commit
// thread and one read-only connection on the io thread.
#pragma once

#include "crypto/types.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace focal::server::sqlite {

class Error : public std::runtime_error {
 public:
  Error(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }           // extended result code
  int primaryCode() const { return code_ & 0xff; }
  // True for conditions of the storage (disk full, I/O error, read-only,
  // database locked past the busy timeout): the hub is unavailable for
  // writes, not broken.
  bool isUnavailable() const;

 private:
  int code_;
};

class Statement;

// Process-wide settings, before the first connection opens: SQLite's
// memory statistics off. With them on, every sqlite3_malloc and free takes
// one process-wide mutex to count bytes that the hub never reads, and the
// io thread's reads contend for it with the writer (bench/RESULTS.md,
// 2026-12-06). False when SQLite was already
// initialised (then the settings stay SQLite's defaults: slower, not wrong).
bool configureProcess();

class Database {
 public:
  enum class Mode { ReadWriteCreate, ReadWrite, ReadOnly };

  // Opens and applies the hub's connection settings: WAL, synchronous=FULL,
  // foreign_keys=ON, SQLITE_DBCONFIG_DEFENSIVE, trusted_schema=OFF and a busy
  // timeout. Throws Error.
  // `vfs`: a registered VFS name (nullptr: the default; a `file:` URI's own
  // vfs= parameter takes precedence, as in sqlite3_open_v2).
  static Database open(const std::filesystem::path& path, Mode mode, int busyTimeoutMs = 5000,
                       const char* vfs = nullptr);

  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  // Runs static SQL without parameters (schema, PRAGMA, BEGIN/COMMIT).
  void exec(const char* sql);
  // Runs one static statement that returns no row through the statement
  // cache: for the writer's BEGIN/SAVEPOINT/RELEASE/COMMIT, which exec()
  // would parse again on every call.
  void execPrepared(const char* sql);

  // A prepared statement for `sql`, cached for the life of the connection and
  // reset (bindings cleared) when the returned Statement::Use ends. The same
  // SQL must not be in use twice at once (asserted by Use).
  class Use;
  Use prepare(const char* sql);

  std::int64_t changes() const;
  std::int64_t lastInsertRowid() const;
  // False when SQLite rolled the transaction back by itself (after some
  // SQLITE_FULL / IOERR / NOMEM errors) or none was begun.
  bool inTransaction() const;
  int userVersion();
  void setUserVersion(int v);  // static value only; `v` is an integer
  sqlite3* handle() { return db_; }

  // Throws Error if rc is not one of the expected codes.
  void check(int rc, const char* what) const;

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, std::unique_ptr<Statement>> cache_;
};

class Statement {
 public:
  Statement(Database& db, const char* sql);  // throws Error
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based, as in SQLite. Blobs and text are copied
  // (SQLITE_TRANSIENT): the caller's buffers need not outlive the call.
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, crypto::ByteView blob);
  Statement& bindNull(int index);

  // True when a row is available, false when done. Throws Error otherwise.
  bool step();
  // Steps a statement that must return no row (INSERT/UPDATE/DELETE).
  void run();

  // Columns are 0-based, as in SQLite. Valid until the next step()/reset().
  std::int64_t columnInt(int column);
  std::string columnText(int column);
  crypto::Bytes columnBlob(int column);
  crypto::ByteView columnBlobView(int column);
  bool columnIsNull(int column);

  void reset();

 private:
  friend class Database;
  void check(int rc, const char* what) const;
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_;  // the handle, not the Database: a Database may move
  bool inUse_ = false;
};

// Lease of a cached statement; resets it on every path out of scope.
class Database::Use {
 public:
  explicit Use(Statement& s);
  ~Use();
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  Statement* operator->() { return s_; }
  Statement& operator*() { return *s_; }

 private:
  Statement* s_;
};

// Runs a static SQL statement inside a savepoint-free scope: BEGIN IMMEDIATE
// on construction, ROLLBACK on destruction unless commit() succeeded. For
// one-shot writers (focald init, tests); the hub's writes go through
// CommitQueue.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace focal::server::sqlite

#include "server/sqlite.hpp"

#include <sqlite3.h>

#include <cassert>
#include <climits>
#include <utility>

namespace focal::server::sqlite {

namespace {

std::string describe(sqlite3* db, int rc, const char* what) {
  std::string msg = what;
  msg += ": ";
  msg += sqlite3_errstr(rc);
  if (db != nullptr) {
    const char* detail = sqlite3_errmsg(db);
    if (detail != nullptr && std::string_view(detail) != sqlite3_errstr(rc)) {
      msg += " (";
      msg += detail;
      msg += ")";
    }
  }
  return msg;
}

}  // namespace

bool configureProcess() { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK; }

bool Error::isUnavailable() const {
  switch (primaryCode()) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
      return true;
    default:
      return false;
  }
}

// ---- Database ----------------------------------------------------------------

Database Database::open(const std::filesystem::path& path, Mode mode, int busyTimeoutMs, const char* vfs) {
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  switch (mode) {
    case Mode::ReadWriteCreate: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
    case Mode::ReadWrite: flags |= SQLITE_OPEN_READWRITE; break;
    case Mode::ReadOnly: flags |= SQLITE_OPEN_READONLY; break;
  }
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, vfs);
  // Even on failure SQLite usually returns a handle that must be closed; the
  // Database takes it over so every path closes it.
  Database db(raw);
  if (rc != SQLITE_OK) throw Error(rc, describe(raw, rc, ("cannot open " + path.string()).c_str()));

  db.check(sqlite3_extended_result_codes(raw, 1), "extended_result_codes");
  db.check(sqlite3_busy_timeout(raw, busyTimeoutMs), "busy_timeout");
  int enabled = -1;
  // SECURITY: defensive mode forbids writes that could corrupt the file
  // (writable_schema, direct shadow-table edits); an untrusted schema may not
  // run SQL functions with side effects from views or triggers.
  db.check(sqlite3_db_config(raw, SQLITE_DBCONFIG_DEFENSIVE, 1, &enabled), "DBCONFIG_DEFENSIVE");
  if (enabled != 1) throw Error(SQLITE_ERROR, "SQLITE_DBCONFIG_DEFENSIVE could not be enabled");
  db.check(sqlite3_db_config(raw, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &enabled), "DBCONFIG_TRUSTED_SCHEMA");
  db.exec("PRAGMA trusted_schema=OFF");
  db.exec("PRAGMA foreign_keys=ON");
  if (mode == Mode::ReadOnly) {
    db.exec("PRAGMA query_only=ON");
  } else {
    // WAL: readers never block the writer. synchronous=FULL: a commit is on
    // disk when COMMIT returns, which is what `accepted` promises
    // (DESIGN.md §6; NORMAL would lose the last commits on power loss).
    auto wal = db.prepare("PRAGMA journal_mode=WAL");
    if (!wal->step() || wal->columnText(0) != "wal") {
      throw Error(SQLITE_ERROR, "cannot switch " + path.string() + " to WAL mode");
    }
  }
  db.exec("PRAGMA synchronous=FULL");
  return db;
}

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), cache_(std::move(other.cache_)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    cache_.clear();
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    cache_ = std::move(other.cache_);
  }
  return *this;
}

Database::~Database() {
  cache_.clear();  // finalize every statement before closing
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

void Database::check(int rc, const char* what) const {
  if (rc != SQLITE_OK) throw Error(rc, describe(db_, rc, what));
}

void Database::exec(const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = std::string("exec: ") + (err != nullptr ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    throw Error(rc, msg);
  }
}

void Database::execPrepared(const char* sql) { prepare(sql)->run(); }

Database::Use Database::prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) it = cache_.emplace(sql, std::make_unique<Statement>(*this, sql)).first;
  return Use(*it->second);
}

std::int64_t Database::changes() const { return sqlite3_changes64(db_); }
std::int64_t Database::lastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }
bool Database::inTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

int Database::userVersion() {
  auto s = prepare("PRAGMA user_version");
  if (!s->step()) throw Error(SQLITE_ERROR, "PRAGMA user_version returned no row");
  return static_cast<int>(s->columnInt(0));
}

void Database::setUserVersion(int v) {
  // PRAGMA takes no parameters; an integer formatted by us is not input.
  const std::string sql = "PRAGMA user_version=" + std::to_string(v);
  exec(sql.c_str());
}

// ---- Statement ---------------------------------------------------------------

Statement::Statement(Database& db, const char* sql) : db_(db.handle()) {
  const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    throw Error(rc, describe(db_, rc, "prepare"));
  }
  if (stmt_ == nullptr) throw Error(SQLITE_MISUSE, "prepare: empty SQL");
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::check(int rc, const char* what) const {
  if (rc != SQLITE_OK) throw Error(rc, describe(db_, rc, what));
}

Statement& Statement::bind(int index, std::int64_t value) {
  check(sqlite3_bind_int64(stmt_, index, value), "bind int");
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  if (text.size() > INT_MAX) throw Error(SQLITE_TOOBIG, "bind text: too large");
  check(sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT),
        "bind text");
  return *this;
}

Statement& Statement::bind(int index, crypto::ByteView blob) {
  if (blob.size() > INT_MAX) throw Error(SQLITE_TOOBIG, "bind blob: too large");
  // A zero-length blob must still be a blob, not NULL: data() may be null.
  static const std::uint8_t empty = 0;
  const void* p = blob.empty() ? &empty : blob.data();
  check(sqlite3_bind_blob(stmt_, index, p, static_cast<int>(blob.size()), SQLITE_TRANSIENT), "bind blob");
  return *this;
}

Statement& Statement::bindNull(int index) {
  check(sqlite3_bind_null(stmt_, index), "bind null");
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw Error(rc, describe(db_, rc, "step"));
}

void Statement::run() {
  if (step()) throw Error(SQLITE_MISUSE, "statement returned a row where none was expected");
}

std::int64_t Statement::columnInt(int column) { return sqlite3_column_int64(stmt_, column); }

std::string Statement::columnText(int column) {
  const auto* p = sqlite3_column_text(stmt_, column);
  const int n = sqlite3_column_bytes(stmt_, column);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

crypto::ByteView Statement::columnBlobView(int column) {
  const void* p = sqlite3_column_blob(stmt_, column);
  const int n = sqlite3_column_bytes(stmt_, column);
  if (p == nullptr || n <= 0) return {};
  return {static_cast<const std::uint8_t*>(p), static_cast<std::size_t>(n)};
}

crypto::Bytes Statement::columnBlob(int column) {
  auto v = columnBlobView(column);
  return crypto::Bytes(v.begin(), v.end());
}

bool Statement::columnIsNull(int column) { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

void Statement::reset() {
  // sqlite3_reset repeats the last step's error code, which was already
  // reported by step(); only clearing the bindings can fail independently.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Database::Use::Use(Statement& s) : s_(&s) {
  assert(!s.inUse_ && "the same cached statement is in use twice");
  if (s.inUse_) throw Error(SQLITE_MISUSE, "cached statement already in use");
  s.inUse_ = true;
}

Database::Use::~Use() {
  s_->reset();
  s_->inUse_ = false;
}

// ---- Transaction ---------------------------------------------------------------

Transaction::Transaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (!done_ && db_.inTransaction()) {
    try {
      db_.exec("ROLLBACK");
    } catch (const Error&) {
      // Nothing more can be done in a destructor; SQLite rolls back a
      // transaction left open when the connection closes.
    }
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace focal::server::sqlite

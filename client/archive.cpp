// The member's local archive (client/archive.hpp): SQLite in memory,
// sealed to one file.
#include "client/archive.hpp"

#include "crypto/secure_file.hpp"
#include "protocol/command_line.hpp"

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <cstring>
#include <fstream>
#include <sstream>

namespace focal::client {

namespace {

constexpr const char* Schema = R"sql(
CREATE TABLE IF NOT EXISTS bulletins(
  n INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  sender_id TEXT NOT NULL, sender_name TEXT NOT NULL, sender_fingerprint TEXT NOT NULL,
  recipients TEXT NOT NULL, attack TEXT NOT NULL,
  tlp TEXT NOT NULL, category TEXT NOT NULL, priority TEXT NOT NULL,
  case_ref TEXT NOT NULL, forwarded_by TEXT NOT NULL,
  sent_at_ms INTEGER NOT NULL, archived_at_ms INTEGER NOT NULL,
  title TEXT NOT NULL, body TEXT NOT NULL,
  acknowledged INTEGER NOT NULL DEFAULT 0,
  retracted INTEGER NOT NULL DEFAULT 0, retracted_at_ms INTEGER NOT NULL DEFAULT 0,
  retraction_reason TEXT NOT NULL DEFAULT '',
  content_removed TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS bulletins_sent ON bulletins(sent_at_ms);
-- The index only (external content: the text is stored once, in bulletins).
-- What it holds for row n is always that row's title and body as they are
-- now: inserted with the row, deleted with the very values it indexed
-- ('delete'), so that a removal leaves no term of the removed text.
CREATE VIRTUAL TABLE IF NOT EXISTS bulletin_text USING fts5(title, body, content = 'bulletins', content_rowid = 'n',
                                                            tokenize = 'unicode61 remove_diacritics 2');
)sql";

constexpr const char* Columns =
    "b.id, b.sender_id, b.sender_name, b.sender_fingerprint, b.recipients, b.attack, b.tlp, b.category, b.priority, "
    "b.case_ref, b.forwarded_by, b.sent_at_ms, b.archived_at_ms, b.title, b.body, b.acknowledged, b.retracted, "
    "b.retracted_at_ms, b.retraction_reason, b.content_removed";

// One prepared statement, finalized on every path; parameters bound by
// position, never spliced into the SQL.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st_, nullptr) != SQLITE_OK) fail("prepare");
  }
  ~Statement() { sqlite3_finalize(st_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& bind(int i, std::string_view text) {
    // An empty view may have no data pointer, which SQLite would bind as NULL.
    const char* p = text.data() != nullptr ? text.data() : "";
    if (sqlite3_bind_text(st_, i, p, static_cast<int>(text.size()), SQLITE_TRANSIENT) != SQLITE_OK) fail("bind");
    return *this;
  }
  Statement& bind(int i, std::int64_t v) {
    if (sqlite3_bind_int64(st_, i, v) != SQLITE_OK) fail("bind");
    return *this;
  }
  bool step() {
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) fail("step");
    return false;
  }
  std::string text(int i) const {
    const auto* p = sqlite3_column_text(st_, i);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p),
                                                      static_cast<std::size_t>(sqlite3_column_bytes(st_, i)));
  }
  std::int64_t integer(int i) const { return sqlite3_column_int64(st_, i); }

 private:
  [[noreturn]] void fail(const char* step) const {
    throw ArchiveError(std::nullopt, std::string("archive database: ") + step + ": " + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

std::vector<std::string> jsonList(const std::string& text) {
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& v : j) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

ArchiveRow rowFrom(const Statement& s) {
  ArchiveRow r;
  r.id = s.text(0);
  r.senderId = s.text(1);
  r.senderName = s.text(2);
  r.senderFingerprint = s.text(3);
  r.recipients = jsonList(s.text(4));
  r.attack = jsonList(s.text(5));
  r.tlp = s.text(6);
  r.category = s.text(7);
  r.priority = s.text(8);
  r.caseRef = s.text(9);
  r.forwardedBy = s.text(10);
  r.sentAtMs = s.integer(11);
  r.archivedAtMs = s.integer(12);
  r.title = s.text(13);
  r.body = s.text(14);
  r.acknowledged = s.integer(15) != 0;
  r.retracted = s.integer(16) != 0;
  r.retractedAtMs = s.integer(17);
  r.retractionReason = s.text(18);
  r.contentRemoved = s.text(19);
  return r;
}

std::filesystem::path idsFile(const std::filesystem::path& file) {
  auto p = file;
  p += ".ids";
  return p;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::optional<ArchiveRetention> parseArchiveRetention(std::string_view text, std::string* error) {
  ArchiveRetention out;
  const auto bad = [&](const std::string& why) -> std::optional<ArchiveRetention> {
    if (error != nullptr) *error = why;
    return std::nullopt;
  };
  std::size_t pos = 0;
  while (pos <= text.size() && !text.empty()) {
    const auto comma = text.find(',', pos);
    const auto item = text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) return bad("'" + std::string(item) + "' is not TLP=DURATION");
    wire::Tlp tlp{};
    if (!parseTlp(item.substr(0, eq), tlp)) return bad("unknown TLP '" + std::string(item.substr(0, eq)) + "'");
    const auto ms = protocol::parseDurationMs(item.substr(eq + 1));
    if (!ms) return bad("'" + std::string(item.substr(eq + 1)) + "' is not a duration (30d, 12h)");
    out[tlpName(tlp)] = *ms;
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

std::string ftsWords(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])) != 0) ++i;
    std::string word;
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])) == 0) {
      if (text[i] == '"') word += '"';
      word += text[i++];
    }
    if (word.empty()) continue;
    if (!out.empty()) out += ' ';
    out += '"' + word + '"';
  }
  return out;
}

Archive::Archive(std::filesystem::path file, crypto::Keyring keys)
    : file_(std::move(file)), keys_(std::make_unique<crypto::Keyring>(std::move(keys))) {
  if (sqlite3_open_v2(":memory:", &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw ArchiveError(std::nullopt, "archive database: cannot open an in-memory database");
  }
}

Archive::Archive(Archive&& o) noexcept
    : file_(std::move(o.file_)),
      keys_(std::move(o.keys_)),
      db_(std::exchange(o.db_, nullptr)),
      dirty_(o.dirty_),
      purge_(o.purge_) {}

Archive& Archive::operator=(Archive&& o) noexcept {
  if (this != &o) {
    sqlite3_close(db_);
    file_ = std::move(o.file_);
    keys_ = std::move(o.keys_);
    db_ = std::exchange(o.db_, nullptr);
    dirty_ = o.dirty_;
    purge_ = o.purge_;
  }
  return *this;
}

Archive::~Archive() { sqlite3_close(db_); }

void Archive::exec(const char* sql) const {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message != nullptr ? message : "unknown error";
    sqlite3_free(message);
    throw ArchiveError(std::nullopt, "archive database: " + text);
  }
}

Archive Archive::open(const std::filesystem::path& file, crypto::Keyring keys) {
  Archive a(file, std::move(keys));
  auto sealed = readArchiveFile(file);
  if (sealed) {
    auto image = openArchive(*a.keys_, *sealed);
    if (!image) {
      throw ArchiveError(image.error(), "cannot open the archive " + file.string() + ": " + describe(image.error()));
    }
    // SQLite owns (and frees) the image: it must come from sqlite3_malloc.
    const auto size = image->size();
    auto* p = static_cast<unsigned char*>(sqlite3_malloc64(size == 0 ? 1 : size));
    if (p == nullptr) throw std::bad_alloc();
    std::memcpy(p, image->data(), size);
    sodium_memzero(image->data(), image->size());
    const int rc = sqlite3_deserialize(a.db_, "main", p, static_cast<sqlite3_int64>(size), static_cast<sqlite3_int64>(size),
                                       SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE);
    if (rc != SQLITE_OK) throw ArchiveError(ArchiveFileError::Damaged, "cannot load the archive " + file.string());
    // No integrity check beyond the AEAD: the image authenticated, so it is
    // one this member's client wrote.
  }
  // In memory only: no journal file, no temporary files on disk.
  a.exec("PRAGMA journal_mode = MEMORY; PRAGMA temp_store = MEMORY; PRAGMA secure_delete = ON;");
  a.exec(Schema);
  return a;
}

void Archive::record(const OpenedMessage& m, std::int64_t nowMs) {
  const auto id = crypto::toHex(m.id);
  const bool retracted = m.retraction.has_value();
  std::int64_t n = 0;
  bool wasRetracted = false;
  {
    Statement s(db_, "SELECT n, retracted FROM bulletins WHERE id = ?");
    s.bind(1, id);
    if (s.step()) {
      n = s.integer(0);
      wasRetracted = s.integer(1) != 0;
    }
  }
  // The same id is the same signed bulletin: opened again (every inbox
  // opens what is still queued), only a new retraction changes its row.
  if (n != 0 && (!retracted || wasRetracted)) return;
  exec("BEGIN");
  try {
    if (n != 0) {
      removeFromIndex(n);
      Statement s(db_, "UPDATE bulletins SET title = '', body = '', retracted = 1, retracted_at_ms = ?, "
                       "retraction_reason = ?, content_removed = 'retracted' WHERE n = ?");
      s.bind(1, m.retraction->retractedAtMs).bind(2, m.retraction->reason).bind(3, n).step();
      purge_ = true;
    } else {
      insertRow(m, nowMs);
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  dirty_ = true;
}

void Archive::insertRow(const OpenedMessage& m, std::int64_t nowMs) {
  const bool retracted = m.retraction.has_value();
  // A bulletin first seen retracted is kept without its text.
  const std::string_view title = retracted ? std::string_view() : std::string_view(m.title);
  const std::string_view body = retracted ? std::string_view() : std::string_view(m.body);
  Statement s(db_, "INSERT INTO bulletins(id, sender_id, sender_name, sender_fingerprint, recipients, attack, tlp, "
                   "category, priority, case_ref, forwarded_by, sent_at_ms, archived_at_ms, title, body, retracted, "
                   "retracted_at_ms, retraction_reason, content_removed) "
                   "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  s.bind(1, crypto::toHex(m.id)).bind(2, m.senderId).bind(3, m.senderName).bind(4, m.senderFingerprint);
  s.bind(5, nlohmann::json(m.recipients).dump()).bind(6, nlohmann::json(m.attackTechniques).dump());
  s.bind(7, std::string_view(tlpName(m.tlp))).bind(8, std::string_view(categoryName(m.category)));
  s.bind(9, std::string_view(priorityName(m.priority))).bind(10, m.caseRef);
  s.bind(11, m.forwardedBy ? std::string_view(m.forwardedBy->forwarderId) : std::string_view());
  s.bind(12, m.createdAtMs).bind(13, nowMs).bind(14, title).bind(15, body);
  s.bind(16, std::int64_t{retracted ? 1 : 0}).bind(17, retracted ? m.retraction->retractedAtMs : 0);
  s.bind(18, retracted ? std::string_view(m.retraction->reason) : std::string_view());
  s.bind(19, std::string_view(retracted ? "retracted" : "")).step();
  if (!retracted) {
    Statement ins(db_, "INSERT INTO bulletin_text(rowid, title, body) VALUES(?, ?, ?)");
    ins.bind(1, sqlite3_last_insert_rowid(db_)).bind(2, title).bind(3, body).step();
  }
}

void Archive::removeFromIndex(std::int64_t n) {
  Statement s(db_, "SELECT title, body, content_removed FROM bulletins WHERE n = ?");
  s.bind(1, n);
  if (!s.step() || s.text(2) == "retracted") return;  // nothing indexed
  Statement del(db_, "INSERT INTO bulletin_text(bulletin_text, rowid, title, body) VALUES('delete', ?, ?, ?)");
  del.bind(1, n).bind(2, s.text(0)).bind(3, s.text(1)).step();
}

void Archive::markAcknowledged(const crypto::BulletinId& id) {
  Statement s(db_, "UPDATE bulletins SET acknowledged = 1 WHERE id = ? AND acknowledged = 0");
  s.bind(1, crypto::toHex(id)).step();
  if (sqlite3_changes(db_) > 0) dirty_ = true;
}

std::vector<ArchiveRow> Archive::select(const std::string& where, const std::vector<std::string>& params,
                                        const ArchiveFilter& f, const char* order) const {
  std::string sql = std::string("SELECT ") + Columns + " FROM bulletins b" + where;
  std::vector<std::string> texts = params;
  const auto add = [&](const std::string& clause) { sql += (sql.find(" WHERE ") == std::string::npos ? " WHERE " : " AND ") + clause; };
  if (!f.from.empty()) { add("b.sender_id = ?" + std::to_string(texts.size() + 1)); texts.push_back(f.from); }
  if (!f.tlp.empty()) { add("b.tlp = ?" + std::to_string(texts.size() + 1)); texts.push_back(upper(f.tlp)); }
  if (!f.category.empty()) { add("b.category = ?" + std::to_string(texts.size() + 1)); texts.push_back(f.category); }
  if (!f.caseRef.empty()) { add("b.case_ref = ?" + std::to_string(texts.size() + 1)); texts.push_back(f.caseRef); }
  if (!f.attack.empty()) {
    std::string any;
    for (const auto& t : f.attack) {
      const auto k = std::to_string(texts.size() + 1);
      if (!any.empty()) any += " OR ";
      any += "value = ?" + k + " COLLATE NOCASE OR value LIKE ?" + k + " || '.%'";
      texts.push_back(t);
    }
    add("EXISTS (SELECT 1 FROM json_each(b.attack) WHERE " + any + ")");
  }
  const std::size_t sinceParam = texts.size() + 1;
  if (f.sinceMs != 0) add("b.sent_at_ms >= ?" + std::to_string(sinceParam));
  sql += std::string(" ORDER BY ") + order;
  if (f.limit != 0) sql += " LIMIT " + std::to_string(f.limit);
  Statement s(db_, sql);
  for (std::size_t i = 0; i < texts.size(); ++i) s.bind(static_cast<int>(i + 1), texts[i]);
  if (f.sinceMs != 0) s.bind(static_cast<int>(sinceParam), f.sinceMs);
  std::vector<ArchiveRow> out;
  while (s.step()) out.push_back(rowFrom(s));
  return out;
}

std::vector<ArchiveRow> Archive::history(const ArchiveFilter& f) const {
  return select("", {}, f, "b.sent_at_ms DESC, b.id");
}

std::vector<ArchiveRow> Archive::search(std::string_view query, const ArchiveFilter& f) const {
  const auto words = ftsWords(query);
  if (words.empty()) return {};
  return select(" JOIN bulletin_text t ON t.rowid = b.n WHERE bulletin_text MATCH ?1", {words}, f,
                "bm25(bulletin_text), b.sent_at_ms DESC");
}

std::optional<ArchiveRow> Archive::get(const crypto::BulletinId& id) const {
  Statement s(db_, std::string("SELECT ") + Columns + " FROM bulletins b WHERE b.id = ?");
  s.bind(1, crypto::toHex(id));
  if (!s.step()) return std::nullopt;
  return rowFrom(s);
}

std::vector<std::string> Archive::bodyRemovedIds() const {
  Statement s(db_, "SELECT id FROM bulletins WHERE content_removed = 'retention'");
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

std::vector<std::string> Archive::ids() const {
  Statement s(db_, "SELECT id FROM bulletins");
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

void Archive::applyRetention(const ArchiveRetention& retention, std::int64_t nowMs) {
  for (const auto& [tlp, keepMs] : retention) {
    Statement s(db_, "SELECT n FROM bulletins WHERE tlp = ? AND sent_at_ms < ? AND content_removed = ''");
    s.bind(1, tlp).bind(2, nowMs - keepMs);
    std::vector<std::int64_t> rows;
    while (s.step()) rows.push_back(s.integer(0));
    for (const auto n : rows) {
      removeFromIndex(n);
      Statement drop(db_, "UPDATE bulletins SET body = '', content_removed = 'retention' WHERE n = ?");
      drop.bind(1, n).step();
      // The index keeps the title only.
      Statement reindex(db_, "INSERT INTO bulletin_text(rowid, title, body) SELECT n, title, '' FROM bulletins WHERE n = ?");
      reindex.bind(1, n).step();
      dirty_ = true;
      purge_ = true;
    }
  }
}

bool Archive::save(const ArchiveRetention& retention, std::int64_t nowMs) {
  applyRetention(retention, nowMs);
  if (!dirty_) return false;
  if (purge_) {
    // FTS5 deletes by adding tombstones: the removed words stay in older
    // index segments until they are merged. 'optimize' merges them all, and
    // VACUUM (with secure_delete) leaves no freed page holding old text in
    // the image.
    exec("INSERT INTO bulletin_text(bulletin_text) VALUES('optimize'); VACUUM;");
    purge_ = false;
  }
  sqlite3_int64 size = 0;
  unsigned char* image = sqlite3_serialize(db_, "main", &size, 0);
  if (image == nullptr) throw ArchiveError(std::nullopt, "archive database: cannot serialise");
  crypto::Bytes sealed;
  try {
    sealed = sealArchive(*keys_, crypto::ByteView(image, static_cast<std::size_t>(size)));
  } catch (...) {
    sodium_memzero(image, static_cast<std::size_t>(size));
    sqlite3_free(image);
    throw;
  }
  sodium_memzero(image, static_cast<std::size_t>(size));
  sqlite3_free(image);
  writeArchiveFile(file_, sealed);
  dirty_ = false;
  // FILE.ids after FILE: a crash between leaves an old list, which no
  // longer matches FILE's nonce and is ignored.
  std::string ids = "focal-archive-ids 1 " + crypto::toHex(parseArchiveHeader(sealed)->nonce.view()) + "\n";
  {
    Statement oldest(db_, "SELECT tlp, MIN(sent_at_ms) FROM bulletins WHERE content_removed = '' GROUP BY tlp");
    while (oldest.step()) ids += "oldest " + oldest.text(0) + " " + std::to_string(oldest.integer(1)) + "\n";
  }
  Statement s(db_, "SELECT id, retracted FROM bulletins ORDER BY id");
  while (s.step()) ids += "id " + s.text(0) + (s.integer(1) != 0 ? " r\n" : " -\n");
  crypto::writeFileAtomic(idsFile(file_), ids, 0600);
  return true;
}

std::optional<Archive::Listing> Archive::knownIds(const std::filesystem::path& file) {
  try {
    std::ifstream archive(file, std::ios::binary);
    crypto::Bytes head(8 + 2 + 255 + crypto::BoxPublicKey::size + crypto::AeadNonce::size +
                       crypto_aead_xchacha20poly1305_ietf_ABYTES);
    archive.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<std::size_t>(archive.gcount()));
    const auto header = parseArchiveHeader(head);
    if (!header) return std::nullopt;
    const auto bytes = crypto::readFileLimited(idsFile(file), MaxArchiveFileBytes);
    std::istringstream in(std::string(bytes.begin(), bytes.end()));
    std::string magic, version, nonce;
    if (!(in >> magic >> version >> nonce) || magic != "focal-archive-ids" || version != "1" ||
        nonce != crypto::toHex(header->nonce.view())) {
      return std::nullopt;
    }
    Listing out;
    std::string kind, key, value;
    while (in >> kind >> key >> value) {
      if (kind == "id") {
        out.retracted[key] = value == "r";
      } else if (kind == "oldest") {
        out.oldestBody[key] = std::stoll(value);
      } else {
        return std::nullopt;
      }
    }
    if (!in.eof()) return std::nullopt;
    return out;
  } catch (const std::exception&) {
    return std::nullopt;  // missing, unreadable or damaged: load the archive instead
  }
}

bool Archive::Listing::retentionDue(const ArchiveRetention& retention, std::int64_t nowMs) const {
  for (const auto& [tlp, keepMs] : retention) {
    const auto it = oldestBody.find(tlp);
    if (it != oldestBody.end() && it->second < nowMs - keepMs) return true;
  }
  return false;
}

}  // namespace focal::client

// The member's local archive: every bulletin the client opened and
// verified, kept for `focal history`, `focal search` and an offline
// `focal read`. An SQLite database (a table of bulletins and an FTS5 index
// over title and body) that lives in memory only: it is loaded from and
// saved to one sealed file (client/archive_file.hpp) with
// sqlite3_deserialize / sqlite3_serialize, so the database, its index and
// its journal never touch the disk in the clear. bench/RESULTS.md gives the
// cost, SECURITY.md what it protects.
//
// What a row keeps: the verified metadata (id, sender, recipients, TLP,
// category, priority, case, ATT&CK ids, sent time), title and body, whether
// this member acknowledged it, and whether it was retracted. A verified
// retraction removes title and body (the row stays, marked); the retention
// policy (per TLP, profile setting archive-keep) removes bodies older than
// its limit when the archive is saved. Text in rows is the sender's: the
// caller sanitises it before it reaches a terminal.
#pragma once

#include "client/archive_file.hpp"
#include "client/bulletin_reader.hpp"

#include <map>
#include <memory>
#include <stdexcept>

struct sqlite3;

namespace focal::client {

// Opening or saving failed: `code` is the file's error, or nullopt for an
// SQLite or I/O failure (the message says which).
class ArchiveError : public std::runtime_error {
 public:
  ArchiveError(std::optional<ArchiveFileError> code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  const std::optional<ArchiveFileError>& code() const { return code_; }

 private:
  std::optional<ArchiveFileError> code_;
};

// Per TLP name (tlpName: "RED", "AMBER", ...), how long a body is kept.
using ArchiveRetention = std::map<std::string, std::int64_t>;
// "red=30d,amber=90d" (TLP names as --tlp takes them, durations as
// protocol::parseDurationMs); nullopt with `error` set when malformed.
std::optional<ArchiveRetention> parseArchiveRetention(std::string_view text, std::string* error = nullptr);

struct ArchiveRow {
  std::string id;  // 32 hex
  std::string senderId, senderName, senderFingerprint;
  std::vector<std::string> recipients, attack;
  std::string tlp, category, priority, caseRef, forwardedBy;
  std::int64_t sentAtMs = 0, archivedAtMs = 0;
  std::string title, body;
  bool acknowledged = false;
  bool retracted = false;
  std::int64_t retractedAtMs = 0;
  std::string retractionReason;
  // "" (kept), "retracted" (title and body), "retention" (body).
  std::string contentRemoved;
};

struct ArchiveFilter {
  std::string from;                 // sender id
  std::string tlp, category;        // names as tlpName / categoryName give them
  std::string caseRef;
  std::vector<std::string> attack;  // any of them (T1566 also matches T1566.002)
  std::int64_t sinceMs = 0;         // sent at or after
  std::size_t limit = 0;            // 0: all
};

class Archive {
 public:
  // Loads members/ID/archive.bin (missing: an empty archive).
  // ArchiveError when the file does not open with `keys`.
  static Archive open(const std::filesystem::path& file, crypto::Keyring keys);
  Archive(Archive&&) noexcept;
  Archive& operator=(Archive&&) noexcept;
  ~Archive();

  // A verified bulletin, inserted once; opened again it changes nothing
  // unless it now carries a verified retraction, which removes its content
  // (the row stays, marked).
  void record(const OpenedMessage& m, std::int64_t nowMs);
  void markAcknowledged(const crypto::BulletinId& id);

  std::vector<ArchiveRow> history(const ArchiveFilter& f) const;
  // Rows whose title or body has every word of `query` (FTS5, best first).
  // The query is taken as plain words: FTS syntax in it is matched as text.
  std::vector<ArchiveRow> search(std::string_view query, const ArchiveFilter& f) const;
  std::optional<ArchiveRow> get(const crypto::BulletinId& id) const;
  // Ids of every row (short ids resolve against them too).
  std::vector<std::string> ids() const;
  // Rows whose body the retention removed (their cached copies go too).
  std::vector<std::string> bodyRemovedIds() const;

  // What an archive file holds, read without opening it (FILE.ids,
  // written beside it at each save and bound to that save by the file's
  // nonce): the ids of its rows, each with whether it is retracted, and per
  // TLP the send time of the oldest row that still has its body. nullopt
  // when missing, damaged, or not of the archive file there now. A command
  // that opens only bulletins listed here (every inbox re-opens what is
  // still queued) need not load the archive, unless retention is due. The
  // list shows no more than the cache's file names and the bulletins'
  // plaintext headers do (ids, retractions, TLP, send times).
  struct Listing {
    std::map<std::string, bool> retracted;          // id -> retracted
    std::map<std::string, std::int64_t> oldestBody;  // TLP name -> sent at
    // Whether `retention` at `nowMs` would remove a body.
    bool retentionDue(const ArchiveRetention& retention, std::int64_t nowMs) const;
  };
  static std::optional<Listing> knownIds(const std::filesystem::path& file);

  // Removes the bodies `retention` no longer keeps at `nowMs` (the rows say
  // so); the next save writes the change.
  void applyRetention(const ArchiveRetention& retention, std::int64_t nowMs);
  // Applies `retention` at `nowMs`, then writes the file (and FILE.ids) if
  // anything changed since it was loaded or saved. Returns whether it wrote.
  bool save(const ArchiveRetention& retention, std::int64_t nowMs);
  bool dirty() const { return dirty_; }

 private:
  Archive(std::filesystem::path file, crypto::Keyring keys);
  void exec(const char* sql) const;
  void insertRow(const OpenedMessage& m, std::int64_t nowMs);
  // Deletes row n's terms from the index, with the values it indexed.
  void removeFromIndex(std::int64_t n);
  std::vector<ArchiveRow> select(const std::string& where, const std::vector<std::string>& params,
                                 const ArchiveFilter& f, const char* order) const;

  std::filesystem::path file_;
  std::unique_ptr<crypto::Keyring> keys_;
  sqlite3* db_ = nullptr;
  bool dirty_ = false;
  bool purge_ = false;  // text was removed: merge the index and vacuum on save
};

// "word1 word2" as an FTS5 query of phrases ("word1" "word2"), each quoted
// with its own quotes doubled: hostile input cannot be FTS syntax. Empty
// when the text holds no word.
std::string ftsWords(std::string_view text);

}  // namespace focal::client

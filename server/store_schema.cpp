// The schema of the store: the tables of a new database, the numbered
// migration steps that bring an older one to the current version, and the
// version checks. One schema version per step (user_version = the version);
// a released step never changes (databases in the field went through it),
// nor does version 1's schema: the one copy of it, from which createSchema
// makes an older version's database for the steps' tests.
#include "server/store.hpp"

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <string>

namespace focal::server {

namespace {

// Version 1 (minus the queue, queueSql(1)). Every table is STRICT-free on purpose (SQLite 3.37+ only);
// types are enforced by CHECK constraints where they matter for safety.
constexpr const char* SchemaSql = R"sql(
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

// Version 2: the working group's records (forwards, retractions, H2
// permissions), and the queue with the columns they need.
constexpr const char* WorkingGroupSql = R"sql(
CREATE TABLE forwards(
  id             BLOB PRIMARY KEY CHECK (length(id) = 16),
  bulletin_id    BLOB NOT NULL REFERENCES bulletins(id),
  forwarder_id   TEXT NOT NULL,
  body           BLOB NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64),
  recorded_at_ms INTEGER NOT NULL
);
CREATE TABLE retractions(
  bulletin_id    BLOB PRIMARY KEY REFERENCES bulletins(id),
  body           BLOB NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64),
  recorded_at_ms INTEGER NOT NULL
);
CREATE TABLE permissions(
  bulletin_id    BLOB NOT NULL REFERENCES bulletins(id),
  member_id      TEXT NOT NULL,
  body           BLOB NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64),
  recorded_at_ms INTEGER NOT NULL,
  PRIMARY KEY(bulletin_id, member_id)
);
)sql";

// The queue's columns as version 1 made them. An ack of a bulletin id
// acknowledges every entry of that id.
constexpr const char* QueueV1ColumnsSql = R"sql(
  bulletin_id     BLOB NOT NULL REFERENCES bulletins(id),
  member_id       TEXT NOT NULL,
  enc_key         BLOB NOT NULL CHECK (length(enc_key) = 32),
  queued_at_ms    INTEGER NOT NULL,
  delivered_at_ms INTEGER,
  acked_at_ms     INTEGER,)sql";
// Version 1's key: one entry per (bulletin, member).
constexpr const char* QueueV1KeySql = R"sql(
  UNIQUE(bulletin_id, member_id)
)sql";
// Version 2's columns and key. forward_id: the forward that brought the
// bulletin to this member (NULL for an original recipient). retraction = 1:
// the entry announces the bulletin's retraction; it is queued even for a
// member who already acknowledged the bulletin, so it has its own row.
constexpr const char* QueueRecordColumnsSql = R"sql(
  forward_id      BLOB REFERENCES forwards(id),
  retraction      INTEGER NOT NULL DEFAULT 0 CHECK (retraction IN (0, 1)),
  UNIQUE(bulletin_id, member_id, retraction)
)sql";

// The queue table and its index as version 4 has them, or (older) as
// versions 1 to 3 had them: seq with AUTOINCREMENT, every entry indexed,
// and in version 1 neither forward nor retraction.
//
// Version 4 (for the writer's cost per delivery):
// - seq without AUTOINCREMENT. No row is deleted but by retention (v7),
//   which never deletes the newest (an ack sets
//   acked_at_ms; status reads the rows), so max(seq) + 1, which SQLite gives
//   a new row, is above every seq ever handed out, as AUTOINCREMENT made
//   sure at the price of reading and rewriting sqlite_sequence (a page of
//   its own in the WAL) in every statement that queues.
// - The queue index holds only unacknowledged entries: an ack removes one
//   index entry instead of moving it, and the index stays the size of
//   what is pending.
std::string queueSql(int version) {
  const bool v4 = version >= 4;
  return std::string("CREATE TABLE deliveries(\n  seq             INTEGER PRIMARY KEY") + (v4 ? "" : " AUTOINCREMENT") +
         "," + QueueV1ColumnsSql + (version >= 2 ? QueueRecordColumnsSql : QueueV1KeySql) +
         ");\nCREATE INDEX deliveries_queue ON deliveries" +
         (v4 ? "(member_id, seq) WHERE acked_at_ms IS NULL;" : "(member_id, acked_at_ms, seq);");
}

// Version 3: consensus procedures. summary_records: one row per summary
// record bulletin (state = wire::RecordState; outcome_index = the log entry
// of its recordApproved, 0 = none). comments: one signed Comment per
// (record, member). proposals / decisions: signed Proposal and Decision
// records (state = wire::ProposalState; outcome_index = the admission entry).
constexpr const char* ConsensusSql = R"sql(
CREATE TABLE summary_records(
  bulletin_id    BLOB PRIMARY KEY REFERENCES bulletins(id),
  sender_id      TEXT NOT NULL,
  deadline_ms    INTEGER NOT NULL,
  revises        BLOB,
  state          INTEGER NOT NULL DEFAULT 0,
  outcome_index  INTEGER NOT NULL DEFAULT 0,
  closed_at_ms   INTEGER
);
CREATE INDEX summary_records_due ON summary_records(state, deadline_ms);
CREATE TABLE comments(
  bulletin_id    BLOB NOT NULL REFERENCES bulletins(id),
  member_id      TEXT NOT NULL,
  objection      INTEGER NOT NULL CHECK (objection IN (0, 1)),
  body           BLOB NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64),
  recorded_at_ms INTEGER NOT NULL,
  PRIMARY KEY(bulletin_id, member_id)
);
CREATE TABLE proposals(
  id             BLOB PRIMARY KEY CHECK (length(id) = 16),
  proposer_id    TEXT NOT NULL,
  body           BLOB NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64),
  expires_at_ms  INTEGER NOT NULL,
  state          INTEGER NOT NULL DEFAULT 0,
  outcome_index  INTEGER NOT NULL DEFAULT 0,
  recorded_at_ms INTEGER NOT NULL
);
CREATE TABLE decisions(
  proposal_id    BLOB NOT NULL REFERENCES proposals(id),
  member_id      TEXT NOT NULL,
  approve        INTEGER NOT NULL CHECK (approve IN (0, 1)),
  body           BLOB NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64),
  recorded_at_ms INTEGER NOT NULL,
  PRIMARY KEY(proposal_id, member_id)
);
)sql";

// Version 5: each witness's latest cosignature of a head (PROTOCOL.md §11.6).
constexpr const char* CosignaturesSql = R"sql(
CREATE TABLE cosignatures(
  witness_id     TEXT PRIMARY KEY,
  size           INTEGER NOT NULL,
  head           BLOB NOT NULL,
  head_signature BLOB NOT NULL CHECK (length(head_signature) = 64),
  cosigned_at_ms INTEGER NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64)
);
)sql";

// Version 6: the log heads sealed beside acks and decisions (gossip,
// PROTOCOL.md §11.4), kept apart from the queue and the decisions so the
// rows the writer touches most stay as they were. One per (subject,
// member): the first ack (or decision) that counted keeps its head.
constexpr const char* CarriedHeadsSql = R"sql(
CREATE TABLE ack_heads(
  bulletin_id    BLOB NOT NULL,
  member_id      TEXT NOT NULL,
  sealed         BLOB NOT NULL,
  PRIMARY KEY(bulletin_id, member_id)
) WITHOUT ROWID;
CREATE TABLE decision_heads(
  proposal_id    BLOB NOT NULL,
  member_id      TEXT NOT NULL,
  sealed         BLOB NOT NULL,
  PRIMARY KEY(proposal_id, member_id)
) WITHOUT ROWID;
)sql";

// Version 7: retention (store_retention.cpp). expired_bulletins: the
// tombstone of each bulletin retention purged (no content, no recipients;
// about 60 bytes each, never purged itself), so status answers expired and
// the id is never accepted again. bulletins_retention: the purge pass
// reads only the bulletins old enough to be due, without reading their
// rows (whose ciphertext comes before accepted_at_ms).
constexpr const char* RetentionSql = R"sql(
CREATE TABLE expired_bulletins(
  bulletin_id    BLOB PRIMARY KEY CHECK (length(bulletin_id) = 16),
  sender_id      TEXT NOT NULL,
  tlp            INTEGER NOT NULL,
  accepted_at_ms INTEGER NOT NULL,
  purged_at_ms   INTEGER NOT NULL,
  acknowledged   INTEGER NOT NULL CHECK (acknowledged IN (0, 1))
) WITHOUT ROWID;
CREATE INDEX bulletins_retention ON bulletins(tlp, accepted_at_ms);
)sql";

// Version 8: the working group's meetings (PROTOCOL.md §12.8): the signed
// record, with the columns the hub reads without parsing it.
constexpr const char* MeetingsSql = R"sql(
CREATE TABLE meetings(
  id             BLOB PRIMARY KEY CHECK (length(id) = 16),
  secretariat_id TEXT NOT NULL,
  host_state     TEXT NOT NULL,
  date           TEXT NOT NULL,
  body           BLOB NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64),
  recorded_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// Version 9: the work programme (PROTOCOL.md §12.10). actions: one signed
// ActionItem with the sealed Bulletin of its text; the hub's view of it
// (owner, its state, end of the due day, status = wire::ActionStatus, the
// chain tip = BLAKE2b-256 of the item's or the last update's bytes) and
// the UTC day (days since the epoch) it was last reminded. action_updates:
// the signed updates in the order accepted (seq), each with its optional
// sealed note.
constexpr const char* ActionsSql = R"sql(
CREATE TABLE actions(
  id             BLOB PRIMARY KEY CHECK (length(id) = 16),
  author_id      TEXT NOT NULL,
  owner          TEXT NOT NULL,
  owner_state    TEXT NOT NULL,
  due_end_ms     INTEGER NOT NULL,
  meeting_id     BLOB,
  record_id      BLOB,
  status         INTEGER NOT NULL DEFAULT 0,
  tip            BLOB NOT NULL CHECK (length(tip) = 32),
  body           BLOB NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64),
  text_header    BLOB NOT NULL,
  text_signature BLOB NOT NULL CHECK (length(text_signature) = 64),
  text_ciphertext BLOB NOT NULL,
  reminded_day   INTEGER NOT NULL DEFAULT -1,
  recorded_at_ms INTEGER NOT NULL
);
CREATE INDEX actions_due ON actions(status, due_end_ms);
CREATE TABLE action_updates(
  seq            INTEGER PRIMARY KEY,
  action_id      BLOB NOT NULL REFERENCES actions(id),
  author_id      TEXT NOT NULL,
  body_hash      BLOB NOT NULL UNIQUE CHECK (length(body_hash) = 32),
  body           BLOB NOT NULL,
  signature      BLOB NOT NULL CHECK (length(signature) = 64),
  note_header    BLOB,
  note_signature BLOB,
  note_ciphertext BLOB,
  recorded_at_ms INTEGER NOT NULL
);
CREATE INDEX action_updates_item ON action_updates(action_id, seq);
)sql";

// Rebuilds the queue table as `version` had it, copying `columns` of
// every entry, each keeping its seq: a client's fetch cursor from before
// the upgrade still points where it did. The largest seq is the largest
// ever handed out (retention never deletes the newest), so new entries follow it.
void rebuildQueue(sqlite::Database& db, int version, const std::string& columns) {
  db.exec("DROP INDEX deliveries_queue; ALTER TABLE deliveries RENAME TO deliveries_old;");
  db.exec(queueSql(version).c_str());
  db.exec(("INSERT INTO deliveries(" + columns + ") SELECT " + columns + " FROM deliveries_old").c_str());
  db.exec("DROP TABLE deliveries_old");
}

constexpr const char* QueueV1Columns = "seq, bulletin_id, member_id, enc_key, queued_at_ms, delivered_at_ms, acked_at_ms";
// Version 2's: one constant, not `std::string(QueueV1Columns) + ...`, on
// which g++ 12 can warn falsely (GCC bug 105651: it did with a precompiled
// header) when it inlines the sum's move.
constexpr const char* QueueV2Columns =
    "seq, bulletin_id, member_id, enc_key, queued_at_ms, delivered_at_ms, acked_at_ms, forward_id, retraction";

// Version 1 -> 2: the working group's records, and the queue's forward and
// retraction columns (a new UNIQUE key, so the table is rebuilt).
void addWorkingGroupRecords(sqlite::Database& db) {
  db.exec(WorkingGroupSql);
  rebuildQueue(db, 2, QueueV1Columns);
}

// Version 2 -> 3: consensus procedures.
void addConsensus(sqlite::Database& db) { db.exec(ConsensusSql); }

// Version 3 -> 4: the queue without AUTOINCREMENT, indexed by pending entries only.
void leanQueue(sqlite::Database& db) {
  rebuildQueue(db, 4, QueueV2Columns);
}

// Version 4 -> 5: witnesses' cosignatures.
void addCosignatures(sqlite::Database& db) { db.exec(CosignaturesSql); }

// Version 5 -> 6: heads carried beside acks and decisions.
void addCarriedHeads(sqlite::Database& db) { db.exec(CarriedHeadsSql); }

// Version 6 -> 7: retention's tombstones and index.
void addRetention(sqlite::Database& db) { db.exec(RetentionSql); }
// Version 7 -> 8: meetings.
void addMeetings(sqlite::Database& db) { db.exec(MeetingsSql); }
// Version 8 -> 9: the work programme.
void addActions(sqlite::Database& db) { db.exec(ActionsSql); }

struct MigrationStep {
  int from;  // the step makes version from + 1
  void (*apply)(sqlite::Database&);
};

constexpr MigrationStep MigrationSteps[] = {
    {1, addWorkingGroupRecords},
    {2, addConsensus},
    {3, leanQueue},
    {4, addCosignatures},
    {5, addCarriedHeads},
    {6, addRetention},
    {7, addMeetings},
    {8, addActions},
};
static_assert(std::size(MigrationSteps) == Store::SchemaVersion - 1, "one migration step per schema version");

// Runs the steps that bring a database of version `from` to `to`, in the
// caller's transaction, recording each version reached.
void applySteps(sqlite::Database& db, int from, int to) {
  for (int v = from; v < to; ++v) {
    const MigrationStep& step = MigrationSteps[v - 1];
    if (step.from != v) throw std::logic_error("migration steps out of order");
    step.apply(db);
    db.setUserVersion(v + 1);
  }
}

}  // namespace

void Store::createSchema(sqlite::Database& db, int version) {
  if (db.userVersion() != 0) throw std::runtime_error("the database already has a schema");
  if (version < 1 || version > SchemaVersion) throw std::invalid_argument("no schema version " + std::to_string(version));
  sqlite::Transaction t(db);
  if (version == SchemaVersion) {
    db.exec(SchemaSql);
    db.exec(WorkingGroupSql);
    db.exec(queueSql(SchemaVersion).c_str());
    db.exec(ConsensusSql);
    db.exec(CosignaturesSql);
    db.exec(CarriedHeadsSql);
    db.exec(RetentionSql);
    db.exec(MeetingsSql);
    db.exec(ActionsSql);
    db.setUserVersion(SchemaVersion);
  } else {
    db.exec(SchemaSql);
    db.exec(queueSql(1).c_str());
    db.setUserVersion(1);
    applySteps(db, 1, version);
  }
  t.commit();
}

bool Store::migrate(sqlite::Database& db, int toVersion) {
  const int from = db.userVersion();
  toVersion = std::min(toVersion, SchemaVersion);
  if (from < 1 || from >= toVersion) return false;
  sqlite::Transaction t(db);
  applySteps(db, from, toVersion);
  t.commit();
  return true;
}

void Store::checkSchema(sqlite::Database& db) {
  const int v = db.userVersion();
  if (v == SchemaVersion) return;
  std::string why = "database schema version " + std::to_string(v) + " is not the supported version " +
                    std::to_string(SchemaVersion);
  if (v > SchemaVersion) {
    why += ": a newer focald wrote it, and this one does not downgrade a database; run the newer focald";
  } else if (v < 1) {
    why += ": not a hub database (focald init makes one)";
  } else {
    why += ": focald run upgrades it";
  }
  throw std::runtime_error(why);
}

void Store::configureProcess() { (void)sqlite::configureProcess(); }

bool Store::migrateFile(const std::filesystem::path& dbPath) {
  auto db = sqlite::Database::open(dbPath, sqlite::Database::Mode::ReadWrite);
  return migrate(db);
}

void Store::checkSchemaFile(const std::filesystem::path& dbPath) {
  auto db = sqlite::Database::open(dbPath, sqlite::Database::Mode::ReadOnly);
  checkSchema(db);
}

Store Store::openReader(const std::filesystem::path& dbPath) {
  Store store(sqlite::Database::open(dbPath, sqlite::Database::Mode::ReadOnly));
  checkSchema(store.database());
  return store;
}

}  // namespace focal::server

// Retention (focal.toml [retention], server/retention.hpp): the bulletins
// the policy says are due, purged in bounded batches on the writer's
// connection with everything tied to them, a tombstone kept per id
// (expired_bulletins, so `status` answers expired and the id is never
// accepted again), and one audit row per batch with counts only.
//
// Never purged: the directory log, the audit trail, signed acks (proof of
// receipt; they name ids, hold no content), proposals and decisions, and a
// summary record whose silence procedure is still open (pending or
// objected: it can still be approved or revised).
#include "server/store.hpp"
#include "server/store_internal.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <set>

namespace focal::server {

using namespace store_detail;

namespace {

constexpr std::int64_t DayMs = 24ll * 60 * 60 * 1000;

struct Due {
  crypto::Bytes id;
  std::size_t level = 0;  // index into RetentionPolicy::rules
  std::int64_t acceptedAtMs = 0;
  bool acknowledged = false;
};

struct FreedBlob {
  std::int64_t id = 0;
  std::uint64_t size = 0;
  std::size_t level = 0;
};

// The bulletins due under `policy` at `nowMs`, oldest first per level, at
// most `limit` (more = true when there were more). Uses the index
// bulletins_retention (tlp, accepted_at_ms), so only bulletins older than
// the level's shorter limit are read.
std::vector<Due> selectDue(sqlite::Database& db, const RetentionPolicy& policy, std::int64_t nowMs, std::size_t limit,
                           bool& more) {
  std::vector<Due> out;
  more = false;
  // SECURITY/queue: a new entry's seq is max(seq) + 1 (schema v4), and
  // `focal listen` fetches after the last seq it saw; deleting the newest
  // entry would hand its seq out again, and that reader would skip the new
  // entry. So the bulletin holding the newest entry waits until a newer
  // entry is queued (normally the next bulletin).
  std::int64_t newestSeq = -1;
  {
    auto s = db.prepare("SELECT max(seq) FROM deliveries");
    if (s->step() && !s->columnIsNull(0)) newestSeq = s->columnInt(0);
  }
  for (std::size_t level = 0; level < RetentionPolicy::Levels; ++level) {
    const RetentionRule& rule = policy.rules[level];
    const std::int64_t ackMs = std::int64_t{rule.acknowledgedDays} * DayMs;
    const std::int64_t unackMs = std::int64_t{rule.unacknowledgedDays} * DayMs;
    if (ackMs == 0 && unackMs == 0) continue;
    const std::int64_t shortest = ackMs == 0 ? unackMs : unackMs == 0 ? ackMs : std::min(ackMs, unackMs);
    auto s = db.prepare(
        "SELECT b.id, b.accepted_at_ms, "
        "NOT EXISTS(SELECT 1 FROM deliveries d WHERE d.bulletin_id = b.id AND d.retraction = 0 "
        "AND d.acked_at_ms IS NULL), "
        "EXISTS(SELECT 1 FROM summary_records r WHERE r.bulletin_id = b.id AND r.state IN (?3, ?4)) "
        "OR EXISTS(SELECT 1 FROM deliveries d WHERE d.seq = ?5 AND d.bulletin_id = b.id) "
        "FROM bulletins b WHERE b.tlp = ?1 AND b.accepted_at_ms <= ?2 ORDER BY b.accepted_at_ms");
    s->bind(1, static_cast<std::int64_t>(level + 1)).bind(2, nowMs - shortest).bind(3, RecordPending).bind(4, RecordObjected);
    s->bind(5, newestSeq);
    while (s->step()) {
      if (s->columnInt(3) != 0) continue;  // an open procedure, or the newest queue entry
      const std::int64_t accepted = s->columnInt(1);
      const bool acknowledged = s->columnInt(2) != 0;
      const std::int64_t limitMs = acknowledged ? ackMs : unackMs;
      if (limitMs == 0 || accepted > nowMs - limitMs) continue;
      if (out.size() == limit) {
        more = true;
        return out;
      }
      out.push_back(Due{s->columnBlob(0), level, accepted, acknowledged});
    }
  }
  return out;
}

// The blobs that no bulletin outside `due` refers to: they go with them.
std::vector<FreedBlob> blobsFreedBy(sqlite::Database& db, const std::vector<Due>& due) {
  std::set<crypto::Bytes> ids;
  for (const auto& d : due) ids.insert(d.id);
  std::map<std::int64_t, std::size_t> candidates;  // blob id -> level of the first bulletin
  for (const auto& d : due) {
    auto s = db.prepare("SELECT blob_id FROM bulletin_blobs WHERE bulletin_id = ?1");
    s->bind(1, crypto::ByteView(d.id));
    while (s->step()) candidates.emplace(s->columnInt(0), d.level);
  }
  std::vector<FreedBlob> out;
  for (const auto& [blobId, level] : candidates) {
    bool shared = false;
    {
      auto s = db.prepare("SELECT DISTINCT bulletin_id FROM bulletin_blobs WHERE blob_id = ?1");
      s->bind(1, blobId);
      while (s->step() && !shared) shared = !ids.contains(s->columnBlob(0));
    }
    if (shared) continue;
    auto s = db.prepare("SELECT size FROM blobs WHERE id = ?1");
    s->bind(1, blobId);
    if (s->step()) out.push_back(FreedBlob{blobId, u64(s->columnInt(0)), level});
  }
  return out;
}

RetentionTally tally(const std::vector<Due>& due, const std::vector<FreedBlob>& blobs, bool more) {
  RetentionTally t;
  t.more = more;
  for (const auto& d : due) {
    auto& l = t.levels[d.level];
    ++l.bulletins;
    if (d.acknowledged) ++l.acknowledged;
    if (l.oldestAcceptedMs == 0 || d.acceptedAtMs < l.oldestAcceptedMs) l.oldestAcceptedMs = d.acceptedAtMs;
  }
  for (const auto& b : blobs) t.levels[b.level].attachmentBytes += b.size;
  t.blobs = blobs.size();
  return t;
}

void run(sqlite::Database& db, const char* sql, crypto::ByteView id) {
  auto s = db.prepare(sql);
  s->bind(1, id);
  s->run();
}

// Everything stored for one bulletin, children before parents (foreign
// keys are on), and its tombstone.
void purgeOne(sqlite::Database& db, const Due& d, std::int64_t nowMs) {
  const crypto::ByteView id(d.id);
  {
    auto s = db.prepare(
        "INSERT INTO expired_bulletins(bulletin_id, sender_id, tlp, accepted_at_ms, purged_at_ms, acknowledged) "
        "SELECT id, sender_id, tlp, accepted_at_ms, ?2, ?3 FROM bulletins WHERE id = ?1");
    s->bind(1, id).bind(2, nowMs).bind(3, std::int64_t{d.acknowledged ? 1 : 0});
    s->run();
  }
  run(db, "DELETE FROM deliveries WHERE bulletin_id = ?1", id);
  run(db, "DELETE FROM ack_heads WHERE bulletin_id = ?1", id);
  run(db, "DELETE FROM bulletin_blobs WHERE bulletin_id = ?1", id);
  run(db, "DELETE FROM forwards WHERE bulletin_id = ?1", id);
  run(db, "DELETE FROM permissions WHERE bulletin_id = ?1", id);
  run(db, "DELETE FROM retractions WHERE bulletin_id = ?1", id);
  run(db, "DELETE FROM comments WHERE bulletin_id = ?1", id);
  run(db, "DELETE FROM summary_records WHERE bulletin_id = ?1", id);
  run(db, "DELETE FROM bulletins WHERE id = ?1", id);
}

std::string auditDetail(const RetentionTally& t) {
  std::string out;
  for (std::size_t i = 0; i < RetentionPolicy::Levels; ++i) {
    out += fmt::format("{}={} ", RetentionPolicy::LevelNames[i], t.levels[i].bulletins);
  }
  std::uint64_t acknowledged = 0;
  std::uint64_t bytes = 0;
  for (const auto& l : t.levels) {
    acknowledged += l.acknowledged;
    bytes += l.attachmentBytes;
  }
  return out + fmt::format("acknowledged={} attachments={} attachment_bytes={}", acknowledged, t.blobs, bytes);
}

}  // namespace

RetentionTally Store::retentionDue(sqlite::Database& db, const RetentionPolicy& policy, std::int64_t nowMs) {
  bool more = false;
  const auto due = selectDue(db, policy, nowMs, std::numeric_limits<std::size_t>::max(), more);
  return tally(due, blobsFreedBy(db, due), false);
}

RetentionTally Store::purgeExpired(sqlite::Database& db, const RetentionPolicy& policy, std::int64_t nowMs,
                                   std::size_t maxBulletins) {
  bool more = false;
  auto due = selectDue(db, policy, nowMs, std::max<std::size_t>(maxBulletins, 1), more);
  if (due.empty()) return RetentionTally{};
  auto blobs = blobsFreedBy(db, due);
  // Bounded in bytes too: deleting a GiB of chunks is a long write. The
  // first bulletin always goes (else a huge one would never).
  std::uint64_t bytes = 0;
  std::size_t keep = 0;
  for (; keep < due.size(); ++keep) {
    std::uint64_t mine = 0;
    for (const auto& b : blobs) {
      auto s = db.prepare("SELECT 1 FROM bulletin_blobs WHERE blob_id = ?1 AND bulletin_id = ?2");
      s->bind(1, b.id).bind(2, crypto::ByteView(due[keep].id));
      if (s->step()) mine += b.size;
    }
    if (keep > 0 && bytes + mine > MaxPurgeBatchBytes) break;
    bytes += mine;
  }
  if (keep < due.size()) {
    due.resize(keep);
    more = true;
    blobs = blobsFreedBy(db, due);
  }
  for (const auto& d : due) purgeOne(db, d, nowMs);
  for (const auto& b : blobs) {
    auto s = db.prepare("DELETE FROM blob_chunks WHERE blob_id = ?1");
    s->bind(1, b.id);
    s->run();
    auto r = db.prepare("DELETE FROM blobs WHERE id = ?1");
    r->bind(1, b.id);
    r->run();
  }
  auto t = tally(due, blobs, more);
  AuditRecord record;
  record.timeMs = nowMs;
  record.event = RetentionAuditEvent;
  record.actor = "hub";
  record.detail = auditDetail(t);
  if (auto a = appendAudit(db, record); !a) throw std::runtime_error("audit of a purge failed: " + a.error().message);
  return t;
}

std::optional<ExpiredBulletin> Store::expiredBulletin(sqlite::Database& db, const crypto::BulletinId& id) {
  // A database before version 7 has no tombstones (the migration tests fill
  // older versions with this code; focald itself runs only on the current).
  if (db.userVersion() < 7) return std::nullopt;
  auto s = db.prepare(
      "SELECT sender_id, tlp, accepted_at_ms, purged_at_ms, acknowledged FROM expired_bulletins WHERE bulletin_id = ?1");
  s->bind(1, id.view());
  if (!s->step()) return std::nullopt;
  return ExpiredBulletin{s->columnText(0), s->columnInt(1), s->columnInt(2), s->columnInt(3), s->columnInt(4) != 0};
}

}  // namespace focal::server

// The working-group records of the store: forwards (which queue the
// bulletin for new recipients), originators' permissions, and retractions
// (which queue an announcement to everyone the bulletin reached)
// (store::StoreForward, GrantPermission, StoreRetraction).
#include "server/store.hpp"
#include "server/store_internal.hpp"
#include <string>

namespace focal::server {

using namespace store_detail;

namespace {

// A record about a bulletin retention purged while the request was on its
// way to the writer (the service checked it on the read connection).
std::optional<HubError> purgedMeanwhile(sqlite::Database& db, const crypto::BulletinId& id) {
  if (!Store::expiredBulletin(db, id)) return std::nullopt;
  return HubError{wire::ErrorCode::EXPIRED,
                  "bulletin " + crypto::toHex(id) + " was purged under the hub's retention policy", 0};
}

}  // namespace

Result<RecordOutcome> Store::insertForward(sqlite::Database& db, const NewForward& f) {
  auto duplicate = [&] { return "forward " + crypto::toHex(f.forwardId) + " exists with other bytes"; };
  if (auto again = storedAgain(db,
                               "SELECT body, signature, recorded_at_ms FROM forwards WHERE id = ?1",
                               f.forwardId.view(), std::nullopt, f.record, duplicate)) {
    return std::move(*again);
  }
  if (auto gone = purgedMeanwhile(db, f.bulletinId)) return fail(std::move(*gone));
  {
    // Checked here, in the writer's transaction, and not only on the read
    // connection before the job was queued: a retraction committed in
    // between would otherwise be followed by this forward, whose
    // recipients the retraction's fan-out (computed in its own
    // transaction) did not include. With the check here every forward is
    // either committed before the retraction (and reached by it) or
    // refused (PROTOCOL.md §12.1 step 9, §12.3).
    auto s = db.prepare("SELECT 1 FROM retractions WHERE bulletin_id = ?1");
    s->bind(1, f.bulletinId.view());
    if (s->step()) {
      return fail(wire::ErrorCode::POLICY_DENIED, "retraction rule: bulletin " + crypto::toHex(f.bulletinId) +
                                                      " was retracted by its sender; it may not be forwarded");
    }
  }
  // Members who already hold the bulletin (its sender, its recipients, and
  // members it reached through an earlier forward) are not queued again
  // (PROTOCOL.md §12.1 step 14): a group address must resolve to all of its
  // members (the exact-match rule), and a group often overlaps the original
  // recipients and can include the original sender. Only a forward that
  // reaches nobody new is refused.
  std::vector<const NewBulletin::Recipient*> fresh;
  for (const auto& r : f.recipients) {
    auto s = db.prepare(
        "SELECT 1 FROM deliveries WHERE bulletin_id = ?1 AND member_id = ?2 AND retraction = 0 "
        "UNION ALL SELECT 1 FROM bulletins WHERE id = ?1 AND sender_id = ?2");
    s->bind(1, f.bulletinId.view()).bind(2, r.memberId);
    if (!s->step()) fresh.push_back(&r);
  }
  if (fresh.empty()) {
    return fail(wire::ErrorCode::INVALID_REQUEST, "every recipient of this forward already received the bulletin or sent it (" +
                                                      f.recipients.front().memberId +
                                                      (f.recipients.size() > 1 ? ", ..." : "") + ")");
  }
  {
    auto s = db.prepare(
        "INSERT INTO forwards(id, bulletin_id, forwarder_id, body, signature, recorded_at_ms) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    s->bind(1, f.forwardId.view())
        .bind(2, f.bulletinId.view())
        .bind(3, f.forwarderId)
        .bind(4, f.record.body)
        .bind(5, f.record.signature)
        .bind(6, f.recordedAtMs);
    s->run();
  }
  RecordOutcome out;
  out.recordedAtMs = f.recordedAtMs;
  for (const auto* r : fresh) {
    auto s = db.prepare(
        "INSERT INTO deliveries(bulletin_id, member_id, enc_key, queued_at_ms, forward_id) VALUES(?1, ?2, ?3, ?4, ?5)");
    s->bind(1, f.bulletinId.view())
        .bind(2, r->memberId)
        .bind(3, r->encryptionKey.view())
        .bind(4, f.recordedAtMs)
        .bind(5, f.forwardId.view());
    s->run();
    out.queued.push_back(QueuedDelivery{r->memberId, db.lastInsertRowid()});
  }
  return out;
}

void Store::insertPermission(sqlite::Database& db, const crypto::BulletinId& bulletinId,
                             const std::vector<std::string>& grantees, const StoredRecord& record, std::int64_t nowMs) {
  for (const auto& g : grantees) {
    auto s = db.prepare(
        "INSERT OR REPLACE INTO permissions(bulletin_id, member_id, body, signature, recorded_at_ms) "
        "VALUES(?1, ?2, ?3, ?4, ?5)");
    s->bind(1, bulletinId.view()).bind(2, g).bind(3, record.body).bind(4, record.signature).bind(5, nowMs);
    s->run();
  }
}

Result<RecordOutcome> Store::insertRetraction(sqlite::Database& db, const NewRetraction& r) {
  auto duplicate = [&] { return "bulletin " + crypto::toHex(r.bulletinId) + " is already retracted"; };
  if (auto again = storedAgain(db,
                               "SELECT body, signature, recorded_at_ms FROM retractions WHERE bulletin_id = ?1",
                               r.bulletinId.view(), std::nullopt, r.record, duplicate)) {
    return std::move(*again);
  }
  if (auto gone = purgedMeanwhile(db, r.bulletinId)) return fail(std::move(*gone));
  {
    auto s = db.prepare("INSERT INTO retractions(bulletin_id, body, signature, recorded_at_ms) VALUES(?1, ?2, ?3, ?4)");
    s->bind(1, r.bulletinId.view()).bind(2, r.record.body).bind(3, r.record.signature).bind(4, r.recordedAtMs);
    s->run();
  }
  {
    // Retracting a summary record whose procedure is open withdraws it. An
    // approved record stays approved: its log entry is permanent.
    auto s = db.prepare("UPDATE summary_records SET state = ?2, closed_at_ms = ?3 "
                        "WHERE bulletin_id = ?1 AND state IN (?4, ?5)");
    s->bind(1, r.bulletinId.view()).bind(2, RecordWithdrawn).bind(3, r.recordedAtMs).bind(4, RecordPending).bind(5, RecordObjected);
    s->run();
  }
  std::vector<std::string> members;
  {
    auto s = db.prepare(
        "INSERT INTO deliveries(bulletin_id, member_id, enc_key, queued_at_ms, forward_id, retraction) "
        "SELECT bulletin_id, member_id, enc_key, ?2, forward_id, 1 FROM deliveries "
        "WHERE bulletin_id = ?1 AND retraction = 0 ORDER BY seq");
    s->bind(1, r.bulletinId.view()).bind(2, r.recordedAtMs);
    s->run();
  }
  RecordOutcome out;
  out.recordedAtMs = r.recordedAtMs;
  auto s = db.prepare("SELECT member_id, seq FROM deliveries WHERE bulletin_id = ?1 AND retraction = 1 ORDER BY seq");
  s->bind(1, r.bulletinId.view());
  while (s->step()) out.queued.push_back(QueuedDelivery{s->columnText(0), s->columnInt(1)});
  return out;
}

// ---- reads ------------------------------------------------------------------------

std::optional<bool> Store::heldThroughForward(std::string_view memberId, const crypto::BulletinId& id) {
  auto s = db_.prepare(
      "SELECT forward_id IS NOT NULL FROM deliveries WHERE bulletin_id = ?1 AND member_id = ?2 AND retraction = 0");
  s->bind(1, id.view()).bind(2, memberId);
  if (!s->step()) return std::nullopt;
  return s->columnInt(0) != 0;
}

bool Store::hasPermission(std::string_view memberId, const crypto::BulletinId& id) {
  auto s = db_.prepare("SELECT 1 FROM permissions WHERE bulletin_id = ?1 AND member_id = ?2");
  s->bind(1, id.view()).bind(2, memberId);
  return s->step();
}

std::optional<StoredRecord> Store::forwardRecord(const crypto::BulletinId& forwardId) {
  auto s = db_.prepare("SELECT body, signature FROM forwards WHERE id = ?1");
  s->bind(1, forwardId.view());
  if (!s->step()) return std::nullopt;
  return StoredRecord{s->columnBlob(0), s->columnBlob(1)};
}

}  // namespace focal::server

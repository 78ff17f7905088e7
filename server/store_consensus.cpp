// The consensus procedures of the store: summary records' silence
// procedure (comments, objection, approval with its log entry) and
// proposals with their decisions and adoption (store::StoreComment,
// ApproveRecord, StoreProposal, StoreDecision, AdoptProposal).
#include "server/store.hpp"
#include "server/store_internal.hpp"
#include <string>

namespace focal::server {

using namespace store_detail;

Result<RecordOutcome> Store::insertComment(sqlite::Database& db, const NewComment& c) {
  auto duplicate = [&] { return c.memberId + " already commented on summary record " + crypto::toHex(c.recordId); };
  if (auto again = storedAgain(db,
                               "SELECT body, signature, recorded_at_ms FROM comments"
                               " WHERE bulletin_id = ?1 AND member_id = ?2",
                               c.recordId.view(), c.memberId, c.record, duplicate)) {
    return std::move(*again);
  }
  {
    // The window is judged again inside the transaction: the silence
    // procedure may have closed the record since the request was checked.
    auto s = db.prepare("SELECT state FROM summary_records WHERE bulletin_id = ?1");
    s->bind(1, c.recordId.view());
    if (!s->step()) return fail(wire::ErrorCode::INVALID_REQUEST, "not a summary record");
    const auto state = s->columnInt(0);
    if (state != RecordPending && state != RecordObjected) {
      return fail(wire::ErrorCode::POLICY_DENIED, "silence procedure rule: the record's procedure is closed");
    }
  }
  {
    auto s = db.prepare(
        "INSERT INTO comments(bulletin_id, member_id, objection, body, signature, recorded_at_ms) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    s->bind(1, c.recordId.view())
        .bind(2, c.memberId)
        .bind(3, std::int64_t{c.objection ? 1 : 0})
        .bind(4, c.record.body)
        .bind(5, c.record.signature)
        .bind(6, c.recordedAtMs);
    s->run();
  }
  if (c.objection) {
    auto s = db.prepare("UPDATE summary_records SET state = ?2 WHERE bulletin_id = ?1 AND state = ?3");
    s->bind(1, c.recordId.view()).bind(2, RecordObjected).bind(3, RecordPending);
    s->run();
  }
  return RecordOutcome{c.recordedAtMs, false, {}};
}

Result<Ok> Store::approveRecord(sqlite::Database& db, const crypto::BulletinId& recordId, const StoredLogEntry& entry,
                                const StoredHead& head) {
  {
    auto s = db.prepare("SELECT state FROM summary_records WHERE bulletin_id = ?1");
    s->bind(1, recordId.view());
    if (!s->step() || s->columnInt(0) != RecordPending) {
      // An objection, a revision or a withdrawal committed first.
      return fail(wire::ErrorCode::POLICY_DENIED, "the record is no longer pending");
    }
  }
  if (auto ok = appendLogEntry(db, entry, head); !ok) return ok;
  auto s = db.prepare("UPDATE summary_records SET state = ?2, outcome_index = ?3, closed_at_ms = ?4 WHERE bulletin_id = ?1");
  s->bind(1, recordId.view()).bind(2, RecordApprovedState).bind(3, i64(entry.index)).bind(4, entry.recordedAtMs);
  s->run();
  return Ok{};
}

Result<RecordOutcome> Store::insertProposal(sqlite::Database& db, const crypto::BulletinId& id,
                                           std::string_view proposerId, const StoredRecord& record,
                                           std::int64_t expiresAtMs, std::int64_t nowMs) {
  auto duplicate = [&] { return "proposal " + crypto::toHex(id) + " already exists"; };
  if (auto again = storedAgain(db,
                               "SELECT body, signature, recorded_at_ms FROM proposals WHERE id = ?1",
                               id.view(), std::nullopt, record, duplicate)) {
    return std::move(*again);
  }
  auto s = db.prepare(
      "INSERT INTO proposals(id, proposer_id, body, signature, expires_at_ms, state, recorded_at_ms) "
      "VALUES(?1, ?2, ?3, ?4, ?5, 0, ?6)");
  s->bind(1, id.view()).bind(2, proposerId).bind(3, record.body).bind(4, record.signature).bind(5, expiresAtMs).bind(6, nowMs);
  s->run();
  return RecordOutcome{nowMs, false, {}};
}

Result<RecordOutcome> Store::insertDecision(sqlite::Database& db, const crypto::BulletinId& proposalId,
                                           std::string_view memberId, bool approve, const StoredRecord& record,
                                           crypto::ByteView sealedHead, std::int64_t nowMs) {
  auto duplicate = [&] { return std::string(memberId) + " already decided on this proposal"; };
  if (auto again = storedAgain(db,
                               "SELECT body, signature, recorded_at_ms FROM decisions"
                               " WHERE proposal_id = ?1 AND member_id = ?2",
                               proposalId.view(), memberId, record, duplicate)) {
    return std::move(*again);
  }
  {
    auto s = db.prepare("SELECT state FROM proposals WHERE id = ?1");
    s->bind(1, proposalId.view());
    if (!s->step()) return fail(wire::ErrorCode::NOT_FOUND, "no such proposal");
    if (s->columnInt(0) != static_cast<std::int64_t>(wire::ProposalState::OPEN)) {
      return fail(wire::ErrorCode::POLICY_DENIED, "consensus rule: the proposal is closed");
    }
  }
  {
    auto s = db.prepare(
        "INSERT INTO decisions(proposal_id, member_id, approve, body, signature, recorded_at_ms) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    s->bind(1, proposalId.view())
        .bind(2, memberId)
        .bind(3, std::int64_t{approve ? 1 : 0})
        .bind(4, record.body)
        .bind(5, record.signature)
        .bind(6, nowMs);
    s->run();
  }
  if (!sealedHead.empty()) {
    auto s = db.prepare("INSERT OR IGNORE INTO decision_heads(proposal_id, member_id, sealed) VALUES(?1, ?2, ?3)");
    s->bind(1, proposalId.view()).bind(2, memberId).bind(3, sealedHead);
    s->run();
  }
  if (!approve) {
    auto s = db.prepare("UPDATE proposals SET state = ?2 WHERE id = ?1");
    s->bind(1, proposalId.view()).bind(2, static_cast<std::int64_t>(wire::ProposalState::REJECTED));
    s->run();
  }
  return RecordOutcome{nowMs, false, {}};
}

Result<Ok> Store::adoptProposal(sqlite::Database& db, const crypto::BulletinId& proposalId, const StoredLogEntry& entry,
                                const StoredHead& head) {
  {
    auto s = db.prepare("SELECT state FROM proposals WHERE id = ?1");
    s->bind(1, proposalId.view());
    if (!s->step() || s->columnInt(0) != static_cast<std::int64_t>(wire::ProposalState::OPEN)) {
      return fail(wire::ErrorCode::POLICY_DENIED, "consensus rule: the proposal is closed");
    }
  }
  if (auto ok = appendLogEntry(db, entry, head); !ok) return ok;
  auto s = db.prepare("UPDATE proposals SET state = ?2, outcome_index = ?3 WHERE id = ?1");
  s->bind(1, proposalId.view()).bind(2, static_cast<std::int64_t>(wire::ProposalState::ADOPTED)).bind(3, i64(entry.index));
  s->run();
  return Ok{};
}

// ---- reads ------------------------------------------------------------------------

std::optional<SummaryRecordRow> Store::summaryRecord(const crypto::BulletinId& id) {
  SummaryRecordRow row;
  {
    auto s = db_.prepare(
        "SELECT sr.sender_id, sr.deadline_ms, sr.state, sr.outcome_index, b.header FROM summary_records sr "
        "JOIN bulletins b ON b.id = sr.bulletin_id WHERE sr.bulletin_id = ?1");
    s->bind(1, id.view());
    if (!s->step()) return std::nullopt;
    row.id = id;
    row.senderId = s->columnText(0);
    row.deadlineMs = s->columnInt(1);
    row.state = static_cast<wire::RecordState>(s->columnInt(2));
    row.outcomeIndex = u64(s->columnInt(3));
    row.header = s->columnBlob(4);
  }
  {
    auto s = db_.prepare(
        "SELECT member_id, objection, body, signature FROM comments WHERE bulletin_id = ?1 ORDER BY member_id");
    s->bind(1, id.view());
    while (s->step()) {
      row.comments.push_back(SummaryRecordRow::CommentRow{s->columnText(0), s->columnInt(1) != 0,
                                                          StoredRecord{s->columnBlob(2), s->columnBlob(3)}});
    }
  }
  {
    // Original recipients who acknowledged the record (a forward recipient
    // is not a party to the procedure).
    auto s = db_.prepare(
        "SELECT member_id FROM deliveries WHERE bulletin_id = ?1 AND retraction = 0 AND forward_id IS NULL "
        "AND acked_at_ms IS NOT NULL ORDER BY member_id");
    s->bind(1, id.view());
    while (s->step()) row.acknowledgedBy.push_back(s->columnText(0));
  }
  return row;
}

namespace {

ProposalRow proposalRow(sqlite::Database& db, sqlite::Statement& s) {
  ProposalRow row;
  row.id = fixedColumn<crypto::BulletinId>(s, 0, "proposal id");
  row.proposerId = s.columnText(1);
  row.record = StoredRecord{s.columnBlob(2), s.columnBlob(3)};
  row.expiresAtMs = s.columnInt(4);
  row.state = static_cast<wire::ProposalState>(s.columnInt(5));
  row.outcomeIndex = u64(s.columnInt(6));
  auto d = db.prepare(
      "SELECT d.member_id, d.approve, d.body, d.signature, h.sealed FROM decisions d LEFT JOIN decision_heads h "
      "ON h.proposal_id = d.proposal_id AND h.member_id = d.member_id WHERE d.proposal_id = ?1 ORDER BY d.member_id");
  d->bind(1, row.id.view());
  while (d->step()) {
    row.decisions.push_back(ProposalRow::DecisionRow{d->columnText(0), d->columnInt(1) != 0,
                                                     StoredRecord{d->columnBlob(2), d->columnBlob(3)},
                                                     d->columnIsNull(4) ? crypto::Bytes{} : d->columnBlob(4)});
  }
  return row;
}

}  // namespace

std::optional<ProposalRow> Store::proposal(const crypto::BulletinId& id) {
  auto s = db_.prepare(
      "SELECT id, proposer_id, body, signature, expires_at_ms, state, outcome_index FROM proposals WHERE id = ?1");
  s->bind(1, id.view());
  if (!s->step()) return std::nullopt;
  return proposalRow(db_, *s);
}

std::vector<ProposalRow> Store::proposals(std::size_t limit) {
  std::vector<ProposalRow> out;
  auto s = db_.prepare(
      "SELECT id, proposer_id, body, signature, expires_at_ms, state, outcome_index FROM proposals "
      "ORDER BY recorded_at_ms DESC, id LIMIT ?1");
  s->bind(1, static_cast<std::int64_t>(limit));
  while (s->step()) out.push_back(proposalRow(db_, *s));
  return out;
}

std::vector<crypto::BulletinId> Store::dueRecords(std::int64_t nowMs, std::size_t limit) {
  std::vector<crypto::BulletinId> out;
  auto s = db_.prepare(
      "SELECT bulletin_id FROM summary_records WHERE state = ?1 AND deadline_ms <= ?2 ORDER BY deadline_ms LIMIT ?3");
  s->bind(1, RecordPending).bind(2, nowMs).bind(3, static_cast<std::int64_t>(limit));
  while (s->step()) out.push_back(fixedColumn<crypto::BulletinId>(*s, 0, "bulletin id"));
  return out;
}

}  // namespace focal::server

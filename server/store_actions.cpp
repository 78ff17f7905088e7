// The work programme in the store (PROTOCOL.md §12.10): action items, their
// update chains, and the reminder marks (store::StoreAction,
// StoreActionUpdate, MarkActionsReminded; reads for `actions` and the
// reminder task).
#include "server/store.hpp"
#include "server/store_internal.hpp"

#include "crypto/primitives.hpp"

namespace focal::server {

using namespace store_detail;

namespace {

constexpr std::int64_t StatusOpen = static_cast<std::int64_t>(wire::ActionStatus::OPEN);
constexpr std::int64_t StatusInProgress = static_cast<std::int64_t>(wire::ActionStatus::IN_PROGRESS);

void bindOptionalId(sqlite::Statement& s, int index, const std::optional<crypto::BulletinId>& id) {
  if (id) {
    s.bind(index, id->view());
  } else {
    s.bindNull(index);
  }
}

SealedText sealedColumns(sqlite::Statement& s, int first) {
  if (s.columnIsNull(first)) return {};
  return SealedText{s.columnBlob(first), s.columnBlob(first + 1), s.columnBlob(first + 2)};
}

}  // namespace

Result<RecordOutcome> Store::insertAction(sqlite::Database& db, const NewAction& a) {
  auto duplicate = [&] { return "action item " + crypto::toHex(a.id) + " exists with other bytes"; };
  if (auto again = storedAgain(db, "SELECT body, signature, recorded_at_ms FROM actions WHERE id = ?1", a.id.view(),
                               std::nullopt, a.record, duplicate)) {
    return std::move(*again);
  }
  auto s = db.prepare(
      "INSERT INTO actions(id, author_id, owner, owner_state, due_end_ms, meeting_id, record_id, status, tip, body, "
      "signature, text_header, text_signature, text_ciphertext, recorded_at_ms) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
  const auto tip = crypto::hash256(crypto::ByteView(a.record.body));
  s->bind(1, a.id.view()).bind(2, a.authorId).bind(3, a.owner).bind(4, a.ownerState).bind(5, a.dueEndMs);
  bindOptionalId(*s, 6, a.meetingId);
  bindOptionalId(*s, 7, a.recordId);
  s->bind(8, StatusOpen)
      .bind(9, tip.view())
      .bind(10, a.record.body)
      .bind(11, a.record.signature)
      .bind(12, a.text.header)
      .bind(13, a.text.signature)
      .bind(14, a.text.ciphertext)
      .bind(15, a.recordedAtMs);
  s->run();
  return RecordOutcome{a.recordedAtMs, false, {}};
}

Result<RecordOutcome> Store::insertActionUpdate(sqlite::Database& db, const NewActionUpdate& u) {
  {
    auto s = db.prepare("SELECT body, signature, recorded_at_ms FROM action_updates WHERE body_hash = ?1");
    s->bind(1, u.bodyHash.view());
    if (s->step()) {
      if (sameBytes(s->columnBlobView(0), u.record.body) && sameBytes(s->columnBlobView(1), u.record.signature)) {
        return RecordOutcome{s->columnInt(2), true, {}};
      }
      return fail(wire::ErrorCode::DUPLICATE, "this action update exists with another signature");
    }
  }
  {
    // The chain is judged again here, in the writer's transaction: another
    // update may have committed since the request was checked.
    auto s = db.prepare("SELECT tip FROM actions WHERE id = ?1");
    s->bind(1, u.actionId.view());
    if (!s->step()) return fail(wire::ErrorCode::NOT_FOUND, "no action item " + crypto::toHex(u.actionId));
    if (!sameBytes(s->columnBlobView(0), u.previous.view())) {
      return fail(wire::ErrorCode::INVALID_REQUEST,
                  "action item " + crypto::toHex(u.actionId) +
                      " was updated meanwhile: the update's previous is not its latest record (list it again and retry)");
    }
  }
  {
    auto s = db.prepare(
        "INSERT INTO action_updates(action_id, author_id, body_hash, body, signature, note_header, note_signature, "
        "note_ciphertext, recorded_at_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    s->bind(1, u.actionId.view()).bind(2, u.authorId).bind(3, u.bodyHash.view()).bind(4, u.record.body);
    s->bind(5, u.record.signature);
    if (u.note.empty()) {
      s->bindNull(6).bindNull(7).bindNull(8);
    } else {
      s->bind(6, u.note.header).bind(7, u.note.signature).bind(8, u.note.ciphertext);
    }
    s->bind(9, u.recordedAtMs);
    s->run();
  }
  auto s = db.prepare("UPDATE actions SET status = ?2, tip = ?3 WHERE id = ?1");
  s->bind(1, u.actionId.view()).bind(2, static_cast<std::int64_t>(u.status)).bind(3, u.bodyHash.view());
  s->run();
  return RecordOutcome{u.recordedAtMs, false, {}};
}

void Store::markActionsReminded(sqlite::Database& db, const std::vector<crypto::BulletinId>& ids, std::int64_t day) {
  auto s = db.prepare("UPDATE actions SET reminded_day = ?2 WHERE id = ?1");
  for (const auto& id : ids) {
    s->reset();
    s->bind(1, id.view()).bind(2, day);
    s->run();
  }
}

namespace {

#define FOCAL_ACTION_COLUMNS \
  "id, owner, owner_state, due_end_ms, status, tip, body, signature, text_header, text_signature, text_ciphertext"

ActionRow actionRow(sqlite::Statement& s) {
  ActionRow row;
  row.id = fixedColumn<crypto::BulletinId>(s, 0, "action id");
  row.owner = s.columnText(1);
  row.ownerState = s.columnText(2);
  row.dueEndMs = s.columnInt(3);
  row.status = static_cast<int>(s.columnInt(4));
  row.tip = fixedColumn<crypto::Hash256>(s, 5, "action chain tip");
  row.record = StoredRecord{s.columnBlob(6), s.columnBlob(7)};
  row.text = sealedColumns(s, 8);
  return row;
}

void readUpdates(sqlite::Database& db, ActionRow& row) {
  auto s = db.prepare(
      "SELECT body, signature, note_header, note_signature, note_ciphertext FROM action_updates "
      "WHERE action_id = ?1 ORDER BY seq");
  s->bind(1, row.id.view());
  while (s->step()) row.updates.push_back(ActionRow::Update{StoredRecord{s->columnBlob(0), s->columnBlob(1)},
                                                            sealedColumns(*s, 2)});
}

}  // namespace

std::optional<ActionRow> Store::action(const crypto::BulletinId& id) {
  auto s = db_.prepare("SELECT " FOCAL_ACTION_COLUMNS " FROM actions WHERE id = ?1");
  s->bind(1, id.view());
  if (!s->step()) return std::nullopt;
  auto row = actionRow(*s);
  readUpdates(db_, row);
  return row;
}

std::vector<ActionRow> Store::actions(std::size_t limit) {
  std::vector<ActionRow> out;
  auto s = db_.prepare("SELECT " FOCAL_ACTION_COLUMNS " FROM actions ORDER BY due_end_ms, id LIMIT ?1");
  s->bind(1, static_cast<std::int64_t>(limit));
  while (s->step()) out.push_back(actionRow(*s));
  for (auto& row : out) readUpdates(db_, row);
  return out;
}

std::vector<DueAction> Store::dueActions(std::int64_t dueBeforeMs, std::int64_t day, std::size_t limit) {
  std::vector<DueAction> out;
  auto s = db_.prepare(
      "SELECT id, owner, owner_state, due_end_ms, status FROM actions WHERE status IN (?1, ?2) AND due_end_ms <= ?3 "
      "AND reminded_day < ?4 ORDER BY due_end_ms LIMIT ?5");
  s->bind(1, StatusOpen).bind(2, StatusInProgress).bind(3, dueBeforeMs).bind(4, day);
  s->bind(5, static_cast<std::int64_t>(limit));
  while (s->step()) {
    out.push_back(DueAction{fixedColumn<crypto::BulletinId>(*s, 0, "action id"), s->columnText(1), s->columnText(2),
                            s->columnInt(3), static_cast<int>(s->columnInt(4))});
  }
  return out;
}

#undef FOCAL_ACTION_COLUMNS

}  // namespace focal::server

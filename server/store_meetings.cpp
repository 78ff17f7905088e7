// The working group's meetings (PROTOCOL.md §12.8): the secretariat's
// signed records, with the columns the hub reads without parsing them
// (store::StoreMeeting; Store::meetings, Store::meeting).
#include "server/store.hpp"
#include "server/store_internal.hpp"

#include <string>

namespace focal::server {

using namespace store_detail;

Result<RecordOutcome> Store::insertMeeting(sqlite::Database& db, const NewMeeting& m) {
  auto duplicate = [&] { return "meeting " + crypto::toHex(m.id) + " exists with other bytes"; };
  if (auto again = storedAgain(db, "SELECT body, signature, recorded_at_ms FROM meetings WHERE id = ?1", m.id.view(),
                               std::nullopt, m.record, duplicate)) {
    return std::move(*again);
  }
  auto s = db.prepare(
      "INSERT INTO meetings(id, secretariat_id, host_state, date, body, signature, recorded_at_ms) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  s->bind(1, m.id.view()).bind(2, m.secretariatId).bind(3, m.hostState).bind(4, m.date);
  s->bind(5, m.record.body).bind(6, m.record.signature).bind(7, m.recordedAtMs);
  s->run();
  return RecordOutcome{m.recordedAtMs, false, {}};
}

namespace {

constexpr const char* MeetingColumns = "SELECT id, host_state, date, body, signature, recorded_at_ms FROM meetings ";

// MeetingColumns + `tail`. Appended, not `std::string(a) + b`: g++ 12 warns
// falsely (-Warray-bounds, GCC bug 105651) on the inlined move of the sum.
std::string meetingQuery(const char* tail) {
  std::string sql = MeetingColumns;
  sql += tail;
  return sql;
}

MeetingRow meetingRow(sqlite::Statement& s) {
  return MeetingRow{fixedColumn<crypto::BulletinId>(s, 0, "meeting id"), s.columnText(1), s.columnText(2),
                    StoredRecord{s.columnBlob(3), s.columnBlob(4)}, s.columnInt(5)};
}

}  // namespace

std::vector<MeetingRow> Store::meetings(std::size_t limit) {
  std::vector<MeetingRow> out;
  auto s = db_.prepare(meetingQuery("ORDER BY date, recorded_at_ms, id LIMIT ?1").c_str());
  s->bind(1, static_cast<std::int64_t>(limit));
  while (s->step()) out.push_back(meetingRow(*s));
  return out;
}

std::optional<MeetingRow> Store::meeting(const crypto::BulletinId& id) {
  auto s = db_.prepare(meetingQuery("WHERE id = ?1").c_str());
  s->bind(1, id.view());
  if (!s->step()) return std::nullopt;
  return meetingRow(*s);
}

}  // namespace focal::server

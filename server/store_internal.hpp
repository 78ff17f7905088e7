// What the SQLite engine's files (store_*.cpp) share, and nothing above the
// store includes: column conversions, the stored record states, and the
// idempotence rule of signed records.
#pragma once

#include "server/sqlite.hpp"
#include "server/store_types.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace focal::server::store_detail {

inline constexpr std::int64_t RecordPending = static_cast<std::int64_t>(wire::RecordState::PENDING);
inline constexpr std::int64_t RecordApprovedState = static_cast<std::int64_t>(wire::RecordState::APPROVED);
inline constexpr std::int64_t RecordObjected = static_cast<std::int64_t>(wire::RecordState::OBJECTED);
inline constexpr std::int64_t RecordWithdrawn = static_cast<std::int64_t>(wire::RecordState::WITHDRAWN);
inline constexpr std::int64_t RecordSuperseded = static_cast<std::int64_t>(wire::RecordState::SUPERSEDED);

inline std::int64_t i64(std::uint64_t v) { return static_cast<std::int64_t>(v); }
inline std::uint64_t u64(std::int64_t v) { return static_cast<std::uint64_t>(v); }

inline bool sameBytes(crypto::ByteView a, crypto::ByteView b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

template <class F>
F fixedColumn(sqlite::Statement& s, int column, const char* what) {
  auto v = F::fromBytes(s.columnBlobView(column));
  if (!v) throw std::runtime_error(std::string("database holds a ") + what + " of the wrong length");
  return *v;
}

// The idempotence rule of a signed record (forward, retraction, comment,
// proposal, decision): `sql` selects (body, signature, recorded_at_ms) of
// the one stored under key ?1 (and ?2 = `member`, where given). None:
// nullopt, store it. The same bytes: `already`, with the first recording
// time. Other bytes: duplicate, with duplicateMessage().
template <class Message>
std::optional<Result<RecordOutcome>> storedAgain(sqlite::Database& db, const char* sql, crypto::ByteView key,
                                                 std::optional<std::string_view> member, const StoredRecord& record,
                                                 Message duplicateMessage) {
  auto s = db.prepare(sql);
  s->bind(1, key);
  if (member) s->bind(2, *member);
  if (!s->step()) return std::nullopt;
  if (sameBytes(s->columnBlobView(0), record.body) && sameBytes(s->columnBlobView(1), record.signature)) {
    return Result<RecordOutcome>(RecordOutcome{s->columnInt(2), true, {}});
  }
  return Result<RecordOutcome>(fail(wire::ErrorCode::DUPLICATE, duplicateMessage()));
}

}  // namespace focal::server::store_detail

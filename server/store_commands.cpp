// The SQLite engine's side of the write commands: each command of
// store_commands.hpp mapped to the Store write operations that carry it
// out, on the writer's connection in the commit queue's group transaction.
// A second engine provides the same set of execute() overloads.
#include "server/store.hpp"

namespace focal::server::store {

Result<SendOutcome> execute(sqlite::Database& db, const StoreBulletin& c) { return Store::insertBulletin(db, *c.value); }

Result<std::uint32_t> execute(sqlite::Database& db, const Acknowledge& c) {
  // The signed ack is kept as proof of receipt when it removed something
  // (a replayed ack removes nothing and costs no storage).
  const std::uint32_t removed = Store::acknowledge(db, c.memberId, c.ids, c.heads, c.nowMs);
  if (removed > 0) Store::recordAck(db, c.memberId, c.body, c.signature, c.nowMs);
  return removed;
}

Result<Ok> execute(sqlite::Database& db, const MarkDelivered& c) {
  Store::markDelivered(db, *c.marks);
  return Ok{};
}

Result<UploadRow> execute(sqlite::Database& db, const BeginUpload& c) {
  return Store::beginUpload(db, c.ownerId, c.hash, c.size, c.nowMs, c.maxOpenUploads);
}

Result<ChunkOutcome> execute(sqlite::Database& db, const AppendChunk& c) {
  return Store::appendChunk(db, c.uploadId, c.ownerId, c.offset, c.data, c.hashMatches);
}

Result<std::uint64_t> execute(sqlite::Database& db, const PurgeGarbage& c) { return Store::purgeGarbage(db, c.nowMs); }

Result<RetentionTally> execute(sqlite::Database& db, const PurgeExpired& c) {
  return Store::purgeExpired(db, c.policy, c.nowMs);
}

Result<Ok> execute(sqlite::Database& db, const AppendLogEntry& c) { return Store::appendLogEntry(db, *c.entry, *c.head); }
Result<Ok> execute(sqlite::Database& db, const StoreCosignature& c) {
  return Store::storeCosignature(db, c.size, *c.cosignature);
}

Result<Ok> execute(sqlite::Database& db, const RefreshHead& c) { return Store::refreshHead(db, *c.head); }

Result<std::uint64_t> execute(sqlite::Database& db, const AppendAudit& c) { return Store::appendAudit(db, *c.value); }

Result<RecordOutcome> execute(sqlite::Database& db, const StoreForward& c) { return Store::insertForward(db, *c.value); }

Result<Ok> execute(sqlite::Database& db, const GrantPermission& c) {
  Store::insertPermission(db, c.bulletinId, *c.grantees, *c.record, c.nowMs);
  return Ok{};
}

Result<RecordOutcome> execute(sqlite::Database& db, const StoreRetraction& c) {
  return Store::insertRetraction(db, *c.value);
}

Result<RecordOutcome> execute(sqlite::Database& db, const StoreComment& c) { return Store::insertComment(db, *c.value); }

Result<Ok> execute(sqlite::Database& db, const ApproveRecord& c) {
  return Store::approveRecord(db, c.recordId, *c.entry, *c.head);
}

Result<RecordOutcome> execute(sqlite::Database& db, const StoreProposal& c) {
  return Store::insertProposal(db, c.proposalId, c.proposerId, *c.record, c.expiresAtMs, c.nowMs);
}

Result<RecordOutcome> execute(sqlite::Database& db, const StoreDecision& c) {
  return Store::insertDecision(db, c.proposalId, c.memberId, c.approve, *c.record, c.sealedHead, c.nowMs);
}

Result<RecordOutcome> execute(sqlite::Database& db, const StoreMeeting& c) { return Store::insertMeeting(db, *c.value); }

Result<Ok> execute(sqlite::Database& db, const AdoptProposal& c) {
  return Store::adoptProposal(db, c.proposalId, *c.entry, *c.head);
}

Result<RecordOutcome> execute(sqlite::Database& db, const StoreAction& c) { return Store::insertAction(db, *c.value); }

Result<RecordOutcome> execute(sqlite::Database& db, const StoreActionUpdate& c) {
  return Store::insertActionUpdate(db, *c.value);
}

Result<Ok> execute(sqlite::Database& db, const MarkActionsReminded& c) {
  Store::markActionsReminded(db, c.ids, c.day);
  return Ok{};
}

}  // namespace focal::server::store

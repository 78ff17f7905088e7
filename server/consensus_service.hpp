// Admission and amendment by consensus of the member states (PROTOCOL.md
// §12.5), after the wire layer (RequestHandler) has checked each record's
// size and signature under the caller's identity key and decoded it:
// proposals by admins, decisions by points of contact of member states,
// and, when every member state with an active point of contact approved,
// the hub-signed `admission` or `amendment` log entry (through the
// LogAppender, under the admin lock, in a job that re-checks the proposal
// is still open).
// io thread only.
#pragma once

#include "protocol/focal.capnp.h"
#include "server/clock.hpp"
#include "server/commit_queue.hpp"
#include "server/directory.hpp"
#include "server/log_appender.hpp"
#include "server/service_ports.hpp"
#include "server/store.hpp"
#include "protocol/procedure_limits.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace focal::server {

class ConsensusService {
 public:
  // The longest a proposal may stay open (protocol/procedure_limits.hpp).
  static constexpr std::int64_t MaxProposalLifetimeMs = protocol::MaxProposalLifetimeMs;
  // Proposals listed by listProposals (newest first).
  static constexpr std::size_t MaxListedProposals = 256;

  ConsensusService(Store& store, CommitQueue& commits, const Directory& directory, Clock& clock, LogAppender& log,
                   AuditSink& audit, const std::vector<std::string>& memberStates)
      : store_(store), commits_(commits), directory_(directory), clock_(clock), log_(log), audit_(audit),
        memberStates_(memberStates) {}

  net::awaitable<Result<Recorded>> propose(Caller caller, SignedBody record, wire::Proposal::Reader p);
  net::awaitable<Result<Recorded>> decide(Caller caller, SignedBody record, wire::Decision::Reader d);
  // Admin changes whose quorum signed and whose delay has passed are
  // appended (the silence procedure's pass calls it; PROTOCOL.md §11.7).
  net::awaitable<void> adoptDueChanges();
  // The newest proposals and the time they are judged at; to active members.
  Result<std::vector<ProposalRow>> listProposals(const std::string& memberId, std::int64_t& nowMs);

 private:
  Result<Ok> checkProposal(const Caller& caller, wire::Proposal::Reader p, std::int64_t now) const;
  Result<Ok> checkAdmission(wire::LogEvent::Register::Reader r) const;
  // The caller's member state when it is a point of contact of one.
  Result<std::string> checkDecider(const Caller& caller) const;
  Result<std::string> checkAdminDecider(const Caller& caller, wire::Proposal::Reader p, bool approve) const;
  void buildAdminAction(capnp::MessageBuilder& mb, const ProposalRow& row, wire::Proposal::Reader proposal,
                        std::int64_t now) const;
  net::awaitable<Result<Ok>> adoptAdminChange(const Caller& caller, const AsyncMutex::Guard& held,
                                              const ProposalRow& row, std::int64_t now);
  // The approvals that count, one per member state that must consent.
  std::map<std::string, const StoredRecord*> approvalsByState(const ProposalRow& row) const;
  // Adopts the proposal when every required state approved; Ok also when
  // it is not (yet) adopted.
  net::awaitable<Result<Ok>> adoptIfAgreed(const Caller& caller, const AsyncMutex::Guard& held,
                                           const crypto::BulletinId& proposalId, std::int64_t now);

  Store& store_;
  CommitQueue& commits_;
  const Directory& directory_;
  Clock& clock_;
  LogAppender& log_;
  AuditSink& audit_;
  const std::vector<std::string>& memberStates_;
  // Open admin changes that may become due (quorum signed, delay running).
  std::set<crypto::BulletinId> waiting_;
  bool scanned_ = false;
};

}  // namespace focal::server

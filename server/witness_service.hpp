// Witness cosignatures at the hub (PROTOCOL.md §11.6): a witness the log's
// policy names submits its cosignature of the hub's current head; the hub
// checks it, keeps it durably (store::StoreCosignature, each witness's
// latest) and serves it with the head in every frame that carries one.
// Refusals: forbidden (the caller is not a witness of this log, or signs
// for another witness), badSignature (the cosignature does not verify
// under the policy's key), invalidRequest (a head the hub did not sign),
// stalePosition (a head that is not the current one: re-sync, cosign
// again), staleTimestamp (cosignedAtMs outside the clock window).
// io thread only.
#pragma once

#include "server/clock.hpp"
#include "server/commit_queue.hpp"
#include "server/directory.hpp"
#include "server/net.hpp"
#include "server/service_ports.hpp"

namespace focal::server {

class WitnessService {
 public:
  WitnessService(Directory& directory, CommitQueue& commits, Clock& clock, AuditSink& audit)
      : directory_(directory), commits_(commits), clock_(clock), audit_(audit) {}

  // Returns when the cosignature is committed and served.
  net::awaitable<Result<std::int64_t>> cosign(Caller caller, protocol::Cosignature c);

 private:
  Result<Ok> check(const Caller& caller, const protocol::Cosignature& c, std::int64_t nowMs) const;

  Directory& directory_;
  CommitQueue& commits_;
  Clock& clock_;
  AuditSink& audit_;
};

}  // namespace focal::server

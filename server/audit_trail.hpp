// The hash-chained audit trail's writer side: rows go to the CommitQueue
// without waiting (a full write queue drops the row and logs a warning).
// Reading the trail is Store::auditEntries. io thread only.
#pragma once

#include "server/clock.hpp"
#include "server/commit_queue.hpp"
#include "server/net.hpp"
#include "server/service_ports.hpp"

namespace focal::server {

class AuditTrail final : public AuditSink {
 public:
  AuditTrail(net::io_context& io, Clock& clock, CommitQueue& commits) : io_(io), clock_(clock), commits_(commits) {}

  void audit(std::string event, std::string actor, std::string remote, std::string detail) override;

 private:
  net::io_context& io_;
  Clock& clock_;
  CommitQueue& commits_;
};

}  // namespace focal::server

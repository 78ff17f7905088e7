#include "server/audit_trail.hpp"

#include <spdlog/spdlog.h>

namespace focal::server {

void AuditTrail::audit(std::string event, std::string actor, std::string remote, std::string detail) {
  auto record = std::make_shared<AuditRecord>();
  record->timeMs = clock_.nowMs();
  record->event = std::move(event);
  record->actor = actor.empty() ? "-" : std::move(actor);
  record->remote = std::move(remote);
  record->detail = std::move(detail);
  auto job = store::AppendAudit{record};
  auto done = [record](Result<std::uint64_t> r) {
    if (!r) spdlog::warn("audit row {} not recorded: {}", record->event, r.error().message);
  };
  commits_.submit(std::move(job), net::bind_executor(io_, std::move(done)));
}

}  // namespace focal::server

#include "client/key_directory.hpp"

#include "client/client_clock.hpp"
#include "client/connection.hpp"
#include "client/verified_log.hpp"

#include <algorithm>

namespace focal::client {

HubDirectory::HubDirectory(std::vector<MemberRecord> members, std::string hubId)
    : members_(std::move(members)), hubId_(std::move(hubId)) {
  std::sort(members_.begin(), members_.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  // A listing with two records for one id is ambiguous: keep neither usable.
  for (std::size_t i = 1; i < members_.size(); ++i) {
    if (members_[i].id == members_[i - 1].id) {
      members_[i].certValid = false;
      members_[i - 1].certValid = false;
    }
  }
}

namespace {

std::shared_ptr<VerifiedLog> synced(Connection& connection) {
  auto log = connection.verifiedLog();
  if (!log) {
    log = std::make_shared<VerifiedLog>();
    connection.setVerifiedLog(log);
  }
  log->sync(connection);  // throws VerifyError on any inconsistency
  return log;
}

}  // namespace

HubDirectory HubDirectory::fetch(Connection& connection) {
  auto log = synced(connection);
  log->requireWitnessed(nowMs());  // the client's one clock (client_clock.hpp)
  HubDirectory d(log->verifier().records(), log->verifier().hubId());
  d.log_ = std::move(log);
  return d;
}

HubDirectory HubDirectory::fetchUnwitnessed(Connection& connection) {
  auto log = synced(connection);
  HubDirectory d(log->verifier().records(), log->verifier().hubId());
  d.log_ = std::move(log);
  return d;
}

const MemberRecord* HubDirectory::find(std::string_view memberId) const {
  auto it = std::lower_bound(members_.begin(), members_.end(), memberId,
                             [](const MemberRecord& m, std::string_view id) { return m.id < id; });
  if (it == members_.end() || it->id != memberId) return nullptr;
  return &*it;
}

}  // namespace focal::client

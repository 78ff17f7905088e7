// Where the client learns members' keys. One small interface so the source
// can be swapped without touching sealing or opening. The keys come from the
// directory log that the client verified itself (client/verified_log.hpp,
// DESIGN.md §7), never from the hub's Directory listing.
#pragma once

#include "client/member_record.hpp"

#include <memory>
#include <string_view>
#include <vector>

namespace focal::client {

class Connection;
class VerifiedLog;

class KeyDirectory {
 public:
  virtual ~KeyDirectory() = default;
  // nullptr when the id is unknown. Records may be revoked or have an
  // invalid certificate: callers check usable().
  virtual const MemberRecord* find(std::string_view memberId) const = 0;
  virtual const std::vector<MemberRecord>& members() const = 0;
  // The hub whose verified log this is (its genesis hub id), or empty when
  // unknown (records from elsewhere): seal v2 bulletins must name it.
  virtual std::string_view hubId() const { return {}; }
};

// The directory as the verified log establishes it. fetch() brings the
// connection's VerifiedLog up to date (throwing VerifyError if the hub's log
// is inconsistent) and lists its members; the constructor takes records from
// any other source (tests).
class HubDirectory final : public KeyDirectory {
 public:
  explicit HubDirectory(std::vector<MemberRecord> members, std::string hubId = {});
  // The verified log's members, after VerifiedLog::sync and, for a log
  // with witnesses, VerifiedLog::requireWitnessed: every path that seals
  // to or accepts from a key comes here.
  static HubDirectory fetch(Connection& connection);
  // The same without the witness requirement: for reading and changing the
  // directory itself (`focal directory`, `focal admin`), so an admin can
  // register the witnesses of a new hub before they can cosign.
  static HubDirectory fetchUnwitnessed(Connection& connection);

  const MemberRecord* find(std::string_view memberId) const override;
  const std::vector<MemberRecord>& members() const override { return members_; }
  std::string_view hubId() const override { return hubId_; }
  // The verified log this directory was read from, just synced (fetch,
  // fetchUnwitnessed); null for records from elsewhere. Heads that records
  // carry are checked against it (client/log_gossip.hpp).
  const std::shared_ptr<VerifiedLog>& verifiedLog() const { return log_; }

 private:
  std::vector<MemberRecord> members_;  // sorted by id
  std::string hubId_;
  std::shared_ptr<VerifiedLog> log_;
};

}  // namespace focal::client

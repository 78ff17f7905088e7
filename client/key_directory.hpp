// Where the client learns members' keys. One small interface so the source
// can be swapped: today the hub's directory listing (each encryption key
// checked against its identity signature); later a verified transparency log
// (DESIGN.md §7), without touching sealing or opening.
#pragma once

#include "client/member_record.hpp"

#include <string_view>
#include <vector>

namespace focal::client {

class Connection;

class KeyDirectory {
 public:
  virtual ~KeyDirectory() = default;
  // nullptr when the id is unknown. Records may be revoked or have an
  // invalid certificate: callers check usable().
  virtual const MemberRecord* find(std::string_view memberId) const = 0;
  virtual const std::vector<MemberRecord>& members() const = 0;
};

// The directory as the hub lists it. Trusts the hub for membership (until the
// log replaces it), never for keys: every record's certificate is verified.
class HubDirectory final : public KeyDirectory {
 public:
  explicit HubDirectory(std::vector<MemberRecord> members);
  static HubDirectory fetch(Connection& connection);

  const MemberRecord* find(std::string_view memberId) const override;
  const std::vector<MemberRecord>& members() const override { return members_; }

 private:
  std::vector<MemberRecord> members_;  // sorted by id
};

}  // namespace focal::client

// The work programme (PROTOCOL.md §12.10, terms of reference §9: "follow up
// and monitoring to any Work Programme or any meeting"): action items the
// secretariat adds, updates a point of contact of the owning member state
// signs, the listing for member states and the secretariat, and the
// reminders of items due within 7 days or overdue.
//
// SECURITY: the wire layer has checked each record's size and its
// signature over the exact bytes under the session's key (the author is
// the caller, whatever the record claims). Here: the record's structure
// and author fields against the caller, the clock, the role rule, then the
// sealed text (verified header by the caller, bound by its header hash,
// addressed to exactly "members" and its author, ciphertext matching). The
// hub never opens the text: it sees owner, due day, status and ids.
// io thread only.
#pragma once

#include "protocol/focal.capnp.h"
#include "server/clock.hpp"
#include "server/commit_queue.hpp"
#include "server/directory.hpp"
#include "server/service_ports.hpp"
#include "server/store.hpp"

#include <optional>
#include <string>
#include <vector>

namespace focal::server {

// Pushes a reminder frame to the online sessions of `memberIds` that asked
// for reminders; returns how many sessions took it (implemented by the Hub).
class ReminderPusher {
 public:
  virtual std::size_t pushReminder(const std::vector<std::string>& memberIds, const crypto::Bytes& frame) = 0;

 protected:
  ~ReminderPusher() = default;
};

class ActionService {
 public:
  // The listing's cap (items by due day); documented in PROTOCOL.md §12.10.
  static constexpr std::size_t MaxListed = 200;
  // Reminders per pass (the task runs every poll).
  static constexpr std::size_t MaxRemindersPerPass = 64;

  ActionService(Store& store, CommitQueue& commits, const Directory& directory, Clock& clock, ReminderPusher& pusher)
      : store_(store), commits_(commits), directory_(directory), clock_(clock), pusher_(pusher) {}

  // addAction: the secretariat adds an item with its sealed text.
  net::awaitable<Result<Recorded>> add(Caller caller, SignedBody record, wire::Bulletin::Reader text);
  // updateAction: a point of contact of the owning state; `note` may be unset.
  net::awaitable<Result<Recorded>> update(Caller caller, SignedBody record, std::optional<wire::Bulletin::Reader> note);
  // listActions: points of contact of member states and the secretariat.
  Result<std::vector<ActionRow>> list(const Caller& caller);
  // One pass of the reminder task: items open or in progress whose due day
  // ends within ActionReminderWindowMs (or ended), not reminded today (UTC
  // day of the hub's clock), pushed to the owner's subscribed sessions;
  // marked reminded only when a session took the push.
  net::awaitable<void> remindDue();

  // Who may update an item owned by `owner` ("state:CC" or a member id).
  static bool mayUpdate(const MemberRecord& member, std::string_view ownerState);

 private:
  Result<SealedText> checkSealed(const Caller& caller, wire::Bulletin::Reader b, const crypto::Hash256& boundHash,
                                 std::int64_t now, const char* what, const crypto::BulletinId* id = nullptr) const;
  std::vector<std::string> ownerMembers(const DueAction& a) const;

  Store& store_;
  CommitQueue& commits_;
  const Directory& directory_;
  Clock& clock_;
  ReminderPusher& pusher_;
};

}  // namespace focal::server

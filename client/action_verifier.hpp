// Verifies the work programme as the hub lists it (PROTOCOL.md §12.10), so
// that `focal actions` shows only what its authors signed: each item's
// signature under a key its author holds in the verified directory, the
// author a member of the secretariat, its sealed text bound by the header
// hash and opened; then each update in the chain order the hub gave,
// linked by `previous` to the item or the update before it, signed by a
// point of contact of the owning state, its note bound and opened. The
// first update that fails stops the chain there: it and whatever follows
// are refused (listed with the reason), and the status is the last
// verified one. A hub can withhold the latest updates (the chain has no
// end marker) but cannot forge, reorder or move one.
#pragma once

#include "client/connection.hpp"
#include "client/key_directory.hpp"
#include "crypto/key_ops.hpp"
#include "protocol/work_programme.hpp"

#include <optional>
#include <string>
#include <vector>

namespace focal::client {

struct VerifiedActionUpdate {
  std::string authorId;
  wire::ActionStatus status = wire::ActionStatus::OPEN;
  std::int64_t updatedAtMs = 0;
  std::optional<std::string> note;  // opened; nullopt: none, or not sealed to us (noteSealedToUs)
  bool hasNote = false;
  bool noteSealedToUs = true;
};

struct VerifiedAction {
  protocol::ActionItemInfo item;
  std::string ownerState;
  std::optional<std::string> text;  // nullopt: not sealed to us (a member who joined later)
  wire::ActionStatus status = wire::ActionStatus::OPEN;
  std::vector<VerifiedActionUpdate> updates;
  // Why the item, or an update of it, was refused (empty: all verified).
  // A refused item (itemRefused) shows nothing the hub claims about it.
  bool itemRefused = false;
  std::vector<std::string> refusals;
  bool overdue(std::int64_t nowMs) const {
    return nowMs >= item.dueEndMs &&
           (status == wire::ActionStatus::OPEN || status == wire::ActionStatus::IN_PROGRESS);
  }
};

std::vector<VerifiedAction> verifyActions(const ActionListing& listing, const KeyDirectory& directory,
                                          const crypto::Keyring& me);

}  // namespace focal::client

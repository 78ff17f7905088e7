// Working-group records about a stored bulletin, after the wire layer
// (RequestHandler) has checked each record's size and its signature over
// the exact bytes under the caller's identity key, and decoded it:
// forward, permit and retract (PROTOCOL.md §12.1-12.3, DESIGN.md §8), and
// comments on summary records with their status (§12.4). The outcome of a
// summary record at its deadline is the SilenceProcedure's.
//
// SECURITY: each record is then checked in the same order: its fields, the
// author fields against the Caller (the authenticated session, whatever the
// record claims), the clock, and only then the rules. A refusal names the
// rule and the member it concerns; someone a bulletin was not addressed to
// learns nothing about whether it exists.
// io thread only.
#pragma once

#include "protocol/focal.capnp.h"
#include "server/clock.hpp"
#include "server/commit_queue.hpp"
#include "server/directory.hpp"
#include "server/service_ports.hpp"
#include "server/store.hpp"

#include <string_view>
#include <vector>

namespace focal::server {

class RecordsService {
 public:
  // A comment's sealed text: 8 KiB of text plus the sealed box overhead.
  // 8 KiB of text in the sealed payload with the carried head (PROTOCOL.md
  // §12.4): text, about 250 bytes of payload and head, 48 of the seal.
  static constexpr std::size_t MaxCommentTextBytes = 8 * 1024 + 512;

  RecordsService(Store& store, CommitQueue& commits, const Directory& directory, Clock& clock,
                 DeliveryNotifier& deliveries)
      : store_(store), commits_(commits), directory_(directory), clock_(clock), deliveries_(deliveries) {}

  net::awaitable<Result<Recorded>> forward(Caller caller, SignedBody record, wire::ForwardRecord::Reader f);
  net::awaitable<Result<Recorded>> permit(Caller caller, SignedBody record, wire::Permission::Reader p);
  net::awaitable<Result<Recorded>> retract(Caller caller, SignedBody record, wire::Retraction::Reader r);
  net::awaitable<Result<Recorded>> comment(Caller caller, SignedBody record, wire::Comment::Reader c);
  // A meeting, by an active member of the secretariat (PROTOCOL.md §12.8).
  net::awaitable<Result<Recorded>> createMeeting(Caller caller, SignedBody record, wire::Meeting::Reader m);
  // The meetings `memberId` takes part in, oldest first.
  std::vector<MeetingRow> meetings(const std::string& memberId);
  // Visible to its sender, whoever holds it, the secretariat and admins.
  Result<SummaryRecordRow> recordStatus(const std::string& memberId, const crypto::BulletinId& recordId);

 private:
  Result<std::vector<std::string_view>> checkForwardFields(const Caller& caller, wire::ForwardRecord::Reader f,
                                                           std::int64_t now) const;
  // The bulletin a forward is about, as its forwarder holds it, and what
  // its signed header says that the forwarding rules use.
  struct ForwardSource {
    BulletinRow row;
    bool originator = false;  // the forwarder sent it (first-send rules apply)
    wire::Tlp tlp = wire::Tlp::UNSET;
    std::optional<crypto::BulletinId> meetingId;  // the meeting it is bound to (PROTOCOL.md §12.5)
  };
  Result<ForwardSource> forwardable(const Caller& caller, wire::ForwardRecord::Reader f);
  Result<Ok> checkReach(const Caller& caller, wire::ForwardRecord::Reader f, const std::vector<std::string_view>& ids,
                        const ForwardSource& source, NewForward& out) const;
  Result<Ok> checkCommentable(const Caller& caller, const crypto::BulletinId& recordId, std::int64_t now);

  Store& store_;
  CommitQueue& commits_;
  const Directory& directory_;
  Clock& clock_;
  DeliveryNotifier& deliveries_;
};

}  // namespace focal::server

// Bulletins and their attachments, after the wire layer (RequestHandler)
// has checked sizes, signatures and structure: the policy of who may send
// what to whom (sender = caller, clock, markings, summary records,
// recipients and their keys, distribution, attachment sizes), storage
// through the CommitQueue, pushes of what committed (DeliveryNotifier), and
// the member's reads (fetch, status, download) and uploads.
//
// SECURITY: the header has been verified under the key it names; identities
// come from the Caller (the authenticated session), never from the request.
// io thread only; the CommitQueue's writer runs the write jobs.
#pragma once

#include "protocol/focal.capnp.h"
#include "server/clock.hpp"
#include "server/commit_queue.hpp"
#include "server/config.hpp"
#include "server/directory.hpp"
#include "server/service_ports.hpp"
#include "server/store.hpp"
#include "server/upload_tracker.hpp"
#include "protocol/procedure_limits.hpp"

#include <optional>
#include <unordered_set>

namespace focal::server {

class BulletinService {
 public:
  static constexpr std::size_t MaxTrackedUploads = 4096;
  // The longest comment window a summary record may set (protocol/procedure_limits.hpp).
  static constexpr std::int64_t MaxCommentWindowMs = protocol::MaxCommentWindowMs;

  // A bulletin as submitted: its header (verified), signature and content.
  struct Submitted {
    crypto::ByteView header;
    crypto::Signature signature;
    crypto::ByteView ciphertext;
    bool contentMatches = false;  // the ciphertext is what the header's contentHash/contentSize describe
  };
  struct Accepted {
    crypto::BulletinId id;
    std::int64_t atMs = 0;
    bool already = false;
  };
  struct UploadPosition {
    std::uint64_t id = 0;
    std::uint64_t offset = 0;
  };

  BulletinService(Store& store, CommitQueue& commits, const Directory& directory, Clock& clock, const Limits& limits,
                  DeliveryNotifier& deliveries)
      : store_(store), commits_(commits), directory_(directory), clock_(clock), limits_(limits),
        deliveries_(deliveries), uploads_(MaxTrackedUploads) {}

  net::awaitable<Result<Accepted>> accept(Caller caller, wire::BulletinHeader::Reader h, Submitted b);
  // A page of the member's queue; the entries handed out are marked delivered.
  FetchPage fetch(const std::string& memberId, std::int64_t afterSeq, std::uint32_t limit, std::size_t maxBytes);
  // Removes the acknowledged entries; the signed ack is kept as proof of
  // receipt when it removed something.
  // `heads`: empty, or the sealed head the ack carried for each id.
  net::awaitable<Result<std::uint32_t>> ack(const std::string& memberId, std::vector<crypto::BulletinId> ids,
                                            std::vector<crypto::Bytes> heads, crypto::ByteView body,
                                            const crypto::Signature& signature);
  Result<BulletinStatus> status(const std::string& memberId, const crypto::BulletinId& id);
  // An upload's size: not empty, within the attachment limit, the size of
  // some attachment stream.
  Result<Ok> checkUploadSize(std::uint64_t size) const;
  net::awaitable<Result<UploadPosition>> beginUpload(const std::string& memberId, const crypto::Hash256& hash,
                                                     std::uint64_t size);
  net::awaitable<Result<ChunkOutcome>> uploadChunk(const std::string& memberId, std::uint64_t uploadId,
                                                   std::uint64_t offset, crypto::ByteView data);
  Result<BlobSlice> download(const std::string& memberId, const crypto::BulletinId& id, const crypto::Hash256& hash,
                             std::uint64_t offset, std::uint32_t length);

 private:
  Result<const MemberRecord*> checkSender(const Caller& caller, wire::BulletinHeader::Reader h) const;
  Result<std::shared_ptr<NewBulletin>> judge(const Caller& caller, const MemberRecord& sender,
                                             wire::BulletinHeader::Reader h, const Submitted& b, std::int64_t now);
  Result<std::optional<NewBulletin::SummaryRecord>> checkSummaryRecord(const MemberRecord& sender,
                                                                       wire::BulletinHeader::Reader h,
                                                                       std::int64_t now);
  Result<Ok> resolveRecipients(const Caller& caller, wire::BulletinHeader::Reader h, NewBulletin& bulletin) const;
  Result<Ok> checkMeeting(wire::BulletinHeader::Reader h);
  net::awaitable<Result<Ok>> rebuildHash(const UploadRow& row);

  Store& store_;
  CommitQueue& commits_;
  const Directory& directory_;
  Clock& clock_;
  const Limits& limits_;
  DeliveryNotifier& deliveries_;
  UploadTracker uploads_;
  std::unordered_set<std::uint64_t> rebuilding_;  // uploads whose hash is being recomputed
};

}  // namespace focal::server

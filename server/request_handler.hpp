// What the hub does with each authenticated request (PROTOCOL.md §Requests).
// The transport (framing, deadlines, queues) is Session's; this class only
// turns one ClientFrame into one reply frame or a HubError.
//
// SECURITY: every field read here is attacker-controlled. Lengths are
// checked before any fixed-size type is made, before anything is hashed or
// stored; identities come from the authenticated session, never from the
// request; refusals are typed (HubError) and name the rule, never content.
#pragma once

#include "crypto/types.hpp"
#include "protocol/message.hpp"
#include "protocol/procedure_limits.hpp"
#include "server/hub_error.hpp"
#include "server/net.hpp"

#include <memory>
#include <unordered_set>

namespace focal::server {

class Hub;
class Session;

class RequestHandler {
 public:
  // Largest LogEvent an admin request may carry (a Register with a long
  // name is well under 2 KiB).
  static constexpr std::size_t MaxAdminEventBytes = 16 * 1024;
  // Largest AckBody: MaxAckBatch ids of 16 bytes plus list overhead.
  static constexpr std::size_t MaxAckBodyBytes = 64 * 1024;
  // Replies that carry bulletins or log entries leave this much of the
  // client's frame limit (protocol::MaxFrameBytes) free for framing overhead.
  static constexpr std::size_t FrameHeadroomBytes = 64 * 1024;
  // Largest SignedRecord body: a forward to MaxRecipients members (about
  // 150 bytes each) fits, as a header does.
  static constexpr std::size_t MaxRecordBytes = 64 * 1024;
  // A comment's sealed text: 8 KiB of text plus the sealed box overhead.
  static constexpr std::size_t MaxCommentTextBytes = 8 * 1024 + 48;
  // The longest comment window and proposal lifetime (protocol/procedure_limits.hpp).
  static constexpr std::int64_t MaxCommentWindowMs = protocol::MaxCommentWindowMs;
  static constexpr std::int64_t MaxProposalLifetimeMs = protocol::MaxProposalLifetimeMs;
  // Proposals listed by listProposals (newest first).
  static constexpr std::size_t MaxListedProposals = 256;

  explicit RequestHandler(Hub& hub) : hub_(hub) {}

  // Serves one request of an authenticated session. kj::Exception and other
  // exceptions propagate to the caller (Session::serve), which turns them
  // into malformedFrame / internal.
  net::awaitable<Result<crypto::Bytes>> handle(std::shared_ptr<Session> session,
                                               const protocol::Parsed<wire::ClientFrame>& frame);

 private:
  net::awaitable<Result<crypto::Bytes>> send(std::shared_ptr<Session> session, std::uint64_t id,
                                             wire::SendBulletin::Reader req);
  Result<crypto::Bytes> fetch(const Session& session, std::uint64_t id, wire::Fetch::Reader req);
  net::awaitable<Result<crypto::Bytes>> ack(std::shared_ptr<Session> session, std::uint64_t id, wire::Ack::Reader req);
  Result<crypto::Bytes> status(const Session& session, std::uint64_t id, wire::StatusQuery::Reader req);
  Result<crypto::Bytes> log(std::uint64_t id, wire::LogQuery::Reader req);
  net::awaitable<Result<crypto::Bytes>> admin(std::shared_ptr<Session> session, std::uint64_t id,
                                              wire::AdminRequest::Reader req);
  Result<crypto::Bytes> audit(const Session& session, std::uint64_t id, wire::AuditQuery::Reader req);
  net::awaitable<Result<crypto::Bytes>> beginUpload(std::shared_ptr<Session> session, std::uint64_t id,
                                                    wire::BeginUpload::Reader req);
  net::awaitable<Result<crypto::Bytes>> uploadChunk(std::shared_ptr<Session> session, std::uint64_t id,
                                                    wire::UploadChunk::Reader req);
  Result<crypto::Bytes> download(const Session& session, std::uint64_t id, wire::Download::Reader req);
  // Working-group records about a stored bulletin (request_handler_records.cpp).
  net::awaitable<Result<crypto::Bytes>> forward(std::shared_ptr<Session> session, std::uint64_t id,
                                                wire::SignedRecord::Reader req);
  net::awaitable<Result<crypto::Bytes>> permit(std::shared_ptr<Session> session, std::uint64_t id,
                                               wire::SignedRecord::Reader req);
  net::awaitable<Result<crypto::Bytes>> retract(std::shared_ptr<Session> session, std::uint64_t id,
                                                wire::SignedRecord::Reader req);
  // Summary records and the silence procedure (request_handler_consensus.cpp).
  net::awaitable<Result<crypto::Bytes>> comment(std::shared_ptr<Session> session, std::uint64_t id,
                                                wire::SignedRecord::Reader req);
  Result<crypto::Bytes> recordStatus(const Session& session, std::uint64_t id, wire::RecordStatusQuery::Reader req);
  // Admission by consensus of the member states (request_handler_consensus.cpp).
  net::awaitable<Result<crypto::Bytes>> propose(std::shared_ptr<Session> session, std::uint64_t id,
                                                wire::SignedRecord::Reader req);
  net::awaitable<Result<crypto::Bytes>> decide(std::shared_ptr<Session> session, std::uint64_t id,
                                               wire::SignedRecord::Reader req);
  Result<crypto::Bytes> listProposals(const Session& session, std::uint64_t id);

  Hub& hub_;
  std::unordered_set<std::uint64_t> rebuilding_;  // uploads whose hash is being recomputed
};

}  // namespace focal::server

// What the hub does with each authenticated request (PROTOCOL.md §Requests),
// as an adapter: the wire request in (sizes, signatures over the exact
// bytes, structure), one call to a service, the reply frame out. The
// transport (framing, deadlines, queues) is Session's; the policy, storage
// and log appends are the services' (ARCHITECTURE.md, "Services"). The
// handler holds the services it is given and nothing else: it never calls
// into the Hub.
//
// SECURITY: every field read here is attacker-controlled. Lengths are
// checked before any fixed-size type is made, before anything is hashed or
// stored; identities come from the authenticated session, never from the
// request; refusals are typed (HubError) and name the rule, never content.
#pragma once

#include "crypto/types.hpp"
#include "protocol/message.hpp"
#include "server/hub_error.hpp"
#include "server/net.hpp"
#include "server/service_ports.hpp"

#include <memory>

namespace focal::server {

class AdminService;
class BulletinService;
class ConsensusService;
class Directory;
struct HubMetrics;
class ActionService;
class RecordsService;
class Session;
class VerifyPool;
class WitnessService;

// Everything a RequestHandler serves requests with.
struct RequestServices {
  BulletinService& bulletins;
  RecordsService& records;
  ConsensusService& consensus;
  AdminService& admin;
  const Directory& directory;  // the Directory frame
  VerifyPool& verifier;        // bulletin signature and content hash checks
  const RequestGauge& requests;
  WitnessService& witnesses;   // cosignatures (PROTOCOL.md §11.6)
  HubMetrics& metrics;         // bulletins accepted and refused, acks
  ActionService& actions;      // the work programme (PROTOCOL.md §12.10)
};

class RequestHandler {
 public:
  // Largest LogEvent an admin request may carry (a Register with a long
  // name is well under 2 KiB).
  static constexpr std::size_t MaxAdminEventBytes = 16 * 1024;
  // Replies that carry bulletins or log entries leave this much of the
  // client's frame limit (protocol::MaxFrameBytes) free for framing overhead.
  static constexpr std::size_t FrameHeadroomBytes = 64 * 1024;
  // Largest SignedRecord body: a forward to MaxRecipients members (about
  // 150 bytes each) fits, as a header does.
  static constexpr std::size_t MaxRecordBytes = 64 * 1024;

  explicit RequestHandler(RequestServices services) : s_(services) {}

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
  // Signed records: forward, permit, retract, comment, propose, decide
  // (request_handler_records.cpp).
  net::awaitable<Result<crypto::Bytes>> record(std::shared_ptr<Session> session, std::uint64_t id,
                                               const wire::ClientFrame::Reader& frame);
  Result<crypto::Bytes> recordStatus(const Session& session, std::uint64_t id, wire::RecordStatusQuery::Reader req);
  Result<crypto::Bytes> listProposals(const Session& session, std::uint64_t id);
  Result<crypto::Bytes> listMeetings(const Session& session, std::uint64_t id);
  // The work programme: addAction, updateAction, listActions (request_handler_records.cpp).
  net::awaitable<Result<crypto::Bytes>> action(std::shared_ptr<Session> session, std::uint64_t id,
                                               const wire::ClientFrame::Reader& frame);
  Result<crypto::Bytes> listActions(const Session& session, std::uint64_t id);
  net::awaitable<Result<crypto::Bytes>> cosign(std::shared_ptr<Session> session, std::uint64_t id,
                                               wire::Cosignature::Reader req);

  RequestServices s_;
};

// The Caller a session's requests come from.
Caller callerOf(const Session& session);

}  // namespace focal::server

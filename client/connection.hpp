// A blocking connection to a Focal hub: TLS 1.3 with a pinned certificate,
// challenge-response authentication bound to the TLS session, and one method
// per request. Simple to use from a CLI, a test or a load-generator thread.
//
//   Connection c;                       // options: deadline, push queue cap
//   c.connect("hub.example", 7443, "hub-ca.pem");
//   c.authenticate(myKeys);
//   auto acc = c.send(sealed);
//
// Contract:
//  * Every network wait has a deadline (ConnectOptions::timeout, default
//    30 s): a hung hub cannot hang the caller. A missed deadline throws
//    TransportError(Timeout) and the connection is closed.
//  * Requests carry increasing correlation ids; responses are matched by id.
//    Pushes (id 0) that arrive while a response is awaited are kept in a
//    capped queue for nextPush(); past the cap they are dropped and counted
//    (nothing is lost: the hub keeps every bulletin until it is acked, so a
//    fetch recovers them).
//  * A hub refusal throws HubError (wire::ErrorCode + message); an I/O or
//    protocol failure throws TransportError and leaves the connection broken.
//  * Not thread-safe: one Connection per thread. Owns its io_context.
//
// Cap'n Proto is EXPOSED DELIBERATELY in libfocal's API (client/README.md):
// the schema is the one source of truth, so the wire enums (wire::ErrorCode,
// wire::Tlp, wire::RecordState, ...) are the library's enums, and a caller
// builds a LogEvent with the generated builders (admin()). What the library
// owns is lifetime: every request returns an owning struct (bytes copied out
// of the frame), never a Reader into a frame it no longer holds; the one
// exception, receiveFrame(), returns protocol::Parsed, which owns its buffer.
#pragma once

#include "client/client_error.hpp"
#include "client/member_record.hpp"
#include "client/net.hpp"
#include "client/raw_bulletin.hpp"
#include "crypto/key_ops.hpp"
#include "protocol/bulletin.hpp"
#include "protocol/message.hpp"
#include "protocol/records.hpp"
#include "protocol/witness.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace focal::client {

struct ConnectOptions {
  // Deadline for each network step (connect + handshake, one response).
  std::chrono::milliseconds timeout{30'000};
  // Pushes kept while waiting for responses; beyond it they are dropped.
  std::size_t maxBufferedPushes = 1024;
  // Requests in flight for sendPipelined / uploadBlob / downloadBlob.
  std::size_t pipelineWindow = 64;
  std::size_t chunkWindow = 4;
  // The hub key fingerprint the user pinned (canonical, client/profile.hpp);
  // authenticate() refuses another hub key before it signs (VerifyError).
  std::string pinnedHubKey;
};

struct SignedHeadBytes {
  crypto::Bytes head;       // LogHead bytes
  crypto::Bytes signature;
  // As the hub served them, not yet checked (protocol::countCosignatures);
  // one that does not even read is dropped here.
  std::vector<protocol::Cosignature> cosignatures{};
};

struct SessionInfo {
  std::string memberId;
  std::string hubId;
  crypto::SigningPublicKey hubKey;
  std::int64_t serverTimeMs = 0;
  SignedHeadBytes logHead;
};

struct AcceptedInfo {
  crypto::BulletinId id;
  std::int64_t acceptedAtMs = 0;
  bool alreadyAccepted = false;
};

// One result of sendPipelined: accepted, or the hub's typed refusal.
struct SendOutcome {
  std::optional<AcceptedInfo> accepted;
  wire::ErrorCode code = wire::ErrorCode::INTERNAL;  // when !accepted
  std::string message;
};

// A signed record as it arrived (still unverified).
struct RawRecord {
  crypto::Bytes body;
  crypto::Bytes signature;
};

// The work programme (PROTOCOL.md §12.10), as the hub lists it (unverified:
// client/work_programme_view.hpp verifies it).
struct ActionPostRaw {
  RawRecord record;
  std::optional<RawBulletin> sealed;  // the item's text, or an update's note
};
struct ActionEntryRaw {
  ActionPostRaw item;
  std::vector<ActionPostRaw> updates;
};
struct ActionListing {
  std::vector<ActionEntryRaw> items;
  bool truncated = false;
};
// A reminder push (the hub's word: checked against `focal actions`).
struct ActionReminderInfo {
  crypto::BulletinId actionId;
  std::string owner;
  std::string dueDay;
  wire::ActionStatus status = wire::ActionStatus::OPEN;
  bool overdue = false;
};

struct Delivery {
  std::uint64_t seq = 0;
  std::int64_t queuedAtMs = 0;
  RawBulletin bulletin;
  std::optional<RawRecord> forward;     // it reached us through this ForwardRecord
  std::optional<RawRecord> retraction;  // this entry announces the bulletin's retraction
};

struct RecordedInfo {
  crypto::Bytes id;  // the forward id, or the bulletin id for permit / retract
  std::int64_t atMs = 0;
};

// A summary record's silence procedure as the hub reports it. The comments
// are signed records the client verifies itself (protocol::verifyComment).
struct RecordStatusInfo {
  crypto::BulletinId recordId;
  wire::RecordState state = wire::RecordState::PENDING;
  std::int64_t deadlineMs = 0;
  std::vector<RawRecord> comments;
  std::vector<std::string> acknowledgedBy;
  std::uint64_t outcomeIndex = 0;  // log index of recordApproved, 0 = none
};

// A consensus proposal as the hub lists it; the proposal and decisions are
// signed records the client verifies itself.
struct ProposalListing {
  RawRecord proposal;
  std::vector<RawRecord> decisions;
  wire::ProposalState state = wire::ProposalState::OPEN;
  std::uint64_t outcomeIndex = 0;  // log index of the admission, 0 = none
  // To the proposer, while open: per decision, the sealed head that came
  // with it (empty = none; protocol/carried_head.hpp). Otherwise empty.
  std::vector<crypto::Bytes> decisionHeads{};
};

struct DeliveryPage {
  std::vector<Delivery> items;
  bool more = false;
};

struct RecipientState {
  std::string memberId;
  wire::DeliveryState state = wire::DeliveryState::QUEUED;
  std::int64_t queuedAtMs = 0;
  std::int64_t deliveredAtMs = 0;
  std::int64_t ackedAtMs = 0;
  crypto::Bytes ackHead;  // the sealed head the recipient's ack carried (still unchecked); empty = none
};

struct DirectoryListing {
  std::vector<MemberRecord> members;
  SignedHeadBytes head;
};

struct LogEntryRecord {
  std::uint64_t index = 0;
  std::int64_t recordedAtMs = 0;
  std::string authorId;
  crypto::Bytes authorKey;
  crypto::Bytes event;       // LogEvent bytes
  crypto::Bytes signature;
};

struct LogPageResult {
  std::vector<LogEntryRecord> entries;
  SignedHeadBytes head;
};

struct AuditRow {
  std::uint64_t index = 0;
  std::int64_t timeMs = 0;
  std::string event;
  std::string actor;
  std::string remote;
  std::string detail;
  crypto::Bytes hash;
};

class VerifiedLog;

struct AdminOutcome {
  std::uint64_t index = 0;
  SignedHeadBytes head;
};

// (bytes done, bytes total)
using ProgressFn = std::function<void(std::uint64_t, std::uint64_t)>;
// Fills `out` with the blob bytes at `offset`; returns how many were read
// (less than out.size() only at the end of the blob).
using BlobReader = std::function<std::size_t(std::uint64_t offset, std::span<std::uint8_t> out)>;
// Receives the blob bytes in order.
using BlobSink = std::function<void(crypto::ByteView)>;

class Connection {
 public:
  explicit Connection(ConnectOptions options = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // TCP + TLS 1.3 to host:port; the only trust anchor is `caFile`, and the
  // certificate must name `host` (DNS name or IP address) in its SAN.
  void connect(const std::string& host, std::uint16_t port, const std::filesystem::path& caFile);
  // Reads the Challenge, signs it bound to this TLS session, expects
  // Authenticated. Keeps a copy of the identity secret for ack() and admin().
  const SessionInfo& authenticate(const crypto::Keyring& keys);

  AcceptedInfo send(const protocol::SealedBulletin& bulletin);
  // Writes bulletins back to back (up to pipelineWindow in flight) and reads
  // every answer; one outcome per bulletin, in order.
  std::vector<SendOutcome> sendPipelined(std::span<const protocol::SealedBulletin> bulletins);

  DeliveryPage fetch(std::uint64_t afterSeq, std::uint32_t limit = protocol::MaxFetchPage);
  void subscribe();
  // The next pushed delivery, waiting at most `timeout` (zero: only what has
  // already arrived). nullopt when none arrived in time; the connection stays
  // usable.
  std::optional<Delivery> nextPush(std::chrono::milliseconds timeout);
  std::size_t droppedPushes() const { return droppedPushes_; }

  // Signs AckBody batches (<= MaxAckBatch ids each) under context::Ack.
  // With `sealedHeads` (one per id, protocol/carried_head.hpp) each id
  // carries its sealed head (batches of MaxAckBatchWithHeads). Returns how
  // many queue entries the hub removed.
  std::uint32_t ack(std::span<const crypto::BulletinId> ids, std::span<const crypto::Bytes> sealedHeads = {});
  // Each recipient's state. A bulletin the hub purged under its retention
  // policy has none, and *purgedAtMs (when given) is set to the purge time
  // (else 0).
  std::vector<RecipientState> status(const crypto::BulletinId& id, std::int64_t* purgedAtMs = nullptr);
  DirectoryListing directory();
  LogPageResult log(std::uint64_t from, std::uint32_t limit = protocol::MaxLogPage);
  // Sets the event's position (log v2, PROTOCOL.md §11.1) from the verified
  // log (synced first when there is none yet), signs it under
  // context::LogEvent with the session's identity and submits it. On
  // stalePosition (another entry landed first) it syncs the log and tries
  // again, MaxAdminAttempts times in all; the last refusal is thrown.
  AdminOutcome admin(capnp::MessageBuilder& event);
  static constexpr int MaxAdminAttempts = 3;
  // Audit trail rows from `from` (admins only).
  std::vector<AuditRow> audit(std::uint64_t from, std::uint32_t limit = protocol::MaxLogPage);
  // The directory log verified on this connection (HubDirectory::fetch
  // brings it up to date; CliContext seeds it from the profile).
  const std::shared_ptr<VerifiedLog>& verifiedLog() const { return verifiedLog_; }
  void setVerifiedLog(std::shared_ptr<VerifiedLog> log) { verifiedLog_ = std::move(log); }
  void ping();

  // Working-group records (protocol/records.hpp builds and signs them).
  RecordedInfo forward(const protocol::SignedRecordBytes& record);
  RecordedInfo permit(const protocol::SignedRecordBytes& record);
  RecordedInfo retract(const protocol::SignedRecordBytes& record);
  RecordedInfo comment(const protocol::SignedRecordBytes& record);
  RecordStatusInfo recordStatus(const crypto::BulletinId& recordId);
  RecordedInfo propose(const protocol::SignedRecordBytes& record);
  // With `sealedHead` (protocol/carried_head.hpp) as decideWithHead.
  RecordedInfo decide(const protocol::SignedRecordBytes& record, const std::optional<crypto::Bytes>& sealedHead = std::nullopt);
  // A witness's cosignature of the hub's head (PROTOCOL.md §11.6); the
  // hub's time of acceptance.
  std::int64_t cosign(const protocol::Cosignature& cosignature);
  std::vector<ProposalListing> listProposals();
  // Meetings (PROTOCOL.md §12.8): the secretariat's Meeting record; the
  // records of the meetings this member takes part in, unverified
  // (client/meetings.hpp verifies them against the log).
  RecordedInfo createMeeting(const protocol::SignedRecordBytes& record);
  std::vector<RawRecord> listMeetings();
  // The work programme: an item with its sealed text, an update with its
  // optional note, the listing, and reminders (subscribeActions, then
  // nextReminder returns what already arrived, in order).
  RecordedInfo addAction(const protocol::SignedRecordBytes& record, const protocol::SealedBulletin& text);
  RecordedInfo updateAction(const protocol::SignedRecordBytes& record, const protocol::SealedBulletin* note);
  ActionListing listActions();
  void subscribeActions();
  std::optional<ActionReminderInfo> nextReminder();

  // Streams a blob: beginUpload (the hub answers the offset to resume
  // from), then chunks of <= MaxChunkBytes, chunkWindow in flight.
  void uploadBlob(const BlobReader& read, std::uint64_t size, const crypto::Hash256& blobHash,
                  const ProgressFn& progress = {});
  // Streams a blob of a bulletin we received, in order, to `sink`. `size` is
  // the signed size from the header; a hub that reports another size fails.
  void downloadBlob(const crypto::BulletinId& bulletin, const crypto::Hash256& blobHash, std::uint64_t size,
                    const BlobSink& sink, const ProgressFn& progress = {});

  // Low level, for tests and tools: raw bytes on the TLS stream, and the next
  // frame of any kind (nullopt on timeout).
  void sendRawBytes(crypto::ByteView bytes);
  std::optional<protocol::Parsed<wire::ServerFrame>> receiveFrame(std::chrono::milliseconds timeout);

  bool isOpen() const;
  void close();
  const SessionInfo& session() const { return session_; }
  // The TLS exporter value (RFC 9266 channel binding) of this connection.
  crypto::Bytes channelBinding();

 private:
  using Clock = std::chrono::steady_clock;
  using Frame = protocol::Parsed<wire::ServerFrame>;

  // One admin request, the event signed as it is.
  AdminOutcome adminAt(capnp::MessageBuilder& event);
  Clock::time_point deadline() const { return Clock::now() + options_.timeout; }
  bool drive(const bool& done, Clock::time_point deadline, bool closeOnTimeout);
  void writeBytes(crypto::ByteView bytes);
  // Serialises the frame with a fresh id; returns the id.
  std::uint64_t writeRequest(capnp::MallocMessageBuilder& message, wire::ClientFrame::Builder frame);
  // The one shape of every request: `build(wire::ClientFrame::Builder)` fills
  // the frame, which is written with a fresh id. startRequest returns the id
  // (pipelined callers take the response later); request waits for the
  // response, which must be `expected` (else TransportError(Protocol)
  // naming `what`), and returns `extract(wire::ServerFrame::Reader)`, run
  // while the frame is alive. Defined in connection.cpp, used only there.
  template <class Build>
  std::uint64_t startRequest(Build&& build);
  template <class Build, class Extract>
  auto request(wire::ServerFrame::Which expected, const char* what, Build&& build, Extract&& extract);
  // Reads more bytes; false on soft timeout (hard timeouts throw).
  bool fillSome(Clock::time_point deadline, bool soft);
  std::optional<Frame> readFrame(Clock::time_point deadline, bool soft);
  // Reads until the response to `id` arrives; buffers pushes; throws HubError.
  Frame takeResponse(std::uint64_t id);
  Frame takeResponse(std::uint64_t id, wire::ServerFrame::Which expected, const char* what);
  void bufferPush(wire::Delivery::Reader d);
  void bufferReminder(wire::ActionReminder::Reader r);
  [[noreturn]] void fail(TransportError::Kind kind, const std::string& what);
  // A connection-level refusal (id 0): the hub closes after it, so do we.
  [[noreturn]] void failWithHubError(wire::Error::Reader error);
  void requireAuthenticated() const;
  RecordedInfo submitRecord(wire::ClientFrame::Which kind, const protocol::SignedRecordBytes& record,
                            crypto::ByteView sealedHead = {});

  ConnectOptions options_;
  net::io_context ioc_;
  std::optional<ssl::context> tls_;
  std::optional<ssl::stream<net::ip::tcp::socket>> stream_;
  bool broken_ = false;
  std::vector<std::uint8_t> rbuf_;
  std::uint64_t nextId_ = 1;
  std::set<std::uint64_t> pending_;
  std::map<std::uint64_t, Frame> stash_;
  std::deque<Delivery> pushes_;
  std::deque<ActionReminderInfo> reminders_;
  std::size_t droppedPushes_ = 0;
  SessionInfo session_;
  bool authenticated_ = false;
  std::shared_ptr<const crypto::SecretKeyOps> keyOps_;  // set by authenticate(): signs acks and admin events
  std::shared_ptr<VerifiedLog> verifiedLog_;
};

}  // namespace focal::client

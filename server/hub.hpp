// The hub: listener, session registry, directory, and the composition
// root of the request services (ARCHITECTURE.md, "Services"): it builds
// the LogAppender, the bulletin, records, consensus and admin services, the
// silence procedure and the RequestHandler, each with exactly what it
// needs, and hands sessions a SessionContext. Nothing it owns calls back
// into it except through the narrow interfaces it implements
// (DeliveryNotifier, MemberSessions, SessionRegistry) and the stop callback
// the LogAppender is given. Created and wired by main(); lives for the
// whole io_context run; every coroutine it spawns takes it by pointer and
// the Hub outlives them (main destroys it only after io_context::run
// returned).
//
// Threads (ARCHITECTURE.md): everything here runs on the one io thread,
// except the CommitQueue's writer thread, which only touches SQLite and
// hands results back by posting to the io thread.
#pragma once

#include "crypto/primitives.hpp"
#include "server/admin_service.hpp"
#include "server/async_mutex.hpp"
#include "server/audit_trail.hpp"
#include "server/auth_failure_limiter.hpp"
#include "server/bulletin_service.hpp"
#include "server/clock.hpp"
#include "server/commit_queue.hpp"
#include "server/config.hpp"
#include "server/consensus_service.hpp"
#include "server/witness_service.hpp"
#include "server/directory.hpp"
#include "server/hub_error.hpp"
#include "server/log_appender.hpp"
#include "server/metrics.hpp"
#include "server/net.hpp"
#include "server/action_service.hpp"
#include "server/records_service.hpp"
#include "server/request_handler.hpp"
#include "server/service_ports.hpp"
#include "server/session.hpp"
#include "server/silence_procedure.hpp"
#include "server/store.hpp"
#include "server/token_bucket.hpp"
#include "server/verify_pool.hpp"

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace focal::server {

class Hub final : public DeliveryNotifier, public MemberSessions, public SessionRegistry, public ReminderPusher {
 public:
  // At most this many admin requests wait for the directory lock.
  static constexpr std::size_t MaxAdminWaiters = 64;
  // Delivered-marks waiting for the writer; beyond it they are dropped
  // (delivered_at is informational; the queue itself is untouched).
  static constexpr std::size_t MaxPendingDeliveredMarks = 1'000'000;
  // How long delivered-marks gather before they go to the writer (so that
  // they do not cost a commit of their own per push); each keeps its own
  // time, and status reports it meanwhile (mergeUncommittedMarks).
  static constexpr std::chrono::milliseconds DeliveredMarkDelay{25};
  // Then they wait for a group of other writes to ride in (CommitQueue::
  // submitDeferred), for at most this long.
  static constexpr std::chrono::milliseconds DeliveredMarkMaxDelay{500};
  // The audit trail event that records focal.toml's member states.
  static constexpr const char* MemberStatesAuditEvent = "config.member-states";
  // How long shutdown waits for in-flight requests and sessions.
  static constexpr std::chrono::milliseconds ShutdownGrace{10'000};
  static constexpr std::chrono::hours PurgeInterval{1};

  // Refusals. A connection over a cap (the global max_connections, or
  // max_unauthenticated_per_source for its address) is told why with the
  // typed error tooManyConnections, which the protocol sends inside TLS: a
  // refusal costs a TLS handshake. So refusals are a budget of their own:
  // at most MaxRefusingSessions at once, each given RefusalDeadline to
  // finish its handshake, and at most RefusalsPerSecond (burst
  // RefusalBurst) handshakes; beyond it a connection is closed at once,
  // before its handshake (a flood costs an accept and a close; the peer
  // may see a reset). Refusing sessions count against neither cap.
  static constexpr std::size_t MaxRefusingSessions = 64;
  static constexpr std::chrono::milliseconds RefusalDeadline = Session::RefusalDeadline;
  static constexpr double RefusalsPerSecond = 100;
  static constexpr double RefusalBurst = 200;
  // How long a refused peer is told to wait (Error.retryAfterMs).
  static constexpr std::uint32_t RefusalRetryAfterMs = 1000;

  // The key connections are counted under: the address, IPv6 reduced to
  // its /64 (one host usually owns a whole /64), IPv4-mapped as IPv4.
  static std::string sourceKey(const net::ip::address& address);

  Hub(net::io_context& io, Config config, Clock& clock, Store& store, CommitQueue& commits, Directory directory,
      crypto::SigningKeyPair hubKey, ssl::context& tls);
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Binds and listens; returns the bound endpoint (port 0 gives the real
  // port). Throws boost::system::system_error.
  net::ip::tcp::endpoint listen(const std::string& host, std::uint16_t port);
  // Starts accepting and the background tasks.
  void start();
  // Stops accepting, lets in-flight requests finish (their commits complete
  // and are answered), closes every session, then stops the CommitQueue.
  // After that the io_context runs out of work. Idempotent.
  void stop();
  bool stopping() const override { return stopping_; }

  const Config& config() const { return config_; }
  const Limits& limits() const { return config_.limits; }
  const crypto::SigningKeyPair& hubKey() const { return hubKey_; }

  // At start: compares focal.toml's member states with the list the audit
  // trail last recorded, and records a change (additions, removals) there
  // and in the log; warns about members whose state is not listed.
  void auditMemberStates();

  // ---- registry (SessionRegistry, called by sessions) ----
  // Registers an authenticated session; false when the member is at its
  // connection cap. On success the session stops counting against its
  // source's cap of unauthenticated connections.
  bool admit(const std::shared_ptr<Session>& session) override;
  void sessionEnded(const Session& session) override;

  // ---- DeliveryNotifier and MemberSessions (called by the services) ----
  void pushDeliveries(const std::vector<QueuedDelivery>& queued, std::int64_t queuedAtMs, crypto::ByteView header,
                      crypto::ByteView signature, crypto::ByteView ciphertext, const StoredRecord* forward = nullptr,
                      const StoredRecord* retraction = nullptr) override;
  void enforceDirectory(const std::string& memberId) override;
  // Work programme reminders (ReminderPusher): to the sessions of
  // `memberIds` that sent subscribeActions.
  std::size_t pushReminder(const std::vector<std::string>& memberIds, const crypto::Bytes& frame) override;
  // Delivered marks are batched through the writer; until that commits,
  // mergeUncommittedMarks() reports them.
  void markDelivered(const std::vector<std::int64_t>& seqs) override;
  // Fills in the delivered time of entries whose mark is gathered or
  // waiting in the writer but not committed yet, so that `status` tells at
  // once what the hub did (PROTOCOL.md §10). The time is the one the writer
  // will commit. Cost: one pass over the uncommitted marks (at most
  // MaxPendingDeliveredMarks, normally what 25 + 500 ms of pushes made).
  void mergeUncommittedMarks(BulletinStatus& status) const override;

  std::size_t connections() const { return connections_; }
  // What the io thread counts, for the metrics listener (any thread).
  const HubMetrics& metrics() const { return metrics_; }
  // Unauthenticated connections now open from `source` (a sourceKey).
  std::uint32_t unauthenticatedFrom(const std::string& source) const;

  // SIGHUP: loads the TLS certificate and key focal.toml names again (the
  // same files) and, when they load, match and are valid now, gives them
  // to every connection accepted from here on; sessions keep theirs. On
  // any problem the current ones stay. Logs the outcome either way; true
  // when the new ones took effect.
  bool reloadTls();

  // How often the silence procedure looks for comment deadlines that
  // passed (SilenceProcedure::setPoll).
  void setDeadlinePoll(std::chrono::milliseconds every) { silence_.setPoll(every); }
  // How often garbage and retention purges run (PurgeInterval; tests under
  // a test clock poll faster).
  void setPurgePoll(std::chrono::milliseconds every) { purgeEvery_ = every; }

 private:
  static net::awaitable<void> acceptLoop(Hub* hub);
  // A connection over a cap: a refusing session within the refusal budget,
  // else closed at once.
  void refuse(net::ip::tcp::socket socket, const std::string& source, HubError why, HubMetrics::Refusal cap);
  void releaseSource(const std::string& source);
  static net::awaitable<void> flushDelivered(Hub* hub);
  static net::awaitable<void> purgeLoop(Hub* hub);
  // Retention (focal.toml [retention]): batches of Store::purgeExpired, one
  // commit each, until nothing is due.
  static net::awaitable<void> purgeRetention(Hub* hub, std::int64_t nowMs);
  static net::awaitable<void> heartbeatLoop(Hub* hub);
  static net::awaitable<void> drain(Hub* hub);

  net::io_context& io_;
  Config config_;
  Clock& clock_;
  Store& store_;
  CommitQueue& commits_;
  Directory directory_;
  crypto::SigningKeyPair hubKey_;
  ServerTls tls_;
  net::ip::tcp::acceptor acceptor_;
  net::steady_timer purgeTimer_;
  net::steady_timer markTimer_;
  net::steady_timer heartbeatTimer_;
  AuthFailureLimiter authFailures_;
  AsyncMutex adminMutex_;
  VerifyPool verifier_;
  RequestGauge requests_;
  HubMetrics metrics_;
  AuditTrail audit_;
  LogAppender log_;
  SilenceProcedure silence_;
  BulletinService bulletins_;
  RecordsService records_;
  ConsensusService consensus_;
  AdminService admin_;
  WitnessService witness_;
  ActionService actions_;
  RequestHandler handler_;
  SessionContext sessionContext_;

  bool stopping_ = false;
  std::chrono::milliseconds purgeEvery_ = PurgeInterval;
  std::uint64_t nextSessionId_ = 1;
  std::size_t connections_ = 0;
  // The hub's own writes in flight (delivered marks; the silence
  // procedure counts its own): shutdown waits for them as for requests, but
  // they are not counted in requests_: a delivered-marks round is in flight
  // for most of every second under load, and counted there it would send
  // every verification to the pool and back (two thread hand-offs each).
  std::size_t tasksInFlight_ = 0;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> sessions_;
  std::unordered_map<std::string, std::vector<std::weak_ptr<Session>>> byMember_;
  std::vector<DeliveredMark> pendingDelivered_;
  // The round handed to the writer and not yet committed (null when none);
  // read by the io thread and the writer, written by neither.
  std::shared_ptr<const std::vector<DeliveredMark>> inFlightDelivered_;
  // Unauthenticated sessions per source; an entry exists only while > 0, so
  // the map holds at most max_connections entries.
  std::unordered_map<std::string, std::uint32_t> unauthenticatedBySource_;
  std::size_t refusing_ = 0;
  TokenBucket refusalBudget_{RefusalsPerSecond, RefusalBurst};
  // Refusals since the last log line about them (logged at most every 10 s).
  std::uint64_t refusedWithError_ = 0;
  std::uint64_t refusedClosed_ = 0;
  bool flushRunning_ = false;
  bool droppedMarksLogged_ = false;
  std::chrono::steady_clock::time_point lastRefusalLog_{};
};

}  // namespace focal::server

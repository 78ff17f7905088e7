// One client connection, from TCP accept to close.
//
// Ownership: a Session is owned by its own coroutines (run, writer,
// watchdog, and one serve per request in flight) through shared_ptr; the
// Hub's registry holds only weak_ptrs. Everything runs on the io thread, so
// no member is ever touched concurrently.
//
// Lifecycle and deadlines (every wait has one; values from [limits]):
//   handshake        TLS 1.3 handshake within handshakeTimeoutMs, else closed
//   unauthenticated  Challenge sent; Authenticate must arrive and verify
//                    within unauthenticatedTimeoutMs of accept, else
//                    error `timeout`. Any other request: `unauthenticated`.
//   authenticated    requests until idleTimeoutMs without one (`timeout`)
//   frame body       once a length prefix arrived, the body within
//                    readTimeoutMs (`timeout`)
//   writes           each write to the peer within writeTimeoutMs, else
//                    closed (a peer that does not read)
//   closing          after a final error frame is queued, CloseGraceMs to
//                    flush it before the socket is closed regardless;
//                    refusals before authentication close as soon as the
//                    frame is flushed (refuseWith)
//
// SECURITY: a frame's length prefix is checked (protocol::frameLength)
// before its body is allocated or read; a frame over the limit gets
// frameTooLarge and the connection is closed without reading the body.
// Before authentication the limit is protocol::MaxUnauthenticatedFrameBytes
// (4 KiB), after it [limits] max_frame_bytes. Bodies are read BodyReadStep
// at a time into a buffer that grows as bytes arrive, so memory follows
// what a peer sent, not what its length prefix promised.
// Malformed frames get malformedFrame and close. Requests are rate limited
// per session (token bucket) and pipelined up to maxInflightRequests.
//
// Outbound: responses and pushes go through one queue capped in bytes and
// frames; the writer coroutine drains it, sleeping on a timer that send()
// cancels. A push that would overflow the cap makes the session a slow
// consumer: error slowConsumer, then close. Nothing is lost: deliveries
// stay queued in the store until acknowledged.
#pragma once

#include "crypto/types.hpp"
#include "protocol/message.hpp"
#include "server/hub_error.hpp"
#include "server/service_ports.hpp"
#include "server/net.hpp"
#include "server/tls.hpp"
#include "server/tls_stream.hpp"
#include "server/token_bucket.hpp"

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

namespace focal::server {

class AuthFailureLimiter;
class Clock;
class Directory;
struct HubMetrics;
class RequestHandler;
class Session;
struct Limits;

// The registry a session reports to (the Hub): admission of an
// authenticated session against its member's cap, its end, and shutdown.
class SessionRegistry {
 public:
  // False when the member is at its connection cap.
  virtual bool admit(const std::shared_ptr<Session>& session) = 0;
  virtual void sessionEnded(const Session& session) = 0;
  virtual bool stopping() const = 0;

 protected:
  ~SessionRegistry() = default;
};

// What a session is given at construction (owned by the Hub, which
// outlives every session).
struct SessionContext {
  ServerTls& tls;  // the context at accept time is the session's for life
  const Limits& limits;
  const Directory& directory;  // the hub's id and key, members' keys, the head
  Clock& clock;
  RequestHandler& handler;
  AuthFailureLimiter& authFailures;
  AuditSink& audit;
  RequestGauge& requests;
  SessionRegistry& registry;
  HubMetrics& metrics;  // authentications, rate limits, slow consumers
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  using Stream = TlsStream;
  using SteadyClock = std::chrono::steady_clock;
  // Time a closing session gets to flush its final error frame.
  static constexpr std::chrono::milliseconds CloseGrace{2000};
  // Frame bodies are read (and their buffer grown) this much at a time.
  static constexpr std::size_t BodyReadStep = 64 * 1024;
  // How long a refused connection has to finish its TLS handshake (Hub::refuse).
  static constexpr std::chrono::milliseconds RefusalDeadline{2000};

  // `source`: the peer's address key (Hub::sourceKey). With `refusal`, the
  // session only completes the TLS handshake (within RefusalDeadline),
  // sends that error and closes: how a connection over a cap is told why.
  Session(const SessionContext& ctx, net::ip::tcp::socket socket, std::uint64_t id, std::string source,
          std::optional<HubError> refusal = std::nullopt);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The connection's main coroutine; returns when the session is over.
  static net::awaitable<void> run(std::shared_ptr<Session> self);

  // Queues a complete frame. False (frame dropped) when the session is
  // closing, or when the frame would overflow the outbound cap, in which
  // case the session closes as a slow consumer.
  bool send(crypto::Bytes frame);
  // Queues a final error frame (exempt from the cap) and closes once it is
  // flushed or CloseGrace has passed. Later calls do nothing.
  // Sends `error` as the last frame, then closes. `requestId` is the id of the
  // request the error answers (PROTOCOL.md §4.1: the request's id wherever
  // the frame decoded), 0 when it answers none.
  void closeWith(HubError error, std::uint64_t requestId = 0);
  // The same, but the socket is closed as soon as the final frame is
  // flushed, without the CloseGrace drain. For peers that are refused
  // before authentication (over a cap, or a length prefix over the
  // pre-authentication limit): a flood of them must not keep 1,000 TLS
  // streams (tens of KiB each while OpenSSL holds its record buffers)
  // alive for two seconds. Input left unread when the socket closes makes the kernel
  // answer with a reset; the error frame already sent stays readable by a
  // Linux peer, and such a peer was not going to be served anyway.
  void refuseWith(HubError error);
  // Closes the socket now. Idempotent.
  void closeNow();
  // Hub shutdown: stop taking requests, answer those in flight, then
  // closeWith(unavailable).
  void beginShutdown();

  std::uint64_t id() const { return id_; }
  const std::string& remote() const { return remote_; }
  // The address key the hub counts this connection under.
  const std::string& source() const { return addressKey_; }
  bool refusing() const { return refusal_.has_value(); }
  bool authenticated() const { return authenticated_; }
  const std::string& memberId() const { return memberId_; }
  const crypto::SigningPublicKey& identityKey() const { return identityKey_; }
  bool subscribed() const { return subscribed_; }
  void subscribe() { subscribed_ = true; }
  // Work programme reminders (PROTOCOL.md §12.10) go only to sessions that
  // asked for them (subscribeActions): a client that does not know the
  // push would take it for a protocol error.
  bool actionsSubscribed() const { return actionsSubscribed_; }
  void subscribeActions() { actionsSubscribed_ = true; }
  bool closing() const { return closing_; }

 private:
  enum class Phase { Handshake, Unauthenticated, Body, Idle, Closing };

  net::awaitable<void> main();
  static net::awaitable<void> writer(std::shared_ptr<Session> self);
  static net::awaitable<void> watchdog(std::shared_ptr<Session> self);
  static net::awaitable<void> serve(std::shared_ptr<Session> self, protocol::Parsed<wire::ClientFrame> frame);

  // Handles the first frame (which must be Authenticate). Synchronous.
  void authenticate(const protocol::Parsed<wire::ClientFrame>& frame);
  void failAuthentication(std::string_view why, std::uint64_t requestId);
  void setDeadline(Phase phase, SteadyClock::time_point when);
  void wakeWatchdogIfEarlier(SteadyClock::time_point when);
  void requestDone();

  const SessionContext& ctx_;
  std::shared_ptr<ssl::context> tls_;  // before stream_: its SSL object was made from it
  Stream stream_;
  std::uint64_t id_;
  std::string remote_;      // "address:port", for logs
  std::string addressKey_;  // address (IPv6: /64): per-source cap, auth failure limiter
  std::optional<HubError> refusal_;
  net::steady_timer watchdogTimer_;
  net::steady_timer writerWake_;
  net::steady_timer slotWake_;

  Phase phase_ = Phase::Handshake;
  SteadyClock::time_point deadline_ = SteadyClock::time_point::max();
  SteadyClock::time_point writeDeadline_ = SteadyClock::time_point::max();
  SteadyClock::time_point watchdogArmedFor_ = SteadyClock::time_point::max();
  SteadyClock::time_point unauthenticatedDeadline_;

  crypto::Challenge nonce_;
  bool authenticated_ = false;
  std::string memberId_;
  crypto::SigningPublicKey identityKey_;
  bool subscribed_ = false;
  bool actionsSubscribed_ = false;

  std::deque<crypto::Bytes> outbox_;
  std::size_t outboxBytes_ = 0;
  bool writerRunning_ = false;

  TokenBucket requests_;
  std::uint32_t inFlight_ = 0;
  bool closing_ = false;
  bool closeWhenFlushed_ = false;  // refuseWith(): no CloseGrace drain
  bool closed_ = false;
  bool shuttingDown_ = false;
};

}  // namespace focal::server

#include "server/session.hpp"

#include "crypto/primitives.hpp"
#include "protocol/signing.hpp"
#include "server/frames.hpp"
#include "server/auth_failure_limiter.hpp"
#include "server/clock.hpp"
#include "server/config.hpp"
#include "server/directory.hpp"
#include "server/request_handler.hpp"
#include "server/identifiers.hpp"
#include "server/metrics.hpp"

#include <kj/exception.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <array>

namespace focal::server {

namespace {

using namespace std::chrono;
using wire::ErrorCode;

Session::SteadyClock::time_point after(std::uint32_t ms) { return Session::SteadyClock::now() + milliseconds(ms); }

// Frames gathered into one TLS write: copied into one buffer of at most
// CoalesceBytes. The stream writes one buffer of a sequence per call
// (TlsStream::async_write_some), so many small frames would each be a TLS
// record and a send(2); one contiguous buffer goes out in full 16 KiB
// records. A frame larger than that is written on its own, uncopied.
constexpr std::size_t MaxFramesPerWrite = 64;
constexpr std::size_t CoalesceBytes = 64 * 1024;

}  // namespace

Session::Session(const SessionContext& ctx, net::ip::tcp::socket socket, std::uint64_t id, std::string source,
                 std::optional<HubError> refusal)
    : ctx_(ctx),
      tls_(ctx.tls.current()),
      stream_(std::move(socket), *tls_),
      id_(id),
      addressKey_(std::move(source)),
      refusal_(std::move(refusal)),
      watchdogTimer_(stream_.get_executor()),
      writerWake_(stream_.get_executor()),
      slotWake_(stream_.get_executor()),
      requests_(ctx.limits.requestsPerSecond, ctx.limits.requestBurst) {
  boost::system::error_code ec;
  const auto ep = stream_.lowest_layer().remote_endpoint(ec);
  remote_ = ec ? "unknown" : formatListenAddress(ep.address().to_string(), ep.port());
}

Session::~Session() = default;

// ---- lifecycle ---------------------------------------------------------------------

net::awaitable<void> Session::run(std::shared_ptr<Session> self) {
  try {
    co_await self->main();
  } catch (const std::exception& e) {
    spdlog::error("session {}: ended by an internal error: {}", self->id_, e.what());
  } catch (...) {
    spdlog::error("session {}: ended by an unknown internal error", self->id_);
  }
  self->closeNow();
  self->ctx_.registry.sessionEnded(*self);
  spdlog::debug("session {}: closed", self->id_);
}

net::awaitable<void> Session::main() {
  auto self = shared_from_this();
  auto ex = co_await net::this_coro::executor;
  const Limits& limits = ctx_.limits;
  unauthenticatedDeadline_ = after(limits.unauthenticatedTimeoutMs);
  auto handshakeDeadline = std::min(after(limits.handshakeTimeoutMs), unauthenticatedDeadline_);
  if (refusal_) {
    handshakeDeadline = std::min(handshakeDeadline, SteadyClock::now() + RefusalDeadline);
  }
  setDeadline(Phase::Handshake, handshakeDeadline);
  net::co_spawn(ex, watchdog(self), net::detached);

  boost::system::error_code ec;
  co_await stream_.async_handshake(net::redirect_error(net::use_awaitable, ec));
  if (ec || closed_) {
    spdlog::debug("session {}: TLS handshake with {} failed: {}", id_, remote_, ec.message());
    co_return;
  }

  writerRunning_ = true;
  net::co_spawn(ex, writer(self), net::detached);
  if (refusal_) {
    // Over a cap: the error is the first and only frame (no challenge),
    // then the usual close (flush, FIN, drain until the peer closes).
    refuseWith(*refusal_);
  } else {
    crypto::randomFill(nonce_.bytes);
    setDeadline(Phase::Unauthenticated, unauthenticatedDeadline_);
    send(frames::challenge(ctx_.directory.hubId(), ctx_.directory.hubKey(), nonce_, ctx_.clock.nowMs()));
  }

  std::array<std::uint8_t, protocol::FrameHeaderBytes> prefix{};
  crypto::Bytes body;
  bool readFailed = false;  // the peer closed (EOF, TLS truncation) or the socket failed
  while (!closing_) {
    co_await net::async_read(stream_, net::buffer(prefix), net::redirect_error(net::use_awaitable, ec));
    if (ec) readFailed = true;
    if (ec || closing_) break;

    // SECURITY: the length is checked against the limit before anything is
    // allocated; an oversized frame's body is never read. Until the peer
    // has authenticated, the limit is the few KiB an authenticate needs:
    // anyone who can connect can send a length prefix.
    const std::uint32_t frameLimit = authenticated_ ? limits.maxFrameBytes : protocol::MaxUnauthenticatedFrameBytes;
    auto length = protocol::frameLength(prefix, frameLimit);
    if (!length) {
      std::string why = length.error().message;
      if (!authenticated_ && length.error().code == ErrorCode::FRAME_TOO_LARGE) {
        why += " before authentication";
        refuseWith(HubError{length.error().code, std::move(why)});
      } else {
        closeWith(HubError{length.error().code, std::move(why)});
      }
      break;
    }
    const auto bodyDeadline = after(limits.readTimeoutMs);
    setDeadline(Phase::Body, authenticated_ ? bodyDeadline : std::min(bodyDeadline, unauthenticatedDeadline_));
    // SECURITY: the body is read in steps of at most BodyReadStep and the
    // buffer grows only as bytes arrive, never to an untrusted length at
    // once: a peer holds at most what it has sent plus one step (a length
    // prefix alone, nothing).
    body.clear();
    while (body.size() < *length) {
      const std::size_t at = body.size();
      const std::size_t step = std::min<std::size_t>(BodyReadStep, *length - at);
      if (at + step > body.capacity()) body.reserve(std::min<std::size_t>(*length, std::max(2 * at, at + step)));
      body.resize(at + step);
      co_await net::async_read(stream_, net::buffer(body.data() + at, step),
                               net::redirect_error(net::use_awaitable, ec));
      if (ec || closing_) break;
    }
    if (ec) readFailed = true;
    if (ec || closing_) break;

    auto parsed = protocol::decode<wire::ClientFrame>(body);
    // decode() copied the frame: a session between frames keeps no large
    // buffer (1,000 idle sessions after one large request each would hold
    // a GiB otherwise).
    if (body.capacity() > BodyReadStep) crypto::Bytes().swap(body);
    if (!parsed) {
      closeWith(HubError{parsed.error().code, parsed.error().message});
      break;
    }
    if (!authenticated_) {
      authenticate(*parsed);
      if (authenticated_) setDeadline(Phase::Idle, after(limits.idleTimeoutMs));
      continue;
    }
    setDeadline(Phase::Idle, after(limits.idleTimeoutMs));

    const std::uint64_t requestId = parsed->root().getId();
    if (shuttingDown_) {
      send(frames::error(requestId, HubError{ErrorCode::UNAVAILABLE, "the hub is shutting down", 1000}));
      continue;
    }
    if (!requests_.take()) {
      ctx_.metrics.requestsRateLimited.add();
      send(frames::error(requestId, HubError{ErrorCode::RATE_LIMITED, "too many requests", requests_.retryAfterMs()}));
      continue;
    }
    // Pipelining depth: wait for a slot. Handlers always finish (reads are
    // synchronous, writes complete when the CommitQueue answers), and the
    // idle deadline still runs meanwhile.
    while (inFlight_ >= limits.maxInflightRequests && !closing_) {
      slotWake_.expires_at(SteadyClock::time_point::max());
      co_await slotWake_.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
    if (closing_) break;
    ++inFlight_;
    ctx_.requests.started();
    net::co_spawn(ex, serve(self, std::move(parsed).value()), net::detached);
  }

  // The peer is gone: nothing more will be read and no reply can reach it.
  // Close now. (Reading again would not help: after a TLS truncation, a
  // second read on the stream never completes, and the socket would sit in
  // CLOSE-WAIT, counting against the member's connection limit, until the
  // idle timeout.)
  if (readFailed) {
    spdlog::debug("session {}: peer closed: {}", id_, ec.message());
    co_return;
  }

  // We are closing: keep reading (and discarding) until the peer closes or
  // the watchdog's grace period ends, so the final error frame is not lost
  // to a TCP reset caused by unread input.
  // On the heap, and only here: an array in main()'s frame would cost every
  // open session 4 KiB for as long as it lives.
  auto scratch = std::make_unique<std::array<std::uint8_t, 4096>>();
  while (!closed_) {
    co_await stream_.async_read_some(net::buffer(*scratch), net::redirect_error(net::use_awaitable, ec));
    if (ec) break;
  }
}

net::awaitable<void> Session::serve(std::shared_ptr<Session> self, protocol::Parsed<wire::ClientFrame> frame) {
  std::uint64_t requestId = 0;
  std::optional<Result<crypto::Bytes>> reply;
  std::optional<HubError> fatal;
  try {
    requestId = frame.root().getId();
    if (requestId == 0) {
      reply.emplace(fail(ErrorCode::INVALID_REQUEST, "request id 0 is reserved for server pushes"));
    } else {
      reply.emplace(co_await self->ctx_.handler.handle(self, frame));
    }
  } catch (const kj::Exception& e) {
    // SECURITY: a field that does not read as the schema says. decode()
    // walked the message, so this should not happen; treat as malformed.
    fatal = HubError{ErrorCode::MALFORMED_FRAME, "malformed request"};
  } catch (const std::exception& e) {
    spdlog::error("session {}: request {} failed: {}", self->id_, requestId, e.what());
    reply.emplace(fail(ErrorCode::INTERNAL, "internal error"));
  }
  if (fatal) {
    self->closeWith(*fatal, requestId);
  } else if (reply && reply->ok()) {
    // Our own replies respect the peer's frame limit; a reply that would
    // not (a directory of thousands of members) is our bug, reported as such.
    if (reply->value().size() > protocol::FrameHeaderBytes + protocol::MaxFrameBytes) {
      spdlog::error("session {}: reply to request {} too large ({} bytes)", self->id_, requestId,
                    reply->value().size());
      self->send(frames::error(requestId, HubError{ErrorCode::INTERNAL, "reply too large", 0}));
    } else {
      self->send(std::move(reply->value()));
    }
  } else if (reply) {
    const HubError& e = reply->error();
    spdlog::debug("session {}: request {} refused: {} {}", self->id_, requestId, protocol::errorName(e.code),
                  e.message);
    self->send(frames::error(requestId, e));
  }
  self->requestDone();
}

void Session::requestDone() {
  --inFlight_;
  ctx_.requests.finished();
  slotWake_.cancel();
  if (shuttingDown_ && inFlight_ == 0) {
    closeWith(HubError{ErrorCode::UNAVAILABLE, "the hub is shutting down", 1000});
  }
}

void Session::beginShutdown() {
  shuttingDown_ = true;
  if (inFlight_ == 0) closeWith(HubError{ErrorCode::UNAVAILABLE, "the hub is shutting down", 1000});
}

// ---- authentication ----------------------------------------------------------------

void Session::failAuthentication(std::string_view why, std::uint64_t requestId) {
  ctx_.metrics.authentication(HubMetrics::Auth::Failure);
  ctx_.authFailures.recordFailure(addressKey_);
  ctx_.audit.audit("auth.failure", "-", remote_, std::string(why));
  spdlog::info("session {}: authentication from {} failed: {}", id_, remote_, why);
  closeWith(HubError{ErrorCode::UNAUTHENTICATED, "authentication failed"}, requestId);
}

void Session::authenticate(const protocol::Parsed<wire::ClientFrame>& frame) {
  const auto f = frame.root();
  // Every refusal below answers this request: it carries the request's id
  // (PROTOCOL.md §4.1), except for an id of 0, which is never a request's.
  if (f.getId() == 0) {
    ctx_.metrics.authentication(HubMetrics::Auth::Other);
    closeWith(HubError{ErrorCode::INVALID_REQUEST, "request id 0 is reserved for server pushes"});
    return;
  }
  if (f.which() != wire::ClientFrame::AUTHENTICATE) {
    ctx_.metrics.authentication(HubMetrics::Auth::Other);
    closeWith(HubError{ErrorCode::UNAUTHENTICATED, "authenticate first"}, f.getId());
    return;
  }
  if (const auto wait = ctx_.authFailures.blockedForMs(addressKey_); wait > 0) {
    ctx_.metrics.authentication(HubMetrics::Auth::RateLimited);
    closeWith(HubError{ErrorCode::RATE_LIMITED, "too many failed authentications from this address", wait}, f.getId());
    return;
  }
  const auto a = f.getAuthenticate();
  if (a.getVersion() != wire::PROTOCOL_VERSION) {
    ctx_.metrics.authentication(HubMetrics::Auth::Other);
    closeWith(HubError{ErrorCode::UNSUPPORTED_VERSION, "this hub speaks protocol version 1"}, f.getId());
    return;
  }
  // SECURITY: lengths before anything else; the member id is checked for
  // syntax before it reaches a log line or a map lookup.
  const auto memberId = protocol::view(a.getMemberId());
  if (!validMemberId(memberId)) return failAuthentication("invalid member id syntax", f.getId());
  const auto key = crypto::SigningPublicKey::fromBytes(protocol::view(a.getIdentityKey()));
  const auto sig = crypto::Signature::fromBytes(protocol::view(a.getSignature()));
  if (!key || !sig) return failAuthentication("key or signature of the wrong length", f.getId());

  std::array<std::uint8_t, protocol::context::TlsExporterBytes> exporter{};
  const auto& label = protocol::context::TlsExporterLabel;
  if (SSL_export_keying_material(stream_.native_handle(), exporter.data(), exporter.size(), label.data(),
                                 label.size(), nullptr, 0, 0) != 1) {
    spdlog::error("session {}: TLS exporter unavailable", id_);
    closeWith(HubError{ErrorCode::INTERNAL, "internal error"}, f.getId());
    return;
  }
  const Directory& dir = ctx_.directory;
  // The signature is checked first, against the key the client presents:
  // without that key's secret, a prober learns nothing about which member
  // ids exist or are revoked.
  const auto message = protocol::authMessage(nonce_, exporter, dir.hubKey(), memberId);
  if (!crypto::verify(protocol::context::Auth, message, *sig, *key)) {
    return failAuthentication("bad signature", f.getId());
  }
  const MemberRecord* member = dir.find(memberId);
  if (member == nullptr) return failAuthentication("unknown member " + std::string(memberId), f.getId());
  if (member->memberRevoked || member->isRevokedKey(key->view())) {
    ctx_.metrics.authentication(HubMetrics::Auth::Revoked);
    ctx_.authFailures.recordFailure(addressKey_);
    ctx_.audit.audit("auth.revoked", std::string(memberId), remote_, "revoked member or key");
    spdlog::info("session {}: revoked member or key {} refused", id_, memberId);
    closeWith(HubError{ErrorCode::REVOKED_KEY, "this member or key is revoked"}, f.getId());
    return;
  }
  if (!(member->identityKey == *key)) {
    return failAuthentication("not the current key of " + std::string(memberId), f.getId());
  }
  if (!member->active()) {
    ctx_.metrics.authentication(HubMetrics::Auth::Revoked);
    closeWith(HubError{ErrorCode::REVOKED_KEY, "this member's encryption key is revoked; rotate it"});
    return;
  }
  if (ctx_.registry.stopping()) {
    ctx_.metrics.authentication(HubMetrics::Auth::Other);
    closeWith(HubError{ErrorCode::UNAVAILABLE, "the hub is shutting down", 1000}, f.getId());
    return;
  }
  memberId_ = std::string(memberId);
  identityKey_ = *key;
  if (!ctx_.registry.admit(shared_from_this())) {
    memberId_.clear();
    ctx_.metrics.authentication(HubMetrics::Auth::MemberCap);
    closeWith(HubError{ErrorCode::TOO_MANY_CONNECTIONS, "too many connections for this member", 1000}, f.getId());
    return;
  }
  authenticated_ = true;
  ctx_.metrics.authentication(HubMetrics::Auth::Success);
  spdlog::info("session {}: {} authenticated from {}", id_, memberId_, remote_);
  send(frames::authenticated(f.getId(), memberId_, ctx_.clock.nowMs(), dir.head()));
}

// ---- outbound ---------------------------------------------------------------------

bool Session::send(crypto::Bytes frame) {
  if (closing_) return false;
  const Limits& limits = ctx_.limits;
  if (outboxBytes_ + frame.size() > limits.outboundQueueBytes || outbox_.size() >= limits.outboundQueueFrames) {
    ctx_.metrics.slowConsumers.add();
    spdlog::warn("session {}: {} is a slow consumer ({} frames, {} bytes queued); closing", id_,
                 memberId_.empty() ? remote_ : memberId_, outbox_.size(), outboxBytes_);
    // Frames not yet handed to the socket are dropped so the error is next
    // in line; pushed bulletins stay queued in the store until acknowledged.
    for (const auto& f : outbox_) outboxBytes_ -= f.size();
    outbox_.clear();
    closeWith(HubError{ErrorCode::SLOW_CONSUMER,
                       "your receive queue overflowed; reconnect and fetch, nothing was lost"});
    return false;
  }
  outboxBytes_ += frame.size();
  outbox_.push_back(std::move(frame));
  writerWake_.cancel();
  return true;
}

void Session::closeWith(HubError error, std::uint64_t requestId) {
  if (closing_) return;
  spdlog::debug("session {}: closing with {}: {}", id_, protocol::errorName(error.code), error.message);
  // The final frame bypasses the cap: it is small and the last one.
  auto frame = frames::error(requestId, error);
  outboxBytes_ += frame.size();
  outbox_.push_back(std::move(frame));
  closing_ = true;
  phase_ = Phase::Closing;
  deadline_ = SteadyClock::now() + CloseGrace;
  wakeWatchdogIfEarlier(deadline_);
  writerWake_.cancel();
  slotWake_.cancel();
  if (!writerRunning_) closeNow();  // handshake not finished: nothing can be sent
}

void Session::refuseWith(HubError error) {
  if (closing_) return;
  closeWhenFlushed_ = true;
  closeWith(std::move(error));
}

void Session::closeNow() {
  if (closed_) return;
  closed_ = true;
  closing_ = true;
  boost::system::error_code ec;
  stream_.lowest_layer().shutdown(net::ip::tcp::socket::shutdown_both, ec);
  stream_.lowest_layer().close(ec);
  watchdogTimer_.cancel();
  writerWake_.cancel();
  slotWake_.cancel();
}

net::awaitable<void> Session::writer(std::shared_ptr<Session> self) {
  boost::system::error_code ec;
  std::vector<crypto::Bytes> batch;
  crypto::Bytes joined;  // grown on demand, given back when the session goes quiet
  while (!self->closed_) {
    if (self->outbox_.empty()) {
      if (self->closing_) {
        // Everything, the final error included, is written: send FIN and let
        // the reader see the peer close (or the watchdog end it).
        self->stream_.lowest_layer().shutdown(net::ip::tcp::socket::shutdown_send, ec);
        if (self->closeWhenFlushed_) self->closeNow();  // refused: no drain, the stream is freed now
        break;
      }
      self->writerWake_.expires_at(SteadyClock::time_point::max());
      co_await self->writerWake_.async_wait(net::redirect_error(net::use_awaitable, ec));
      continue;
    }
    batch.clear();
    std::size_t bytes = 0;
    while (!self->outbox_.empty() && batch.size() < MaxFramesPerWrite &&
           (batch.empty() || bytes + self->outbox_.front().size() <= CoalesceBytes)) {
      bytes += self->outbox_.front().size();
      batch.push_back(std::move(self->outbox_.front()));
      self->outbox_.pop_front();
    }
    net::const_buffer out = net::buffer(batch.front());
    if (batch.size() > 1) {
      joined.clear();
      joined.reserve(bytes);  // one allocation, not a regrowth (and copy) per doubling
      for (const auto& f : batch) joined.insert(joined.end(), f.begin(), f.end());
      out = net::buffer(joined);
    }
    self->writeDeadline_ = after(self->ctx_.limits.writeTimeoutMs);
    self->wakeWatchdogIfEarlier(self->writeDeadline_);
    co_await net::async_write(self->stream_, out, net::redirect_error(net::use_awaitable, ec));
    self->writeDeadline_ = SteadyClock::time_point::max();
    self->outboxBytes_ -= bytes;
    // An idle session keeps no write buffer (1000 idle sessions would hold
    // 64 MiB of them).
    if (self->outbox_.empty()) crypto::Bytes().swap(joined);
    if (ec) {
      spdlog::debug("session {}: write failed: {}", self->id_, ec.message());
      self->closeNow();
      break;
    }
  }
  self->writerRunning_ = false;
}

// ---- deadlines ----------------------------------------------------------------------

void Session::setDeadline(Phase phase, SteadyClock::time_point when) {
  if (phase_ == Phase::Closing) return;
  phase_ = phase;
  deadline_ = when;
  wakeWatchdogIfEarlier(when);
}

void Session::wakeWatchdogIfEarlier(SteadyClock::time_point when) {
  if (when < watchdogArmedFor_) watchdogTimer_.cancel();
}

net::awaitable<void> Session::watchdog(std::shared_ptr<Session> self) {
  boost::system::error_code ec;
  const Limits& limits = self->ctx_.limits;
  while (!self->closed_) {
    const auto wake = std::min(self->deadline_, self->writeDeadline_);
    self->watchdogArmedFor_ = wake;
    self->watchdogTimer_.expires_at(wake);
    co_await self->watchdogTimer_.async_wait(net::redirect_error(net::use_awaitable, ec));
    self->watchdogArmedFor_ = SteadyClock::time_point::max();
    if (self->closed_) break;
    const auto now = SteadyClock::now();
    if (self->writeDeadline_ <= now) {
      spdlog::info("session {}: peer did not read for {} ms; closing", self->id_, limits.writeTimeoutMs);
      self->closeNow();
      break;
    }
    if (self->deadline_ > now) continue;  // woken early to re-arm
    switch (self->phase_) {
      case Phase::Handshake:
        spdlog::debug("session {}: TLS handshake timed out", self->id_);
        self->closeNow();
        break;
      case Phase::Unauthenticated:
        self->closeWith(HubError{ErrorCode::TIMEOUT, "authenticate within " +
                                                         std::to_string(limits.unauthenticatedTimeoutMs) + " ms"});
        break;
      case Phase::Body:
        self->closeWith(HubError{ErrorCode::TIMEOUT, "frame body not received in time"});
        break;
      case Phase::Idle:
        self->closeWith(HubError{ErrorCode::TIMEOUT, "idle for " + std::to_string(limits.idleTimeoutMs) + " ms"});
        break;
      case Phase::Closing:
        self->closeNow();
        break;
    }
  }
}

}  // namespace focal::server

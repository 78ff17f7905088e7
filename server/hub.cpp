#include "server/hub.hpp"

#include "server/frames.hpp"
#include "server/certificate.hpp"
#include "server/session.hpp"
#include "server/tls.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

namespace focal::server {

namespace {
using namespace std::chrono;
}

Hub::Hub(net::io_context& io, Config config, Clock& clock, Store& store, CommitQueue& commits, Directory directory,
         crypto::SigningKeyPair hubKey, ssl::context& tls)
    : io_(io),
      config_(std::move(config)),
      clock_(clock),
      store_(store),
      commits_(commits),
      directory_(std::move(directory)),
      hubKey_(std::move(hubKey)),
      tls_(tls),
      acceptor_(io),
      purgeTimer_(io),
      markTimer_(io),
      heartbeatTimer_(io),
      authFailures_(config_.limits.authFailuresPerMinute),
      adminMutex_(MaxAdminWaiters),
      verifier_(config_.limits.verifyThreads),
      audit_(io, clock_, commits_),
      log_(directory_, adminMutex_, hubKey_, commits_, [this] { stop(); }),
      silence_(io, store_, clock_, log_),
      bulletins_(store_, commits_, directory_, clock_, config_.limits, *this),
      records_(store_, commits_, directory_, clock_, *this),
      consensus_(store_, commits_, directory_, clock_, log_, audit_, config_.memberStates),
      admin_(directory_, store_, clock_, log_, audit_, *this, config_.memberStates),
      witness_(directory_, commits_, clock_, audit_),
      actions_(store_, commits_, directory_, clock_, *this),
      handler_(RequestServices{bulletins_, records_, consensus_, admin_, directory_, verifier_, requests_, witness_,
                               metrics_, actions_}),
      sessionContext_{tls_,     config_.limits, directory_, clock_, handler_, authFailures_,
                      audit_,   requests_,      *this,      metrics_} {}

Hub::~Hub() = default;

net::ip::tcp::endpoint Hub::listen(const std::string& host, std::uint16_t port) {
  net::ip::tcp::endpoint endpoint;
  boost::system::error_code ec;
  const auto address = net::ip::make_address(host, ec);
  if (!ec) {
    endpoint = net::ip::tcp::endpoint(address, port);
  } else {
    net::ip::tcp::resolver resolver(io_);
    auto results = resolver.resolve(host, std::to_string(port));  // throws on failure
    endpoint = results.begin()->endpoint();
  }
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::ip::tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
  return acceptor_.local_endpoint();
}

void Hub::start() {
  try {
    const auto notAfter = certificateValidity(config_.tlsCertificate).notAfter;
    metrics_.tlsCertificateNotAfter.set(duration_cast<seconds>(notAfter.time_since_epoch()).count());
  } catch (const std::exception& e) {
    spdlog::warn("cannot read the TLS certificate's validity for the metrics: {}", e.what());
  }
  net::co_spawn(io_, acceptLoop(this), net::detached);
  net::co_spawn(io_, purgeLoop(this), net::detached);
  net::co_spawn(io_, heartbeatLoop(this), net::detached);
  // Each pass also adopts admin changes whose delay ended, and reminds the
  // owners of work programme items due soon or overdue.
  silence_.alsoEachPass([this]() -> net::awaitable<void> {
    co_await consensus_.adoptDueChanges();
    co_await actions_.remindDue();
  });
  silence_.start();
}

void Hub::auditMemberStates() {
  std::string now;
  for (const auto& s : config_.memberStates) now += (now.empty() ? "" : ",") + s;
  std::optional<std::string> last;
  try {
    last = store_.lastAuditDetail(MemberStatesAuditEvent);
  } catch (const std::exception& e) {
    spdlog::warn("reading the member states last recorded failed: {}", e.what());
  }
  if (!last || *last != now) {
    std::set<std::string> before, after(config_.memberStates.begin(), config_.memberStates.end());
    if (last) {
      for (std::size_t p = 0; p < last->size(); p += 3) before.insert(last->substr(p, 2));
    }
    std::string added, removed;
    for (const auto& s : after) if (!before.contains(s)) added += (added.empty() ? "" : ",") + s;
    for (const auto& s : before) if (!after.contains(s)) removed += (removed.empty() ? "" : ",") + s;
    spdlog::info("member states (focal.toml [working_group]): {}{}{}", now,
                 added.empty() || !last ? "" : "; added " + added, removed.empty() ? "" : "; removed " + removed);
    // The detail is the whole list (what the next start compares with).
    audit_.audit(MemberStatesAuditEvent, "focal.toml", "", now);
  }
  for (const auto& m : directory_.members()) {
    if (m.second.active() && !m.second.state.empty() &&
        std::find(config_.memberStates.begin(), config_.memberStates.end(), m.second.state) ==
            config_.memberStates.end()) {
      spdlog::warn("member {} has state {}, which is not in focal.toml's member_states", m.first, m.second.state);
    }
  }
}

bool Hub::reloadTls() {
  const auto& cert = config_.tlsCertificate;
  try {
    const auto validity = certificateValidity(cert);
    const auto now = std::chrono::system_clock::now();
    if (validity.notAfter <= now || validity.notBefore > now) {
      throw std::runtime_error(cert.string() + " is not valid now (valid from " + formatUtc(validity.notBefore) +
                               " to " + formatUtc(validity.notAfter) + ")");
    }
    tls_.replace(makeServerTlsContext(cert, config_.tlsPrivateKey));
    metrics_.tlsReloads.add();
    metrics_.tlsCertificateNotAfter.set(
        duration_cast<seconds>(validity.notAfter.time_since_epoch()).count());
    spdlog::info("TLS certificate reloaded from {}: SHA-256 {}, valid until {}; new connections get it, the {} "
                 "open keep theirs",
                 cert.string(), certificateFingerprint(cert), formatUtc(validity.notAfter), connections_);
    return true;
  } catch (const std::exception& e) {
    metrics_.tlsReloadFailures.add();
    spdlog::error("TLS reload refused, the current certificate stays: {}", e.what());
    return false;
  }
}

// ---- accepting ----------------------------------------------------------------------

std::string Hub::sourceKey(const net::ip::address& a) {
  if (a.is_v6() && !a.to_v6().is_v4_mapped()) {
    auto bytes = a.to_v6().to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return net::ip::make_address_v6(bytes).to_string() + "/64";
  }
  if (a.is_v6()) return net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()).to_string();
  return a.to_string();
}

net::awaitable<void> Hub::acceptLoop(Hub* hub) {
  net::steady_timer backoff(hub->io_);
  for (;;) {
    boost::system::error_code ec;
    net::ip::tcp::socket socket(hub->io_);
    co_await hub->acceptor_.async_accept(socket, net::redirect_error(net::use_awaitable, ec));
    if (hub->stopping_ || ec == net::error::operation_aborted) break;
    if (ec) {
      // EMFILE and friends: back off instead of spinning on the error.
      spdlog::warn("accept failed: {}", ec.message());
      backoff.expires_after(milliseconds(100));
      co_await backoff.async_wait(net::redirect_error(net::use_awaitable, ec));
      continue;
    }
    const auto peer = socket.remote_endpoint(ec);
    if (ec) {
      socket.close(ec);  // gone already
      continue;
    }
    std::string source = sourceKey(peer.address());
    // SECURITY: one source may hold at most max_unauthenticated_per_source
    // connections that have not authenticated, so one address cannot fill
    // the global cap and lock every member out; an authenticated session
    // counts against its member's cap instead.
    if (hub->connections_ >= hub->limits().maxConnections) {
      hub->refuse(std::move(socket), source,
                  HubError{wire::ErrorCode::TOO_MANY_CONNECTIONS, "the hub is at its connection limit; try again later",
                           RefusalRetryAfterMs},
                  HubMetrics::Refusal::ConnectionLimit);
      continue;
    }
    if (hub->unauthenticatedFrom(source) >= hub->limits().maxUnauthenticatedPerSource) {
      hub->refuse(std::move(socket), source,
                  HubError{wire::ErrorCode::TOO_MANY_CONNECTIONS,
                           "too many unauthenticated connections from your address; try again later",
                           RefusalRetryAfterMs},
                  HubMetrics::Refusal::SourceLimit);
      continue;
    }
    socket.set_option(net::ip::tcp::no_delay(true), ec);
    ++hub->connections_;
    hub->metrics_.sessionsAccepted.add();
    hub->metrics_.sessionsOpen.set(static_cast<std::int64_t>(hub->connections_));
    ++hub->unauthenticatedBySource_[source];
    auto session = std::make_shared<Session>(hub->sessionContext_, std::move(socket), hub->nextSessionId_++, std::move(source));
    hub->sessions_.emplace(session->id(), session);
    spdlog::debug("session {}: accepted from {}", session->id(), session->remote());
    net::co_spawn(hub->io_, Session::run(std::move(session)), net::detached);
  }
}

void Hub::refuse(net::ip::tcp::socket socket, const std::string& source, HubError why, HubMetrics::Refusal cap) {
  const auto counted = static_cast<std::size_t>(cap);
  boost::system::error_code ec;
  const std::string reason = why.message;
  if (refusing_ < MaxRefusingSessions && refusalBudget_.take()) {
    ++refusedWithError_;
    metrics_.refusedAnswered[counted].add();
    ++refusing_;
    socket.set_option(net::ip::tcp::no_delay(true), ec);
    auto session = std::make_shared<Session>(sessionContext_, std::move(socket), nextSessionId_++, source, std::move(why));
    sessions_.emplace(session->id(), session);
    net::co_spawn(io_, Session::run(std::move(session)), net::detached);
  } else {
    ++refusedClosed_;
    metrics_.refusedClosed[counted].add();
    socket.close(ec);
  }
  const auto now = steady_clock::now();
  if (now - lastRefusalLog_ > seconds(10)) {
    spdlog::warn("refusing connections ({}, last from {}): {} told tooManyConnections, {} closed unanswered "
                 "(refusal budget spent) since the last report; {} connections open",
                 reason, source, refusedWithError_, refusedClosed_, connections_);
    refusedWithError_ = 0;
    refusedClosed_ = 0;
    lastRefusalLog_ = now;
  }
}

std::uint32_t Hub::unauthenticatedFrom(const std::string& source) const {
  const auto it = unauthenticatedBySource_.find(source);
  return it == unauthenticatedBySource_.end() ? 0 : it->second;
}

void Hub::releaseSource(const std::string& source) {
  const auto it = unauthenticatedBySource_.find(source);
  if (it == unauthenticatedBySource_.end()) return;
  if (--it->second == 0) unauthenticatedBySource_.erase(it);
}

// ---- registry -------------------------------------------------------------------------

bool Hub::admit(const std::shared_ptr<Session>& session) {
  auto& list = byMember_[session->memberId()];
  std::erase_if(list, [](const auto& w) { return w.expired(); });
  if (list.size() >= limits().maxConnectionsPerMember) return false;
  list.push_back(session);
  releaseSource(session->source());
  return true;
}

void Hub::sessionEnded(const Session& session) {
  sessions_.erase(session.id());
  if (session.refusing()) {
    --refusing_;
    return;
  }
  --connections_;
  metrics_.sessionsOpen.set(static_cast<std::int64_t>(connections_));
  if (!session.authenticated()) {
    releaseSource(session.source());
    return;
  }
  auto it = byMember_.find(session.memberId());
  if (it != byMember_.end()) {
    std::erase_if(it->second, [&](const auto& w) {
      auto s = w.lock();
      return !s || s.get() == &session;
    });
    if (it->second.empty()) byMember_.erase(it);
  }
}

void Hub::pushDeliveries(const std::vector<QueuedDelivery>& queued, std::int64_t queuedAtMs,
                         crypto::ByteView header, crypto::ByteView signature, crypto::ByteView ciphertext,
                         const StoredRecord* forward, const StoredRecord* retraction) {
  std::vector<std::int64_t> delivered;
  std::optional<frames::PushFrames> pushes;  // built for the first member online
  for (const auto& q : queued) {
    auto it = byMember_.find(q.memberId);
    if (it == byMember_.end()) continue;
    std::optional<crypto::Bytes> frame;
    bool sent = false;
    // Copy: a send may close a slow consumer, which edits the registry.
    const auto sessions = it->second;
    std::shared_ptr<Session> previous;  // gets a copy; the last one gets the frame itself
    for (const auto& w : sessions) {
      auto s = w.lock();
      if (!s || !s->subscribed() || s->closing()) continue;
      if (!frame) {
        if (!pushes) pushes.emplace(queuedAtMs, header, signature, ciphertext, forward, retraction);
        frame = pushes->frame(q.seq);
      }
      if (previous) sent = previous->send(*frame) || sent;
      previous = std::move(s);
    }
    if (previous) sent = previous->send(std::move(*frame)) || sent;
    if (sent) delivered.push_back(q.seq);
  }
  if (!delivered.empty()) markDelivered(delivered);
}

std::size_t Hub::pushReminder(const std::vector<std::string>& memberIds, const crypto::Bytes& frame) {
  std::size_t sent = 0;
  for (const auto& memberId : memberIds) {
    auto it = byMember_.find(memberId);
    if (it == byMember_.end()) continue;
    const auto sessions = it->second;  // copy: a send may close a slow consumer
    for (const auto& w : sessions) {
      auto s = w.lock();
      if (!s || !s->actionsSubscribed() || s->closing()) continue;
      if (s->send(crypto::Bytes(frame))) ++sent;
    }
  }
  return sent;
}

void Hub::enforceDirectory(const std::string& memberId) {
  const MemberRecord* member = directory_.find(memberId);
  auto it = byMember_.find(memberId);
  if (it == byMember_.end()) return;
  const auto sessions = it->second;
  for (const auto& w : sessions) {
    auto s = w.lock();
    if (!s) continue;
    if (member == nullptr || !member->active() || !(member->identityKey == s->identityKey())) {
      spdlog::info("session {}: closing, the key of {} was revoked or replaced", s->id(), memberId);
      s->closeWith(HubError{wire::ErrorCode::REVOKED_KEY, "this member's key was revoked or replaced"});
    }
  }
}

// ---- delivered marks --------------------------------------------------------------------

void Hub::markDelivered(const std::vector<std::int64_t>& seqs) {
  metrics_.deliveries.add(seqs.size());
  if (pendingDelivered_.size() + seqs.size() > MaxPendingDeliveredMarks) {
    if (!droppedMarksLogged_) spdlog::warn("delivered marks backlog full; some delivered_at times are not recorded");
    droppedMarksLogged_ = true;
    return;
  }
  const std::int64_t now = clock_.nowMs();
  for (auto seq : seqs) pendingDelivered_.push_back(DeliveredMark{seq, now});
  if (!flushRunning_) {
    flushRunning_ = true;
    ++tasksInFlight_;
    net::co_spawn(io_, flushDelivered(this), net::detached);
  }
}

net::awaitable<void> Hub::flushDelivered(Hub* hub) {
  // One writer request per round; marks arriving meanwhile wait for the
  // next round, so a burst of pushes costs a few requests, not one each.
  // Each round first waits DeliveredMarkDelay (not at shutdown): a mark of
  // its own would be a commit group and an fsync of its own, which the next
  // bulletin then waits behind; delayed, the marks of many pushes share one
  // request, usually inside a group that commits bulletins anyway.
  boost::system::error_code ec;
  while (!hub->pendingDelivered_.empty()) {
    if (!hub->stopping_) {
      hub->markTimer_.expires_after(DeliveredMarkDelay);
      co_await hub->markTimer_.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
    auto marks = std::make_shared<std::vector<DeliveredMark>>();
    marks->swap(hub->pendingDelivered_);
    hub->inFlightDelivered_ = marks;
    auto job = store::MarkDelivered{marks};
    // Deferred: rides in the next group of bulletins instead of costing a
    // commit and an fsync of its own (each mark keeps the time of its push
    // or fetch, whenever it commits); at shutdown, at once. Essential: an
    // UPDATE of existing rows, still written on a full disk.
    const auto delay = hub->stopping_ ? std::chrono::milliseconds(0) : DeliveredMarkMaxDelay;
    auto result = co_await hub->commits_.submitDeferred(std::move(job), net::use_awaitable, delay);
    // Committed (or failed): from here `status` reads the database alone.
    hub->inFlightDelivered_.reset();
    if (!result) spdlog::warn("delivered marks not recorded: {}", result.error().message);
  }
  hub->droppedMarksLogged_ = false;
  hub->flushRunning_ = false;
  --hub->tasksInFlight_;
}

void Hub::mergeUncommittedMarks(BulletinStatus& status) const {
  // Only entries the database shows undelivered; a committed time stands
  // (the writer keeps the first one too).
  std::unordered_map<std::int64_t, RecipientState*> open;
  for (auto& r : status.recipients) {
    if (r.deliveredAtMs == 0) open.emplace(r.seq, &r);
  }
  if (open.empty()) return;
  // The first mark of an entry, in the order the writer applies them (the
  // in-flight round, then the gathered marks, each in order), is the one
  // the database keeps ("IS NULL"): the same time before and after commit.
  auto scan = [&](const std::vector<DeliveredMark>& marks) {
    for (const auto& m : marks) {
      auto it = open.find(m.seq);
      if (it == open.end()) continue;
      it->second->deliveredAtMs = m.atMs;
      open.erase(it);
    }
  };
  if (inFlightDelivered_) scan(*inFlightDelivered_);
  scan(pendingDelivered_);
}

// ---- garbage ------------------------------------------------------------------------------

net::awaitable<void> Hub::purgeLoop(Hub* hub) {
  boost::system::error_code ec;
  while (!hub->stopping_) {
    hub->purgeTimer_.expires_after(hub->purgeEvery_);
    co_await hub->purgeTimer_.async_wait(net::redirect_error(net::use_awaitable, ec));
    if (hub->stopping_) break;
    const std::int64_t now = hub->clock_.nowMs();
    // Retention first: the blobs it frees go in its own batches.
    co_await purgeRetention(hub, now);
    if (hub->stopping_) break;
    auto job = store::PurgeGarbage{now};
    auto result = co_await hub->commits_.submit(std::move(job), net::use_awaitable);
    if (result && *result > 0) spdlog::info("purged {} abandoned or unreferenced uploads", *result);
    if (!result) spdlog::warn("upload purge failed: {}", result.error().message);
  }
}

net::awaitable<void> Hub::purgeRetention(Hub* hub, std::int64_t nowMs) {
  std::uint64_t bulletins = 0;
  std::uint64_t blobs = 0;
  std::uint64_t batches = 0;
  // Each batch is one bounded commit; other writes queue between them.
  for (bool more = true; more && !hub->stopping_;) {
    auto result = co_await hub->commits_.submit(store::PurgeExpired{hub->config_.retention, nowMs}, net::use_awaitable);
    if (!result) {
      spdlog::warn("retention purge failed: {}", result.error().message);
      break;
    }
    bulletins += result->bulletins();
    blobs += result->blobs;
    batches += result->bulletins() > 0 ? 1 : 0;
    more = result->more;
  }
  if (bulletins > 0) {
    spdlog::info("retention: purged {} bulletins and {} attachments in {} batches (focal.toml [retention]; the audit "
                 "trail has one retention.purge row per batch)",
                 bulletins, blobs, batches);
  }
}

net::awaitable<void> Hub::heartbeatLoop(Hub* hub) {
  boost::system::error_code ec;
  while (!hub->stopping_) {
    hub->metrics_.heartbeatMs.set(duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
    hub->heartbeatTimer_.expires_after(HubMetrics::HeartbeatEvery);
    co_await hub->heartbeatTimer_.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
}

// ---- shutdown ---------------------------------------------------------------------------

void Hub::stop() {
  if (stopping_) return;
  stopping_ = true;
  metrics_.stopping = true;
  spdlog::info("shutting down: {} connections, {} requests and {} hub writes in flight", connections_,
               requests_.inFlight(), tasksInFlight_ + silence_.inFlight());
  boost::system::error_code ec;
  acceptor_.close(ec);
  purgeTimer_.cancel();
  heartbeatTimer_.cancel();
  silence_.stop();
  markTimer_.cancel();
  for (auto& [id, w] : sessions_) {
    if (auto s = w.lock()) s->beginShutdown();
  }
  net::co_spawn(io_, drain(this), net::detached);
}

net::awaitable<void> Hub::drain(Hub* hub) {
  boost::system::error_code ec;
  net::steady_timer tick(hub->io_);
  const auto deadline = steady_clock::now() + ShutdownGrace;
  while ((hub->requests_.inFlight() > 0 || hub->tasksInFlight_ > 0 || hub->silence_.inFlight() > 0 ||
          hub->connections_ > 0) &&
         steady_clock::now() < deadline) {
    tick.expires_after(milliseconds(20));
    co_await tick.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
  const auto sessions = hub->sessions_;
  for (auto& [id, w] : sessions) {
    if (auto s = w.lock()) s->closeNow();
  }
  // Commits already queued are finished (and answered, though the sessions
  // are gone); nothing new can arrive.
  hub->commits_.stop();
  spdlog::info("shutdown complete");
}

}  // namespace focal::server

#include "server/hub.hpp"

#include "protocol/log.hpp"
#include "server/frames.hpp"
#include "server/session.hpp"

#include <spdlog/spdlog.h>

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
      deadlineTimer_(io),
      markTimer_(io),
      authFailures_(config_.limits.authFailuresPerMinute),
      adminMutex_(MaxAdminWaiters),
      uploads_(MaxTrackedUploads),
      handler_(*this),
      verifier_(config_.limits.verifyThreads) {}

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
  net::co_spawn(io_, acceptLoop(this), net::detached);
  net::co_spawn(io_, purgeLoop(this), net::detached);
  net::co_spawn(io_, deadlineLoop(this), net::detached);
}

StoredHead Hub::signHead(std::uint64_t size, const crypto::Hash256& root, std::int64_t nowMs) const {
  auto signedHead = protocol::signLogHead(directory_.hubId(), size, root, nowMs, hubKey_.secretKey);
  return StoredHead{size, std::move(signedHead.head), signedHead.signature};
}

// ---- accepting ----------------------------------------------------------------------

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
    if (hub->connections_ >= hub->limits().maxConnections) {
      // At the global cap a connection is closed before its TLS handshake,
      // so a flood costs us an accept and a close, not a handshake.
      const auto now = steady_clock::now();
      if (now - hub->lastRefusalLog_ > seconds(10)) {
        spdlog::warn("connection cap of {} reached; refusing new connections", hub->limits().maxConnections);
        hub->lastRefusalLog_ = now;
      }
      socket.close(ec);
      continue;
    }
    socket.set_option(net::ip::tcp::no_delay(true), ec);
    ++hub->connections_;
    auto session = std::make_shared<Session>(*hub, std::move(socket), hub->nextSessionId_++);
    hub->sessions_.emplace(session->id(), session);
    spdlog::debug("session {}: accepted from {}", session->id(), session->remote());
    net::co_spawn(hub->io_, Session::run(std::move(session)), net::detached);
  }
}

// ---- registry -------------------------------------------------------------------------

bool Hub::admit(const std::shared_ptr<Session>& session) {
  auto& list = byMember_[session->memberId()];
  std::erase_if(list, [](const auto& w) { return w.expired(); });
  if (list.size() >= limits().maxConnectionsPerMember) return false;
  list.push_back(session);
  return true;
}

void Hub::sessionEnded(const Session& session) {
  --connections_;
  sessions_.erase(session.id());
  if (session.authenticated()) {
    auto it = byMember_.find(session.memberId());
    if (it != byMember_.end()) {
      std::erase_if(it->second, [&](const auto& w) {
        auto s = w.lock();
        return !s || s.get() == &session;
      });
      if (it->second.empty()) byMember_.erase(it);
    }
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

void Hub::audit(std::string event, std::string actor, std::string remote, std::string detail) {
  auto record = std::make_shared<AuditRecord>();
  record->timeMs = clock_.nowMs();
  record->event = std::move(event);
  record->actor = actor.empty() ? "-" : std::move(actor);
  record->remote = std::move(remote);
  record->detail = std::move(detail);
  auto job = [record](sqlite::Database& db) { return Store::appendAudit(db, *record); };
  auto done = [record](Result<std::uint64_t> r) {
    if (!r) spdlog::warn("audit row {} not recorded: {}", record->event, r.error().message);
  };
  commits_.submit<std::uint64_t>(std::move(job), net::bind_executor(io_, std::move(done)));
}

// ---- delivered marks --------------------------------------------------------------------

void Hub::markDelivered(const std::vector<std::int64_t>& seqs) {
  if (pendingDelivered_.size() + seqs.size() > MaxPendingDeliveredMarks) {
    if (!droppedMarksLogged_) spdlog::warn("delivered marks backlog full; some delivered_at times are not recorded");
    droppedMarksLogged_ = true;
    return;
  }
  pendingDelivered_.insert(pendingDelivered_.end(), seqs.begin(), seqs.end());
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
    std::vector<std::int64_t> seqs;
    seqs.swap(hub->pendingDelivered_);
    const std::int64_t now = hub->clock_.nowMs();
    auto job = [seqs = std::move(seqs), now](sqlite::Database& db) -> Result<Ok> {
      Store::markDelivered(db, seqs, now);
      return Ok{};
    };
    // Deferred: rides in the next group of bulletins instead of costing a
    // commit and an fsync of its own (the time recorded is `now`, whenever
    // it commits); at shutdown, at once. Essential: an UPDATE of existing
    // rows, still written on a full disk.
    const auto delay = hub->stopping_ ? std::chrono::milliseconds(0) : DeliveredMarkMaxDelay;
    auto result = co_await hub->commits_.submitDeferred<Ok>(std::move(job), net::use_awaitable, delay,
                                                            CommitQueue::WriteClass::Essential);
    if (!result) spdlog::warn("delivered marks not recorded: {}", result.error().message);
  }
  hub->droppedMarksLogged_ = false;
  hub->flushRunning_ = false;
  --hub->tasksInFlight_;
}

// ---- garbage ------------------------------------------------------------------------------

net::awaitable<void> Hub::purgeLoop(Hub* hub) {
  boost::system::error_code ec;
  while (!hub->stopping_) {
    hub->purgeTimer_.expires_after(PurgeInterval);
    co_await hub->purgeTimer_.async_wait(net::redirect_error(net::use_awaitable, ec));
    if (hub->stopping_) break;
    const std::int64_t now = hub->clock_.nowMs();
    auto job = [now](sqlite::Database& db) -> Result<std::uint64_t> { return Store::purgeGarbage(db, now); };
    auto result = co_await hub->commits_.submit<std::uint64_t>(std::move(job), net::use_awaitable);
    if (result && *result > 0) spdlog::info("purged {} abandoned or unreferenced uploads", *result);
    if (!result) spdlog::warn("upload purge failed: {}", result.error().message);
  }
}

// ---- silence procedure ---------------------------------------------------------------------

net::awaitable<void> Hub::deadlineLoop(Hub* hub) {
  boost::system::error_code ec;
  // The first pass runs at once: deadlines that passed while the hub was
  // down are closed on startup.
  while (!hub->stopping_) {
    co_await closeDueRecords(hub);
    if (hub->stopping_) break;
    hub->deadlineTimer_.expires_after(hub->deadlinePoll_);
    co_await hub->deadlineTimer_.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
}

net::awaitable<void> Hub::closeDueRecords(Hub* hub) {
  // At most this many per pass, so one pass never holds the admin lock long.
  constexpr std::size_t MaxPerPass = 64;
  std::vector<crypto::BulletinId> due;
  try {
    due = hub->store_.dueRecords(hub->clock_.nowMs(), MaxPerPass);
  } catch (const std::exception& e) {
    spdlog::warn("silence procedure: reading due records failed: {}", e.what());
    co_return;
  }
  for (const auto& id : due) {
    if (hub->stopping_) break;
    ++hub->tasksInFlight_;
    try {
      co_await approveRecord(hub, id);
    } catch (const std::exception& e) {
      spdlog::error("silence procedure for {} failed: {}", crypto::toHex(id), e.what());
    }
    --hub->tasksInFlight_;
  }
}

net::awaitable<void> Hub::approveRecord(Hub* hub, crypto::BulletinId recordId) {
  // Log appends are serialised with admin requests: each entry is prepared
  // against the directory it will be appended to.
  auto guard = co_await hub->adminMutex_.lock();
  if (!guard) co_return;  // busy: the next pass retries
  auto row = hub->store_.summaryRecord(recordId);
  if (!row || row->state != wire::RecordState::PENDING) co_return;
  const std::int64_t now = hub->clock_.nowMs();
  if (row->deadlineMs > now) co_return;

  capnp::MallocMessageBuilder mb;
  auto e = mb.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(now);
  auto a = e.initRecordApproved();
  a.setRecordId(protocol::kjBytes(recordId.view()));
  const auto headerHash = crypto::hash256(row->header);
  a.setHeaderHash(protocol::kjBytes(headerHash.view()));
  a.setDeadlineMs(row->deadlineMs);
  auto acked = a.initAcknowledgedBy(static_cast<unsigned>(row->acknowledgedBy.size()));
  for (unsigned i = 0; i < row->acknowledgedBy.size(); ++i) {
    acked.set(i, protocol::asText(row->acknowledgedBy[i]));
  }
  auto commented = a.initCommentedBy(static_cast<unsigned>(row->comments.size()));
  for (unsigned i = 0; i < row->comments.size(); ++i) {
    const auto& m = row->comments[i].memberId;
    commented.set(i, protocol::asText(m));
  }
  auto signedEvent = protocol::signLogEvent(mb, hub->hubKey_.secretKey);

  Directory& dir = hub->directory_;
  if (auto ok = dir.check(signedEvent.event, signedEvent.signature, dir.hubId(), hub->hubKey_.publicKey, std::nullopt);
      !ok) {
    spdlog::error("silence procedure for {}: own entry refused: {}", crypto::toHex(recordId), ok.error().message);
    co_return;
  }
  auto entry = std::make_shared<const StoredLogEntry>(
      dir.prepare(std::move(signedEvent.event), signedEvent.signature, dir.hubId(), hub->hubKey_.publicKey, now));
  auto head = std::make_shared<const StoredHead>(hub->signHead(entry->index + 1, entry->entryHash, now));
  auto job = [recordId, entry, head](sqlite::Database& db) { return Store::approveRecord(db, recordId, *entry, *head); };
  auto result = co_await hub->commits_.submit<Ok>(std::move(job), net::use_awaitable);
  if (!result) {
    // An objection, revision or withdrawal committed first, or the disk
    // refused: nothing was written; the next pass looks again.
    spdlog::info("summary record {} not approved: {}", crypto::toHex(recordId), result.error().message);
    co_return;
  }
  try {
    dir.apply(*entry);
  } catch (const std::exception& ex) {
    spdlog::critical("log entry {} committed but not applied ({}); stopping the hub", entry->index, ex.what());
    hub->stop();
    co_return;
  }
  dir.setHead(*head);
  spdlog::info("summary record {} approved by the silence procedure: log entry {}", crypto::toHex(recordId),
               entry->index);
}

// ---- shutdown ---------------------------------------------------------------------------

void Hub::stop() {
  if (stopping_) return;
  stopping_ = true;
  spdlog::info("shutting down: {} connections, {} requests and {} hub writes in flight", connections_, requestsInFlight_,
               tasksInFlight_);
  boost::system::error_code ec;
  acceptor_.close(ec);
  purgeTimer_.cancel();
  deadlineTimer_.cancel();
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
  while ((hub->requestsInFlight_ > 0 || hub->tasksInFlight_ > 0 || hub->connections_ > 0) &&
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

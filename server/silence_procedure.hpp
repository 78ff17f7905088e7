// The silence procedure of summary records (PROTOCOL.md §12.4, DESIGN.md
// §9): a task that, at start (deadlines that passed while the hub was down)
// and then every poll, takes the pending records whose comment deadline
// passed and appends a hub-signed recordApproved entry for each, through the
// LogAppender, in a job that first re-checks the record is still pending (an
// objection committed meanwhile wins).
//
// Each pass also keeps the log head fresh (PROTOCOL.md §11.1): when the
// head served was signed protocol::HeadRefreshMs or more ago, the hub signs
// one of the same size and root now (LogAppender::refreshHead), so heads
// come at least hourly even when nothing is appended.
//
// Each pass also runs the hook alsoEachPass() sets (admin changes whose
// delay ended are adopted there).
//
// Owned by the Hub; io thread only. stop() ends the task; inFlight() tells
// shutdown whether an approval is still being written.
#pragma once

#include "crypto/types.hpp"
#include "server/clock.hpp"
#include "server/log_appender.hpp"
#include "server/net.hpp"
#include "server/store.hpp"

#include <chrono>
#include <functional>

namespace focal::server {

class SilenceProcedure {
 public:
  // At most this many records per pass, so one pass never holds the admin lock long.
  static constexpr std::size_t MaxPerPass = 64;

  SilenceProcedure(net::io_context& io, Store& store, Clock& clock, LogAppender& log)
      : io_(io), store_(store), clock_(clock), log_(log), timer_(io) {}

  // How often the task looks for comment deadlines that passed (default
  // 1 s; focald's --test-clock sets it lower, since the test moves the
  // clock by writing a file the hub cannot watch).
  void setPoll(std::chrono::milliseconds every) { poll_ = every; }
  // Also run `pass` on every pass (the admin changes whose delay ended,
  // ConsensusService::adoptDueChanges); set before start().
  void alsoEachPass(std::function<net::awaitable<void>()> pass) { extraPass_ = std::move(pass); }
  void start();
  void stop();
  // Approvals being written now (shutdown waits for them).
  std::size_t inFlight() const { return inFlight_; }

  // One pass: every pending record whose deadline is <= now. Public for tests.
  net::awaitable<void> closeDueRecords();
  // Signs a fresh head when the one served is due (see above).
  net::awaitable<void> refreshHead();

 private:
  net::awaitable<void> loop();
  net::awaitable<void> approveRecord(crypto::BulletinId recordId);

  net::io_context& io_;
  Store& store_;
  Clock& clock_;
  LogAppender& log_;
  net::steady_timer timer_;
  std::chrono::milliseconds poll_{1000};
  bool stopping_ = false;
  std::size_t inFlight_ = 0;
  std::function<net::awaitable<void>()> extraPass_;
};

}  // namespace focal::server

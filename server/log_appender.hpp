// The one way an entry is appended to the directory log at run time:
// checked against the directory (Directory::check), prepared as the next
// entry, its new head signed with the hub key, committed through the
// CommitQueue in the caller's write job, then applied to the directory and
// made its head. Admin requests, consensus adoptions and the silence
// procedure all append through append(). Head times never go back: a head
// is signed at max(now, the time of the head served before).
//
// Serialisation: every append runs under the admin AsyncMutex (lock()),
// held by the caller across its own reads as well, so each entry is checked
// against the directory it is appended to. append() takes the guard as proof.
//
// A committed entry the directory cannot apply is our bug: serving on with
// a directory that disagrees with the log would enforce the wrong keys, so
// the appender calls `stopHub` (a restart replays the log).
//
// io thread only.
#pragma once

#include "crypto/primitives.hpp"
#include "server/async_mutex.hpp"
#include "server/commit_queue.hpp"
#include "server/directory.hpp"
#include "server/hub_error.hpp"

#include <capnp/message.h>

#include <functional>
#include <memory>
#include <optional>

namespace focal::server {

class LogAppender {
 public:
  // A signed LogEvent and who signed it, with the times it is checked at.
  struct Draft {
    crypto::Bytes event;
    crypto::Signature signature;
    std::string authorId;
    crypto::SigningPublicKey authorKey;
    std::int64_t nowMs = 0;                   // recordedAt and head time (raised to the last entry's)
    std::optional<std::int64_t> checkNowMs;   // Directory::check's nowMs (issuedAt skew), or none
    std::optional<std::int64_t> checkAtMs;    // Directory::check's atMs
  };
  struct Appended {
    std::shared_ptr<const StoredLogEntry> entry;
    std::shared_ptr<const StoredHead> head;
    std::string changed;  // the member the entry changed (Directory::apply)
  };
  struct Failure {
    enum class Stage {
      Refused,       // Directory::check (or the extra check) said no; nothing written
      NotCommitted,  // the write job or the commit failed; nothing written
      NotApplied,    // committed but not applied: the hub is stopping
    } stage;
    HubError error;
  };
  using Outcome = Expected<Appended, Failure>;
  // A check run after Directory::check passed, before anything is prepared.
  using ExtraCheck = std::function<Result<Ok>()>;

  LogAppender(Directory& directory, AsyncMutex& adminMutex, const crypto::SigningKeyPair& hubKey,
              CommitQueue& commits, std::function<void()> stopHub)
      : directory_(directory), adminMutex_(adminMutex), hubKey_(hubKey), commits_(commits), stopHub_(std::move(stopHub)) {}

  // The admin lock; nullopt when too many are waiting (answer `unavailable`).
  net::awaitable<std::optional<AsyncMutex::Guard>> lock() { return adminMutex_.lock(); }

  // Signs a LogEvent built by the hub itself (adoption, silence procedure)
  // with the hub key, positioned as the next entry (call it under the
  // lock): a draft authored by the hub.
  Draft hubDraft(capnp::MessageBuilder& event, std::int64_t nowMs, std::optional<std::int64_t> checkNowMs,
                 std::optional<std::int64_t> checkAtMs) const;

  // A head signed by the hub key.
  StoredHead signHead(std::uint64_t size, const crypto::Hash256& root, std::int64_t nowMs) const;

  // The time of the head the directory serves now (0 if it does not parse).
  std::int64_t headTimeMs() const;
  // Freshness (PROTOCOL.md §11.1): when the head served now was signed
  // protocol::HeadRefreshMs or more before `nowMs`, signs a head of the same
  // size and root at `nowMs`, stores it in place of the old one (so a
  // restart serves it, never an older one) and serves it. Under the lock.
  // False when nothing was due or the write failed (the next pass retries).
  net::awaitable<bool> refreshHead(const AsyncMutex::Guard& held, std::int64_t nowMs);

  // Check, prepare, sign head, commit, apply, set head. `makeJob(entry,
  // head)` returns the store command (Reply = Ok: store::AppendLogEntry,
  // AdoptProposal, ApproveRecord) that writes the entry and head, with
  // whatever else must commit with them.
  template <class MakeJob>
  net::awaitable<Outcome> append(const AsyncMutex::Guard& held, Draft draft, MakeJob makeJob,
                                 ExtraCheck extraCheck = nullptr);

 private:
  struct Prepared {
    std::shared_ptr<const StoredLogEntry> entry;
    std::shared_ptr<const StoredHead> head;
  };
  Expected<Prepared, Failure> prepare(Draft draft, const ExtraCheck& extraCheck) const;
  Outcome applyCommitted(Prepared prepared);

  Directory& directory_;
  AsyncMutex& adminMutex_;
  const crypto::SigningKeyPair& hubKey_;
  CommitQueue& commits_;
  std::function<void()> stopHub_;
};

template <class MakeJob>
net::awaitable<LogAppender::Outcome> LogAppender::append(const AsyncMutex::Guard& /*held*/, Draft draft,
                                                         MakeJob makeJob, ExtraCheck extraCheck) {
  auto prepared = prepare(std::move(draft), extraCheck);
  if (!prepared) co_return Unexpected<Failure>{prepared.error()};
  auto job = makeJob(prepared->entry, prepared->head);
  auto result = co_await commits_.submit(std::move(job), net::use_awaitable);
  if (!result) co_return Unexpected<Failure>{Failure{Failure::Stage::NotCommitted, result.error()}};
  co_return applyCommitted(std::move(*prepared));
}

}  // namespace focal::server

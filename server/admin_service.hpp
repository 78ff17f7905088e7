// Member-signed changes to the directory log (admin requests: register,
// rotate, revoke, role change), and the reads that go with them: a page of
// the log under the directory's head, a page of the audit trail.
// Policy: Directory::check's rules, then a new member's state is one of
// focal.toml's member states; every append goes through the LogAppender
// under the admin lock; accepted and refused changes are audited; sessions
// the change no longer allows are closed (MemberSessions).
// io thread only.
#pragma once

#include "server/clock.hpp"
#include "server/directory.hpp"
#include "server/log_appender.hpp"
#include "server/service_ports.hpp"
#include "server/store.hpp"

#include <string>
#include <vector>

namespace focal::server {

class AdminService {
 public:
  struct Appended {
    std::uint64_t index = 0;
    StoredHead head;
    std::string changed;             // the member the entry changed
    bool endsCallerSession = false;  // the change revoked or replaced the caller's own key
  };
  struct LogPage {
    std::vector<StoredLogEntry> entries;
    StoredHead head;
  };

  AdminService(Directory& directory, Store& store, Clock& clock, LogAppender& log, AuditSink& audit,
               MemberSessions& sessions, const std::vector<std::string>& memberStates)
      : directory_(directory), store_(store), clock_(clock), log_(log), audit_(audit), sessions_(sessions),
        memberStates_(memberStates) {}

  // Appends `event` (LogEvent bytes, `signature` by the caller's identity
  // key) once the directory's rules allow it.
  net::awaitable<Result<Appended>> append(Caller caller, crypto::Bytes event, crypto::Signature signature);
  // Closes the sessions an append no longer allows; after the reply to the
  // appending session is queued (it learns the index of its entry first).
  void enforce(const std::string& changed) { sessions_.enforceDirectory(changed); }

  // Entries from `from`, only those covered by the head returned (an entry
  // committed but not yet applied is left for the next query).
  LogPage logPage(std::uint64_t from, std::uint32_t limit, std::size_t maxBytes) const;
  // Audit rows; admins only.
  Result<std::vector<AuditRecord>> auditPage(const std::string& memberId, std::uint64_t from, std::uint32_t limit,
                                             std::size_t maxBytes) const;

 private:
  Result<Ok> checkRegisteredState(crypto::ByteView event) const;

  Directory& directory_;
  Store& store_;
  Clock& clock_;
  LogAppender& log_;
  AuditSink& audit_;
  MemberSessions& sessions_;
  const std::vector<std::string>& memberStates_;
};

}  // namespace focal::server

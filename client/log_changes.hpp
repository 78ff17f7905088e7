// What changed in the directory log between two verified heads, as a user
// reads it: each entry's kind, author and the member it is about
// (`focal verify-log` lists what was added since the head the profile held
// before the run; self-monitoring, client/self_monitor.hpp, looks for
// entries about the user's own id). Pure over verified entries.
#pragma once

#include "client/connection.hpp"

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>

namespace focal::client {

struct EntrySummary {
  std::uint64_t index = 0;
  std::string kind;       // protocol::logEventName ("register", "rotate-encryption", ...)
  std::string authorId;   // who signed it (verified by LogVerifier); of an adminAction, the proposing admin
  std::string subjectId;  // the member it is about ("" for none: genesis, records, amendments)
  std::int64_t recordedAtMs = 0;
  std::string reason;     // a revocation's reason ("" otherwise); the author's text: render with safe_text
  // The keys a register or rotation gives the member (empty otherwise).
  crypto::Bytes identityKey;
  crypto::Bytes encryptionKey;
};

EntrySummary summarizeEntry(const LogEntryRecord& entry);

// The members `me` has corresponded with, as its cached bulletins show them:
// the senders of bulletins it received and the recipients of bulletins it
// sent or received (headers as cached, i.e. as verified when they were
// opened; damaged files are skipped). Without `me`.
std::set<std::string> correspondents(const std::filesystem::path& cacheDir, std::string_view me);

}  // namespace focal::client

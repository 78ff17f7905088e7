// The time limits of the two procedures a hub runs for its members, in one
// place for the hub (which refuses more) and the CLI (which says so before
// it asks): the silence procedure of a summary record (PROTOCOL.md §12.4)
// and consensus proposals (§12.5).
#pragma once

#include <cstdint>

namespace focal::protocol {

// The longest comment window a summary record may set: a year and a day.
inline constexpr std::int64_t MaxCommentWindowMs = 366LL * 24 * 60 * 60 * 1000;
// The longest a consensus proposal may stay open.
inline constexpr std::int64_t MaxProposalLifetimeMs = 90LL * 24 * 60 * 60 * 1000;

}  // namespace focal::protocol

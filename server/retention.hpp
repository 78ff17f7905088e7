// The hub's retention policy (focal.toml [retention], docs/operations.md
// "Retention"): how long bulletins and their attachments are kept, per TLP
// level, and the tally a purge (or `focald purge --dry-run`) reports. Plain
// values: the configuration reads them, the store applies them
// (store_retention.cpp), nothing here touches SQLite.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace focal::server {

struct RetentionRule {
  // Days after acceptance at which a bulletin every recipient acknowledged
  // (acknowledgedDays) or one some recipient has not (unacknowledgedDays)
  // is purged; 0 = never.
  std::uint32_t acknowledgedDays = 0;
  std::uint32_t unacknowledgedDays = 0;
};

struct RetentionPolicy {
  // The longest retention focal.toml accepts: a larger number is a typo
  // (days for hours, an extra zero), not a policy.
  static constexpr std::uint32_t MaxDays = 36'500;
  // Conservative defaults (docs/operations.md "Retention" says why): a year
  // after acceptance for an acknowledged bulletin, two years for one that
  // is still waiting for a recipient, at every level. An operator shortens
  // them to what the hub's legal basis allows.
  static constexpr RetentionRule DefaultRule{365, 730};
  static constexpr std::size_t Levels = 5;
  // The levels in wire::Tlp order (clear = 1 ... red = 5) and their keys in
  // focal.toml. A bulletin of another value (unset) is never purged.
  static constexpr std::array<std::string_view, Levels> LevelNames{"clear", "green", "amber", "amber-strict", "red"};

  std::array<RetentionRule, Levels> rules{DefaultRule, DefaultRule, DefaultRule, DefaultRule, DefaultRule};

  // The rule of wire TLP value `tlp` (1..5), or nullptr (never purged).
  const RetentionRule* ruleFor(std::int64_t tlp) const {
    return tlp >= 1 && tlp <= static_cast<std::int64_t>(Levels) ? &rules[static_cast<std::size_t>(tlp - 1)] : nullptr;
  }
};

// What one purge batch removed, or what a dry run would remove, per level.
struct RetentionLevelTally {
  std::uint64_t bulletins = 0;
  std::uint64_t acknowledged = 0;    // of them, acknowledged by every recipient
  std::int64_t oldestAcceptedMs = 0;  // 0 = none
  std::uint64_t attachmentBytes = 0;  // of the blobs that go with them (no other bulletin refers to them)
};

struct RetentionTally {
  std::array<RetentionLevelTally, RetentionPolicy::Levels> levels{};
  std::uint64_t blobs = 0;  // attachment blobs removed (or that would be)
  // True when the batch stopped at its limit: more is due now.
  bool more = false;

  std::uint64_t bulletins() const {
    std::uint64_t n = 0;
    for (const auto& l : levels) n += l.bulletins;
    return n;
  }
};

}  // namespace focal::server

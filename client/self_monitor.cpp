#include "client/self_monitor.hpp"

#include "client/log_changes.hpp"
#include "client/profile.hpp"
#include "client/safe_text.hpp"
#include "crypto/secure_file.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include <ctime>

namespace focal::client {

namespace fs = std::filesystem;

namespace {

// 100 alarms and the per-member marks: a few tens of KiB. A larger file is
// not one focal wrote, and is refused like a damaged one.
constexpr std::size_t MaxAlarmFileBytes = 4 * 1024 * 1024;

struct AlarmState {
  std::map<std::string, std::uint64_t> checked;  // "HUB/MEMBER" -> log size judged
  std::vector<Alarm> alarms;
  std::uint64_t dropped = 0;
};

// Serialises the read-modify-write of alarms.json between focal processes
// sharing the profile.
class ProfileLock {
 public:
  explicit ProfileLock(const fs::path& file) : fd_(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~ProfileLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  ProfileLock(const ProfileLock&) = delete;
  ProfileLock& operator=(const ProfileLock&) = delete;

 private:
  int fd_;
};

nlohmann::json toJson(const Alarm& a) {
  return {{"id", a.id},         {"hub_id", a.hubId},       {"member_id", a.memberId},
          {"log_index", a.logIndex}, {"kind", a.kind},     {"author_id", a.authorId},
          {"reason", a.reason}, {"recorded_at_ms", a.recordedAtMs}, {"raised_at_ms", a.raisedAtMs}};
}

Alarm fromJson(const nlohmann::json& j) {
  return Alarm{j.at("id"),        j.at("hub_id"), j.at("member_id"),      j.at("log_index"),
               j.at("kind"),      j.at("author_id"), j.at("reason"), j.at("recorded_at_ms"), j.at("raised_at_ms")};
}

AlarmState load(const fs::path& file) {
  AlarmState s;
  std::error_code ec;
  if (!fs::exists(file, ec)) return s;
  try {
    const auto bytes = crypto::readFileLimited(file, MaxAlarmFileBytes);
    const auto j = nlohmann::json::parse(bytes.begin(), bytes.end());
    for (const auto& [k, v] : j.at("checked").items()) s.checked[k] = v.get<std::uint64_t>();
    for (const auto& a : j.at("alarms")) s.alarms.push_back(fromJson(a));
    s.dropped = j.at("dropped").get<std::uint64_t>();
  } catch (const std::exception& e) {
    // SECURITY: fail closed: a damaged file must not silently lose alarms.
    throw std::runtime_error(fmt::format("{} is damaged ({}); move it away (its alarms are lost, so run focal "
                                         "verify-log and check the entries about you in focal admin log)",
                                         file.string(), e.what()));
  }
  return s;
}

void save(const fs::path& file, const AlarmState& s) {
  nlohmann::json j{{"version", 1}, {"checked", s.checked}, {"alarms", nlohmann::json::array()}, {"dropped", s.dropped}};
  for (const auto& a : s.alarms) j["alarms"].push_back(toJson(a));
  writeFileAtomic(file, j.dump(1) + "\n", 0600);
}

std::string utc(std::int64_t ms) { return fmt::format("{:%Y-%m-%d %H:%M}Z", fmt::gmtime(static_cast<std::time_t>(ms / 1000))); }

}  // namespace

AlarmStore::AlarmStore(fs::path profileDir) : dir_(std::move(profileDir)) {}

std::vector<Alarm> AlarmStore::check(std::span<const LogEntryRecord> entries, std::string_view hubId,
                                     std::string_view memberId,
                                     const std::function<bool(crypto::ByteView, crypto::ByteView)>& ownKeys,
                                     std::int64_t nowMs) const {
  ProfileLock lock(dir_ / "alarms.lock");
  auto state = load(dir_ / "alarms.json");
  const std::string key = fmt::format("{}/{}", hubId, memberId);
  const auto it = state.checked.find(key);
  std::vector<Alarm> raised;
  if (it != state.checked.end() && it->second >= entries.size()) return raised;
  const std::uint64_t from = it == state.checked.end() ? entries.size() : it->second;  // first check: baseline
  for (std::uint64_t i = from; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const auto s = summarizeEntry(e);
    if (s.subjectId != memberId) continue;
    // A working-group appointment (PROTOCOL.md §12.7) is the secretariat's
    // by design and touches none of the member's keys or admin rights: it
    // shows in `focal directory`, not as an alarm.
    if (s.kind == "wg-role") continue;
    const bool rotation = s.kind == "rotate-encryption" || s.kind == "rotate-identity";
    if (rotation && e.authorId == memberId && ownKeys(s.identityKey, s.encryptionKey)) continue;  // the user's own
    raised.push_back(Alarm{fmt::format("{}@{}", memberId, e.index), std::string(hubId), std::string(memberId), e.index,
                           s.kind, s.authorId, s.reason, s.recordedAtMs, nowMs});
  }
  state.checked[key] = entries.size();
  for (const auto& a : raised) state.alarms.push_back(a);
  if (state.alarms.size() > MaxAlarms) {
    const auto over = state.alarms.size() - MaxAlarms;
    state.dropped += over;
    state.alarms.erase(state.alarms.begin(), state.alarms.begin() + static_cast<std::ptrdiff_t>(over));
  }
  save(dir_ / "alarms.json", state);
  return raised;
}

std::vector<Alarm> AlarmStore::list(std::optional<std::string_view> memberId) const {
  ProfileLock lock(dir_ / "alarms.lock");
  std::vector<Alarm> out;
  for (auto& a : load(dir_ / "alarms.json").alarms) {
    if (!memberId || a.memberId == *memberId) out.push_back(std::move(a));
  }
  return out;
}

std::uint64_t AlarmStore::dropped() const {
  ProfileLock lock(dir_ / "alarms.lock");
  return load(dir_ / "alarms.json").dropped;
}

std::vector<std::string> AlarmStore::acknowledge(std::optional<std::string_view> id) const {
  ProfileLock lock(dir_ / "alarms.lock");
  auto state = load(dir_ / "alarms.json");
  std::vector<std::string> removed;
  std::vector<Alarm> kept;
  for (auto& a : state.alarms) {
    if (!id || a.id == *id) {
      removed.push_back(a.id);
    } else {
      kept.push_back(std::move(a));
    }
  }
  if (!id) state.dropped = 0;
  state.alarms = std::move(kept);
  if (!removed.empty() || !id) save(dir_ / "alarms.json", state);
  return removed;
}

std::string describeAlarm(const Alarm& a) {
  return fmt::format("ALARM {}: log entry {} ({}, {}) about YOUR member id {} was signed by {}, not by you{}. If you "
                     "did not ask for it, your keys or roles were changed without you: contact the other admins and "
                     "your contacts out of band now. Acknowledge with: focal alarms --ack {}",
                     safeLine(a.id), a.logIndex, safeLine(a.kind), utc(a.recordedAtMs), safeLine(a.memberId),
                     safeLine(a.authorId), a.reason.empty() ? "" : " (reason: " + safeLine(a.reason) + ")",
                     safeLine(a.id));
}

}  // namespace focal::client

#include "client/verified_log.hpp"

#include "client/enrolment_pin.hpp"
#include "client/log_gossip.hpp"
#include "client/head_freshness.hpp"
#include "client/profile.hpp"
#include "crypto/keyfile.hpp"
#include "crypto/primitives.hpp"
#include "protocol/distribution.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <sstream>

namespace focal::client {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view Magic = "FOCALLOG1\n";
constexpr std::size_t MaxStoredField = 1u << 20;

void putU(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void putBytes(std::string& out, crypto::ByteView b) {
  putU(out, b.size(), 4);
  out.append(reinterpret_cast<const char*>(b.data()), b.size());
}

struct Reader {
  std::string_view data;
  std::size_t pos = 0;
  bool ok = true;
  std::uint64_t u(int bytes) {
    if (data.size() - pos < static_cast<std::size_t>(bytes)) {
      ok = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<std::uint8_t>(data[pos++]);
    return v;
  }
  crypto::Bytes bytes() {
    const auto n = u(4);
    if (!ok || n > MaxStoredField || data.size() - pos < n) {
      ok = false;
      return {};
    }
    crypto::Bytes b(data.begin() + static_cast<std::ptrdiff_t>(pos), data.begin() + static_cast<std::ptrdiff_t>(pos + n));
    pos += n;
    return b;
  }
  bool done() const { return pos == data.size(); }
};

std::optional<std::string> readWhole(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool sameEntry(const LogEntryRecord& a, const LogEntryRecord& b) {
  return a.index == b.index && a.recordedAtMs == b.recordedAtMs && a.authorId == b.authorId &&
         a.authorKey == b.authorKey && a.event == b.event && a.signature == b.signature;
}

std::string hex8(const crypto::Hash256& h) { return crypto::toHex(h).substr(0, 16); }

std::string utc(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

[[noreturn]] void refuse(std::string_view hubId, const std::string& what) {
  throw VerifyError(fmt::format("directory log of hub '{}' is inconsistent: {}. Refusing to use any key from this hub "
                                "until this is resolved (compare heads with other members; see SECURITY.md)",
                                hubId, what));
}

}  // namespace

fs::path logStateDir(const fs::path& profileDir, std::string_view hubId) {
  if (!protocol::isMemberIdSyntax(hubId)) throw VerifyError("the hub's id is not a valid identifier");
  return profileDir / "log" / std::string(hubId);
}

VerifiedLog VerifiedLog::load(const fs::path& profileDir, std::string_view hubId) {
  VerifiedLog v;
  const fs::path dir = logStateDir(profileDir, hubId);
  v.dir_ = dir;
  v.pin_ = loadPinnedBundle(profileDir);
  auto headText = readWhole(dir / "head.bin");
  auto entriesText = readWhole(dir / "entries.bin");
  if (!headText && !entriesText) return v;
  const auto damaged = [&](const std::string& why) {
    return VerifyError(fmt::format("the log stored in {} is damaged ({}); move it away to verify from entry 0 again",
                                   dir.string(), why));
  };
  if (!headText || !entriesText) throw damaged("head.bin or entries.bin is missing");
  Reader h{*headText};
  SignedHeadBytes head{h.bytes(), h.bytes()};
  if (!h.ok || !h.done()) throw damaged("head.bin");
  if (entriesText->substr(0, Magic.size()) != Magic) throw damaged("entries.bin has no header");
  Reader r{std::string_view(*entriesText).substr(Magic.size())};
  LogVerifier verifier(LogVerifier::Options{.trustSignatures = true});
  std::vector<LogEntryRecord> entries;
  while (!r.done()) {
    LogEntryRecord e;
    e.index = r.u(8);
    e.recordedAtMs = static_cast<std::int64_t>(r.u(8));
    auto author = r.bytes();
    e.authorId.assign(author.begin(), author.end());
    e.authorKey = r.bytes();
    e.event = r.bytes();
    e.signature = r.bytes();
    if (!r.ok) throw damaged("entries.bin is truncated");
    if (auto ok = verifier.append(e); !ok) throw damaged(ok.error());
    entries.push_back(std::move(e));
  }
  if (auto ok = verifier.checkHead(head); !ok) throw damaged(ok.error());
  auto info = parseSignedHead(head, verifier.hubKey());
  v.headTimeMs_ = info ? info->timeMs : 0;
  v.entries_ = std::move(entries);
  verifier.checkSignatures();  // entries from the network are always checked
  v.verifier_ = std::move(verifier);
  v.head_ = std::move(head);
  return v;
}

void VerifiedLog::save() const {
  if (!dir_ || !head_) return;
  fs::create_directories(*dir_);
  fs::permissions(*dir_, fs::perms::owner_all, fs::perm_options::replace);
  std::string out(Magic);
  for (const auto& e : entries_) {
    putU(out, e.index, 8);
    putU(out, static_cast<std::uint64_t>(e.recordedAtMs), 8);
    putBytes(out, crypto::asBytes(e.authorId));
    putBytes(out, e.authorKey);
    putBytes(out, e.event);
    putBytes(out, e.signature);
  }
  writeFileAtomic(*dir_ / "entries.bin", out, 0600);
  std::string head;
  putBytes(head, head_->head);
  putBytes(head, head_->signature);
  writeFileAtomic(*dir_ / "head.bin", head, 0600);
}

std::vector<LogEntryRecord> VerifiedLog::fetchRange(Connection& c, std::uint64_t from, std::uint64_t to) {
  std::vector<LogEntryRecord> out;
  std::uint64_t next = from;
  while (next < to) {
    const auto want = static_cast<std::uint32_t>(std::min<std::uint64_t>(to - next, protocol::MaxLogPage));
    auto page = c.log(next, want);
    if (page.entries.empty()) break;
    for (auto& e : page.entries) {
      if (next >= to) break;
      const bool inOrder = e.index == next;
      next = inOrder ? next + 1 : to;  // a wrong index ends the list; the verifier names it
      out.push_back(std::move(e));
      if (!inOrder) break;
    }
  }
  return out;
}

std::string VerifiedLog::firstDifference(Connection& c) const {
  try {
    const auto theirs = fetchRange(c, 0, entries_.size());
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      if (i >= theirs.size()) return fmt::format("the hub no longer serves entry {} that you verified", i);
      if (!sameEntry(theirs[i], entries_[i])) {
        return fmt::format("entry {} differs from the copy you verified (rewritten, removed or reordered)", i);
      }
    }
  } catch (const std::exception&) {
  }
  return "";
}

void VerifiedLog::sync(Connection& c) {
  refuseIfForked(dir_);  // until a person clears it: no key of this hub is used
  const SessionInfo& s = c.session();
  const std::string& hubId = s.hubId;
  const auto pinned = [&](const LogVerifier& log, bool complete) {
    if (!pin_) return;
    if (auto ok = checkPin(*pin_, hubId, s.hubKey, log, complete); !ok) refuse(hubId, ok.error());
  };
  pinned(verifier_, false);
  if (size() > 0 && !(verifier_.hubKey() == s.hubKey)) {
    refuse(hubId, fmt::format("the hub presents signing key {} but the log you verified belongs to key {}",
                              crypto::fingerprint(hubId, s.hubKey), crypto::fingerprint(hubId, verifier_.hubKey())));
  }
  auto first = c.log(size(), protocol::MaxLogPage);
  const SignedHeadBytes head = first.head;
  auto info = parseSignedHead(head, s.hubKey);
  if (!info) refuse(hubId, "log head: " + info.error());
  if (info->hubId != hubId) refuse(hubId, fmt::format("the log head names hub '{}'", info->hubId));
  if (size() > 0) {
    if (info->size < size()) {
      refuse(hubId, fmt::format("rolled-back log: the hub's signed head has {} entries, but you verified {} entries "
                                "before (head signed {}); entries were removed or an old state is served",
                                info->size, size(), utc(headTimeMs_)));
    }
    if (info->size == size() && !(info->root == verifier_.root())) {
      auto diff = firstDifference(c);
      refuse(hubId, fmt::format("fork: the hub's head for {} entries has root {}, the head you verified has root {}{}",
                                size(), hex8(info->root), hex8(verifier_.root()), diff.empty() ? "" : "; " + diff));
    }
    // Head times only go forward (client/head_freshness.hpp): an older head
    // at any size would let a hub replay the view it wants to freeze.
    if (auto ok = checkHeadTimeForward(headTimeMs_, info->timeMs); !ok) refuse(hubId, ok.error());
  }
  std::vector<LogEntryRecord> fresh;
  for (auto& e : first.entries) {
    if (fresh.size() + size() >= info->size) break;
    fresh.push_back(std::move(e));
  }
  const bool orderedSoFar = [&] {
    for (std::size_t i = 0; i < fresh.size(); ++i) {
      if (fresh[i].index != size() + i) return false;
    }
    return true;
  }();
  if (orderedSoFar && size() + fresh.size() < info->size && !fresh.empty()) {
    auto more = fetchRange(c, size() + fresh.size(), info->size);
    for (auto& e : more) fresh.push_back(std::move(e));
  }
  LogVerifier next = verifier_;
  auto appended = next.appendAll(fresh);
  pinned(next, false);  // before the entries' own errors: another genesis is the clearer finding
  if (size() == 0 && next.size() >= 1 && (!(next.hubKey() == s.hubKey) || next.hubId() != hubId)) {
    refuse(hubId, "the log's genesis names another hub or hub key than the hub you are connected to");
  }
  if (!appended) {
    std::string diff;
    if (size() > 0) diff = firstDifference(c);
    refuse(hubId, appended.error() + (diff.empty() ? "" : "; " + diff));
  }
  if (next.size() < info->size) {
    refuse(hubId, fmt::format("missing entries: the hub's signed head has {} entries but it sent only {}", info->size,
                              next.size()));
  }
  if (auto ok = next.checkHead(head); !ok) {
    std::string what = ok.error();
    if (size() > 0) {
      what = fmt::format("the log the hub serves does not extend the head you verified at {} entries (fork or "
                         "rewritten history): {}",
                         size(), what);
      if (auto diff = firstDifference(c); !diff.empty()) what += "; " + diff;
    }
    refuse(hubId, what);
  }
  pinned(next, true);
  for (auto& e : fresh) entries_.push_back(std::move(e));
  verifier_ = std::move(next);
  const bool changed = !head_ || head_->head != head.head;
  head_ = head;
  headTimeMs_ = info->timeMs;
  if (changed) save();
}

protocol::CosignatureCount VerifiedLog::witnessing(std::int64_t nowMs) const {
  if (!head_) return {};
  return protocol::countCosignatures(verifier_.witnessPolicy(), verifier_.hubId(), verifier_.hubKey(), size(),
                                     verifier_.root(), head_->cosignatures, nowMs);
}

void VerifiedLog::requireWitnessed(std::int64_t nowMs) const {
  const auto& policy = verifier_.witnessPolicy();
  if (!policy.active()) return;
  const auto counted = witnessing(nowMs);
  if (counted.count() >= policy.threshold) return;
  std::string why;
  for (const auto& p : counted.problems) why += "; " + p;
  throw VerifyError(fmt::format(
      "the directory log's head ({} entries) carries {} of the {} fresh witness cosignatures this log requires{}. "
      "Until its witnesses (`focal witness --follow`) have seen this log, nothing is sealed or accepted: a head they "
      "did not cosign may be a view of the log shown only to you (PROTOCOL.md §11.6)",
      size(), counted.count(), policy.threshold, why));
}

VerifiedLog::Report VerifiedLog::verifyAll(Connection& c) {
  const SessionInfo& s = c.session();
  const std::string& hubId = s.hubId;
  Report report;
  report.previous = size();
  auto first = c.log(0, 1);
  auto info = parseSignedHead(first.head, s.hubKey);
  if (!info) refuse(hubId, "log head: " + info.error());
  if (info->hubId != hubId) refuse(hubId, fmt::format("the log head names hub '{}'", info->hubId));
  if (info->size < size()) {
    refuse(hubId, fmt::format("rolled-back log: the hub's signed head has {} entries, but you verified {} before",
                              info->size, size()));
  }
  if (size() > 0) {
    if (auto ok = checkHeadTimeForward(headTimeMs_, info->timeMs); !ok) refuse(hubId, ok.error());
  }
  const auto all = fetchRange(c, 0, info->size);
  for (const auto& e : all) {
    if (e.index < entries_.size() && !sameEntry(e, entries_[e.index])) {
      refuse(hubId, fmt::format("entry {} differs from the copy you verified before (rewritten or forked history)",
                                e.index));
    }
  }
  LogVerifier full;
  auto appended = full.appendAll(all);
  const auto pinned = [&](bool complete) {
    if (!pin_) return;
    if (auto ok = checkPin(*pin_, hubId, s.hubKey, full, complete); !ok) refuse(hubId, ok.error());
  };
  pinned(false);
  if (full.size() >= 1 && (!(full.hubKey() == s.hubKey) || full.hubId() != hubId)) {
    refuse(hubId, "the log's genesis names another hub or hub key than the hub you are connected to");
  }
  if (!appended) refuse(hubId, appended.error());
  if (full.size() < info->size) {
    refuse(hubId, fmt::format("missing entries: the hub's signed head has {} entries but it sent only {}", info->size,
                              full.size()));
  }
  if (auto ok = full.checkHead(first.head); !ok) refuse(hubId, ok.error());
  pinned(true);
  if (size() > 0 && !(full.entryHashes()[size() - 1] == verifier_.root())) {
    refuse(hubId, fmt::format("the log does not extend the head you verified at {} entries", size()));
  }
  entries_ = all;
  verifier_ = std::move(full);
  head_ = first.head;
  headTimeMs_ = info->timeMs;
  save();
  report.entries = size();
  report.headTimeMs = info->timeMs;
  report.root = verifier_.root();
  return report;
}

}  // namespace focal::client

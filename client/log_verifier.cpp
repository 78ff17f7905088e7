// The client's adapter over protocol::DirectoryLog: entries as the hub
// sends them in, verification messages out (see log_verifier.hpp).
#include "client/log_verifier.hpp"

#include "protocol/log.hpp"

#include <fmt/format.h>
#include <kj/exception.h>

#include <algorithm>
#include <thread>

namespace focal::client {

namespace {

using Fail = Expected<Ok, std::string>;

Fail no(std::string why) { return Fail(unexpected(std::move(why))); }

// The entry as the rules read it; nullopt when a key or signature has the
// wrong length.
std::optional<protocol::LogEntryView> viewOf(const LogEntryRecord& e) {
  auto authorKey = crypto::SigningPublicKey::fromBytes(e.authorKey);
  auto signature = crypto::Signature::fromBytes(e.signature);
  if (!authorKey || !signature) return std::nullopt;
  return protocol::LogEntryView{e.event, *signature, *authorKey, e.authorId, e.index, e.recordedAtMs};
}

protocol::EntryPrecheck precheckOf(const LogEntryRecord& e) {
  auto v = viewOf(e);
  return v ? protocol::precheck(*v) : protocol::EntryPrecheck{};
}

}  // namespace

std::vector<MemberRecord> LogVerifier::records() const {
  std::vector<MemberRecord> out;
  out.reserve(log_.members().size());
  for (const auto& [id, m] : log_.members()) {
    MemberRecord r;
    static_cast<protocol::LogMember&>(r) = m;
    r.active = m.active();
    r.keysWellFormed = true;  // the log's rules checked lengths and certificate
    r.certValid = true;
    out.push_back(std::move(r));
  }
  return out;
}

Expected<Ok, std::string> LogVerifier::append(const LogEntryRecord& entry) { return appendChecked(entry, nullptr); }

Expected<Ok, std::string> LogVerifier::appendAll(std::span<const LogEntryRecord> entries, unsigned threads) {
  if (options_.trustSignatures || entries.size() < 64) {
    for (const auto& e : entries) {
      if (auto ok = append(e); !ok) return ok;
    }
    return Ok{};
  }
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, entries.size() / 32 + 1));
  std::vector<protocol::EntryPrecheck> pre(entries.size());
  {
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (std::size_t i = t; i < entries.size(); i += threads) pre[i] = precheckOf(entries[i]);
      });
    }
    for (std::size_t i = 0; i < entries.size(); i += threads) pre[i] = precheckOf(entries[i]);
    for (auto& th : pool) th.join();
  }
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (auto ok = appendChecked(entries[i], &pre[i]); !ok) return ok;
  }
  return Ok{};
}

Expected<Ok, std::string> LogVerifier::appendChecked(const LogEntryRecord& entry, const protocol::EntryPrecheck* pre) {
  const auto asRead = viewOf(entry);
  if (!asRead && entry.index == size()) {
    return no(fmt::format("log entry {}: author key or signature has the wrong length", size()));
  }
  protocol::DirectoryLog::CheckOptions options;
  options.adoptedAtMs = entry.recordedAtMs;
  options.verifySignatures = !options_.trustSignatures;
  options.precheck = pre;
  protocol::LogEntryView checked;  // without a readable key, only the index is judged (it is not the next)
  if (asRead) checked = *asRead;
  checked.index = entry.index;
  if (auto ok = log_.check(checked, options); !ok) return no(protocol::describeAt(entry.index, ok.error()));
  // SECURITY: the event bytes come from the hub; apply() reads what check()
  // read, but a pointer of the wrong kind only fails when read.
  try {
    const auto hash = log_.nextHash(checked);
    log_.apply(checked, hash);
    hashes_.push_back(hash);
  } catch (const kj::Exception&) {
    return no(fmt::format("log entry {}: the event is malformed", entry.index));
  }
  return Ok{};
}

Expected<HeadInfo, std::string> parseSignedHead(const SignedHeadBytes& head, const crypto::SigningPublicKey& hubKey) {
  auto sig = crypto::Signature::fromBytes(head.signature);
  if (!sig) return Expected<HeadInfo, std::string>(unexpected(std::string("the log head signature has the wrong length")));
  auto parsed = protocol::verifyLogHead(head.head, *sig, hubKey);
  if (!parsed) {
    return Expected<HeadInfo, std::string>(unexpected(
        std::string(parsed.error() == protocol::LogError::BadSignature ? "the hub's signature on the log head does not verify"
                                                                       : "the log head is malformed")));
  }
  const auto h = parsed->root();
  HeadInfo info;
  info.hubId = std::string(protocol::view(h.getHubId()));
  info.size = h.getSize();
  info.root = *crypto::Hash256::fromBytes(protocol::view(h.getRootHash()));
  info.timeMs = h.getTimeMs();
  return info;
}

Expected<Ok, std::string> LogVerifier::checkHead(const SignedHeadBytes& head) const {
  if (size() == 0) return no("no genesis verified yet");
  auto info = parseSignedHead(head, hubKey());
  if (!info) return no(info.error());
  if (info->hubId != hubId()) {
    return no(fmt::format("the log head names hub '{}', the log is of '{}'", info->hubId, hubId()));
  }
  if (info->size != size()) return no(fmt::format("the log head covers {} entries, {} were verified", info->size, size()));
  if (!(info->root == root())) {
    return no(fmt::format("the log head's root hash does not match the {} entries the hub sent (an entry was altered, "
                          "removed or reordered)",
                          size()));
  }
  return Ok{};
}

}  // namespace focal::client

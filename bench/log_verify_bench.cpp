// focal-log-verify-bench: how long a client takes to verify a directory log
// from entry 0 (what `focal verify-log` does after fetching), on a log of
// N entries (default 10,000): 1,000 members registered by an admin, the rest
// encryption-key rotations signed by the members themselves. Every entry
// costs one Ed25519 verification of the author's signature and one of the
// encryption-key certificate, plus the hash chain; then the hub's head.
//
//   focal-log-verify-bench [ENTRIES] [RUNS] [THREADS]   (THREADS 0 = all cores)
//
// Prints the time of each run and the median, then the time the hub's own
// startup replay (server::Directory::replay, one thread) takes on the same log. A figure for bench/RESULTS.md,
// never an assertion.
#include "client/log_verifier.hpp"
#include "server/directory.hpp"
#include "tests/support/log_events.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace focal;
using namespace focal::test_support::events;

int main(int argc, char** argv) {
  crypto::initialize();
  const std::size_t total = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10'000;
  const int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
  const unsigned threads = argc > 3 ? static_cast<unsigned>(std::atoi(argv[3])) : 0;
  const std::size_t members = std::min<std::size_t>(1'000, total > 2 ? total - 2 : 0);

  // Build the log as an honest hub would.
  const std::string hubId = "bench-hub";
  auto hub = crypto::SigningKeyPair::generate();
  auto admin = crypto::MemberKeys::generate("admin", T0);
  std::vector<client::LogEntryRecord> entries;
  crypto::Hash256 root{};
  std::int64_t now = T0;
  auto add = [&](const std::string& author, const crypto::SigningPublicKey& key, const protocol::SignedEvent& e) {
    client::LogEntryRecord r;
    r.index = entries.size();
    r.recordedAtMs = ++now;
    r.authorId = author;
    r.authorKey.assign(key.view().begin(), key.view().end());
    r.event = e.event;
    r.signature.assign(e.signature.view().begin(), e.signature.view().end());
    root = protocol::logEntryHash(r.index, entries.empty() ? protocol::logGenesisPrev() : root, r.recordedAtMs, r.event,
                                  key, e.signature);
    entries.push_back(std::move(r));
  };
  add(hubId, hub.publicKey, genesis(hubId, hub));
  add("admin", admin.identity.publicKey,
      registration({"admin", "SG", wire::Institution::SECRETARIAT, true}, admin.publicKeys(), admin.identity.secretKey));
  std::vector<crypto::MemberKeys> keys;
  keys.reserve(members);
  for (std::size_t i = 0; i < members; ++i) {
    keys.push_back(crypto::MemberKeys::generate("m" + std::to_string(i), T0));
    add("admin", admin.identity.publicKey,
        registration({keys.back().memberId}, keys.back().publicKeys(), admin.identity.secretKey));
  }
  for (std::size_t i = 0; entries.size() < total; ++i) {
    auto& m = keys[i % members];
    auto fresh = crypto::MemberKeys::generate(m.memberId, T0 + static_cast<std::int64_t>(i));
    fresh.identity = crypto::SigningKeyPair::fromSecret(m.identity.secretKey.clone());
    const auto previous = m.encryption.publicKey;
    add(m.memberId, m.identity.publicKey,
        rotation(false, m.memberId, previous.view(), fresh.publicKeys(), m.identity.secretKey));
    m.encryption = std::move(fresh.encryption);
  }
  auto h = protocol::signLogHead(hubId, entries.size(), root, now, hub.secretKey);
  const client::SignedHeadBytes head{h.head, crypto::Bytes(h.signature.view().begin(), h.signature.view().end())};

  std::vector<double> times;
  for (int run = 0; run < runs; ++run) {
    const auto start = std::chrono::steady_clock::now();
    client::LogVerifier v;
    if (auto ok = v.appendAll(entries, threads); !ok) {
      std::fprintf(stderr, "verification failed: %s\n", ok.error().c_str());
      return 1;
    }
    if (auto ok = v.checkHead(head); !ok) {
      std::fprintf(stderr, "head failed: %s\n", ok.error().c_str());
      return 1;
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    times.push_back(ms);
    std::printf("run %d: %zu entries verified in %.1f ms\n", run + 1, entries.size(), ms);
  }
  std::sort(times.begin(), times.end());
  std::printf("median: %.1f ms for %zu entries (%.1f us per entry)\n", times[times.size() / 2], entries.size(),
              1000.0 * times[times.size() / 2] / static_cast<double>(entries.size()));

  // The hub's startup replay of the same log.
  std::vector<server::StoredLogEntry> stored;
  stored.reserve(entries.size());
  crypto::Hash256 chain{};
  for (const auto& e : entries) {
    server::StoredLogEntry s;
    s.index = e.index;
    s.recordedAtMs = e.recordedAtMs;
    s.authorId = e.authorId;
    s.authorKey = *crypto::SigningPublicKey::fromBytes(e.authorKey);
    s.event = e.event;
    s.signature = *crypto::Signature::fromBytes(e.signature);
    chain = protocol::logEntryHash(s.index, s.index == 0 ? protocol::logGenesisPrev() : chain, s.recordedAtMs, s.event,
                                   s.authorKey, s.signature);
    s.entryHash = chain;
    stored.push_back(std::move(s));
  }
  const auto start = std::chrono::steady_clock::now();
  auto replayed = server::Directory::replay(stored);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!replayed) {
    std::fprintf(stderr, "hub replay failed: %s\n", replayed.error().c_str());
    return 1;
  }
  std::printf("hub startup replay (server::Directory::replay): %.1f ms for %zu entries\n", ms, stored.size());
  return 0;
}

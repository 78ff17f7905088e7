// Helpers shared by the server unit tests: databases, and test data built
// the way the hub would receive it (temporary directories: tests/support).
#pragma once

#include "client/connection.hpp"
#include "crypto/primitives.hpp"
#include "server/commit_queue.hpp"
#include "server/sqlite.hpp"
#include "server/store.hpp"
#include "tests/support/temp_dir.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace focal::server::testing {

using test_support::TempDir;

// A stored log entry as the hub serves it to a client.
inline client::LogEntryRecord clientRecord(const StoredLogEntry& e) {
  const auto key = e.authorKey.view();
  const auto sig = e.signature.view();
  return {e.index, e.recordedAtMs, e.authorId, crypto::Bytes(key.begin(), key.end()), e.event,
          crypto::Bytes(sig.begin(), sig.end())};
}

// The smallest focal.toml parseConfig accepts: [hub] and [tls] only.
inline constexpr const char* MinimalHubConfig = R"(
[hub]
id = "focal-hub"
listen = "127.0.0.1:7443"

[tls]
certificate = "tls/cert.pem"
private_key = "tls/key.pem"
)";

// Writer options with these two limits and the defaults for the rest.
inline CommitQueue::Options queueOptions(std::size_t maxQueued, std::size_t maxBatch) {
  CommitQueue::Options o;
  o.maxQueued = maxQueued;
  o.maxBatch = maxBatch;
  return o;
}

// Creates a database with the hub schema and returns its path.
inline std::filesystem::path createHubDatabase(const TempDir& dir) {
  auto path = dir / "focal.db";
  auto db = sqlite::Database::open(path, sqlite::Database::Mode::ReadWriteCreate);
  Store::createSchema(db);
  return path;
}

template <class F>
F filled(std::uint8_t seed) {
  F f;
  for (std::size_t i = 0; i < F::size; ++i) f.bytes[i] = static_cast<std::uint8_t>(seed + i);
  return f;
}

// A bulletin as the store sees it (the store never verifies signatures, so
// the bytes only need to be distinct and stable).
inline NewBulletin makeBulletin(std::uint8_t seed, const std::string& sender, const std::vector<std::string>& to,
                                std::int64_t atMs = 1'000'000) {
  NewBulletin b;
  b.id = filled<crypto::BulletinId>(seed);
  b.senderId = sender;
  b.senderKey = filled<crypto::SigningPublicKey>(1);
  b.header = crypto::Bytes(100, seed);
  b.signature = filled<crypto::Signature>(seed);
  b.ciphertext = crypto::Bytes(200 + seed, static_cast<std::uint8_t>(seed ^ 0x5a));
  b.createdAtMs = atMs;
  b.acceptedAtMs = atMs;
  b.tlp = 2;
  for (const auto& r : to) b.recipients.push_back(NewBulletin::Recipient{r, filled<crypto::BoxPublicKey>(7)});
  return b;
}

// Runs `fn` in a transaction on a fresh write connection and commits.
template <class Fn>
auto writeTxn(const std::filesystem::path& dbPath, Fn fn) {
  auto db = sqlite::Database::open(dbPath, sqlite::Database::Mode::ReadWrite);
  sqlite::Transaction t(db);
  auto result = fn(db);
  t.commit();
  return result;
}

inline Store openStore(const std::filesystem::path& dbPath) {
  return Store(sqlite::Database::open(dbPath, sqlite::Database::Mode::ReadOnly));
}

}  // namespace focal::server::testing

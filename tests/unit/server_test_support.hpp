// Helpers shared by the server unit tests: temporary directories and
// databases, and test data built the way the hub would receive it.
#pragma once

#include "crypto/primitives.hpp"
#include "server/sqlite.hpp"
#include "server/store.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace focal::server::testing {

// A fresh directory under the system temp dir, removed with its contents.
class TempDir {
 public:
  TempDir() {
    crypto::initialize();  // idempotent; libsodium must be ready for randomness and secrets
    crypto::Bytes r(8);
    crypto::randomFill(r);
    path_ = std::filesystem::temp_directory_path() / ("focal-test-" + crypto::toHex(r));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

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

// In-memory state of uploads in progress: the next expected offset and the
// incremental BLAKE2b-256 of everything accepted so far, so a finished blob
// is verified without re-reading it. The store is the truth; an entry here
// is only a cache of it and can be dropped at any time (the next chunk then
// rebuilds it by hashing the stored chunks). Capped at `maxTracked` entries.
//
// Pipelined chunks: `next` and `hasher` include chunks accepted for writing
// but not yet committed. If one of them fails, the entry is dropped, and the
// store's own offset check refuses the chunks queued behind it.
#pragma once

#include "crypto/primitives.hpp"

#include <cstdint>
#include <string>
#include <unordered_map>

namespace focal::server {

class UploadTracker {
 public:
  struct State {
    std::string ownerId;
    crypto::Hash256 blobHash;
    std::uint64_t size = 0;
    std::uint64_t next = 0;  // offset the next chunk must start at
    crypto::Hasher hasher;   // over [0, next)
  };

  explicit UploadTracker(std::size_t maxTracked) : maxTracked_(maxTracked) {}

  State* find(std::uint64_t uploadId);
  State& put(std::uint64_t uploadId, State state);  // may evict another entry
  void erase(std::uint64_t uploadId) { uploads_.erase(uploadId); }
  std::size_t size() const { return uploads_.size(); }

 private:
  std::size_t maxTracked_;
  std::unordered_map<std::uint64_t, State> uploads_;
};

}  // namespace focal::server

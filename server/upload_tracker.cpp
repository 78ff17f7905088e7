#include "server/upload_tracker.hpp"

namespace focal::server {

UploadTracker::State* UploadTracker::find(std::uint64_t uploadId) {
  auto it = uploads_.find(uploadId);
  return it == uploads_.end() ? nullptr : &it->second;
}

UploadTracker::State& UploadTracker::put(std::uint64_t uploadId, State state) {
  if (uploads_.size() >= maxTracked_ && uploads_.find(uploadId) == uploads_.end()) {
    // Evicting costs the owner a rehash from the store on its next chunk;
    // memory stays bounded.
    uploads_.erase(uploads_.begin());
  }
  return uploads_.insert_or_assign(uploadId, std::move(state)).first->second;
}

}  // namespace focal::server

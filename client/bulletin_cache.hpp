// Received bulletins kept on disk, still encrypted (RawBulletin::encode),
// one file per id: cache/<32 hex>.bulletin. So `focal read ID` works after
// the bulletin has been acknowledged and left the hub's queue. Files are
// read back under the protocol's decoding limits.
#pragma once

#include "client/raw_bulletin.hpp"

#include <filesystem>
#include <optional>

namespace focal::client {

class BulletinCache {
 public:
  explicit BulletinCache(std::filesystem::path dir);
  void put(const crypto::BulletinId& id, const RawBulletin& bulletin) const;
  std::optional<RawBulletin> get(const crypto::BulletinId& id) const;

 private:
  std::filesystem::path fileFor(const crypto::BulletinId& id) const;
  std::filesystem::path dir_;
};

}  // namespace focal::client

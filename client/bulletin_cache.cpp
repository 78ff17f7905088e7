#include "client/bulletin_cache.hpp"

#include "client/profile.hpp"
#include "protocol/limits.hpp"

#include <sys/stat.h>

#include <fstream>
#include <iterator>

namespace focal::client {

BulletinCache::BulletinCache(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  ::chmod(dir_.c_str(), 0700);
}

std::filesystem::path BulletinCache::fileFor(const crypto::BulletinId& id) const {
  return dir_ / (crypto::toHex(id) + ".bulletin");
}

void BulletinCache::put(const crypto::BulletinId& id, const RawBulletin& bulletin) const {
  const auto bytes = bulletin.encode();
  writeFileAtomic(fileFor(id), std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), 0600);
}

std::optional<RawBulletin> BulletinCache::get(const crypto::BulletinId& id) const {
  const auto path = fileFor(id);
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size > protocol::MaxFrameBytes) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  crypto::Bytes bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (static_cast<std::size_t>(in.gcount()) != size) return std::nullopt;
  return RawBulletin::decode(bytes);
}

}  // namespace focal::client

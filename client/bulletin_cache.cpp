#include "client/bulletin_cache.hpp"

#include "client/profile.hpp"
#include "protocol/limits.hpp"
#include "protocol/message.hpp"

#include <capnp/message.h>

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

namespace {

std::optional<crypto::Bytes> readLimited(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size > protocol::MaxFrameBytes) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  crypto::Bytes bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (static_cast<std::size_t>(in.gcount()) != size) return std::nullopt;
  return bytes;
}

}  // namespace

void BulletinCache::putRecord(const crypto::BulletinId& id, Record kind, const crypto::Bytes& body,
                              const crypto::Bytes& signature) const {
  capnp::MallocMessageBuilder m;
  auto r = m.initRoot<wire::SignedRecord>();
  r.setBody(protocol::kjBytes(body));
  r.setSignature(protocol::kjBytes(signature));
  const auto bytes = protocol::toBytes(m);
  const auto path = dir_ / (crypto::toHex(id) + (kind == Record::Forward ? ".forward" : ".retraction"));
  writeFileAtomic(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), 0600);
}

std::optional<std::pair<crypto::Bytes, crypto::Bytes>> BulletinCache::getRecord(const crypto::BulletinId& id,
                                                                                 Record kind) const {
  auto bytes = readLimited(dir_ / (crypto::toHex(id) + (kind == Record::Forward ? ".forward" : ".retraction")));
  if (!bytes) return std::nullopt;
  // SECURITY: another process could have written the file; decoded under the limits.
  auto parsed = protocol::decode<wire::SignedRecord>(*bytes);
  if (!parsed) return std::nullopt;
  const auto body = protocol::view(parsed->root().getBody());
  const auto sig = protocol::view(parsed->root().getSignature());
  return std::pair{crypto::Bytes(body.begin(), body.end()), crypto::Bytes(sig.begin(), sig.end())};
}

void BulletinCache::putOwn(const protocol::SealedBulletin& sealed, const crypto::WrappedKey& selfWrapped) const {
  put(sealed.id, RawBulletin::fromSealed(sealed));
  writeFileAtomic(dir_ / (crypto::toHex(sealed.id) + ".own"),
                  std::string_view(reinterpret_cast<const char*>(selfWrapped.bytes.data()), selfWrapped.size), 0600);
}

std::optional<crypto::WrappedKey> BulletinCache::getOwn(const crypto::BulletinId& id) const {
  auto bytes = readLimited(dir_ / (crypto::toHex(id) + ".own"));
  if (!bytes) return std::nullopt;
  return crypto::WrappedKey::fromBytes(*bytes);
}

std::vector<crypto::BulletinId> BulletinCache::ids() const {
  std::vector<crypto::BulletinId> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    const auto name = e.path().filename().string();
    if (name.size() != 32 + 9 || name.substr(32) != ".bulletin") continue;
    auto bytes = crypto::fromHex(name.substr(0, 32));
    if (!bytes) continue;
    if (auto id = crypto::BulletinId::fromBytes(*bytes)) out.push_back(*id);
  }
  return out;
}

}  // namespace focal::client

#include "client/bulletin_cache.hpp"

#include "client/profile.hpp"
#include "protocol/limits.hpp"
#include "protocol/message.hpp"

#include <capnp/message.h>

#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <map>
#include <set>

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

std::optional<RawBulletin> BulletinCache::get(const crypto::BulletinId& id) const {
  const auto bytes = readLimited(fileFor(id));
  if (!bytes) return std::nullopt;
  return RawBulletin::decode(*bytes);
}

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

void BulletinCache::remove(const crypto::BulletinId& id) const {
  std::error_code ec;
  for (const char* ext : {".bulletin", ".forward", ".own"}) std::filesystem::remove(dir_ / (crypto::toHex(id) + ext), ec);
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

void BulletinCache::copyMemberShare(const std::filesystem::path& from, const std::filesystem::path& to,
                                    std::string_view memberId) {
  namespace fs = std::filesystem;
  // Per bulletin id (hex): which files exist.
  std::map<std::string, std::set<std::string>> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(from, ec)) {
    const auto name = e.path().filename().string();
    const auto dot = name.find('.');
    if (dot != 32 || !e.is_regular_file(ec)) continue;
    files[name.substr(0, 32)].insert(name.substr(dot));
  }
  const auto listsMember = [&](capnp::List<wire::Recipient>::Reader recipients) {
    for (auto r : recipients) {
      if (protocol::view(r.getMemberId()) == memberId) return true;
    }
    return false;
  };
  for (const auto& [hexId, kinds] : files) {
    // (clang 14 cannot capture a structured binding in a lambda.)
    const std::string& hex = hexId;
    const auto path = [&](const char* ext) { return from / (hex + ext); };
    bool sender = false;
    bool recipient = false;
    if (kinds.count(".bulletin") != 0) {
      auto bytes = readLimited(path(".bulletin"));
      auto raw = bytes ? RawBulletin::decode(*bytes) : std::nullopt;
      if (raw) {
        if (auto header = protocol::decode<wire::BulletinHeader>(raw->header)) {
          sender = protocol::view(header->root().getSenderId()) == memberId;
          recipient = listsMember(header->root().getRecipients());
        }
      }
    }
    bool forwardedToUs = false;
    if (kinds.count(".forward") != 0) {
      if (auto bytes = readLimited(path(".forward"))) {
        if (auto record = protocol::decode<wire::SignedRecord>(*bytes)) {
          if (auto body = protocol::decode<wire::ForwardRecord>(protocol::view(record->root().getBody()))) {
            forwardedToUs = listsMember(body->root().getRecipients());
          }
        }
      }
    }
    const bool keep = sender || recipient || forwardedToUs;
    std::vector<const char*> take;
    if (keep && kinds.count(".bulletin") != 0) take.push_back(".bulletin");
    if (keep && kinds.count(".retraction") != 0) take.push_back(".retraction");
    if (forwardedToUs) take.push_back(".forward");
    if (sender && kinds.count(".own") != 0) take.push_back(".own");
    for (const char* ext : take) {
      fs::copy_file(path(ext), to / (hexId + ext), fs::copy_options::overwrite_existing, ec);
      if (ec) throw std::runtime_error("cannot copy " + path(ext).string() + " into " + to.string() + ": " + ec.message());
      ::chmod((to / (hexId + ext)).c_str(), 0600);
    }
  }
}

}  // namespace focal::client

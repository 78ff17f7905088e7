// Received bulletins kept on disk, still encrypted (RawBulletin::encode),
// one file per id: cache/<32 hex>.bulletin. So `focal read ID` works after
// the bulletin has been acknowledged and left the hub's queue. Files are
// read back under the protocol's decoding limits.
#pragma once

#include "client/bulletin_reader.hpp"
#include "client/raw_bulletin.hpp"

#include <functional>

#include <filesystem>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace focal::client {

class BulletinCache {
 public:
  explicit BulletinCache(std::filesystem::path dir);
  void put(const crypto::BulletinId& id, const RawBulletin& bulletin) const;
  std::optional<RawBulletin> get(const crypto::BulletinId& id) const;

  // The signed records kept beside a bulletin (still unverified: verified
  // again each time they are used): the forward that brought it (needed to
  // open it) and its retraction. Files <hex>.forward / <hex>.retraction,
  // each a SignedRecord message.
  enum class Record { Forward, Retraction };
  void putRecord(const crypto::BulletinId& id, Record kind, const crypto::Bytes& body,
                 const crypto::Bytes& signature) const;
  std::optional<std::pair<crypto::Bytes, crypto::Bytes>> getRecord(const crypto::BulletinId& id, Record kind) const;
  // A bulletin we sent, with its content key sealed to our own encryption
  // key (<hex>.own), so we can open our own copy later.
  void putOwn(const protocol::SealedBulletin& sealed, const crypto::WrappedKey& selfWrapped) const;
  std::optional<crypto::WrappedKey> getOwn(const crypto::BulletinId& id) const;
  // Called with every bulletin opened and verified through this cache
  // (client/delivery_opener.hpp: the one place content is opened), so the
  // member's archive keeps it (client/archive.hpp).
  using OpenedHook = std::function<void(const OpenedMessage&)>;
  void onOpened(OpenedHook hook) { hook_ = std::move(hook); }
  void opened(const OpenedMessage& m) const {
    if (hook_) hook_(m);
  }
  // Removes the bulletin and the records that open it (forward, own copy):
  // the archive's retention (archive-keep) reached it. Its retraction stays.
  void remove(const crypto::BulletinId& id) const;
  // Every cached bulletin id (for focal thread).
  std::vector<crypto::BulletinId> ids() const;

  // Copies from a cache that several members shared (a profile from before
  // the per-member layout, see Profile::memberDir) the files that are
  // `memberId`'s: bulletins it sent or is a recipient of (by the unverified
  // header, or by a forward record addressed to it), its own-copy records
  // (only for bulletins it sent), forward records addressed to it, and the
  // retractions of bulletins it keeps. Unreadable or damaged files are
  // skipped (they would not open either). Copies are verbatim; every file is
  // verified again when used. Throws std::runtime_error on a failed copy.
  static void copyMemberShare(const std::filesystem::path& from, const std::filesystem::path& to,
                              std::string_view memberId);

 private:
  std::filesystem::path fileFor(const crypto::BulletinId& id) const;
  std::filesystem::path dir_;
  OpenedHook hook_;
};

}  // namespace focal::client

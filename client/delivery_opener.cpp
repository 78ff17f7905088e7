// Opening received deliveries with every record verified, and the local
// cache kept in step (client/delivery_opener.hpp). Moved out of the CLI so
// a script or another client opens a queue the way `focal inbox` does.
#include "client/delivery_opener.hpp"

#include "client/client_error.hpp"
#include "client/log_gossip.hpp"
#include "client/verified_log.hpp"

#include <algorithm>

namespace focal::client {

std::vector<Delivery> fetchAll(Connection& c, std::uint64_t afterSeq) {
  std::vector<Delivery> all;
  for (;;) {
    auto page = c.fetch(afterSeq, protocol::MaxFetchPage);
    for (auto& d : page.items) {
      afterSeq = std::max(afterSeq, d.seq);
      all.push_back(std::move(d));
    }
    if (!page.more || page.items.empty()) break;
  }
  return all;
}

Expected<OpenedMessage, std::string> openWithDirectory(Connection& c, std::unique_ptr<HubDirectory>& dir,
                                                       const RawBulletin& raw, const crypto::Keyring& me) {
  if (!dir) dir = std::make_unique<HubDirectory>(HubDirectory::fetch(c));
  auto opened = openReceived(raw, *dir, me);
  if (!opened && opened.error().rfind("unknown sender", 0) == 0) {
    dir = std::make_unique<HubDirectory>(HubDirectory::fetch(c));
    return openReceived(raw, *dir, me);
  }
  return opened;
}

namespace {

// Refreshes the directory once when a member is unknown (registered after it was fetched).
template <class F>
auto withDirectory(Connection& c, std::unique_ptr<HubDirectory>& dir, F&& f) {
  if (!dir) dir = std::make_unique<HubDirectory>(HubDirectory::fetch(c));
  auto result = f(*dir);
  if (!result && result.error().find("unknown ") != std::string::npos) {
    dir = std::make_unique<HubDirectory>(HubDirectory::fetch(c));
    result = f(*dir);
  }
  return result;
}

void attachCachedRetraction(Connection& c, std::unique_ptr<HubDirectory>& dir, const RawBulletin& raw,
                            const crypto::BulletinId& id, const BulletinCache& cache, OpenedMessage& m) {
  auto rec = cache.getRecord(id, BulletinCache::Record::Retraction);
  if (!rec) return;
  auto r = withDirectory(c, dir, [&](const HubDirectory& d) { return verifyRetractionOf(raw, d, rec->first, rec->second); });
  if (r) m.retraction = std::move(r).value();
}

}  // namespace

Expected<OpenedMessage, std::string> openCached(Connection& c, std::unique_ptr<HubDirectory>& dir,
                                                const RawBulletin& raw, const crypto::BulletinId& id,
                                                const crypto::Keyring& me, const BulletinCache& cache) {
  auto forward = cache.getRecord(id, BulletinCache::Record::Forward);
  auto own = cache.getOwn(id);
  auto opened = withDirectory(c, dir, [&](const HubDirectory& d) {
    return openReceived(raw, d, me, forward ? &*forward : nullptr, own ? &*own : nullptr);
  });
  if (opened) {
    checkCarriedHead(c, *opened);  // gossip: a fork throws VerifyError
    attachCachedRetraction(c, dir, raw, id, cache, *opened);
    cache.opened(*opened);
  }
  return opened;
}

Expected<OpenedMessage, std::string> openDelivery(Connection& c, std::unique_ptr<HubDirectory>& dir,
                                                  const Delivery& d, const crypto::Keyring& me,
                                                  const BulletinCache& cache) {
  using Result = Expected<OpenedMessage, std::string>;
  const auto claimed = d.bulletin.claimedId();
  if (!claimed) return Result(unexpected(std::string("malformed: the bulletin header does not parse")));
  std::optional<std::pair<crypto::Bytes, crypto::Bytes>> forward;
  if (d.forward) forward.emplace(d.forward->body, d.forward->signature);
  else forward = cache.getRecord(*claimed, BulletinCache::Record::Forward);

  if (d.retraction) {
    auto r = withDirectory(c, dir, [&](const HubDirectory& dd) {
      return verifyRetractionOf(d.bulletin, dd, d.retraction->body, d.retraction->signature);
    });
    if (!r) return Result(unexpected(r.error()));
    cache.put(*claimed, d.bulletin);
    cache.putRecord(*claimed, BulletinCache::Record::Retraction, d.retraction->body, d.retraction->signature);
  }
  auto opened = withDirectory(c, dir, [&](const HubDirectory& dd) {
    return openReceived(d.bulletin, dd, me, forward ? &*forward : nullptr);
  });
  if (!opened) return opened;
  checkCarriedHead(c, *opened);  // gossip: a fork throws VerifyError (and is recorded)
  cache.put(opened->id, d.bulletin);
  if (d.forward) cache.putRecord(opened->id, BulletinCache::Record::Forward, d.forward->body, d.forward->signature);
  attachCachedRetraction(c, dir, d.bulletin, opened->id, cache, *opened);
  cache.opened(*opened);
  return opened;
}

// Every queued delivery of `id` (the bulletin, a forward, a retraction
// announcement) is verified into the cache first, so a retraction that
// arrived since the last inbox is shown; then the cached copy is opened.
Expected<OpenedMessage, std::string> findBulletin(Connection& conn, std::unique_ptr<HubDirectory>& directory,
                                                  const BulletinCache& cache, const crypto::BulletinId& id,
                                                  const crypto::Keyring& keys) {
  std::optional<std::string> queuedError;
  for (auto& d : fetchAll(conn, 0)) {
    auto claimed = d.bulletin.claimedId();
    if (!claimed || !(*claimed == id)) continue;
    auto opened = openDelivery(conn, directory, d, keys, cache);
    if (!opened) queuedError = opened.error();
  }
  auto raw = cache.get(id);
  if (!raw) {
    if (queuedError) return Expected<OpenedMessage, std::string>(unexpected(*queuedError));
    throw NotFoundError("no bulletin " + crypto::toHex(id) + " in your queue or local cache");
  }
  return openCached(conn, directory, *raw, id, keys, cache);
}

Expected<OpenedMessage, std::string> openCachedOffline(const std::filesystem::path& profileDir,
                                                       const BulletinCache& cache, const crypto::BulletinId& id,
                                                       const crypto::Keyring& me) {
  auto raw = cache.get(id);
  if (!raw) throw NotFoundError("no bulletin " + crypto::toHex(id) + " in this profile's local cache (and no hub to ask)");
  // The header's hub id (unverified) only picks which verified log to use;
  // openReceived checks it against that log's hub. A seal v1 header names
  // none: then the profile's only log.
  std::string hubId;
  if (auto header = protocol::decode<wire::BulletinHeader>(raw->header)) hubId = protocol::view(header->root().getHubId());
  if (hubId.empty()) {
    std::error_code ec;
    std::vector<std::string> hubs;
    for (const auto& e : std::filesystem::directory_iterator(profileDir / "log", ec)) hubs.push_back(e.path().filename());
    if (hubs.size() == 1) hubId = hubs.front();
  }
  if (hubId.empty()) throw NotFoundError("no verified directory log in this profile to check the bulletin against");
  const auto log = VerifiedLog::load(profileDir, hubId);
  if (log.size() == 0) {
    throw NotFoundError("no verified directory log of hub '" + hubId + "' in this profile to check the bulletin against");
  }
  const HubDirectory dir(log.verifier().records(), log.verifier().hubId());
  auto forward = cache.getRecord(id, BulletinCache::Record::Forward);
  auto own = cache.getOwn(id);
  auto opened = openReceived(*raw, dir, me, forward ? &*forward : nullptr, own ? &*own : nullptr);
  if (!opened) return opened;
  if (auto rec = cache.getRecord(id, BulletinCache::Record::Retraction)) {
    if (auto r = verifyRetractionOf(*raw, dir, rec->first, rec->second)) opened->retraction = std::move(r).value();
  }
  cache.opened(*opened);
  return opened;
}

}  // namespace focal::client

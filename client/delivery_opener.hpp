// Opening what the hub delivers, with every record verified: a bulletin,
// the forward record it came through, a retraction announcement. Each is
// checked against the verified directory (refreshed once when a sender is
// unknown: registered after it was fetched), and the still-encrypted
// bulletin and its records are kept in the local BulletinCache so they can
// be read again later. A delivery that does not verify is an error value
// (the reason), never an exception: an inbox lists it as CANNOT VERIFY.
// The log head a bulletin carries is checked against the verified log
// (client/log_gossip.hpp): a fork is the exception, VerifyError, which
// stops the command (and every later one until a person clears it).
#pragma once

#include "client/bulletin_cache.hpp"
#include "client/bulletin_reader.hpp"
#include "client/connection.hpp"
#include "client/key_directory.hpp"
#include "crypto/key_ops.hpp"

#include <memory>
#include <string>
#include <vector>

namespace focal::client {

// Fetches every page of the queue after `afterSeq`, oldest first.
std::vector<Delivery> fetchAll(Connection& c, std::uint64_t afterSeq);
// Opens a received bulletin; refreshes the directory once if the sender is
// unknown (a member registered after it was fetched).
Expected<OpenedMessage, std::string> openWithDirectory(Connection& c, std::unique_ptr<HubDirectory>& dir,
                                                       const RawBulletin& raw, const crypto::Keyring& me);
// Opens one delivery of any kind (a bulletin, a forward, a retraction
// announcement), verifying every record, and keeps the still-encrypted
// bulletin and its records in `cache` so `focal read` works later. A
// retraction already cached for the id is attached too.
Expected<OpenedMessage, std::string> openDelivery(Connection& c, std::unique_ptr<HubDirectory>& dir,
                                                  const Delivery& d, const crypto::Keyring& me,
                                                  const BulletinCache& cache);
// Opens a cached bulletin with its cached forward and retraction records.
Expected<OpenedMessage, std::string> openCached(Connection& c, std::unique_ptr<HubDirectory>& dir,
                                                const RawBulletin& raw, const crypto::BulletinId& id,
                                                const crypto::Keyring& me, const BulletinCache& cache);
// A bulletin by id: every queued delivery of it (bulletin, forward,
// retraction announcement) is verified into the cache first, then the
// cached copy is opened with its records. NotFoundError if it is
// neither queued nor cached.
Expected<OpenedMessage, std::string> findBulletin(Connection& conn, std::unique_ptr<HubDirectory>& directory,
                                                  const BulletinCache& cache, const crypto::BulletinId& id,
                                                  const crypto::Keyring& keys);

// Without a hub (`focal read` offline): opens the cached bulletin with its
// cached records against the directory log this profile verified last
// (PROFILE/log/HUBID, re-checked on load), so the signature, the sender's
// key, the recipient entry and the AEAD are all verified as online; what
// cannot be checked offline is whether the log grew since (a key revoked
// after the last sync) and the carried log head. NotFoundError if the
// bulletin is not cached or no verified log is at hand.
Expected<OpenedMessage, std::string> openCachedOffline(const std::filesystem::path& profileDir,
                                                       const BulletinCache& cache, const crypto::BulletinId& id,
                                                       const crypto::Keyring& me);

}  // namespace focal::client

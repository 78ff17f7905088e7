// What `focald run` checks before it serves: the hub key file, and a
// directory replayed from the log that belongs to this hub and this key.
// Shared by main() and the in-process tests, so both start a hub the same way.
#pragma once

#include "crypto/primitives.hpp"
#include "server/clock.hpp"
#include "server/config.hpp"
#include "server/directory.hpp"
#include "server/store.hpp"

#include <filesystem>

namespace focal::server {

// Reads hub.key (exactly 64 bytes); warns if group or others can access it.
// Throws std::runtime_error.
crypto::SigningKeyPair loadHubKey(const std::filesystem::path& path);

// Replays and verifies the whole log (signatures, authorisation, hash
// chain), checks that its genesis names `config.hubId` and `hubKey`, and
// attaches the stored signed head for the current size (verified; if it is
// missing or does not verify, a new head is signed and a warning logged).
// Throws std::runtime_error naming the first problem.
Directory loadDirectory(Store& store, const Config& config, const crypto::SigningKeyPair& hubKey, const Clock& clock);

}  // namespace focal::server

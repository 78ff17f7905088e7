// What `focald run` checks before it serves: the hub key file, and a
// directory replayed from the log that belongs to this hub and this key.
// Shared by main() and the in-process tests, so both start a hub the same way.
#pragma once

#include "crypto/primitives.hpp"
#include "server/clock.hpp"
#include "server/config.hpp"
#include "server/directory.hpp"
#include "server/store.hpp"

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace focal::server {

// Reads hub.key (exactly 64 bytes). Throws std::runtime_error. (Its mode is
// checked by checkHubFiles, before.)
crypto::SigningKeyPair loadHubKey(const std::filesystem::path& path);

// What `focald run` refuses to start with, and `focald check` reports, one
// line each (empty: nothing wrong). Found by file and certificate alone,
// before anything is loaded:
//  - a private key file (hub.key, the TLS key) that group or others may
//    read or write. SECURITY: as ssh refuses such an identity file: the
//    hub key signs the directory log's heads, the TLS key is the hub's
//    identity to every client; a mode that leaks them is refused, not
//    warned about. The line names the file and the chmod that fixes it.
//  - a TLS certificate that cannot be read, has expired or is not valid
//    yet (clients would refuse it: every connection would fail with a TLS
//    error, far from its cause); the line says how to renew it.
// `dir`: the hub directory (named in the fix for the certificate); `now`:
// the real time (the certificate is checked against clients' clocks, not
// the hub's test clock).
std::vector<std::string> checkHubFiles(const std::filesystem::path& dir, const Config& config,
                                       std::chrono::system_clock::time_point now);
// A certificate that expires within this is reported by certificateWarnings.
inline constexpr std::chrono::hours CertificateExpiryWarning{24 * 30};
// Lines that do not stop the hub (a certificate expiring soon).
std::vector<std::string> certificateWarnings(const std::filesystem::path& dir, const Config& config,
                                             std::chrono::system_clock::time_point now);
// Whether the configured certificate and key are the ones `focald init`
// made (DIR/tls/cert.pem, DIR/tls/key.pem), which --renew-cert may replace.
bool hubMadeCertificate(const std::filesystem::path& dir, const Config& config);

// Replays and verifies the whole log (signatures, authorisation, hash
// chain), checks that its genesis names `config.hubId` and `hubKey`, and
// attaches the stored signed head for the current size (verified; if it is
// missing or does not verify, a new head is signed and a warning logged).
// A v1 log (made before entries were bound to their place) gets its
// `logVersion {2}` checkpoint appended to config.database first.
// Throws std::runtime_error naming the first problem.
Directory loadDirectory(Store& store, const Config& config, const crypto::SigningKeyPair& hubKey, const Clock& clock);

}  // namespace focal::server

// `focald bundle DIR`: the enrolment bundle of the hub in DIR (PROTOCOL.md
// §11.3), public material only: hub id, address, hub public key, the TLS
// certificate clients pin, the genesis entry hash, the genesis's witness
// policy and the latest signed head with the witnesses' cosignatures the
// hub stores for it. Never reads hub.key or the TLS private key.
//
// Works on a stopped or a running hub: the database is opened read-only and
// the hub lock is not taken (a running focald keeps serving).
#pragma once

#include <filesystem>
#include <string>

namespace focal::server {

// The bundle's JSON. `address` overrides focal.toml's listen (which may be a
// wildcard such as 0.0.0.0, where clients cannot connect: refused without
// an override). Throws std::runtime_error with a message for the operator.
// `warning` (if given) is set when the head has fewer cosignatures than the
// policy's threshold: the bundle is still made, with those there are.
std::string makeEnrolmentBundle(const std::filesystem::path& dir, const std::string& address,
                                std::string* warning = nullptr);

// Writes `text` to `file`, mode 0644, refusing to replace an existing file.
void writeNewPublicFile(const std::filesystem::path& file, const std::string& text);

}  // namespace focal::server

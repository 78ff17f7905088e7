// Files that hold secrets or must never be half-written (hub.key, the TLS
// key, focal.toml). Written through a temporary file in the same directory
// (created O_EXCL with the final mode, so the bytes are never readable by
// others even for a moment), fsynced, renamed over the target, and the
// directory fsynced, so after a crash the file is either old or complete.
#pragma once

#include "crypto/types.hpp"

#include <filesystem>
#include <sys/types.h>

namespace focal::server {

// Throws std::runtime_error (with the path and errno text) on failure.
void writeFileAtomic(const std::filesystem::path& path, crypto::ByteView data, mode_t mode);

// Reads a whole file of at most `maxBytes`. Throws std::runtime_error.
crypto::Bytes readFileLimited(const std::filesystem::path& path, std::size_t maxBytes);

// True if group or others may read or write the file.
bool accessibleByOthers(const std::filesystem::path& path);

}  // namespace focal::server

// The one way Focal writes a file that holds a secret or must never be
// half-written (hub.key, the TLS key, focal.toml, member key files, the
// client's profile, verified log and bulletin cache), and reads one that
// must be small. Shared by hub and client, so it lives in the lowest layer.
//
// A write goes through a temporary file in the same directory with a
// random name (`.NAME.RANDOM.tmp`), created O_EXCL|O_NOFOLLOW with exactly
// the final mode (so the bytes are never readable by others even for a
// moment, and nothing someone planted — a file or a symlink — is ever
// written through; a temp file left by a crash does not block the next
// write), written in full, fsynced, renamed over the target, and the
// directory fsynced: after a crash the file is either the old one or the
// new one, complete.
#pragma once

#include "crypto/types.hpp"

#include <filesystem>
#include <string_view>
#include <sys/types.h>
#include <unistd.h>
#include <utility>

namespace focal::crypto {

// A file descriptor closed when it goes out of scope (release() keeps it open).
class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// 0 on success, else the errno of the step that failed (the temp file is
// removed; the target is untouched). `failedStep`, if given, names that
// step ("create", "write", "sync", "rename", …) for messages.
int tryWriteFileAtomic(const std::filesystem::path& path, ByteView data, mode_t mode,
                       const char** failedStep = nullptr);

// The same; throws std::runtime_error naming the path, the step and errno's text.
void writeFileAtomic(const std::filesystem::path& path, ByteView data, mode_t mode);
inline void writeFileAtomic(const std::filesystem::path& path, std::string_view data, mode_t mode) {
  writeFileAtomic(path, asBytes(data), mode);
}

// Reads a whole regular file of at most `maxBytes`. Throws std::runtime_error.
Bytes readFileLimited(const std::filesystem::path& path, std::size_t maxBytes);

}  // namespace focal::crypto

// Atomic, private file writes and bounded reads (contract in secure_file.hpp).
#include "crypto/secure_file.hpp"

#include "crypto/primitives.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace focal::crypto {

namespace {

[[noreturn]] void failErrno(const std::string& what, const std::filesystem::path& p, int err) {
  throw std::runtime_error(what + " " + p.string() + ": " + std::strerror(err));
}

}  // namespace

int tryWriteFileAtomic(const std::filesystem::path& path, ByteView data, mode_t mode, const char** failedStep) {
  const char* ignored = nullptr;
  const char*& step = failedStep ? *failedStep : ignored;
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  Bytes rnd(8);
  randomFill(rnd);
  const auto tmp = dir / ("." + path.filename().string() + "." + toHex(rnd) + ".tmp");

  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (fd.get() < 0) {
    step = "cannot create";
    return errno;
  }
  auto fail = [&](const char* what) {
    const int err = errno;
    ::unlink(tmp.c_str());
    step = what;
    return err;
  };
  // The umask may have removed bits; set exactly `mode`.
  if (::fchmod(fd.get(), mode) != 0) return fail("cannot set the mode of");
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot write");
    if (n == 0) {
      errno = EIO;
      return fail("cannot write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return fail("cannot sync");
  if (::close(fd.release()) != 0) return fail("cannot close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("cannot rename into place");
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() < 0 || ::fsync(dfd.get()) != 0) {
    // The file is in place; only the rename's durability is in doubt.
    step = "cannot sync the directory of";
    return errno;
  }
  return 0;
}

void writeFileAtomic(const std::filesystem::path& path, ByteView data, mode_t mode) {
  const char* step = nullptr;
  if (const int err = tryWriteFileAtomic(path, data, mode, &step); err != 0) failErrno(step, path, err);
}

Bytes readFileLimited(const std::filesystem::path& path, std::size_t maxBytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) failErrno("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) failErrno("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) throw std::runtime_error(path.string() + " is not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > maxBytes) throw std::runtime_error(path.string() + " is too large");
  Bytes out(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) failErrno("cannot read", path, errno);
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return out;
}

}  // namespace focal::crypto

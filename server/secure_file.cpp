#include "server/secure_file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace focal::server {

namespace {

[[noreturn]] void failErrno(const std::string& what, const std::filesystem::path& p) {
  throw std::runtime_error(what + " " + p.string() + ": " + std::strerror(errno));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace

void writeFileAtomic(const std::filesystem::path& path, crypto::ByteView data, mode_t mode) {
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  crypto::Bytes rnd(8);
  crypto::randomFill(rnd);
  const std::string suffix = crypto::toHex(rnd);
  const auto tmp = dir / ("." + path.filename().string() + "." + suffix + ".tmp");

  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (fd.get() < 0) failErrno("cannot create", tmp);
  // The umask may have removed bits; set exactly `mode`.
  if (::fchmod(fd.get(), mode) != 0) {
    ::unlink(tmp.c_str());
    failErrno("cannot set the mode of", tmp);
  }
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::unlink(tmp.c_str());
      failErrno("cannot write", tmp);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    ::unlink(tmp.c_str());
    failErrno("cannot sync", tmp);
  }
  if (::close(fd.release()) != 0) {
    ::unlink(tmp.c_str());
    failErrno("cannot close", tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    failErrno("cannot rename into place", path);
  }
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() < 0 || ::fsync(dfd.get()) != 0) failErrno("cannot sync directory", dir);
}

crypto::Bytes readFileLimited(const std::filesystem::path& path, std::size_t maxBytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) failErrno("cannot open", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) failErrno("cannot stat", path);
  if (!S_ISREG(st.st_mode)) throw std::runtime_error(path.string() + " is not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > maxBytes) throw std::runtime_error(path.string() + " is too large");
  crypto::Bytes out(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) failErrno("cannot read", path);
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return out;
}

bool accessibleByOthers(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  return (st.st_mode & (S_IRWXG | S_IRWXO)) != 0;
}

}  // namespace focal::server

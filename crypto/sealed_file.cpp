// Sealed files (format and contract in sealed_file.hpp).
#include "crypto/sealed_file.hpp"

#include "crypto/secure_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

namespace focal::crypto {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t ChunkCipherBytes = AttachmentChunkPlainBytes + StreamChunkOverhead;

// Reads until `out` is full or the source ends; the count read.
std::size_t readFull(const ByteSource& in, std::span<std::uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const std::size_t n = in(out.subspan(done));
    if (n == 0) break;
    done += n;
  }
  return done;
}

void wipe(Bytes& b) {
  if (!b.empty()) sodium_memzero(b.data(), b.size());
}

Bytes fileHeader(ByteView label) {
  Bytes h(SealedFileMagic.begin(), SealedFileMagic.end());
  h.push_back(SealedFileVersion);
  h.push_back(static_cast<std::uint8_t>(label.size() >> 8));
  h.push_back(static_cast<std::uint8_t>(label.size() & 0xff));
  h.insert(h.end(), label.begin(), label.end());
  return h;
}

// A file read through a descriptor (ByteSource).
class FileReader {
 public:
  explicit FileReader(const fs::path& p) : path_(p), fd_(::open(p.c_str(), O_RDONLY | O_CLOEXEC)) {}
  bool ok() const { return fd_.get() >= 0; }
  std::size_t operator()(std::span<std::uint8_t> out) {
    for (;;) {
      const ssize_t n = ::read(fd_.get(), out.data(), out.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw std::runtime_error("cannot read " + path_.string() + ": " + std::strerror(errno));
      return static_cast<std::size_t>(n);
    }
  }

 private:
  fs::path path_;
  UniqueFd fd_;
};

// A new file written through a descriptor (ByteSink); removed unless commit() ran.
class NewFile {
 public:
  NewFile(const fs::path& p, mode_t mode)
      : path_(p), fd_(::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)) {
    if (fd_.get() < 0) fail("cannot create");
    // The umask may have removed bits; set exactly `mode`.
    if (::fchmod(fd_.get(), mode) != 0) {
      const int err = errno;
      ::unlink(p.c_str());
      errno = err;
      fail("cannot set the mode of");
    }
    created_ = true;
  }
  NewFile(const NewFile&) = delete;
  NewFile& operator=(const NewFile&) = delete;
  ~NewFile() {
    if (created_ && !committed_) ::unlink(path_.c_str());
  }
  void operator()(ByteView data) {
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::write(fd_.get(), data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("cannot write");
      done += static_cast<std::size_t>(n);
    }
  }
  void commit() {
    if (::fsync(fd_.get()) != 0) fail("cannot sync");
    if (::close(fd_.release()) != 0) fail("cannot close");
    committed_ = true;
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw std::runtime_error(std::string(what) + " " + path_.string() + ": " + std::strerror(errno));
  }
  fs::path path_;
  UniqueFd fd_;
  bool created_ = false;
  bool committed_ = false;
};

}  // namespace

const char* describe(SealedFileError e) {
  switch (e) {
    case SealedFileError::Unreadable:
      return "cannot be read";
    case SealedFileError::NotSealed:
      return "is not a sealed backup file (no FOCALBAK header, or a damaged one)";
    case SealedFileError::UnsupportedVersion:
      return "is a sealed backup file of a version this focald does not know";
    case SealedFileError::OtherFile:
      return "is another file of the backup (files swapped or renamed)";
    case SealedFileError::Tampered:
      return "does not decrypt: altered or damaged, or not sealed with this backup's key";
    case SealedFileError::Truncated:
      return "is truncated: it ends before its final chunk";
    case SealedFileError::TrailingData:
      return "has bytes after its final chunk";
    case SealedFileError::WriteFailed:
      return "cannot be written out";
  }
  return "unknown error";
}

Bytes sealedFileLabel(std::string_view role, std::string_view name) {
  if (role.find('\0') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
    throw std::invalid_argument("a sealed file's role or name holds a NUL");
  }
  Bytes label(role.begin(), role.end());
  label.push_back(0);
  label.insert(label.end(), name.begin(), name.end());
  if (label.size() > MaxSealedLabelBytes) throw std::invalid_argument("a sealed file's name is too long");
  return label;
}

ContentKey backupFileKey(const ContentKey& backupKey, std::string_view role, std::string_view name) {
  const Bytes label = sealedFileLabel(role, name);
  return keyedSubkey(backupKey, BackupFileContext, label);
}

ContentKey backupManifestKey(const ContentKey& backupKey) {
  return keyedSubkey(backupKey, BackupManifestContext, {});
}

SealedFileSummary sealStream(const ContentKey& backupKey, std::string_view role, std::string_view name,
                             const ByteSource& in, const ByteSink& out) {
  const Bytes label = sealedFileLabel(role, name);
  const ContentKey key = keyedSubkey(backupKey, BackupFileContext, label);
  StreamEncryptor enc(key);
  Hasher plainHash;
  Hasher sealedHash;
  const auto emit = [&](ByteView b) {
    sealedHash.update(b);
    out(b);
  };
  emit(fileHeader(label));
  emit(enc.header());
  SealedFileSummary summary;
  // One chunk read ahead: the last one (possibly empty) is the final one.
  Bytes chunk(AttachmentChunkPlainBytes);
  Bytes next(AttachmentChunkPlainBytes);
  std::size_t have = readFull(in, chunk);
  try {
    for (;;) {
      const std::size_t nextHave = have == chunk.size() ? readFull(in, next) : 0;
      const bool final = have < chunk.size() || nextHave == 0;
      const ByteView plain(chunk.data(), have);
      plainHash.update(plain);
      summary.plainBytes += have;
      emit(enc.push(plain, final));
      if (final) break;
      std::swap(chunk, next);
      have = nextHave;
    }
  } catch (...) {
    wipe(chunk);
    wipe(next);
    throw;
  }
  wipe(chunk);
  wipe(next);
  summary.plainHash = plainHash.finish();
  summary.sealedHash = sealedHash.finish();
  return summary;
}

Expected<SealedFileSummary, SealedFileError> openStream(const ContentKey& backupKey, std::string_view role,
                                                        std::string_view name, const ByteSource& in,
                                                        const ByteSink& out) {
  Hasher sealedHash;
  const auto take = [&](std::span<std::uint8_t> buf) {
    const std::size_t n = readFull(in, buf);
    sealedHash.update({buf.data(), n});
    return n;
  };
  std::array<std::uint8_t, 11> fixed{};  // magic, version, label length
  if (take(fixed) != fixed.size() || !std::equal(SealedFileMagic.begin(), SealedFileMagic.end(), fixed.begin())) {
    return unexpected(SealedFileError::NotSealed);
  }
  if (fixed[8] != SealedFileVersion) return unexpected(SealedFileError::UnsupportedVersion);
  const std::size_t labelBytes = (std::size_t{fixed[9]} << 8) | fixed[10];
  if (labelBytes > MaxSealedLabelBytes) return unexpected(SealedFileError::NotSealed);
  Bytes label(labelBytes);
  if (take(label) != labelBytes) return unexpected(SealedFileError::NotSealed);
  const Bytes expected = sealedFileLabel(role, name);
  if (label != expected) return unexpected(SealedFileError::OtherFile);
  std::array<std::uint8_t, StreamHeaderBytes> header{};
  if (take(header) != header.size()) return unexpected(SealedFileError::Truncated);
  const ContentKey key = keyedSubkey(backupKey, BackupFileContext, label);
  auto dec = StreamDecryptor::start(key, header);
  if (!dec) return unexpected(SealedFileError::Tampered);
  Hasher plainHash;
  SealedFileSummary summary;
  Bytes chunk(ChunkCipherBytes);
  for (;;) {
    const std::size_t n = take(chunk);
    if (n == 0) return unexpected(SealedFileError::Truncated);
    bool final = false;
    auto plain = dec->pull({chunk.data(), n}, final);
    if (!plain) return unexpected(SealedFileError::Tampered);
    plainHash.update(*plain);
    summary.plainBytes += plain->size();
    try {
      out(*plain);
    } catch (const std::exception&) {
      wipe(*plain);
      return unexpected(SealedFileError::WriteFailed);
    }
    wipe(*plain);
    if (final) break;
    // Only the final chunk may be short: a short one that is not final is
    // a stream cut inside a chunk (its tag would not have verified).
    if (n < chunk.size()) return unexpected(SealedFileError::Truncated);
  }
  std::array<std::uint8_t, 1> extra{};
  if (take(extra) != 0) return unexpected(SealedFileError::TrailingData);
  summary.plainHash = plainHash.finish();
  summary.sealedHash = sealedHash.finish();
  return summary;
}

SealedFileSummary sealFile(const ContentKey& backupKey, std::string_view role, std::string_view name,
                           const fs::path& plain, const fs::path& sealed) {
  FileReader reader(plain);
  if (!reader.ok()) throw std::runtime_error("cannot open " + plain.string() + ": " + std::strerror(errno));
  NewFile out(sealed, 0600);
  auto summary = sealStream(backupKey, role, name, std::ref(reader), std::ref(out));
  out.commit();
  return summary;
}

SealedFileSummary sealBytes(const ContentKey& backupKey, std::string_view role, std::string_view name,
                            ByteView plain, const fs::path& sealed) {
  std::size_t at = 0;
  const ByteSource source = [&](std::span<std::uint8_t> buf) {
    const std::size_t n = std::min(buf.size(), plain.size() - at);
    std::copy_n(plain.begin() + static_cast<std::ptrdiff_t>(at), n, buf.begin());
    at += n;
    return n;
  };
  NewFile out(sealed, 0600);
  auto summary = sealStream(backupKey, role, name, source, std::ref(out));
  out.commit();
  return summary;
}

Expected<SealedFileSummary, SealedFileError> openFile(const ContentKey& backupKey, std::string_view role,
                                                      std::string_view name, const fs::path& sealed,
                                                      const fs::path& plain, mode_t mode) {
  FileReader reader(sealed);
  if (!reader.ok()) return unexpected(SealedFileError::Unreadable);
  std::optional<NewFile> out;
  try {
    out.emplace(plain, mode);
  } catch (const std::exception&) {
    return unexpected(SealedFileError::WriteFailed);
  }
  bool readFailed = false;
  const ByteSource source = [&](std::span<std::uint8_t> buf) -> std::size_t {
    try {
      return reader(buf);
    } catch (const std::exception&) {
      readFailed = true;
      return 0;
    }
  };
  auto result = openStream(backupKey, role, name, source, std::ref(*out));
  if (readFailed) return unexpected(SealedFileError::Unreadable);
  if (!result) return result;  // `out` removes the partial plaintext
  try {
    out->commit();
  } catch (const std::exception&) {
    return unexpected(SealedFileError::WriteFailed);
  }
  return result;
}

}  // namespace focal::crypto

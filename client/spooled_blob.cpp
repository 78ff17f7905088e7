#include "client/spooled_blob.hpp"

#include "protocol/blob_layout.hpp"
#include "protocol/limits.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace focal::client {

static_assert(protocol::AttachmentStreamHeaderBytes == crypto::StreamHeaderBytes);
static_assert(protocol::AttachmentCipherChunkBytes == crypto::AttachmentChunkPlainBytes + crypto::StreamChunkOverhead);

namespace {
void writeAll(int fd, crypto::ByteView bytes, const std::filesystem::path& path) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
}

// Fills `buf` from the stream until full or EOF; returns the count.
std::size_t readFull(std::ifstream& in, std::vector<std::uint8_t>& buf) {
  in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
  return static_cast<std::size_t>(in.gcount());
}
}  // namespace

SpooledBlob SpooledBlob::encrypt(const std::filesystem::path& plainFile, const crypto::ContentKey& attachmentKey,
                                 const std::filesystem::path& spoolDir) {
  std::ifstream in(plainFile, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open attachment " + plainFile.string());
  std::error_code ec;
  std::filesystem::create_directories(spoolDir, ec);
  std::string tmpl = (spoolDir / "upload-XXXXXX").string();
  SpooledBlob blob;
  blob.fd_ = ::mkstemp(tmpl.data());  // mode 0600
  if (blob.fd_ < 0) throw std::runtime_error("cannot create a spool file in " + spoolDir.string() + ": " + std::strerror(errno));
  blob.path_ = tmpl;

  crypto::StreamEncryptor enc(attachmentKey);
  crypto::Hasher hasher;
  auto emit = [&](crypto::ByteView bytes) {
    hasher.update(bytes);
    writeAll(blob.fd_, bytes, blob.path_);
    blob.size_ += bytes.size();
    if (blob.size_ > protocol::MaxAttachmentBytes) {
      throw std::runtime_error("attachment " + plainFile.string() + " is over the 1 GiB limit");
    }
  };
  emit(crypto::ByteView(enc.header().data(), enc.header().size()));
  // PROTOCOL.md §9.1: full chunks of AttachmentChunkPlainBytes, then one
  // final chunk that is shorter (possibly empty). A plaintext that is an
  // exact multiple of the chunk size therefore ends with an empty final
  // chunk (the libsodium secretstream convention: FINAL goes on the read
  // that found the end), and a reader knows the final chunk by its size.
  std::vector<std::uint8_t> chunk(crypto::AttachmentChunkPlainBytes);
  for (;;) {
    const std::size_t len = readFull(in, chunk);
    const bool final = len < chunk.size();
    blob.plainSize_ += len;
    emit(enc.push(crypto::ByteView(chunk.data(), len), final));
    if (final) break;
  }
  if (in.bad()) throw std::runtime_error("cannot read attachment " + plainFile.string());
  sodium_memzero(chunk.data(), chunk.size());
  blob.hash_ = hasher.finish();
  return blob;
}

SpooledBlob::SpooledBlob(SpooledBlob&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), path_(std::move(o.path_)), size_(o.size_), plainSize_(o.plainSize_),
      hash_(o.hash_) {
  o.path_.clear();
}

SpooledBlob::~SpooledBlob() {
  if (fd_ >= 0) ::close(fd_);
  if (!path_.empty()) {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
}

BlobReader SpooledBlob::reader() const {
  const int fd = fd_;
  return [fd](std::uint64_t offset, std::span<std::uint8_t> out) -> std::size_t {
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw std::runtime_error(std::string("cannot read the spooled attachment: ") + std::strerror(errno));
      if (n == 0) break;
      done += static_cast<std::size_t>(n);
    }
    return done;
  };
}

}  // namespace focal::client

#include "client/attachment_saver.hpp"

#include "client/client_error.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace focal::client {

namespace {
constexpr std::size_t CipherChunkBytes = crypto::AttachmentChunkPlainBytes + crypto::StreamChunkOverhead;
// Plaintext written between two starts of its writeback (writePlain).
constexpr std::uint64_t WritebackStepBytes = 8u << 20;
}

void createSaveDirectory(const std::filesystem::path& dir) {
  std::filesystem::path partial;
  for (const auto& part : dir) {
    partial /= part;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      throw std::runtime_error("cannot create " + partial.string() + ": " + std::strerror(errno));
    }
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) throw std::runtime_error(dir.string() + " is not a directory");
}

AttachmentSaver::AttachmentSaver(const std::filesystem::path& saveDir, const crypto::ContentKey& attachmentKey,
                                 const crypto::Hash256& expectedHash, std::uint64_t expectedSize)
    : dir_(saveDir), key_(attachmentKey.clone()), expectedHash_(expectedHash), expectedSize_(expectedSize) {
  std::string tmpl = (saveDir / ".focal-download-XXXXXX").string();
  fd_ = ::mkstemp(tmpl.data());  // mode 0600 until it is complete
  if (fd_ < 0) throw std::runtime_error("cannot create a file in " + saveDir.string() + ": " + std::strerror(errno));
  tmp_ = tmpl;
  pending_.reserve(CipherChunkBytes);
}

AttachmentSaver::~AttachmentSaver() {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_.empty()) {
    std::error_code ec;
    std::filesystem::remove(tmp_, ec);
  }
}

void AttachmentSaver::writePlain(crypto::ByteView plain) {
  std::size_t done = 0;
  while (done < plain.size()) {
    const ssize_t n = ::write(fd_, plain.data() + done, plain.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("cannot write " + tmp_.string() + ": " + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  plainBytes_ += plain.size();
  // Starts the disk writes of what is written so far, so that they overlap
  // the rest of the download instead of all waiting for finish()'s fsync
  // (that wait was 14 % of a 100 MiB download, bench/RESULTS.md). Only a
  // start: the fsync in finish() is what makes the file durable, so a
  // failure here (a file system without it) changes nothing.
  if (plainBytes_ - flushStarted_ >= WritebackStepBytes) {
    (void)::sync_file_range(fd_, static_cast<off_t>(flushStarted_), static_cast<off_t>(plainBytes_ - flushStarted_),
                            SYNC_FILE_RANGE_WRITE);
    flushStarted_ = plainBytes_;
  }
}

void AttachmentSaver::pullChunk(crypto::ByteView cipherChunk) {
  if (finalSeen_) throw VerifyError("attachment has data after its final chunk");
  bool final = false;
  auto plain = dec_->pull(cipherChunk, final);
  if (!plain) throw VerifyError(std::string("attachment chunk does not decrypt: ") + crypto::describe(plain.error()));
  if (final && plain->size() == crypto::AttachmentChunkPlainBytes) {
    // PROTOCOL.md §9.1: the final chunk is shorter than a full chunk; a
    // plaintext of whole chunks ends with an empty final one.
    sodium_memzero(plain->data(), plain->size());
    throw VerifyError("attachment stream ends with a full chunk marked final (an empty final chunk must follow)");
  }
  writePlain(*plain);
  sodium_memzero(plain->data(), plain->size());
  finalSeen_ = final;
}

void AttachmentSaver::write(crypto::ByteView bytes) {
  received_ += bytes.size();
  if (received_ > expectedSize_) throw VerifyError("attachment is larger than its signed size");
  hasher_.update(bytes);
  while (!bytes.empty()) {
    if (dec_ && pending_.empty() && bytes.size() >= CipherChunkBytes) {
      // A whole chunk in the caller's buffer: decrypted where it is, without
      // a copy into pending_ (most chunks, as the hub sends 512 KiB slices).
      pullChunk(bytes.first(CipherChunkBytes));
      bytes = bytes.subspan(CipherChunkBytes);
      continue;
    }
    const std::size_t want = dec_ ? CipherChunkBytes : crypto::StreamHeaderBytes;
    const std::size_t take = std::min(want - pending_.size(), bytes.size());
    pending_.insert(pending_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
    bytes = bytes.subspan(take);
    if (pending_.size() < want) break;
    if (!dec_) {
      auto d = crypto::StreamDecryptor::start(key_, pending_);
      if (!d) throw VerifyError("attachment stream header is invalid");
      dec_.emplace(std::move(d).value());
    } else {
      pullChunk(pending_);
    }
    pending_.clear();
  }
}

std::filesystem::path AttachmentSaver::finish(const std::string& fileName, bool overwrite) {
  if (dec_ && !pending_.empty()) pullChunk(pending_);  // the short last chunk
  pending_.clear();
  if (received_ != expectedSize_) throw VerifyError("attachment is shorter than its signed size");
  if (!(hasher_.finish() == expectedHash_)) throw VerifyError("attachment does not match its signed hash");
  if (!finalSeen_) throw VerifyError("attachment stream is truncated (no final chunk)");
  if (::fsync(fd_) != 0) throw std::runtime_error("cannot flush " + tmp_.string() + ": " + std::strerror(errno));
  ::close(fd_);
  fd_ = -1;
  const auto target = dir_ / fileName;
  if (overwrite) {
    std::filesystem::rename(tmp_, target);
  } else {
    // link() fails atomically if the target exists: no check-then-act race.
    if (::link(tmp_.c_str(), target.c_str()) != 0) {
      const int err = errno;
      if (err == EEXIST) throw std::runtime_error(target.string() + " exists (use --force to overwrite)");
      if (std::filesystem::exists(target)) throw std::runtime_error(target.string() + " exists (use --force to overwrite)");
      std::filesystem::rename(tmp_, target);  // file systems without hard links
    } else {
      std::filesystem::remove(tmp_);
    }
  }
  tmp_.clear();
  return target;
}

}  // namespace focal::client

#include "bench/load/attachment_load.hpp"

#include "bench/load/members.hpp"
#include "bench/load/proc_stats.hpp"
#include "client/attachment_saver.hpp"
#include "client/bulletin_reader.hpp"
#include "client/key_directory.hpp"
#include "client/spooled_blob.hpp"
#include "protocol/bulletin.hpp"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <stdexcept>

namespace focal::bench {

namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr std::size_t FileChunk = 1024 * 1024;

double since(SteadyClock::time_point t) { return std::chrono::duration<double>(SteadyClock::now() - t).count(); }

void writeRandomFile(const fs::path& path, std::size_t mib) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot create " + path.string());
  std::vector<std::uint8_t> buf(FileChunk);
  for (std::size_t i = 0; i < mib; ++i) {
    crypto::randomFill(buf);
    out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
  }
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

bool sameFiles(const fs::path& a, const fs::path& b) {
  if (fs::file_size(a) != fs::file_size(b)) return false;
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  std::vector<char> ba(FileChunk), bb(FileChunk);
  for (;;) {
    fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
    fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
    const auto na = fa.gcount(), nb = fb.gcount();
    if (na != nb || std::memcmp(ba.data(), bb.data(), static_cast<std::size_t>(na)) != 0) return false;
    if (na == 0) return true;
  }
}

// Resets this process's VmHWM to its current RSS (Linux >= 4.0).
bool resetSelfPeak() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  return static_cast<bool>(f);
}

nlohmann::json orNull(std::optional<double> v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

}  // namespace

nlohmann::json runAttachmentLoad(const HubTarget& hub, std::size_t mib) {
  if (mib == 0) throw std::invalid_argument("--attachment-mib must be at least 1");
  std::string tmpl = (fs::temp_directory_path() / "focal-bench-att-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  const fs::path work = tmpl;
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{work};
  const fs::path plain = work / "payload.bin";
  const fs::path saveDir = work / "received";
  fs::create_directories(saveDir);

  const std::string prefix = runPrefix();
  auto sender = generateMembers(prefix, "s", 1);
  auto receiver = generateMembers(prefix, "r", 1);
  registerMembers(hub, sender);
  registerMembers(hub, receiver);
  writeRandomFile(plain, mib);
  const std::uint64_t plainSize = fs::file_size(plain);

  nlohmann::json doc;
  doc["mode"] = "attachment";
  const bool peaksSeparate = resetSelfPeak();

  // ---- sender: what `focal send --attach` does ----
  crypto::BulletinId id;
  std::uint64_t blobSize = 0;
  {
    auto conn = connectAs(hub, sender[0]);
    protocol::BulletinDraft draft;
    draft.hubId = conn->session().hubId;
    draft.tlp = wire::Tlp::AMBER;
    draft.category = wire::Category::TOOL;
    draft.title = "focal-bench attachment";
    draft.body = "attachment of " + std::to_string(mib) + " MiB";
    draft.addresses.push_back(receiver[0].memberId);
    draft.recipients.push_back(protocol::RecipientKey{receiver[0].memberId, receiver[0].encryption.publicKey});
    auto contentKey = crypto::ContentKey::random();
    auto t = SteadyClock::now();
    auto blob = client::SpooledBlob::encrypt(plain, crypto::attachmentKey(contentKey, 0), work / "spool");
    doc["encrypt_s"] = since(t);
    t = SteadyClock::now();
    conn->uploadBlob(blob.reader(), blob.size(), blob.hash());
    const double up = since(t);
    doc["upload_s"] = up;
    doc["upload_mib_per_s"] = static_cast<double>(blob.size()) / (1024.0 * 1024.0) / up;
    draft.attachments.push_back(
        protocol::AttachmentDraft{"payload.bin", "application/octet-stream", blob.plainSize(), blob.hash(), blob.size()});
    auto sealed = protocol::sealBulletin(draft, sender[0], contentKey, wallMs());
    if (!sealed) throw std::runtime_error(std::string("sealBulletin: ") + protocol::describe(sealed.error()));
    (void)conn->send(*sealed);
    id = sealed->id;
    blobSize = blob.size();
  }
  doc["sender_peak_rss_mib"] = orNull(selfPeakRssMib());
  if (peaksSeparate) resetSelfPeak();

  // ---- receiver: what `focal read --save-dir` does ----
  {
    auto conn = connectAs(hub, receiver[0]);
    std::optional<client::RawBulletin> raw;
    std::uint64_t after = 0;
    for (;;) {
      auto page = conn->fetch(after);
      for (auto& d : page.items) {
        after = std::max(after, d.seq);
        if (auto claimed = d.bulletin.claimedId(); claimed && *claimed == id) raw = std::move(d.bulletin);
      }
      if (!page.more || page.items.empty()) break;
    }
    if (!raw) throw std::runtime_error("the attachment bulletin is not in the receiver's queue");
    const auto directory = client::HubDirectory::fetch(*conn);
    auto opened = client::openReceived(*raw, directory, receiver[0]);
    if (!opened) throw std::runtime_error("the attachment bulletin does not open: " + opened.error());
    const auto& m = opened.value();
    if (m.attachments.size() != 1) throw std::runtime_error("expected one attachment");
    const auto& att = m.attachments[0];
    auto t = SteadyClock::now();
    client::AttachmentSaver saver(saveDir, crypto::attachmentKey(m.contentKey, 0), att.blobHash, att.blobSize);
    conn->downloadBlob(m.id, att.blobHash, att.blobSize, [&saver](crypto::ByteView b) { saver.write(b); });
    // The rest is finish(): the hash check and the file's fsync.
    doc["download_received_s"] = since(t);
    const auto saved = saver.finish("payload.bin", true);
    const double down = since(t);
    doc["download_s"] = down;
    doc["download_mib_per_s"] = static_cast<double>(att.blobSize) / (1024.0 * 1024.0) / down;
    doc["verified"] = saver.plainBytes() == plainSize && sameFiles(plain, saved);
  }
  doc["receiver_peak_rss_mib"] = orNull(selfPeakRssMib());
  doc["peaks_measured_separately"] = peaksSeparate;
  doc["attachment_mib"] = mib;
  doc["blob_bytes"] = blobSize;
  return doc;
}

}  // namespace focal::bench

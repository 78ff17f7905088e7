// focal read: decrypt and verify one bulletin; optionally save attachments.
#include "client/attachment_saver.hpp"
#include "client/bulletin_cache.hpp"
#include "client/cli_context.hpp"
#include "client/client_error.hpp"
#include "client/file_names.hpp"
#include "client/terminal.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace focal::client::cli {

namespace {

struct ReadArgs {
  std::string id;
  std::string saveDir;
  bool force = false;
};

// From the cache, else from the hub's queue (and then cached).
RawBulletin findBulletin(Connection& conn, const BulletinCache& cache, const crypto::BulletinId& id) {
  if (auto cached = cache.get(id)) return *cached;
  for (auto& d : fetchAll(conn, 0)) {
    auto claimed = d.bulletin.claimedId();
    if (claimed && *claimed == id) {
      cache.put(id, d.bulletin);
      return std::move(d.bulletin);
    }
  }
  throw UsageError("not-found", "no bulletin " + crypto::toHex(id) + " in your queue or local cache");
}

int runRead(CliContext& ctx, const ReadArgs& a) {
  const auto id = parseBulletinId(a.id);
  if (!a.saveDir.empty() && !std::filesystem::is_directory(a.saveDir)) {
    throw UsageError("bad-save-dir", a.saveDir + " is not a directory");
  }
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  BulletinCache cache(ctx.profile().cacheDir());
  const auto raw = findBulletin(*conn, cache, id);
  std::unique_ptr<HubDirectory> directory;
  auto opened = openWithDirectory(*conn, directory, raw, keys);
  if (!opened) throw VerifyError("bulletin " + a.id + " does not verify: " + opened.error());
  const auto& m = opened.value();
  if (!(m.id == id)) throw VerifyError("the stored bulletin carries another id");

  // Attachments: decrypted and verified into a temporary file, then renamed.
  std::vector<std::string> savedTo(m.attachments.size());
  if (!a.saveDir.empty()) {
    for (std::uint32_t i = 0; i < m.attachments.size(); ++i) {
      const auto& att = m.attachments[i];
      const auto name = sanitizeFileName(att.name, fmt::format("attachment-{}", i + 1));
      const auto target = std::filesystem::path(a.saveDir) / name;
      if (!a.force && std::filesystem::exists(target)) {
        throw UsageError("exists", target.string() + " exists (use --force to overwrite)");
      }
      AttachmentSaver saver(a.saveDir, crypto::attachmentKey(m.contentKey, i), att.blobHash, att.blobSize);
      ProgressBar bar(name + " ", stderrIsTerminal() && !ctx.out().json());
      conn->downloadBlob(
          m.id, att.blobHash, att.blobSize, [&saver](crypto::ByteView b) { saver.write(b); },
          [&bar](std::uint64_t done, std::uint64_t total) { bar.update(done, total); });
      bar.finish();
      savedTo[i] = saver.finish(name, a.force).string();
      if (saver.plainBytes() != att.plainSize) {
        std::filesystem::remove(savedTo[i]);
        throw VerifyError("attachment " + name + " has another size than the sender signed");
      }
    }
  }

  if (ctx.out().json()) {
    nlohmann::json atts = nlohmann::json::array();
    for (std::size_t i = 0; i < m.attachments.size(); ++i) {
      nlohmann::json j{{"name", m.attachments[i].name},
                       {"media_type", m.attachments[i].mediaType},
                       {"size", m.attachments[i].plainSize},
                       {"blob_hash", crypto::toHex(m.attachments[i].blobHash)}};
      if (!savedTo[i].empty()) j["saved_to"] = savedTo[i];
      atts.push_back(j);
    }
    ctx.out().document({{"id", crypto::toHex(m.id)},
                        {"verified", true},
                        {"key_warning", m.keyWarning},
                        {"sender", {{"id", m.senderId}, {"name", m.senderName}, {"fingerprint", m.senderFingerprint}}},
                        {"tlp", tlpName(m.tlp)},
                        {"category", categoryName(m.category)},
                        {"priority", priorityName(m.priority)},
                        {"created_at", formatTime(m.createdAtMs)},
                        {"case", m.caseRef},
                        {"addresses", m.addresses},
                        {"recipients", m.recipients},
                        {"title", m.title},
                        {"body", m.body},
                        {"attack", m.attackTechniques},
                        {"attachments", atts}});
    return ExitOk;
  }
  auto& out = ctx.out();
  out.line(fmt::format("=== TLP:{} ===", tlpName(m.tlp)));
  out.line(fmt::format("From:      {} ({})  [signature verified]", m.senderId, m.senderName));
  out.line(fmt::format("           fingerprint {}", m.senderFingerprint));
  if (!m.keyWarning.empty()) out.line(fmt::format("           WARNING: {}", m.keyWarning));
  out.line(fmt::format("To:        {}", fmt::join(m.addresses, ", ")));
  out.line(fmt::format("Sent:      {}", formatTime(m.createdAtMs)));
  out.line(fmt::format("Category:  {}{}", categoryName(m.category),
                       m.priority == wire::Priority::URGENT ? "  (URGENT)" : ""));
  if (!m.caseRef.empty()) out.line(fmt::format("Case:      {}", m.caseRef));
  if (!m.attackTechniques.empty()) out.line(fmt::format("ATT&CK:    {}", fmt::join(m.attackTechniques, ", ")));
  out.line(fmt::format("Title:     {}", m.title));
  out.line("");
  out.line(m.body);
  if (!m.attachments.empty()) {
    out.line("");
    out.line("Attachments:");
    for (std::size_t i = 0; i < m.attachments.size(); ++i) {
      const auto& att = m.attachments[i];
      out.line(fmt::format("  {}  {} bytes  {}{}", att.name, att.plainSize, att.mediaType,
                           savedTo[i].empty() ? "" : "  -> saved to " + savedTo[i]));
    }
  }
  out.line(fmt::format("=== TLP:{} ===", tlpName(m.tlp)));
  return ExitOk;
}

}  // namespace

void addReadCommand(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto a = std::make_shared<ReadArgs>();
  auto* cmd = app.add_subcommand("read", "Decrypt, verify and show one bulletin");
  cmd->add_option("id", a->id, "Bulletin id (32 hex digits, from focal inbox)")->required();
  cmd->add_option("--save-dir", a->saveDir, "Save the attachments into this directory");
  cmd->add_flag("--force", a->force, "Overwrite existing files when saving attachments");
  cmd->footer(R"(The sender's key is taken from the directory, never from the bulletin; the
signature, recipient entry, ciphertext hash and every attachment are verified (exit 3
if anything does not). Attachment names are reduced to a plain file name.

Example:
  focal read 0f3c9a1e5b7d2c4f6a8e0b1d3f5a7c9e --save-dir ./received)");
  table.add(cmd, [&ctx, a] { return runRead(ctx, *a); });
}

}  // namespace focal::client::cli

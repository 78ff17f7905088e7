// focal read: decrypt and verify one bulletin; optionally save attachments.
#include "client/attachment_saver.hpp"
#include "client/attack_techniques.hpp"
#include "client/bulletin_cache.hpp"
#include "client/cli_context.hpp"
#include "client/client_error.hpp"
#include "client/file_names.hpp"
#include "client/stix.hpp"
#include "client/terminal.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <sys/stat.h>

#include <algorithm>
#include <optional>
#include <set>

namespace focal::client::cli {

namespace {

// "T1566.002 (Spearphishing Link)"; an id not in the compiled-in list (a
// newer ATT&CK release, or a typo by another client) is shown bare.
std::vector<std::string> attackWithNames(const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  for (const auto& id : ids) {
    const auto t = findAttackTechnique(id);
    if (!t) {
      out.push_back(id);
    } else if (t->status != AttackStatus::Active) {
      out.push_back(fmt::format("{} ({}, {} in {})", id, t->name, attackStatusName(t->status), AttackVersion));
    } else {
      out.push_back(fmt::format("{} ({})", id, t->name));
    }
  }
  return out;
}

// {"T1566.002": "Spearphishing Link", "T9999": null}
// The name of each id of `attack`, in the same order (docs/json.md: an array,
// so that every key of the document is a documented one); null for an id the
// shipped ATT&CK list does not name.
nlohmann::json attackNamesJson(const std::vector<std::string>& ids) {
  auto out = nlohmann::json::array();
  for (const auto& id : ids) {
    const auto t = findAttackTechnique(id);
    out.push_back(t ? nlohmann::json(std::string(t->name)) : nlohmann::json(nullptr));
  }
  return out;
}

// The carried STIX bundle, checked again here (the sender's client checked
// it before sealing; a modified or hostile client may not have). A bundle
// that fails is a verification problem shown with the bulletin, never a
// crash: the signed content is still shown.
struct StixCheck {
  std::size_t objects = 0;
  std::vector<std::string> types;  // distinct object types, in order of first appearance
  std::string problem;
};

std::optional<StixCheck> checkCarriedStix(const OpenedMessage& m) {
  if (m.stixBundle.empty()) return std::nullopt;
  StixCheck c;
  const auto v = stix::validateBundle(m.stixBundle, m.tlp);
  if (v.problem) {
    c.problem = v.problem->message;
    return c;
  }
  if (v.bundle->contains("objects")) {
    for (const auto& o : (*v.bundle)["objects"]) {
      ++c.objects;
      const auto type = o["type"].get<std::string>();
      if (std::find(c.types.begin(), c.types.end(), type) == c.types.end()) c.types.push_back(type);
    }
  }
  return c;
}

struct ReadArgs {
  std::string id;
  std::string saveDir;
  bool force = false;
};

// What a reader must see before the content: the TLP label with what it
// allows, and the law-enforcement markings.
std::vector<std::string> bannerLines(const OpenedMessage& m) {
  const char* rule = "";
  switch (m.tlp) {
    case wire::Tlp::CLEAR: rule = "no restriction on disclosure"; break;
    case wire::Tlp::GREEN: rule = "share within the community, not publicly"; break;
    case wire::Tlp::AMBER: rule = "share only with your own member state's points of contact, need to know"; break;
    case wire::Tlp::AMBER_STRICT: rule = "share only within your own institution, need to know"; break;
    case wire::Tlp::RED: rule = "for the named recipients only; do not forward or disclose"; break;
    case wire::Tlp::UNSET: break;
  }
  std::vector<std::string> lines;
  lines.push_back(fmt::format("=== TLP:{} === {}", tlpName(m.tlp), rule));
  if (m.handling != wire::Handling::UNSET) {
    lines.push_back(fmt::format("Handling:  {} - {}{}", handlingName(m.handling), handlingMeaning(m.handling),
                                m.handlingText.empty() ? "" : ": " + safeLine(m.handlingText)));
  }
  const auto eval = evaluationName(m.sourceReliability, m.infoAccuracy);
  if (!eval.empty()) {
    lines.push_back(fmt::format("Evaluation: {} ({})", eval, evaluationMeaning(m.sourceReliability, m.infoAccuracy)));
  }
  if (m.priority == wire::Priority::URGENT) lines.push_back("Priority:  URGENT");
  if (!m.caseRef.empty()) lines.push_back(fmt::format("Case:      {}", safeLine(m.caseRef)));
  return lines;
}

std::vector<std::string> safeLines(const std::vector<std::string>& fields) {
  std::vector<std::string> out;
  out.reserve(fields.size());
  for (const auto& f : fields) out.push_back(safeLine(f));
  return out;
}

// Saves every attachment of `m` into `dir` under distinct names (see
// distinctFileNames) and returns where each went. Without `force` nothing is
// downloaded when any target exists already; with it, files that existed
// before are replaced, but never a file this call saved: two attachments of
// one bulletin cannot overwrite each other. A failure ends the command (the
// error says which attachment; the ones saved before it are listed on
// stderr in text mode).
std::vector<std::string> saveAttachments(CliContext& ctx, Connection& conn, const OpenedMessage& m,
                                         const std::filesystem::path& dir, bool force) {
  std::vector<std::string> sanitised;
  for (std::uint32_t i = 0; i < m.attachments.size(); ++i) {
    sanitised.push_back(sanitizeFileName(m.attachments[i].name, fmt::format("attachment-{}", i + 1)));
  }
  const auto names = distinctFileNames(sanitised);
  if (!force) {
    for (const auto& name : names) {
      std::error_code ec;
      if (std::filesystem::exists(std::filesystem::symlink_status(dir / name, ec))) {
        throw UsageError("exists", (dir / name).string() + " exists (use --force to replace it)");
      }
    }
  }
  std::vector<std::string> savedTo(m.attachments.size());
  std::set<std::pair<dev_t, ino_t>> ours;  // files this call saved
  std::uint32_t i = 0;
  try {
    for (; i < m.attachments.size(); ++i) {
      const auto& att = m.attachments[i];
      const auto& name = names[i];
      AttachmentSaver saver(dir, crypto::attachmentKey(m.contentKey, i), att.blobHash, att.blobSize);
      ProgressBar bar(safeLine(name) + " ", stderrIsTerminal() && !ctx.out().json());
      conn.downloadBlob(
          m.id, att.blobHash, att.blobSize, [&saver](crypto::ByteView b) { saver.write(b); },
          [&bar](std::uint64_t done, std::uint64_t total) { bar.update(done, total); });
      bar.finish();
      struct stat st {};
      if (force && ::lstat((dir / name).c_str(), &st) == 0 && ours.contains({st.st_dev, st.st_ino})) {
        throw std::runtime_error((dir / name).string() + " is an attachment this command saved already (the file "
                                 "system folds the two names); not replacing it");
      }
      const auto target = saver.finish(name, force);
      if (saver.plainBytes() != att.plainSize) {
        std::filesystem::remove(target);
        throw VerifyError("attachment " + name + " has another size than the sender signed");
      }
      savedTo[i] = target.string();
      if (::lstat(target.c_str(), &st) == 0) ours.insert({st.st_dev, st.st_ino});
    }
  } catch (...) {
    if (!ctx.out().json()) {
      for (std::uint32_t k = 0; k < i; ++k) {
        ctx.out().note(fmt::format("saved {} to {} before the failure of attachment {}", safeLine(m.attachments[k].name),
                                   safeLine(savedTo[k]), i + 1));
      }
    }
    throw;
  }
  return savedTo;
}

int runRead(CliContext& ctx, const ReadArgs& a) {
  const auto id = bulletinIdArg(ctx, a.id);
  if (!a.saveDir.empty()) {
    std::error_code ec;
    const auto st = std::filesystem::status(a.saveDir, ec);
    if (std::filesystem::exists(st) && !std::filesystem::is_directory(st)) {
      throw UsageError("bad-save-dir", a.saveDir + " is not a directory");
    }
  }
  const auto found = findVerifiedBulletin(ctx, id, "bulletin", a.id, /*allowOffline=*/true);
  const auto& m = found.message;
  if (!found.offline.empty()) {
    ctx.out().warning("the hub is out of reach (" + found.offline +
                      "): shown from the local cache, verified against the directory log this profile verified last");
    if (!a.saveDir.empty() && !m.attachments.empty()) {
      throw TransportError(TransportError::Kind::Connect, "attachments are downloaded from the hub: " + found.offline);
    }
  }
  const auto standing = ctx.contacts(found.keys).standing(m.senderId, m.senderFingerprint);
  if (!(m.id == id)) throw VerifyError("the stored bulletin carries another id");

  // Attachments: decrypted and verified into a temporary file, then renamed.
  std::vector<std::string> savedTo(m.attachments.size());
  if (!a.saveDir.empty()) {
    createSaveDirectory(a.saveDir);
    if (!m.attachments.empty()) savedTo = saveAttachments(ctx, *found.conn, m, a.saveDir, a.force);
  }

  const auto stixCheck = checkCarriedStix(m);
  if (ctx.out().json()) {
    nlohmann::json atts = nlohmann::json::array();
    for (std::size_t i = 0; i < m.attachments.size(); ++i) {
      atts.push_back({{"name", m.attachments[i].name},
                      {"media_type", m.attachments[i].mediaType},
                      {"size", m.attachments[i].plainSize},
                      {"blob_hash", crypto::toHex(m.attachments[i].blobHash)},
                      {"saved_to", jsonText(savedTo[i])}});
    }
    ctx.out().document({{"bulletin_id", crypto::toHex(m.id)},
                        {"verified", true},
                        {"key_warning", jsonText(m.keyWarning)},
                        {"seal", m.seal},
                        {"sender_log_head", jsonText(m.carriedHeadCheck)},
                        {"sender", senderJson(m.senderId, m.senderName, m.senderFingerprint)},
                        {"sender_verification", standingName(standing)},
                        {"tlp", jsonTlp(tlpName(m.tlp))},
                        {"category", categoryName(m.category)},
                        {"priority", priorityName(m.priority)},
                        {"created_at", jsonTime(m.createdAtMs)},
                        {"case", jsonText(m.caseRef)},
                        {"handling", jsonText(handlingName(m.handling))},
                        {"handling_text", jsonText(m.handlingText)},
                        {"evaluation", jsonText(evaluationName(m.sourceReliability, m.infoAccuracy))},
                        {"reply_to_id", m.replyTo ? nlohmann::json(crypto::toHex(*m.replyTo)) : nullptr},
                        {"summary_record", m.kind == wire::BulletinKind::SUMMARY_RECORD},
                        {"comment_deadline_at", jsonTime(m.commentDeadlineMs)},
                        {"revises_id", m.revises ? nlohmann::json(crypto::toHex(*m.revises)) : nullptr},
                        {"event_date", jsonText(m.eventDate)},
                        {"event_place", jsonText(m.eventPlace)},
                        {"met_offer_id", m.metOffer ? nlohmann::json(crypto::toHex(*m.metOffer)) : nullptr},
                        {"forwarded_by_id", m.forwardedBy ? nlohmann::json(m.forwardedBy->forwarderId) : nullptr},
                        {"forwarded_at", m.forwardedBy ? jsonTime(m.forwardedBy->forwardedAtMs) : nullptr},
                        {"retracted", m.retraction.has_value()},
                        {"retraction_reason", m.retraction ? nlohmann::json(m.retraction->reason) : nullptr},
                        {"retracted_at", m.retraction ? jsonTime(m.retraction->retractedAtMs) : nullptr},
                        {"addresses", m.addresses},
                        {"recipient_ids", m.recipients},
                        {"title", m.title},
                        {"body", m.body},
                        {"attack", m.attackTechniques},
                        {"attack_names", attackNamesJson(m.attackTechniques)},
                        {"stix_objects", stixCheck && stixCheck->problem.empty() ? nlohmann::json(stixCheck->objects)
                                                                                 : nlohmann::json(nullptr)},
                        {"stix_problem", stixCheck ? jsonText(stixCheck->problem) : nullptr},
                        {"attachments", atts}});
    return ExitOk;
  }
  // SECURITY: everything below that the sender (or a forwarder) chose goes
  // through safeLine / safeBlock: no escape sequence can move the cursor
  // over the From and fingerprint lines. And so that no content can pass
  // for them either: every body line is prefixed "  | ", and the last line
  // repeats the verified sender and fingerprint after all the content.
  auto& out = ctx.out();
  for (const auto& line : bannerLines(m)) out.line(line);
  if (m.retraction) {
    out.line(fmt::format("RETRACTED by {} at {}: {}", safeLine(m.retraction->senderId),
                         formatTime(m.retraction->retractedAtMs), safeLine(m.retraction->reason)));
  }
  if (m.forwardedBy) {
    out.line(fmt::format("Forwarded: by {} at {} to {}  [forward record verified]", safeLine(m.forwardedBy->forwarderId),
                         formatTime(m.forwardedBy->forwardedAtMs), fmt::join(safeLines(m.forwardedBy->addresses), ", ")));
  }
  out.line(fmt::format("From:      {} ({})  [signature verified]", safeLine(m.senderId), safeLine(m.senderName)));
  out.line(fmt::format("           fingerprint {}{}", m.senderFingerprint,
                       standing == ContactStanding::Verified ? "  (verified by you)" : ""));
  if (standing == ContactStanding::KeyChanged) {
    out.line(fmt::format("           WARNING: the key changed since you verified {}: compare safety numbers again "
                         "(focal verify {})",
                         safeLine(m.senderId), safeLine(m.senderId)));
  }
  if (!m.keyWarning.empty()) out.line(fmt::format("           WARNING: {}", safeLine(m.keyWarning)));
  if (m.seal == 1) {
    out.line("           sealed with seal v1 (before key commitment): every recipient cannot be shown to have the "
             "same text");
  }
  if (m.carriedHeadCheck == "unconfirmed") {
    out.line("           The directory log head it carries is newer than the hub shows you: not confirmed yet "
             "(focal verify-log later)");
  }
  out.line(fmt::format("To:        {}", fmt::join(safeLines(m.addresses), ", ")));
  out.line(fmt::format("Sent:      {}", formatTime(m.createdAtMs)));
  out.line(fmt::format("Category:  {}{}", categoryName(m.category),
                       m.priority == wire::Priority::URGENT ? "  (URGENT)" : ""));
  if (m.replyTo) out.line(fmt::format("Reply to:  {}", crypto::toHex(*m.replyTo)));
  if (!m.eventDate.empty()) out.line(fmt::format("Date:      {}", safeLine(m.eventDate)));
  if (!m.eventPlace.empty()) out.line(fmt::format("Place:     {}", safeLine(m.eventPlace)));
  if (m.metOffer) out.line(fmt::format("Need met by offer {} (focal needs shows whether the owner's state signed it)", crypto::toHex(*m.metOffer)));
  if (m.kind == wire::BulletinKind::SUMMARY_RECORD) {
    out.line(fmt::format("Summary record: comments until {} (focal comment {} --text ... [--objection]); "
                         "approved by silence otherwise",
                         formatTime(m.commentDeadlineMs), crypto::toHex(m.id)));
    if (m.revises) out.line(fmt::format("Revises:   {}", crypto::toHex(*m.revises)));
  }
  if (!m.attackTechniques.empty()) out.line(fmt::format("ATT&CK:    {}", fmt::join(safeLines(attackWithNames(m.attackTechniques)), ", ")));
  if (stixCheck && stixCheck->problem.empty()) {
    out.line(fmt::format("STIX:      {} object(s): {}  [validated; focal export {} --format stix]", stixCheck->objects,
                         safeLine(fmt::format("{}", fmt::join(stixCheck->types, ", "))), crypto::toHex(m.id)));
  } else if (stixCheck) {
    out.line(fmt::format("STIX:      WARNING: the carried STIX bundle does not verify: {}", safeLine(stixCheck->problem)));
    out.line("           (the sender's client should have refused it; it will not be exported)");
  }
  out.line(fmt::format("Title:     {}", safeLine(m.title)));
  out.line("");
  for (const auto& l : safeBlockLines(m.body)) out.line("  | " + l);
  if (!m.attachments.empty()) {
    out.line("");
    out.line("Attachments:");
    for (std::size_t i = 0; i < m.attachments.size(); ++i) {
      const auto& att = m.attachments[i];
      out.line(fmt::format("  {}  {} bytes  {}{}", safeLine(att.name), att.plainSize, safeLine(att.mediaType),
                           savedTo[i].empty() ? "" : "  -> saved to " + safeLine(savedTo[i])));
    }
  }
  out.line(fmt::format("=== TLP:{} === from {} (fingerprint {}), signature verified", tlpName(m.tlp),
                       safeLine(m.senderId), m.senderFingerprint));
  return ExitOk;
}

}  // namespace

void addReadCommand(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto a = std::make_shared<ReadArgs>();
  auto* cmd = app.add_subcommand("read", "Decrypt, verify and show one bulletin");
  cmd->add_option("id", a->id, "Bulletin id (32 hex digits from focal inbox, or a unique first 6 or more)")->required();
  cmd->add_option("--save-dir", a->saveDir, "Save the attachments into this directory (created, mode 0700, if missing)");
  cmd->add_flag("--force", a->force, "Replace files that exist already when saving attachments");
  cmd->footer(R"(The sender's key is taken from the directory, never from the bulletin; the
signature, recipient entry, ciphertext hash and every attachment are verified (exit 3
if anything does not). Attachment names are reduced to a plain file name; two
attachments of the same name are saved as NAME and NAME (2) and never replace each
other; an existing file is replaced only with --force. Text of the sender's that
could control the terminal is shown escaped (\x1b, \u202e); --json has the exact
values. Body lines are prefixed "  | ".
When the hub is out of reach (connection refused or timed out), the copy kept in the
profile is shown, verified against the directory log the profile verified last (a
warning says so; attachments need the hub). focal history and focal search list and
find what you read before, without a hub.

Example:
  focal read 0f3c9a1e5b7d2c4f6a8e0b1d3f5a7c9e --save-dir ./received)");
  table.add(cmd, [&ctx, a] { return runRead(ctx, *a); });
}

}  // namespace focal::client::cli

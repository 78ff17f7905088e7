// focal comment / record-status: the silence procedure of summary records
// (DESIGN.md §9, PROTOCOL.md §12.4).
#include "client/bulletin_cache.hpp"
#include "client/cli_context.hpp"
#include "client/client_error.hpp"
#include "protocol/records.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace focal::client::cli {

namespace {

const char* recordStateName(wire::RecordState s) {
  switch (s) {
    case wire::RecordState::PENDING: return "pending";
    case wire::RecordState::APPROVED: return "approved";
    case wire::RecordState::OBJECTED: return "objected";
    case wire::RecordState::WITHDRAWN: return "withdrawn";
    case wire::RecordState::SUPERSEDED: return "superseded";
  }
  return "unknown";
}

// ---- comment ----

struct CommentArgs {
  std::string id;
  std::string text;
  bool objection = false;
};

int runComment(CliContext& ctx, const CommentArgs& a) {
  const auto id = parseBulletinId(a.id);
  if (a.text.size() > 8 * 1024) throw UsageError("too-long", "--text is limited to 8 KiB");
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  BulletinCache cache(ctx.profile().cacheDir());
  std::unique_ptr<HubDirectory> dir;
  // The record is opened and verified first: the comment text is sealed to
  // the encryption key the verified directory gives its signed sender.
  auto m = findBulletin(*conn, dir, cache, id, keys);
  if (!m) throw VerifyError("summary record " + a.id + " does not verify: " + m.error());
  if (m->kind != wire::BulletinKind::SUMMARY_RECORD) {
    throw UsageError("not-a-record", "bulletin " + a.id + " is not a summary record");
  }
  if (!dir) dir = std::make_unique<HubDirectory>(HubDirectory::fetch(*conn));
  const MemberRecord* sender = dir->find(m->senderId);
  if (sender == nullptr) throw VerifyError("the record's sender " + m->senderId + " is not in the verified directory");
  const auto record = protocol::makeComment(id, a.objection, a.text, sender->encryptionKey, keys, nowMs());
  const auto recorded = conn->comment(record);
  if (ctx.out().json()) {
    ctx.out().document({{"record", a.id},
                        {"objection", a.objection},
                        {"recorded_at", formatTime(recorded.atMs)},
                        {"comment_deadline", formatTime(m->commentDeadlineMs)}});
  } else {
    ctx.out().line(fmt::format("{} on {} recorded; the text is readable only by {}.",
                               a.objection ? "Objection" : "Comment", a.id, m->senderId));
  }
  return ExitOk;
}

// ---- record-status ----

int runRecordStatus(CliContext& ctx, const std::string& hexId) {
  const auto id = parseBulletinId(hexId);
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const auto st = conn->recordStatus(id);
  // Comments are signed by their authors: verified against the verified
  // directory, never taken on the hub's word.
  const auto dir = HubDirectory::fetch(*conn);
  nlohmann::json comments = nlohmann::json::array();
  std::vector<std::string> lines;
  for (const auto& c : st.comments) {
    const auto who = protocol::peekCommenter(c.body);
    const MemberRecord* author = who ? dir.find(*who) : nullptr;
    const auto sig = crypto::Signature::fromBytes(c.signature);
    if (author == nullptr || !sig) throw VerifyError("a comment names no known member");
    auto info = protocol::verifyComment(c.body, *sig, author->identityKey);
    if (!info || !(info->recordId == id) || info->memberId != *who) {
      throw VerifyError("the comment of " + *who + " does not verify");
    }
    std::optional<std::string> text;
    if (!info->sealedText.empty()) {
      text = protocol::openCommentText(info->sealedText, keys.encryption);
      for (const auto& old : keys.previousEncryption) {
        if (!text) text = protocol::openCommentText(info->sealedText, old);
      }
    }
    comments.push_back({{"member", info->memberId},
                        {"objection", info->objection},
                        {"commented_at", formatTime(info->commentedAtMs)},
                        {"text", text ? nlohmann::json(*text) : nullptr}});
    lines.push_back(fmt::format("  {:<20} {:<10} {}{}", info->memberId, info->objection ? "OBJECTION" : "comment",
                                formatTime(info->commentedAtMs),
                                text ? "  " + *text : (info->sealedText.empty() ? "" : "  (text sealed to the sender)")));
  }
  if (ctx.out().json()) {
    ctx.out().document({{"id", hexId},
                        {"state", recordStateName(st.state)},
                        {"deadline", formatTime(st.deadlineMs)},
                        {"deadline_ms", st.deadlineMs},
                        {"comments", comments},
                        {"acknowledged_by", st.acknowledgedBy},
                        {"outcome_index", st.outcomeIndex == 0 ? nlohmann::json(nullptr) : nlohmann::json(st.outcomeIndex)}});
    return ExitOk;
  }
  ctx.out().line(fmt::format("summary record {}: {}", hexId, recordStateName(st.state)));
  ctx.out().line(fmt::format("comment deadline: {}", formatTime(st.deadlineMs)));
  if (st.outcomeIndex != 0) ctx.out().line(fmt::format("approval: hub-signed log entry {}", st.outcomeIndex));
  ctx.out().line(fmt::format("comments ({}):", st.comments.size()));
  for (const auto& l : lines) ctx.out().line(l);
  ctx.out().line(fmt::format("acknowledged by ({}): {}", st.acknowledgedBy.size(), fmt::join(st.acknowledgedBy, ", ")));
  return ExitOk;
}

}  // namespace

void addConsensusCommands(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto ca = std::make_shared<CommentArgs>();
  auto* comment = app.add_subcommand("comment", "Comment on, or object to, a summary record you received");
  comment->add_option("id", ca->id, "Summary record id (32 hex digits)")->required();
  comment->add_option("--text", ca->text, "The comment (sealed to the record's sender; the hub cannot read it)");
  comment->add_flag("--objection", ca->objection, "Object: the record is then not approved by silence");
  comment->footer(R"(Signs a Comment record. Only the record's original recipients comment, once each,
before its comment deadline. Without an objection from anyone the hub approves the
record at the deadline (silence procedure); an objection keeps it open until the
secretariat circulates a revision or withdraws it.

Example:
  focal comment 0f3c9a1e5b7d2c4f6a8e0b1d3f5a7c9e --text "Item 4: MY, not TH" --objection)");
  table.add(comment, [&ctx, ca] { return runComment(ctx, *ca); });

  auto rid = std::make_shared<std::string>();
  auto* status = app.add_subcommand("record-status", "The silence procedure of a summary record");
  status->add_option("id", *rid, "Summary record id (32 hex digits)")->required();
  status->footer(R"(States: pending (window open), approved (deadline passed without objection; the hub
signed a recordApproved log entry), objected, withdrawn (retracted by its sender),
superseded (a revision replaced it). Comments are verified against the directory log;
their text is shown to the record's sender only.

Example:
  focal record-status 0f3c9a1e5b7d2c4f6a8e0b1d3f5a7c9e --json)");
  table.add(status, [&ctx, rid] { return runRecordStatus(ctx, *rid); });
}

}  // namespace focal::client::cli

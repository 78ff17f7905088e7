// focal history / focal search: the member's local archive (client/
// archive.hpp), read without a hub: every bulletin this profile opened and
// verified, acknowledged or not, retracted ones marked.
#include "client/cli_context.hpp"
#include "client/client_error.hpp"
#include "protocol/command_line.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <ctime>

namespace focal::client::cli {

namespace {

struct ArchiveArgs {
  std::string query;
  std::string from, tlp, category, caseRef, since;
  std::vector<std::string> attack;
  std::size_t limit = 0;
};

// --since: a date (2026-11-01, midnight UTC) or a duration back from now (30d).
std::int64_t sinceArg(const std::string& text) {
  if (text.empty()) return 0;
  if (auto ms = protocol::parseDurationMs(text)) return nowMs() - *ms;
  std::tm tm{};
  const char* end = ::strptime(text.c_str(), "%Y-%m-%d", &tm);
  if (end == nullptr || *end != '\0') {
    throw UsageError("bad-date", "--since takes a date (2026-11-01) or a duration back from now (30d), got '" +
                                     safeLine(text) + "'");
  }
  return static_cast<std::int64_t>(::timegm(&tm)) * 1000;
}

ArchiveFilter filterOf(const ArchiveArgs& a) {
  ArchiveFilter f;
  f.from = a.from;
  if (!a.tlp.empty()) {
    wire::Tlp t{};
    if (!parseTlp(a.tlp, t)) throw UsageError("bad-tlp", "unknown TLP '" + safeLine(a.tlp) + "'");
    f.tlp = tlpName(t);
  }
  if (!a.category.empty()) {
    wire::Category c{};
    if (!parseCategory(a.category, c)) throw UsageError("bad-category", "unknown category '" + safeLine(a.category) + "'");
    f.category = categoryName(c);
  }
  f.caseRef = a.caseRef;
  f.attack = a.attack;
  f.sinceMs = sinceArg(a.since);
  f.limit = a.limit;
  return f;
}

nlohmann::json archiveRowJson(const ArchiveRow& r) {
  const bool titleGone = r.contentRemoved == "retracted";
  const bool bodyGone = !r.contentRemoved.empty();
  return {{"bulletin_id", r.id},
          {"sender", senderJson(r.senderId, r.senderName, r.senderFingerprint)},
          {"recipient_ids", r.recipients},
          {"tlp", jsonTlp(r.tlp)},
          {"category", r.category},
          {"priority", r.priority},
          {"case", jsonText(r.caseRef)},
          {"attack", r.attack},
          {"created_at", jsonTime(r.sentAtMs)},
          {"archived_at", jsonTime(r.archivedAtMs)},
          {"forwarded_by_id", jsonText(r.forwardedBy)},
          {"title", titleGone ? nlohmann::json(nullptr) : nlohmann::json(r.title)},
          {"body", bodyGone ? nlohmann::json(nullptr) : nlohmann::json(r.body)},
          {"acknowledged", r.acknowledged},
          {"retracted", r.retracted},
          {"retracted_at", jsonTime(r.retractedAtMs)},
          {"retraction_reason", r.retracted ? nlohmann::json(r.retractionReason) : nlohmann::json(nullptr)},
          {"content_removed", jsonText(r.contentRemoved)}};
}

// One row per bulletin; everything the sender chose goes through safeLine.
std::string archiveRowLine(const ArchiveRow& r) {
  std::string marks;
  marks += r.acknowledged ? "  [acknowledged]" : "  [not acknowledged]";
  if (r.retracted) marks += fmt::format("  [RETRACTED: {}]", safeLine(r.retractionReason));
  if (r.contentRemoved == "retention") marks += "  [body removed: archive-keep]";
  if (!r.caseRef.empty()) marks += fmt::format("  [case {}]", safeLine(r.caseRef));
  const std::string title = r.contentRemoved == "retracted" ? "(content removed: retracted)" : safeLine(r.title);
  return fmt::format("{}  {:<20} TLP:{:<12} {:<6}  {}  {}{}", r.id, safeLine(r.senderId), r.tlp, r.priority,
                     formatTime(r.sentAtMs), title, marks);
}

int printRows(CliContext& ctx, const std::vector<ArchiveRow>& rows, const std::string* query) {
  if (ctx.out().json()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& r : rows) list.push_back(archiveRowJson(r));
    nlohmann::json doc{{"count", rows.size()}, {"bulletins", list}};
    if (query != nullptr) doc["query"] = *query;
    ctx.out().document(doc);
    return ExitOk;
  }
  for (const auto& r : rows) ctx.out().line(archiveRowLine(r));
  if (rows.empty()) ctx.out().note(query != nullptr ? "nothing in the archive matches" : "the archive is empty");
  return ExitOk;
}

int runHistory(CliContext& ctx, const ArchiveArgs& a) {
  const auto filter = filterOf(a);
  auto keys = ctx.loadKeys();
  return printRows(ctx, ctx.archive(keys).history(filter), nullptr);
}

int runSearch(CliContext& ctx, const ArchiveArgs& a) {
  const auto filter = filterOf(a);
  if (ftsWords(a.query).empty()) throw UsageError("usage", "search needs at least one word");
  auto keys = ctx.loadKeys();
  return printRows(ctx, ctx.archive(keys).search(a.query, filter), &a.query);
}

void addArchiveFilters(CLI::App* cmd, ArchiveArgs& a) {
  cmd->add_option("--from", a.from, "Only bulletins from this member");
  cmd->add_option("--tlp", a.tlp, "Only bulletins of this TLP (clear, green, amber, amber+strict, red)");
  cmd->add_option("--category", a.category, "Only bulletins of this category");
  cmd->add_option("--case", a.caseRef, "Only bulletins of this case reference");
  cmd->add_option("--attack", a.attack, "Only bulletins with any of these ATT&CK ids (T1566 also matches T1566.002)");
  cmd->add_option("--since", a.since, "Only bulletins sent since a date (2026-11-01, UTC) or for a duration (30d)");
  cmd->add_option("--limit", a.limit, "At most this many rows (default: all)");
}

}  // namespace

void addHistoryCommands(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto h = std::make_shared<ArchiveArgs>();
  auto* history = app.add_subcommand("history", "List the bulletins this profile received, from its local archive");
  addArchiveFilters(history, *h);
  history->footer(R"(Every bulletin this profile opened and verified (inbox, read, listen, ack) is
kept in a local archive sealed to your key (members/ID/archive.bin), acknowledged
or not; newest first. A retracted bulletin is listed with its content removed;
a body older than the profile's archive-keep for its TLP is removed too. Needs
no hub: only your key (the key agent, or the key file's passphrase).

Example:
  focal history --from sg-spf-cyber --tlp amber --since 30d
  focal history --attack T1566 --json)");
  table.add(history, [&ctx, h] { return runHistory(ctx, *h); });

  auto s = std::make_shared<ArchiveArgs>();
  auto* search = app.add_subcommand("search", "Find archived bulletins by words of their title or body");
  search->add_option("query", s->query, "Words that must all occur (taken as plain words, never as search syntax)")
      ->required();
  addArchiveFilters(search, *s);
  search->footer(R"(Full-text search (SQLite FTS5) over the titles and bodies in the local archive,
best match first, with the same filters as focal history. Each word matches
whole words, case and accents ignored; quotes, *, NEAR( and the like are
searched as text. Needs no hub.

Example:
  focal search "phishing kit" --tlp amber
  focal search invoice --from sg-spf-cyber --json)");
  table.add(search, [&ctx, s] { return runSearch(ctx, *s); });
}

}  // namespace focal::client::cli

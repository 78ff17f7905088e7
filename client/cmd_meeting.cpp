// focal meeting create / list / show / report: the working group's meetings
// (terms of reference §5, §9, §10; PROTOCOL.md §12.8). The secretariat
// creates a meeting (a signed Meeting record); its papers are bulletins of
// category meeting-document bound to it (focal send --meeting), its summary
// record names it too; the report gathers what this member holds of it.
#include "client/action_verifier.hpp"
#include "client/address_resolver.hpp"
#include "client/cli_context.hpp"
#include "client/client_error.hpp"
#include "client/delivery_opener.hpp"
#include "client/meetings.hpp"
#include "client/short_ids.hpp"
#include "client/text_input.hpp"
#include "client/verified_log.hpp"
#include "protocol/iso3166.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>
#include <map>

namespace focal::client::cli {

namespace {

struct MeetingCreateArgs {
  std::string title;
  std::string hostState;
  std::string date;
  std::vector<std::string> invite;
};

nlohmann::json meetingJson(const VerifiedMeeting& m, const std::vector<std::string>& participants) {
  return {{"meeting_id", crypto::toHex(m.info.id)},     {"title", m.info.title},
          {"host_state", m.info.hostState},              {"date", m.info.date},
          {"secretariat_id", m.info.secretariatId},      {"created_at", jsonTime(m.info.createdAtMs)},
          {"invited_ids", m.info.invited},               {"participant_ids", participants}};
}

int runMeetingCreate(CliContext& ctx, const MeetingCreateArgs& a) {
  protocol::MeetingDraft draft;
  draft.title = a.title;
  draft.hostState = a.hostState;
  std::transform(draft.hostState.begin(), draft.hostState.end(), draft.hostState.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  draft.date = a.date;
  for (const auto& i : a.invite) {
    for (auto& id : splitList(i)) draft.invited.push_back(std::move(id));
  }
  requireSingleLineText(draft.title, "--title");
  if (draft.title.empty() || draft.title.size() > protocol::MaxMeetingTitleBytes) {
    throw UsageError("usage", fmt::format("--title must be 1..{} bytes", protocol::MaxMeetingTitleBytes));
  }
  if (!protocol::isIso3166Alpha2(draft.hostState)) {
    throw UsageError("bad-state", "--host-state takes an ISO 3166-1 alpha-2 code, e.g. SG");
  }
  if (!protocol::isMeetingDate(draft.date)) throw UsageError("bad-date", "--date takes a day YYYY-MM-DD, e.g. 2027-03-15");
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const auto directory = HubDirectory::fetch(*conn);
  for (const auto& id : draft.invited) {
    const MemberRecord* m = directory.find(id);
    if (m == nullptr || !m->usable()) throw NotFoundError("no active member " + id + " to invite");
    // Its admission names the meetings it takes part in (PROTOCOL.md §12.5);
    // a new meeting is never one of them (they existed before it).
    if (m->meetingLimited()) {
      throw UsageError("meeting-limited", safeLine(id) + " is admitted only to " + protocol::meetingListText(m->meetings) +
                                              " and takes part in those without an invitation; it cannot be invited "
                                              "to another meeting");
    }
  }
  ctx.requireFreshHead(*conn);
  const auto record = protocol::makeMeeting(draft, keys, nowMs());
  const auto recorded = conn->createMeeting(record);
  auto info = protocol::readMeeting(record.body);
  if (!info) throw std::logic_error("the meeting record we made does not read: " + info.error());
  const VerifiedMeeting made{std::move(*info), RawRecord{record.body, crypto::Bytes(record.signature.bytes.begin(),
                                                                                     record.signature.bytes.end())}};
  const auto participants = meetingParticipants(made.info, directory);
  if (ctx.out().json()) {
    auto doc = meetingJson(made, participants);
    doc["recorded_at"] = jsonTime(recorded.atMs);
    ctx.out().document(doc);
  } else {
    ctx.out().line(crypto::toHex(made.info.id));
    ctx.out().note(fmt::format("Meeting \"{}\" in {} on {}: {} participant(s) now.", safeLine(made.info.title),
                               made.info.hostState, made.info.date, participants.size()));
  }
  return ExitOk;
}

// The meetings this member takes part in, verified against the log; the
// ones that do not verify are reported on stderr (never used).
struct MeetingSession {
  crypto::Keyring keys;
  std::unique_ptr<Connection> conn;
  HubDirectory directory;
  MeetingListing listing;
};

MeetingSession openMeetings(CliContext& ctx) {
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  auto directory = HubDirectory::fetch(*conn);
  auto listing = verifyMeetings(conn->listMeetings(), directory);
  for (const auto& r : listing.refused) std::cerr << "focal: warning: " << safeLine(r) << " (ignored)\n";
  return MeetingSession{std::move(keys), std::move(conn), std::move(directory), std::move(listing)};
}

int runMeetingList(CliContext& ctx) {
  auto s = openMeetings(ctx);
  if (ctx.out().json()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& m : s.listing.meetings) list.push_back(meetingJson(m, meetingParticipants(m.info, s.directory)));
    ctx.out().document({{"meetings", list}, {"refused", s.listing.refused}});
    return ExitOk;
  }
  if (s.listing.meetings.empty()) ctx.out().note("No meetings you take part in.");
  for (const auto& m : s.listing.meetings) {
    ctx.out().line(fmt::format("{}  {}  {}  {}", crypto::toHex(m.info.id), m.info.date, m.info.hostState,
                               safeLine(m.info.title)));
  }
  return ExitOk;
}

}  // namespace

const VerifiedMeeting& findMeetingArg(const MeetingListing& listing, const std::string& text) {
  std::vector<std::string> known;
  for (const auto& m : listing.meetings) known.push_back(crypto::toHex(m.info.id));
  auto resolved = resolveIdPrefix(text, known, "meeting");
  if (!resolved && resolved.error().code == "unknown-id") {
    throw NotFoundError("no meeting you take part in starts with " + safeLine(text) + " (focal meeting list)");
  }
  if (!resolved) throw UsageError(resolved.error().code, resolved.error().message);
  const std::string whole = *resolved;
  for (const auto& m : listing.meetings) {
    if (crypto::toHex(m.info.id) == whole) return m;
  }
  throw NotFoundError("no meeting " + text + " you take part in");
}

namespace {

// What this member holds of a meeting: the verified bulletins bound to it
// in its queue and cache.
struct MeetingPaper {
  crypto::BulletinId id;
  OpenedMessage message;
};

std::vector<MeetingPaper> meetingPapers(MeetingSession& s, const crypto::BulletinId& meetingId, CliContext& ctx) {
  auto cache = ctx.cache(s.keys);
  std::unique_ptr<HubDirectory> dir;
  for (const auto& d : fetchAll(*s.conn, 0)) (void)openDelivery(*s.conn, dir, d, s.keys, cache);
  std::vector<MeetingPaper> out;
  for (const auto& cid : cache.ids()) {
    auto raw = cache.get(cid);
    if (!raw) continue;
    auto m = openCached(*s.conn, dir, *raw, cid, s.keys, cache);
    if (!m || !m->meetingId || !(*m->meetingId == meetingId)) continue;
    out.push_back(MeetingPaper{cid, std::move(*m)});
  }
  std::sort(out.begin(), out.end(),
            [](const MeetingPaper& x, const MeetingPaper& y) { return x.message.createdAtMs < y.message.createdAtMs; });
  return out;
}

nlohmann::json paperJson(const MeetingPaper& p) {
  return {{"bulletin_id", crypto::toHex(p.id)},        {"title", p.message.title},
          {"sender_id", p.message.senderId},           {"created_at", jsonTime(p.message.createdAtMs)},
          {"tlp", tlpName(p.message.tlp)},             {"category", categoryName(p.message.category)},
          {"retracted", p.message.retraction.has_value()}};
}

int runMeetingShow(CliContext& ctx, const std::string& idText) {
  auto s = openMeetings(ctx);
  const auto& m = findMeetingArg(s.listing, idText);
  const auto participants = meetingParticipants(m.info, s.directory);
  const auto papers = meetingPapers(s, m.info.id, ctx);
  if (ctx.out().json()) {
    auto doc = meetingJson(m, participants);
    nlohmann::json list = nlohmann::json::array();
    for (const auto& p : papers) list.push_back(paperJson(p));
    doc["papers"] = list;
    ctx.out().document(doc);
    return ExitOk;
  }
  ctx.out().line(fmt::format("Meeting {}", crypto::toHex(m.info.id)));
  ctx.out().line(fmt::format("  Title:        {}", safeLine(m.info.title)));
  ctx.out().line(fmt::format("  Host state:   {} ({})", m.info.hostState, protocol::iso3166Name(m.info.hostState)));
  ctx.out().line(fmt::format("  Date:         {}", m.info.date));
  ctx.out().line(fmt::format("  Created by:   {} at {}", safeLine(m.info.secretariatId), formatTime(m.info.createdAtMs)));
  ctx.out().line(fmt::format("  Invited:      {}", m.info.invited.empty() ? std::string("nobody")
                                                                           : fmt::format("{}", fmt::join(m.info.invited, ", "))));
  ctx.out().line(fmt::format("  Participants: {}", participants.size()));
  ctx.out().line(fmt::format("  Papers you hold: {}", papers.size()));
  for (const auto& p : papers) {
    ctx.out().line(fmt::format("    {}  TLP:{}  {}  {}  {}", crypto::toHex(p.id), tlpName(p.message.tlp),
                               categoryName(p.message.category), safeLine(p.message.senderId),
                               safeLine(p.message.title)));
  }
  return ExitOk;
}

// ---- report ----

struct ReportArgs {
  std::string id;
  std::string out;
  bool force = false;
};

// One summary record of the meeting with its outcome: the hub's state, and
// for an approved record the recordApproved entry of the verified log.
struct RecordOutcomeRow {
  const MeetingPaper* paper = nullptr;
  std::string state;
  std::uint64_t logIndex = 0;  // the verified recordApproved entry, 0 = none
};

std::uint64_t approvalInLog(const VerifiedLog& log, const crypto::BulletinId& recordId) {
  for (const auto& e : log.entries()) {
    auto ev = protocol::decode<wire::LogEvent>(e.event);
    if (!ev || ev->root().which() != wire::LogEvent::RECORD_APPROVED) continue;
    const auto id = protocol::view(ev->root().getRecordApproved().getRecordId());
    if (std::equal(id.begin(), id.end(), recordId.bytes.begin(), recordId.bytes.end())) {
      return e.index;
    }
  }
  return 0;
}

// Every section of the report.
struct MeetingReport {
  const VerifiedMeeting* meeting = nullptr;
  std::vector<std::string> participants;
  std::vector<const MeetingPaper*> papers;
  std::vector<RecordOutcomeRow> records;
  // The work programme's items following up the meeting or one of its
  // summary records, verified (PROTOCOL.md §12.10); `actionsHidden` when
  // the hub does not show the work programme to this member (a partner).
  std::vector<VerifiedAction> actions;
  bool actionsHidden = false;
};

// The last verified update of an item, or none.
const VerifiedActionUpdate* lastUpdate(const VerifiedAction& v) {
  return v.updates.empty() ? nullptr : &v.updates.back();
}

std::string reportMarkdown(const MeetingReport& r) {
  const auto& m = r.meeting->info;
  std::string out = fmt::format("# Report to the SOMTC: {}\n\n", safeLine(m.title));
  out += fmt::format("- Meeting: `{}`\n- Host state: {} ({})\n- Date: {}\n- Convened by: {}\n", crypto::toHex(m.id),
                     m.hostState, protocol::iso3166Name(m.hostState), m.date, m.secretariatId);
  out += fmt::format("- Participants ({}): {}\n", r.participants.size(), fmt::join(r.participants, ", "));
  out += fmt::format("- Invited resource-panel members and partners: {}\n\n",
                     m.invited.empty() ? std::string("none") : fmt::format("{}", fmt::join(m.invited, ", ")));
  out += "## Summary records and decisions\n\n";
  if (r.records.empty()) out += "No summary record of this meeting reached you.\n";
  for (const auto& rec : r.records) {
    out += fmt::format("- {} (`{}`, TLP:{}): {}{}\n", safeLine(rec.paper->message.title), crypto::toHex(rec.paper->id),
                       tlpName(rec.paper->message.tlp), rec.state,
                       rec.logIndex != 0 ? fmt::format(", recorded in the directory log at entry {}", rec.logIndex)
                                         : std::string());
  }
  out += "\n## Meeting papers\n\n";
  if (r.papers.empty()) out += "No meeting paper reached you.\n";
  for (const auto* p : r.papers) {
    out += fmt::format("- {} (`{}`, TLP:{}), from {} on {}{}\n", safeLine(p->message.title), crypto::toHex(p->id),
                       tlpName(p->message.tlp), p->message.senderId, formatTime(p->message.createdAtMs),
                       p->message.retraction ? " (retracted)" : "");
  }
  out += "\n## Action items\n\n";
  if (r.actionsHidden) out += "The work programme is shown to member states and the secretariat only.\n";
  if (!r.actionsHidden && r.actions.empty()) out += "No action item follows up this meeting or its summary records.\n";
  for (const auto& v : r.actions) {
    const auto* last = lastUpdate(v);
    out += fmt::format("- `{}` {}, due {}: **{}**{}{}\n", crypto::toHex(v.item.actionId), safeLine(v.item.owner),
                       v.item.dueDay, protocol::actionStatusName(v.status),
                       last ? fmt::format(" (by {} on {})", safeLine(last->authorId), formatTime(last->updatedAtMs))
                            : std::string(),
                       v.text ? ": " + safeLine(*v.text) : std::string());
  }
  return out;
}

nlohmann::json reportJson(const MeetingReport& r) {
  auto doc = meetingJson(*r.meeting, r.participants);
  nlohmann::json records = nlohmann::json::array();
  for (const auto& rec : r.records) {
    auto j = paperJson(*rec.paper);
    j["state"] = rec.state;
    j["approval_log_index"] = rec.logIndex == 0 ? nlohmann::json(nullptr) : nlohmann::json(rec.logIndex);
    records.push_back(j);
  }
  nlohmann::json papers = nlohmann::json::array();
  for (const auto* p : r.papers) papers.push_back(paperJson(*p));
  nlohmann::json actions = nlohmann::json::array();
  for (const auto& v : r.actions) {
    const auto* last = lastUpdate(v);
    actions.push_back({{"action_id", crypto::toHex(v.item.actionId)},
                       {"owner", v.item.owner},
                       {"due_day", v.item.dueDay},
                       {"status", protocol::actionStatusName(v.status)},
                       {"text", v.text ? nlohmann::json(*v.text) : nullptr},
                       {"updated_by", last ? nlohmann::json(last->authorId) : nullptr},
                       {"updated_at", last ? jsonTime(last->updatedAtMs) : nullptr}});
  }
  doc["summary_records"] = records;
  doc["papers"] = papers;
  doc["action_items"] = r.actionsHidden ? nlohmann::json(nullptr) : actions;
  return doc;
}

int runMeetingReport(CliContext& ctx, const ReportArgs& a) {
  auto s = openMeetings(ctx);
  const auto& m = findMeetingArg(s.listing, a.id);
  const auto held = meetingPapers(s, m.info.id, ctx);
  MeetingReport report;
  report.meeting = &m;
  report.participants = meetingParticipants(m.info, s.directory);
  for (const auto& p : held) {
    if (p.message.kind != wire::BulletinKind::SUMMARY_RECORD) {
      report.papers.push_back(&p);
      continue;
    }
    RecordOutcomeRow row{&p, "unknown", 0};
    try {
      const auto st = s.conn->recordStatus(p.id);
      row.state = protocol::recordStateName(st.state);
      if (st.state == wire::RecordState::APPROVED) row.logIndex = approvalInLog(*s.conn->verifiedLog(), p.id);
      if (st.state == wire::RecordState::APPROVED && row.logIndex == 0) row.state = "approved (not in your verified log yet)";
    } catch (const HubError&) {
      row.state = "unknown (the hub did not answer for it)";
    }
    report.records.push_back(row);
  }
  try {
    for (auto& v : verifyActions(s.conn->listActions(), s.directory, s.keys)) {
      if (v.itemRefused) continue;  // `focal actions` shows it as REFUSED; a report states only what verified
      const bool ofRecord = v.item.recordId && std::any_of(report.records.begin(), report.records.end(), [&](const auto& r) {
                              return r.paper->id == *v.item.recordId;
                            });
      if (v.item.meetingId == m.info.id || ofRecord) report.actions.push_back(std::move(v));
    }
  } catch (const HubError&) {
    report.actionsHidden = true;  // forbidden: the work programme is for member states and the secretariat
  }
  const std::string text = ctx.out().json() ? reportJson(report).dump(2) + "\n" : reportMarkdown(report);
  if (a.out.empty()) {
    if (ctx.out().json()) {
      ctx.out().document(reportJson(report));
    } else {
      std::cout << safeBlock(text);
    }
    return ExitOk;
  }
  if (std::filesystem::exists(a.out) && !a.force) {
    throw UsageError("file-exists", a.out + " exists; use --force to replace it");
  }
  std::ofstream f(a.out, std::ios::binary | std::ios::trunc);
  if (!f || !(f << text) || !(f.flush())) throw std::runtime_error("cannot write " + a.out);
  if (ctx.out().json()) {
    ctx.out().document({{"meeting_id", crypto::toHex(m.info.id)}, {"path", a.out}});
  } else {
    ctx.out().note(fmt::format("Wrote the report on meeting {} to {}", crypto::toHex(m.info.id), a.out));
  }
  return ExitOk;
}

}  // namespace

void addMeetingCommands(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto* meeting = app.add_subcommand("meeting", "The working group's meetings: create, list, show, report");
  meeting->require_subcommand(1);

  auto ca = std::make_shared<MeetingCreateArgs>();
  auto* create = meeting->add_subcommand("create", "Secretariat: create a meeting (a signed record the hub keeps)");
  create->add_option("--title", ca->title, "The meeting's title (one line; the hub sees it)")->required();
  create->add_option("--host-state", ca->hostState, "The host member state, ISO 3166 alpha-2 (e.g. SG)")->required();
  create->add_option("--date", ca->date, "The first day, YYYY-MM-DD")->required();
  create->add_option("--invite", ca->invite, "Resource-panel members or dialogue partners invited (repeatable)");
  create->footer(R"(The participants are every member with a member state (the delegations) and the
members invited here, and any resource-panel member whose admission names this meeting
(focal admin propose-admission --meeting: such a member takes part in its named meetings
only and cannot be invited to another). Papers go to them with focal send --meeting ID;
the hub refuses a meeting-bound bulletin for anyone else.

Example:
  focal meeting create --title "WG on CC 2027" --host-state SG --date 2027-03-15 --invite panel-acme)");
  table.add(create, [&ctx, ca] { return runMeetingCreate(ctx, *ca); });

  auto* list = meeting->add_subcommand("list", "The meetings you take part in, verified against the log");
  list->footer(R"(Each record is checked: signed by a member the verified directory log makes
secretariat. One that is not is reported on stderr and left out.

Example:
  focal meeting list --json)");
  table.add(list, [&ctx] { return runMeetingList(ctx); });

  auto sid = std::make_shared<std::string>();
  auto* show = meeting->add_subcommand("show", "A meeting, its participants and the papers you hold");
  show->add_option("id", *sid, "Meeting id (32 hex digits, or a unique first 6 or more)")->required();
  show->footer(R"(Example:
  focal meeting show 0f3c9a)");
  table.add(show, [&ctx, sid] { return runMeetingShow(ctx, *sid); });

  auto ra = std::make_shared<ReportArgs>();
  auto* report = meeting->add_subcommand("report", "The meeting's outcomes as one document for the SOMTC");
  report->add_option("id", ra->id, "Meeting id (32 hex digits, or a unique first 6 or more)")->required();
  report->add_option("--out", ra->out, "Write to this file (default: standard output)");
  report->add_flag("--force", ra->force, "Replace the --out file if it exists");
  report->footer(R"(Markdown, or JSON with --json: the meeting, its participants, its summary records
with their outcome (the approval's directory-log entry once approved) and its papers,
as far as they reached you.

Example:
  focal meeting report 0f3c9a --out wgcc-2027-report.md)");
  table.add(report, [&ctx, ra] { return runMeetingReport(ctx, *ra); });
}

}  // namespace focal::client::cli

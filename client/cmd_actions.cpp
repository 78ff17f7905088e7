// focal action add / action update / actions: the working group's work
// programme (PROTOCOL.md §12.10; terms of reference §9: follow up and
// monitoring so that "we do not lose track"). Action texts and update
// notes are sealed like bulletins, to every point of contact of a member
// state and their author; the hub sees owners, due days and statuses.
#include "client/action_verifier.hpp"
#include "client/address_resolver.hpp"
#include "client/cli_context.hpp"
#include "client/client_error.hpp"
#include "client/meetings.hpp"
#include "client/text_input.hpp"
#include "crypto/primitives.hpp"
#include "protocol/distribution.hpp"
#include "protocol/limits.hpp"
#include "protocol/work_programme.hpp"

#include <fmt/format.h>

namespace focal::client::cli {

namespace {

// The text or note, sealed like a bulletin (seal v2, TLP:AMBER) to every
// point of contact of a member state and its author, with bulletin id `id`
// when given (an item's text carries the action id).
protocol::SealedBulletin sealActionText(Connection& conn, const crypto::Keyring& keys, const std::string& title,
                                        const std::string& body, std::optional<crypto::BulletinId> id) {
  const auto directory = HubDirectory::fetch(conn);
  protocol::BulletinDraft draft;
  draft.tlp = wire::Tlp::AMBER;
  draft.category = wire::Category::OTHER;
  draft.title = title;
  draft.body = body;
  draft.addresses = {"members", keys.memberId};
  auto recipients = resolveAddresses(directory, draft.addresses, keys.memberId);
  if (!recipients) throw UsageError("bad-address", recipients.error());
  draft.recipients = std::move(recipients).value();
  draft.hubId = conn.session().hubId;
  auto sealed = protocol::sealBulletin(draft, keys, crypto::ContentKey::random(), nowMs(), id);
  if (!sealed) throw UsageError("invalid-text", protocol::describe(sealed.error()));
  return std::move(*sealed);
}

void requireActionText(const std::string& text, const char* option) {
  requireText(text, option);
  if (text.empty()) throw UsageError("usage", std::string(option) + " is empty");
  if (text.size() > 16 * 1024) throw UsageError("too-long", std::string(option) + " is at most 16 KiB");
}

// ---- action add ----

struct ActionAddArgs {
  std::string record;
  std::string meeting;
  std::string owner;
  std::string due;
  std::string text;
};

int runActionAdd(CliContext& ctx, const ActionAddArgs& a) {
  if (a.record.empty() == a.meeting.empty()) {
    throw UsageError("usage", "an action item follows up one summary record (--record ID) or one meeting (--meeting ID)");
  }
  std::optional<crypto::BulletinId> recordId;
  if (!a.record.empty()) recordId = bulletinIdArg(ctx, a.record);
  std::string owner = protocol::canonicalAddress(a.owner);
  if (owner.starts_with("state:") ? owner.size() != 8 : !protocol::isRegistrableMemberId(owner)) {
    throw UsageError("bad-owner", "--owner takes state:CC or a member id, got '" + safeLine(a.owner) + "'");
  }
  if (!protocol::parseDay(a.due)) throw UsageError("bad-date", "--due takes a day YYYY-MM-DD, got '" + safeLine(a.due) + "'");
  requireActionText(a.text, "--text");
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  ctx.requireFreshHead(*conn);
  std::optional<crypto::BulletinId> meetingId;
  if (!a.meeting.empty()) {
    // A meeting the verified log says the secretariat made (PROTOCOL.md §12.8).
    const auto directory = HubDirectory::fetch(*conn);
    meetingId = findMeetingArg(verifyMeetings(conn->listMeetings(), directory), a.meeting).info.id;
  }
  const auto actionId = crypto::randomFixed<crypto::BulletinId>();
  auto sealed = sealActionText(*conn, keys, "Action item", a.text, actionId);
  protocol::ActionItemDraft draft;
  draft.actionId = actionId;
  draft.recordId = recordId;
  draft.meetingId = meetingId;
  draft.owner = owner;
  draft.dueDay = a.due;
  draft.textHash = crypto::hash256(crypto::ByteView(sealed.header));
  const auto record = protocol::makeActionItem(draft, keys, nowMs());
  const auto recorded = conn->addAction(record, sealed);
  const auto id = crypto::toHex(actionId);
  if (ctx.out().json()) {
    ctx.out().document({{"action_id", id},
                        {"record_id", recordId ? nlohmann::json(crypto::toHex(*recordId)) : nullptr},
                        {"meeting_id", meetingId ? nlohmann::json(crypto::toHex(*meetingId)) : nullptr},
                        {"owner", owner},
                        {"due_day", a.due},
                        {"recorded_at", jsonTime(recorded.atMs)}});
  } else {
    ctx.out().line(id);
    ctx.out().note(fmt::format("Action item for {} due {}; its text is sealed to the member states' points of contact.",
                               safeLine(owner), a.due));
  }
  return ExitOk;
}

// The action a typed id names in the listing: 32 hex digits, or a unique
// first 6 or more.
const ActionEntryRaw& findAction(const ActionListing& listing, const std::string& typed) {
  std::string lower;
  for (char c : typed) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.size() < 6 || lower.size() > 32 || lower.find_first_not_of("0123456789abcdef") != std::string::npos) {
    throw UsageError("bad-id", "an action id is 32 hex digits, or a unique first 6 or more");
  }
  const ActionEntryRaw* found = nullptr;
  for (const auto& e : listing.items) {
    auto info = protocol::readActionItem(e.item.record.body);
    if (!info || crypto::toHex(info->actionId).rfind(lower, 0) != 0) continue;
    if (found != nullptr) throw UsageError("ambiguous-id", "action id " + typed + " is ambiguous: give more digits");
    found = &e;
  }
  if (found == nullptr) throw NotFoundError("no action item " + safeLine(typed) + " visible to you");
  return *found;
}

// ---- action update ----

struct ActionUpdateArgs {
  std::string id;
  std::string status;
  std::string note;
};

int runActionUpdate(CliContext& ctx, const ActionUpdateArgs& a) {
  wire::ActionStatus status{};
  if (!protocol::parseActionStatus(a.status, status) || status == wire::ActionStatus::OPEN) {
    throw UsageError("bad-status", "--status takes in-progress, done or dropped");
  }
  if (!a.note.empty()) requireActionText(a.note, "--note");
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  ctx.requireFreshHead(*conn);
  const auto listing = conn->listActions();
  const auto& entry = findAction(listing, a.id);
  // The chain is verified before we sign onto its end: our update names
  // the last record we verified.
  ActionListing one{{entry}, false};
  const auto directory = HubDirectory::fetch(*conn);
  const auto verified = verifyActions(one, directory, keys);
  const auto& v = verified.front();
  if (!v.refusals.empty()) {
    throw VerifyError("action item " + safeLine(a.id) + " does not verify: " + safeLine(v.refusals.front()));
  }
  protocol::ActionUpdateDraft draft;
  draft.actionId = v.item.actionId;
  draft.status = status;
  draft.previous = entry.updates.empty() ? v.item.bodyHash : crypto::hash256(crypto::ByteView(entry.updates.back().record.body));
  std::optional<protocol::SealedBulletin> note;
  if (!a.note.empty()) {
    note = sealActionText(*conn, keys, "Action update", a.note, std::nullopt);
    draft.noteHash = crypto::hash256(crypto::ByteView(note->header));
  }
  const auto record = protocol::makeActionUpdate(draft, keys, nowMs());
  const auto recorded = conn->updateAction(record, note ? &*note : nullptr);
  const auto id = crypto::toHex(v.item.actionId);
  if (ctx.out().json()) {
    ctx.out().document({{"action_id", id}, {"status", protocol::actionStatusName(status)}, {"recorded_at", jsonTime(recorded.atMs)}});
  } else {
    ctx.out().line(fmt::format("{} {}", id, protocol::actionStatusName(status)));
  }
  return ExitOk;
}

// ---- actions ----

struct ActionsArgs {
  std::string state;
  std::string record;
  std::string meeting;
  bool overdue = false;
};

nlohmann::json actionJson(const VerifiedAction& v, std::int64_t now) {
  nlohmann::json updates = nlohmann::json::array();
  for (const auto& u : v.updates) {
    updates.push_back({{"author_id", u.authorId},
                       {"status", protocol::actionStatusName(u.status)},
                       {"updated_at", jsonTime(u.updatedAtMs)},
                       {"note", u.note ? nlohmann::json(*u.note) : nullptr},
                       {"note_sealed_to_you", u.noteSealedToUs},
                       {"verified", true}});
  }
  const auto& i = v.item;
  return {{"action_id", crypto::toHex(i.actionId)},
          {"verified", v.refusals.empty()},
          {"refusals", v.refusals},
          {"record_id", i.recordId ? nlohmann::json(crypto::toHex(*i.recordId)) : nullptr},
          {"meeting_id", i.meetingId ? nlohmann::json(crypto::toHex(*i.meetingId)) : nullptr},
          {"author_id", jsonText(i.authorId)},
          {"created_at", jsonTime(i.createdAtMs)},
          {"owner", jsonText(i.owner)},
          {"owner_state", jsonText(v.ownerState)},
          {"due_day", jsonText(i.dueDay)},
          {"status", v.itemRefused ? nlohmann::json(nullptr) : nlohmann::json(protocol::actionStatusName(v.status))},
          {"overdue", !v.itemRefused && v.overdue(now)},
          {"text", v.text ? nlohmann::json(*v.text) : nullptr},
          {"updates", updates}};
}

void printAction(Output& out, const VerifiedAction& v, std::int64_t now) {
  const auto& i = v.item;
  if (v.itemRefused) {
    out.line(fmt::format("{}  REFUSED: {}", crypto::toHex(i.actionId), safeLine(v.refusals.front())));
    return;
  }
  out.line(fmt::format("{}  {:<11} owner {:<16} due {}{}", crypto::toHex(i.actionId), protocol::actionStatusName(v.status),
                       safeLine(i.owner), i.dueDay, v.overdue(now) ? "  OVERDUE" : ""));
  out.line(fmt::format("    added by {} on {} (signature verified){}", safeLine(i.authorId), formatTime(i.createdAtMs),
                       i.recordId    ? " for summary record " + crypto::toHex(*i.recordId)
                       : i.meetingId ? " for meeting " + crypto::toHex(*i.meetingId)
                                     : ""));
  if (v.text) {
    for (const auto& l : safeBlockLines(*v.text)) out.line("    | " + l);
  } else {
    out.line("    (the text is not sealed to you: you joined after it was added)");
  }
  for (const auto& u : v.updates) {
    out.line(fmt::format("    - {} {} by {} (signature verified){}", formatTime(u.updatedAtMs),
                         protocol::actionStatusName(u.status), safeLine(u.authorId),
                         u.hasNote && !u.note ? "  (note not sealed to you)" : ""));
    if (u.note) {
      for (const auto& l : safeBlockLines(*u.note)) out.line("      | " + l);
    }
  }
  for (const auto& r : v.refusals) out.line("    REFUSED: " + safeLine(r));
}

int runActions(CliContext& ctx, const ActionsArgs& a) {
  std::string state = a.state;
  for (auto& c : state) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!state.empty() && (state.size() != 2 || !std::isupper(static_cast<unsigned char>(state[0])) ||
                         !std::isupper(static_cast<unsigned char>(state[1])))) {
    throw UsageError("bad-state", "--state takes a member state's two-letter code, e.g. SG");
  }
  std::optional<crypto::BulletinId> record;
  if (!a.record.empty()) record = bulletinIdArg(ctx, a.record);
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const auto listing = conn->listActions();
  const auto directory = HubDirectory::fetch(*conn);
  std::optional<crypto::BulletinId> meeting;
  if (!a.meeting.empty()) meeting = findMeetingArg(verifyMeetings(conn->listMeetings(), directory), a.meeting).info.id;
  const auto verified = verifyActions(listing, directory, keys);
  const std::int64_t now = nowMs();
  bool refused = false;
  nlohmann::json items = nlohmann::json::array();
  for (const auto& v : verified) {
    refused = refused || !v.refusals.empty();
    // A refused item is always shown: filters would hide it on claims it failed.
    if (!v.itemRefused) {
      if (!state.empty() && v.ownerState != state) continue;
      if (a.overdue && !v.overdue(now)) continue;
      if (record && !(v.item.recordId == record)) continue;
      if (meeting && !(v.item.meetingId == meeting)) continue;
    }
    if (ctx.out().json()) {
      items.push_back(actionJson(v, now));
    } else {
      printAction(ctx.out(), v, now);
    }
  }
  if (ctx.out().json()) {
    ctx.out().document({{"actions", items}, {"truncated", listing.truncated}});
  } else if (verified.empty()) {
    ctx.out().note("No action items.");
  }
  if (listing.truncated) ctx.out().warning("the hub listed only the first items (by due day); the rest did not fit one frame");
  if (refused) {
    ctx.out().warning("some action items or updates did not verify and are shown as REFUSED: the hub may be "
                      "misbehaving (tell the secretariat)");
    return ExitVerify;
  }
  return ExitOk;
}

}  // namespace

void addActionCommands(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto* action = app.add_subcommand("action", "The work programme: add an action item, or update one your state owns");
  action->require_subcommand(1);
  auto add = std::make_shared<ActionAddArgs>();
  auto* addCmd =
      action->add_subcommand("add", "Secretariat or chair: add an action item following up a summary record or a meeting");
  auto* recordOpt =
      addCmd->add_option("--record", add->record, "The summary record it follows up (32 hex digits, or a unique first 6 or more)");
  addCmd->add_option("--meeting", add->meeting, "Or the meeting it follows up (focal meeting list)")->excludes(recordOpt);
  addCmd->add_option("--owner", add->owner, "Who owes it: state:CC (any point of contact of CC) or a member id")->required();
  addCmd->add_option("--due", add->due, "Due day, YYYY-MM-DD (UTC; due by the end of that day)")->required();
  addCmd->add_option("--text", add->text, "What is to be done (sealed to the member states' points of contact)")->required();
  addCmd->footer(R"(The hub stores the signed item and sees its owner, due day and status, never its
text. Its owners are reminded (focal listen) from 7 days before the due day, and
daily while it is overdue.

Example:
  focal action add --record 0f3c9a --owner state:MY --due 2027-03-31 \
      --text "Circulate the national contact list for cybercrime units"
  focal action add --meeting 5b7d2c --owner state:TH --due 2027-06-30 --text "Host the next workshop")");
  table.add(addCmd, [&ctx, add] { return runActionAdd(ctx, *add); });

  auto up = std::make_shared<ActionUpdateArgs>();
  auto* upCmd = action->add_subcommand("update", "A point of contact of the owning state: report progress on an item");
  upCmd->add_option("id", up->id, "The action item (32 hex digits, or a unique first 6 or more)")->required();
  upCmd->add_option("--status", up->status, "in-progress, done or dropped")
      ->required()
      ->check(CLI::IsMember({"in-progress", "done", "dropped"}));
  upCmd->add_option("--note", up->note, "What was done (sealed like the item's text)");
  upCmd->footer(R"(The update is signed and chained to the item's last verified record; only a point
of contact of the owning state may make it (the hub refuses others, and every
client refuses an update that is not).

Example:
  focal action update 5b7d2c --status done --note "List circulated on 12 March")");
  table.add(upCmd, [&ctx, up] { return runActionUpdate(ctx, *up); });

  auto list = std::make_shared<ActionsArgs>();
  auto* listCmd = app.add_subcommand("actions", "The work programme's action items, verified, with who updated what and when");
  listCmd->add_option("--state", list->state, "Only items owned by this member state (e.g. SG)");
  listCmd->add_option("--record", list->record, "Only items following up this summary record");
  listCmd->add_option("--meeting", list->meeting, "Only items following up this meeting");
  listCmd->add_flag("--overdue", list->overdue, "Only items open or in progress past their due day");
  listCmd->footer(R"(For points of contact of member states and the secretariat. Every item and update
is verified (signatures, authors' roles, the update chain); one that fails is shown
as REFUSED and the command exits 3.

Example:
  focal actions --state MY --overdue)");
  table.add(listCmd, [&ctx, list] { return runActions(ctx, *list); });
}

}  // namespace focal::client::cli

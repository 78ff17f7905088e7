// focal comment / record-status: the silence procedure of summary records
// (DESIGN.md §9, PROTOCOL.md §12.4); focal admin propose-admission /
// propose-amendment, proposals, approve, reject: decisions by consensus of
// the member states (PROTOCOL.md §12.5).
#include "client/bulletin_cache.hpp"
#include "client/cli_context.hpp"
#include "client/log_gossip.hpp"
#include "client/text_input.hpp"
#include "client/client_error.hpp"
#include "client/consensus_verifier.hpp"
#include "client/meetings.hpp"
#include "crypto/keyfile.hpp"
#include "protocol/consensus.hpp"
#include "protocol/iso3166.hpp"
#include "protocol/command_line.hpp"
#include "protocol/procedure_limits.hpp"
#include "protocol/limits.hpp"
#include "protocol/names.hpp"
#include "protocol/signing.hpp"
#include "protocol/records.hpp"

#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace focal::client::cli {

namespace {

// ---- comment ----

struct CommentArgs {
  std::string id;
  std::string text;
  bool objection = false;
};

int runComment(CliContext& ctx, const CommentArgs& a) {
  const auto id = bulletinIdArg(ctx, a.id);
  if (a.text.size() > 8 * 1024) throw UsageError("too-long", "--text is limited to 8 KiB");
  // The record is opened and verified first: the comment text is sealed to
  // the encryption key the verified directory gives its signed sender.
  auto found = findVerifiedBulletin(ctx, id, "summary record", a.id);
  const auto& m = found.message;
  if (m.kind != wire::BulletinKind::SUMMARY_RECORD) {
    throw UsageError("not-a-record", "bulletin " + a.id + " is not a summary record");
  }
  const MemberRecord* sender = found.directory().find(m.senderId);
  if (sender == nullptr) throw VerifyError("the record's sender " + m.senderId + " is not in the verified directory");
  ctx.requireFreshHead(*found.conn);
  // The head this client verified travels sealed to the record's sender
  // (gossip, PROTOCOL.md §11.4).
  const auto record = protocol::makeComment(id, a.objection, a.text, sender->encryptionKey, found.keys, nowMs(),
                                            headToCarry(*found.conn));
  const auto recorded = found.conn->comment(record);
  if (ctx.out().json()) {
    ctx.out().document({{"bulletin_id", crypto::toHex(id)},
                        {"objection", a.objection},
                        {"recorded_at", jsonTime(recorded.atMs)},
                        {"comment_deadline_at", jsonTime(m.commentDeadlineMs)}});
  } else {
    ctx.out().line(fmt::format("{} on {} recorded; the text is readable only by {}.",
                               a.objection ? "Objection" : "Comment", safeLine(a.id), safeLine(m.senderId)));
  }
  return ExitOk;
}

// ---- record-status ----

int runRecordStatus(CliContext& ctx, const std::string& hexId) {
  const auto id = bulletinIdArg(ctx, hexId);
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const auto st = conn->recordStatus(id);
  // Comments are signed by their authors: verified against the verified
  // directory, never taken on the hub's word.
  const auto dir = HubDirectory::fetch(*conn);
  nlohmann::json comments = nlohmann::json::array();
  std::vector<std::string> lines;
  for (const auto& c : verifyComments(st, id, dir, keys)) {
    const auto& text = c.text;
    comments.push_back({{"member_id", c.memberId},
                        {"objection", c.objection},
                        {"commented_at", jsonTime(c.commentedAtMs)},
                        {"text", text ? nlohmann::json(*text) : nullptr}});
    // SECURITY: the text is the commenter's: one row per comment, the
    // text's own lines below it, prefixed, so it cannot add rows.
    lines.push_back(fmt::format("  {:<20} {:<10} {}{}", safeLine(c.memberId), c.objection ? "OBJECTION" : "comment",
                                formatTime(c.commentedAtMs),
                                text ? "" : (c.sealed ? "  (text sealed to the sender)" : "")));
    if (text) {
      for (const auto& l : safeBlockLines(*text)) lines.push_back("      | " + l);
    }
  }
  if (ctx.out().json()) {
    ctx.out().document({{"bulletin_id", crypto::toHex(id)},
                        {"state", protocol::recordStateName(st.state)},
                        {"comment_deadline_at", jsonTime(st.deadlineMs)},
                        {"comments", comments},
                        {"acknowledged_by_ids", st.acknowledgedBy},
                        {"outcome_log_index",
                         st.outcomeIndex == 0 ? nlohmann::json(nullptr) : nlohmann::json(st.outcomeIndex)}});
    return ExitOk;
  }
  ctx.out().line(fmt::format("summary record {}: {}", hexId, protocol::recordStateName(st.state)));
  ctx.out().line(fmt::format("comment deadline: {}", formatTime(st.deadlineMs)));
  if (st.outcomeIndex != 0) ctx.out().line(fmt::format("approval: hub-signed log entry {}", st.outcomeIndex));
  ctx.out().line(fmt::format("comments ({}):", st.comments.size()));
  for (const auto& l : lines) ctx.out().line(l);
  ctx.out().line(fmt::format("acknowledged by ({}): {}", st.acknowledgedBy.size(),
                             safeLine(fmt::format("{}", fmt::join(st.acknowledgedBy, ", ")))));
  return ExitOk;
}

// ---- admission by consensus ----

std::string expiresRange(const std::string& given) {
  return "--expires takes a duration from 1s to 90d (e.g. 14d, 36h, 30m, 90s), got '" + given + "'";
}

// --expires in milliseconds; UsageError past the hub's limit.
std::int64_t proposalLifetime(const std::string& expires) {
  const auto lifetime = protocol::parseDurationMs(expires);
  if (!lifetime || *lifetime > protocol::MaxProposalLifetimeMs) throw UsageError("bad-duration", expiresRange(expires));
  return *lifetime;
}

// A recorded proposal: its id on stdout and `note` ("... recorded") with
// what happens next, or one document.
void printProposed(CliContext& ctx, const RecordedInfo& recorded, wire::Proposal::Which kind, nlohmann::json candidate,
                   nlohmann::json textBytes, std::int64_t expiresAtMs, const std::string& note,
                   nlohmann::json meetingIds = nullptr) {
  const auto id = crypto::toHex(crypto::ByteView(recorded.id));
  if (ctx.out().json()) {
    ctx.out().document({{"proposal_id", id},
                        {"kind", protocol::proposalKindName(kind)},
                        {"candidate_id", std::move(candidate)},
                        {"meeting_ids", std::move(meetingIds)},
                        {"text_bytes", std::move(textBytes)},
                        {"expires_at", jsonTime(expiresAtMs)}});
  } else {
    ctx.out().line(id);
    ctx.out().note(fmt::format("{}; it {} when a point of contact of every member state approved it "
                               "(focal approve {}), before {}.",
                               note, kind == wire::Proposal::ADMISSION ? "takes effect" : "is adopted", id,
                               formatTime(expiresAtMs)));
  }
}

struct ProposeArgs {
  std::string pubFile;
  std::string institution = "resource-panel";
  std::string name;
  std::string state;
  std::string expires = "14d";
  std::vector<std::string> meetings;  // --meeting, repeatable
};

// --meeting as typed: a whole id (32 hex digits: the hub says whether it
// exists, even one the proposer does not take part in) or a unique prefix
// of a verified meeting the proposer takes part in.
std::vector<crypto::BulletinId> admissionMeetingIds(Connection& conn, const std::vector<std::string>& typed) {
  std::vector<crypto::BulletinId> out;
  if (typed.empty()) return out;
  if (typed.size() > protocol::MaxAdmissionMeetings) {
    throw UsageError("too-many-meetings",
                     fmt::format("an admission names at most {} meetings (--meeting)", protocol::MaxAdmissionMeetings));
  }
  std::optional<MeetingListing> listing;
  for (const auto& t : typed) {
    if (t.size() == 32) {
      if (auto bytes = crypto::fromHex(t); bytes) {
        if (auto id = crypto::BulletinId::fromBytes(*bytes)) {
          out.push_back(*id);
          continue;
        }
      }
    }
    if (!listing) listing.emplace(verifyMeetings(conn.listMeetings(), HubDirectory::fetch(conn)));
    out.push_back(findMeetingArg(*listing, t).info.id);
  }
  return out;
}

int runPropose(CliContext& ctx, const ProposeArgs& a) {
  const auto pk = readPublicKeys(a.pubFile);
  protocol::AdmissionDraft d;
  if (!parseInstitution(a.institution, d.institution)) throw UsageError("bad-institution", "unknown institution " + a.institution);
  const auto lifetime = proposalLifetime(a.expires);
  d.memberId = pk.memberId;
  requireSingleLineText(a.name, "--name");
  d.name = a.name;
  d.state = a.state;
  for (auto& ch : d.state) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (!d.state.empty() && !protocol::isIso3166Alpha2(d.state)) {
    throw UsageError("bad-state", "--state " + a.state + " is not an ISO 3166-1 alpha-2 country code (e.g. SG, MY, TH)");
  }
  d.keys = pk;
  if (!a.meetings.empty() && d.institution != wire::Institution::RESOURCE_PANEL) {
    throw UsageError("meeting-not-panel", "--meeting limits the admission of a resource-panel member only");
  }
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  d.meetings = admissionMeetingIds(*conn, a.meetings);
  const std::int64_t now = nowMs();
  const auto record = protocol::makeAdmissionProposal(d, keys, now, now + lifetime);
  std::string limited;
  nlohmann::json meetingIds = nlohmann::json::array();
  if (!d.meetings.empty()) {
    std::sort(d.meetings.begin(), d.meetings.end());
    d.meetings.erase(std::unique(d.meetings.begin(), d.meetings.end()), d.meetings.end());
    limited = ", limited to " + protocol::meetingListText(d.meetings);
    for (const auto& m : d.meetings) meetingIds.push_back(crypto::toHex(m.view()));
  }
  printProposed(ctx, conn->propose(record), wire::Proposal::ADMISSION, d.memberId, nullptr, now + lifetime,
                "Proposal to admit " + safeLine(d.memberId) + limited + " recorded", meetingIds);
  return ExitOk;
}

struct AmendArgs {
  std::string text;
  std::string textFile;
  std::string expires = "14d";
};

int runProposeAmendment(CliContext& ctx, const AmendArgs& a) {
  std::string text = a.text;
  if (!a.textFile.empty()) {
    std::ifstream in(a.textFile, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + a.textFile);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  if (text.empty()) throw UsageError("bad-text", "the amendment needs a text: --text TEXT or --text-file FILE");
  requireMultiLineText(text, a.textFile.empty() ? "--text" : "--text-file");
  if (!protocol::validAmendmentText(text)) {
    throw UsageError("too-large", fmt::format("an amendment's text is at most {} bytes (this one has {})",
                                              protocol::MaxAmendmentTextBytes, text.size()));
  }
  const auto lifetime = proposalLifetime(a.expires);
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const std::int64_t now = nowMs();
  const auto record = protocol::makeAmendmentProposal(text, keys, now, now + lifetime);
  printProposed(ctx, conn->propose(record), wire::Proposal::AMENDMENT, nullptr, text.size(), now + lifetime,
                fmt::format("Amendment proposal recorded ({} bytes)", text.size()));
  return ExitOk;
}

int runProposals(CliContext& ctx) {
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const auto listing = conn->listProposals();
  const auto dir = HubDirectory::fetch(*conn);
  const auto required = statesWithPocs(dir);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& p : listing) {
    const auto v = verifyListing(p, dir);
    const auto headChecks = checkDecisionHeads(p, v, dir, keys);
    const auto [approvedBy, rejectedBy, approvedStates, missing] = tallyDecisions(v, dir, required);
    const bool admission = v.kind == wire::Proposal::ADMISSION;
    const char* kind = protocol::proposalKindName(v.kind);
    const char* state = protocol::proposalStateName(v.state);
    const char* institution = protocol::institutionName(v.memberInstitution);
    if (ctx.out().json()) {
      nlohmann::json item{{"proposal_id", v.id},
                          {"kind", kind},
                          {"proposer_id", v.proposer},
                          {"expires_at", jsonTime(v.expiresAtMs)},
                          {"state", state},
                          {"approved_by_ids", approvedBy},
                          {"rejected_by_ids", rejectedBy},
                          {"approved_states", std::vector<std::string>(approvedStates.begin(), approvedStates.end())},
                          {"missing_states", missing},
                          {"outcome_log_index", v.outcomeIndex == 0 ? nlohmann::json(nullptr) : nlohmann::json(v.outcomeIndex)},
                          {"candidate_id", admission ? nlohmann::json(v.member) : nullptr},
                          {"candidate_name", admission ? nlohmann::json(v.memberName) : nullptr},
                          {"candidate_institution", admission ? nlohmann::json(institution) : nullptr},
                          {"candidate_meeting_ids", admission ? nlohmann::json(v.meetings) : nullptr},
                          {"text", v.kind == wire::Proposal::AMENDMENT ? nlohmann::json(v.text) : nullptr},
                          {"decision_heads", decisionHeadsJson(v, headChecks)}};
      list.push_back(std::move(item));
    } else {
      if (v.kind == wire::Proposal::ADMIN_CHANGE) {
        ctx.out().line(fmt::format("{}  {:<9} admin change: {} {} proposed by {}, expires {} (focal admin pending)",
                                   v.id, state, v.change, safeLine(v.member), safeLine(v.proposer),
                                   formatTime(v.expiresAtMs)));
        continue;
      }
      if (admission) {
        ctx.out().line(fmt::format("{}  {:<9} admit {} ({}, {}) proposed by {}, expires {}", v.id, state,
                                   safeLine(v.member), safeLine(v.memberName), institution,
                                   safeLine(v.proposer), formatTime(v.expiresAtMs)));
        if (!v.meetings.empty()) {
          ctx.out().line(fmt::format("    limited to meeting(s): {}", fmt::join(v.meetings, ", ")));
        }
      } else {
        ctx.out().line(fmt::format("{}  {:<9} amendment proposed by {}, expires {}:", v.id, state,
                                   safeLine(v.proposer), formatTime(v.expiresAtMs)));
        // SECURITY: the text is the proposer's (safeBlock, each line prefixed).
        for (const auto& l : safeBlockLines(v.text)) ctx.out().line("    | " + l);
      }
      ctx.out().line(safeLine(fmt::format("    approved by: {}   rejected by: {}   states still to approve: {}",
                                          fmt::join(approvedBy, ", "), fmt::join(rejectedBy, ", "),
                                          fmt::join(missing, ", "))));
      if (v.outcomeIndex != 0) {
        ctx.out().line(fmt::format("    {}: hub-signed log entry {}", admission ? "admitted" : "adopted",
                                   v.outcomeIndex));
      }
    }
  }
  if (ctx.out().json()) ctx.out().document(list);
  return ExitOk;
}

int runDecide(CliContext& ctx, const std::string& text, bool approve) {
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const auto listing = conn->listProposals();
  std::vector<std::string> known;
  for (const auto& p : listing) known.push_back(listedProposalId(p));
  const std::string hexId = idArg(text, known, "proposal");  // a unique prefix is enough
  const auto dir = HubDirectory::fetch(*conn);
  for (const auto& p : listing) {
    if (listedProposalId(p) != hexId) continue;
    // Decide only on what verifies: the proposal's admin signature.
    const auto v = verifyListing(p, dir);
    ctx.requireFreshHead(*conn);
    const auto record = protocol::makeDecision(v.proposalBody, approve, keys, nowMs());
    const auto recorded = conn->decide(record, decisionHead(*conn, dir, v, keys));
    std::string state = "open";
    for (const auto& q : conn->listProposals()) {
      if (listedProposalId(q) == hexId) state = protocol::proposalStateName(q.state);
    }
    const bool admission = v.kind == wire::Proposal::ADMISSION;
    if (ctx.out().json()) {
      ctx.out().document({{"proposal_id", v.id},
                          {"kind", protocol::proposalKindName(v.kind)},
                          {"decision", approve ? "approve" : "reject"},
                          {"state", state},
                          {"recorded_at", jsonTime(recorded.atMs)},
                          {"candidate_id", admission ? nlohmann::json(v.member) : nullptr}});
    } else {
      ctx.out().line(fmt::format("{} of the {} recorded; the proposal is {}.", approve ? "Approval" : "Rejection",
                                 admission ? "admission of " + safeLine(v.member) : std::string("amendment"),
                                 state));
    }
    return ExitOk;
  }
  throw NotFoundError("no proposal " + hexId + " (see focal proposals)");
}

}  // namespace

void addConsensusCommands(CLI::App& app, CliContext& ctx, CommandTable& table) {
  if (auto* admin = app.get_subcommand("admin")) {
    auto pa = std::make_shared<ProposeArgs>();
    auto* prop = admin->add_subcommand("propose-admission",
                                       "Propose admitting a member (e.g. the resource panel) by consensus of the member states");
    prop->add_option("pubfile", pa->pubFile, "The candidate's public key file (from focal keygen)")
        ->required()
        ->check(CLI::ExistingFile);
    prop->add_option("--institution", pa->institution, "resource-panel|dialogue-partner|... (default resource-panel)")
        ->check(CLI::IsMember({"law-enforcement", "policy-security", "secretariat", "dialogue-partner", "resource-panel"}));
    prop->add_option("--name", pa->name, "Display name")->required();
    prop->add_option("--state", pa->state, "Member state, if any (none for the resource panel)");
    prop->add_option("--expires", pa->expires, "How long the proposal stays open: 14d, 36h, 30m, 90s")->capture_default_str();
    prop->add_option("--meeting", pa->meetings,
                     "Limit a resource-panel admission to this meeting (id or unique prefix; repeatable, at most 16)");
    prop->footer(R"(Signs a Proposal. It takes effect only when a point of contact of EVERY member state
that has an active point of contact approves it (focal approve); one rejection ends it;
so does its expiry. The hub then appends a log entry, signed by the hub, carrying the
proposal and one approval per member state, which every client re-verifies.

--meeting limits a resource-panel member to named meetings (terms of reference §7:
"selected sessions"). It then takes part in those meetings (without an invitation),
receives only their papers, is reached by no group address (resource-panel, all) and
cannot be invited to another meeting. The meetings must exist; the list is signed in
the proposal and carried into the admission log entry. The chair or a co-chair may
propose an admission too.

Examples:
  focal admin propose-admission acme-labs.key.pub --institution resource-panel --name "ACME Threat Labs" --expires 14d
  focal admin propose-admission acme-labs.key.pub --name "ACME Threat Labs" --meeting 3f2a9c --meeting 8b1e04)");
    table.add(prop, [&ctx, pa] { return runPropose(ctx, *pa); });

    auto am = std::make_shared<AmendArgs>();
    auto* amend = admin->add_subcommand(
        "propose-amendment", "Propose a change that needs the consensus of the member states (e.g. to the terms of reference)");
    auto* textOpt = amend->add_option("--text", am->text, "The amendment's text (1..16384 bytes)");
    auto* fileOpt = amend->add_option("--text-file", am->textFile, "Read the text from a file instead")->check(CLI::ExistingFile);
    textOpt->excludes(fileOpt);
    fileOpt->excludes(textOpt);
    amend->add_option("--expires", am->expires, "How long the proposal stays open: 14d, 36h, 30m, 90s (at most 90d)")
        ->capture_default_str();
    amend->footer(R"(Signs a Proposal whose subject is a text: a change to the terms of reference, or any
policy change marked as needing consensus (terms of reference §IX). The hub stores it;
it does not interpret the text.

It is adopted only when a point of contact of EVERY member state that has an active
point of contact approves it (focal approve ID); several points of contact of one state
count once; one rejection (focal reject ID) ends it; so does its expiry. On adoption
the hub appends an `amendment` log entry, signed by the hub, carrying your signed
proposal and one signed approval per member state. Every client re-checks that entry
(focal verify-log), so the hub cannot adopt a text the states did not approve.

Examples:
  focal admin propose-amendment --text-file tor-para-10.txt --expires 30d
  focal admin propose-amendment --text "Para 10: comments within 10 days" --json
  focal proposals            # approvals so far, states still to approve
  focal admin log --json     # the adopted text, as logged)");
    table.add(amend, [&ctx, am] { return runProposeAmendment(ctx, *am); });
  }

  auto* props = app.add_subcommand("proposals", "Consensus proposals: who approved, which member states are missing");
  props->footer(R"(Admissions (admit a member) and amendments (a text needing consensus). Every
proposal and decision shown is verified against the directory log, each signature
under the key its author held when it signed.
States: open, adopted (logged), rejected, expired.

Example:
  focal proposals --json)");
  table.add(props, [&ctx] { return runProposals(ctx); });

  auto aid = std::make_shared<std::string>();
  auto* approve = app.add_subcommand("approve", "As a point of contact of a member state, approve a proposal");
  approve->add_option("proposal", *aid, "Proposal id (32 hex digits, or a unique first 6 or more)")->required();
  approve->footer(R"(Signs a Decision for your member state. Two points of contact of one state count as
one state. Example:
  focal approve 5e1f0c2a9b7d3e4f6a8c0b2d4f6a8c0e)");
  table.add(approve, [&ctx, aid] { return runDecide(ctx, *aid, true); });

  auto rid2 = std::make_shared<std::string>();
  auto* reject = app.add_subcommand("reject", "As a point of contact of a member state, reject a proposal (ends it)");
  reject->add_option("proposal", *rid2, "Proposal id (32 hex digits, or a unique first 6 or more)")->required();
  reject->footer(R"(Signs a rejecting Decision; one rejection ends the proposal. Example:
  focal reject 5e1f0c2a9b7d3e4f6a8c0b2d4f6a8c0e)");
  table.add(reject, [&ctx, rid2] { return runDecide(ctx, *rid2, false); });

  auto ca = std::make_shared<CommentArgs>();
  auto* comment = app.add_subcommand("comment", "Comment on, or object to, a summary record you received");
  comment->add_option("id", ca->id, "Summary record id (32 hex digits, or a unique first 6 or more)")->required();
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
  status->add_option("id", *rid, "Summary record id (32 hex digits, or a unique first 6 or more)")->required();
  status->footer(R"(States: pending (window open), approved (deadline passed without objection; the hub
signed a recordApproved log entry), objected, withdrawn (retracted by its sender),
superseded (a revision replaced it). Comments are verified against the directory log;
their text is shown to the record's sender only.

Example:
  focal record-status 0f3c9a1e5b7d2c4f6a8e0b1d3f5a7c9e --json)");
  table.add(status, [&ctx, rid] { return runRecordStatus(ctx, *rid); });
}

}  // namespace focal::client::cli

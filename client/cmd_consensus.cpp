// focal comment / record-status: the silence procedure of summary records
// (DESIGN.md §9, PROTOCOL.md §12.4); focal admin propose-admission /
// propose-amendment, proposals, approve, reject: decisions by consensus of
// the member states (PROTOCOL.md §12.5).
#include "client/bulletin_cache.hpp"
#include "client/cli_context.hpp"
#include "client/text_input.hpp"
#include "client/client_error.hpp"
#include "crypto/keyfile.hpp"
#include "protocol/consensus.hpp"
#include "protocol/iso3166.hpp"
#include "protocol/limits.hpp"
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
  auto cache = ctx.cache(keys);
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
    ctx.out().document({{"bulletin_id", crypto::toHex(id)},
                        {"objection", a.objection},
                        {"recorded_at", jsonTime(recorded.atMs)},
                        {"comment_deadline_at", jsonTime(m->commentDeadlineMs)}});
  } else {
    ctx.out().line(fmt::format("{} on {} recorded; the text is readable only by {}.",
                               a.objection ? "Objection" : "Comment", safeLine(a.id), safeLine(m->senderId)));
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
    comments.push_back({{"member_id", info->memberId},
                        {"objection", info->objection},
                        {"commented_at", jsonTime(info->commentedAtMs)},
                        {"text", text ? nlohmann::json(*text) : nullptr}});
    // SECURITY: the text is the commenter's: one row per comment, the
    // text's own lines below it, prefixed, so it cannot add rows.
    lines.push_back(fmt::format("  {:<20} {:<10} {}{}", safeLine(info->memberId), info->objection ? "OBJECTION" : "comment",
                                formatTime(info->commentedAtMs),
                                text ? "" : (info->sealedText.empty() ? "" : "  (text sealed to the sender)")));
    if (text) {
      for (const auto& l : safeBlockLines(*text)) lines.push_back("      | " + l);
    }
  }
  if (ctx.out().json()) {
    ctx.out().document({{"bulletin_id", crypto::toHex(id)},
                        {"state", recordStateName(st.state)},
                        {"comment_deadline_at", jsonTime(st.deadlineMs)},
                        {"comments", comments},
                        {"acknowledged_by_ids", st.acknowledgedBy},
                        {"outcome_log_index",
                         st.outcomeIndex == 0 ? nlohmann::json(nullptr) : nlohmann::json(st.outcomeIndex)}});
    return ExitOk;
  }
  ctx.out().line(fmt::format("summary record {}: {}", hexId, recordStateName(st.state)));
  ctx.out().line(fmt::format("comment deadline: {}", formatTime(st.deadlineMs)));
  if (st.outcomeIndex != 0) ctx.out().line(fmt::format("approval: hub-signed log entry {}", st.outcomeIndex));
  ctx.out().line(fmt::format("comments ({}):", st.comments.size()));
  for (const auto& l : lines) ctx.out().line(l);
  ctx.out().line(fmt::format("acknowledged by ({}): {}", st.acknowledgedBy.size(),
                             safeLine(fmt::format("{}", fmt::join(st.acknowledgedBy, ", ")))));
  return ExitOk;
}

// ---- admission by consensus ----

std::optional<std::int64_t> parseDuration(const std::string& text) {
  if (text.size() < 2) return std::nullopt;
  const std::string digits = text.substr(0, text.size() - 1);
  if (digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const std::int64_t n = std::stoll(digits);
  std::int64_t unit = 0;
  switch (text.back()) {
    case 's': unit = 1000; break;
    case 'm': unit = 60'000; break;
    case 'h': unit = 3'600'000; break;
    case 'd': unit = 86'400'000; break;
    default: return std::nullopt;
  }
  if (n <= 0) return std::nullopt;
  return n * unit;
}

// The hub refuses a proposal expiring more than 90 days ahead
// (server RequestHandler::MaxProposalLifetimeMs; PROTOCOL.md §12.5).
constexpr std::int64_t MaxProposalLifetimeMs = 90LL * 24 * 60 * 60 * 1000;

std::string expiresRange(const std::string& given) {
  return "--expires takes a duration from 1s to 90d (e.g. 14d, 36h, 30m, 90s), got '" + given + "'";
}

const char* proposalStateName(wire::ProposalState s) {
  switch (s) {
    case wire::ProposalState::OPEN: return "open";
    case wire::ProposalState::ADOPTED: return "adopted";
    case wire::ProposalState::REJECTED: return "rejected";
    case wire::ProposalState::EXPIRED: return "expired";
  }
  return "unknown";
}

struct ProposeArgs {
  std::string pubFile;
  std::string institution = "resource-panel";
  std::string name;
  std::string state;
  std::string expires = "14d";
};

int runPropose(CliContext& ctx, const ProposeArgs& a) {
  std::ifstream in(a.pubFile);
  if (!in) throw std::runtime_error("cannot read " + a.pubFile);
  std::stringstream text;
  text << in.rdbuf();
  auto pk = crypto::parsePublicKeys(text.str());
  if (!pk) throw UsageError("bad-public-key", a.pubFile + ": " + crypto::describe(pk.error()));
  protocol::AdmissionDraft d;
  if (!parseInstitution(a.institution, d.institution)) throw UsageError("bad-institution", "unknown institution " + a.institution);
  const auto lifetime = parseDuration(a.expires);
  if (!lifetime || *lifetime > MaxProposalLifetimeMs) throw UsageError("bad-duration", expiresRange(a.expires));
  d.memberId = pk->memberId;
  requireSingleLineText(a.name, "--name");
  d.name = a.name;
  d.state = a.state;
  for (auto& ch : d.state) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (!d.state.empty() && !protocol::isIso3166Alpha2(d.state)) {
    throw UsageError("bad-state", "--state " + a.state + " is not an ISO 3166-1 alpha-2 country code (e.g. SG, MY, TH)");
  }
  d.keys = *pk;
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const std::int64_t now = nowMs();
  const auto record = protocol::makeAdmissionProposal(d, keys, now, now + *lifetime);
  const auto recorded = conn->propose(record);
  const auto id = crypto::toHex(crypto::ByteView(recorded.id));
  if (ctx.out().json()) {
    ctx.out().document({{"proposal_id", id},
                        {"kind", "admission"},
                        {"candidate_id", d.memberId},
                        {"text_bytes", nullptr},
                        {"expires_at", jsonTime(now + *lifetime)}});
  } else {
    ctx.out().line(id);
    ctx.out().note(fmt::format("Proposal to admit {} recorded; it takes effect when a point of contact of every member "
                               "state approved it (focal approve {}), before {}.",
                               safeLine(d.memberId), id, formatTime(now + *lifetime)));
  }
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
  const auto lifetime = parseDuration(a.expires);
  if (!lifetime || *lifetime > MaxProposalLifetimeMs) throw UsageError("bad-duration", expiresRange(a.expires));
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const std::int64_t now = nowMs();
  const auto record = protocol::makeAmendmentProposal(text, keys, now, now + *lifetime);
  const auto recorded = conn->propose(record);
  const auto id = crypto::toHex(crypto::ByteView(recorded.id));
  if (ctx.out().json()) {
    ctx.out().document({{"proposal_id", id},
                        {"kind", "amendment"},
                        {"candidate_id", nullptr},
                        {"text_bytes", text.size()},
                        {"expires_at", jsonTime(now + *lifetime)}});
  } else {
    ctx.out().line(id);
    ctx.out().note(fmt::format("Amendment proposal recorded ({} bytes); it is adopted when a point of contact of every "
                               "member state approved it (focal approve {}), before {}.",
                               text.size(), id, formatTime(now + *lifetime)));
  }
  return ExitOk;
}

// A listed proposal after the client's own checks.
struct VerifiedProposal {
  std::string id;
  std::string kind;  // "admission" or "amendment"
  std::string proposer;
  std::string member;  // admission: the member to admit
  std::string memberName;
  std::string memberInstitution;
  std::string text;  // amendment: its text
  std::int64_t expiresAtMs = 0;
  std::string state;
  std::uint64_t outcomeIndex = 0;
  std::vector<std::pair<std::string, bool>> decisions;  // member, approve (verified)
  const ProposalListing* raw = nullptr;
};

// Verifies a listing against the verified directory: the proposal under its
// admin's identity key, each decision under its member's key (both: the key
// the log gave that member at the record's own time, PROTOCOL.md §12.5) and
// naming this proposal. A listing that does not verify is an error: the hub
// lied.
VerifiedProposal verifyListing(const ProposalListing& p, const HubDirectory& dir) {
  VerifiedProposal v;
  v.raw = &p;
  auto parsed = protocol::decode<wire::Proposal>(p.proposal.body);
  if (!parsed) throw VerifyError("a listed proposal is malformed");
  const auto root = parsed->root();
  if (root.which() != wire::Proposal::ADMISSION &&
      !(root.which() == wire::Proposal::AMENDMENT && protocol::validAmendmentText(protocol::view(root.getAmendment())))) {
    throw VerifyError("a listed proposal is malformed");
  }
  v.id = crypto::toHex(protocol::view(root.getProposalId()));
  v.proposer = std::string(protocol::view(root.getProposerId()));
  const MemberRecord* admin = dir.find(v.proposer);
  const auto sig = crypto::Signature::fromBytes(p.proposal.signature);
  if (admin == nullptr || !admin->isAdmin || !sig ||
      !protocol::signedWithKeyOfTheTime(consensusMemberOf(*admin, admin->active), protocol::context::Proposal,
                                        p.proposal.body, *sig, root.getCreatedAtMs())) {
    throw VerifyError("proposal " + v.id + " is not signed by an admin of the verified directory");
  }
  if (root.which() == wire::Proposal::ADMISSION) {
    v.kind = "admission";
    auto info = root.getAdmission().getMember();
    v.member = std::string(protocol::view(info.getId()));
    v.memberName = std::string(protocol::view(info.getName()));
    v.memberInstitution = institutionName(info.getInstitution());
  } else {
    v.kind = "amendment";
    v.text = std::string(protocol::view(root.getAmendment()));
  }
  v.expiresAtMs = root.getExpiresAtMs();
  v.state = proposalStateName(p.state);
  v.outcomeIndex = p.outcomeIndex;
  const auto hash = crypto::hash256(p.proposal.body);
  for (const auto& d : p.decisions) {
    auto dp = protocol::decode<wire::Decision>(d.body);
    if (!dp) throw VerifyError("a decision on " + v.id + " is malformed");
    const std::string who(protocol::view(dp->root().getMemberId()));
    const MemberRecord* m = dir.find(who);
    const auto dsig = crypto::Signature::fromBytes(d.signature);
    if (m == nullptr || !dsig ||
        !protocol::signedWithKeyOfTheTime(consensusMemberOf(*m, m->active), protocol::context::Decision, d.body, *dsig,
                                          dp->root().getDecidedAtMs()) ||
        crypto::toHex(protocol::view(dp->root().getProposalId())) != v.id ||
        !(crypto::Hash256::fromBytes(protocol::view(dp->root().getProposalHash())) == std::optional(hash))) {
      throw VerifyError("the decision of " + who + " on " + v.id + " does not verify");
    }
    v.decisions.emplace_back(who, dp->root().getApprove());
  }
  return v;
}

std::set<std::string> statesWithPocs(const HubDirectory& dir) {
  return protocol::requiredStates(dir.members(), [](const MemberRecord& m) {
    return protocol::StateSeat{m.state, m.institution, m.active};
  });
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
    std::set<std::string> approvedStates;
    std::vector<std::string> approvedBy;
    std::vector<std::string> rejectedBy;
    for (const auto& [who, approve] : v.decisions) {
      (approve ? approvedBy : rejectedBy).push_back(who);
      const MemberRecord* m = dir.find(who);
      if (approve && m != nullptr && protocol::isStatePoc(consensusMemberOf(*m, m->active))) {
        approvedStates.insert(m->state);
      }
    }
    std::vector<std::string> missing;
    for (const auto& s : required) {
      if (!approvedStates.contains(s)) missing.push_back(s);
    }
    if (ctx.out().json()) {
      const bool admission = v.kind == "admission";
      nlohmann::json item{{"proposal_id", v.id},
                          {"kind", v.kind},
                          {"proposer_id", v.proposer},
                          {"expires_at", jsonTime(v.expiresAtMs)},
                          {"state", v.state},
                          {"approved_by_ids", approvedBy},
                          {"rejected_by_ids", rejectedBy},
                          {"approved_states", std::vector<std::string>(approvedStates.begin(), approvedStates.end())},
                          {"missing_states", missing},
                          {"outcome_log_index", v.outcomeIndex == 0 ? nlohmann::json(nullptr) : nlohmann::json(v.outcomeIndex)},
                          {"candidate_id", admission ? nlohmann::json(v.member) : nullptr},
                          {"candidate_name", admission ? nlohmann::json(v.memberName) : nullptr},
                          {"candidate_institution", admission ? nlohmann::json(v.memberInstitution) : nullptr},
                          {"text", admission ? nullptr : nlohmann::json(v.text)}};
      list.push_back(std::move(item));
    } else {
      if (v.kind == "admission") {
        ctx.out().line(fmt::format("{}  {:<9} admit {} ({}, {}) proposed by {}, expires {}", v.id, v.state,
                                   safeLine(v.member), safeLine(v.memberName), v.memberInstitution,
                                   safeLine(v.proposer), formatTime(v.expiresAtMs)));
      } else {
        ctx.out().line(fmt::format("{}  {:<9} amendment proposed by {}, expires {}:", v.id, v.state,
                                   safeLine(v.proposer), formatTime(v.expiresAtMs)));
        // SECURITY: the text is the proposer's (safeBlock, each line prefixed).
        for (const auto& l : safeBlockLines(v.text)) ctx.out().line("    | " + l);
      }
      ctx.out().line(safeLine(fmt::format("    approved by: {}   rejected by: {}   states still to approve: {}",
                                          fmt::join(approvedBy, ", "), fmt::join(rejectedBy, ", "),
                                          fmt::join(missing, ", "))));
      if (v.outcomeIndex != 0) {
        ctx.out().line(fmt::format("    {}: hub-signed log entry {}", v.kind == "admission" ? "admitted" : "adopted",
                                   v.outcomeIndex));
      }
    }
  }
  if (ctx.out().json()) ctx.out().document(list);
  return ExitOk;
}

int runDecide(CliContext& ctx, const std::string& hexId, bool approve) {
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const auto listing = conn->listProposals();
  const auto dir = HubDirectory::fetch(*conn);
  for (const auto& p : listing) {
    auto parsed = protocol::decode<wire::Proposal>(p.proposal.body);
    if (!parsed || crypto::toHex(protocol::view(parsed->root().getProposalId())) != hexId) continue;
    // Decide only on what verifies: the proposal's admin signature.
    const auto v = verifyListing(p, dir);
    const auto record = protocol::makeDecision(p.proposal.body, approve, keys, nowMs());
    const auto recorded = conn->decide(record);
    std::string state = "open";
    for (const auto& q : conn->listProposals()) {
      auto qp = protocol::decode<wire::Proposal>(q.proposal.body);
      if (qp && crypto::toHex(protocol::view(qp->root().getProposalId())) == hexId) state = proposalStateName(q.state);
    }
    if (ctx.out().json()) {
      ctx.out().document({{"proposal_id", v.id},
                          {"kind", v.kind},
                          {"decision", approve ? "approve" : "reject"},
                          {"state", state},
                          {"recorded_at", jsonTime(recorded.atMs)},
                          {"candidate_id", v.kind == "admission" ? nlohmann::json(v.member) : nullptr}});
    } else {
      ctx.out().line(fmt::format("{} of the {} recorded; the proposal is {}.", approve ? "Approval" : "Rejection",
                                 v.kind == "admission" ? "admission of " + safeLine(v.member) : std::string("amendment"),
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
    prop->footer(R"(Signs a Proposal. It takes effect only when a point of contact of EVERY member state
that has an active point of contact approves it (focal approve); one rejection ends it;
so does its expiry. The hub then appends a log entry, signed by the hub, carrying the
proposal and one approval per member state, which every client re-verifies.

Example:
  focal admin propose-admission acme-labs.key.pub --institution resource-panel       --name "ACME Threat Labs" --expires 14d)");
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
  approve->add_option("proposal", *aid, "Proposal id (32 hex digits)")->required();
  approve->footer(R"(Signs a Decision for your member state. Two points of contact of one state count as
one state. Example:
  focal approve 5e1f0c2a9b7d3e4f6a8c0b2d4f6a8c0e)");
  table.add(approve, [&ctx, aid] { return runDecide(ctx, *aid, true); });

  auto rid2 = std::make_shared<std::string>();
  auto* reject = app.add_subcommand("reject", "As a point of contact of a member state, reject a proposal (ends it)");
  reject->add_option("proposal", *rid2, "Proposal id (32 hex digits)")->required();
  reject->footer(R"(Signs a rejecting Decision; one rejection ends the proposal. Example:
  focal reject 5e1f0c2a9b7d3e4f6a8c0b2d4f6a8c0e)");
  table.add(reject, [&ctx, rid2] { return runDecide(ctx, *rid2, false); });

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

// Admins by quorum (see cmd_admin_quorum.hpp; PROTOCOL.md §11.7).
#include "client/cmd_admin_quorum.hpp"

#include "client/client_error.hpp"
#include "client/consensus_verifier.hpp"
#include "client/key_directory.hpp"
#include "client/verified_log.hpp"
#include "protocol/admin_quorum.hpp"
#include "protocol/names.hpp"
#include "protocol/signing.hpp"
#include "protocol/procedure_limits.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace focal::client::cli {

namespace {

using protocol::AdminPolicy;

// How long a pending admin change stays open: two weeks, and at least a
// week past the delay of a forced rotation (within the hub's 90 days).
std::int64_t changeLifetime(const AdminPolicy& p) {
  constexpr std::int64_t Day = 86'400'000;
  return std::min(protocol::MaxProposalLifetimeMs, std::max<std::int64_t>(14 * Day, p.forcedRotationDelayMs + 7 * Day));
}

const AdminPolicy& policyOf(const Connection& conn) {
  if (!conn.verifiedLog()) throw VerifyError("no verified directory log on this connection");
  return conn.verifiedLog()->verifier().adminPolicy();
}

// Who has approved a pending change, as the log's rule will count them.
struct Tally {
  std::vector<std::string> approvedBy;  // admins other than the proposer
  std::vector<std::string> rejectedBy;
  std::set<std::string> states;         // of the proposer and approvers
  bool objected = false;                // the member whose keys it rotates
  std::uint32_t needed = 0;
};

Tally tally(const VerifiedProposal& v, const HubDirectory& dir, const AdminPolicy& policy) {
  Tally t;
  if (const auto* p = dir.find(v.proposer); p != nullptr && !p->state.empty()) t.states.insert(p->state);
  for (const auto& [who, approve] : v.decisions) {
    const auto* m = dir.find(who);
    if (!approve) {
      t.rejectedBy.push_back(who);
      if (v.forcedRotation && who == v.member) t.objected = true;
      continue;
    }
    if (m == nullptr || !m->isAdmin || !m->active || who == v.proposer) continue;
    if (std::find(t.approvedBy.begin(), t.approvedBy.end(), who) != t.approvedBy.end()) continue;
    t.approvedBy.push_back(who);
    if (!m->state.empty()) t.states.insert(m->state);
  }
  const auto signers = static_cast<std::uint32_t>(t.approvedBy.size() + 1);
  t.needed = signers >= policy.quorum ? 0 : policy.quorum - signers;
  // Enough admins but one state: one more from another state.
  if (t.needed == 0 && policy.quorum >= 2 && t.states.size() < 2) t.needed = 1;
  return t;
}

std::string describeChange(const VerifiedProposal& v) {
  return fmt::format("{} {}", v.change, safeLine(v.member));
}

int runPending(CliContext& ctx) {
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const auto listing = conn->listProposals();
  const auto dir = HubDirectory::fetchUnwitnessed(*conn);
  const auto& policy = policyOf(*conn);
  nlohmann::json list = nlohmann::json::array();
  std::size_t shown = 0;
  for (const auto& p : listing) {
    const auto v = verifyListing(p, dir);
    if (v.kind != wire::Proposal::ADMIN_CHANGE || v.state != wire::ProposalState::OPEN || v.expiresAtMs < nowMs()) {
      continue;
    }
    const auto headChecks = checkDecisionHeads(p, v, dir, keys);
    const auto t = tally(v, dir, policy);
    const std::int64_t notBefore = v.forcedRotation ? v.createdAtMs + policy.forcedRotationDelayMs : 0;
    ++shown;
    if (ctx.out().json()) {
      list.push_back({{"proposal_id", v.id},
                      {"action", v.change},
                      {"member_id", v.member},
                      {"proposer_id", v.proposer},
                      {"approved_by_ids", t.approvedBy},
                      {"rejected_by_ids", t.rejectedBy},
                      {"approvals_needed", t.needed},
                      {"effective_not_before", notBefore == 0 ? nlohmann::json(nullptr) : jsonTime(notBefore)},
                      {"expires_at", jsonTime(v.expiresAtMs)},
                      {"decision_heads", decisionHeadsJson(v, headChecks)}});
      continue;
    }
    ctx.out().line(fmt::format("{}  {} proposed by {}, expires {}", v.id, describeChange(v), safeLine(v.proposer),
                               formatTime(v.expiresAtMs)));
    ctx.out().line(safeLine(fmt::format("    approved by: {}   rejected by: {}   approvals still needed: {}",
                                        fmt::join(t.approvedBy, ", "), fmt::join(t.rejectedBy, ", "), t.needed)));
    if (notBefore != 0) {
      ctx.out().line(fmt::format("    a rotation of another member's keys: takes effect no sooner than {}{}",
                                 formatTime(notBefore), t.objected ? " (the member has objected)" : ""));
    }
  }
  if (ctx.out().json()) {
    ctx.out().document(list);
  } else if (shown == 0) {
    ctx.out().line("No admin change is waiting for approval.");
  }
  return ExitOk;
}

int runAdminDecide(CliContext& ctx, const std::string& text, bool approve) {
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const auto listing = conn->listProposals();
  std::vector<std::string> known;
  for (const auto& p : listing) known.push_back(listedProposalId(p));
  const std::string hexId = idArg(text, known, "proposal");
  const auto dir = HubDirectory::fetchUnwitnessed(*conn);
  for (const auto& p : listing) {
    if (listedProposalId(p) != hexId) continue;
    // Decide only on what verifies: the proposal's admin signature.
    const auto v = verifyListing(p, dir);
    if (v.kind != wire::Proposal::ADMIN_CHANGE) {
      throw UsageError("not-an-admin-change", "proposal " + hexId + " is a consensus proposal: focal approve/reject");
    }
    ctx.requireFreshHead(*conn);
    const auto record = protocol::makeDecision(v.proposalBody, approve, keys, nowMs());
    const auto recorded = conn->decide(record, decisionHead(*conn, dir, v, keys));
    std::string state = "open";
    std::uint64_t index = 0;
    for (const auto& q : conn->listProposals()) {
      if (listedProposalId(q) != hexId) continue;
      state = protocol::proposalStateName(q.state);
      index = q.outcomeIndex;
    }
    if (ctx.out().json()) {
      ctx.out().document({{"proposal_id", v.id},
                          {"action", v.change},
                          {"member_id", v.member},
                          {"decision", approve ? "approve" : "reject"},
                          {"state", state},
                          {"log_index", index == 0 ? nlohmann::json(nullptr) : nlohmann::json(index)},
                          {"recorded_at", jsonTime(recorded.atMs)}});
    } else if (index != 0) {
      ctx.out().line(fmt::format("Approved: {} took effect at log index {}.", describeChange(v), index));
    } else {
      ctx.out().line(fmt::format("{} of {} recorded; the change is {}.", approve ? "Approval" : "Rejection",
                                 describeChange(v), state));
    }
    return ExitOk;
  }
  throw NotFoundError("no proposal " + hexId + " (see focal admin pending)");
}

}  // namespace

AdminSubmission submitAdminChange(CliContext& ctx, Connection& conn, const crypto::Keyring& keys,
                                  capnp::MallocMessageBuilder& event) {
  (void)HubDirectory::fetchUnwitnessed(conn);  // syncs the verified log
  const AdminPolicy& policy = policyOf(conn);
  const auto e = event.getRoot<wire::LogEvent>().asReader();
  capnp::MallocMessageBuilder probe;
  auto change = probe.initRoot<wire::AdminChange>();
  if (!protocol::copyAdminChange(change, e)) throw std::logic_error("not an admin change");
  const bool forced = protocol::isForcedRotation(change.asReader(), keys.memberId);
  AdminSubmission out;
  if (policy.quorum < 2 && !(forced && policy.forcedRotationDelayMs > 0)) {
    ctx.out().warning(protocol::singleAdminWarning(policy));
    out.logIndex = conn.admin(event).index;
    return out;
  }
  ctx.requireFreshHead(conn);
  const std::int64_t now = nowMs();
  const auto record = protocol::makeAdminChangeProposal(e, keys, now, now + changeLifetime(policy));
  const auto recorded = conn.propose(record);
  out.proposalId = crypto::toHex(crypto::ByteView(recorded.id));
  out.approvalsNeeded = policy.quorum - 1;
  if (forced) out.notBeforeMs = now + policy.forcedRotationDelayMs;
  return out;
}

void warnPendingRotations(CliContext& ctx, Connection& conn, const std::string& me) {
  if (!conn.verifiedLog()) return;
  const auto& log = conn.verifiedLog()->verifier();
  for (const auto& p : conn.listProposals()) {
    if (p.state != wire::ProposalState::OPEN) continue;
    auto parsed = protocol::decode<wire::Proposal>(p.proposal.body);
    if (!parsed || parsed->root().which() != wire::Proposal::ADMIN_CHANGE) continue;
    const auto root = parsed->root();
    const std::string proposer(protocol::view(root.getProposerId()));
    if (!protocol::isForcedRotation(root.getAdminChange(), proposer) ||
        protocol::adminChangeTarget(root.getAdminChange()) != me || root.getExpiresAtMs() < nowMs()) {
      continue;
    }
    // Only what an admin of the verified log signed (the hub cannot scare
    // a member with a made-up change).
    const auto* admin = log.find(proposer);
    const auto sig = crypto::Signature::fromBytes(p.proposal.signature);
    if (admin == nullptr || !admin->isAdmin || !sig ||
        !protocol::signedWithKeyOfTheTime(admin->consensus(), protocol::context::Proposal, p.proposal.body, *sig,
                                          root.getCreatedAtMs())) {
      continue;
    }
    const auto id = crypto::toHex(protocol::view(root.getProposalId()));
    ctx.out().warning(fmt::format(
        "ALARM admin {} proposes to rotate YOUR keys ({}, proposal {}); it takes effect no sooner than {} if "
        "other admins approve. If you did not ask for it, object now: focal reject {}",
        safeLine(proposer), protocol::adminChangeName(root.getAdminChange()), id,
        formatTime(root.getCreatedAtMs() + log.adminPolicy().forcedRotationDelayMs), id.substr(0, 8)));
  }
}

bool printPending(CliContext& ctx, const AdminSubmission& s, const std::string& action, const std::string& member) {
  if (s.logIndex) return false;
  if (ctx.out().json()) {
    ctx.out().document({{"pending", true},
                        {"proposal_id", s.proposalId},
                        {"action", action},
                        {"member_id", member},
                        {"approvals_needed", s.approvalsNeeded},
                        {"effective_not_before", s.notBeforeMs == 0 ? nlohmann::json(nullptr) : jsonTime(s.notBeforeMs)}});
    return true;
  }
  ctx.out().line(fmt::format("Proposed: {} {} (proposal {}).", action, safeLine(member), s.proposalId));
  if (s.approvalsNeeded > 0) {
    ctx.out().line(fmt::format("It takes effect when {} more admin{} approve{} (the quorum comes from two member states):",
                               s.approvalsNeeded, s.approvalsNeeded == 1 ? "" : "s", s.approvalsNeeded == 1 ? "s" : ""));
    ctx.out().line(fmt::format("  focal admin approve {}", s.proposalId.substr(0, 8)));
  }
  if (s.notBeforeMs != 0) {
    ctx.out().line(fmt::format("A rotation of another member's keys takes effect no sooner than {}; {} is alerted "
                               "and may object (focal reject {}).",
                               formatTime(s.notBeforeMs), safeLine(member), s.proposalId.substr(0, 8)));
  }
  return true;
}

void addAdminQuorumCommands(CLI::App& admin, CliContext& ctx, CommandTable& table) {
  auto* pending = admin.add_subcommand("pending", "Admin changes waiting for the approval of other admins");
  pending->footer(R"(Where the hub's directory log names an admin quorum k >= 2, a registration,
revocation, role change or rotation of another member's keys by one admin is a
proposal until k admins from two member states have signed it. Each is listed
with who approved it and how many approvals it still needs; a rotation of
another member's keys also waits the log's delay, and the member may object.

Example:
  focal admin pending
  focal --json admin pending | jq '.[] | select(.approvals_needed > 0)')");
  table.add(pending, [&ctx] { return runPending(ctx); });

  auto approveId = std::make_shared<std::string>();
  auto* approve = admin.add_subcommand("approve", "Approve another admin's pending change (you sign it too)");
  approve->add_option("proposal", *approveId, "Proposal id (32 hex digits, or a unique first 6 or more)")->required();
  approve->footer(R"(Check what the change does first (focal admin pending), and for a registration
the member's fingerprint with them out of band. When your approval completes the
quorum the hub appends the change to the directory log at once (a rotation of
another member's keys after its delay).

Example:
  focal admin approve 3f0c9a)");
  table.add(approve, [&ctx, approveId] { return runAdminDecide(ctx, *approveId, true); });

  auto rejectId = std::make_shared<std::string>();
  auto* reject = admin.add_subcommand("reject", "Reject a pending admin change (ends it)");
  reject->add_option("proposal", *rejectId, "Proposal id (32 hex digits, or a unique first 6 or more)")->required();
  reject->footer("One rejection by an admin ends the change.\n\nExample:\n  focal admin reject 3f0c9a");
  table.add(reject, [&ctx, rejectId] { return runAdminDecide(ctx, *rejectId, false); });
}

}  // namespace focal::client::cli

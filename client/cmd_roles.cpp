// focal role assign / end: the working group's roles in the directory log
// (terms of reference §4(b), §5, §7, §9; PROTOCOL.md §12.7). A member of the
// secretariat signs a wgRole entry naming the decision that made the
// appointment: a summary record approved by silence or an amendment adopted
// by every member state, already in the log. Every client checks the entry
// as the hub does; `focal directory` shows who holds what.
#include "client/cli_context.hpp"
#include "client/client_error.hpp"
#include "client/meetings.hpp"

#include <fmt/format.h>

namespace focal::client::cli {

namespace {

struct WgRoleArgs {
  std::string member;
  std::string role;
  std::string term;
  std::string meeting;
  std::string decision;
};

wire::WorkingGroupRole parseWgRole(const std::string& text) {
  if (text == "chair") return wire::WorkingGroupRole::CHAIR;
  if (text == "co-chair") return wire::WorkingGroupRole::CO_CHAIR;
  if (text == "somtc-focal-point") return wire::WorkingGroupRole::SOMTC_FOCAL_POINT;
  throw UsageError("bad-role", "--role is chair, co-chair or somtc-focal-point");
}

int runWgRole(CliContext& ctx, const WgRoleArgs& a, bool assign) {
  const auto role = parseWgRole(a.role);
  const bool focalPoint = role == wire::WorkingGroupRole::SOMTC_FOCAL_POINT;
  if (focalPoint && (!a.term.empty() || !a.meeting.empty())) {
    throw UsageError("usage", "a SOMTC focal point has no --term or --meeting");
  }
  if (!focalPoint && a.term.empty() == a.meeting.empty()) {
    throw UsageError("usage", "a chair or co-chair takes --term YEAR or --meeting ID (one of them)");
  }
  if (!a.term.empty() && (a.term.size() != 4 || a.term < "2000" || a.term > "2199" ||
                          a.term.find_first_not_of("0123456789") != std::string::npos)) {
    throw UsageError("usage", "--term is a year, e.g. 2027");
  }
  const auto decision = parseBulletinId(a.decision);
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const auto dir = HubDirectory::fetchUnwitnessed(*conn);
  std::string term = a.term;
  if (!a.meeting.empty()) {
    const auto listing = verifyMeetings(conn->listMeetings(), dir);
    term = crypto::toHex(findMeetingArg(listing, a.meeting).info.id);
  }
  capnp::MallocMessageBuilder event;
  auto e = event.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(nowMs());
  auto r = e.initWgRole();
  r.setMemberId(protocol::asText(a.member));
  r.setRole(role);
  r.setTerm(protocol::asText(term));
  r.setAssign(assign);
  r.setDecisionId(protocol::kjBytes(decision.view()));
  const auto done = conn->admin(event);
  const std::string what = protocol::wgRoleText(role, term);
  if (ctx.out().json()) {
    ctx.out().document({{"member_id", a.member},
                        {"wg_role", protocol::wgRoleText(role, "")},
                        {"term", term},
                        {"assign", assign},
                        {"decision_id", crypto::toHex(decision)},
                        {"log_index", done.index}});
  } else {
    ctx.out().line(fmt::format("{} {} {} (directory log entry {}).", safeLine(a.member),
                               assign ? "now holds" : "no longer holds", what, done.index));
  }
  return ExitOk;
}

void addRoleOptions(CLI::App* cmd, WgRoleArgs& a) {
  cmd->add_option("member", a.member, "The member (a member state's point of contact)")->required();
  cmd->add_option("--role", a.role, "chair|co-chair|somtc-focal-point")
      ->required()
      ->check(CLI::IsMember({"chair", "co-chair", "somtc-focal-point"}));
  cmd->add_option("--term", a.term, "Chair or co-chair: the year, e.g. 2027");
  cmd->add_option("--meeting", a.meeting, "Chair or co-chair: of this meeting only (id or unique prefix)");
  cmd->add_option("--decision", a.decision,
                  "The approved summary record or adopted amendment that decided it (32 hex digits)")
      ->required();
}

}  // namespace

void addRoleCommands(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto* role = app.add_subcommand("role", "Secretariat: working-group roles (chair, co-chair, SOMTC focal point)");
  role->require_subcommand(1);
  auto aa = std::make_shared<WgRoleArgs>();
  auto* assign = role->add_subcommand("assign", "Give a member a working-group role, naming the decision");
  addRoleOptions(assign, *aa);
  assign->footer(R"(Signs a wgRole entry into the directory log. The decision must already be in the
log: a summary record approved by silence (focal send --summary-record) or an amendment
adopted by every member state (focal propose --amendment). One chair and one co-chair
per year or meeting; one SOMTC focal point per member state (end the old one first).
Everyone's client checks the entry; focal directory shows the roles, and the address
somtc-focal-points reaches the focal points.

Example:
  focal role assign sg-spf-cyber --role somtc-focal-point --decision 0f3c9a1e5b7d2c4f6a8e0b1d3f5a7c9e
  focal role assign th-tcsd --role chair --term 2027 --decision 0f3c9a1e5b7d2c4f6a8e0b1d3f5a7c9e)");
  table.add(assign, [&ctx, aa] { return runWgRole(ctx, *aa, true); });

  auto ea = std::make_shared<WgRoleArgs>();
  auto* end = role->add_subcommand("end", "End a member's working-group role, naming the decision");
  addRoleOptions(end, *ea);
  end->footer(R"(Example:
  focal role end sg-spf-cyber --role somtc-focal-point --decision 0f3c9a1e5b7d2c4f6a8e0b1d3f5a7c9e)");
  table.add(end, [&ctx, ea] { return runWgRole(ctx, *ea, false); });
}

}  // namespace focal::client::cli

// focal directory / focal fingerprint / focal verify: who is who, keys to
// compare out of band, and the members you compared them with.
#include "client/cli_context.hpp"
#include "client/client_error.hpp"
#include "client/terminal.hpp"
#include "protocol/meeting.hpp"

#include <fmt/format.h>

#include <map>

namespace focal::client::cli {

namespace {

int runDirectory(CliContext& ctx) {
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const auto dir = HubDirectory::fetchUnwitnessed(*conn);
  const auto contacts = ctx.contacts(keys);
  const auto standingOf = [&](const MemberRecord& m) {
    return m.keysWellFormed ? contacts.standing(m.id, crypto::fingerprint(m.id, m.identityKey))
                            : ContactStanding::Unverified;
  };
  if (ctx.out().json()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& m : dir.members()) {
      auto j = memberRolesJson(m);
      j["cert_valid"] = m.certValid;
      j["fingerprint"] = m.keysWellFormed ? nlohmann::json(crypto::fingerprint(m.id, m.identityKey)) : nullptr;
      j["verification"] = standingName(standingOf(m));
      list.push_back(std::move(j));
    }
    ctx.out().document(list);
    return ExitOk;
  }
  // state -> institution -> members
  std::map<std::string, std::map<std::string, std::vector<const MemberRecord*>>> groups;
  for (const auto& m : dir.members()) groups[m.state][institutionName(m.institution)].push_back(&m);
  for (const auto& [state, byInst] : groups) {
    ctx.out().line(state.empty() ? "(no member state)" : safeLine(state));
    for (const auto& [inst, members] : byInst) {
      ctx.out().line("  " + inst);
      for (const auto* m : members) {
        std::string marks;
        if (m->isAdmin) marks += " [admin]";
        if (m->isSecretariat) marks += " [secretariat]";
        for (const auto& r : m->wgRoles) marks += " [" + safeLine(protocol::wgRoleText(r.role, r.term)) + "]";
        if (m->meetingLimited()) marks += " [" + protocol::meetingListText(m->meetings) + " only]";
        if (!m->active) marks += " (REVOKED)";
        if (m->active && !m->certValid) marks += " (INVALID KEY CERTIFICATE)";
        const auto standing = standingOf(*m);
        if (standing == ContactStanding::Verified) marks += " (verified)";
        if (standing == ContactStanding::KeyChanged) marks += " (KEY CHANGED since you verified it)";
        // SECURITY: one row per member: a name cannot add rows (safeLine).
        ctx.out().line(fmt::format("    {:<22} {}{}", safeLine(m->id), safeLine(m->name), marks));
        if (m->keysWellFormed) ctx.out().line(fmt::format("    {:<22} {}", "", crypto::fingerprint(m->id, m->identityKey)));
      }
    }
  }
  return ExitOk;
}

const MemberRecord& lookup(const HubDirectory& dir, const std::string& id) {
  const auto* m = dir.find(id);
  if (m == nullptr) throw NotFoundError("no member " + id + " in the directory");
  if (!m->keysWellFormed || !m->certValid) throw VerifyError("member " + id + " has no valid key certificate");
  return *m;
}

int runFingerprint(CliContext& ctx, const std::vector<std::string>& members) {
  if (members.size() > 2) throw UsageError("usage", "give at most two members");
  auto keys = ctx.loadKeys();
  if (members.empty()) {
    const auto fp = crypto::fingerprint(keys.memberId, keys.identity.publicKey);
    if (ctx.out().json()) ctx.out().document({{"member_id", keys.memberId}, {"fingerprint", fp}});
    else ctx.out().line(fmt::format("{}  {}", safeLine(keys.memberId), fp));
    return ExitOk;
  }
  auto conn = ctx.connect(keys);
  const auto dir = HubDirectory::fetchUnwitnessed(*conn);
  if (members.size() == 1) {
    const auto& m = lookup(dir, members[0]);
    const auto fp = crypto::fingerprint(m.id, m.identityKey);
    if (ctx.out().json()) ctx.out().document({{"member_id", m.id}, {"fingerprint", fp}});
    else ctx.out().line(fmt::format("{}  {}", safeLine(m.id), fp));
    return ExitOk;
  }
  const auto& a = lookup(dir, members[0]);
  const auto& b = lookup(dir, members[1]);
  const auto sn = crypto::safetyNumber(a.id, a.identityKey, b.id, b.identityKey);
  if (ctx.out().json()) {
    ctx.out().document({{"member_ids", {a.id, b.id}}, {"safety_number", sn}});
  } else {
    ctx.out().line(fmt::format("Safety number of {} and {}:", safeLine(a.id), safeLine(b.id)));
    ctx.out().line(sn);
  }
  return ExitOk;
}

// Shows the safety number of the user and `memberId`, and records the
// member as verified once the user says the numbers match.
int runVerify(CliContext& ctx, const std::string& memberId, bool yes) {
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const auto dir = HubDirectory::fetch(*conn);
  if (memberId == keys.memberId) throw UsageError("usage", "that is you: verify another member");
  const auto& m = lookup(dir, memberId);
  const auto fp = crypto::fingerprint(m.id, m.identityKey);
  const auto sn = crypto::safetyNumber(keys.memberId, keys.identity.publicKey, m.id, m.identityKey);
  auto contacts = ctx.contacts(keys);
  const auto before = contacts.standing(m.id, fp);
  if (!ctx.out().json()) {
    ctx.out().line(fmt::format("Safety number of you ({}) and {} ({}):", safeLine(keys.memberId), safeLine(m.id),
                               safeLine(m.name)));
    ctx.out().line("  " + sn);
    if (before == ContactStanding::KeyChanged) {
      ctx.out().line(fmt::format("{}'s key changed since you verified it: compare again.", safeLine(m.id)));
    }
  }
  if (before != ContactStanding::Verified && !yes) {
    const auto ok = confirmOnTerminal(fmt::format(
        "Does {} read you the same number (in person, or on a call you trust)? [y/N] ", safeLine(m.id)));
    if (!ok) {
      throw UsageError("not-confirmed", "not on a terminal: compare the safety number with " + m.id +
                                            ", then run focal verify " + m.id + " --yes");
    }
    if (!*ok) throw UsageError("not-confirmed", "not verified: the numbers must match");
  }
  if (before != ContactStanding::Verified) contacts.markVerified(m.id, fp);
  if (ctx.out().json()) {
    ctx.out().document({{"member_id", m.id},
                        {"fingerprint", fp},
                        {"safety_number", sn},
                        {"previously", standingName(before)},
                        {"verification", "verified"}});
  } else {
    ctx.out().line(before == ContactStanding::Verified
                       ? fmt::format("{} was already verified with this key.", safeLine(m.id))
                       : fmt::format("{} is verified. inbox, read and directory will flag a change of its key.",
                                     safeLine(m.id)));
  }
  return ExitOk;
}

}  // namespace

void addDirectoryCommands(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto* dir = app.add_subcommand("directory", "Points of contact by member state and institution, with fingerprints");
  dir->footer(R"(Marks: [admin], [secretariat], working-group roles ([chair 2027]), [meeting ID only]
(a resource-panel member admitted to named meetings: only their papers reach it), (REVOKED),
(INVALID KEY CERTIFICATE: the hub listed an encryption key the member never signed;
nothing is ever sent to it).

Example:
  focal directory
  focal --json directory | jq '.[] | select(.state == "MY")')");
  table.add(dir, [&ctx] { return runDirectory(ctx); });

  auto members = std::make_shared<std::vector<std::string>>();
  auto* fp = app.add_subcommand("fingerprint", "Your fingerprint, a member's, or the safety number of two members");
  fp->add_option("members", *members, "Zero, one or two member ids")->expected(0, 2);
  fp->footer(R"(Compare fingerprints out of band (phone, in person) before trusting a key.

Examples:
  focal fingerprint                            # your own
  focal fingerprint my-pdrm-cyber              # a member's, from the directory
  focal fingerprint sg-spf-cyber my-pdrm-cyber # the pair's safety number)");
  table.add(fp, [&ctx, members] { return runFingerprint(ctx, *members); });

  auto verifyMember = std::make_shared<std::string>();
  auto verifyYes = std::make_shared<bool>(false);
  auto* verify = app.add_subcommand("verify", "Compare safety numbers with a member once, and be told if its key changes");
  verify->add_option("member", *verifyMember, "The member id")->required();
  verify->add_flag("--yes", *verifyYes, "The numbers were compared already: record without asking (scripts)");
  verify->footer(R"(Shows the safety number of you and MEMBER. Compare it with the number MEMBER's
`focal verify YOU` shows, in person or on a call you trust; when they match, the member
is recorded as verified (members/YOU/verified.json in the profile). From then on inbox,
read, listen and directory flag the member if its identity key changes, until you verify
it again, as Signal does with a changed safety number.

Example:
  focal verify my-pdrm-cyber)");
  table.add(verify, [&ctx, verifyMember, verifyYes] { return runVerify(ctx, *verifyMember, *verifyYes); });
}

}  // namespace focal::client::cli

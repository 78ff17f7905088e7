// focal directory / focal fingerprint: who is who, and keys to compare out of band.
#include "client/cli_context.hpp"
#include "client/client_error.hpp"

#include <fmt/format.h>

#include <map>

namespace focal::client::cli {

namespace {

int runDirectory(CliContext& ctx) {
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const auto dir = HubDirectory::fetchUnwitnessed(*conn);
  if (ctx.out().json()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& m : dir.members()) {
      auto j = memberRolesJson(m);
      j["cert_valid"] = m.certValid;
      j["fingerprint"] = m.keysWellFormed ? nlohmann::json(crypto::fingerprint(m.id, m.identityKey)) : nullptr;
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
        if (!m->active) marks += " (REVOKED)";
        if (m->active && !m->certValid) marks += " (INVALID KEY CERTIFICATE)";
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

}  // namespace

void addDirectoryCommands(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto* dir = app.add_subcommand("directory", "Points of contact by member state and institution, with fingerprints");
  dir->footer(R"(Marks: [admin], [secretariat], (REVOKED), (INVALID KEY CERTIFICATE: the hub listed an
encryption key the member never signed; nothing is ever sent to it).

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
}

}  // namespace focal::client::cli

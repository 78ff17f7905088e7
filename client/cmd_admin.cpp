// focal admin register|rotate|revoke|role|list|log|audit: hub administration.
// Every change is a directory-log event signed by the admin's identity key;
// list and log show the log as this client verified it, audit verifies the
// hub's hash-chained audit trail.
#include "client/cli_context.hpp"
#include "client/cmd_admin_quorum.hpp"
#include "client/text_input.hpp"
#include "client/audit_trail.hpp"
#include "client/client_error.hpp"
#include "client/verified_log.hpp"
#include "crypto/keyfile.hpp"
#include "crypto/primitives.hpp"
#include "protocol/admin_quorum.hpp"
#include "protocol/iso3166.hpp"
#include "protocol/log.hpp"
#include "protocol/names.hpp"

#include <fmt/format.h>

#include <capnp/message.h>

#include <fstream>
#include <sstream>

namespace focal::client::cli {

namespace {

struct RegisterArgs {
  std::string pubFile;
  std::string state;
  std::string institution;
  std::string name;
  std::vector<std::string> roles;
};

void setKeySet(wire::KeySet::Builder k, const crypto::PublicKeys& pk) {
  k.setIdentityKey(protocol::kjBytes(pk.identity.view()));
  k.setEncryptionKey(protocol::kjBytes(pk.encryption.view()));
  k.setEncKeyCreatedAtMs(pk.createdAtMs);
  k.setEncKeyCert(protocol::kjBytes(pk.encCert.view()));
}

// The new member's MemberInfo: `state` upper-cased, `inst` parsed from `a`.
void setMemberInfo(wire::MemberInfo::Builder m, const std::string& id, const RegisterArgs& a, const std::string& state,
                   wire::Institution inst) {
  m.setId(protocol::asText(id));
  m.setName(protocol::asText(a.name));
  m.setState(protocol::asText(state));
  m.setInstitution(inst);
  for (const auto& r : a.roles) {
    if (r == "admin") m.setIsAdmin(true);
    if (r == "secretariat") m.setIsSecretariat(true);
  }
}

int runRegister(CliContext& ctx, const RegisterArgs& a) {
  const auto pk = readPublicKeys(a.pubFile);

  wire::Institution inst{};
  if (!parseInstitution(a.institution, inst)) throw UsageError("bad-institution", "unknown institution " + a.institution);
  if (inst == wire::Institution::RESOURCE_PANEL) {
    // The hub and every client's log verifier refuse it too (PROTOCOL.md §11.1).
    throw UsageError("bad-institution",
                     "a resource-panel member joins only by the consensus of every member state, not by register: "
                     "focal admin propose-admission FILE.pub --institution resource-panel --name \"...\"");
  }
  std::string state = a.state;
  for (auto& ch : state) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  const bool needsState = inst == wire::Institution::LAW_ENFORCEMENT || inst == wire::Institution::POLICY_SECURITY;
  const bool noState = inst == wire::Institution::DIALOGUE_PARTNER;
  if (needsState && state.size() != 2) throw UsageError("bad-state", "--state CC (ISO 3166 alpha-2) is required for " + a.institution);
  if (noState && !state.empty()) throw UsageError("bad-state", a.institution + " members have no member state");
  if (!state.empty() && !protocol::isIso3166Alpha2(state)) {
    throw UsageError("bad-state", "--state " + a.state + " is not an ISO 3166-1 alpha-2 country code (e.g. SG, MY, TH)");
  }

  requireSingleLineText(a.name, "--name");  // the hub refuses it otherwise

  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  capnp::MallocMessageBuilder event;
  auto e = event.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(nowMs());
  auto reg = e.initRegister();
  setMemberInfo(reg.initMember(), pk.memberId, a, state, inst);
  setKeySet(reg.initKeys(), pk);
  const auto result = submitAdminChange(ctx, *conn, keys, event);
  const auto fp = crypto::fingerprint(pk.memberId, pk.identity);
  if (printPending(ctx, result, "register", pk.memberId)) {
    if (!ctx.out().json()) ctx.out().line(fmt::format("Fingerprint: {}  (give it to the approving admins)", fp));
    return ExitOk;
  }
  if (ctx.out().json()) {
    ctx.out().document({{"member_id", pk.memberId}, {"log_index", *result.logIndex}, {"fingerprint", fp}});
  } else {
    ctx.out().line(fmt::format("Registered {} ({}) at log index {}.", safeLine(pk.memberId), safeLine(a.name),
                               *result.logIndex));
    ctx.out().line(fmt::format("Fingerprint: {}  (compare it with the member out of band)", fp));
  }
  return ExitOk;
}

const MemberRecord& verifiedMember(const HubDirectory& dir, const std::string& id) {
  const auto* m = dir.find(id);
  if (m == nullptr) throw NotFoundError("no member " + id + " in the verified directory log");
  return *m;
}

// `action`: the machine name for --json (revoke-member, revoke-key, role-change).
void printAdminResult(CliContext& ctx, const std::string& action, const std::string& what, const std::string& member,
                      std::uint64_t index) {
  if (ctx.out().json()) ctx.out().document({{"member_id", member}, {"action", action}, {"log_index", index}});
  else ctx.out().line(fmt::format("{} {}: log index {}.", safeLine(what), safeLine(member), index));
}

struct RotateArgs {
  std::string member;
  std::string pubFile;
};

int runAdminRotate(CliContext& ctx, const RotateArgs& a) {
  const auto pk = readPublicKeys(a.pubFile);
  if (pk.memberId != a.member) {
    throw UsageError("member-mismatch", a.pubFile + " is for " + pk.memberId + ", not " + a.member);
  }
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const auto dir = HubDirectory::fetchUnwitnessed(*conn);
  const auto& m = verifiedMember(dir, a.member);
  const bool identity = !(m.identityKey == pk.identity);
  capnp::MallocMessageBuilder event;
  auto e = event.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(nowMs());
  auto r = identity ? e.initRotateIdentity() : e.initRotateEncryption();
  r.setMemberId(protocol::asText(a.member));
  r.setPreviousKey(protocol::kjBytes(identity ? m.identityKey.view() : m.encryptionKey.view()));
  setKeySet(r.initKeys(), pk);
  const auto result = submitAdminChange(ctx, *conn, keys, event);
  if (printPending(ctx, result, identity ? "rotate-identity" : "rotate-encryption", a.member)) return ExitOk;
  if (ctx.out().json()) {
    ctx.out().document({{"member_id", a.member},
                        {"action", identity ? "rotate-identity" : "rotate-encryption"},
                        {"log_index", *result.logIndex},
                        {"fingerprint", crypto::fingerprint(a.member, pk.identity)}});
  } else {
    ctx.out().line(fmt::format("Rotated the {} of {} at log index {}.",
                               identity ? "identity and encryption keys" : "encryption key", safeLine(a.member),
                               *result.logIndex));
    ctx.out().line(fmt::format("Fingerprint: {}  (compare it with the member out of band)",
                               crypto::fingerprint(a.member, pk.identity)));
  }
  return ExitOk;
}

struct RevokeArgs {
  std::string member;
  std::string keyHex;
  std::string reason;
};

int runAdminRevoke(CliContext& ctx, const RevokeArgs& a) {
  crypto::Bytes key;
  if (!a.keyHex.empty()) {
    auto bytes = crypto::fromHex(a.keyHex);
    if (!bytes || bytes->size() != 32) throw UsageError("bad-key", "--key is a public key in 64 hex digits");
    key = *bytes;
  }
  if (a.reason.empty()) throw UsageError("no-reason", "--reason must say why (it is in the log for everyone)");
  requireSingleLineText(a.reason, "--reason");
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const auto dir = HubDirectory::fetchUnwitnessed(*conn);
  verifiedMember(dir, a.member);
  capnp::MallocMessageBuilder event;
  auto e = event.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(nowMs());
  auto r = e.initRevoke();
  r.setMemberId(protocol::asText(a.member));
  r.setKey(protocol::kjBytes(key));
  r.setReason(protocol::asText(a.reason));
  const auto result = submitAdminChange(ctx, *conn, keys, event);
  if (printPending(ctx, result, key.empty() ? "revoke-member" : "revoke-key", a.member)) return ExitOk;
  printAdminResult(ctx, key.empty() ? "revoke-member" : "revoke-key",
                   key.empty() ? "Revoked member" : "Revoked key " + a.keyHex.substr(0, 16) + "... of", a.member,
                   *result.logIndex);
  return ExitOk;
}

struct RoleArgs {
  std::string member;
  std::string admin;
  std::string secretariat;
};

int runAdminRole(CliContext& ctx, const RoleArgs& a) {
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const auto dir = HubDirectory::fetchUnwitnessed(*conn);
  const auto& m = verifiedMember(dir, a.member);
  capnp::MallocMessageBuilder event;
  auto e = event.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(nowMs());
  auto r = e.initRoleChange();
  r.setMemberId(protocol::asText(a.member));
  r.setIsAdmin(a.admin.empty() ? m.isAdmin : a.admin == "yes");
  r.setIsSecretariat(a.secretariat.empty() ? m.isSecretariat : a.secretariat == "yes");
  const auto result = submitAdminChange(ctx, *conn, keys, event);
  if (printPending(ctx, result, "role-change", a.member)) return ExitOk;
  printAdminResult(ctx, "role-change", "Changed the roles of", a.member, *result.logIndex);
  return ExitOk;
}

nlohmann::json memberJson(const MemberRecord& m) {
  nlohmann::json past = nlohmann::json::array();
  for (const auto& p : m.identityHistory) {
    past.push_back({{"fingerprint", crypto::fingerprint(m.id, p.key)},
                    {"replaced_at", jsonTime(p.replacedAtMs)},
                    {"revoked_at", jsonTime(p.revokedAtMs)}});
  }
  auto j = memberRolesJson(m);
  j["revoked_at"] = jsonTime(m.revokedAtMs);
  j["revoke_reason"] = jsonText(m.revokeReason);
  j["fingerprint"] = crypto::fingerprint(m.id, m.identityKey);
  j["identity_key"] = crypto::toHex(m.identityKey);
  j["encryption_key"] = crypto::toHex(m.encryptionKey);
  j["identity_keys"] = past;
  return j;
}

int runAdminList(CliContext& ctx) {
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const auto dir = HubDirectory::fetchUnwitnessed(*conn);
  if (ctx.out().json()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& m : dir.members()) list.push_back(memberJson(m));
    ctx.out().document(list);
    return ExitOk;
  }
  ctx.out().line(fmt::format("{:<22} {:<3} {:<17} {:<8} {:<6} {:<16} {}", "MEMBER", "ST", "INSTITUTION", "STATUS",
                             "ENTRY", "ENCRYPTION KEY", "ROLES"));
  for (const auto& m : dir.members()) {
    std::string roles;
    if (m.isAdmin) roles += "admin ";
    if (m.isSecretariat) roles += "secretariat";
    ctx.out().line(fmt::format("{:<22} {:<3} {:<17} {:<8} {:<6} {:<16} {}", safeLine(m.id),
                               m.state.empty() ? "-" : safeLine(m.state),
                               institutionName(m.institution), m.active ? "active" : "REVOKED", m.logIndex,
                               crypto::toHex(m.encryptionKey).substr(0, 16), roles));
  }
  return ExitOk;
}

// A verified log event for --json. Every key is present for every kind
// (docs/json.md, focal admin log); what a kind does not carry is null.
nlohmann::json describeEvent(const LogEntryRecord& entry) {
  nlohmann::json j = {{"log_index", entry.index},
                      {"recorded_at", jsonTime(entry.recordedAtMs)},
                      {"author_id", entry.authorId},
                      {"kind", "unparsable"}};
  for (const char* k : {"issued_at", "member_id", "hub_id", "hub_key", "encryption_key", "previous_key", "key", "reason",
                        "admin", "secretariat", "proposal_id", "candidate_id", "text", "approvals", "change",
                        "wg_role", "term", "assign", "decision_id", "meeting_ids"}) {
    j[k] = nullptr;
  }
  auto parsed = protocol::decode<wire::LogEvent>(entry.event);
  if (!parsed) return j;
  using W = wire::LogEvent;
  const auto e = parsed->root();
  j["issued_at"] = jsonTime(e.getIssuedAtMs());
  j["kind"] = protocol::logEventName(e.which());
  auto keyHex = [](capnp::Data::Reader d) { return jsonText(crypto::toHex(protocol::view(d))); };
  switch (e.which()) {
    case W::GENESIS:
      j["hub_id"] = std::string(protocol::view(e.getGenesis().getHubId()));
      j["hub_key"] = keyHex(e.getGenesis().getHubKey());
      break;
    case W::REGISTER:
      j["member_id"] = std::string(protocol::view(e.getRegister().getMember().getId()));
      j["encryption_key"] = keyHex(e.getRegister().getKeys().getEncryptionKey());
      break;
    case W::ROTATE_ENCRYPTION:
    case W::ROTATE_IDENTITY: {
      const bool id = e.which() == W::ROTATE_IDENTITY;
      auto r = id ? e.getRotateIdentity() : e.getRotateEncryption();
      j["member_id"] = std::string(protocol::view(r.getMemberId()));
      j["previous_key"] = keyHex(r.getPreviousKey());
      j["encryption_key"] = keyHex(r.getKeys().getEncryptionKey());
      break;
    }
    case W::REVOKE:
      j["member_id"] = std::string(protocol::view(e.getRevoke().getMemberId()));
      j["key"] = keyHex(e.getRevoke().getKey());
      j["reason"] = std::string(protocol::view(e.getRevoke().getReason()));
      break;
    case W::ROLE_CHANGE:
      j["member_id"] = std::string(protocol::view(e.getRoleChange().getMemberId()));
      j["admin"] = e.getRoleChange().getIsAdmin();
      j["secretariat"] = e.getRoleChange().getIsSecretariat();
      break;
    case W::WG_ROLE: {
      const auto r = e.getWgRole();
      j["member_id"] = std::string(protocol::view(r.getMemberId()));
      j["wg_role"] = protocol::wgRoleText(r.getRole(), "");
      j["term"] = std::string(protocol::view(r.getTerm()));
      j["assign"] = r.getAssign();
      j["decision_id"] = keyHex(r.getDecisionId());
      break;
    }
    case W::RECORD_APPROVED:
    case W::LOG_VERSION: break;
    case W::ADMISSION:
    case W::AMENDMENT: {
      // Verified by the log verifier before it is listed (PROTOCOL.md §12.5).
      const bool admission = e.which() == W::ADMISSION;
      auto outcome = admission ? e.getAdmission() : e.getAmendment();
      auto p = protocol::decode<wire::Proposal>(protocol::view(outcome.getProposal().getBody()));
      if (p) {
        j["proposal_id"] = keyHex(p->root().getProposalId());
        if (admission && p->root().which() == wire::Proposal::ADMISSION) {
          j["candidate_id"] = std::string(protocol::view(p->root().getAdmission().getMember().getId()));
          std::vector<std::string> meetingIds;  // the panel member's limit (PROTOCOL.md §12.5)
          if (auto meetings = protocol::readProposalMeetings(p->root()); meetings) {
            for (const auto& m : *meetings) meetingIds.push_back(crypto::toHex(m.view()));
          }
          j["meeting_ids"] = meetingIds;
        } else if (!admission && p->root().which() == wire::Proposal::AMENDMENT) {
          j["text"] = std::string(protocol::view(p->root().getAmendment()));
        }
      }
      j["approvals"] = outcome.getApprovals().size();
      break;
    }
    case W::ADMIN_ACTION: {
      // A change by the admin quorum (PROTOCOL.md §11.7): the proposer
      // signed it, `approvals` other admins approved it.
      auto p = protocol::decode<wire::Proposal>(protocol::view(e.getAdminAction().getProposal().getBody()));
      if (p && p->root().which() == wire::Proposal::ADMIN_CHANGE) {
        j["proposal_id"] = keyHex(p->root().getProposalId());
        j["member_id"] = std::string(protocol::adminChangeTarget(p->root().getAdminChange()));
        j["change"] = protocol::adminChangeName(p->root().getAdminChange());
      }
      j["approvals"] = e.getAdminAction().getApprovals().size();
      break;
    }
  }
  return j;
}

int runAdminLog(CliContext& ctx, std::uint64_t from) {
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);  // verifies every entry new since the last connect
  const auto& log = *conn->verifiedLog();
  nlohmann::json list = nlohmann::json::array();
  std::vector<std::int64_t> recordedAt;
  for (const auto& e : log.entries()) {
    if (e.index < from) continue;
    list.push_back(describeEvent(e));
    recordedAt.push_back(e.recordedAtMs);
  }
  if (ctx.out().json()) {
    ctx.out().document({{"hub_id", conn->session().hubId},
                        {"entry_count", log.size()},
                        {"root", crypto::toHex(log.verifier().root())},
                        {"entries", list}});
    return ExitOk;
  }
  // The text rows are made from the same description ("" for null).
  // SECURITY: member ids, reasons and texts come from other members' signed
  // entries: rendered with safeLine, one row per entry.
  auto str = [](const nlohmann::json& j, const char* key) {
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
  };
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& j = list[i];
    std::string extra;
    if (!str(j, "reason").empty()) extra = " reason: " + safeLine(str(j, "reason"));
    if (!str(j, "key").empty()) extra += " key " + str(j, "key").substr(0, 16);
    if (!str(j, "encryption_key").empty()) extra += " enc " + str(j, "encryption_key").substr(0, 16);
    if (!str(j, "proposal_id").empty()) extra += " proposal " + str(j, "proposal_id");
    if (j["text"].is_string()) {
      // A one-line preview (newlines shown as \n); --json carries the whole text.
      const auto text = str(j, "text");
      const auto preview = utf8Prefix(text, 60);
      extra += " \"" + safeLine(preview) + (preview.size() < text.size() ? "...\"" : "\"");
    }
    std::string who = str(j, "member_id");
    if (who.empty()) who = str(j, "candidate_id");
    if (who.empty()) who = str(j, "hub_id");
    ctx.out().line(fmt::format("{:>6}  {}  {:<18} {:<22} by {}{}", j["log_index"].get<std::uint64_t>(),
                               formatTime(recordedAt[i]), str(j, "kind"), who.empty() ? "-" : safeLine(who),
                               safeLine(str(j, "author_id")), extra));
  }
  ctx.out().line(fmt::format("{} entries, verified; root {}", log.size(), crypto::toHex(log.verifier().root())));
  return ExitOk;
}

// Fetches the whole audit trail and verifies its chain; the last (index,
// hash) seen is kept in the profile so a rewritten or truncated trail is
// caught on the next run.
int runAdminAudit(CliContext& ctx, std::uint64_t from) {
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const auto anchor = logStateDir(ctx.profile().dir(), conn->session().hubId) / "audit.anchor";
  const auto rows = fetchVerifiedAuditTrail(*conn, anchor);
  if (ctx.out().json()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& r : rows) {
      if (r.index < from) continue;
      list.push_back({{"audit_index", r.index},
                      {"recorded_at", jsonTime(r.timeMs)},
                      {"event", r.event},
                      // The hub writes "-" for "no member" (e.g. a hub decision).
                      {"actor_id", r.actor == "-" ? nullptr : jsonText(r.actor)},
                      {"remote", r.remote == "-" ? nullptr : jsonText(r.remote)},
                      {"detail", jsonText(r.detail)},
                      {"hash", crypto::toHex(r.hash)}});
    }
    ctx.out().document({{"verified", true}, {"entry_count", rows.size()}, {"entries", list}});
    return ExitOk;
  }
  for (const auto& r : rows) {
    if (r.index < from) continue;
    // The hub's rows quote what members and strangers sent (ids, names).
    ctx.out().line(fmt::format("{:>6}  {}  {:<20} {:<22} {:<22} {}", r.index, formatTime(r.timeMs), safeLine(r.event),
                               safeLine(r.actor), safeLine(r.remote), safeLine(r.detail)));
  }
  ctx.out().line(fmt::format("{} audit entries; hash chain verified.", rows.size()));
  return ExitOk;
}

}  // namespace

void addAdminCommands(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto* admin = app.add_subcommand("admin", "Hub administration (needs an admin key)");
  admin->require_subcommand(1);
  auto args = std::make_shared<RegisterArgs>();
  auto* reg = admin->add_subcommand("register", "Register a member from their FILE.pub");
  reg->add_option("pubfile", args->pubFile, "The member's public key file (from focal keygen)")
      ->required()
      ->check(CLI::ExistingFile);
  reg->add_option("--state", args->state, "Member state, ISO 3166 alpha-2 (e.g. SG); none for partners and panel");
  reg->add_option("--institution", args->institution,
                  "law-enforcement|policy-security|secretariat|dialogue-partner (a resource-panel member joins by "
                  "consensus: admin propose-admission)")
      ->required()
      ->check(CLI::IsMember({"law-enforcement", "policy-security", "secretariat", "dialogue-partner", "resource-panel"}));
  reg->add_option("--name", args->name, "Display name, e.g. \"Singapore Police Force - Cybercrime\"")->required();
  reg->add_option("--role", args->roles, "Extra role: admin or secretariat (repeatable)")
      ->check(CLI::IsMember({"admin", "secretariat"}));
  reg->footer(R"(Example:
  focal --key admin.key admin register sg-spf-cyber.key.pub --state SG \
      --institution law-enforcement --name "Singapore Police Force - Cybercrime"
Prints the directory-log index of the signed registration.)");
  table.add(reg, [&ctx, args] { return runRegister(ctx, *args); });

  auto rot = std::make_shared<RotateArgs>();
  auto* rotCmd = admin->add_subcommand("rotate", "Force a member's key change from their new FILE.pub (e.g. lost device)");
  rotCmd->add_option("member", rot->member, "Member id")->required();
  rotCmd->add_option("pubfile", rot->pubFile, "The member's new public key file (focal keygen)")
      ->required()
      ->check(CLI::ExistingFile);
  rotCmd->footer(R"(A new identity key in FILE.pub rotates both keys (the fingerprint changes),
otherwise only the encryption key. The entry is signed by your admin key.

Example:
  focal admin rotate my-pdrm-cyber my-pdrm-cyber-new.key.pub)");
  table.add(rotCmd, [&ctx, rot] { return runAdminRotate(ctx, *rot); });

  auto rev = std::make_shared<RevokeArgs>();
  auto* revCmd = admin->add_subcommand("revoke", "Revoke a member, or one of its keys, for good");
  revCmd->add_option("member", rev->member, "Member id")->required();
  revCmd->add_option("--key", rev->keyHex, "Revoke only this key (64 hex digits: identity or encryption key)");
  revCmd->add_option("--reason", rev->reason, "Why (recorded in the log, visible to every member)")->required();
  revCmd->footer(R"(From the log entry on the hub refuses authentication, sending and recipients on
the key; open sessions of the member are closed; clients refuse bulletins signed
by it after the revocation and mark earlier ones "signed by a key since revoked".

Examples:
  focal admin revoke xx-old-poc --reason "left the institution"
  focal admin revoke my-pdrm-cyber --key 3f2a... --reason "laptop stolen")");
  table.add(revCmd, [&ctx, rev] { return runAdminRevoke(ctx, *rev); });

  auto role = std::make_shared<RoleArgs>();
  auto* roleCmd = admin->add_subcommand("role", "Grant or remove the admin / secretariat role");
  roleCmd->add_option("member", role->member, "Member id")->required();
  roleCmd->add_option("--admin", role->admin, "yes|no")->check(CLI::IsMember({"yes", "no"}));
  roleCmd->add_option("--secretariat", role->secretariat, "yes|no")->check(CLI::IsMember({"yes", "no"}));
  roleCmd->footer("Example:\n  focal admin role sec-asean --secretariat yes");
  table.add(roleCmd, [&ctx, role] { return runAdminRole(ctx, *role); });

  auto* list = admin->add_subcommand("list", "Every member with status, roles and keys, from the verified log");
  list->footer("Example:\n  focal --json admin list | jq '.[] | select(.status == \"revoked\")'");
  table.add(list, [&ctx] { return runAdminList(ctx); });

  auto logFrom = std::make_shared<std::uint64_t>(0);
  auto* logCmd = admin->add_subcommand("log", "The directory log entries, as this client verified them");
  logCmd->add_option("--from", *logFrom, "First entry to show (default 0)");
  logCmd->footer("Example:\n  focal admin log --from 10\n  focal --json admin log | jq '.entries[] | select(.kind == \"revoke\")'");
  table.add(logCmd, [&ctx, logFrom] { return runAdminLog(ctx, *logFrom); });

  auto auditFrom = std::make_shared<std::uint64_t>(0);
  auto* auditCmd = admin->add_subcommand("audit", "The hub's audit trail (admins), with its hash chain verified");
  auditCmd->add_option("--from", *auditFrom, "First entry to show (the chain is always verified from 0)");
  auditCmd->footer(R"(Admin operations (accepted and refused) and authentication failures. The chain
is verified from entry 0 and against the last entry this profile saw, so an
edited, removed or truncated row is reported (exit code 3).

Example:
  focal admin audit --from 100
  focal --json admin audit | jq '.entries[] | select(.event == "auth.failure")')");
  table.add(auditCmd, [&ctx, auditFrom] { return runAdminAudit(ctx, *auditFrom); });

  addAdminQuorumCommands(*admin, ctx, table);
}

}  // namespace focal::client::cli

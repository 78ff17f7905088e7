// focal admin register: an admin adds a member (a signed directory-log event).
#include "client/cli_context.hpp"
#include "crypto/keyfile.hpp"

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

int runRegister(CliContext& ctx, const RegisterArgs& a) {
  std::ifstream in(a.pubFile);
  if (!in) throw std::runtime_error("cannot read " + a.pubFile);
  std::stringstream text;
  text << in.rdbuf();
  auto pk = crypto::parsePublicKeys(text.str());
  if (!pk) throw UsageError("bad-public-key", a.pubFile + ": " + crypto::describe(pk.error()));

  wire::Institution inst{};
  if (!parseInstitution(a.institution, inst)) throw UsageError("bad-institution", "unknown institution " + a.institution);
  std::string state = a.state;
  for (auto& ch : state) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  const bool needsState = inst == wire::Institution::LAW_ENFORCEMENT || inst == wire::Institution::POLICY_SECURITY;
  const bool noState = inst == wire::Institution::DIALOGUE_PARTNER || inst == wire::Institution::RESOURCE_PANEL;
  if (needsState && state.size() != 2) throw UsageError("bad-state", "--state CC (ISO 3166 alpha-2) is required for " + a.institution);
  if (noState && !state.empty()) throw UsageError("bad-state", a.institution + " members have no member state");
  if (!state.empty() && (state.size() != 2 || !std::isalpha(static_cast<unsigned char>(state[0])) ||
                         !std::isalpha(static_cast<unsigned char>(state[1])))) {
    throw UsageError("bad-state", "a member state is two letters, e.g. SG");
  }

  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  capnp::MallocMessageBuilder event;
  auto e = event.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(nowMs());
  auto reg = e.initRegister();
  auto m = reg.initMember();
  m.setId(pk->memberId);
  m.setName(a.name);
  m.setState(state);
  m.setInstitution(inst);
  for (const auto& r : a.roles) {
    if (r == "admin") m.setIsAdmin(true);
    if (r == "secretariat") m.setIsSecretariat(true);
  }
  auto k = reg.initKeys();
  k.setIdentityKey(protocol::kjBytes(pk->identity.view()));
  k.setEncryptionKey(protocol::kjBytes(pk->encryption.view()));
  k.setEncKeyCreatedAtMs(pk->createdAtMs);
  k.setEncKeyCert(protocol::kjBytes(pk->encCert.view()));
  const auto result = conn->admin(event);
  const auto fp = crypto::fingerprint(pk->memberId, pk->identity);
  if (ctx.out().json()) {
    ctx.out().document({{"member", pk->memberId}, {"index", result.index}, {"fingerprint", fp}});
  } else {
    ctx.out().line(fmt::format("Registered {} ({}) at log index {}.", pk->memberId, a.name, result.index));
    ctx.out().line(fmt::format("Fingerprint: {}  (compare it with the member out of band)", fp));
  }
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
                  "law-enforcement|policy-security|secretariat|dialogue-partner|resource-panel")
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
}

}  // namespace focal::client::cli

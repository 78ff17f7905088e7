// focal keygen: a new member key file (encrypted) and its public half.
#include "client/cli_context.hpp"
#include "crypto/keyfile.hpp"
#include "protocol/distribution.hpp"

#include <fmt/format.h>


namespace focal::client::cli {

namespace {

struct KeygenArgs {
  std::string member;
  std::string out;
  std::string kdf = "moderate";
};

int runKeygen(CliContext& ctx, const KeygenArgs& a) {
  // The address grammar's rule (protocol/distribution.hpp): the hub
  // registers no other id, so a key for one would be of no use. The syntax
  // keeps control and bidi characters out; a group word would make the
  // member unaddressable (and every "all" mean someone else).
  if (!protocol::isMemberIdSyntax(a.member)) {
    throw UsageError("bad-member-id", "a member id is 2-63 of [a-z0-9.-], starting with a letter or digit");
  }
  if (protocol::isGroupAddressWord(a.member)) {
    throw UsageError("bad-member-id", "'" + a.member + "' is a group address (members, partners, resource-panel, "
                                      "all); a member id must be another word");
  }
  crypto::KdfStrength strength = crypto::KdfStrength::Moderate;
  if (a.kdf == "interactive") strength = crypto::KdfStrength::Interactive;
  else if (a.kdf == "sensitive") strength = crypto::KdfStrength::Sensitive;
  const std::filesystem::path keyPath(a.out);
  const std::filesystem::path pubPath(a.out + ".pub");
  for (const auto& p : {keyPath, pubPath}) {
    if (std::filesystem::exists(p)) throw UsageError("exists", p.string() + " exists; refusing to overwrite it");
  }
  const std::string pass = ctx.passphrase(true);
  requireNewKeyPassphrase(pass, "a new key file");

  auto keys = crypto::MemberKeys::generate(a.member, nowMs());
  auto written = crypto::writeKeyFile(keyPath, keys, pass, strength);
  if (!written) throw std::runtime_error(keyPath.string() + ": " + crypto::describe(written.error()));
  const auto pub = keys.publicKeys();
  writeFileAtomic(pubPath, crypto::formatPublicKeys(pub), 0644);
  const auto fp = crypto::fingerprint(a.member, keys.identity.publicKey);
  if (ctx.out().json()) {
    ctx.out().document({{"member_id", a.member},
                        {"key_file", keyPath.string()},
                        {"public_key_file", pubPath.string()},
                        {"fingerprint", fp}});
  } else {
    ctx.out().line(fmt::format("Key for {} written to {} (keep it secret; it is encrypted with your passphrase).",
                               a.member, keyPath.string()));
    ctx.out().line(fmt::format("Public key written to {}: give it to your hub admin.", pubPath.string()));
    ctx.out().line(fmt::format("Fingerprint: {}", fp));
  }
  return ExitOk;
}

}  // namespace

void addKeygenCommand(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto args = std::make_shared<KeygenArgs>();
  auto* cmd = app.add_subcommand("keygen", "Create your member key file and its public key (FILE.pub)");
  cmd->add_option("--member", args->member, "Your member id, e.g. sg-spf-cyber")->required();
  cmd->add_option("--out", args->out, "Key file to write (mode 0600); FILE.pub is written beside it")->required();
  cmd->add_option("--kdf", args->kdf, "Passphrase hardening: interactive|moderate|sensitive (default moderate)")
      ->check(CLI::IsMember({"interactive", "moderate", "sensitive"}));
  cmd->footer(R"(Example:
  FOCAL_PASSPHRASE=... focal keygen --member sg-spf-cyber --out ~/.focal/sg-spf-cyber.key
Then send sg-spf-cyber.key.pub to the hub admin and compare the fingerprint with them
out of band. An existing file is never overwritten. The passphrase (FOCAL_PASSPHRASE,
or asked twice on the terminal) must have at least 12 characters.)");
  table.add(cmd, [&ctx, args] { return runKeygen(ctx, *args); });
}

}  // namespace focal::client::cli

// focal rotate-key / focal verify-log: a member replaces its own keys (a log
// entry signed by its current identity key), and a full check of the
// directory log from entry 0.
#include "client/agent_client.hpp"
#include "client/cli_context.hpp"
#include "protocol/admin_quorum.hpp"
#include "client/cmd_fork.hpp"
#include "client/client_error.hpp"
#include "client/log_changes.hpp"
#include "client/verified_log.hpp"
#include "crypto/keyfile.hpp"

#include <fmt/format.h>

#include <set>

#include <capnp/message.h>

namespace focal::client::cli {

namespace {

struct RotateArgs {
  std::string out;
  bool identity = false;
  std::string kdf = "moderate";
};

int runRotateKey(CliContext& ctx, const RotateArgs& a) {
  const std::filesystem::path keyPath(a.out);
  const std::filesystem::path pubPath(a.out + ".pub");
  for (const auto& p : {keyPath, pubPath}) {
    if (std::filesystem::exists(p)) throw UsageError("exists", p.string() + " exists; refusing to overwrite it");
  }
  crypto::KdfStrength strength = crypto::KdfStrength::Moderate;
  if (a.kdf == "interactive") strength = crypto::KdfStrength::Interactive;
  else if (a.kdf == "sensitive") strength = crypto::KdfStrength::Sensitive;

  auto keys = ctx.loadKeyFile();
  const std::string pass = ctx.passphrase();
  // The new file takes the current file's passphrase: refused before the
  // log is touched when that one is too short for a new file.
  requireNewKeyPassphrase(pass, "the new key file (it takes the current file's passphrase)");
  // Only from the member's current key file (per the log just verified): a
  // rotation from a stale one is still signed by a current identity key, but
  // the new file would miss the newer encryption secret, and every bulletin
  // sealed to it would become unreadable for good (issue 19, finding 1).
  auto conn = ctx.connect(keys, StaleKeyFile::Refuse);

  // The new file keeps every earlier encryption key, so bulletins already
  // queued for the old key stay readable with either file.
  auto fresh = crypto::MemberKeys::generate(keys.memberId, nowMs());
  const auto oldIdentity = keys.identity.publicKey;
  const auto oldEncryption = keys.encryption.publicKey;
  if (!a.identity) fresh.identity = std::move(keys.identity);
  fresh.previousEncryption.clear();
  fresh.previousEncryption.push_back(std::move(keys.encryption));
  for (auto& p : keys.previousEncryption) fresh.previousEncryption.push_back(std::move(p));
  const auto pub = fresh.publicKeys();

  capnp::MallocMessageBuilder event;
  auto e = event.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(nowMs());
  auto r = a.identity ? e.initRotateIdentity() : e.initRotateEncryption();
  r.setMemberId(protocol::asText(keys.memberId));
  r.setPreviousKey(protocol::kjBytes(a.identity ? oldIdentity.view() : oldEncryption.view()));
  auto k = r.initKeys();
  k.setIdentityKey(protocol::kjBytes(pub.identity.view()));
  k.setEncryptionKey(protocol::kjBytes(pub.encryption.view()));
  k.setEncKeyCreatedAtMs(pub.createdAtMs);
  k.setEncKeyCert(protocol::kjBytes(pub.encCert.view()));

  // The new key file exists before the log names its key, so a crash in
  // between never leaves a member with a logged key and no secret for it.
  auto written = crypto::writeKeyFile(keyPath, fresh, pass, strength);
  if (!written) throw std::runtime_error(keyPath.string() + ": " + crypto::describe(written.error()));
  writeFileAtomic(pubPath, crypto::formatPublicKeys(pub), 0644);
  AdminOutcome result;
  try {
    result = conn->admin(event);
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(keyPath, ec);
    std::filesystem::remove(pubPath, ec);
    throw;
  }
  // The profile's verified log takes in the rotation now, so a later
  // command (or failed login) with the old file is explained at once.
  try {
    conn->verifiedLog()->sync(*conn);
  } catch (const std::exception& e) {
    ctx.out().warning(fmt::format("the directory log after the rotation does not verify: {}", e.what()));
  }
  const auto fp = crypto::fingerprint(keys.memberId, pub.identity);
  // The old file is stale from here on. The profile remembers the new one
  // (so a command run with the old file names it), and a profile whose
  // `key` was the old file now points at the new one.
  std::error_code ec;
  auto absolutePath = std::filesystem::absolute(keyPath, ec).lexically_normal();
  if (ec) absolutePath = keyPath;
  ctx.profile().rememberKeyFile(keys.memberId, {absolutePath.string(), pub.identity, pub.encryption});
  // An agent unlocked with the old file holds keys that are not current
  // any more: it stops (focal unlock the new file).
  agent::lockAgent(ctx.agentSocket());
  bool profileUpdated = false;
  std::string profileError;
  if (ctx.keyFileIsProfileKey()) {
    try {
      auto settings = ctx.profile().settings();
      settings.key = absolutePath.string();
      ctx.profile().saveSettings(settings);
      profileUpdated = true;
    } catch (const std::exception& e) {
      profileError = e.what();  // the rotation is done: say so, and how to finish
    }
  }
  if (ctx.out().json()) {
    ctx.out().document({{"member_id", keys.memberId},
                        {"log_index", result.index},
                        {"rotated", a.identity ? "identity+encryption" : "encryption"},
                        {"key_file", keyPath.string()},
                        {"public_key_file", pubPath.string()},
                        {"fingerprint", fp},
                        {"profile_updated", profileUpdated}});
  } else {
    ctx.out().line(fmt::format("Rotated the {} key{} of {} at log index {}.", a.identity ? "identity and encryption" : "encryption",
                               a.identity ? "s" : "", safeLine(keys.memberId), result.index));
    ctx.out().line(fmt::format("New key file: {} (it also holds your earlier encryption keys).", keyPath.string()));
    if (profileUpdated) {
      ctx.out().line(fmt::format("Profile {} now uses it (it used {}).", ctx.profile().dir().string(), ctx.keyFilePath()));
    } else {
      ctx.out().line(fmt::format("Use it from now on: focal profile set --key {}", absolutePath.string()));
    }
    ctx.out().line(fmt::format("{} is stale now: rotate, and acknowledge, only with the new file.", ctx.keyFilePath()));
    if (a.identity) ctx.out().line(fmt::format("New fingerprint: {}  (tell your contacts)", fp));
  }
  if (!profileError.empty()) {
    ctx.out().warning(fmt::format("the profile still names {}: {}; run focal profile set --key {}", ctx.keyFilePath(),
                                  profileError, absolutePath.string()));
  }
  return ExitOk;
}

// "SIZE:ROOTHEX" as verify-log prints it, from another member, to rule out a
// split view: our verified log must have exactly that root at that size.
struct OtherHead {
  std::uint64_t size = 0;
  crypto::Hash256 root;
};

OtherHead parseOtherHead(const std::string& text) {
  const auto colon = text.find(':');
  std::optional<crypto::Hash256> root;
  std::uint64_t size = 0;
  if (colon != std::string::npos && colon > 0) {
    try {
      std::size_t used = 0;
      size = std::stoull(text.substr(0, colon), &used);
      if (used != colon) size = 0;
    } catch (const std::exception&) {
      size = 0;
    }
    if (auto bytes = crypto::fromHex(text.substr(colon + 1))) root = crypto::Hash256::fromBytes(*bytes);
  }
  if (size == 0 || !root) throw UsageError("bad-head", "--compare takes SIZE:ROOT as verify-log prints it, got '" + text + "'");
  return OtherHead{size, *root};
}

// The entries added since the head the profile held before this run, each
// marked when it is about the user or a member the user corresponded with
// (docs/json.md, focal verify-log: added_entries).
nlohmann::json addedEntries(CliContext& ctx, const VerifiedLog& log, const crypto::Keyring& keys) {
  nlohmann::json added = nlohmann::json::array();
  std::optional<std::set<std::string>> contacts;  // read only when an entry names a member
  for (std::uint64_t i = ctx.logBefore().size; i < log.size(); ++i) {
    const auto s = summarizeEntry(log.entries()[i]);
    if (!s.subjectId.empty() && !contacts) contacts = correspondents(ctx.profile().cacheDir(keys.memberId), keys.memberId);
    added.push_back({{"log_index", s.index},
                     {"kind", s.kind},
                     {"author_id", s.authorId},
                     {"member_id", jsonText(s.subjectId)},
                     {"recorded_at", jsonTime(s.recordedAtMs)},
                     {"about_you", s.subjectId == keys.memberId},
                     {"correspondent", contacts && contacts->contains(s.subjectId)}});
  }
  return added;
}

// verify-log's text lines for addedEntries (member ids through safeLine).
void printAddedEntries(CliContext& ctx, const nlohmann::json& added) {
  const auto before = ctx.logBefore();
  if (before.size == 0) {
    ctx.out().line("This profile had verified no head of this hub before this run (first verification).");
    return;
  }
  ctx.out().line(fmt::format("Consistent with the head this profile held before this run: {} entries, signed {}.",
                             before.size, formatTime(before.headTimeMs)));
  if (added.empty()) {
    ctx.out().line("No entries were added since.");
    return;
  }
  ctx.out().line(fmt::format("{} entr{} added since:", added.size(), added.size() == 1 ? "y" : "ies"));
  for (const auto& e : added) {
    const std::string member = e["member_id"].is_null() ? "" : e["member_id"].get<std::string>();
    ctx.out().line(fmt::format("  #{:<5} {:<17} by {:<20} {}{}", e["log_index"].get<std::uint64_t>(),
                               e["kind"].get<std::string>(), safeLine(e["author_id"].get<std::string>()),
                               member.empty() ? "" : "about " + safeLine(member),
                               e["about_you"].get<bool>()       ? "   <- ABOUT YOU"
                               : e["correspondent"].get<bool>() ? "   <- a member you corresponded with"
                                                                : ""));
  }
}

int runVerifyLog(CliContext& ctx, const std::vector<std::string>& compare) {
  std::vector<OtherHead> others;
  for (const auto& c : compare) others.push_back(parseOtherHead(c));
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);  // already checks consistency with the stored head
  const auto& log = *conn->verifiedLog();
  const auto report = conn->verifiedLog()->verifyAll(*conn);
  const auto& hubId = conn->session().hubId;
  const std::string head = fmt::format("{}:{}", report.entries, crypto::toHex(report.root));
  const auto added = addedEntries(ctx, log, keys);
  nlohmann::json comparisons = nlohmann::json::array();
  bool split = false;
  for (const auto& o : others) {
    std::string verdict;
    if (o.size > log.size()) {
      verdict = "newer";  // the hub has not shown us that head yet
    } else if (log.verifier().entryHashes()[o.size - 1] == o.root) {
      verdict = "consistent";
    } else {
      verdict = "split-view";
      split = true;
    }
    comparisons.push_back({{"head", fmt::format("{}:{}", o.size, crypto::toHex(o.root))}, {"result", verdict}});
  }
  if (ctx.out().json()) {
    ctx.out().document({{"hub_id", hubId},
                        {"verified", !split},
                        {"entry_count", report.entries},
                        {"previous_entry_count", ctx.logBefore().size},
                        {"previous_head_signed_at", jsonTime(ctx.logBefore().headTimeMs)},
                        {"added_entries", added},
                        {"head_signed_at", jsonTime(report.headTimeMs)},
                        {"root", crypto::toHex(report.root)},
                        {"head", head},
                        {"compared", comparisons},
                        {"bundle_pinned", log.pin().has_value()},
                        {"admin_quorum", log.verifier().adminPolicy().quorum}});
    if (log.verifier().adminPolicy().singleKey()) ctx.out().warning(protocol::singleAdminWarning(log.verifier().adminPolicy()));
  } else {
    const auto& admins = log.verifier().adminPolicy();
    if (admins.singleKey()) {
      ctx.out().warning(protocol::singleAdminWarning(admins));
    } else {
      ctx.out().line(fmt::format("Directory changes need {} admins of two member states (admin quorum).", admins.quorum));
    }
    ctx.out().line(fmt::format("Directory log of {} verified from entry 0: {} entries.", safeLine(hubId), report.entries));
    ctx.out().line("Every entry's signature and authority, the hash chain and the hub's signed head check out.");
    ctx.out().line(fmt::format("Head signed {}: {}", formatTime(report.headTimeMs), head));
    printAddedEntries(ctx, added);
    if (log.pin()) {
      ctx.out().line(fmt::format("Matches the enrolment bundle: genesis {}, extends its head at {} entries.",
                                 crypto::toHex(log.pin()->genesisHash).substr(0, 16), log.pin()->headSize));
    } else {
      ctx.out().line("No enrolment bundle is pinned: this profile trusted the first log it saw (focal profile init "
                     "--bundle).");
    }
    for (const auto& c : comparisons) {
      const std::string r = c["result"];
      ctx.out().line(fmt::format("  {}  {}", c["head"].get<std::string>(),
                                 r == "consistent" ? "consistent with your log"
                                 : r == "newer"    ? "newer than the hub showed you: compare again later"
                                                   : "SPLIT VIEW: your log has another root at that size"));
    }
    if (others.empty()) ctx.out().line("Compare the head with other members (--compare SIZE:ROOT) to rule out a split view.");
  }
  if (split) {
    // After the document: the exit code is what scripts act on.
    return ExitVerify;
  }
  return ExitOk;
}

}  // namespace

void addKeyCommands(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto args = std::make_shared<RotateArgs>();
  auto* rot = app.add_subcommand("rotate-key", "Replace your encryption key (or both keys) and log the change");
  rot->add_option("--out", args->out, "New key file to write (mode 0600); NEWFILE.pub is written beside it")
      ->required();
  rot->add_flag("--identity", args->identity, "Also replace the identity (signing) key; your fingerprint changes");
  rot->add_option("--kdf", args->kdf, "Passphrase hardening of the new file: interactive|moderate|sensitive")
      ->check(CLI::IsMember({"interactive", "moderate", "sensitive"}));
  rot->footer(R"(The rotation is a directory-log entry signed by your CURRENT identity key; every
client verifies it before sealing to your new key. The new file is encrypted with
the same passphrase and also holds your earlier encryption keys, so bulletins
already queued for the old key stay readable (with either file). A new key file
needs a passphrase of at least 12 characters: a shorter one is refused before
anything is logged.

Only your current key file may be rotated: a file an earlier rotation replaced
is refused (exit 1, stale-key-file), naming the log entry that replaced it and
the file that holds the current keys, since the new file would lack the newer
key's secret. If the profile's key setting was the rotated file, it is moved to
the new file. Lost the current file? Make a new key (focal keygen) and ask an
admin to run focal admin rotate.

Example:
  focal rotate-key --out ~/.focal/sg-spf-cyber-2.key)");
  table.add(rot, [&ctx, args] { return runRotateKey(ctx, *args); });

  auto compare = std::make_shared<std::vector<std::string>>();
  auto* verify = app.add_subcommand("verify-log", "Verify the hub's whole directory log from entry 0");
  verify->add_option("--compare", *compare,
                     "A head SIZE:ROOT another member's verify-log printed; exit 3 if your log differs (repeatable)");
  verify->footer(R"(Fetches every entry and checks each signature against the key state the log
itself establishes, the hash chain, the hub's signed head, and that the log
extends the head this profile verified before (no fork, rewrite or rollback).
Exit code 3 names the first inconsistency. Every command already checks the
entries that are new since the last connect; this re-checks everything.

A hub could still show different members different histories (a split view)
as long as no bulletin passes between them (see below) and they never compare.
Exchange the printed head SIZE:ROOT with other members over another channel
and check theirs with --compare: a head of the same hub at a size you have
must have exactly your root there.

Example:
  focal verify-log
  focal --json verify-log | jq -r .head
  focal verify-log --compare 412:9c0e...   # a head another member read out

Gossip and forks: every bulletin carries the sender's verified head inside its
encrypted content; your client checks it against your log. Two heads the hub
signed that cannot both be true are a FORK: the client records it (in
PROFILE/log/HUB/fork.json), shows both heads and refuses to seal or to accept
bulletins (exit 3) until you act:
  focal verify-log --proof-out fork-proof.json   # export it; send it to your admins
  focal verify-log --proof fork-proof.json       # anyone checks it: exit 0 = valid
  focal verify-log --clear-fork                  # after reading it: run commands again
--proof needs no hub or key: the proof names the hub key, compare it with yours.)");
  auto fork = std::make_shared<ForkArgs>();
  addForkOptions(verify, *fork);
  table.add(verify, [&ctx, compare, fork] { return fork->any() ? runForkOption(ctx, *fork) : runVerifyLog(ctx, *compare); });
}

}  // namespace focal::client::cli

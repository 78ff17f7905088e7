// focal verify-log --proof-out / --proof / --clear-fork (client/cmd_fork.hpp).
#include "client/cmd_fork.hpp"

#include "client/client_error.hpp"
#include "client/log_gossip.hpp"
#include "crypto/secure_file.hpp"
#include "protocol/distribution.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace focal::client::cli {

namespace fs = std::filesystem;

namespace {

// The log directories of this profile that hold a recorded fork.
std::vector<fs::path> forkedLogs(CliContext& ctx) {
  std::vector<fs::path> out;
  std::error_code ec;
  const auto root = ctx.profile().dir() / "log";
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (fs::exists(forkFile(it->path()))) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

fs::path onlyForkedLog(CliContext& ctx) {
  const auto logs = forkedLogs(ctx);
  if (logs.empty()) {
    throw UsageError("no-fork", fmt::format("no fork is recorded in profile {}", ctx.profile().dir().string()));
  }
  return logs.front();  // one hub per profile in practice; the first by hub id otherwise
}

nlohmann::json headJson(const protocol::ProofHeadFacts& h) {
  return {{"size", h.size}, {"root", crypto::toHex(h.root)}, {"signed_at", jsonTime(h.timeMs)}};
}

nlohmann::json factsJson(const protocol::ForkFacts& f) {
  return {{"hub_id", f.hubId},
          {"hub_key", crypto::toHex(f.hubKey)},
          {"smaller", headJson(f.smaller)},
          {"larger", headJson(f.larger)},
          {"larger_hash_at_smaller_size", crypto::toHex(f.largerHashAtSmallerSize)}};
}

// The hub key this profile verified for `hubId` (nullopt: none).
std::optional<crypto::SigningPublicKey> profileHubKey(CliContext& ctx, const std::string& hubId) {
  try {
    if (!protocol::isMemberIdSyntax(hubId) || !fs::exists(logStateDir(ctx.profile().dir(), hubId))) return std::nullopt;
    const auto log = VerifiedLog::load(ctx.profile().dir(), hubId);
    if (log.size() > 0) return log.verifier().hubKey();
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

int checkProofFile(CliContext& ctx, const std::string& file) {
  std::string text;
  try {
    const auto bytes = crypto::readFileLimited(file, protocol::MaxForkProofBytes);
    text.assign(bytes.begin(), bytes.end());
  } catch (const std::exception& e) {
    throw VerifyError(fmt::format("not a fork proof: {}", e.what()));
  }
  auto proof = protocol::parseForkProof(text);
  if (!proof) throw VerifyError(proof.error());
  auto facts = protocol::checkForkProof(*proof);
  if (!facts) throw VerifyError("not a fork proof: " + facts.error());
  const auto pinned = profileHubKey(ctx, facts->hubId);
  const bool matches = pinned && *pinned == facts->hubKey;
  if (ctx.out().json()) {
    auto j = factsJson(*facts);
    j["proof_valid"] = true;
    j["hub_key_matches_profile"] = pinned ? nlohmann::json(matches) : nlohmann::json(nullptr);
    j["note"] = proof->note;
    ctx.out().document(j);
    return ExitOk;
  }
  const auto& s = facts->smaller;
  const auto& l = facts->larger;
  ctx.out().line(fmt::format("VALID FORK PROOF: hub '{}' signed two conflicting heads of its directory log.",
                             safeLine(facts->hubId)));
  ctx.out().line(fmt::format("  head A: {} entries, root {}, signed {}", s.size, crypto::toHex(s.root), formatTime(s.timeMs)));
  ctx.out().line(fmt::format("  head B: {} entries, root {}, signed {}", l.size, crypto::toHex(l.root), formatTime(l.timeMs)));
  ctx.out().line(fmt::format("  B's log has entry {} = {}, A says {}.", s.size - 1,
                             crypto::toHex(facts->largerHashAtSmallerSize), crypto::toHex(s.root)));
  ctx.out().line(fmt::format("Signed by hub key {}.", crypto::toHex(facts->hubKey)));
  if (!pinned) {
    ctx.out().line("This profile has no verified log of that hub: compare the key with the one you pinned "
                   "(focald bundle, or your administrator).");
  } else {
    ctx.out().line(matches ? "That is the hub key this profile verified."
                           : "WARNING: that is NOT the hub key this profile verified: the proof is about another hub.");
  }
  if (!proof->note.empty()) ctx.out().line("Note (not verified): " + safeLine(proof->note));
  return ExitOk;
}

int exportProof(CliContext& ctx, const std::string& file) {
  const auto dir = onlyForkedLog(ctx);
  auto proof = loadRecordedFork(dir);
  auto facts = protocol::checkForkProof(*proof);
  if (!facts) throw VerifyError("the recorded fork's proof does not check: " + facts.error());
  crypto::writeFileAtomic(file, protocol::renderForkProof(*proof), 0644);
  if (ctx.out().json()) {
    auto j = factsJson(*facts);
    j["proof_file"] = file;
    ctx.out().document(j);
  } else {
    ctx.out().line(fmt::format("Wrote the fork proof of hub '{}' to {}.", safeLine(proof->hubId), file));
    ctx.out().line("Anyone can check it with: focal verify-log --proof " + file);
  }
  return ExitOk;
}

int clearFork(CliContext& ctx) {
  const auto dir = onlyForkedLog(ctx);
  const auto proof = loadRecordedFork(dir);
  const auto kept = dir / fmt::format("fork-cleared-{}.json", nowMs());
  fs::rename(forkFile(dir), kept);
  if (ctx.out().json()) {
    ctx.out().document({{"hub_id", proof->hubId}, {"cleared", true}, {"kept_as", kept.string()}});
  } else {
    ctx.out().line(fmt::format("Cleared the fork record of hub '{}'; the proof is kept as {}.",
                               safeLine(proof->hubId), kept.string()));
    ctx.out().line("This does not make the hub honest: the hub did sign both heads. Commands will use the log "
                   "this profile verified again; the next connect checks it against the hub as before.");
  }
  return ExitOk;
}

}  // namespace

void addForkOptions(CLI::App* verifyLog, ForkArgs& args) {
  auto* out = verifyLog->add_option("--proof-out", args.proofOut,
                                    "Write the fork this profile recorded as a proof anyone can check (JSON)");
  auto* check = verifyLog->add_option("--proof", args.proof,
                                      "Check a fork proof offline: exit 0 = the hub signed two conflicting heads, "
                                      "3 = not a proof");
  auto* clear = verifyLog->add_flag("--clear-fork", args.clearFork,
                                    "After reading the proof: clear the recorded fork so commands run again");
  out->excludes(check)->excludes(clear);
  check->excludes(clear);
}

int runForkOption(CliContext& ctx, const ForkArgs& args) {
  if (!args.proof.empty()) return checkProofFile(ctx, args.proof);
  if (!args.proofOut.empty()) return exportProof(ctx, args.proofOut);
  return clearFork(ctx);
}

}  // namespace focal::client::cli

// `focal witness --follow [--once]` (PROTOCOL.md §11.6): a member the log's
// witness policy names follows the hub's directory log, and cosigns each
// head whose log extends the last head it cosigned (client/witness_state.hpp
// keeps that head, written before the cosignature is sent). A head that
// conflicts with the one cosigned is refused, with both heads named, exit 3,
// and refused again after any restart.
#include "client/cli_context.hpp"
#include "client/output.hpp"
#include "client/verified_log.hpp"
#include "client/witness_state.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <thread>

namespace focal::client::cli {

namespace {

struct WitnessArgs {
  bool follow = false;
  bool once = false;
  double intervalSeconds = 30;
};

// A head already cosigned is cosigned again after this long, so the hub
// always holds a cosignature well inside the clients' freshness window.
constexpr std::int64_t RecosignAfterMs = 60LL * 60 * 1000;
// stalePosition answers (the log grew while cosigning) retried in a row.
constexpr int MaxCosignAttempts = 3;

struct WitnessRound {
  bool cosigned = false;
  std::uint64_t size = 0;
  crypto::Hash256 root;
  std::int64_t cosignedAtMs = 0;  // of the cosignature the hub now holds from us
};

// The policy must name this member with this key file's identity key.
void requireWitnessRole(const LogVerifier& log, const crypto::Keyring& keys) {
  const auto& policy = log.witnessPolicy();
  const protocol::WitnessKey* me = policy.find(keys.memberId);
  if (me == nullptr) {
    std::string named;
    for (const auto& w : policy.witnesses) named += (named.empty() ? "" : ", ") + w.memberId;
    throw HubError(wire::ErrorCode::FORBIDDEN,
                   fmt::format("{} is not a witness of hub {}'s log (its genesis names {})", keys.memberId, log.hubId(),
                               named.empty() ? "no witnesses" : named));
  }
  if (!(me->key == keys.identity.publicKey)) {
    throw HubError(wire::ErrorCode::FORBIDDEN,
                   fmt::format("the log names another key for witness {} than this key file's identity key",
                               keys.memberId));
  }
}

// One round on a synced log: check, remember, cosign, submit.
WitnessRound witnessOnce(CliContext& ctx, Connection& conn, const crypto::Keyring& keys) {
  auto& log = *conn.verifiedLog();
  requireWitnessRole(log.verifier(), keys);
  const auto stateFile = witnessStatePath(ctx.profile().dir(), log.verifier().hubId());
  const auto last = loadWitnessState(stateFile);
  if (last) {
    if (auto ok = extendsCosigned(*last, log.verifier()); !ok) {
      throw VerifyError("refusing to cosign: " + ok.error() + ". This witness never cosigns two conflicting heads; "
                        "keep both heads as evidence and tell the other member states");
    }
  }
  const SignedHeadBytes& head = *log.head();
  WitnessRound round{false, log.size(), log.verifier().root(), last ? last->cosignedAtMs : 0};
  const std::int64_t now = nowMs();
  const auto counted = log.witnessing(now);
  const bool served = std::find(counted.witnesses.begin(), counted.witnesses.end(), keys.memberId) !=
                      counted.witnesses.end();
  if (served && last && last->head == head.head && now - last->cosignedAtMs < RecosignAfterMs) return round;

  auto headSignature = crypto::Signature::fromBytes(head.signature);
  if (!headSignature) throw VerifyError("the hub's head signature is not 64 bytes");
  // SECURITY: the state names this head before the cosignature exists.
  saveWitnessState(stateFile, WitnessState{log.verifier().hubId(), log.size(), log.verifier().root(), head.head, now});
  conn.cosign(protocol::cosign(keys.memberId, head.head, *headSignature, now, *keys.ops()));
  round.cosigned = true;
  round.cosignedAtMs = now;
  return round;
}

// witnessOnce, syncing again when the hub's head moved on meanwhile.
WitnessRound witnessRound(CliContext& ctx, Connection& conn, const crypto::Keyring& keys) {
  for (int attempt = 1;; ++attempt) {
    try {
      return witnessOnce(ctx, conn, keys);
    } catch (const HubError& e) {
      if (e.code() != wire::ErrorCode::STALE_POSITION || attempt == MaxCosignAttempts) throw;
    }
    conn.verifiedLog()->sync(conn);
  }
}

void report(CliContext& ctx, const std::string& hubId, const WitnessRound& r) {
  if (ctx.out().json()) {
    ctx.out().jsonLine({{"hub_id", hubId},
                        {"size", r.size},
                        {"root", crypto::toHex(r.root)},
                        {"cosigned", r.cosigned},
                        {"cosigned_at", jsonTime(r.cosignedAtMs)}});
    return;
  }
  const auto root = crypto::toHex(r.root).substr(0, 16);
  ctx.out().line(r.cosigned ? fmt::format("Cosigned the head of hub {}: {} entries, root {}.", hubId, r.size, root)
                            : fmt::format("The head of hub {} ({} entries, root {}) already carries this witness's "
                                          "cosignature.",
                                          hubId, r.size, root));
}

int runWitness(CliContext& ctx, const WitnessArgs& a) {
  if (!a.follow) throw UsageError("usage", "focal witness needs --follow (with --once for a single round)");
  if (a.intervalSeconds < 1 || a.intervalSeconds > 3600) {
    throw UsageError("usage", "--interval is 1 to 3600 seconds");
  }
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);  // verifies the log from the profile's last head
  const std::string hubId = conn->session().hubId;
  report(ctx, hubId, witnessRound(ctx, *conn, keys));
  if (a.once) return ExitOk;
  const auto interval = std::chrono::milliseconds(static_cast<std::int64_t>(a.intervalSeconds * 1000));
  for (;;) {
    std::this_thread::sleep_for(interval);
    conn->verifiedLog()->sync(*conn);
    const auto r = witnessRound(ctx, *conn, keys);
    if (r.cosigned) report(ctx, hubId, r);
  }
}

}  // namespace

void addWitnessCommand(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto args = std::make_shared<WitnessArgs>();
  auto* cmd = app.add_subcommand("witness", "Witness the hub's directory log: cosign each head that extends the last");
  cmd->add_flag("--follow", args->follow, "Follow the log and cosign each new head (required)");
  cmd->add_flag("--once", args->once, "One round: verify, cosign the current head if needed, exit");
  cmd->add_option("--interval", args->intervalSeconds, "Seconds between checks for a new head (1-3600, default 30)");
  cmd->footer(R"(For a member the log's genesis names as a witness (focald init --witness), with
this key file's identity key. Each round verifies the whole log as every
client does, checks that it extends the head this witness cosigned last
(PROFILE/witness/HUBID.json, written before each cosignature is sent),
then cosigns the hub's current head and submits the cosignature. Clients
of a log with witnesses seal and accept nothing until the head carries
the threshold of fresh cosignatures.

A head that conflicts with the one cosigned (a second view of the log, a
rolled-back or rewritten log) is refused: both heads are printed, exit 3,
and the witness keeps refusing after a restart. Keep the state file.

Exit codes: 0 cosigned (or nothing new), 2 the hub refused (not a
witness: forbidden), 3 a conflicting head, 4 network or file error.
Example: focal witness --follow --once --json)");
  table.add(cmd, [&ctx, args] { return runWitness(ctx, *args); });
}

}  // namespace focal::client::cli

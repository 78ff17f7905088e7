// focal listen: wait for bulletins and print each as it arrives.
#include "client/bulletin_cache.hpp"
#include "client/cli_context.hpp"

#include <csignal>
#include <set>

namespace focal::client::cli {

namespace {

// How often listen verifies what the directory log gained (self-monitoring).
constexpr std::chrono::seconds LogCheckEvery{5};

volatile std::sig_atomic_t stopRequested = 0;
extern "C" void onStopSignal(int) { stopRequested = 1; }

struct ListenArgs {
  bool all = false;
};

int runListen(CliContext& ctx, const ListenArgs& a) {
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  auto cache = ctx.cache(keys);
  std::unique_ptr<HubDirectory> directory;
  std::set<std::pair<crypto::BulletinId, bool>> seen;  // pushes and the backlog may overlap; (id, retraction)
  std::uint64_t lastSeq = a.all ? 0 : ctx.lastSeq(keys);

  auto show = [&](const Delivery& d) {
    auto opened = openDelivery(*conn, directory, d, keys, cache);
    if (opened && !seen.insert({opened->id, d.retraction.has_value()}).second) return;
    if (ctx.out().json()) {
      ctx.out().jsonLine(summaryJson(d, opened));
    } else {
      ctx.out().line(summaryLine(d, opened));
      std::cout.flush();
    }
    if (d.seq > lastSeq) {
      lastSeq = d.seq;
      ctx.setLastSeq(keys, lastSeq);
    }
  };

  struct sigaction sa {};
  sa.sa_handler = onStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  // Subscribe first, then drain the backlog: nothing falls between the two.
  conn->subscribe();
  for (const auto& d : fetchAll(*conn, lastSeq)) show(d);
  if (!ctx.out().json()) std::cerr << "Listening for bulletins (Ctrl-C to stop)...\n";
  // Self-monitoring while listening: the log is checked every few seconds,
  // so an entry about this member that it did not sign shows at once.
  auto nextLogCheck = std::chrono::steady_clock::now() + LogCheckEvery;
  while (stopRequested == 0) {
    auto d = conn->nextPush(std::chrono::milliseconds(250));
    if (d) show(*d);
    if (std::chrono::steady_clock::now() >= nextLogCheck) {
      ctx.recheckSelf(*conn, keys);
      nextLogCheck = std::chrono::steady_clock::now() + LogCheckEvery;
    }
  }
  return ExitOk;
}

}  // namespace

void addListenCommand(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto a = std::make_shared<ListenArgs>();
  auto* cmd = app.add_subcommand("listen", "Wait for bulletins and print each as it arrives (until Ctrl-C)");
  cmd->add_flag("--all", a->all, "Start with every bulletin still queued, not only those not fetched before");
  cmd->footer(R"(Prints the backlog first (bulletins this profile has not fetched yet), then each
new bulletin as the hub pushes it. With --json: one JSON object per line.

Example:
  focal --json listen | while read -r line; do notify "$line"; done)");
  table.add(cmd, [&ctx, a] { return runListen(ctx, *a); });
}

}  // namespace focal::client::cli

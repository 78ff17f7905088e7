// focal inbox: every bulletin waiting in your queue, decrypted locally for
// its title.
#include "client/bulletin_cache.hpp"
#include "client/cli_context.hpp"

#include <fmt/format.h>

namespace focal::client::cli {

namespace {

int runInbox(CliContext& ctx) {
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  auto cache = ctx.cache(keys);
  std::unique_ptr<HubDirectory> directory;
  const auto deliveries = fetchAll(*conn, 0);
  nlohmann::json list = nlohmann::json::array();
  std::uint64_t maxSeq = 0;
  for (const auto& d : deliveries) {
    maxSeq = std::max(maxSeq, d.seq);
    // Verified, and kept (still encrypted) so `focal read` works after ack.
    auto opened = openDelivery(*conn, directory, d, keys, cache);
    if (ctx.out().json()) {
      list.push_back(summaryJson(d, opened));
    } else {
      ctx.out().line(summaryLine(d, opened));
    }
  }
  if (maxSeq > ctx.lastSeq(keys)) ctx.setLastSeq(keys, maxSeq);
  if (ctx.out().json()) {
    ctx.out().document(list);
  } else if (deliveries.empty()) {
    ctx.out().line("No bulletins waiting.");
  } else {
    ctx.out().line(fmt::format("{} bulletin(s). Read one with: focal read ID", deliveries.size()));
  }
  return ExitOk;
}

}  // namespace

void addInboxCommand(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto* cmd = app.add_subcommand("inbox", "List the bulletins waiting for you (oldest first)");
  cmd->footer(R"(Lists id, sender, TLP, priority, time received and title (titles are decrypted
locally; a bulletin that does not verify is listed as CANNOT VERIFY with the reason).
Bulletins stay in the queue until you acknowledge them with focal ack.

Example:
  focal inbox
  focal --json inbox | jq '.[] | select(.tlp == "RED")')");
  table.add(cmd, [&ctx] { return runInbox(ctx); });
}

}  // namespace focal::client::cli

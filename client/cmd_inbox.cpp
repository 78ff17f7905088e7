// focal inbox: every bulletin waiting in your queue, decrypted locally for
// its title.
#include "client/bulletin_cache.hpp"
#include "client/cli_context.hpp"
#include "client/cmd_admin_quorum.hpp"

#include <fmt/format.h>

#include <map>

namespace focal::client::cli {

namespace {

int runInbox(CliContext& ctx) {
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  warnPendingRotations(ctx, *conn, keys.memberId);
  auto cache = ctx.cache(keys);
  std::unique_ptr<HubDirectory> directory;
  const auto deliveries = fetchAll(*conn, 0);
  // One row per bulletin: a retracted bulletin is queued twice (the bulletin
  // and the retraction announcement, PROTOCOL.md §12.3) and listed once, at
  // its first place, marked retracted. Every delivery is opened first, so the
  // row carries a retraction that arrived after the bulletin.
  struct Row {
    const Delivery* delivery;
    Expected<OpenedMessage, std::string> opened;
    bool retractionQueued;
  };
  std::vector<Row> rows;
  std::map<crypto::BulletinId, std::size_t> rowOf;
  std::uint64_t maxSeq = 0;
  for (const auto& d : deliveries) {
    maxSeq = std::max(maxSeq, d.seq);
    // Verified, and kept (still encrypted) so `focal read` works after ack.
    auto opened = openDelivery(*conn, directory, d, keys, cache);
    const auto claimed = d.bulletin.claimedId();
    auto it = claimed ? rowOf.find(*claimed) : rowOf.end();
    if (it == rowOf.end()) {
      if (claimed) rowOf.emplace(*claimed, rows.size());
      rows.push_back(Row{&d, std::move(opened), d.retraction.has_value()});
      continue;
    }
    auto& row = rows[it->second];
    row.retractionQueued = row.retractionQueued || d.retraction.has_value();
    // The later opening knows everything the earlier did, and the retraction.
    if (opened || !row.opened) row.opened = std::move(opened);
  }
  const auto contacts = ctx.contacts(keys);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& row : rows) {
    if (ctx.out().json()) {
      list.push_back(summaryJson(*row.delivery, row.opened, row.retractionQueued, &contacts));
    } else {
      ctx.out().line(summaryLine(*row.delivery, row.opened, &contacts));
    }
  }
  if (maxSeq > ctx.lastSeq(keys)) ctx.setLastSeq(keys, maxSeq);
  if (ctx.out().json()) {
    ctx.out().document(list);
  } else if (rows.empty()) {
    ctx.out().line("No bulletins waiting.");
  } else {
    ctx.out().line(fmt::format("{} bulletin(s). Read one with: focal read ID", rows.size()));
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
  focal --json inbox | jq '.[] | select(.tlp == "TLP:RED")')");
  table.add(cmd, [&ctx] { return runInbox(ctx); });
}

}  // namespace focal::client::cli

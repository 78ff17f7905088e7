// focal ack / focal status: the delivery side of a bulletin's life.
#include "client/bulletin_cache.hpp"
#include "client/cli_context.hpp"
#include "protocol/names.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <set>

namespace focal::client::cli {

namespace {

int runAck(CliContext& ctx, const std::vector<std::string>& hexIds) {
  std::vector<crypto::BulletinId> ids;
  for (const auto& h : hexIds) ids.push_back(bulletinIdArg(ctx, h));
  auto keys = ctx.loadKeys();
  // Refused with a stale key file: a bulletin sealed to the newer key does
  // not open with it, so it was never cached, and the ack would remove the
  // only copy from the hub.
  auto conn = ctx.connect(keys, StaleKeyFile::Refuse);
  // An ack removes every queue entry of an id, a retraction announcement
  // included (PROTOCOL.md §12.3). So any queued announcement of these ids is
  // verified and kept in the cache first: acknowledging never swallows a
  // retraction unseen, and focal read shows it afterwards.
  auto cache = ctx.cache(keys);
  std::unique_ptr<HubDirectory> dir;
  std::vector<std::pair<std::string, std::string>> retracted;  // id, reason
  std::set<crypto::BulletinId> queued;
  for (const auto& d : fetchAll(*conn, 0)) {
    const auto claimed = d.bulletin.claimedId();
    if (claimed) queued.insert(*claimed);
    if (!d.retraction || !claimed || std::find(ids.begin(), ids.end(), *claimed) == ids.end()) continue;
    auto opened = openDelivery(*conn, dir, d, keys, cache);
    if (opened && opened->retraction) retracted.emplace_back(crypto::toHex(*claimed), opened->retraction->reason);
  }
  // Only what is queued is acknowledged; an id that is not (unknown, or
  // acknowledged before) is reported as not found, never counted as done.
  std::vector<crypto::BulletinId> known;
  std::vector<std::string> acknowledged;
  std::vector<std::string> notFound;
  for (const auto& id : ids) {
    const auto hex = crypto::toHex(id);
    if (!queued.contains(id)) {
      if (std::find(notFound.begin(), notFound.end(), hex) == notFound.end()) notFound.push_back(hex);
    } else if (std::find(known.begin(), known.end(), id) == known.end()) {
      known.push_back(id);
      acknowledged.push_back(hex);
    }
  }
  const std::uint32_t removed = known.empty() ? 0U : conn->ack(known);
  ctx.archiveAcknowledged(keys, known);
  if (ctx.out().json()) {
    nlohmann::json r = nlohmann::json::array();
    for (const auto& [id, reason] : retracted) r.push_back({{"bulletin_id", id}, {"reason", reason}});
    ctx.out().document({{"acknowledged_ids", acknowledged},
                        {"not_found_ids", notFound},
                        {"removed", removed},
                        {"retracted", r}});
  } else {
    if (!known.empty()) {
      ctx.out().line(fmt::format("Acknowledged {} bulletin(s); {} removed from your queue.", known.size(), removed));
    }
    for (const auto& [id, reason] : retracted) {
      ctx.out().line(fmt::format("Note: {} was RETRACTED by its sender: {}", id, safeLine(reason)));
    }
    for (const auto& id : notFound) {
      std::cerr << fmt::format("focal: not-found: {} is not in your queue (unknown, or acknowledged before)\n", id);
    }
  }
  // After the document: the exit code is what scripts act on.
  return notFound.empty() ? ExitOk : ExitNotFound;
}

int runStatus(CliContext& ctx, const std::string& hexId) {
  const auto id = bulletinIdArg(ctx, hexId);
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const auto states = conn->status(id);
  if (ctx.out().json()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& s : states) {
      list.push_back({{"member_id", s.memberId},
                      {"state", protocol::deliveryStateName(s.state)},
                      {"queued_at", jsonTime(s.queuedAtMs)},
                      {"delivered_at", jsonTime(s.deliveredAtMs)},
                      {"acknowledged_at", jsonTime(s.ackedAtMs)}});
    }
    ctx.out().document({{"bulletin_id", crypto::toHex(id)}, {"recipients", list}});
    return ExitOk;
  }
  ctx.out().line(fmt::format("{:<24} {:<13} {:<21} {:<21} {}", "RECIPIENT", "STATE", "QUEUED", "DELIVERED", "ACKNOWLEDGED"));
  for (const auto& s : states) {
    ctx.out().line(fmt::format("{:<24} {:<13} {:<21} {:<21} {}", safeLine(s.memberId), protocol::deliveryStateName(s.state),
                               formatTime(s.queuedAtMs), formatTime(s.deliveredAtMs), formatTime(s.ackedAtMs)));
  }
  return ExitOk;
}

}  // namespace

void addDeliveryCommands(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto ackIds = std::make_shared<std::vector<std::string>>();
  auto* ack = app.add_subcommand("ack", "Acknowledge bulletins (one signature covers the batch)");
  ack->add_option("ids", *ackIds, "Bulletin ids (32 hex digits each, or unique first 6 or more)")->required();
  ack->footer(R"(An acknowledged bulletin leaves your queue at the hub; the sender sees it as
acknowledged in focal status. focal read still works from the local cache.
A retraction queued for an acknowledged bulletin is verified and kept first (and
reported), so the acknowledgement does not hide it. An id that is not in your
queue (unknown, or acknowledged before) is reported and not acknowledged; the
others are, and the exit code is then 5 (not found).

Example:
  focal ack 0f3c9a1e5b7d2c4f6a8e0b1d3f5a7c9e 7d2c4f6a8e0b1d3f5a7c9e0f3c9a1e5b)");
  table.add(ack, [&ctx, ackIds] { return runAck(ctx, *ackIds); });

  auto statusId = std::make_shared<std::string>();
  auto* status = app.add_subcommand("status", "Delivery state of a bulletin you sent, per recipient");
  status->add_option("id", *statusId, "Bulletin id (32 hex digits, printed by focal send; or a unique first 6 or more)")->required();
  status->footer(R"(States: queued (waiting at the hub), delivered (handed to the recipient's
client), acknowledged (the recipient signed an acknowledgement). The hub answers
with what it has done: a bulletin the recipient has fetched or been pushed shows
delivered at once, and an acknowledged one always has a delivered time (the ack
time when the hub never handed it out).

Example:
  focal status 0f3c9a1e5b7d2c4f6a8e0b1d3f5a7c9e)");
  table.add(status, [&ctx, statusId] { return runStatus(ctx, *statusId); });
}

}  // namespace focal::client::cli

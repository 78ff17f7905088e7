// focal ack / focal status: the delivery side of a bulletin's life.
#include "client/bulletin_cache.hpp"
#include "client/cli_context.hpp"
#include "client/delivery_opener.hpp"
#include "client/key_directory.hpp"
#include "client/log_gossip.hpp"
#include "protocol/names.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <set>

namespace focal::client::cli {

namespace {

// The sealed head an ack carries for each of `ids` (gossip, PROTOCOL.md
// §11.4): this client's verified head, signed for the bulletin and sealed
// to its sender's current encryption key. A sender the directory does not
// know (or no longer lists as usable) gets none to read: the head is sealed
// to this member's own key instead, so every ack has the same layout and
// the hub cannot tell which heads reach a checker.
std::vector<crypto::Bytes> ackHeads(Connection& conn, std::unique_ptr<HubDirectory>& dir,
                                    const std::vector<crypto::BulletinId>& ids,
                                    const std::map<crypto::BulletinId, std::string>& senders,
                                    const crypto::Keyring& keys) {
  const auto head = headToCarry(conn);
  if (!head) return {};
  if (!dir) dir = std::make_unique<HubDirectory>(HubDirectory::fetch(conn));
  std::vector<crypto::Bytes> heads;
  heads.reserve(ids.size());
  for (const auto& id : ids) {
    const MemberRecord* sender = dir->find(senders.at(id));
    const auto& to = sender != nullptr && sender->usable() ? sender->encryptionKey : keys.encryption.publicKey;
    heads.push_back(protocol::sealCarriedHead(protocol::HeadCarrier::Ack, id.view(), *head, to, keys));
  }
  return heads;
}

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
  std::map<crypto::BulletinId, std::string> queued;  // id -> the sender its header claims
  for (const auto& d : fetchAll(*conn, 0)) {
    const auto claimed = d.bulletin.claimedId();
    if (claimed) queued.emplace(*claimed, d.bulletin.claimedSender().value_or(""));
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
  const std::uint32_t removed = known.empty() ? 0U : conn->ack(known, ackHeads(*conn, dir, known, queued, keys));
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

// The heads the recipients' acks carried, sealed to us (gossip, PROTOCOL.md
// §11.4), each checked against our verified log (synced first when one is
// larger). A fork is recorded and thrown (VerifyError, exit 3).
std::vector<CarriedHeadCheck> checkAckHeads(Connection& conn, const crypto::BulletinId& id,
                                            const std::vector<RecipientState>& states, const crypto::Keyring& keys) {
  std::vector<CarriedHeadCheck> out(states.size(), CarriedHeadCheck::None);
  const bool any = std::any_of(states.begin(), states.end(), [](const auto& s) { return !s.ackHead.empty(); });
  if (!any) return out;
  const auto dir = HubDirectory::fetch(conn);  // syncs the verified log to the hub's head
  for (std::size_t i = 0; i < states.size(); ++i) {
    if (states[i].ackHead.empty()) continue;
    const MemberRecord* author = dir.find(states[i].memberId);
    if (author == nullptr || !dir.verifiedLog()) {
      out[i] = CarriedHeadCheck::Invalid;
      continue;
    }
    out[i] = checkSealedHead(*dir.verifiedLog(), protocol::HeadCarrier::Ack, states[i].ackHead, id.view(), *author, keys,
                             fmt::format("the ack of {} on bulletin {}", states[i].memberId, crypto::toHex(id)));
  }
  return out;
}

int runStatus(CliContext& ctx, const std::string& hexId) {
  const auto id = bulletinIdArg(ctx, hexId);
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  std::int64_t purgedAtMs = 0;
  const auto states = conn->status(id, &purgedAtMs);
  if (purgedAtMs != 0) {
    // Retention purged it: the hub keeps only that it did, and when.
    if (ctx.out().json()) {
      ctx.out().document({{"bulletin_id", crypto::toHex(id)},
                          {"recipients", nlohmann::json::array()},
                          {"expired", true},
                          {"purged_at", jsonTime(purgedAtMs)}});
    } else {
      ctx.out().line(fmt::format("{}: expired. The hub purged it under its retention policy on {}; it no longer "
                                 "holds the bulletin, its attachments or the recipients' states.",
                                 crypto::toHex(id), formatTime(purgedAtMs)));
    }
    return ExitOk;
  }
  const auto checks = checkAckHeads(*conn, id, states, keys);
  if (ctx.out().json()) {
    nlohmann::json list = nlohmann::json::array();
    for (std::size_t i = 0; i < states.size(); ++i) {
      const auto& s = states[i];
      list.push_back({{"member_id", s.memberId},
                      {"state", protocol::deliveryStateName(s.state)},
                      {"queued_at", jsonTime(s.queuedAtMs)},
                      {"delivered_at", jsonTime(s.deliveredAtMs)},
                      {"acknowledged_at", jsonTime(s.ackedAtMs)},
                      {"ack_head", carriedHeadCheckName(checks[i])}});
    }
    ctx.out().document(
        {{"bulletin_id", crypto::toHex(id)}, {"recipients", list}, {"expired", false}, {"purged_at", nullptr}});
    return ExitOk;
  }
  ctx.out().line(fmt::format("{:<24} {:<13} {:<21} {:<21} {}", "RECIPIENT", "STATE", "QUEUED", "DELIVERED", "ACKNOWLEDGED"));
  for (const auto& s : states) {
    ctx.out().line(fmt::format("{:<24} {:<13} {:<21} {:<21} {}", safeLine(s.memberId), protocol::deliveryStateName(s.state),
                               formatTime(s.queuedAtMs), formatTime(s.deliveredAtMs), formatTime(s.ackedAtMs)));
  }
  for (std::size_t i = 0; i < states.size(); ++i) {
    if (checks[i] == CarriedHeadCheck::Unconfirmed) {
      ctx.out().line(fmt::format("Note: {}'s ack carried a log head larger than the hub serves you (unconfirmed: "
                                 "the hub may be behind, or hiding entries from you)",
                                 safeLine(states[i].memberId)));
    } else if (checks[i] == CarriedHeadCheck::Invalid) {
      ctx.out().line(fmt::format("Note: {}'s ack carried a log head that does not open or verify (no evidence either way)",
                                 safeLine(states[i].memberId)));
    }
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
others are, and the exit code is then 5 (not found). Each acknowledgement
carries the directory log head you verified, signed and sealed to the
bulletin's sender, who checks it against its own log (a hub that shows the
two of you different logs is caught, PROTOCOL.md 11.4).

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
time when the hub never handed it out). The log head each recipient's
acknowledgement carried is checked against your log: a conflict is a FORK
(exit 3, see focal verify-log); "unconfirmed" or "invalid" heads are noted.
A bulletin the hub purged under its retention policy (focal.toml [retention])
shows as expired, with the time of the purge.

Example:
  focal status 0f3c9a1e5b7d2c4f6a8e0b1d3f5a7c9e)");
  table.add(status, [&ctx, statusId] { return runStatus(ctx, *statusId); });
}

}  // namespace focal::client::cli

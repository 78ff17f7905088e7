// focal needs: the needs member states surfaced, with the offers bound to
// them and whether the owning state marked one met (PROTOCOL.md §12.9;
// terms of reference §4(c)-(e)). Built, like focal thread, from the
// verified bulletins in the member's queue and local cache. The hub cannot
// see a category (it is content): the rules are the verifying client's.
#include "client/bulletin_cache.hpp"
#include "client/cli_context.hpp"
#include "client/client_error.hpp"
#include "client/delivery_opener.hpp"
#include "protocol/consensus.hpp"

#include <fmt/format.h>

namespace focal::client::cli {

namespace {

struct NeedView {
  OpenedMessage need;
  std::vector<OpenedMessage> offers;
  std::optional<OpenedMessage> met;           // the first valid met notice
  std::vector<std::pair<OpenedMessage, std::string>> refusedNotices;
};

// Why a met notice on `need` is not to be believed ("" when it is): its
// author a point of contact of the need's owning state, naming one of the
// need's offers.
std::string metRefusal(const KeyDirectory& directory, const NeedView& v, const OpenedMessage& notice) {
  const MemberRecord* owner = directory.find(v.need.senderId);
  const MemberRecord* by = directory.find(notice.senderId);
  if (owner == nullptr || by == nullptr ||
      !protocol::isStatePoc(protocol::StateSeat{by->state, by->institution, by->active}) || by->state != owner->state) {
    return notice.senderId + " is not a point of contact of the state that owns the need";
  }
  for (const auto& o : v.offers) {
    if (o.id == *notice.metOffer) return {};
  }
  return "it names no offer on this need";
}

nlohmann::json messageJson(const OpenedMessage& m) {
  return {{"bulletin_id", crypto::toHex(m.id)},
          {"sender", senderJson(m.senderId, m.senderName, m.senderFingerprint)},
          {"created_at", jsonTime(m.createdAtMs)},
          {"title", m.title},
          {"body", m.body}};
}

int runNeeds(CliContext& ctx, bool openOnly) {
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  auto cache = ctx.cache(keys);
  std::unique_ptr<HubDirectory> dir;
  for (const auto& d : fetchAll(*conn, 0)) (void)openDelivery(*conn, dir, d, keys, cache);
  std::map<crypto::BulletinId, NeedView> needs;
  std::vector<OpenedMessage> offers;
  std::vector<OpenedMessage> notices;
  for (const auto& cid : cache.ids()) {
    auto raw = cache.get(cid);
    if (!raw) continue;
    auto m = openCached(*conn, dir, *raw, cid, keys, cache);
    if (!m || m->retraction) continue;  // only verified, unretracted bulletins count
    if (m->category == wire::Category::NEED && !m->replyTo) {
      const auto id = m->id;
      needs[id].need = std::move(*m);
    } else if (m->replyTo && m->category == wire::Category::OFFER) {
      offers.push_back(std::move(*m));
    } else if (m->replyTo && m->category == wire::Category::NEED && m->metOffer) {
      notices.push_back(std::move(*m));
    }
  }
  auto byTime = [](const auto& x, const auto& y) { return x.createdAtMs < y.createdAtMs; };
  std::sort(offers.begin(), offers.end(), byTime);
  std::sort(notices.begin(), notices.end(), byTime);
  for (auto& m : offers) {
    auto it = needs.find(*m.replyTo);
    if (it != needs.end()) it->second.offers.push_back(std::move(m));
  }
  const auto directory = HubDirectory::fetch(*conn);
  for (auto& m : notices) {
    auto it = needs.find(*m.replyTo);
    if (it == needs.end()) continue;
    auto why = metRefusal(directory, it->second, m);
    if (!why.empty()) {
      it->second.refusedNotices.emplace_back(std::move(m), why);
    } else if (!it->second.met) {
      it->second.met.emplace(std::move(m));
    }
  }
  std::vector<const NeedView*> order;
  for (const auto& [id, v] : needs) {
    if (!openOnly || !v.met) order.push_back(&v);
  }
  std::sort(order.begin(), order.end(), [](auto* x, auto* y) { return x->need.createdAtMs < y->need.createdAtMs; });
  if (ctx.out().json()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto* v : order) {
      auto j = messageJson(v->need);
      j["tlp"] = jsonTlp(tlpName(v->need.tlp));
      j["status"] = v->met ? "met" : "open";
      j["met_by_offer_id"] = v->met ? nlohmann::json(crypto::toHex(*v->met->metOffer)) : nullptr;
      j["met_at"] = v->met ? jsonTime(v->met->createdAtMs) : nullptr;
      j["met_by_id"] = v->met ? nlohmann::json(v->met->senderId) : nullptr;
      nlohmann::json offers = nlohmann::json::array();
      for (const auto& o : v->offers) offers.push_back(messageJson(o));
      j["offers"] = offers;
      nlohmann::json refused = nlohmann::json::array();
      for (const auto& [m, why] : v->refusedNotices) {
        refused.push_back({{"bulletin_id", crypto::toHex(m.id)}, {"sender_id", m.senderId}, {"reason", why}});
      }
      j["refused_notices"] = refused;
      list.push_back(std::move(j));
    }
    ctx.out().document({{"needs", list}});
    return ExitOk;
  }
  if (order.empty()) ctx.out().note(openOnly ? "No open needs." : "No needs.");
  for (const auto* v : order) {
    const auto& n = v->need;
    ctx.out().line(fmt::format("{}  {}  TLP:{}  from {}  {}", crypto::toHex(n.id), v->met ? "MET " : "OPEN",
                               tlpName(n.tlp), safeLine(n.senderId), safeLine(n.title)));
    for (const auto& o : v->offers) {
      const bool metBy = v->met && *v->met->metOffer == o.id;
      ctx.out().line(fmt::format("    offer {}  from {}  {}{}", crypto::toHex(o.id), safeLine(o.senderId),
                                 safeLine(o.title), metBy ? "  <- met the need" : ""));
    }
    if (v->met) {
      ctx.out().line(fmt::format("    met: marked by {} on {}", safeLine(v->met->senderId), formatTime(v->met->createdAtMs)));
    }
    for (const auto& [m, why] : v->refusedNotices) {
      ctx.out().line(fmt::format("    REFUSED met notice {}: {}", crypto::toHex(m.id), safeLine(why)));
    }
  }
  return ExitOk;
}

}  // namespace

void addNeedCommands(CLI::App& app, CliContext& ctx, CommandTable& table) {
  addNeedSendCommands(app, ctx, table);
  auto open = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("needs", "The needs member states surfaced, with their offers, verified");
  cmd->add_flag("--open", *open, "Only needs not marked met");
  cmd->footer(R"(Built from the verified bulletins in your queue and local cache (what you received
or sent). A need is met when a point of contact of the state that surfaced it
names one of its offers (focal need-met); a notice from anyone else is shown as
REFUSED and not believed.

Example:
  focal needs --open)");
  table.add(cmd, [&ctx, open] { return runNeeds(ctx, *open); });
}

}  // namespace focal::client::cli

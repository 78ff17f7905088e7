// focal alarms: the self-monitoring alarms this profile raised
// (client/self_monitor.hpp), listed and acknowledged. Needs no key file and
// no hub: the alarms are in PROFILE/alarms.json.
#include "client/cli_context.hpp"
#include "client/self_monitor.hpp"

#include <fmt/format.h>

namespace focal::client::cli {

namespace {

struct AlarmsArgs {
  std::string ack;
  bool all = false;
};

nlohmann::json alarmJson(const Alarm& a) {
  return {{"alarm_id", a.id},          {"hub_id", a.hubId},       {"member_id", a.memberId},
          {"log_index", a.logIndex},    {"kind", a.kind},          {"author_id", a.authorId},
          {"reason", jsonText(a.reason)}, {"recorded_at", jsonTime(a.recordedAtMs)},
          {"raised_at", jsonTime(a.raisedAtMs)}};
}

int runAlarms(CliContext& ctx, const AlarmsArgs& a) {
  AlarmStore store(ctx.profile().dir());
  if (a.all || !a.ack.empty()) {
    if (a.all && !a.ack.empty()) throw UsageError("usage", "give --ack ID or --all, not both");
    const auto removed = store.acknowledge(a.all ? std::nullopt : std::optional<std::string_view>(a.ack));
    if (!a.all && removed.empty()) throw NotFoundError("no alarm " + a.ack + " (see focal alarms)");
    if (ctx.out().json()) {
      ctx.out().document({{"acknowledged_ids", removed}, {"remaining", store.list().size()}});
    } else {
      ctx.out().line(fmt::format("Acknowledged {} alarm(s); {} remain.", removed.size(), store.list().size()));
    }
    return ExitOk;
  }
  const auto alarms = store.list();
  const auto dropped = store.dropped();
  if (ctx.out().json()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& x : alarms) list.push_back(alarmJson(x));
    ctx.out().document({{"alarms", list}, {"dropped", dropped}});
    return ExitOk;
  }
  if (alarms.empty()) ctx.out().line("No alarms: no entry about you that you did not sign since this profile began watching.");
  for (const auto& x : alarms) ctx.out().line(describeAlarm(x));
  if (dropped > 0) {
    ctx.out().line(fmt::format("{} older alarm(s) were dropped for room (at most {} are kept): check focal admin log.",
                               dropped, AlarmStore::MaxAlarms));
  }
  return ExitOk;
}

}  // namespace

void addAlarmsCommand(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto* cmd = app.add_subcommand("alarms", "List or acknowledge alarms about directory-log entries on your member id");
  cmd->footer(R"(Every command checks each new directory-log entry about your member id. One you did
not sign with a key file this profile knows (an admin rotated or revoked your keys,
changed your roles, registered your id again) raises an alarm, printed on stderr by
every command until you acknowledge it here. The hub cannot hide such an entry: it
is in the verified log, or the log does not verify. If you did not ask for the
change, tell the other admins and your contacts out of band before you acknowledge.
Example:
  focal alarms
  focal alarms --ack my-pdrm-cyber@7)");
  auto a = std::make_shared<AlarmsArgs>();
  cmd->add_option("--ack", a->ack, "Acknowledge one alarm by its id (MEMBER@INDEX)");
  cmd->add_flag("--all", a->all, "Acknowledge every alarm");
  table.add(cmd, [&ctx, a] { return runAlarms(ctx, *a); });
}

}  // namespace focal::client::cli

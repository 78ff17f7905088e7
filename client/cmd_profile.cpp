// focal profile set / show: defaults for --hub, --ca and --key.
#include "client/cli_context.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace focal::client::cli {

namespace {

struct ProfileArgs {
  std::string hub, ca, key;
};

std::string absolute(const std::string& p) {
  return p.empty() ? p : std::filesystem::absolute(p).lexically_normal().string();
}

int runShow(CliContext& ctx) {
  const auto s = ctx.profile().settings();
  // Members with state in this profile (one per key file used with it).
  const auto members = ctx.profile().members();
  if (ctx.out().json()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& m : members) list.push_back({{"member_id", m}, {"last_seq", ctx.profile().lastSeq(m)}});
    ctx.out().document({{"profile_dir", ctx.profile().dir().string()},
                        {"hub_address", jsonText(s.hub)},
                        {"ca_file", jsonText(s.ca)},
                        {"key_file", jsonText(s.key)},
                        {"members", list}});
  } else {
    ctx.out().line(fmt::format("profile: {}", ctx.profile().dir().string()));
    ctx.out().line(fmt::format("hub:     {}", s.hub.empty() ? "(not set)" : s.hub));
    ctx.out().line(fmt::format("ca:      {}", s.ca.empty() ? "(not set)" : s.ca));
    ctx.out().line(fmt::format("key:     {}", s.key.empty() ? "(not set)" : s.key));
    if (!members.empty()) ctx.out().line(fmt::format("members: {}", fmt::join(members, ", ")));
  }
  return ExitOk;
}

int runSet(CliContext& ctx, const ProfileArgs& a) {
  auto s = ctx.profile().settings();
  // Values given to `profile set` itself, else the global options.
  const std::string hub = !a.hub.empty() ? a.hub : ctx.options.hub;
  const std::string ca = !a.ca.empty() ? a.ca : ctx.options.ca;
  const std::string key = !a.key.empty() ? a.key : ctx.options.key;
  if (hub.empty() && ca.empty() && key.empty()) throw UsageError("usage", "nothing to set: give --hub, --ca or --key");
  if (!hub.empty()) {
    if (!parseHostPort(hub)) throw UsageError("bad-hub", "hub must be HOST:PORT, got '" + hub + "'");
    s.hub = hub;
  }
  if (!ca.empty()) s.ca = absolute(ca);
  if (!key.empty()) s.key = absolute(key);
  ctx.profile().saveSettings(s);
  return runShow(ctx);
}

}  // namespace

void addProfileCommands(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto* profile = app.add_subcommand("profile", "Show or change the profile's defaults");
  profile->require_subcommand(1);
  auto a = std::make_shared<ProfileArgs>();
  auto* set = profile->add_subcommand("set", "Store the hub, its certificate and your key file in profile.toml");
  set->add_option("--hub", a->hub, "Hub address HOST:PORT");
  set->add_option("--ca", a->ca, "The hub's certificate or CA (PEM)")->check(CLI::ExistingFile);
  set->add_option("--key", a->key, "Your key file")->check(CLI::ExistingFile);
  set->footer(R"(Example:
  focal profile set --hub hub.example.org:7443 --ca hub-ca.pem --key ~/.focal/sg-spf-cyber.key)");
  table.add(set, [&ctx, a] { return runSet(ctx, *a); });
  auto* show = profile->add_subcommand("show", "Print the profile's settings");
  show->footer("Example:\n  focal profile show");
  table.add(show, [&ctx] { return runShow(ctx); });
}

}  // namespace focal::client::cli

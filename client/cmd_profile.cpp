// focal profile set / show / init: defaults for --hub, --ca and --key, and
// the enrolment bundle a profile pins (client/enrolment_pin.hpp).
#include "client/archive.hpp"
#include "client/cli_context.hpp"
#include "client/enrolment_pin.hpp"
#include "client/head_freshness.hpp"
#include "crypto/primitives.hpp"
#include "crypto/secure_file.hpp"
#include "protocol/command_line.hpp"

#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace focal::client::cli {

namespace {

// A hub certificate or CA bundle is a few KiB; this only bounds a wrong file.
constexpr std::size_t MaxCaFileBytes = 1 << 20;

struct ProfileArgs {
  std::string hub, ca, key, bundle, headMaxAge, hubKey, archiveKeep;
};

// --hub-key as typed, canonical; a usage error names the expected form.
std::string pinnableFingerprint(const std::string& typed) {
  auto fp = canonicalFingerprint(typed);
  if (!fp) {
    throw UsageError("bad-fingerprint", "--hub-key takes the hub key fingerprint focald init printed: 30 digits in six "
                                        "groups, e.g. \"12345 67890 12345 67890 12345 67890\"; got '" +
                                            safeLine(typed) + "'");
  }
  return *fp;
}

std::string absolute(const std::string& p) {
  return p.empty() ? p : std::filesystem::absolute(p).lexically_normal().string();
}

int runShow(CliContext& ctx) {
  const auto s = ctx.profile().settings();
  // Members with state in this profile (one per key file used with it).
  const auto members = ctx.profile().members();
  const auto pin = loadPinnedBundle(ctx.profile().dir());
  if (ctx.out().json()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& m : members) list.push_back({{"member_id", m}, {"last_seq", ctx.profile().lastSeq(m)}});
    ctx.out().document({{"profile_dir", ctx.profile().dir().string()},
                        {"hub_address", jsonText(s.hub)},
                        {"ca_file", jsonText(s.ca)},
                        {"key_file", jsonText(s.key)},
                        {"head_max_age_ms", ctx.maxHeadAgeMs()},
                        {"pinned_hub_key", jsonText(s.hubKey)},
                        {"archive_keep", jsonText(s.archiveKeep)},
                        {"bundle_pinned", pin.has_value()},
                        {"pinned_hub_id", pin ? nlohmann::json(pin->hubId) : nlohmann::json(nullptr)},
                        {"pinned_genesis", pin ? nlohmann::json(crypto::toHex(pin->genesisHash)) : nlohmann::json(nullptr)},
                        {"pinned_head_size", pin ? nlohmann::json(pin->headSize) : nlohmann::json(nullptr)},
                        {"members", list}});
  } else {
    ctx.out().line(fmt::format("profile: {}", ctx.profile().dir().string()));
    ctx.out().line(fmt::format("hub:     {}", s.hub.empty() ? "(not set)" : s.hub));
    ctx.out().line(fmt::format("ca:      {}", s.ca.empty() ? "(not set)" : s.ca));
    ctx.out().line(fmt::format("key:     {}", s.key.empty() ? "(not set)" : s.key));
    ctx.out().line(fmt::format("head-max-age: {} (sealing stops when the newest verified log head is older)",
                               s.headMaxAge.empty() ? "24h (default)" : s.headMaxAge));
    ctx.out().line(fmt::format("hub-key: {}", s.hubKey.empty() ? "(not pinned: any hub key the log names is trusted)"
                                                                : s.hubKey + " (pinned)"));
    ctx.out().line(fmt::format("archive-keep: {}", s.archiveKeep.empty() ? "(every body kept forever)" : s.archiveKeep));
    if (pin) {
      ctx.out().line(fmt::format("bundle:  pinned: hub {}, genesis {}, head at {} entries", safeLine(pin->hubId),
                                 crypto::toHex(pin->genesisHash), pin->headSize));
    } else {
      ctx.out().line("bundle:  (none: the first log seen is trusted on first use)");
    }
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
  if (hub.empty() && ca.empty() && key.empty() && a.headMaxAge.empty() && a.hubKey.empty() && a.archiveKeep.empty()) {
    throw UsageError("usage", "nothing to set: give --hub, --ca, --key, --hub-key, --head-max-age or --archive-keep");
  }
  if (a.archiveKeep == "forever") {
    s.archiveKeep.clear();
  } else if (!a.archiveKeep.empty()) {
    std::string why;
    if (!parseArchiveRetention(a.archiveKeep, &why)) {
      throw UsageError("bad-duration", "--archive-keep takes TLP=DURATION,... (red=30d,amber=90d) or forever: " + why);
    }
    s.archiveKeep = a.archiveKeep;
  }
  if (!a.hubKey.empty()) s.hubKey = pinnableFingerprint(a.hubKey);
  if (!a.headMaxAge.empty()) {
    const auto ms = protocol::parseDurationMs(a.headMaxAge);
    if (!ms || *ms > MaxHeadAgeWindowMs) {
      throw UsageError("bad-duration", "--head-max-age takes a duration up to 30d (24h, 3d), got '" + a.headMaxAge + "'");
    }
    s.headMaxAge = a.headMaxAge;
  }
  if (!hub.empty()) {
    if (!parseHostPort(hub)) throw UsageError("bad-hub", "hub must be HOST:PORT, got '" + hub + "'");
    s.hub = hub;
  }
  if (!ca.empty()) s.ca = absolute(ca);
  if (!key.empty()) s.key = absolute(key);
  ctx.profile().saveSettings(s);
  return runShow(ctx);
}

// The one-step join without a bundle: the hub address, a copy of its
// certificate inside the profile (the profile no longer depends on where
// the file came from) and the hub key fingerprint the operator gave out.
int runJoin(CliContext& ctx, const ProfileArgs& a) {
  if (a.hub.empty() || a.ca.empty() || a.hubKey.empty()) {
    throw UsageError("usage", "profile init needs --bundle FILE, or --hub HOST:PORT --ca FILE --hub-key FINGERPRINT");
  }
  if (!parseHostPort(a.hub)) throw UsageError("bad-hub", "hub must be HOST:PORT, got '" + a.hub + "'");
  const std::string pin = pinnableFingerprint(a.hubKey);
  crypto::Bytes pem;
  try {
    pem = crypto::readFileLimited(a.ca, MaxCaFileBytes);
  } catch (const std::runtime_error& e) {
    throw UsageError("ca-unreadable", e.what());
  }
  const std::string_view text(reinterpret_cast<const char*>(pem.data()), pem.size());
  if (text.find("-----BEGIN CERTIFICATE-----") == std::string_view::npos) {
    throw UsageError("ca-unreadable", a.ca + " is not a PEM certificate");
  }
  const auto copy = ctx.profile().dir() / "hub-ca.pem";
  writeFileAtomic(copy, text, 0600);
  auto s = ctx.profile().settings();
  s.hub = a.hub;
  s.ca = absolute(copy.string());
  s.key = absolute(a.key);
  s.hubKey = pin;
  ctx.profile().saveSettings(s);
  return runShow(ctx);
}

// SECURITY: the bundle is checked in full (protocol/enrolment_bundle.hpp)
// before anything is written; a refusal names the check, with a typed error.
int runInit(CliContext& ctx, const ProfileArgs& a) {
  if (a.bundle.empty()) return runJoin(ctx, a);
  if (!a.hub.empty() || !a.ca.empty() || !a.hubKey.empty()) {
    throw UsageError("usage", "--bundle carries the hub, its certificate and its key: give either --bundle or "
                              "--hub, --ca and --hub-key");
  }
  std::ifstream in(a.bundle, std::ios::binary);
  if (!in) throw UsageError("bundle-unreadable", "cannot read " + a.bundle);
  // One byte over the limit is enough to refuse; a huge file is never read whole.
  std::string text(protocol::MaxEnrolmentBundleBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  auto bundle = protocol::parseEnrolmentBundle(text);
  if (!bundle) {
    throw UsageError(protocol::bundleErrorName(bundle.error().code),
                     "refusing the enrolment bundle " + a.bundle + ": " + bundle.error().message);
  }
  if (!parseHostPort(bundle->hubAddress)) {
    throw UsageError("bundle-malformed", "refusing the enrolment bundle " + a.bundle + ": hub_address is not HOST:PORT");
  }
  if (const auto old = loadPinnedBundle(ctx.profile().dir());
      old && (old->hubId != bundle->hubId || !(old->genesisHash == bundle->genesisHash) || !(old->hubKey == bundle->hubKey))) {
    throw UsageError("bundle-already-pinned", "this profile already pins another hub or log (" + old->hubId +
                                                  "); use another profile (--profile-dir DIR)");
  }
  auto s = ctx.profile().settings();
  s.hub = bundle->hubAddress;
  s.ca = absolute(pinBundle(ctx.profile().dir(), text, *bundle).string());
  s.key = absolute(a.key);
  s.hubKey = crypto::fingerprint(bundle->hubId, bundle->hubKey);
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
  set->add_option("--hub-key", a->hubKey,
                  "Pin the hub key fingerprint focald init printed: every command refuses another hub key (exit 3)");
  set->add_option("--head-max-age", a->headMaxAge,
                  "Refuse to seal when the newest verified log head is older than this (default 24h, at most 30d)");
  set->add_option("--archive-keep", a->archiveKeep,
                  "How long the local archive keeps bodies, per TLP: red=30d,amber=90d (default, or 'forever': all kept)");
  set->footer(R"(The hub signs a new directory-log head at least every hour; a client whose newest
verified head is older than --head-max-age refuses send, reply, forward, comment,
approve, reject and permit (exit 3, stale-head), since a hub that is frozen or
holding it at an old view could hide a revoked key.
--hub-key pins the hub: a command connected to a hub whose key has another fingerprint stops
before it signs anything (exit 3). Compare the fingerprint with the one the operator gave you.
Example:
  focal profile set --hub hub.example.org:7443 --ca hub-ca.pem --key ~/.focal/sg-spf-cyber.key
  focal profile set --hub-key "12345 67890 12345 67890 12345 67890"
  focal profile set --head-max-age 48h
  focal profile set --archive-keep red=30d,amber=90d)");
  table.add(set, [&ctx, a] { return runSet(ctx, *a); });
  auto* init = profile->add_subcommand(
      "init", "Set up the profile from what the hub's operator gave you (a bundle, or address, certificate and "
              "hub key fingerprint), and pin it");
  init->add_option("--bundle", a->bundle, "The enrolment bundle (focald bundle)")->check(CLI::ExistingFile);
  init->add_option("--hub", a->hub, "Without a bundle: the hub address HOST:PORT");
  init->add_option("--ca", a->ca, "Without a bundle: the hub's certificate (copied into the profile)")
      ->check(CLI::ExistingFile);
  init->add_option("--hub-key", a->hubKey, "Without a bundle: the hub key fingerprint focald init printed");
  init->add_option("--key", a->key, "Your key file")->required()->check(CLI::ExistingFile);
  init->footer(R"(Stores the hub address, its certificate (written into the profile) and your key file, and pins the
bundle: from then on this profile refuses (exit 3) a log with another genesis, another hub key, or one that
does not extend the head the bundle names. A bundle that is malformed, over 64 KiB, whose head does not
verify under its hub key, or that names witnesses, is refused (exit 1, error code bundle-...).
The bundle's hub key is pinned too (as profile set --hub-key does).
Without a bundle, --hub, --ca and --hub-key do the same in one step, except the genesis pin: the
certificate is copied into the profile, and a hub presenting another key is refused (exit 3).
Examples:
  focal profile init --bundle asean-wgcc.bundle.json --key ~/.focal/sg-spf-cyber.key
  focal profile init --hub hub.example.org:7443 --ca hub-ca.pem \
      --hub-key "12345 67890 12345 67890 12345 67890" --key ~/.focal/sg-spf-cyber.key)");
  table.add(init, [&ctx, a] { return runInit(ctx, *a); });
  auto* show = profile->add_subcommand("show", "Print the profile's settings");
  show->footer("Example:\n  focal profile show");
  table.add(show, [&ctx] { return runShow(ctx); });
}

}  // namespace focal::client::cli

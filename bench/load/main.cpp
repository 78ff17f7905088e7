// focal-bench: load generator for a Focal hub. Figures for the notes
// (bench/RESULTS.md), never timed assertions.
//
//   focal-bench [--size B] [--recipients N] [--clients C] [--count M] [--rate R] [--idle K] [--json]
//   focal-bench --attachment-mib N [--json]
//   ... [--hub HOST:PORT --ca FILE --admin-key FILE]   (FOCAL_PASSPHRASE = the admin key's passphrase)
//
// Without --hub it starts its own focald (FOCALD_PATH, or --focald) in a
// temporary directory and stops it at the end. See bulletin_load.hpp for
// what is timed. --json prints one object:
//   accepted_per_s, deliveries_per_s, latency_ms {p50, p99, max},
//   server_peak_rss_mib (null when the hub is not ours), config, and the
//   details (refusals, missing deliveries, CPU per hub thread, setup times).
// Exit status: 0 = the run completed with nothing refused or missing; 1 =
// usage or setup failure; 2 = the run had errors, refusals, missing
// deliveries or a differing attachment.
#include "bench/load/attachment_load.hpp"
#include "bench/load/bulletin_load.hpp"
#include "bench/load/hub_process.hpp"
#include "bench/load/proc_stats.hpp"
#include "client/profile.hpp"
#include "crypto/primitives.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <csignal>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#ifndef FOCALD_PATH
#define FOCALD_PATH "focald"
#endif

namespace {

using namespace focal;
using namespace focal::bench;
using nlohmann::json;
namespace fs = std::filesystem;

// 1000 idle connections plus the load's own need more descriptors than the
// usual soft limit of 1024; the hub we start inherits the raised limit.
void raiseFileLimit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
}

std::string isoNow() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string num(const json& j, const char* fmtSpec = "{:.0f}") {
  if (j.is_null()) return "n/a";
  return fmt::format(fmt::runtime(fmtSpec), j.get<double>());
}

void printBulletinSummary(const json& d) {
  const auto& c = d["config"];
  std::cout << fmt::format("focal-bench: {} bulletins of {} B to {} recipient(s), {} sender(s){}{}\n",
                           c["count"].get<std::size_t>(), c["size"].get<std::size_t>(),
                           c["recipients"].get<std::size_t>(), c["clients"].get<std::size_t>(),
                           c["rate"].get<double>() > 0 ? fmt::format(", paced at {}/s", c["rate"].get<double>()) : "",
                           c["idle"].get<std::size_t>() > 0 ? fmt::format(", {} idle connections", c["idle"].get<std::size_t>())
                                                            : "");
  std::cout << fmt::format("  hub:            {}  (start {}; end {})\n", c["hub"].get<std::string>(),
                           d["load_at_start"].get<std::string>(), d["load_at_end"].get<std::string>());
  if (!d["disk_fsync_ms"].is_null()) {
    std::cout << fmt::format("  disk fsync:     p50 {:.2f} ms, max {:.2f} ms (4 KiB appends, before the run)\n",
                             d["disk_fsync_ms"]["p50"].get<double>(), d["disk_fsync_ms"]["max"].get<double>());
  }
  std::cout << fmt::format("  accepted:       {} in {:.3f} s = {} /s", d["accepted"].get<std::size_t>(),
                           d["accept_seconds"].get<double>(), num(d["accepted_per_s"]));
  if (!d["refused"].empty()) std::cout << "  refused: " << d["refused"].dump();
  std::cout << "\n";
  std::cout << fmt::format("  delivered:      {} of {} in {:.3f} s = {} /s  (missing {}, duplicates {}, client-dropped {})\n",
                           d["delivered"].get<std::size_t>(), d["expected_deliveries"].get<std::int64_t>(),
                           d["deliver_seconds"].get<double>(), num(d["deliveries_per_s"]),
                           d["missing_deliveries"].get<std::int64_t>(), d["duplicate_deliveries"].get<std::size_t>(),
                           d["client_dropped_pushes"].get<std::size_t>());
  const auto& l = d["latency_ms"];
  std::cout << fmt::format("  end-to-end:     p50 {} ms  p99 {} ms  max {} ms  ({} samples)\n", num(l["p50"], "{:.3f}"),
                           num(l["p99"], "{:.3f}"), num(l["max"], "{:.3f}"), l["samples"].get<std::size_t>());
  const auto& a = d["accept_latency_ms"];
  std::cout << fmt::format("  send->accepted: p50 {} ms  p99 {} ms  max {} ms\n", num(a["p50"], "{:.3f}"),
                           num(a["p99"], "{:.3f}"), num(a["max"], "{:.3f}"));
  std::cout << fmt::format("  server peak RSS: {} MiB\n", num(d["server_peak_rss_mib"], "{:.1f}"));
  if (!d["idle"].is_null()) {
    const auto& i = d["idle"];
    std::cout << fmt::format("  idle:           {} connections over {} members opened in {:.2f} s; hub RSS {} -> {} MiB\n",
                             i["connections"].get<std::size_t>(), i["members"].get<std::size_t>(),
                             i["open_s"].get<double>(), num(i["server_rss_before_mib"], "{:.1f}"),
                             num(i["server_rss_with_idle_mib"], "{:.1f}"));
  }
  const auto& cpu = d["cpu"];
  std::cout << fmt::format("  CPU:            bench {:.2f} s, hub {} s", cpu["bench_s"].get<double>(),
                           num(cpu["hub_s"], "{:.2f}"));
  if (cpu.contains("hub_us_per_accepted")) {
    std::cout << fmt::format(" ({:.0f} us per accepted bulletin)", cpu["hub_us_per_accepted"].get<double>());
  }
  std::cout << "\n";
  if (cpu.contains("hub_threads")) {
    for (const auto& t : cpu["hub_threads"]) {
      std::cout << fmt::format("                  hub thread {} ({}): {:.2f} s\n", t["tid"].get<int>(),
                               t["name"].get<std::string>(), t["cpu_s"].get<double>());
    }
  }
  std::cout << fmt::format("  setup:          register {:.2f} s, seal {:.2f} s\n", d["setup"]["register_s"].get<double>(),
                           d["setup"]["seal_s"].get<double>());
  for (const auto& e : d["errors"]) std::cout << "  ERROR: " << e.get<std::string>() << "\n";
}

void printAttachmentSummary(const json& d) {
  std::cout << fmt::format("focal-bench: one {} MiB attachment ({})\n", d["attachment_mib"].get<std::size_t>(),
                           d["load_at_start"].get<std::string>());
  std::cout << fmt::format("  encrypt+spool {:.2f} s, upload {:.2f} s ({:.1f} MiB/s), download+decrypt {:.2f} s ({:.1f} MiB/s)\n",
                           d["encrypt_s"].get<double>(), d["upload_s"].get<double>(), d["upload_mib_per_s"].get<double>(),
                           d["download_s"].get<double>(), d["download_mib_per_s"].get<double>());
  std::cout << fmt::format("  download: all received and decrypted after {:.2f} s, then the file's fsync\n",
                           d["download_received_s"].get<double>());
  std::cout << fmt::format("  received file identical: {}\n", d["verified"].get<bool>() ? "yes" : "NO");
  std::cout << fmt::format("  peak RSS: sender {} MiB, receiver {} MiB, hub {} MiB\n", num(d["sender_peak_rss_mib"], "{:.1f}"),
                           num(d["receiver_peak_rss_mib"], "{:.1f}"), num(d["server_peak_rss_mib"], "{:.1f}"));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"focal-bench: load generator for a Focal hub"};
  LoadConfig load;
  std::size_t attachmentMib = 0;
  std::string hubAddress, caFile, adminKeyFile;
  std::string focald = FOCALD_PATH;
  std::string logLevel = "info";
  std::string api = "raw";
  double drainSeconds = 10;
  bool jsonOutput = false;
  bool keepDir = false;

  app.add_option("--size", load.bodyBytes, "Plaintext body size in bytes")->capture_default_str();
  app.add_option("--recipients", load.recipients, "Recipients per bulletin")->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--clients", load.clients, "Sending clients")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--count", load.count, "Bulletins in total")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--rate", load.rate, "Total bulletins/s (0 = as fast as possible)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--idle", load.idle, "Extra idle authenticated connections held open during the run")->capture_default_str();
  app.add_option("--attachment-mib", attachmentMib, "Instead: send and receive one attachment of N MiB");
  auto* hubOpt = app.add_option("--hub", hubAddress, "HOST:PORT of an existing hub (default: start a fresh focald)");
  app.add_option("--ca", caFile, "CA file of --hub")->needs(hubOpt)->check(CLI::ExistingFile);
  app.add_option("--admin-key", adminKeyFile, "Admin key file for --hub (passphrase in FOCAL_PASSPHRASE)")
      ->needs(hubOpt)
      ->check(CLI::ExistingFile);
  std::string hubId = "focal-hub";
  app.add_option("--hub-id", hubId, "Hub id of --hub (bulletins are sealed for it)")->needs(hubOpt)->capture_default_str();
  app.add_flag("--json", jsonOutput, "Print one JSON object");
  std::string jsonFile;
  app.add_option("--json-file", jsonFile, "Also write the JSON object to this file");
  app.add_option("--window", load.window, "Requests in flight per sender")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--ack-every", load.ackEvery, "Receivers ack after this many deliveries")->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--sender", api, "raw (stamped frame writes) or library (Connection::sendPipelined)")
      ->capture_default_str()
      ->check(CLI::IsMember({"raw", "library"}));
  app.add_option("--drain-timeout", drainSeconds, "Seconds receivers wait for stragglers after the senders finished")
      ->capture_default_str();
  app.add_option("--per-member-cap", load.perMemberCap, "Connections per member for --idle (default: the hub's limit)");
  app.add_option("--focald", focald, "focald binary for a hub of our own")->capture_default_str();
  app.add_option("--log-level", logLevel, "Log level of our own focald")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  std::string wrapper;
  int startTimeout = 30;
  app.add_option("--hub-wrapper", wrapper, "Run our focald under this command, e.g. \"valgrind --tool=callgrind\"");
  app.add_option("--hub-start-timeout", startTimeout, "Seconds to wait for our focald to listen")->capture_default_str();
  std::vector<std::string> hubLimits;
  app.add_option("--hub-limit", hubLimits, "KEY=VALUE for our focald's focal.toml [limits] (repeatable)");
  app.add_option("--perf", load.perfOutput, "perf record our focald during the timed part into this file");
  app.add_flag("--keep-hub-dir", keepDir, "Keep our focald's temporary directory (its log is focald.err)");
  CLI11_PARSE(app, argc, argv);
  load.api = api == "library" ? SenderApi::Library : SenderApi::Raw;
  load.drainTimeout = std::chrono::milliseconds(static_cast<std::int64_t>(drainSeconds * 1000));

  try {
    crypto::initialize();
    std::signal(SIGPIPE, SIG_IGN);
    raiseFileLimit();
    const std::string loadAtStart = uptimeLine();

    std::optional<HubProcess> own;
    std::optional<crypto::MemberKeys> adminKeys;
    HubTarget hub;
    if (!hubAddress.empty()) {
      if (caFile.empty() || adminKeyFile.empty()) throw CLI::ValidationError("--hub needs --ca and --admin-key");
      const auto hp = client::parseHostPort(hubAddress);
      if (!hp) throw std::invalid_argument("--hub must be HOST:PORT");
      adminKeys.emplace(readAdminKey(adminKeyFile));
      hub.host = hp->first;
      hub.port = hp->second;
      hub.caFile = caFile;
      hub.admin = &*adminKeys;
      hub.hubId = hubId;
    } else {
      HubProcess::Options o;
      o.focald = focald;
      o.logLevel = logLevel;
      o.keepDir = keepDir;
      std::istringstream words(wrapper);
      for (std::string w; words >> w;) o.wrapper.push_back(w);
      o.startTimeout = std::chrono::seconds(startTimeout);
      for (const auto& kv : hubLimits) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos) throw std::invalid_argument("--hub-limit takes KEY=VALUE, got " + kv);
        o.limits[kv.substr(0, eq)] = kv.substr(eq + 1);
      }
      own.emplace(std::move(o));
      hub = own->target();
    }

    // The disk under the hub's database (ours is in the temp directory).
    const auto fsyncProbe = fsyncLatency(own ? own->dir().string() : fs::temp_directory_path().string(), 20);
    json doc = attachmentMib > 0 ? runAttachmentLoad(hub, attachmentMib) : runBulletinLoad(hub, load);
    doc["server_peak_rss_mib"] = hub.pid ? json(peakRssMib(*hub.pid).value_or(-1)) : json(nullptr);
    doc["load_at_start"] = loadAtStart;
    doc["load_at_end"] = uptimeLine();
    doc["disk_fsync_ms"] = fsyncProbe ? json{{"p50", fsyncProbe->p50Ms}, {"max", fsyncProbe->maxMs}, {"dir", own ? "hub dir" : "temp dir"}}
                                 : json(nullptr);
    doc["date"] = isoNow();
    doc["config"] = {{"size", load.bodyBytes},
                     {"recipients", load.recipients},
                     {"clients", load.clients},
                     {"count", load.count},
                     {"rate", load.rate},
                     {"idle", load.idle},
                     {"attachment_mib", attachmentMib},
                     {"window", load.window},
                     {"ack_every", load.ackEvery},
                     {"sender", api},
                     {"hub", own ? "own focald (" + logLevel + " log)" : hubAddress},
                     {"hub_limits", hubLimits}};
    if (own) {
      own->stop();
      if (keepDir) doc["hub_dir"] = own->dir().string();
    }

    if (!jsonFile.empty()) {
      std::ofstream out(jsonFile, std::ios::trunc);
      out << doc.dump(2) << std::endl;
      if (!out) throw std::runtime_error("cannot write " + jsonFile);
    }
    if (jsonOutput) {
      std::cout << doc.dump(2) << std::endl;
    } else if (attachmentMib > 0) {
      printAttachmentSummary(doc);
    } else {
      printBulletinSummary(doc);
    }
    const bool failed = (doc.contains("errors") && !doc["errors"].empty()) ||
                        (doc.contains("refused") && !doc["refused"].empty()) ||
                        (doc.contains("missing_deliveries") && doc["missing_deliveries"].get<std::int64_t>() > 0) ||
                        (doc.contains("verified") && !doc["verified"].get<bool>());
    return failed ? 2 : 0;
  } catch (const std::exception& e) {
    std::cerr << "focal-bench: " << e.what() << std::endl;
    return 1;
  }
}

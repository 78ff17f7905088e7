// The instruments and the Prometheus text exposition (metrics.hpp).
#include "server/metrics.hpp"

#include "protocol/message.hpp"
#include "server/commit_queue.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace focal::server {

namespace metrics {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) {
  const auto at = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[static_cast<std::size_t>(at)].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s{bounds_, {}, sum_.load(std::memory_order_relaxed)};
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(total);
  }
  return s;
}

std::vector<double> latencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace metrics

namespace {

// Writes families in the text format: HELP and TYPE once per family, then
// its samples. Label values here are fixed names, never client input, but
// are escaped anyway as the format requires.
class Exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void sample(std::string_view name, std::string_view labels, double value) {
    out_ += name;
    if (!labels.empty()) out_ += fmt::format("{{{}}}", labels);
    out_ += ' ';
    out_ += number(value);
    out_ += '\n';
  }
  void one(std::string_view name, std::string_view type, std::string_view help, double value) {
    family(name, type, help);
    sample(name, "", value);
  }
  void histogram(std::string_view name, std::string_view help, const metrics::Histogram& h) {
    family(name, "histogram", help);
    const auto s = h.snapshot();
    for (std::size_t i = 0; i < s.bounds.size(); ++i) {
      sample(fmt::format("{}_bucket", name), fmt::format("le=\"{}\"", number(s.bounds[i])),
             static_cast<double>(s.cumulative[i]));
    }
    sample(fmt::format("{}_bucket", name), "le=\"+Inf\"", static_cast<double>(s.cumulative.back()));
    sample(fmt::format("{}_sum", name), "", s.sum);
    sample(fmt::format("{}_count", name), "", static_cast<double>(s.cumulative.back()));
  }
  static std::string label(std::string_view key, std::string_view value) {
    std::string escaped;
    for (char c : value) {
      if (c == '\\' || c == '"') escaped += '\\';
      if (c == '\n') {
        escaped += "\\n";
        continue;
      }
      escaped += c;
    }
    return fmt::format("{}=\"{}\"", key, escaped);
  }
  std::string take() { return std::move(out_); }

 private:
  static std::string number(double v) {
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<std::int64_t>(v));
    return fmt::format("{}", v);
  }
  std::string out_;
};

double count(const metrics::Counter& c) { return static_cast<double>(c.value()); }

constexpr std::array<const char*, static_cast<std::size_t>(HubMetrics::Auth::Count)> AuthOutcomes = {
    "success", "failure", "revoked", "rate_limited", "member_cap", "other"};
constexpr std::array<const char*, static_cast<std::size_t>(HubMetrics::Refusal::Count)> RefusalReasons = {
    "connection_limit", "source_limit"};

void renderHub(Exposition& e, const HubMetrics& m) {
  e.one("focal_bulletins_accepted_total", "counter", "Bulletins accepted (stored durably) from senders.",
        count(m.bulletinsAccepted));
  e.family("focal_bulletins_refused_total", "counter", "Bulletins refused, by the error code the sender was told.");
  for (std::size_t code = 0; code < HubMetrics::ErrorCodes; ++code) {
    const char* name = protocol::errorName(static_cast<wire::ErrorCode>(code));
    if (std::string_view(name) == "unknown-error") continue;  // beyond the enum
    e.sample("focal_bulletins_refused_total", Exposition::label("reason", name), count(m.bulletinsRefused[code]));
  }
  e.one("focal_deliveries_total", "counter", "Queue entries handed to a recipient (pushed or fetched).",
        count(m.deliveries));
  e.one("focal_acks_total", "counter", "Queue entries acknowledged by their recipient.", count(m.acks));
  e.one("focal_sessions_accepted_total", "counter", "Connections accepted and served (not counting refusals).",
        count(m.sessionsAccepted));
  e.one("focal_sessions_open", "gauge", "Connections being served, authenticated or not.",
        static_cast<double>(m.sessionsOpen.value()));
  e.family("focal_authentications_total", "counter", "Authentication attempts, by outcome.");
  for (std::size_t i = 0; i < AuthOutcomes.size(); ++i) {
    e.sample("focal_authentications_total", Exposition::label("outcome", AuthOutcomes[i]),
             count(m.authentications[i]));
  }
  e.one("focal_requests_rate_limited_total", "counter",
        "Requests refused rateLimited by a session's request budget.", count(m.requestsRateLimited));
  e.family("focal_connections_refused_total", "counter",
           "Connections over a cap: answered tooManyConnections, or closed unanswered once the refusal budget "
           "is spent (a flood).");
  for (std::size_t i = 0; i < RefusalReasons.size(); ++i) {
    const auto reason = Exposition::label("reason", RefusalReasons[i]);
    e.sample("focal_connections_refused_total", reason + ",action=\"answered\"", count(m.refusedAnswered[i]));
    e.sample("focal_connections_refused_total", reason + ",action=\"closed\"", count(m.refusedClosed[i]));
  }
  e.one("focal_slow_consumers_total", "counter", "Sessions closed because their outbound queue overflowed.",
        count(m.slowConsumers));
  e.one("focal_tls_reloads_total", "counter", "TLS certificate reloads (SIGHUP) that took effect.",
        count(m.tlsReloads));
  e.one("focal_tls_reload_failures_total", "counter",
        "TLS certificate reloads refused (the previous certificate is kept).", count(m.tlsReloadFailures));
  e.one("focal_tls_certificate_expiry_timestamp_seconds", "gauge",
        "When the certificate new connections get expires (Unix time).",
        static_cast<double>(m.tlsCertificateNotAfter.value()));
}

void renderWriter(Exposition& e, const CommitQueue& w) {
  const auto& m = w.metrics();
  e.one("focal_write_queue_depth", "gauge", "Writes waiting for the database writer (all kinds, deferred included).",
        static_cast<double>(m.queued.value()));
  e.histogram("focal_commit_group_size", "Writes committed together in one transaction.", m.groupSize);
  e.histogram("focal_commit_group_seconds", "Time from BEGIN to the end of COMMIT of a write group.",
              m.groupSeconds);
  e.histogram("focal_commit_seconds", "Time of COMMIT alone: the write-ahead log write and its fsync.",
              m.commitSeconds);
  e.histogram("focal_checkpoint_fsync_seconds", "Time of the checkpointer's fsync of the database file.",
              m.databaseSyncSeconds);
  e.one("focal_commits_total", "counter", "Write groups committed.", static_cast<double>(w.commits()));
  e.one("focal_commit_failures_total", "counter", "Write groups that failed (disk full, I/O error).",
        static_cast<double>(w.failedCommits()));
  e.one("focal_checkpoints_total", "counter", "Checkpoints of the write-ahead log into the database file.",
        static_cast<double>(w.checkpoints()));
  e.one("focal_disk_low_space", "gauge",
        "1 while the space reserve is given up (disk full: only acknowledgements are written).",
        w.lowSpace() ? 1 : 0);
  e.one("focal_disk_reserve_releases_total", "counter", "Times the space reserve was given up.",
        static_cast<double>(w.reserveReleases()));
  e.one("focal_database_writable", "gauge", "1 while the writer's last commit succeeded.", w.writable() ? 1 : 0);
}

}  // namespace

std::string renderMetrics(const HubMetrics& hub, const CommitQueue& writer, std::string_view version) {
  Exposition e;
  e.family("focal_build_info", "gauge", "The focald version serving (always 1).");
  e.sample("focal_build_info", Exposition::label("version", version), 1);
  renderHub(e, hub);
  renderWriter(e, writer);
  e.one("focal_up", "gauge", "1 while focald serves (0 during shutdown).", hub.stopping.load() ? 0 : 1);
  return e.take();
}

std::string notReadyReason(const HubMetrics& hub, const CommitQueue& writer) {
  if (hub.stopping.load()) return "shutting down";
  if (writer.lowSpace()) return "disk full: low-space mode, only acknowledgements are written";
  if (!writer.writable()) return "the database is not writable: the last commit failed";
  return {};
}

}  // namespace focal::server

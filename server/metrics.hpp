// focald's metrics: the instruments (counters, gauges, histograms), the
// hub's and the writer's sets of them, and their exposition in
// Prometheus's text format 0.0.4 (docs/operations.md, "Monitoring").
//
// Contract: every instrument is a relaxed atomic. Updating one costs an
// uncontended atomic add on the thread that counts (the io thread, the
// writer) and takes no lock; the metrics listener reads them from its own
// thread (metrics_http.hpp). A scrape therefore sees each value as of some
// moment during the scrape, not one snapshot of all of them, which is what
// Prometheus expects of counters.
//
// Privacy: no label carries a member id, bulletin id, address or anything
// a client sent; every label value is from a fixed set (error code names,
// outcomes), so the number of series is bounded.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace focal::server {

class CommitQueue;

namespace metrics {

class Counter {
 public:
  void add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(std::int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Fixed buckets given at construction (ascending upper bounds; +Inf is
// implicit). observe() is two relaxed adds and a short search.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Buckets for latencies in seconds: 100 µs to 10 s.
std::vector<double> latencyBuckets();

}  // namespace metrics

// What the io thread counts (owned by the Hub, which outlives the listener).
struct HubMetrics {
  // wire::ErrorCode values are below this (focal.capnp appends ordinals).
  static constexpr std::size_t ErrorCodes = 32;
  enum class Auth : std::size_t { Success, Failure, Revoked, RateLimited, MemberCap, Other, Count };
  enum class Refusal : std::size_t { ConnectionLimit, SourceLimit, Count };

  metrics::Counter bulletinsAccepted;
  std::array<metrics::Counter, ErrorCodes> bulletinsRefused;  // by error code
  metrics::Counter deliveries;                                // queue entries pushed or fetched
  metrics::Counter acks;                                      // queue entries acknowledged
  metrics::Counter sessionsAccepted;
  metrics::Gauge sessionsOpen;  // connections being served, authenticated or not
  std::array<metrics::Counter, static_cast<std::size_t>(Auth::Count)> authentications;
  metrics::Counter requestsRateLimited;
  // Connections over a cap: answered tooManyConnections, or closed unanswered.
  std::array<metrics::Counter, static_cast<std::size_t>(Refusal::Count)> refusedAnswered;
  std::array<metrics::Counter, static_cast<std::size_t>(Refusal::Count)> refusedClosed;
  metrics::Counter slowConsumers;
  // TLS reloads (SIGHUP) and the certificate served to new connections.
  metrics::Counter tlsReloads;
  metrics::Counter tlsReloadFailures;
  metrics::Gauge tlsCertificateNotAfter;  // Unix seconds
  std::atomic<bool> stopping{false};
  // steady_clock ms when the io thread last beat (every HeartbeatEvery):
  // /healthz fails when it is stale.
  static constexpr std::chrono::seconds HeartbeatEvery{1};
  metrics::Gauge heartbeatMs;

  void authentication(Auth outcome) { authentications[static_cast<std::size_t>(outcome)].add(); }
  void bulletinRefused(unsigned errorCode) { bulletinsRefused[errorCode < ErrorCodes ? errorCode : 0].add(); }
};

// The whole exposition of a hub: its metrics, the writer's, build info.
std::string renderMetrics(const HubMetrics& hub, const CommitQueue& writer, std::string_view version);

// /readyz: "" when the hub can take writes (the writer's last commit
// succeeded, not in low-space mode, not shutting down), else why not.
std::string notReadyReason(const HubMetrics& hub, const CommitQueue& writer);

}  // namespace focal::server

// focald's configuration: DIR/focal.toml, written by `focald init`.
//
// Every limit is a named default below, overridable in [limits], and never
// above the protocol's own limit (protocol/limits.hpp): a value above it is a
// configuration error, not silently clamped. Unknown keys and wrong types
// are errors reported as "file:line:column: message", so a typo never
// silently leaves a limit at its default.
#pragma once

#include "crypto/expected.hpp"
#include "protocol/limits.hpp"
#include "server/retention.hpp"

#include <cstdint>
#include <chrono>
#include <optional>
#include <filesystem>
#include <string>
#include <vector>

namespace focal::server {

struct Limits {
  // Largest frame accepted from a client (never above the protocol's).
  std::uint32_t maxFrameBytes = protocol::MaxFrameBytes;
  // Open connections, authenticated or not. At the cap a new connection is
  // answered tooManyConnections and closed, within the hub's refusal budget
  // (Hub::MaxRefusingSessions, RefusalsPerSecond); beyond that budget it is
  // closed before the TLS handshake (spending no CPU on it).
  std::uint32_t maxConnections = 4096;
  // Connections from one source address (IPv6: one /64) that have not
  // authenticated yet; beyond it: tooManyConnections and close, as at the
  // global cap. SECURITY: without it one address can hold all
  // maxConnections and lock every member out. A member's client needs one
  // such connection for the few milliseconds of its handshake; 128 (1/32
  // of the global cap) leaves room for a hundred members behind one NAT
  // reconnecting at once, as after a hub restart.
  std::uint32_t maxUnauthenticatedPerSource = 128;
  // Concurrent authenticated sessions of one member (CLI + listener + a few
  // scripts); beyond it: tooManyConnections.
  std::uint32_t maxConnectionsPerMember = 8;
  std::uint32_t handshakeTimeoutMs = 10'000;
  // From accept to a successful Authenticate.
  std::uint32_t unauthenticatedTimeoutMs = 10'000;
  // An authenticated session with no request for this long is closed; any
  // request (ping is the cheapest) resets it.
  std::uint32_t idleTimeoutMs = 300'000;
  // Once a frame's length prefix has arrived, its body must arrive within.
  std::uint32_t readTimeoutMs = 30'000;
  // A write to a peer that does not read must finish within.
  std::uint32_t writeTimeoutMs = 30'000;
  // Outbound queue per session (responses + pushes). Overflow = slow
  // consumer: the session is closed, its bulletins stay queued in the store.
  std::uint64_t outboundQueueBytes = 16ull * 1024 * 1024;
  std::uint32_t outboundQueueFrames = 4096;
  // Per-session token bucket; generous, it stops floods, not clients.
  std::uint32_t requestsPerSecond = 5000;
  std::uint32_t requestBurst = 10000;
  // Requests of one session being handled at once (pipelining depth).
  std::uint32_t maxInflightRequests = 64;
  // Failed authentications per remote address per minute.
  std::uint32_t authFailuresPerMinute = 20;
  // SQLite writer queue and group size (see CommitQueue).
  std::uint32_t writeQueue = 65536;
  std::uint32_t writeBatch = 512;
  // Threads that verify bulletin signatures and content hashes off the io
  // thread (VerifyPool); 0: one per hardware thread (none on one core).
  std::uint32_t verifyThreads = 0;
  // Unfinished uploads one member may hold.
  std::uint32_t maxOpenUploadsPerMember = 16;
  std::uint64_t maxAttachmentBytes = protocol::MaxAttachmentBytes;
  // [hub] accept_seal_v1_until = "YYYY-MM-DD" (UTC, the last day): seal v1
  // bulletins (cipher suite 1, no key commitment; PROTOCOL.md §8.1) are
  // refused from the next midnight UTC on, this time in ms. Default: the
  // transition period ends 2027-06-30.
  std::int64_t sealV1RefusedFromMs = DefaultSealV1RefusedFromMs;
  static constexpr std::int64_t DefaultSealV1RefusedFromMs =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::sys_days{std::chrono::year{2027} / std::chrono::July / 1}.time_since_epoch())
          .count();
};

struct Config {
  std::string hubId = "focal-hub";
  std::string listenHost = "127.0.0.1";
  std::uint16_t listenPort = 7443;
  // Resolved against the configuration file's directory when loaded.
  std::filesystem::path database = "focal.db";
  std::filesystem::path signingKey = "hub.key";
  std::filesystem::path tlsCertificate = "tls/cert.pem";
  std::filesystem::path tlsPrivateKey = "tls/key.pem";
  Limits limits;
  // [metrics]: the metrics and health listener (server/metrics_http.hpp),
  // on by default, on loopback; `enabled = false` turns it off.
  static constexpr std::uint16_t DefaultMetricsPort = 7444;
  bool metricsEnabled = true;
  std::string metricsHost = "127.0.0.1";
  std::uint16_t metricsPort = DefaultMetricsPort;
  // [log] level: trace, debug, info, warn, error or off. Read at start and
  // again on SIGHUP; `focald run --log-level` overrides it.
  std::string logLevel = "info";
  // [working_group] member_states: the ISO 3166-1 alpha-2 codes of the
  // working group's member states, upper case, sorted, no duplicates. A
  // registration or admission of a member with a state outside this list is
  // refused; an operator adds a state by adding it here (and restarting),
  // which the hub writes to its audit trail at start. Absent: the ten
  // ASEAN member states. Which states must CONSENT is not read from here:
  // it follows from the signed log alone (PROTOCOL.md §12), so every client
  // computes it as the hub does.
  std::vector<std::string> memberStates = defaultMemberStates();
  // [retention]: per TLP level, [retention.LEVEL] acknowledged_days and
  // unacknowledged_days (0 = never); a level not named keeps the default
  // (RetentionPolicy::DefaultRule).
  RetentionPolicy retention;
  static std::vector<std::string> defaultMemberStates() {
    return {"BN", "ID", "KH", "LA", "MM", "MY", "PH", "SG", "TH", "VN"};
  }
};

// Reads and validates DIR/focal.toml; relative paths become DIR/relative.
Expected<Config, std::string> loadConfig(const std::filesystem::path& file);
// Same, from text; `sourceName` is used in error messages.
Expected<Config, std::string> parseConfig(std::string_view text, const std::string& sourceName,
                                          const std::filesystem::path& baseDir);
// [hub] accept_seal_v1_until: "YYYY-MM-DD" -> the first refused ms (next
// midnight UTC), or nullopt; and back.
std::optional<std::int64_t> parseSealV1Until(std::string_view date);
std::string formatSealV1Until(std::int64_t refusedFromMs);
// TOML text for a configuration (paths written as given).
std::string renderConfig(const Config& config);

struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
};
// "HOST:PORT" or "[IPv6]:PORT".
Expected<ListenAddress, std::string> parseListenAddress(std::string_view text);
std::string formatListenAddress(std::string_view host, std::uint16_t port);

}  // namespace focal::server

#include "server/config.hpp"

#include "protocol/iso3166.hpp"
#include "server/identifiers.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>

namespace focal::server {

namespace {

std::string where(const std::string& file, const toml::source_region& src) {
  return fmt::format("{}:{}:{}", file, src.begin.line, src.begin.column);
}

// Reads one section; every key must be known. `handlers` maps a key to a
// function that takes the node and returns an error message or "".
using Handler = std::function<std::string(const toml::node&)>;

std::string readSection(const std::string& file, const toml::table& section, std::string_view sectionName,
                        const std::map<std::string, Handler, std::less<>>& handlers) {
  for (auto&& [key, node] : section) {
    auto it = handlers.find(key.str());
    if (it == handlers.end()) {
      return fmt::format("{}: unknown key '{}' in [{}]", where(file, key.source()), key.str(), sectionName);
    }
    std::string err = it->second(node);
    if (!err.empty()) {
      return fmt::format("{}: {}.{}: {}", where(file, node.source()), sectionName, key.str(), err);
    }
  }
  return {};
}

Handler stringInto(std::string& out) {
  return [&out](const toml::node& n) -> std::string {
    if (!n.is_string()) return "expected a string";
    out = *n.value<std::string>();
    return {};
  };
}

Handler pathInto(std::filesystem::path& out) {
  return [&out](const toml::node& n) -> std::string {
    if (!n.is_string()) return "expected a string (a path)";
    auto s = *n.value<std::string>();
    if (s.empty()) return "expected a non-empty path";
    out = s;
    return {};
  };
}

template <class T>
Handler integerInto(T& out, std::uint64_t min, std::uint64_t max) {
  return [&out, min, max](const toml::node& n) -> std::string {
    if (!n.is_integer()) return "expected an integer";
    const std::int64_t v = *n.value<std::int64_t>();
    if (v < 0 || static_cast<std::uint64_t>(v) < min || static_cast<std::uint64_t>(v) > max) {
      return fmt::format("{} is out of range [{}, {}]", v, min, max);
    }
    out = static_cast<T>(v);
    return {};
  };
}

const toml::table* sectionOf(const toml::table& root, std::string_view name, const std::string& file,
                             std::string& err) {
  const toml::node* n = root.get(name);
  if (n == nullptr) return nullptr;
  if (!n->is_table()) err = fmt::format("{}: [{}] must be a table", where(file, n->source()), name);
  return n->as_table();
}

std::string tomlString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace

Expected<ListenAddress, std::string> parseListenAddress(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return unexpected(std::string("expected [IPv6]:PORT"));
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return unexpected(std::string("expected HOST:PORT"));
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return unexpected(std::string("write IPv6 addresses as [ADDR]:PORT"));
  }
  if (host.empty()) return unexpected(std::string("empty host"));
  // A host name or an IP literal (an IPv6 zone after '%'), nothing else:
  // brackets, quotes or spaces inside a host would not survive being
  // written back by formatListenAddress, and a config focald rewrote must
  // still start it.
  for (char ch : host) {
    const auto u = static_cast<unsigned char>(ch);
    if (!(std::isalnum(u) || ch == '.' || ch == '-' || ch == '_' || ch == ':' || ch == '%')) {
      return unexpected(std::string("the host may hold only letters, digits and . - _ : %"));
    }
  }
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || p != port.data() + port.size() || value > 65535) {
    return unexpected(std::string("port must be a number from 0 to 65535"));
  }
  return ListenAddress{std::string(host), static_cast<std::uint16_t>(value)};
}

std::string formatListenAddress(std::string_view host, std::uint16_t port) {
  if (host.find(':') != std::string_view::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

Expected<Config, std::string> parseConfig(std::string_view text, const std::string& sourceName,
                                          const std::filesystem::path& baseDir) {
  toml::table root;
  try {
    root = toml::parse(text, sourceName);
  } catch (const toml::parse_error& e) {
    return unexpected(fmt::format("{}: {}", where(sourceName, e.source()), e.description()));
  }

  Config c;
  std::string listen;
  bool haveId = false;
  bool haveListen = false;
  std::string err;

  for (auto&& [key, node] : root) {
    const auto k = key.str();
    if (k != "hub" && k != "tls" && k != "limits" && k != "working_group" && k != "metrics" && k != "log" &&
        k != "retention") {
      return unexpected(fmt::format("{}: unknown section or key '{}'", where(sourceName, key.source()), k));
    }
  }

  const toml::table* hub = sectionOf(root, "hub", sourceName, err);
  if (!err.empty()) return unexpected(err);
  if (hub == nullptr) return unexpected(fmt::format("{}: missing [hub] section", sourceName));
  err = readSection(sourceName, *hub, "hub",
                    {{"id", [&](const toml::node& n) { haveId = true; return stringInto(c.hubId)(n); }},
                     {"listen", [&](const toml::node& n) { haveListen = true; return stringInto(listen)(n); }},
                     {"database", pathInto(c.database)},
                     {"signing_key", pathInto(c.signingKey)},
                     {"accept_seal_v1_until", [&](const toml::node& n) -> std::string {
                        std::string date;
                        if (auto e = stringInto(date)(n); !e.empty()) return e;
                        const auto ms = parseSealV1Until(date);
                        if (!ms) return "must be a date \"YYYY-MM-DD\" (UTC), e.g. \"2027-06-30\"";
                        c.limits.sealV1RefusedFromMs = *ms;
                        return {};
                      }}});
  if (!err.empty()) return unexpected(err);
  if (!haveId) return unexpected(fmt::format("{}: [hub] needs an id", sourceName));
  if (!haveListen) return unexpected(fmt::format("{}: [hub] needs listen = \"HOST:PORT\"", sourceName));
  if (!validMemberId(c.hubId)) {
    return unexpected(fmt::format("{}: hub.id '{}' must match [a-z0-9][a-z0-9.-]{{1,62}}",
                                  where(sourceName, hub->get("id")->source()), c.hubId));
  }
  auto addr = parseListenAddress(listen);
  if (!addr) {
    return unexpected(fmt::format("{}: hub.listen: {}", where(sourceName, hub->get("listen")->source()), addr.error()));
  }
  c.listenHost = addr->host;
  c.listenPort = addr->port;

  const toml::table* tls = sectionOf(root, "tls", sourceName, err);
  if (!err.empty()) return unexpected(err);
  if (tls == nullptr) return unexpected(fmt::format("{}: missing [tls] section", sourceName));
  bool haveCert = false;
  bool haveKey = false;
  err = readSection(sourceName, *tls, "tls",
                    {{"certificate", [&](const toml::node& n) { haveCert = true; return pathInto(c.tlsCertificate)(n); }},
                     {"private_key", [&](const toml::node& n) { haveKey = true; return pathInto(c.tlsPrivateKey)(n); }}});
  if (!err.empty()) return unexpected(err);
  if (!haveCert || !haveKey) return unexpected(fmt::format("{}: [tls] needs certificate and private_key", sourceName));

  if (const toml::table* limits = sectionOf(root, "limits", sourceName, err); limits != nullptr) {
    Limits& l = c.limits;
    constexpr std::uint64_t Day = 24ull * 60 * 60 * 1000;
    constexpr std::uint64_t U32 = std::numeric_limits<std::uint32_t>::max();
    err = readSection(
        sourceName, *limits, "limits",
        {{"max_frame_bytes", integerInto(l.maxFrameBytes, 64 * 1024, protocol::MaxFrameBytes)},
         {"max_connections", integerInto(l.maxConnections, 1, 1'000'000)},
         {"max_unauthenticated_per_source", integerInto(l.maxUnauthenticatedPerSource, 1, 1'000'000)},
         {"max_connections_per_member", integerInto(l.maxConnectionsPerMember, 1, 1024)},
         {"handshake_timeout_ms", integerInto(l.handshakeTimeoutMs, 100, 600'000)},
         {"unauthenticated_timeout_ms", integerInto(l.unauthenticatedTimeoutMs, 100, 600'000)},
         {"idle_timeout_ms", integerInto(l.idleTimeoutMs, 1000, Day)},
         {"read_timeout_ms", integerInto(l.readTimeoutMs, 100, 600'000)},
         {"write_timeout_ms", integerInto(l.writeTimeoutMs, 100, 600'000)},
         {"outbound_queue_bytes", integerInto(l.outboundQueueBytes, 2ull * protocol::MaxFrameBytes, 1ull << 32)},
         {"outbound_queue_frames", integerInto(l.outboundQueueFrames, 16, 1'000'000)},
         {"requests_per_second", integerInto(l.requestsPerSecond, 1, U32)},
         {"request_burst", integerInto(l.requestBurst, 1, U32)},
         {"max_inflight_requests", integerInto(l.maxInflightRequests, 1, 4096)},
         {"auth_failures_per_minute", integerInto(l.authFailuresPerMinute, 1, 1'000'000)},
         {"write_queue", integerInto(l.writeQueue, 16, 10'000'000)},
         {"write_batch", integerInto(l.writeBatch, 1, 65536)},
         {"verify_threads", integerInto(l.verifyThreads, 0, 256)},
         {"max_open_uploads_per_member", integerInto(l.maxOpenUploadsPerMember, 1, 4096)},
         {"max_attachment_bytes", integerInto(l.maxAttachmentBytes, 1, protocol::MaxAttachmentBytes)}});
    if (!err.empty()) return unexpected(err);
  }
  if (!err.empty()) return unexpected(err);

  if (const toml::table* metrics = sectionOf(root, "metrics", sourceName, err); metrics != nullptr) {
    err = readSection(sourceName, *metrics, "metrics",
                      {{"enabled", [&](const toml::node& n) -> std::string {
                          if (!n.is_boolean()) return "expected true or false";
                          c.metricsEnabled = *n.value<bool>();
                          return {};
                        }},
                       {"listen", [&](const toml::node& n) -> std::string {
                          std::string text;
                          if (auto e = stringInto(text)(n); !e.empty()) return e;
                          auto addr = parseListenAddress(text);
                          if (!addr) return addr.error();
                          c.metricsHost = addr->host;
                          c.metricsPort = addr->port;
                          return {};
                        }}});
  }
  if (!err.empty()) return unexpected(err);

  if (const toml::table* log = sectionOf(root, "log", sourceName, err); log != nullptr) {
    err = readSection(sourceName, *log, "log", {{"level", [&](const toml::node& n) -> std::string {
                                                  std::string level;
                                                  if (auto e = stringInto(level)(n); !e.empty()) return e;
                                                  for (const char* known : {"trace", "debug", "info", "warn", "error", "off"}) {
                                                    if (level == known) {
                                                      c.logLevel = level;
                                                      return {};
                                                    }
                                                  }
                                                  return "must be trace, debug, info, warn, error or off";
                                                }}});
  }
  if (!err.empty()) return unexpected(err);

  if (const toml::table* wg = sectionOf(root, "working_group", sourceName, err); wg != nullptr) {
    err = readSection(sourceName, *wg, "working_group",
                      {{"member_states", [&](const toml::node& n) -> std::string {
                          const toml::array* a = n.as_array();
                          if (a == nullptr) return "must be an array of ISO 3166-1 alpha-2 codes, e.g. [\"SG\", \"MY\"]";
                          std::vector<std::string> states;
                          for (const auto& v : *a) {
                            const auto* str = v.as_string();
                            if (str == nullptr || !protocol::isIso3166Alpha2(str->get())) {
                              return fmt::format("{}: not an ISO 3166-1 alpha-2 code in upper case",
                                                 str == nullptr ? std::string("a non-string") : "'" + str->get() + "'");
                            }
                            states.push_back(str->get());
                          }
                          if (states.empty()) return "lists at least one member state";
                          std::sort(states.begin(), states.end());
                          if (std::adjacent_find(states.begin(), states.end()) != states.end()) {
                            return "names a member state twice";
                          }
                          c.memberStates = std::move(states);
                          return {};
                        }}});
  }
  if (!err.empty()) return unexpected(err);

  if (const toml::table* retention = sectionOf(root, "retention", sourceName, err); retention != nullptr) {
    for (auto&& [key, node] : *retention) {
      const auto* name = std::find(RetentionPolicy::LevelNames.begin(), RetentionPolicy::LevelNames.end(), key.str());
      if (name == RetentionPolicy::LevelNames.end()) {
        return unexpected(fmt::format("{}: unknown TLP level '{}' in [retention] (clear, green, amber, amber-strict, "
                                      "red)",
                                      where(sourceName, key.source()), key.str()));
      }
      const toml::table* level = node.as_table();
      if (level == nullptr) {
        return unexpected(fmt::format("{}: retention.{} must be a table ([retention.{}])",
                                      where(sourceName, node.source()), key.str(), key.str()));
      }
      RetentionRule& rule = c.retention.rules[static_cast<std::size_t>(name - RetentionPolicy::LevelNames.begin())];
      const std::string section = "retention." + std::string(key.str());
      err = readSection(sourceName, *level, section,
                        {{"acknowledged_days", integerInto(rule.acknowledgedDays, 0, RetentionPolicy::MaxDays)},
                         {"unacknowledged_days", integerInto(rule.unacknowledgedDays, 0, RetentionPolicy::MaxDays)}});
      if (!err.empty()) return unexpected(err + " (days after acceptance; 0 = never)");
    }
  }
  if (!err.empty()) return unexpected(err);

  for (auto* p : {&c.database, &c.signingKey, &c.tlsCertificate, &c.tlsPrivateKey}) {
    if (p->is_relative()) *p = baseDir / *p;
  }
  return c;
}

Expected<Config, std::string> loadConfig(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return unexpected(file.string() + ": cannot open the configuration file");
  std::ostringstream text;
  text << in.rdbuf();
  constexpr std::size_t MaxConfigBytes = 1024 * 1024;
  if (text.str().size() > MaxConfigBytes) return unexpected(file.string() + ": configuration file too large");
  return parseConfig(text.str(), file.string(), file.parent_path());
}

std::optional<std::int64_t> parseSealV1Until(std::string_view date) {
  int y = 0;
  unsigned m = 0;
  unsigned d = 0;
  char tail = 0;
  if (date.size() != 10 || std::sscanf(std::string(date).c_str(), "%4d-%2u-%2u%c", &y, &m, &d, &tail) != 3 || y < 1970) {
    return std::nullopt;
  }
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
  if (!ymd.ok()) return std::nullopt;
  const auto next = std::chrono::sys_days{ymd} + std::chrono::days{1};
  return std::chrono::duration_cast<std::chrono::milliseconds>(next.time_since_epoch()).count();
}

std::string formatSealV1Until(std::int64_t refusedFromMs) {
  const auto day = std::chrono::floor<std::chrono::days>(std::chrono::sys_time<std::chrono::milliseconds>(
                       std::chrono::milliseconds(refusedFromMs))) -
                   std::chrono::days{1};
  const std::chrono::year_month_day ymd{day};
  return fmt::format("{:04d}-{:02d}-{:02d}", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                     static_cast<unsigned>(ymd.day()));
}

std::string renderConfig(const Config& c) {
  const Limits& l = c.limits;
  return fmt::format(
      R"(# focald configuration. Relative paths are relative to this file's directory.
# Every limit has a safe default; values above the protocol's limits are refused.

[hub]
id = {}
listen = {}
database = {}
# Ed25519 secret key that signs log heads. Unencrypted by design so the hub
# can sign unattended: protect it like the TLS key (mode 0600, backups).
signing_key = {}
# The last day (UTC) on which bulletins sealed with seal v1 (no key
# commitment; clients before seal v2) are accepted. PROTOCOL.md section 8.1.
accept_seal_v1_until = {}

[tls]
certificate = {}
private_key = {}

[limits]
max_frame_bytes = {}
max_connections = {}
# Connections from one address (IPv6: one /64) not yet authenticated.
max_unauthenticated_per_source = {}
max_connections_per_member = {}
handshake_timeout_ms = {}
unauthenticated_timeout_ms = {}
idle_timeout_ms = {}
read_timeout_ms = {}
write_timeout_ms = {}
outbound_queue_bytes = {}
outbound_queue_frames = {}
requests_per_second = {}
request_burst = {}
max_inflight_requests = {}
auth_failures_per_minute = {}
write_queue = {}
write_batch = {}
# Signature-checking threads; 0 = one per hardware thread.
verify_threads = {}
max_open_uploads_per_member = {}
max_attachment_bytes = {}

[metrics]
# The metrics and health listener: GET /metrics (Prometheus), /healthz,
# /readyz. No authentication: keep it on loopback or a private network.
enabled = {}
listen = {}

[log]
# trace, debug, info, warn, error or off; applied again on SIGHUP
# (systemctl reload focald). focald run --log-level overrides it.
level = {}

[working_group]
# The member states (ISO 3166-1 alpha-2). A member can be registered or
# admitted only with one of these states (or none: partners, resource panel).
# To add a state, add it here and restart focald; the change is written to
# the audit trail. Consent is computed from the signed log, not from here.
member_states = [{}]

# How long bulletins and their attachments are kept, per TLP level, in days
# after the hub accepted them: acknowledged_days once every recipient has
# acknowledged, unacknowledged_days otherwise; 0 = never purged. Then the
# sender's focal status says expired. The directory log, the audit trail
# and an open summary-record procedure are never purged. See
# docs/operations.md "Retention"; focald purge DIR --dry-run shows what is due.
{})",
      tomlString(c.hubId), tomlString(formatListenAddress(c.listenHost, c.listenPort)),
      tomlString(c.database.string()), tomlString(c.signingKey.string()),
      tomlString(formatSealV1Until(c.limits.sealV1RefusedFromMs)), tomlString(c.tlsCertificate.string()),
      tomlString(c.tlsPrivateKey.string()), l.maxFrameBytes, l.maxConnections, l.maxUnauthenticatedPerSource,
      l.maxConnectionsPerMember,
      l.handshakeTimeoutMs, l.unauthenticatedTimeoutMs, l.idleTimeoutMs, l.readTimeoutMs, l.writeTimeoutMs,
      l.outboundQueueBytes, l.outboundQueueFrames, l.requestsPerSecond, l.requestBurst, l.maxInflightRequests,
      l.authFailuresPerMinute, l.writeQueue, l.writeBatch, l.verifyThreads, l.maxOpenUploadsPerMember, l.maxAttachmentBytes,
      c.metricsEnabled ? "true" : "false", tomlString(formatListenAddress(c.metricsHost, c.metricsPort)),
      tomlString(c.logLevel),
      [&] {
        std::string list;
        for (const auto& st : c.memberStates) list += (list.empty() ? "" : ", ") + tomlString(st);
        return list;
      }(),
      [&] {
        std::string out;
        for (std::size_t i = 0; i < RetentionPolicy::Levels; ++i) {
          out += fmt::format("[retention.{}]\nacknowledged_days = {}\nunacknowledged_days = {}\n",
                             RetentionPolicy::LevelNames[i], c.retention.rules[i].acknowledgedDays,
                             c.retention.rules[i].unacknowledgedDays);
          if (i + 1 < RetentionPolicy::Levels) out += "\n";
        }
        return out;
      }());
}

}  // namespace focal::server

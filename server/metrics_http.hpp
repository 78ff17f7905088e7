// The metrics listener: a small HTTP/1.1 server (Boost.Beast) with its own
// io_context on its own thread, so nothing it does, for a scraper or a
// hostile client, can block the hub's io thread; it reads only the atomic
// instruments of metrics.hpp. Paths (docs/operations.md, "Monitoring"):
//   GET /metrics  the Prometheus text exposition (renderMetrics)
//   GET /healthz  200 while the hub's io thread turns (its heartbeat is
//                 recent), else 503
//   GET /readyz   200 when the hub takes writes, else 503 and why not
//                 (notReadyReason)
// Anything else is 404; a method other than GET is 405.
//
// SECURITY: there is no authentication, and the figures describe the
// hub's traffic: bind it to loopback (the default) or a private network.
// Every request is bounded: at most MaxConnections at once (more are
// closed when accepted), a request head of at most MaxHeaderBytes and no
// body (both refused by Beast's parser, and the connection closed),
// RequestTimeout to read a request and again to write the answer, and at
// most MaxRequestsPerConnection on one keep-alive connection.
#pragma once

#include "server/net.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

namespace focal::server {

class CommitQueue;
struct HubMetrics;

struct HttpReply {
  unsigned status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
};

// The three paths above over a hub's instruments; `version` for build info.
// Called on the listener's thread.
std::function<HttpReply(std::string_view path)> metricsRoutes(const HubMetrics& hub, const CommitQueue& writer,
                                                              std::string version);

class MetricsServer {
 public:
  static constexpr std::size_t MaxConnections = 16;
  static constexpr std::uint32_t MaxHeaderBytes = 8 * 1024;
  static constexpr std::chrono::seconds RequestTimeout{5};
  static constexpr int MaxRequestsPerConnection = 100;

  using Route = std::function<HttpReply(std::string_view path)>;

  // Binds HOST:PORT (port 0: any) now; throws boost::system::system_error.
  MetricsServer(const std::string& host, std::uint16_t port, Route route);
  ~MetricsServer();  // stop()
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  net::ip::tcp::endpoint endpoint() const { return endpoint_; }
  // Starts serving on the listener's thread.
  void start();
  // Stops the thread; connections in progress are dropped. Idempotent.
  void stop();

 private:
  static net::awaitable<void> acceptLoop(MetricsServer* server);
  static net::awaitable<void> serve(MetricsServer* server, net::ip::tcp::socket socket);

  net::io_context io_{1};
  net::ip::tcp::acceptor acceptor_;
  net::ip::tcp::endpoint endpoint_;
  Route route_;
  std::thread thread_;
  std::size_t connections_ = 0;  // listener thread only
};

}  // namespace focal::server

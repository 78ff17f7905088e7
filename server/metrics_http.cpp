// The metrics listener (metrics_http.hpp).
#include "server/metrics_http.hpp"

#include "server/commit_queue.hpp"
#include "server/metrics.hpp"
#include "server/thread_name.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

namespace focal::server {

namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;

// The io thread beats every HubMetrics::HeartbeatEvery; /healthz fails
// when it has not for this long (a wedged or overloaded io thread).
constexpr std::chrono::milliseconds HeartbeatStale{15'000};

std::int64_t steadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::function<HttpReply(std::string_view)> metricsRoutes(const HubMetrics& hub, const CommitQueue& writer,
                                                         std::string version) {
  return [&hub, &writer, version = std::move(version)](std::string_view path) -> HttpReply {
    if (path == "/metrics") {
      return {200, "text/plain; version=0.0.4; charset=utf-8", renderMetrics(hub, writer, version)};
    }
    if (path == "/healthz") {
      const auto age = steadyMs() - hub.heartbeatMs.value();
      if (age > HeartbeatStale.count()) {
        return {503, "text/plain; charset=utf-8", "the io thread has not turned for " + std::to_string(age) + " ms\n"};
      }
      return {200, "text/plain; charset=utf-8", "ok\n"};
    }
    if (path == "/readyz") {
      const auto why = notReadyReason(hub, writer);
      if (!why.empty()) return {503, "text/plain; charset=utf-8", "not ready: " + why + "\n"};
      return {200, "text/plain; charset=utf-8", "ready\n"};
    }
    return {404, "text/plain; charset=utf-8", "not found\n"};
  };
}

MetricsServer::MetricsServer(const std::string& host, std::uint16_t port, Route route)
    : acceptor_(io_), route_(std::move(route)) {
  boost::system::error_code ec;
  net::ip::tcp::endpoint endpoint;
  const auto address = net::ip::make_address(host, ec);
  if (!ec) {
    endpoint = net::ip::tcp::endpoint(address, port);
  } else {
    net::ip::tcp::resolver resolver(io_);
    endpoint = resolver.resolve(host, std::to_string(port)).begin()->endpoint();  // throws on failure
  }
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::ip::tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(static_cast<int>(MaxConnections));
  endpoint_ = acceptor_.local_endpoint();
}

MetricsServer::~MetricsServer() { stop(); }

void MetricsServer::start() {
  if (thread_.joinable()) return;
  net::co_spawn(io_, acceptLoop(this), net::detached);
  thread_ = std::thread([this] {
    nameThisThread("focal-metrics");
    try {
      io_.run();
    } catch (const std::exception& e) {
      spdlog::error("metrics listener stopped: {}", e.what());
    }
  });
}

void MetricsServer::stop() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

net::awaitable<void> MetricsServer::acceptLoop(MetricsServer* server) {
  boost::system::error_code ec;
  while (ec != net::error::operation_aborted) {
    auto socket = co_await server->acceptor_.async_accept(net::redirect_error(net::use_awaitable, ec));
    if (!ec && server->connections_ < MaxConnections) {
      ++server->connections_;
      net::co_spawn(server->io_, serve(server, std::move(socket)), net::detached);
    } else if (!ec) {
      socket.close(ec);  // over the cap: closed unanswered
      ec = {};
    } else if (ec != net::error::operation_aborted) {
      // EMFILE and friends: a pause instead of spinning on the error.
      net::steady_timer pause(server->io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
  }
}

net::awaitable<void> MetricsServer::serve(MetricsServer* server, net::ip::tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  // SECURITY: the buffer's cap bounds what one connection can make us hold.
  beast::flat_buffer buffer(2 * MaxHeaderBytes);
  boost::system::error_code ec;
  try {
    for (int n = 0; n < MaxRequestsPerConnection; ++n) {
      http::request_parser<http::empty_body> parser;
      parser.header_limit(MaxHeaderBytes);
      parser.body_limit(0);
      stream.expires_after(RequestTimeout);
      co_await http::async_read(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
      if (ec) break;  // closed, timed out, too large, a body, or not HTTP: no answer
      const auto& request = parser.get();
      HttpReply reply;
      if (request.method() != http::verb::get) {
        reply = {405, "text/plain; charset=utf-8", "only GET\n"};
      } else {
        std::string_view target(request.target().data(), request.target().size());
        target = target.substr(0, target.find('?'));
        reply = server->route_(target);
      }
      http::response<http::string_body> response{static_cast<http::status>(reply.status), request.version()};
      response.set(http::field::server, "focald");
      response.set(http::field::content_type, reply.contentType);
      if (reply.status == 405) response.set(http::field::allow, "GET");
      response.keep_alive(request.keep_alive());
      response.body() = std::move(reply.body);
      response.prepare_payload();
      stream.expires_after(RequestTimeout);
      co_await http::async_write(stream, response, net::redirect_error(net::use_awaitable, ec));
      if (ec || !response.keep_alive()) break;
    }
  } catch (const std::exception& e) {
    spdlog::warn("metrics listener: {}", e.what());
  }
  stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
  stream.close();
  --server->connections_;
}

}  // namespace focal::server

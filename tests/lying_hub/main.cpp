// focal_lying_hub DIR: a hub that serves whatever its database holds.
//
// It is focald (same Hub, sessions, handlers, store) except for the startup
// check: focald replays and verifies the whole log and refuses a tampered
// database; this harness takes every stored entry unchecked, in the stored
// order, and serves it. It models an operator who edits the database and
// holds the hub key:
//   - the signed head is the stored log_heads row with the largest size,
//     served as it is (a test that deletes newer rows serves an older head);
//   - with no stored head left, it signs one over the chain of the entries
//     as stored (a consistent-looking lie).
// The integration tests start it on a tampered copy and check that clients
// detect the lie. Never a product binary.
#include "crypto/primitives.hpp"
#include "protocol/log.hpp"
#include "server/clock.hpp"
#include "server/commit_queue.hpp"
#include "server/config.hpp"
#include "server/directory.hpp"
#include "server/hub.hpp"
#include "server/startup.hpp"
#include "server/store.hpp"
#include "server/tls.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>
#include <limits>

using namespace focal;
using namespace focal::server;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: focal_lying_hub DIR" << std::endl;
    return 2;
  }
  try {
    crypto::initialize();
    std::signal(SIGPIPE, SIG_IGN);
    auto logger = spdlog::stderr_color_mt("lying-hub");
    spdlog::set_default_logger(logger);
    const std::filesystem::path dir = argv[1];
    auto config = loadConfig(dir / "focal.toml");
    if (!config) throw std::runtime_error(config.error());
    Config cfg = std::move(config).value();
    cfg.listenHost = "127.0.0.1";
    cfg.listenPort = 0;

    SystemClock clock;
    auto hubKey = loadHubKey(cfg.signingKey);
    CommitQueue::Options writerOptions;
    writerOptions.maxQueued = cfg.limits.writeQueue;
    writerOptions.maxBatch = cfg.limits.writeBatch;
    CommitQueue commits(cfg.database, writerOptions);
    Store store(sqlite::Database::open(cfg.database, sqlite::Database::Mode::ReadOnly));
    auto entries =
        store.logEntries(0, std::numeric_limits<std::uint32_t>::max(), std::numeric_limits<std::size_t>::max());
    Directory directory;
    crypto::Hash256 chain{};
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const auto& e = entries[i];
      directory.applyUnchecked(e);
      chain = protocol::logEntryHash(e.index, i == 0 ? protocol::logGenesisPrev() : chain, e.recordedAtMs, e.event,
                                     e.authorKey, e.signature);
    }
    std::optional<StoredHead> head;
    {
      auto s = store.database().prepare("SELECT max(size) FROM log_heads");
      if (s->step() && !s->columnIsNull(0)) head = store.head(static_cast<std::uint64_t>(s->columnInt(0)));
    }
    if (!head) {
      auto h = protocol::signLogHead(cfg.hubId, entries.size(), chain, clock.nowMs(), hubKey.secretKey);
      head = StoredHead{entries.size(), std::move(h.head), h.signature};
    }
    directory.setHead(std::move(*head));
    auto tls = makeServerTlsContext(cfg.tlsCertificate, cfg.tlsPrivateKey);

    net::io_context io(1);
    Hub hub(io, std::move(cfg), clock, store, commits, std::move(directory), std::move(hubKey), tls);
    commits.start();
    const auto bound = hub.listen("127.0.0.1", 0);
    std::cout << "focald listening on 127.0.0.1:" << bound.port() << std::endl;
    hub.start();
    net::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&hub](const boost::system::error_code& ec, int) {
      if (!ec) hub.stop();
    });
    io.run();
    commits.stop();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "focal_lying_hub: " << e.what() << std::endl;
    return 1;
  }
}

// InProcessHub: init, load, start and stop, as focald's main does.
#include "tests/support/in_process_hub.hpp"

#include "crypto/keyfile.hpp"
#include "crypto/secure_file.hpp"
#include "server/startup.hpp"
#include "tests/support/log_events.hpp"
#include "tests/support/raw_client.hpp"

#include <spdlog/sinks/ostream_sink.h>

#include <stdexcept>

namespace focal::test_support {

LogCapture::LogCapture() : previous_(spdlog::default_logger()), previousLevel_(spdlog::get_level()) {
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_, /*force_flush=*/true);
  auto logger = std::make_shared<spdlog::logger>("capture", sink);
  logger->set_level(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::trace);
}

LogCapture::~LogCapture() {
  spdlog::set_default_logger(previous_);
  spdlog::set_level(previousLevel_);
}

InProcessHub::InProcessHub(InProcessHubOptions options)
    : log(options.captureLog ? std::make_unique<LogCapture>() : nullptr),
      clock(options.startMs.value_or(server::SystemClock().nowMs())) {
  server::InitOptions o;
  o.dir = dir.path() / "hub";
  o.listen = "127.0.0.1:0";
  o.adminState = "SG";
  // The first admin's keys, made as on the admin's own machine: init takes
  // only the public file (outside the hub directory).
  admin = crypto::MemberKeys::generate("admin", clock.nowMs());
  o.adminPublicKeyFile = dir.path() / "admin.key.pub";
  crypto::writeFileAtomic(o.adminPublicKeyFile, crypto::formatPublicKeys(admin.publicKeys()), 0644);
  init = server::initHub(o, clock);
  auto loaded = server::loadConfig(init.configFile);
  if (!loaded.ok()) throw std::runtime_error("in-process hub: cannot read the configuration init wrote");
  config = loaded.value();
  if (options.limits) options.limits(config.limits);
  auto hubKey = server::loadHubKey(config.signingKey);
  commits = std::make_unique<server::CommitQueue>(config.database, server::CommitQueue::Options{});
  store = std::make_unique<server::Store>(
      server::sqlite::Database::open(config.database, server::sqlite::Database::Mode::ReadOnly));
  auto directory = server::loadDirectory(*store, config, hubKey, clock);
  tls.emplace(server::makeServerTlsContext(config.tlsCertificate, config.tlsPrivateKey));
  hub = std::make_unique<server::Hub>(io, config, clock, *store, *commits, std::move(directory), std::move(hubKey),
                                      *tls);
  commits->start();
  port = hub->listen("127.0.0.1", 0).port();
  hub->start();
  thread = std::thread([this] { io.run(); });
}

void InProcessHub::stop() {
  if (!thread.joinable()) return;
  net::post(io, [this] { hub->stop(); });
  thread.join();
}

void InProcessHub::stopAndClose() {
  stop();
  hub.reset();
  store.reset();
  commits.reset();
}

crypto::MemberKeys registerMember(InProcessHub& h, RawClient& adminSession, const std::string& id,
                                  const std::string& state, const std::string& name) {
  auto keys = crypto::MemberKeys::generate(id, h.clock.nowMs());
  events::MemberSpec spec;
  spec.id = id;
  spec.state = state;
  const auto reply =
      adminSession.admin(events::registration(spec, keys.publicKeys(), h.admin.identity.secretKey, h.clock.nowMs(), name),
                         h.admin.identity.secretKey);
  if (reply.root().which() != wire::ServerFrame::ADMIN) {
    throw std::runtime_error("registering " + id + ": " + describe(reply));
  }
  return keys;
}

}  // namespace focal::test_support

// A real Hub in process for the reliability tests (header-only; included by
// tests/unit/durability_*_test.cpp, which link focal_server_core), after the
// pattern of tests/unit/server_hub_test.cpp: `focald init` logic in a
// temporary directory, a Hub on a loopback port 0 on its own io thread, and
// a blocking raw-frame TLS client so tests can capture and replay frames.
//
// Differences from server_hub_test.cpp's RunningHub: the hub's log
// (everything spdlog would print on focald's stderr) is captured, at trace
// level, into a string the tests can scan; the clock is a ManualClock the
// test moves.
#pragma once

#include "crypto/keyfile.hpp"
#include "protocol/bulletin.hpp"
#include "protocol/log.hpp"
#include "protocol/signing.hpp"
#include "server/commit_queue.hpp"
#include "server/config.hpp"
#include "server/hub.hpp"
#include "server/init_command.hpp"
#include "server/startup.hpp"
#include "server/tls.hpp"

#include <capnp/message.h>
#include <catch2/catch.hpp>
#include <openssl/ssl.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

namespace focal::reliability {

using namespace std::chrono_literals;
namespace net = focal::net;
namespace ssl = focal::ssl;

inline constexpr std::string_view HubPassphrase = "reliability test passphrase";

// Captures spdlog's default logger for its lifetime, at trace level.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()), previousLevel_(spdlog::get_level()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_, /*force_flush=*/true);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::trace);
  }
  ~LogCapture() {
    spdlog::set_default_logger(previous_);
    spdlog::set_level(previousLevel_);
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  // Call only when no other thread logs (the hub stopped), or accept a snapshot.
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
  spdlog::level::level_enum previousLevel_;
};

class TempDirectory {
 public:
  TempDirectory() {
    crypto::initialize();
    std::string tmpl = (std::filesystem::temp_directory_path() / "focal-reliability-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDirectory() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDirectory(const TempDirectory&) = delete;
  TempDirectory& operator=(const TempDirectory&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct InProcessHub {
  TempDirectory dir;
  std::unique_ptr<LogCapture> log = std::make_unique<LogCapture>();
  server::ManualClock clock{server::SystemClock().nowMs()};
  server::InitResult init;
  crypto::MemberKeys admin;
  server::Config config;
  std::unique_ptr<server::CommitQueue> commits;
  std::unique_ptr<server::Store> store;
  std::optional<ssl::context> tls;
  net::io_context io;
  std::unique_ptr<server::Hub> hub;
  std::thread thread;
  std::uint16_t port = 0;

  InProcessHub() {
    server::InitOptions o;
    o.dir = dir.path() / "hub";
    o.listen = "127.0.0.1:0";
    o.adminState = "SG";
    o.kdf = crypto::KdfStrength::Interactive;
    init = server::initHub(o, HubPassphrase, clock);
    auto keys = crypto::readKeyFile(init.adminKeyFile, HubPassphrase);
    REQUIRE(keys.ok());
    admin = std::move(keys).value();
    auto loaded = server::loadConfig(init.configFile);
    REQUIRE(loaded.ok());
    config = loaded.value();
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
  // Graceful shutdown, as on SIGTERM; returns when io.run() returned. The
  // connections close afterwards, so SQLite checkpoints the WAL into the
  // database file.
  void stop() {
    if (thread.joinable()) {
      net::post(io, [this] { hub->stop(); });
      thread.join();
    }
    hub.reset();
    store.reset();
    commits.reset();
  }
  ~InProcessHub() { stop(); }
  std::filesystem::path hubDir() const { return init.configFile.parent_path(); }
};

// A blocking client that speaks raw frames; every wait is bounded (5 s).
class RawClient {
 public:
  explicit RawClient(const InProcessHub& h) : ctx_(ssl::context::tls_client), stream_(io_, ctx_) {
    SSL_CTX_set_min_proto_version(ctx_.native_handle(), TLS1_3_VERSION);
    ctx_.load_verify_file(h.init.caFile.string());
    ctx_.set_verify_mode(ssl::verify_peer);
    stream_.lowest_layer().connect({net::ip::make_address("127.0.0.1"), h.port});
    bool done = false;
    boost::system::error_code ec;
    stream_.async_handshake(ssl::stream_base::client, [&](boost::system::error_code e) {
      done = true;
      ec = e;
    });
    io_.run_for(5s);
    REQUIRE(done);
    REQUIRE_FALSE(ec);
    auto challenge = read();
    REQUIRE(challenge);
    REQUIRE(challenge->root().which() == wire::ServerFrame::CHALLENGE);
    auto c = challenge->root().getChallenge();
    nonce_ = *crypto::Challenge::fromBytes(protocol::view(c.getNonce()));
    hubKey_ = *crypto::SigningPublicKey::fromBytes(protocol::view(c.getHubKey()));
  }

  // Next frame; nullopt when the hub closed the connection (or 5 s passed).
  std::optional<protocol::Parsed<wire::ServerFrame>> read() {
    std::array<std::uint8_t, 4> prefix{};
    if (!readExact(prefix.data(), prefix.size())) return std::nullopt;
    const std::uint32_t len = (std::uint32_t{prefix[0]} << 24) | (prefix[1] << 16) | (prefix[2] << 8) | prefix[3];
    REQUIRE(len <= protocol::MaxFrameBytes);
    crypto::Bytes body(len);
    if (!readExact(body.data(), len)) return std::nullopt;
    auto parsed = protocol::decode<wire::ServerFrame>(body);
    REQUIRE(parsed.ok());
    return std::move(parsed).value();
  }

  void writeRaw(crypto::ByteView bytes) {
    boost::system::error_code ec;
    net::write(stream_, net::buffer(bytes.data(), bytes.size()), ec);
  }

  // Serialises a request with a fresh id; returns the frame bytes sent.
  crypto::Bytes send(const std::function<void(wire::ClientFrame::Builder)>& build, std::uint64_t* idOut = nullptr) {
    capnp::MallocMessageBuilder m;
    auto f = m.initRoot<wire::ClientFrame>();
    const std::uint64_t id = nextId_++;
    f.setId(id);
    build(f);
    auto bytes = protocol::toFrame(m);
    writeRaw(bytes);
    if (idOut != nullptr) *idOut = id;
    return bytes;
  }

  // Sends a request and returns the reply with its id (pushes are skipped).
  protocol::Parsed<wire::ServerFrame> call(const std::function<void(wire::ClientFrame::Builder)>& build) {
    std::uint64_t id = 0;
    send(build, &id);
    for (;;) {
      auto f = read();
      REQUIRE(f);
      if (f->root().getId() == id) return std::move(*f);
      REQUIRE(f->root().which() == wire::ServerFrame::PUSH);
    }
  }

  // The Authenticate frame for this connection's challenge and TLS session;
  // returns the exact bytes written (to be replayed elsewhere).
  crypto::Bytes sendAuthenticate(const std::string& memberId, const crypto::SigningKeyPair& key) {
    std::array<std::uint8_t, 32> exporter{};
    const auto& label = protocol::context::TlsExporterLabel;
    REQUIRE(SSL_export_keying_material(stream_.native_handle(), exporter.data(), exporter.size(), label.data(),
                                       label.size(), nullptr, 0, 0) == 1);
    const auto sig = crypto::sign(protocol::context::Auth, protocol::authMessage(nonce_, exporter, hubKey_, memberId),
                                  key.secretKey);
    return send([&](wire::ClientFrame::Builder f) {
      auto a = f.initAuthenticate();
      a.setVersion(1);
      a.setMemberId(protocol::asText(memberId));
      a.setIdentityKey(protocol::kjBytes(key.publicKey.view()));
      a.setSignature(protocol::kjBytes(sig.view()));
    });
  }
  crypto::Bytes authenticate(const std::string& memberId, const crypto::SigningKeyPair& key) {
    auto bytes = sendAuthenticate(memberId, key);
    auto reply = read();
    REQUIRE(reply);
    REQUIRE(reply->root().which() == wire::ServerFrame::AUTHENTICATED);
    return bytes;
  }

  // Reads until the hub closes; the last error frame's code, if any.
  std::optional<wire::ErrorCode> finalError() {
    std::optional<wire::ErrorCode> last;
    while (auto f = read()) {
      if (f->root().which() == wire::ServerFrame::ERROR) last = f->root().getError().getCode();
    }
    return last;
  }

  const crypto::SigningPublicKey& hubKey() const { return hubKey_; }

 private:
  bool readExact(std::uint8_t* p, std::size_t n) {
    bool done = false;
    boost::system::error_code ec;
    net::async_read(stream_, net::buffer(p, n), [&](boost::system::error_code e, std::size_t) {
      done = true;
      ec = e;
    });
    io_.restart();
    io_.run_for(5s);
    if (!done) {
      boost::system::error_code ignored;
      stream_.lowest_layer().cancel(ignored);
      io_.restart();
      io_.run();
      return false;
    }
    return !ec;
  }

  net::io_context io_;
  ssl::context ctx_;
  ssl::stream<net::ip::tcp::socket> stream_;
  crypto::Challenge nonce_;
  crypto::SigningPublicKey hubKey_;
  std::uint64_t nextId_ = 1;
};

inline std::string describe(const protocol::Parsed<wire::ServerFrame>& f) {
  if (f.root().which() != wire::ServerFrame::ERROR) return "frame kind " + std::to_string(int(f.root().which()));
  return std::string(protocol::errorName(f.root().getError().getCode())) + ": " +
         std::string(protocol::view(f.root().getError().getMessage()));
}

// Registers a member (new random keys) through an admin session.
inline crypto::MemberKeys registerMember(InProcessHub& h, RawClient& adminSession, const std::string& id,
                                         const std::string& state) {
  auto keys = crypto::MemberKeys::generate(id, h.clock.nowMs());
  const auto pk = keys.publicKeys();
  capnp::MallocMessageBuilder m;
  auto e = m.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(h.clock.nowMs());
  auto r = e.initRegister();
  auto info = r.initMember();
  info.setId(protocol::asText(id));
  info.setName(protocol::asText("Member " + id));
  info.setState(protocol::asText(state));
  info.setInstitution(wire::Institution::LAW_ENFORCEMENT);
  auto k = r.initKeys();
  k.setIdentityKey(protocol::kjBytes(pk.identity.view()));
  k.setEncryptionKey(protocol::kjBytes(pk.encryption.view()));
  k.setEncKeyCreatedAtMs(pk.createdAtMs);
  k.setEncKeyCert(protocol::kjBytes(pk.encCert.view()));
  const auto ev = protocol::signLogEvent(m, h.admin.identity.secretKey);
  auto reply = adminSession.call([&](wire::ClientFrame::Builder f) {
    auto a = f.initAdmin();
    a.setEvent(protocol::kjBytes(ev.event));
    a.setSignature(protocol::kjBytes(ev.signature.view()));
  });
  INFO(describe(reply));
  REQUIRE(reply.root().which() == wire::ServerFrame::ADMIN);
  return keys;
}

}  // namespace focal::reliability

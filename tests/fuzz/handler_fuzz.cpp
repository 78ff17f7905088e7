// libFuzzer harness for the hub's request dispatcher (RequestHandler) behind
// a real, authenticated session.
//
// RequestHandler::handle needs a Session that authenticated itself (the
// member id comes from the session, never from the request), and a Session
// only gets there through the TLS handshake and the signed challenge. So the
// harness runs a whole hub in process, as the server unit tests do: `focald
// init` logic in a temporary directory, a Hub on a loopback port 0 on its
// own io thread, the CommitQueue writer thread, and a ManualClock fixed at
// fuzz::FixedNowMs. At start it registers four members with fixed keys
// (fz-alice as an admin, fz-bob, fz-carol, fz-dave), uploads a blob and
// sends a bulletin with it as fz-alice (so the download, status, fetch and
// ack seeds work in any order), and keeps one TLS connection authenticated
// as fz-alice.
//
// Input: one ClientFrame message body (no length prefix), i.e. what
// decode<wire::ClientFrame> takes. Inputs that do not decode are skipped
// (frame_fuzz owns the decoder). The harness sends the bytes verbatim behind
// a length prefix and reads until the answer to the frame's own request id
// arrives (pushes are skipped). Seeds (make_seeds.cpp) are correctly signed
// requests of every kind from fz-alice, so mutations start deep: a send
// that is accepted, an ack, an admin registration, an upload, a download.
//
// Properties (a violation aborts):
//  - every request gets an answer within AnswerDeadline: no lost request,
//    no hang (the session may close instead, with a final error frame);
//  - the answer is never `internal`: an exception escaped a handler on
//    attacker input (our bug, tier 2 of STYLE.md habit 6);
//  - the session is never closed with malformedFrame: decode() accepted the
//    frame, so a kj::Exception in a handler broke decode's promise;
//  - and no crash, leak or sanitizer report in the hub (ASan/UBSan).
// Hub state carries over between inputs (members registered, uploads,
// bulletins): that is what a long-lived session sees too. A fuzzer-found
// crash therefore may need the inputs before it; libFuzzer's -runs over the
// corpus replays them.
#include "fuzz_fixtures.hpp"
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
#include <kj/exception.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

using namespace focal;
using namespace focal::server;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view AdminPassphrase = "fuzz admin passphrase";
// Generous: a request on loopback takes milliseconds even under ASan; the
// deadline only turns a hang into a report naming the request.
constexpr auto AnswerDeadline = 5s;

[[noreturn]] void broken(const std::string& what) {
  std::fprintf(stderr, "handler_fuzz: property violated: %s\n", what.c_str());
  std::abort();
}

// A blocking raw-frame TLS client (the pattern of server_hub_test.cpp's
// RawClient); every wait is bounded.
class RawClient {
 public:
  enum class Read { Frame, Closed, TimedOut };

  RawClient(std::uint16_t port, const std::filesystem::path& caFile) : ctx_(ssl::context::tls_client), stream_(io_, ctx_) {
    SSL_CTX_set_min_proto_version(ctx_.native_handle(), TLS1_3_VERSION);
    ctx_.load_verify_file(caFile.string());
    ctx_.set_verify_mode(ssl::verify_peer);
    stream_.lowest_layer().connect({net::ip::make_address("127.0.0.1"), port});
    bool done = false;
    boost::system::error_code ec;
    stream_.async_handshake(ssl::stream_base::client, [&](boost::system::error_code e) {
      done = true;
      ec = e;
    });
    io_.run_for(AnswerDeadline);
    if (!done || ec) broken("TLS handshake with the in-process hub failed");
    auto challenge = read();
    if (!challenge || challenge->root().which() != wire::ServerFrame::CHALLENGE) broken("no challenge from the hub");
    auto c = challenge->root().getChallenge();
    nonce_ = *crypto::Challenge::fromBytes(protocol::view(c.getNonce()));
    hubKey_ = *crypto::SigningPublicKey::fromBytes(protocol::view(c.getHubKey()));
  }

  void authenticate(const crypto::MemberKeys& keys) {
    std::array<std::uint8_t, 32> exporter{};
    const auto& label = protocol::context::TlsExporterLabel;
    if (SSL_export_keying_material(stream_.native_handle(), exporter.data(), exporter.size(), label.data(),
                                   label.size(), nullptr, 0, 0) != 1) {
      broken("TLS exporter failed");
    }
    const auto sig = crypto::sign(protocol::context::Auth,
                                  protocol::authMessage(nonce_, exporter, hubKey_, keys.memberId),
                                  keys.identity.secretKey);
    capnp::MallocMessageBuilder m;
    auto f = m.initRoot<wire::ClientFrame>();
    f.setId(nextId_++);
    auto a = f.initAuthenticate();
    a.setVersion(1);
    a.setMemberId(protocol::asText(keys.memberId));
    a.setIdentityKey(protocol::kjBytes(keys.identity.publicKey.view()));
    a.setSignature(protocol::kjBytes(sig.view()));
    write(protocol::toFrame(m));
    auto reply = read();
    if (!reply || reply->root().which() != wire::ServerFrame::AUTHENTICATED) broken("cannot authenticate " + keys.memberId);
  }


  bool write(crypto::ByteView bytes) {
    boost::system::error_code ec;
    net::write(stream_, net::buffer(bytes.data(), bytes.size()), ec);
    return !ec;
  }

  std::optional<protocol::Parsed<wire::ServerFrame>> read(Read* how = nullptr) {
    Read r = Read::Closed;
    std::array<std::uint8_t, 4> prefix{};
    std::optional<protocol::Parsed<wire::ServerFrame>> out;
    if ((r = readExact(prefix.data(), prefix.size())) == Read::Frame) {
      const std::uint32_t len = (std::uint32_t{prefix[0]} << 24) | (prefix[1] << 16) | (prefix[2] << 8) | prefix[3];
      if (len > protocol::MaxFrameBytes) broken("the hub sent a frame over the protocol limit");
      crypto::Bytes body(len);
      if ((r = readExact(body.data(), len)) == Read::Frame) {
        auto parsed = protocol::decode<wire::ServerFrame>(body);
        if (!parsed.ok()) broken("the hub sent a frame that does not decode");
        out.emplace(std::move(parsed).value());
      }
    }
    if (how != nullptr) *how = r;
    return out;
  }

  // Sends a request and returns the answer to it; no answer stops the harness.
  protocol::Parsed<wire::ServerFrame> call(const std::function<void(wire::ClientFrame::Builder)>& fill) {
    capnp::MallocMessageBuilder m;
    auto f = m.initRoot<wire::ClientFrame>();
    const auto id = nextId_++;
    f.setId(id);
    fill(f);
    write(protocol::toFrame(m));
    for (;;) {
      auto r = read();
      if (!r) broken("no answer to a request at start-up");
      if (r->root().getId() == id) return std::move(*r);
    }
  }

  // Sends an admin event signed by its author; anything but success stops the harness.
  void admin(const protocol::SignedEvent& ev) {
    auto r = call([&](wire::ClientFrame::Builder f) {
      auto a = f.initAdmin();
      a.setEvent(protocol::kjBytes(ev.event));
      a.setSignature(protocol::kjBytes(ev.signature.view()));
    });
    if (r.root().which() != wire::ServerFrame::ADMIN) broken("an admin request at start-up was refused");
  }

 private:
  Read readExact(std::uint8_t* p, std::size_t n) {
    bool done = false;
    boost::system::error_code ec;
    net::async_read(stream_, net::buffer(p, n), [&](boost::system::error_code e, std::size_t) {
      done = true;
      ec = e;
    });
    io_.restart();
    io_.run_for(AnswerDeadline);
    if (!done) {
      boost::system::error_code ignored;
      stream_.lowest_layer().cancel(ignored);
      io_.restart();
      io_.run();
      return Read::TimedOut;
    }
    return ec ? Read::Closed : Read::Frame;
  }

  net::io_context io_;
  ssl::context ctx_;
  ssl::stream<net::ip::tcp::socket> stream_;
  crypto::Challenge nonce_;
  crypto::SigningPublicKey hubKey_;
  std::uint64_t nextId_ = 1;
};

protocol::SignedEvent registration(const crypto::MemberKeys& keys, bool isAdmin, const crypto::SigningSecretKey& author) {
  const auto pk = keys.publicKeys();
  capnp::MallocMessageBuilder m;
  auto e = m.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(fuzz::FixedNowMs);
  auto r = e.initRegister();
  auto info = r.initMember();
  info.setId(protocol::asText(keys.memberId));
  info.setName(protocol::asText("Fuzz member " + keys.memberId));
  info.setState("SG");
  info.setInstitution(wire::Institution::LAW_ENFORCEMENT);
  info.setIsAdmin(isAdmin);
  auto k = r.initKeys();
  k.setIdentityKey(protocol::kjBytes(pk.identity.view()));
  k.setEncryptionKey(protocol::kjBytes(pk.encryption.view()));
  k.setEncKeyCreatedAtMs(pk.createdAtMs);
  k.setEncKeyCert(protocol::kjBytes(pk.encCert.view()));
  return protocol::signLogEvent(m, author);
}

struct InProcessHub {
  std::filesystem::path dir;
  ManualClock clock{fuzz::FixedNowMs};
  InitResult init;
  Config config;
  std::unique_ptr<CommitQueue> commits;
  std::unique_ptr<Store> store;
  std::optional<ssl::context> tls;
  net::io_context io;
  std::unique_ptr<Hub> hub;
  std::thread thread;
  std::uint16_t port = 0;
  crypto::MemberKeys me = fuzz::fixedSender();
  std::unique_ptr<RawClient> session;
  std::uint64_t reconnects = 0;
  std::uint64_t requests = 0;  // inputs that decoded and went to the hub

  InProcessHub() {
    crypto::initialize();
    spdlog::set_level(spdlog::level::err);  // refusals are the normal case here
    std::string tmpl = (std::filesystem::temp_directory_path() / "focal-handler-fuzz-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) broken("mkdtemp failed");
    dir = tmpl;
    InitOptions o;
    o.dir = dir / "hub";
    o.listen = "127.0.0.1:0";
    o.adminState = "SG";
    o.kdf = crypto::KdfStrength::Interactive;
    init = initHub(o, AdminPassphrase, clock);
    auto admin = crypto::readKeyFile(init.adminKeyFile, AdminPassphrase);
    auto loaded = loadConfig(init.configFile);
    if (!admin.ok() || !loaded.ok()) broken("cannot read the hub that init wrote");
    config = loaded.value();
    auto hubKey = loadHubKey(config.signingKey);
    commits = std::make_unique<CommitQueue>(config.database, CommitQueue::Options{});
    store = std::make_unique<Store>(sqlite::Database::open(config.database, sqlite::Database::Mode::ReadOnly));
    auto directory = loadDirectory(*store, config, hubKey, clock);
    tls.emplace(makeServerTlsContext(config.tlsCertificate, config.tlsPrivateKey));
    hub = std::make_unique<Hub>(io, config, clock, *store, *commits, std::move(directory), std::move(hubKey), *tls);
    commits->start();
    port = hub->listen("127.0.0.1", 0).port();
    hub->start();
    thread = std::thread([this] { io.run(); });

    RawClient adminSession(port, init.caFile);
    adminSession.authenticate(*admin);
    adminSession.admin(registration(fuzz::fixedSender(), true, admin->identity.secretKey));
    adminSession.admin(registration(fuzz::fixedRecipient(), false, admin->identity.secretKey));
    adminSession.admin(registration(fuzz::fixedOther(), false, admin->identity.secretKey));
    adminSession.admin(registration(fuzz::fixedRotated(), false, admin->identity.secretKey));
    prepareBlob();
  }

  // As fz-alice: uploads fuzz::fixedBlob() and sends a bulletin that
  // attaches it (see fuzz_fixtures.hpp).
  void prepareBlob() {
    const auto blob = fuzz::fixedBlob();
    const auto hash = crypto::hash256(blob);
    RawClient& c = connected();
    auto ready = c.call([&](wire::ClientFrame::Builder f) {
      f.initBeginUpload().setSize(blob.size());
      f.getBeginUpload().setBlobHash(protocol::kjBytes(hash.view()));
    });
    if (ready.root().which() != wire::ServerFrame::UPLOAD_READY) broken("beginUpload at start-up was refused");
    const auto uploadId = ready.root().getUploadReady().getUploadId();
    auto progress = c.call([&](wire::ClientFrame::Builder f) {
      auto chunk = f.initUploadChunk();
      chunk.setUploadId(uploadId);
      chunk.setOffset(0);
      chunk.setData(protocol::kjBytes(blob));
    });
    if (progress.root().which() != wire::ServerFrame::UPLOAD_PROGRESS || !progress.root().getUploadProgress().getComplete()) {
      broken("the upload at start-up did not complete");
    }
    protocol::BulletinDraft d;
    d.tlp = wire::Tlp::AMBER;
    d.category = wire::Category::TREND;
    d.title = "with blob";
    // To fz-alice herself too, so the fetch and ack seeds find a delivery.
    const auto bob = fuzz::fixedRecipient();
    for (const crypto::MemberKeys* m : std::initializer_list<const crypto::MemberKeys*>{&me, &bob}) {
      d.addresses.push_back(m->memberId);
      d.recipients.push_back(protocol::RecipientKey{m->memberId, m->encryption.publicKey});
    }
    d.attachments.push_back(protocol::AttachmentDraft{"blob.bin", "application/octet-stream", 900, hash, blob.size()});
    auto sealed = protocol::sealBulletin(d, me, crypto::ContentKey::random(), fuzz::FixedNowMs,
                                         fuzz::fixedId(fuzz::HubBulletinWithBlob));
    if (!sealed.ok()) broken("cannot seal the start-up bulletin");
    auto accepted = c.call([&](wire::ClientFrame::Builder f) { protocol::toWire(*sealed, f.initSend().initBulletin()); });
    if (accepted.root().which() != wire::ServerFrame::ACCEPTED) broken("the start-up bulletin was refused");
  }

  RawClient& connected() {
    if (!session) {
      session = std::make_unique<RawClient>(port, init.caFile);
      session->authenticate(me);
      ++reconnects;
    }
    return *session;
  }

  void shutdown() {
    session.reset();
    if (thread.joinable()) {
      net::post(io, [this] { hub->stop(); });
      thread.join();
    }
    hub.reset();
    commits.reset();
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

InProcessHub* theHub = nullptr;
// FOCAL_FUZZ_VERBOSE=1: one line per answered request (to check what the
// seeds reach, e.g. `focal_handler_fuzz -runs=0 corpus/handler`).
bool verbose = false;

void atExit() {
  if (theHub != nullptr) {
    std::fprintf(stderr, "handler_fuzz: %llu requests sent to the hub over %llu authenticated connections\n",
                 static_cast<unsigned long long>(theHub->requests), static_cast<unsigned long long>(theHub->reconnects));
    theHub->shutdown();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  verbose = std::getenv("FOCAL_FUZZ_VERBOSE") != nullptr;
  crypto::initialize();  // before InProcessHub's members make keys
  theHub = new InProcessHub();
  std::atexit(atExit);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parsed = protocol::decode<wire::ClientFrame>(crypto::ByteView(data, size));
  if (!parsed.ok()) return 0;

  // The fuzzer's bytes go to the hub verbatim (aliased pointers and all),
  // with the request id they carry; requests run one at a time, so the id
  // only has to tell the answer from pushes.
  if (size > theHub->config.limits.maxFrameBytes) return 0;
  const std::uint64_t id = parsed->root().getId();
  const auto which = parsed->root().which();
  crypto::Bytes frame{static_cast<std::uint8_t>(size >> 24), static_cast<std::uint8_t>(size >> 16),
                      static_cast<std::uint8_t>(size >> 8), static_cast<std::uint8_t>(size)};
  frame.insert(frame.end(), data, data + size);
  RawClient& c = theHub->connected();
  ++theHub->requests;

  bool closed = !c.write(frame);
  while (!closed) {
    RawClient::Read how;
    auto reply = c.read(&how);
    if (how == RawClient::Read::TimedOut) {
      broken("no answer within the deadline to a request of kind " + std::to_string(static_cast<int>(which)));
    }
    if (!reply) {
      closed = true;
      break;
    }
    auto r = reply->root();
    if (r.which() == wire::ServerFrame::ERROR) {
      const auto code = r.getError().getCode();
      if (code == wire::ErrorCode::INTERNAL) {
        broken("the hub answered `internal` to a request of kind " + std::to_string(static_cast<int>(which)) + ": " +
               std::string(protocol::view(r.getError().getMessage())));
      }
      // The hub answers a request it finds malformed with the request's id
      // (PROTOCOL.md §4.1), a frame it cannot decode with 0: either way,
      // after decode() accepted the frame here, it is a defect.
      if (code == wire::ErrorCode::MALFORMED_FRAME) {
        broken("the hub closed the session as malformed after decode() accepted the frame");
      }
      // id 0: either the answer to a request with the reserved id 0
      // (invalidRequest), or the session's final error, then the close.
      if (r.getId() == 0 && !(id == 0 && code == wire::ErrorCode::INVALID_REQUEST)) continue;
    }
    if (r.getId() == 0 && r.which() == wire::ServerFrame::PUSH) continue;
    if (r.getId() == id) {
      if (verbose) {
        const bool err = r.which() == wire::ServerFrame::ERROR;
        std::fprintf(stderr, "handler_fuzz: request kind %d -> %s %s\n", static_cast<int>(which),
                     err ? protocol::errorName(r.getError().getCode())
                         : ("reply kind " + std::to_string(static_cast<int>(r.which()))).c_str(),
                     err ? std::string(protocol::view(r.getError().getMessage())).c_str() : "");
      }
      break;
    }
  }
  if (closed) theHub->session.reset();  // next input reconnects and authenticates again
  return 0;
}

// Connection (client/connection.hpp): the TLS transport and its deadlines,
// framing and response matching, and every request through one generic
// helper (startRequest / request) that builds the ClientFrame, writes it and
// extracts an owning result from the expected response.
#include "client/connection.hpp"

#include "client/client_clock.hpp"
#include "client/client_error.hpp"
#include "client/tls_config.hpp"
#include "client/verified_log.hpp"
#include "protocol/distribution.hpp"
#include "protocol/log.hpp"
#include "protocol/signing.hpp"

#include <capnp/message.h>
#include <fmt/format.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <stdexcept>

namespace focal::client {

namespace {

using Kind = TransportError::Kind;
using Root = wire::ServerFrame::Reader;
using W = wire::ServerFrame;

// Bytes asked of the TLS stream per read; a frame larger than this takes
// several reads. The receive buffer is bounded by MaxFrameBytes + this.
constexpr std::size_t ReadChunkBytes = 64 * 1024;

crypto::Bytes copyData(capnp::Data::Reader d) { return crypto::Bytes(d.begin(), d.end()); }

SignedHeadBytes headFrom(wire::SignedLogHead::Reader h) {
  SignedHeadBytes out{copyData(h.getHead()), copyData(h.getSignature()), {}};
  for (auto c : h.getCosignatures()) {
    if (auto read = protocol::readCosignature(c)) out.cosignatures.push_back(std::move(*read));
  }
  return out;
}

HubError hubErrorOf(wire::Error::Reader e) {
  return HubError(e.getCode(), std::string(protocol::view(e.getMessage())), e.getRetryAfterMs());
}

std::optional<RawRecord> recordFrom(bool has, wire::SignedRecord::Reader r) {
  if (!has || r.getBody().size() == 0) return std::nullopt;
  const auto body = protocol::view(r.getBody());
  const auto sig = protocol::view(r.getSignature());
  return RawRecord{crypto::Bytes(body.begin(), body.end()), crypto::Bytes(sig.begin(), sig.end())};
}

Delivery deliveryFrom(wire::Delivery::Reader d) {
  return Delivery{d.getSeq(), d.getQueuedAtMs(), RawBulletin::fromWire(d.getBulletin()),
                  recordFrom(d.hasForward(), d.getForward()), recordFrom(d.hasRetraction(), d.getRetraction())};
}

}  // namespace

Connection::Connection(ConnectOptions options) : options_(options) { crypto::initialize(); }

Connection::~Connection() { close(); }

bool Connection::isOpen() const { return stream_.has_value() && !broken_ && stream_->lowest_layer().is_open(); }

void Connection::close() {
  if (stream_) {
    boost::system::error_code ignored;
    stream_->lowest_layer().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    stream_->lowest_layer().close(ignored);
  }
  broken_ = true;
}

void Connection::fail(Kind kind, const std::string& what) {
  close();
  throw TransportError(kind, what);
}

void Connection::requireAuthenticated() const {
  if (!authenticated_) throw std::logic_error("focal::client::Connection: authenticate() first");
}

// Runs the io_context until the single outstanding operation sets `done` or
// the deadline passes. On a deadline the operation is cancelled (soft) or the
// socket closed (hard), and the handler is always run before returning, so no
// handler outlives the locals it refers to. Returns false on a deadline.
bool Connection::drive(const bool& done, Clock::time_point deadline, bool closeOnTimeout) {
  ioc_.restart();
  if (!done && deadline > Clock::now()) ioc_.run_until(deadline);
  if (done) return true;
  boost::system::error_code ignored;
  if (closeOnTimeout) {
    stream_->lowest_layer().close(ignored);
    broken_ = true;
  } else {
    stream_->lowest_layer().cancel(ignored);
  }
  ioc_.restart();
  ioc_.run();
  return false;
}

void Connection::connect(const std::string& host, std::uint16_t port, const std::filesystem::path& caFile) {
  if (stream_) throw std::logic_error("focal::client::Connection: connect() twice");
  tls_.emplace(makeClientTlsContext(caFile));
  stream_.emplace(ioc_, *tls_);
  broken_ = false;
  const auto until = deadline();

  // Resolve.
  net::ip::tcp::resolver resolver(ioc_);
  net::ip::tcp::resolver::results_type endpoints;
  {
    bool done = false;
    boost::system::error_code ec;
    resolver.async_resolve(host, std::to_string(port),
                           [&](const boost::system::error_code& e, net::ip::tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                             done = true;
                           });
    ioc_.restart();
    ioc_.run_until(until);
    if (!done) {
      resolver.cancel();
      ioc_.restart();
      ioc_.run();
      fail(Kind::Timeout, "timed out resolving " + host);
    }
    if (ec) fail(Kind::Connect, "cannot resolve " + host + ": " + ec.message());
  }
  // Connect.
  {
    bool done = false;
    boost::system::error_code ec;
    net::async_connect(stream_->lowest_layer(), endpoints,
                       [&](const boost::system::error_code& e, const net::ip::tcp::endpoint&) {
                         ec = e;
                         done = true;
                       });
    if (!drive(done, until, true)) fail(Kind::Timeout, "timed out connecting to " + host);
    if (ec) fail(Kind::Connect, "cannot connect to " + host + ":" + std::to_string(port) + ": " + ec.message());
  }
  boost::system::error_code ignored;
  stream_->lowest_layer().set_option(net::ip::tcp::no_delay(true), ignored);
  // TLS handshake with the pin and the name check.
  configurePeerCheck(stream_->native_handle(), host);
  {
    bool done = false;
    boost::system::error_code ec;
    stream_->async_handshake(ssl::stream_base::client, [&](const boost::system::error_code& e) {
      ec = e;
      done = true;
    });
    if (!drive(done, until, true)) fail(Kind::Timeout, "timed out in the TLS handshake with " + host);
    if (ec) {
      std::string detail = ec.message();
      long vr = SSL_get_verify_result(stream_->native_handle());
      if (vr != X509_V_OK) detail += std::string(" (certificate: ") + X509_verify_cert_error_string(vr) + ")";
      fail(Kind::Tls, "TLS handshake with " + host + " failed: " + detail);
    }
  }
  if (SSL_version(stream_->native_handle()) != TLS1_3_VERSION) fail(Kind::Tls, "hub did not negotiate TLS 1.3");
}

crypto::Bytes Connection::channelBinding() {
  if (!isOpen()) throw std::logic_error("focal::client::Connection: not connected");
  crypto::Bytes out(protocol::context::TlsExporterBytes);
  const auto label = protocol::context::TlsExporterLabel;
  if (SSL_export_keying_material(stream_->native_handle(), out.data(), out.size(), label.data(), label.size(),
                                 nullptr, 0, 0) != 1) {
    fail(Kind::Tls, "TLS exporter unavailable");
  }
  return out;
}

void Connection::writeBytes(crypto::ByteView bytes) {
  if (!isOpen()) throw TransportError(Kind::Closed, "connection to the hub is closed");
  bool done = false;
  boost::system::error_code ec;
  net::async_write(*stream_, net::buffer(bytes.data(), bytes.size()),
                   [&](const boost::system::error_code& e, std::size_t) {
                     ec = e;
                     done = true;
                   });
  if (!drive(done, deadline(), true)) fail(Kind::Timeout, "timed out writing to the hub");
  if (ec) fail(Kind::Io, "write to the hub failed: " + ec.message());
}

void Connection::sendRawBytes(crypto::ByteView bytes) { writeBytes(bytes); }

std::uint64_t Connection::writeRequest(capnp::MallocMessageBuilder& message, wire::ClientFrame::Builder frame) {
  const std::uint64_t id = nextId_++;
  frame.setId(id);
  auto bytes = protocol::toFrame(message);
  if (bytes.size() - protocol::FrameHeaderBytes > protocol::MaxFrameBytes) {
    throw std::length_error("request larger than the protocol's frame limit");
  }
  writeBytes(bytes);
  pending_.insert(id);
  return id;
}

bool Connection::fillSome(Clock::time_point until, bool soft) {
  if (!isOpen()) throw TransportError(Kind::Closed, "connection to the hub is closed");
  std::array<std::uint8_t, ReadChunkBytes> chunk;
  bool done = false;
  boost::system::error_code ec;
  std::size_t n = 0;
  stream_->async_read_some(net::buffer(chunk), [&](const boost::system::error_code& e, std::size_t bytes) {
    ec = e;
    n = bytes;
    done = true;
  });
  const bool inTime = drive(done, until, !soft);
  // A read that completed while being cancelled still delivers its bytes.
  if (n > 0) rbuf_.insert(rbuf_.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
  if (!inTime && n == 0) {
    if (soft && ec == net::error::operation_aborted) return false;
    fail(Kind::Timeout, "timed out waiting for the hub");
  }
  if (ec && n == 0) {
    if (ec == net::error::eof || ec == ssl::error::stream_truncated || ec == net::error::connection_reset) {
      fail(Kind::Closed, "the hub closed the connection");
    }
    fail(Kind::Io, "read from the hub failed: " + ec.message());
  }
  return true;
}

std::optional<Connection::Frame> Connection::readFrame(Clock::time_point until, bool soft) {
  while (rbuf_.size() < protocol::FrameHeaderBytes) {
    if (!fillSome(until, soft)) return std::nullopt;
  }
  std::span<const std::uint8_t, protocol::FrameHeaderBytes> prefix(rbuf_.data(), protocol::FrameHeaderBytes);
  auto len = protocol::frameLength(prefix);
  // SECURITY: the length is checked before the body is buffered.
  if (!len) fail(Kind::Protocol, "hub sent an invalid frame: " + len.error().message);
  const std::size_t total = protocol::FrameHeaderBytes + *len;
  while (rbuf_.size() < total) {
    if (!fillSome(until, soft)) return std::nullopt;
  }
  auto parsed = protocol::decode<wire::ServerFrame>(
      crypto::ByteView(rbuf_.data() + protocol::FrameHeaderBytes, *len));
  rbuf_.erase(rbuf_.begin(), rbuf_.begin() + static_cast<std::ptrdiff_t>(total));
  if (!parsed) fail(Kind::Protocol, "hub sent a malformed frame: " + parsed.error().message);
  return std::move(parsed).value();
}

std::optional<protocol::Parsed<wire::ServerFrame>> Connection::receiveFrame(std::chrono::milliseconds timeout) {
  return readFrame(Clock::now() + timeout, true);
}

void Connection::bufferPush(wire::Delivery::Reader d) {
  if (pushes_.size() >= options_.maxBufferedPushes) {
    ++droppedPushes_;  // still queued at the hub until acked; a fetch recovers it
    return;
  }
  pushes_.push_back(deliveryFrom(d));
}

void Connection::bufferReminder(wire::ActionReminder::Reader r) {
  auto id = crypto::BulletinId::fromBytes(protocol::view(r.getActionId()));
  if (!id || reminders_.size() >= options_.maxBufferedPushes) return;  // the listing still shows the item
  reminders_.push_back(ActionReminderInfo{*id, std::string(protocol::view(r.getOwner())),
                                          std::string(protocol::view(r.getDueDay())), r.getStatus(), r.getOverdue()});
}

Connection::Frame Connection::takeResponse(std::uint64_t id) {
  if (auto it = stash_.find(id); it != stash_.end()) {
    Frame f = std::move(it->second);
    stash_.erase(it);
    pending_.erase(id);
    auto root = f.root();
    if (root.isError()) throw hubErrorOf(root.getError());
    return f;
  }
  const auto until = deadline();
  for (;;) {
    auto frame = readFrame(until, false);
    auto root = frame->root();
    const std::uint64_t fid = root.getId();
    if (fid == 0) {
      if (root.isPush()) {
        bufferPush(root.getPush());
        continue;
      }
      if (root.isActionReminder()) {
        bufferReminder(root.getActionReminder());
        continue;
      }
      if (root.isError()) failWithHubError(root.getError());  // connection-level: the hub closes after it
      fail(Kind::Protocol, std::string("unexpected ") + protocol::serverFrameName(root.which()) + " frame from the hub");
    }
    if (fid == id) {
      pending_.erase(id);
      if (root.isError()) throw hubErrorOf(root.getError());
      return std::move(*frame);
    }
    if (pending_.count(fid) != 0) {
      stash_.emplace(fid, std::move(*frame));
      continue;
    }
    fail(Kind::Protocol, "hub answered a request that was never sent (id " + std::to_string(fid) + ")");
  }
}

Connection::Frame Connection::takeResponse(std::uint64_t id, wire::ServerFrame::Which expected, const char* what) {
  auto f = takeResponse(id);
  if (f.root().which() != expected) {
    fail(Kind::Protocol, std::string("hub answered ") + what + " with " + protocol::serverFrameName(f.root().which()));
  }
  return f;
}

void Connection::failWithHubError(wire::Error::Reader e) {
  HubError err = hubErrorOf(e);
  close();
  throw err;
}

template <class Build>
std::uint64_t Connection::startRequest(Build&& build) {
  capnp::MallocMessageBuilder mb;
  auto frame = mb.initRoot<wire::ClientFrame>();
  build(frame);
  return writeRequest(mb, frame);
}

template <class Build, class Extract>
auto Connection::request(wire::ServerFrame::Which expected, const char* what, Build&& build, Extract&& extract) {
  const auto id = startRequest(std::forward<Build>(build));
  const auto response = takeResponse(id, expected, what);
  return extract(response.root());
}

const SessionInfo& Connection::authenticate(const crypto::Keyring& keys) {
  if (authenticated_) throw std::logic_error("focal::client::Connection: authenticate() twice");
  if (keys.memberId.empty() || keys.memberId.size() > protocol::MaxMemberIdBytes) {
    throw std::invalid_argument("member id must be 1.." + std::to_string(protocol::MaxMemberIdBytes) + " bytes");
  }
  auto challengeFrame = readFrame(deadline(), false);
  auto root = challengeFrame->root();
  if (root.isError()) failWithHubError(root.getError());
  if (!root.isChallenge() || root.getId() != 0) fail(Kind::Protocol, "hub did not open with a challenge");
  auto ch = root.getChallenge();
  if (ch.getVersion() != wire::PROTOCOL_VERSION) {
    fail(Kind::Protocol, "hub speaks protocol version " + std::to_string(ch.getVersion()));
  }
  auto nonce = protocol::view(ch.getNonce());
  auto hubKey = crypto::SigningPublicKey::fromBytes(protocol::view(ch.getHubKey()));
  if (nonce.size() != crypto::Challenge::size || !hubKey) fail(Kind::Protocol, "hub challenge has wrong field lengths");
  session_.hubId = std::string(protocol::view(ch.getHubId()));
  session_.hubKey = *hubKey;
  if (!options_.pinnedHubKey.empty() && protocol::isMemberIdSyntax(session_.hubId)) {
    // SECURITY: before our signature goes to a hub that is not the pinned one.
    const auto presented = crypto::fingerprint(session_.hubId, *hubKey);
    if (presented != options_.pinnedHubKey) {
      throw VerifyError("the hub presents hub key fingerprint " + presented + " (hub '" + session_.hubId +
                        "'), but this profile pins " + options_.pinnedHubKey +
                        " (focal profile set --hub-key, or the enrolment bundle): compare both with the fingerprint the hub's operator gave "
                        "you over a trusted channel; nothing was sent");
    }
  } else if (!options_.pinnedHubKey.empty()) {
    throw VerifyError("the hub's id is not a valid identifier; this profile pins a hub key, nothing was sent");
  }

  const auto exporter = channelBinding();
  const std::string& id = keys.memberId;
  const auto challenge = crypto::Challenge::fromBytes(nonce);
  const auto msg = protocol::authMessage(
      *challenge, std::span<const std::uint8_t, protocol::context::TlsExporterBytes>(exporter.data(), exporter.size()),
      *hubKey, id);
  const auto sig = keys.sign(protocol::context::Auth, msg);

  const auto rid = startRequest([&](auto frame) {
    auto auth = frame.initAuthenticate();
    auth.setVersion(wire::PROTOCOL_VERSION);
    auth.setMemberId(protocol::asText(id));
    auth.setIdentityKey(protocol::kjBytes(keys.identity.publicKey.view()));
    auth.setSignature(protocol::kjBytes(sig.view()));
  });
  // A refusal carries this request's id (or 0 from hubs before PROTOCOL.md
  // §4.1 said so); either way the hub closes after it, and so do we.
  std::optional<Frame> answer;
  try {
    answer.emplace(takeResponse(rid, W::AUTHENTICATED, "authenticate"));
  } catch (const HubError&) {
    close();
    throw;
  }
  auto& resp = *answer;
  auto a = resp.root().getAuthenticated();
  session_.memberId = std::string(protocol::view(a.getMemberId()));
  session_.serverTimeMs = a.getServerTimeMs();
  session_.logHead = headFrom(a.getLogHead());
  if (session_.memberId != id) fail(Kind::Protocol, "hub authenticated a different member id");
  keyOps_ = keys.ops();
  authenticated_ = true;
  return session_;
}

namespace {

AcceptedInfo acceptedFrom(wire::Accepted::Reader a) {
  AcceptedInfo out;
  if (auto id = crypto::BulletinId::fromBytes(protocol::view(a.getBulletinId()))) out.id = *id;
  out.acceptedAtMs = a.getAcceptedAtMs();
  out.alreadyAccepted = a.getAlreadyAccepted();
  return out;
}

RawRecord rawRecordOf(wire::SignedRecord::Reader r) { return RawRecord{copyData(r.getBody()), copyData(r.getSignature())}; }

// A request that asks for a page from `from`, at most `limit` (clamped to the
// protocol's page size) items.
template <class Query>
void setPage(Query q, std::uint64_t from, std::uint32_t limit, std::uint32_t max) {
  q.setFrom(from);
  q.setLimit(std::clamp<std::uint32_t>(limit, 1, max));
}

}  // namespace

AcceptedInfo Connection::send(const protocol::SealedBulletin& bulletin) {
  requireAuthenticated();
  return request(
      W::ACCEPTED, "send", [&](auto f) { protocol::toWire(bulletin, f.initSend().initBulletin()); },
      [](Root r) { return acceptedFrom(r.getAccepted()); });
}

std::vector<SendOutcome> Connection::sendPipelined(std::span<const protocol::SealedBulletin> bulletins) {
  requireAuthenticated();
  std::vector<SendOutcome> out(bulletins.size());
  std::deque<std::pair<std::uint64_t, std::size_t>> inFlight;  // (request id, index)
  const std::size_t window = std::max<std::size_t>(1, options_.pipelineWindow);
  auto collectOne = [&] {
    auto [rid, index] = inFlight.front();
    inFlight.pop_front();
    try {
      auto f = takeResponse(rid, W::ACCEPTED, "send");
      out[index].accepted = acceptedFrom(f.root().getAccepted());
    } catch (const HubError& e) {
      if (!isOpen()) throw;  // connection-level error: nothing more will come
      out[index].code = e.code();
      out[index].message = e.hubMessage();
    }
  };
  for (std::size_t i = 0; i < bulletins.size(); ++i) {
    while (inFlight.size() >= window) collectOne();
    const auto id = startRequest([&](auto f) { protocol::toWire(bulletins[i], f.initSend().initBulletin()); });
    inFlight.emplace_back(id, i);
  }
  while (!inFlight.empty()) collectOne();
  return out;
}

DeliveryPage Connection::fetch(std::uint64_t afterSeq, std::uint32_t limit) {
  requireAuthenticated();
  auto build = [&](auto frame) {
    auto f = frame.initFetch();
    f.setAfterSeq(afterSeq);
    f.setLimit(std::clamp<std::uint32_t>(limit, 1, protocol::MaxFetchPage));
  };
  return request(W::DELIVERIES, "fetch", build, [](Root r) {
    auto d = r.getDeliveries();
    DeliveryPage page;
    page.more = d.getMore();
    page.items.reserve(d.getItems().size());
    for (auto item : d.getItems()) page.items.push_back(deliveryFrom(item));
    return page;
  });
}

void Connection::subscribe() {
  requireAuthenticated();
  request(W::SUBSCRIBED, "subscribe", [](auto f) { f.setSubscribe(); }, [](Root) {});
}

void Connection::ping() {
  request(W::PONG, "ping", [](auto f) { f.setPing(); }, [](Root) {});
}

std::optional<Delivery> Connection::nextPush(std::chrono::milliseconds timeout) {
  requireAuthenticated();
  const auto until = Clock::now() + timeout;
  while (pushes_.empty()) {
    auto frame = readFrame(until, true);
    if (!frame) return std::nullopt;
    auto root = frame->root();
    if (root.getId() == 0 && root.isPush()) {
      bufferPush(root.getPush());
    } else if (root.getId() == 0 && root.isActionReminder()) {
      bufferReminder(root.getActionReminder());
    } else if (root.getId() == 0 && root.isError()) {
      failWithHubError(root.getError());
    } else if (pending_.count(root.getId()) != 0) {
      stash_.emplace(root.getId(), std::move(*frame));
    } else {
      fail(Kind::Protocol, std::string("unexpected ") + protocol::serverFrameName(root.which()) + " frame from the hub");
    }
  }
  Delivery d = std::move(pushes_.front());
  pushes_.pop_front();
  return d;
}

std::uint32_t Connection::ack(std::span<const crypto::BulletinId> ids, std::span<const crypto::Bytes> sealedHeads) {
  requireAuthenticated();
  if (!sealedHeads.empty() && sealedHeads.size() != ids.size()) {
    throw std::invalid_argument("Connection::ack: one sealed head per id");
  }
  const std::size_t perBatch = sealedHeads.empty() ? protocol::MaxAckBatch : protocol::MaxAckBatchWithHeads;
  std::uint32_t removed = 0;
  for (std::size_t start = 0; start < ids.size(); start += perBatch) {
    const auto batch = ids.subspan(start, std::min(perBatch, ids.size() - start));
    capnp::MallocMessageBuilder body;
    auto b = body.initRoot<wire::AckBody>();
    b.setMemberId(protocol::asText(session_.memberId));
    auto list = b.initBulletinIds(static_cast<unsigned>(batch.size()));
    for (unsigned i = 0; i < batch.size(); ++i) list.set(i, protocol::kjBytes(batch[i].view()));
    b.setAckedAtMs(nowMs());
    if (!sealedHeads.empty()) {
      auto heads = b.initSealedHeads(static_cast<unsigned>(batch.size()));
      for (unsigned i = 0; i < batch.size(); ++i) heads.set(i, protocol::kjBytes(sealedHeads[start + i]));
    }
    const auto bytes = protocol::toBytes(body);
    const auto sig = keyOps_->sign(protocol::context::Ack, bytes);
    auto build = [&](auto f) {
      auto a = f.initAck();
      a.setBody(protocol::kjBytes(bytes));
      a.setSignature(protocol::kjBytes(sig.view()));
    };
    removed += request(W::ACKED, "ack", build, [](Root r) { return r.getAcked().getRemoved(); });
  }
  return removed;
}

std::vector<RecipientState> Connection::status(const crypto::BulletinId& bulletin, std::int64_t* purgedAtMs) {
  requireAuthenticated();
  auto build = [&](auto f) { f.initStatus().setBulletinId(protocol::kjBytes(bulletin.view())); };
  return request(W::STATUS, "status", build, [purgedAtMs](Root r) {
    std::vector<RecipientState> out;
    if (purgedAtMs != nullptr) *purgedAtMs = r.getStatus().getPurgedAtMs();
    for (auto s : r.getStatus().getRecipients()) {
      const auto head = protocol::view(s.getAckHead());
      out.push_back(RecipientState{std::string(protocol::view(s.getMemberId())), s.getState(), s.getQueuedAtMs(),
                                   s.getDeliveredAtMs(), s.getAckedAtMs(), crypto::Bytes(head.begin(), head.end())});
    }
    return out;
  });
}

DirectoryListing Connection::directory() {
  requireAuthenticated();
  return request(W::DIRECTORY, "directory", [](auto f) { f.initDirectory(); }, [](Root r) {
    auto d = r.getDirectory();
    DirectoryListing out;
    out.head = headFrom(d.getHead());
    out.members.reserve(d.getMembers().size());
    for (auto m : d.getMembers()) out.members.push_back(MemberRecord::fromWire(m));
    return out;
  });
}

LogPageResult Connection::log(std::uint64_t from, std::uint32_t limit) {
  requireAuthenticated();
  auto build = [&](auto f) { setPage(f.initLog(), from, limit, protocol::MaxLogPage); };
  return request(W::LOG, "log", build, [](Root r) {
    auto page = r.getLog();
    LogPageResult out;
    out.head = headFrom(page.getHead());
    for (auto e : page.getEntries()) {
      out.entries.push_back(LogEntryRecord{e.getIndex(), e.getRecordedAtMs(),
                                           std::string(protocol::view(e.getAuthorId())), copyData(e.getAuthorKey()),
                                           copyData(e.getEvent()), copyData(e.getSignature())});
    }
    return out;
  });
}

RecordedInfo Connection::submitRecord(wire::ClientFrame::Which kind, const protocol::SignedRecordBytes& record,
                                      crypto::ByteView sealedHead) {
  requireAuthenticated();
  auto build = [&](wire::ClientFrame::Builder frame) {
    if (kind == wire::ClientFrame::DECIDE_WITH_HEAD) {
      auto d = frame.initDecideWithHead();
      d.getDecision().setBody(protocol::kjBytes(record.body));
      d.getDecision().setSignature(protocol::kjBytes(record.signature.view()));
      d.setSealedHead(protocol::kjBytes(sealedHead));
      return;
    }
    wire::SignedRecord::Builder r = kind == wire::ClientFrame::FORWARD   ? frame.initForward()
                                    : kind == wire::ClientFrame::PERMIT  ? frame.initPermit()
                                    : kind == wire::ClientFrame::COMMENT ? frame.initComment()
                                    : kind == wire::ClientFrame::PROPOSE ? frame.initPropose()
                                    : kind == wire::ClientFrame::DECIDE  ? frame.initDecide()
                                    : kind == wire::ClientFrame::CREATE_MEETING ? frame.initCreateMeeting()
                                                                         : frame.initRetract();
    r.setBody(protocol::kjBytes(record.body));
    r.setSignature(protocol::kjBytes(record.signature.view()));
  };
  return request(W::RECORDED, "record", build, [](Root r) {
    auto rec = r.getRecorded();
    return RecordedInfo{copyData(rec.getId()), rec.getAtMs()};
  });
}

RecordedInfo Connection::forward(const protocol::SignedRecordBytes& r) { return submitRecord(wire::ClientFrame::FORWARD, r); }
RecordedInfo Connection::permit(const protocol::SignedRecordBytes& r) { return submitRecord(wire::ClientFrame::PERMIT, r); }
RecordedInfo Connection::retract(const protocol::SignedRecordBytes& r) { return submitRecord(wire::ClientFrame::RETRACT, r); }
RecordedInfo Connection::comment(const protocol::SignedRecordBytes& r) { return submitRecord(wire::ClientFrame::COMMENT, r); }

RecordedInfo Connection::propose(const protocol::SignedRecordBytes& r) { return submitRecord(wire::ClientFrame::PROPOSE, r); }
RecordedInfo Connection::decide(const protocol::SignedRecordBytes& r, const std::optional<crypto::Bytes>& sealedHead) {
  if (sealedHead) return submitRecord(wire::ClientFrame::DECIDE_WITH_HEAD, r, *sealedHead);
  return submitRecord(wire::ClientFrame::DECIDE, r);
}

std::int64_t Connection::cosign(const protocol::Cosignature& cosignature) {
  requireAuthenticated();
  return request(
      W::RECORDED, "cosignature",
      [&](wire::ClientFrame::Builder f) { protocol::writeCosignature(f.initCosign(), cosignature); },
      [](Root r) { return r.getRecorded().getAtMs(); });
}

RecordedInfo Connection::createMeeting(const protocol::SignedRecordBytes& r) {
  return submitRecord(wire::ClientFrame::CREATE_MEETING, r);
}

std::vector<RawRecord> Connection::listMeetings() {
  requireAuthenticated();
  return request(W::MEETINGS, "meetings", [](auto f) { f.setListMeetings(); }, [](Root r) {
    std::vector<RawRecord> out;
    for (auto m : r.getMeetings().getMeetings()) out.push_back(rawRecordOf(m));
    return out;
  });
}

std::vector<ProposalListing> Connection::listProposals() {
  requireAuthenticated();
  return request(W::PROPOSALS, "proposals", [](auto f) { f.setListProposals(); }, [](Root r) {
    std::vector<ProposalListing> out;
    for (auto item : r.getProposals().getItems()) {
      ProposalListing p;
      p.proposal = rawRecordOf(item.getProposal());
      for (auto d : item.getDecisions()) p.decisions.push_back(rawRecordOf(d));
      for (auto h : item.getDecisionHeads()) p.decisionHeads.push_back(copyData(h));
      p.state = item.getState();
      p.outcomeIndex = item.getOutcomeIndex();
      out.push_back(std::move(p));
    }
    return out;
  });
}

namespace {

ActionPostRaw actionPostOf(wire::ActionPost::Reader p) {
  ActionPostRaw out{rawRecordOf(p.getRecord()), std::nullopt};
  if (p.hasSealed()) {
    const auto b = p.getSealed();
    out.sealed = RawBulletin{copyData(b.getHeader()), copyData(b.getSignature()), copyData(b.getCiphertext())};
  }
  return out;
}

}  // namespace

RecordedInfo Connection::addAction(const protocol::SignedRecordBytes& record, const protocol::SealedBulletin& text) {
  requireAuthenticated();
  auto build = [&](wire::ClientFrame::Builder f) {
    auto p = f.initAddAction();
    p.getRecord().setBody(protocol::kjBytes(record.body));
    p.getRecord().setSignature(protocol::kjBytes(record.signature.view()));
    protocol::toWire(text, p.initSealed());
  };
  return request(W::RECORDED, "addAction", build, [](Root r) {
    auto rec = r.getRecorded();
    return RecordedInfo{copyData(rec.getId()), rec.getAtMs()};
  });
}

RecordedInfo Connection::updateAction(const protocol::SignedRecordBytes& record, const protocol::SealedBulletin* note) {
  requireAuthenticated();
  auto build = [&](wire::ClientFrame::Builder f) {
    auto p = f.initUpdateAction();
    p.getRecord().setBody(protocol::kjBytes(record.body));
    p.getRecord().setSignature(protocol::kjBytes(record.signature.view()));
    if (note != nullptr) protocol::toWire(*note, p.initSealed());
  };
  return request(W::RECORDED, "updateAction", build, [](Root r) {
    auto rec = r.getRecorded();
    return RecordedInfo{copyData(rec.getId()), rec.getAtMs()};
  });
}

ActionListing Connection::listActions() {
  requireAuthenticated();
  return request(W::ACTIONS, "actions", [](auto f) { f.setListActions(); }, [](Root r) {
    ActionListing out;
    const auto a = r.getActions();
    for (auto item : a.getItems()) {
      ActionEntryRaw e{actionPostOf(item.getItem()), {}};
      for (auto u : item.getUpdates()) e.updates.push_back(actionPostOf(u));
      out.items.push_back(std::move(e));
    }
    out.truncated = a.getTruncated();
    return out;
  });
}

void Connection::subscribeActions() {
  requireAuthenticated();
  request(W::SUBSCRIBED, "subscribeActions", [](auto f) { f.setSubscribeActions(); }, [](Root) {});
}

std::optional<ActionReminderInfo> Connection::nextReminder() {
  if (reminders_.empty()) return std::nullopt;
  auto r = std::move(reminders_.front());
  reminders_.pop_front();
  return r;
}

RecordStatusInfo Connection::recordStatus(const crypto::BulletinId& recordId) {
  requireAuthenticated();
  auto build = [&](auto f) { f.initRecordStatus().setRecordId(protocol::kjBytes(recordId.view())); };
  auto out = request(W::RECORD_STATUS, "recordStatus", build, [](Root root) {
    auto r = root.getRecordStatus();
    std::pair<std::optional<crypto::BulletinId>, RecordStatusInfo> answer;
    answer.first = crypto::BulletinId::fromBytes(protocol::view(r.getRecordId()));
    auto& info = answer.second;
    info.state = r.getState();
    info.deadlineMs = r.getDeadlineMs();
    for (auto c : r.getComments()) info.comments.push_back(rawRecordOf(c));
    for (auto a : r.getAcknowledgedBy()) info.acknowledgedBy.emplace_back(protocol::view(a));
    info.outcomeIndex = r.getOutcomeIndex();
    return answer;
  });
  if (!out.first || !(*out.first == recordId)) fail(Kind::Protocol, "recordStatus answered for another record");
  out.second.recordId = *out.first;
  return std::move(out.second);
}

AdminOutcome Connection::admin(capnp::MessageBuilder& event) {
  requireAuthenticated();
  auto log = verifiedLog_;
  if (!log) {
    log = std::make_shared<VerifiedLog>();
    verifiedLog_ = log;
  }
  if (log->size() == 0) log->sync(*this);
  // The event is signed for the place after the head this connection
  // verified last (PROTOCOL.md §11.1); when another entry landed first the
  // hub answers stalePosition: verify the log again and sign for the new
  // place, a bounded number of times.
  for (int attempt = 1;; ++attempt) {
    protocol::setLogPosition(event.getRoot<wire::LogEvent>(),
                             protocol::LogPosition{session_.hubId, log->size(), log->verifier().root()});
    try {
      return adminAt(event);
    } catch (const HubError& e) {
      if (e.code() != wire::ErrorCode::STALE_POSITION) throw;
      if (attempt == MaxAdminAttempts) {
        throw HubError(e.code(), fmt::format("the directory log grew while this change was being signed, {} times in a "
                                             "row (other admins or the hub are appending entries); try again ({})",
                                             MaxAdminAttempts, e.hubMessage()));
      }
    }
    log->sync(*this);
  }
}

AdminOutcome Connection::adminAt(capnp::MessageBuilder& event) {
  const auto signedEvent = protocol::signLogEvent(event, *keyOps_);
  auto build = [&](auto f) {
    auto a = f.initAdmin();
    a.setEvent(protocol::kjBytes(signedEvent.event));
    a.setSignature(protocol::kjBytes(signedEvent.signature.view()));
  };
  return request(W::ADMIN, "admin", build, [](Root r) {
    return AdminOutcome{r.getAdmin().getIndex(), headFrom(r.getAdmin().getHead())};
  });
}

std::vector<AuditRow> Connection::audit(std::uint64_t from, std::uint32_t limit) {
  requireAuthenticated();
  auto build = [&](auto f) { setPage(f.initAudit(), from, limit, protocol::MaxLogPage); };
  return request(W::AUDIT, "audit", build, [](Root r) {
    std::vector<AuditRow> out;
    for (auto e : r.getAudit().getEntries()) {
      out.push_back(AuditRow{e.getIndex(), e.getTimeMs(), std::string(protocol::view(e.getEvent())),
                             std::string(protocol::view(e.getActor())), std::string(protocol::view(e.getRemote())),
                             std::string(protocol::view(e.getDetail())), copyData(e.getHash())});
    }
    return out;
  });
}

void Connection::uploadBlob(const BlobReader& read, std::uint64_t size, const crypto::Hash256& blobHash,
                            const ProgressFn& progress) {
  requireAuthenticated();
  std::uint64_t uploadId = 0;
  std::uint64_t next = 0;
  auto begin = [&](auto f) {
    auto b = f.initBeginUpload();
    b.setSize(size);
    b.setBlobHash(protocol::kjBytes(blobHash.view()));
  };
  std::tie(uploadId, next) = request(W::UPLOAD_READY, "begin-upload", begin, [](Root r) {
    // An offset > 0: resume where an earlier upload stopped.
    return std::pair(r.getUploadReady().getUploadId(), r.getUploadReady().getOffset());
  });
  if (next > size) fail(Kind::Protocol, "hub offered to resume past the end of the blob");
  if (progress) progress(next, size);
  bool complete = next == size;
  std::deque<std::uint64_t> inFlight;
  std::vector<std::uint8_t> buffer(protocol::MaxChunkBytes);
  const std::size_t window = std::max<std::size_t>(1, options_.chunkWindow);
  auto collectOne = [&] {
    const auto rid = inFlight.front();
    inFlight.pop_front();
    const auto resp = takeResponse(rid, W::UPLOAD_PROGRESS, "upload-chunk");
    auto p = resp.root().getUploadProgress();
    complete = p.getComplete();
    if (progress) progress(std::min(p.getReceived(), size), size);
  };
  while (next < size || !inFlight.empty()) {
    while (next < size && inFlight.size() < window) {
      const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), size - next));
      const std::size_t got = read(next, std::span<std::uint8_t>(buffer.data(), len));
      if (got != len) throw std::runtime_error("attachment source ended early (file changed while uploading?)");
      inFlight.push_back(startRequest([&](auto f) {
        auto c = f.initUploadChunk();
        c.setUploadId(uploadId);
        c.setOffset(next);
        c.setData(kj::ArrayPtr<const kj::byte>(buffer.data(), len));
      }));
      next += len;
    }
    collectOne();
  }
  if (!complete) fail(Kind::Protocol, "hub did not confirm the complete upload");
}

void Connection::downloadBlob(const crypto::BulletinId& bulletin, const crypto::Hash256& blobHash, std::uint64_t size,
                              const BlobSink& sink, const ProgressFn& progress) {
  requireAuthenticated();
  struct Req {
    std::uint64_t id, offset;
    std::uint32_t length;
  };
  std::deque<Req> inFlight;
  std::uint64_t requested = 0;  // next offset to ask for
  std::uint64_t written = 0;    // bytes delivered to the sink, in order
  const std::size_t window = std::max<std::size_t>(1, options_.chunkWindow);
  auto ask = [&](std::uint64_t offset, std::uint32_t length) {
    const auto id = startRequest([&](auto f) {
      auto d = f.initDownload();
      d.setBulletinId(protocol::kjBytes(bulletin.view()));
      d.setBlobHash(protocol::kjBytes(blobHash.view()));
      d.setOffset(offset);
      d.setLength(length);
    });
    inFlight.push_back(Req{id, offset, length});
  };
  // Takes the answers to every request still in flight, unused.
  auto drain = [&] {
    while (!inFlight.empty()) {
      (void)takeResponse(inFlight.front().id, W::BLOB_CHUNK, "download");
      inFlight.pop_front();
    }
  };
  if (progress) progress(0, size);
  while (written < size) {
    while (requested < size && inFlight.size() < window) {
      const auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>(protocol::MaxChunkBytes, size - requested));
      ask(requested, len);
      requested += len;
    }
    const Req r = inFlight.front();
    inFlight.pop_front();
    auto f = takeResponse(r.id, W::BLOB_CHUNK, "download");
    auto c = f.root().getBlobChunk();
    auto data = protocol::view(c.getData());
    if (c.getTotal() != size) {
      throw VerifyError("hub reports a blob of " + std::to_string(c.getTotal()) + " bytes; the signed size is " +
                        std::to_string(size));
    }
    const auto chunkHash = crypto::Hash256::fromBytes(protocol::view(c.getBlobHash()));
    if (!chunkHash || !(*chunkHash == blobHash)) {
      fail(Kind::Protocol, "hub sent a chunk of another blob");
    }
    if (c.getOffset() != r.offset || data.size() > r.length || data.empty()) {
      fail(Kind::Protocol, "hub sent a chunk at an unexpected offset or length");
    }
    if (r.offset == written) {
      sink(data);
      written += data.size();
      if (progress) progress(written, size);
    }
    if (data.size() < r.length) {
      // Short chunk: the requests behind it overlap or leave a gap. Drain
      // them and continue from what has been written.
      drain();
      requested = written;
    }
  }
  drain();
}

}  // namespace focal::client

// PROTOCOL.md read by a second implementer (issue 19, finding 4): the points
// where the text was ambiguous or the hub did something the text did not
// say, each pinned against a real focald driven over the wire: the ids of
// refusals before authentication (§4.1), request id 0, `log` with limit 0,
// the error for an unset TLP (§8.2, §8.6), the upload rules of §9.2 and the
// blob layout of §9.1 at beginUpload, and a forward to the bulletin's own
// sender (§12.1 step 14).
#include "hub_fixture.hpp"

#include "client/client_error.hpp"
#include "client/spooled_blob.hpp"
#include "crypto/primitives.hpp"
#include "protocol/bulletin.hpp"
#include "protocol/message.hpp"
#include "protocol/records.hpp"
#include "protocol/signing.hpp"

#include <capnp/message.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <functional>

using namespace focal;
using namespace focal::test;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {

crypto::Bytes frameBytes(std::uint64_t id, const std::function<void(wire::ClientFrame::Builder)>& fill) {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ClientFrame>();
  f.setId(id);
  fill(f);
  return protocol::toFrame(m);
}

void readChallenge(client::Connection& c) {
  auto challenge = c.receiveFrame(10s);
  REQUIRE(challenge.has_value());
  REQUIRE(challenge->root().isChallenge());
}

// The next frame: an error with `code` and `id`; when `closes`, the hub then
// closes the connection.
void expectError(client::Connection& c, std::uint64_t id, wire::ErrorCode code, bool closes) {
  auto f = c.receiveFrame(10s);
  REQUIRE(f.has_value());
  REQUIRE(f->root().isError());
  INFO("error: " << protocol::view(f->root().getError().getMessage()));
  CHECK(f->root().getError().getCode() == code);
  CHECK(f->root().getId() == id);
  if (closes) CHECK_THROWS_AS(c.receiveFrame(10s), client::TransportError);
}

// Sends one request with id `id` on an authenticated raw connection and
// returns the answer (the next frame; nothing else is outstanding).
protocol::Parsed<wire::ServerFrame> call(client::Connection& c, std::uint64_t id,
                                         const std::function<void(wire::ClientFrame::Builder)>& fill) {
  c.sendRawBytes(frameBytes(id, fill));
  auto f = c.receiveFrame(20s);
  REQUIRE(f.has_value());
  REQUIRE(f->root().getId() == id);
  return std::move(*f);
}

// A ping frame (length prefix included) whose root struct has one pointer
// more than the schema knows, holding `word` (an "unknown field" of a newer
// schema). The ping member has no pointer content, so the root struct is the
// last object and the extra pointer goes at the end of the segment.
crypto::Bytes pingWithUnknownPointer(std::uint64_t id, std::uint64_t word) {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ClientFrame>();
  f.setId(id);
  f.setPing();
  crypto::Bytes body = protocol::toBytes(m);
  REQUIRE(body.size() >= 16);
  REQUIRE(body[0] == 0);  // one segment
  auto le = [&](std::size_t at, int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= std::uint64_t{body[at + i]} << (8 * i);
    return v;
  };
  auto put = [&](std::size_t at, int n, std::uint64_t v) {
    for (int i = 0; i < n; ++i) body[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
  };
  const std::uint64_t root = le(8, 8);
  REQUIRE(((root >> 2) & 0x3fffffffu) == 0);  // the root struct follows its pointer
  const std::uint64_t words = ((root >> 32) & 0xffffu) + (root >> 48);
  REQUIRE(body.size() == 16 + 8 * words);  // nothing after the root struct
  put(8 + 6, 2, (root >> 48) + 1);          // one pointer more
  put(4, 4, le(4, 4) + 1);                  // the segment grows by that word
  for (int i = 0; i < 8; ++i) body.push_back(static_cast<std::uint8_t>(word >> (8 * i)));
  crypto::Bytes frame(4 + body.size());
  for (int i = 0; i < 4; ++i) frame[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(body.size() >> (24 - 8 * i));
  std::copy(body.begin(), body.end(), frame.begin() + 4);
  return frame;
}

wire::ErrorCode errorOf(const protocol::Parsed<wire::ServerFrame>& f) {
  REQUIRE(f.root().isError());
  return f.root().getError().getCode();
}

}  // namespace

TEST_CASE_METHOD(OneMember, "Spec 4.1: a refusal before authentication carries the request's id",
                 "[integration][spec]") {
  SECTION("a request other than authenticate") {
    auto c = hub.connectRaw();
    readChallenge(*c);
    c->sendRawBytes(frameBytes(7, [](auto f) { f.setPing(); }));
    expectError(*c, 7, wire::ErrorCode::UNAUTHENTICATED, true);
  }
  SECTION("an authenticate whose signature does not verify") {
    auto c = hub.connectRaw();
    readChallenge(*c);
    c->sendRawBytes(frameBytes(9, [&](auto f) {
      auto auth = f.initAuthenticate();
      auth.setVersion(wire::PROTOCOL_VERSION);
      auth.setMemberId("sg-spf");
      auth.setIdentityKey(protocol::kjBytes(a.keys.identity.publicKey.view()));
      auth.setSignature(protocol::kjBytes(crypto::Bytes(64, 0x11)));
    }));
    expectError(*c, 9, wire::ErrorCode::UNAUTHENTICATED, true);
  }
  SECTION("an authenticate with another protocol version") {
    auto c = hub.connectRaw();
    readChallenge(*c);
    c->sendRawBytes(frameBytes(12, [](auto f) { f.initAuthenticate().setVersion(2); }));
    expectError(*c, 12, wire::ErrorCode::UNSUPPORTED_VERSION, true);
  }
  SECTION("an authenticate with id 0 is answered invalidRequest with id 0") {
    auto c = hub.connectRaw();
    readChallenge(*c);
    c->sendRawBytes(frameBytes(0, [&](auto f) { f.initAuthenticate().setVersion(wire::PROTOCOL_VERSION); }));
    expectError(*c, 0, wire::ErrorCode::INVALID_REQUEST, true);
  }
  SECTION("the reference client reports the refusal and closes") {
    auto stranger = crypto::MemberKeys::generate("th-nobody", nowMs());
    auto c = hub.connectRaw();
    const auto refusal = hubRefusal([&] { c->authenticate(stranger); }, "an unknown member authenticated");
    CHECK(refusal.code() == wire::ErrorCode::UNAUTHENTICATED);
    CHECK_FALSE(c->isOpen());
  }
}

TEST_CASE_METHOD(OneMember, "Spec 3: the hub checks a field it does not know like a known one", "[integration][spec]") {
  SECTION("a null unknown pointer is accepted") {
    auto c = hub.connect(a.keys);
    c->sendRawBytes(pingWithUnknownPointer(5, 0));
    auto f = c->receiveFrame(10s);
    REQUIRE(f.has_value());
    CHECK(f->root().isPong());
    CHECK(f->root().getId() == 5);
  }
  SECTION("a capability pointer is malformedFrame") {
    auto c = hub.connect(a.keys);
    c->sendRawBytes(pingWithUnknownPointer(5, 3));  // kind "other", index 0: a capability
    expectError(*c, 0, wire::ErrorCode::MALFORMED_FRAME, true);
  }
  SECTION("a List(Void) of 2^28 elements is malformedFrame") {
    auto c = hub.connect(a.keys);
    c->sendRawBytes(pingWithUnknownPointer(5, 1u | (std::uint64_t{0} << 32) | (std::uint64_t{1} << (35 + 28))));
    expectError(*c, 0, wire::ErrorCode::MALFORMED_FRAME, true);
  }
}

TEST_CASE_METHOD(OneMember, "Spec 4.1: a request with id 0 after authentication is invalidRequest with id 0",
                 "[integration][spec]") {
  auto c = hub.connect(a.keys);
  c->sendRawBytes(frameBytes(0, [](auto f) { f.setPing(); }));
  expectError(*c, 0, wire::ErrorCode::INVALID_REQUEST, false);
  CHECK_NOTHROW(c->ping());  // the connection stays open
}

TEST_CASE("Spec 6.5: log with limit 0 returns a full page", "[integration][spec]") {
  Hub hub;
  hub.createMember("sg-spf", "SG");
  hub.createMember("th-rtp", "TH");
  auto c = hub.connect(hub.adminKeys());
  const auto all = c->log(0, protocol::MaxLogPage).entries.size();
  REQUIRE(all >= 4);  // genesis, admin, two members
  // On the wire (the reference client never asks for 0 entries).
  auto page = [&](std::uint64_t id, std::uint32_t limit) {
    auto f = call(*c, id, [&](auto fr) {
      auto q = fr.initLog();
      q.setFrom(0);
      q.setLimit(limit);
    });
    REQUIRE(f.root().isLog());
    return f.root().getLog().getEntries().size();
  };
  CHECK(page(70, 0) == all);
  CHECK(page(71, 2) == 2);
}

TEST_CASE_METHOD(OneMember, "Spec 8.2 and 8.6: an unset TLP is refused with an error naming the field",
                 "[integration][spec]") {
  auto b = hub.createMember("th-rtp", "TH");
  // A correctly sealed bulletin whose header is rewritten with tlp = unset
  // and signed again: everything but the TLP is right.
  auto sealed = sealTo(a.keys, {&b.keys}, "no label", "body", wire::Tlp::GREEN);
  auto parsed = protocol::decode<wire::BulletinHeader>(sealed.header);
  REQUIRE(parsed.ok());
  capnp::MallocMessageBuilder m;
  m.setRoot(parsed->root());
  m.getRoot<wire::BulletinHeader>().setTlp(wire::Tlp::UNSET);
  sealed.header = protocol::toBytes(m);
  sealed.signature = crypto::sign(protocol::context::BulletinHeader, sealed.header, a.keys.identity.secretKey);
  auto c = hub.connect(a.keys);
  const auto e = hubRefusal([&] { c->send(sealed); }, "the hub accepted a bulletin without a TLP label");
  CHECK(e.code() == wire::ErrorCode::INVALID_REQUEST);
  CHECK_THAT(e.hubMessage(), Contains("tlp"));
  CHECK_THAT(e.hubMessage(), Contains("unset"));
}

TEST_CASE_METHOD(OneMember, "Spec 9.1 and 9.2: upload sizes, refused chunks and a second size for one blob",
                 "[integration][spec]") {
  auto c = hub.connect(a.keys);
  std::uint64_t nextId = 100;
  auto begin = [&](std::uint64_t size, const crypto::Hash256& hash) {
    return call(*c, ++nextId, [&](auto f) {
      auto u = f.initBeginUpload();
      u.setSize(size);
      u.setBlobHash(protocol::kjBytes(hash.view()));
    });
  };
  auto chunk = [&](std::uint64_t uploadId, std::uint64_t offset, crypto::ByteView data) {
    return call(*c, ++nextId, [&](auto f) {
      auto u = f.initUploadChunk();
      u.setUploadId(uploadId);
      u.setOffset(offset);
      u.setData(protocol::kjBytes(data));
    });
  };

  SECTION("a size no attachment stream has is invalidRequest") {
    const auto h = crypto::hash256(crypto::Bytes{1});
    // 256 KiB of plaintext with the final tag on the full chunk (the layout
    // §9.1 does not allow): 24 + 262144 + 17.
    CHECK(errorOf(begin(24 + 262144 + 17, h)) == wire::ErrorCode::INVALID_REQUEST);
    CHECK(errorOf(begin(40, h)) == wire::ErrorCode::INVALID_REQUEST);  // shorter than header + one chunk
    CHECK(errorOf(begin(24 + 2 * 262161 + 16, h)) == wire::ErrorCode::INVALID_REQUEST);
    // The same plaintext with its empty final chunk: 24 + 262144 + 2 * 17.
    CHECK(begin(24 + 262144 + 34, h).root().isUploadReady());
    CHECK(begin(41, crypto::hash256(crypto::Bytes{2})).root().isUploadReady());
  }

  // A 1000-byte blob: its upload begun and the first `sent` bytes taken (the
  // upload id); then, after refusals, a resumption at `offset` that completes.
  crypto::Bytes blob(1000);
  crypto::randomFill(blob);
  const auto hash = crypto::hash256(blob);
  auto started = [&](std::uint32_t sent) {
    auto ready = begin(blob.size(), hash);
    REQUIRE(ready.root().isUploadReady());
    const auto id = ready.root().getUploadReady().getUploadId();
    auto first = chunk(id, 0, crypto::ByteView(blob).first(sent));
    REQUIRE(first.root().isUploadProgress());
    CHECK(first.root().getUploadProgress().getReceived() == sent);
    return id;
  };
  auto completes = [&](std::uint64_t id, std::uint32_t offset) {
    auto resumed = begin(blob.size(), hash);
    REQUIRE(resumed.root().isUploadReady());
    CHECK(resumed.root().getUploadReady().getUploadId() == id);
    CHECK(resumed.root().getUploadReady().getOffset() == offset);
    auto last = chunk(id, offset, crypto::ByteView(blob).subspan(offset));
    REQUIRE(last.root().isUploadProgress());
    CHECK(last.root().getUploadProgress().getComplete());
    CHECK(last.root().getUploadProgress().getReceived() == blob.size());
  };

  SECTION("a refused chunk leaves the upload where it was") {
    const auto id = started(400);
    // 0 bytes: invalidRequest.
    CHECK(errorOf(chunk(id, 400, crypto::ByteView{})) == wire::ErrorCode::INVALID_REQUEST);
    // Past the size: invalidRequest (600 remain, 601 sent).
    crypto::Bytes over(blob.begin() + 400, blob.end());
    over.push_back(0);
    CHECK(errorOf(chunk(id, 400, over)) == wire::ErrorCode::INVALID_REQUEST);
    // Not at the received offset: invalidRequest.
    CHECK(errorOf(chunk(id, 300, crypto::ByteView(blob).subspan(300, 100))) == wire::ErrorCode::INVALID_REQUEST);
    // The upload is unchanged: beginUpload resumes at 400, and the rest completes it.
    completes(id, 400);
  }

  SECTION("beginUpload of an unfinished blob with another size is invalidRequest, the upload stays") {
    const auto id = started(500);
    CHECK(errorOf(begin(blob.size() + 8, hash)) == wire::ErrorCode::INVALID_REQUEST);
    completes(id, 500);
    // Complete: the same blob with another size is refused as well.
    CHECK(errorOf(begin(blob.size() + 8, hash)) == wire::ErrorCode::INVALID_REQUEST);
  }
}

TEST_CASE_METHOD(OneMember,
                 "Spec 12.1 step 14: the bulletin's sender holds it, a forward does not queue it for the sender",
                 "[integration][spec]") {
  auto b = hub.createMember("th-rtp", "TH");
  auto carol = hub.createMember("vn-mps", "VN");
  // a -> b, GREEN, addressed to b only (a does not address itself).
  auto d = draftTo({&b.keys}, "forward me", wire::Tlp::GREEN);
  d.body = "body";
  const auto key = crypto::ContentKey::random();
  const auto sealed = sealDraft(d, a.keys, key);
  auto ca = hub.connect(a.keys);
  ca->send(sealed);

  auto forwardTo = [&](const std::vector<const TestMember*>& to) {
    protocol::ForwardDraft fd;
    fd.originalHeader = sealed.header;
    fd.contentKey = &key;
    for (const auto* m : to) {
      fd.addresses.push_back(m->id());
      fd.recipients.push_back(protocol::RecipientKey{m->id(), m->keys.encryption.publicKey});
    }
    std::sort(fd.recipients.begin(), fd.recipients.end(),
              [](const auto& x, const auto& y) { return x.memberId < y.memberId; });
    auto r = protocol::makeForward(fd, b.keys, nowMs());
    REQUIRE(r);
    return std::move(r).value();
  };
  auto cb = hub.connect(b.keys);
  // To the sender alone: nobody new, refused.
  const auto e =
      hubRefusal([&] { cb->forward(forwardTo({&a})); }, "a forward to the bulletin's own sender was accepted");
  CHECK(e.code() == wire::ErrorCode::INVALID_REQUEST);
  CHECK_THAT(e.hubMessage(), Contains("already received the bulletin or sent it"));
  // To the sender and someone new: recorded, queued for the new member only.
  CHECK_NOTHROW(cb->forward(forwardTo({&a, &carol})));
  auto cc = hub.connect(carol.keys);
  auto forCarol = cc->fetch(0);
  REQUIRE(forCarol.items.size() == 1);
  CHECK(forCarol.items[0].forward.has_value());
  for (const auto& item : ca->fetch(0).items) CHECK_FALSE(item.forward.has_value());
}

TEST_CASE_METHOD(OneMember, "Spec 9.3: a forward recipient downloads the attachments, a stranger gets notFound",
                 "[integration][spec]") {
  auto b = hub.createMember("th-rtp", "TH");
  auto carol = hub.createMember("vn-mps", "VN");
  auto dave = hub.createMember("my-pdrm", "MY");
  TempDir work;
  const auto plainFile = work.path() / "iocs.csv";
  std::ofstream(plainFile, std::ios::binary) << "indicator,type\n198.51.100.7,ipv4\n";
  const auto key = crypto::ContentKey::random();
  auto blob = client::SpooledBlob::encrypt(plainFile, crypto::attachmentKey(key, 0), work.path());
  auto ca = hub.connect(a.keys);
  ca->uploadBlob(blob.reader(), blob.size(), blob.hash());

  auto d = draftTo({&b.keys}, "indicators", wire::Tlp::GREEN, wire::Category::TOOL);
  d.attachments.push_back({"iocs.csv", "text/csv", blob.plainSize(), blob.hash(), blob.size()});
  const auto sealed = sealDraft(d, a.keys, key);
  ca->send(sealed);

  protocol::ForwardDraft fd;
  fd.originalHeader = sealed.header;
  fd.contentKey = &key;
  fd.addresses = {carol.id()};
  fd.recipients = {protocol::RecipientKey{carol.id(), carol.keys.encryption.publicKey}};
  auto record = protocol::makeForward(fd, b.keys, nowMs());
  REQUIRE(record);
  hub.connect(b.keys)->forward(*record);

  crypto::Bytes got;
  auto cc = hub.connect(carol.keys);
  cc->downloadBlob(sealed.id, blob.hash(), blob.size(),
                   [&](crypto::ByteView bytes) { got.insert(got.end(), bytes.begin(), bytes.end()); });
  CHECK(got.size() == blob.size());
  CHECK(crypto::hash256(got) == blob.hash());

  auto cd = hub.connect(dave.keys);
  const auto refusal =
      hubRefusal([&] { cd->downloadBlob(sealed.id, blob.hash(), blob.size(), [](crypto::ByteView) {}); },
                 "a member who does not hold the bulletin downloaded its attachment");
  CHECK(refusal.code() == wire::ErrorCode::NOT_FOUND);
}

// Writes the seed corpus for focal_frame_fuzz: one valid frame (length
// prefix + message) per ClientFrame and ServerFrame union member, with the
// nested signed structures (bulletin header, ack body, log event, log head)
// encoded for real so the fuzzer starts from realistic shapes.
//
// Deterministic: no randomness, no clock, no keys (signatures and keys are
// fixed byte patterns; the decoder does not verify them). Re-running it
// reproduces tests/fuzz/corpus/frame/ byte for byte.
//
//   focal_make_corpus <output directory>
#include "protocol/message.hpp"

#include <capnp/message.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

using namespace focal;
using namespace focal::protocol;
using crypto::Bytes;

namespace {

Bytes pattern(std::size_t n, std::uint8_t seed) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + 13 * i);
  return b;
}

Bytes bulletinHeader() {
  capnp::MallocMessageBuilder m;
  auto h = m.initRoot<wire::BulletinHeader>();
  h.setVersion(wire::PROTOCOL_VERSION);
  h.setSuite(wire::CIPHER_SUITE);
  h.setBulletinId(kjBytes(pattern(16, 1)));
  h.setSenderId("sg-csa");
  h.setSenderKey(kjBytes(pattern(32, 2)));
  h.setCreatedAtMs(1'700'000'000'000);
  h.setTlp(wire::Tlp::AMBER);
  h.setHandling(wire::Handling::H3);
  h.setHandlingText("no onward sharing");
  h.setSourceReliability(wire::SourceReliability::B);
  h.setInfoAccuracy(2);
  h.setPriority(wire::Priority::URGENT);
  h.setCaseRef("AWGC-2024-017");
  h.setKind(wire::BulletinKind::BULLETIN);
  h.setReplyTo(kjBytes(pattern(16, 3)));
  auto addresses = h.initAddresses(2);
  addresses.set(0, "members");
  addresses.set(1, "state:MY");
  auto rs = h.initRecipients(2);
  rs[0].setMemberId("my-nacsa");
  rs[0].setEncryptionKey(kjBytes(pattern(32, 4)));
  rs[0].setWrappedKey(kjBytes(pattern(80, 5)));
  rs[1].setMemberId("my-pdrm");
  rs[1].setEncryptionKey(kjBytes(pattern(32, 6)));
  rs[1].setWrappedKey(kjBytes(pattern(80, 7)));
  h.setContentNonce(kjBytes(pattern(24, 8)));
  h.setContentHash(kjBytes(pattern(32, 9)));
  h.setContentSize(96);
  auto as = h.initAttachments(1);
  as[0].setBlobHash(kjBytes(pattern(32, 10)));
  as[0].setSize(262161);
  return toBytes(m);
}

// ---- signed working-group records (bodies of SignedRecord) ----

void setKeys(wire::KeySet::Builder k) {
  k.setIdentityKey(kjBytes(pattern(32, 12)));
  k.setEncryptionKey(kjBytes(pattern(32, 13)));
  k.setEncKeyCreatedAtMs(1'600'000'000'000);
  k.setEncKeyCert(kjBytes(pattern(64, 14)));
}

Bytes forwardRecord() {
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<wire::ForwardRecord>();
  f.setForwardId(kjBytes(pattern(16, 70)));
  f.setBulletinId(kjBytes(pattern(16, 1)));
  f.setHeaderHash(kjBytes(pattern(32, 71)));
  f.setForwarderId("my-nacsa");
  f.setForwarderKey(kjBytes(pattern(32, 72)));
  f.setForwardedAtMs(1'700'000'100'000);
  f.initAddresses(1).set(0, "my-pdrm");
  auto rs = f.initRecipients(1);
  rs[0].setMemberId("my-pdrm");
  rs[0].setEncryptionKey(kjBytes(pattern(32, 6)));
  rs[0].setWrappedKey(kjBytes(pattern(80, 73)));
  return toBytes(m);
}

Bytes permission() {
  capnp::MallocMessageBuilder m;
  auto p = m.initRoot<wire::Permission>();
  p.setBulletinId(kjBytes(pattern(16, 1)));
  auto g = p.initGrantedTo(2);
  g.set(0, "my-nacsa");
  g.set(1, "th-tcsd");
  p.setGrantedAtMs(1'700'000'200'000);
  return toBytes(m);
}

Bytes retraction() {
  capnp::MallocMessageBuilder m;
  auto r = m.initRoot<wire::Retraction>();
  r.setBulletinId(kjBytes(pattern(16, 1)));
  r.setSenderId("sg-csa");
  r.setReason("sent in error");
  r.setRetractedAtMs(1'700'000'300'000);
  return toBytes(m);
}

Bytes comment() {
  capnp::MallocMessageBuilder m;
  auto c = m.initRoot<wire::Comment>();
  c.setRecordId(kjBytes(pattern(16, 74)));
  c.setMemberId("ph-dict");
  c.setObjection(true);
  c.setSealedText(kjBytes(pattern(96, 75)));
  c.setCommentedAtMs(1'700'000'400'000);
  return toBytes(m);
}

Bytes proposal() {
  capnp::MallocMessageBuilder m;
  auto p = m.initRoot<wire::Proposal>();
  p.setProposalId(kjBytes(pattern(16, 76)));
  p.setProposerId("sg-csa");
  p.setCreatedAtMs(1'700'000'000'000);
  p.setExpiresAtMs(1'700'604'800'000);
  auto a = p.initAdmission();
  auto info = a.initMember();
  info.setId("panel-uni-x");
  info.setName("University X, resource panel");
  info.setInstitution(wire::Institution::RESOURCE_PANEL);
  setKeys(a.initKeys());
  return toBytes(m);
}

Bytes decision() {
  capnp::MallocMessageBuilder m;
  auto d = m.initRoot<wire::Decision>();
  d.setProposalId(kjBytes(pattern(16, 76)));
  d.setProposalHash(kjBytes(pattern(32, 77)));
  d.setMemberId("vn-a05");
  d.setApprove(true);
  d.setDecidedAtMs(1'700'000'500'000);
  return toBytes(m);
}

void setRecord(wire::SignedRecord::Builder r, const Bytes& body, std::uint8_t seed) {
  r.setBody(kjBytes(body));
  r.setSignature(kjBytes(pattern(64, seed)));
}

Bytes logHead() {
  capnp::MallocMessageBuilder m;
  auto h = m.initRoot<wire::LogHead>();
  h.setHubId("hub.aseanwgc");
  h.setSize(3);
  h.setRootHash(kjBytes(pattern(32, 11)));
  h.setTimeMs(1'700'000'000'500);
  return toBytes(m);
}

Bytes logEvent(int kind) {
  capnp::MallocMessageBuilder m;
  auto e = m.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(1'700'000'000'000);
  auto keys = [](wire::KeySet::Builder k) { setKeys(k); };
  switch (kind) {
    case 0: {
      auto g = e.initGenesis();
      g.setHubId("hub.aseanwgc");
      g.setHubKey(kjBytes(pattern(32, 15)));
      break;
    }
    case 1: {
      auto r = e.initRegister();
      auto info = r.initMember();
      info.setId("sg-csa");
      info.setName("Cyber Security Agency");
      info.setState("SG");
      info.setInstitution(wire::Institution::POLICY_SECURITY);
      keys(r.initKeys());
      break;
    }
    case 2: {
      auto r = e.initRotateEncryption();
      r.setMemberId("sg-csa");
      r.setPreviousKey(kjBytes(pattern(32, 16)));
      keys(r.initKeys());
      break;
    }
    case 4: {
      auto r = e.initRecordApproved();
      r.setRecordId(kjBytes(pattern(16, 74)));
      r.setHeaderHash(kjBytes(pattern(32, 78)));
      r.setDeadlineMs(1'700'604'800'000);
      r.initAcknowledgedBy(1).set(0, "bn-itpss");
      r.initCommentedBy(1).set(0, "ph-dict");
      break;
    }
    case 5: {
      auto a = e.initAdmission();
      setRecord(a.initProposal(), proposal(), 79);
      auto approvals = a.initApprovals(2);
      setRecord(approvals[0], decision(), 80);
      setRecord(approvals[1], decision(), 81);
      break;
    }
    default: {
      auto r = e.initRevoke();
      r.setMemberId("sg-csa");
      r.setKey(kjBytes(pattern(32, 17)));
      r.setReason("key compromise");
      break;
    }
  }
  return toBytes(m);
}

Bytes ackBody() {
  capnp::MallocMessageBuilder m;
  auto a = m.initRoot<wire::AckBody>();
  a.setMemberId("my-nacsa");
  auto ids = a.initBulletinIds(3);
  for (unsigned i = 0; i < 3; ++i) ids.set(i, kjBytes(pattern(16, static_cast<std::uint8_t>(20 + i))));
  a.setAckedAtMs(1'700'000'001'000);
  return toBytes(m);
}

void setHead(wire::SignedLogHead::Builder h) {
  h.setHead(kjBytes(logHead()));
  h.setSignature(kjBytes(pattern(64, 18)));
}

void setBulletin(wire::Bulletin::Builder b) {
  b.setHeader(kjBytes(bulletinHeader()));
  b.setSignature(kjBytes(pattern(64, 19)));
  b.setCiphertext(kjBytes(pattern(96, 20)));
}

void setDelivery(wire::Delivery::Builder d, std::uint64_t seq, bool forwarded = false) {
  d.setSeq(seq);
  d.setQueuedAtMs(1'700'000'000'100);
  setBulletin(d.initBulletin());
  if (forwarded) setRecord(d.initForward(), forwardRecord(), 82);
}

bool write(const std::filesystem::path& dir, const std::string& name, capnp::MessageBuilder& m) {
  const Bytes frame = toFrame(m);
  std::ofstream out(dir / (name + ".bin"), std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(frame.data()), static_cast<std::streamsize>(frame.size()));
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output directory>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  bool ok = true;

  auto client = [&](const std::string& name, std::uint64_t id, const std::function<void(wire::ClientFrame::Builder)>& fill) {
    capnp::MallocMessageBuilder m;
    auto f = m.initRoot<wire::ClientFrame>();
    f.setId(id);
    fill(f);
    ok = write(dir, "client-" + name, m) && ok;
  };
  auto server = [&](const std::string& name, std::uint64_t id, const std::function<void(wire::ServerFrame::Builder)>& fill) {
    capnp::MallocMessageBuilder m;
    auto f = m.initRoot<wire::ServerFrame>();
    f.setId(id);
    fill(f);
    ok = write(dir, "server-" + name, m) && ok;
  };

  client("authenticate", 1, [](auto f) {
    auto a = f.initAuthenticate();
    a.setVersion(1);
    a.setMemberId("sg-csa");
    a.setIdentityKey(kjBytes(pattern(32, 30)));
    a.setSignature(kjBytes(pattern(64, 31)));
  });
  client("send", 2, [](auto f) { setBulletin(f.initSend().initBulletin()); });
  client("fetch", 3, [](auto f) {
    f.initFetch().setAfterSeq(41);
    f.getFetch().setLimit(64);
  });
  client("ack", 4, [](auto f) {
    auto a = f.initAck();
    a.setBody(kjBytes(ackBody()));
    a.setSignature(kjBytes(pattern(64, 32)));
  });
  client("status", 5, [](auto f) { f.initStatus().setBulletinId(kjBytes(pattern(16, 33))); });
  client("directory", 6, [](auto f) { f.initDirectory(); });
  client("log", 7, [](auto f) {
    f.initLog().setFrom(0);
    f.getLog().setLimit(100);
  });
  client("admin", 8, [](auto f) {
    auto a = f.initAdmin();
    a.setEvent(kjBytes(logEvent(1)));
    a.setSignature(kjBytes(pattern(64, 34)));
  });
  client("begin-upload", 9, [](auto f) {
    f.initBeginUpload().setSize(262161);
    f.getBeginUpload().setBlobHash(kjBytes(pattern(32, 35)));
  });
  client("upload-chunk", 10, [](auto f) {
    auto c = f.initUploadChunk();
    c.setUploadId(1);
    c.setOffset(0);
    c.setData(kjBytes(pattern(256, 36)));
  });
  client("download", 11, [](auto f) {
    auto d = f.initDownload();
    d.setBulletinId(kjBytes(pattern(16, 37)));
    d.setBlobHash(kjBytes(pattern(32, 38)));
    d.setOffset(0);
    d.setLength(262161);
  });
  client("subscribe", 12, [](auto f) { f.setSubscribe(); });
  client("ping", 13, [](auto f) { f.setPing(); });
  client("forward", 14, [](auto f) { setRecord(f.initForward(), forwardRecord(), 84); });
  client("retract", 15, [](auto f) { setRecord(f.initRetract(), retraction(), 85); });
  client("comment", 16, [](auto f) { setRecord(f.initComment(), comment(), 86); });
  client("record-status", 17, [](auto f) { f.initRecordStatus().setRecordId(kjBytes(pattern(16, 74))); });
  client("propose", 18, [](auto f) { setRecord(f.initPropose(), proposal(), 87); });
  client("list-proposals", 19, [](auto f) { f.setListProposals(); });
  client("decide", 20, [](auto f) { setRecord(f.initDecide(), decision(), 88); });
  client("permit", 21, [](auto f) { setRecord(f.initPermit(), permission(), 89); });
  client("audit", 22, [](auto f) {
    f.initAudit().setFrom(0);
    f.getAudit().setLimit(100);
  });

  server("challenge", 0, [](auto f) {
    auto c = f.initChallenge();
    c.setVersion(1);
    c.setHubId("hub.aseanwgc");
    c.setHubKey(kjBytes(pattern(32, 40)));
    c.setNonce(kjBytes(pattern(32, 41)));
    c.setServerTimeMs(1'700'000'000'000);
  });
  server("error", 1, [](auto f) {
    auto e = f.initError();
    e.setCode(wire::ErrorCode::RATE_LIMITED);
    e.setMessage("too many requests");
    e.setRetryAfterMs(1000);
  });
  server("authenticated", 1, [](auto f) {
    auto a = f.initAuthenticated();
    a.setMemberId("sg-csa");
    a.setServerTimeMs(1'700'000'000'001);
    setHead(a.initLogHead());
  });
  server("accepted", 2, [](auto f) {
    auto a = f.initAccepted();
    a.setBulletinId(kjBytes(pattern(16, 42)));
    a.setAcceptedAtMs(1'700'000'000'002);
  });
  server("deliveries", 3, [](auto f) {
    auto d = f.initDeliveries();
    auto items = d.initItems(2);
    setDelivery(items[0], 1);
    setDelivery(items[1], 2);
    d.setMore(true);
  });
  server("push", 0, [](auto f) { setDelivery(f.initPush(), 3); });
  server("push-forwarded", 0, [](auto f) { setDelivery(f.initPush(), 4, true); });
  server("push-retraction", 0, [](auto f) {
    auto d = f.initPush();
    setDelivery(d, 5);
    setRecord(d.initRetraction(), retraction(), 83);
  });
  server("acked", 4, [](auto f) { f.initAcked().setRemoved(3); });
  server("status", 5, [](auto f) {
    auto s = f.initStatus();
    s.setBulletinId(kjBytes(pattern(16, 43)));
    auto rs = s.initRecipients(2);
    rs[0].setMemberId("my-nacsa");
    rs[0].setState(wire::DeliveryState::ACKNOWLEDGED);
    rs[0].setQueuedAtMs(1);
    rs[0].setDeliveredAtMs(2);
    rs[0].setAckedAtMs(3);
    rs[1].setMemberId("my-pdrm");
    rs[1].setState(wire::DeliveryState::QUEUED);
    rs[1].setQueuedAtMs(1);
  });
  server("directory", 6, [](auto f) {
    auto d = f.initDirectory();
    auto ms = d.initMembers(1);
    auto info = ms[0].initInfo();
    info.setId("sg-csa");
    info.setName("Cyber Security Agency");
    info.setState("SG");
    info.setInstitution(wire::Institution::POLICY_SECURITY);
    info.setIsAdmin(true);
    auto k = ms[0].initKeys();
    k.setIdentityKey(kjBytes(pattern(32, 44)));
    k.setEncryptionKey(kjBytes(pattern(32, 45)));
    k.setEncKeyCreatedAtMs(1'600'000'000'000);
    k.setEncKeyCert(kjBytes(pattern(64, 46)));
    ms[0].setLogIndex(1);
    setHead(d.initHead());
  });
  server("log", 7, [](auto f) {
    auto l = f.initLog();
    auto es = l.initEntries(6);
    for (unsigned i = 0; i < 6; ++i) {
      es[i].setIndex(i);
      es[i].setRecordedAtMs(1'700'000'000'000 + i);
      es[i].setAuthorId(i == 0 ? "hub.aseanwgc" : "sg-csa");
      es[i].setAuthorKey(kjBytes(pattern(32, static_cast<std::uint8_t>(50 + i))));
      es[i].setEvent(kjBytes(logEvent(static_cast<int>(i))));
      es[i].setSignature(kjBytes(pattern(64, static_cast<std::uint8_t>(60 + i))));
    }
    setHead(l.initHead());
  });
  server("admin", 8, [](auto f) {
    f.initAdmin().setIndex(4);
    setHead(f.getAdmin().initHead());
  });
  server("upload-ready", 9, [](auto f) {
    f.initUploadReady().setUploadId(1);
    f.getUploadReady().setOffset(0);
  });
  server("upload-progress", 10, [](auto f) {
    auto p = f.initUploadProgress();
    p.setUploadId(1);
    p.setReceived(262161);
    p.setComplete(true);
  });
  server("blob-chunk", 11, [](auto f) {
    auto c = f.initBlobChunk();
    c.setBlobHash(kjBytes(pattern(32, 47)));
    c.setOffset(0);
    c.setData(kjBytes(pattern(256, 48)));
    c.setTotal(262161);
  });
  server("subscribed", 12, [](auto f) { f.setSubscribed(); });
  server("pong", 13, [](auto f) { f.setPong(); });
  server("record-status", 14, [](auto f) {
    auto r = f.initRecordStatus();
    r.setRecordId(kjBytes(pattern(16, 74)));
    r.setState(wire::RecordState::PENDING);
    r.setDeadlineMs(1'700'604'800'000);
    setRecord(r.initComments(1)[0], comment(), 90);
    r.initAcknowledgedBy(1).set(0, "bn-itpss");
  });
  server("proposals", 15, [](auto f) {
    auto items = f.initProposals().initItems(1);
    setRecord(items[0].initProposal(), proposal(), 91);
    setRecord(items[0].initDecisions(1)[0], decision(), 92);
    items[0].setState(wire::ProposalState::OPEN);
  });
  server("audit", 16, [](auto f) {
    auto es = f.initAudit().initEntries(2);
    for (unsigned i = 0; i < 2; ++i) {
      es[i].setIndex(i);
      es[i].setTimeMs(1'700'000'000'000 + i);
      es[i].setEvent(i == 0 ? "auth.success" : "admin.register");
      es[i].setActor("sg-csa");
      es[i].setRemote("192.0.2.10:40000");
      es[i].setDetail("");
      es[i].setHash(kjBytes(pattern(32, static_cast<std::uint8_t>(93 + i))));
    }
  });
  server("recorded", 17, [](auto f) {
    auto r = f.initRecorded();
    r.setId(kjBytes(pattern(16, 95)));
    r.setAtMs(1'700'000'600'000);
  });

  if (!ok) {
    std::fprintf(stderr, "could not write every corpus file to %s\n", dir.c_str());
    return 1;
  }
  return 0;
}

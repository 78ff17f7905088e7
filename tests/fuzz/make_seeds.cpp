// Writes the seed corpora of bulletin_fuzz, keyfile_fuzz, config_fuzz and
// handler_fuzz (frame_fuzz has make_corpus.cpp):
//
//   focal_make_seeds <tests/fuzz/corpus>
//
// writes <dir>/bulletin, <dir>/keyfile, <dir>/config and <dir>/handler.
// Seeds are real: bulletins sealed by fuzz::fixedSender() to
// fuzz::fixedRecipient(), key files encrypted with KdfStrength::Interactive
// under fuzz::KeyFilePassphrase, requests signed by fz-alice at
// fuzz::FixedNowMs. Content keys, nonces and salts are random, so the files
// differ from run to run while staying valid; regenerate only when a format
// changes (and commit the result).
#include "fuzz_fixtures.hpp"
#include "protocol/bulletin.hpp"
#include "protocol/log.hpp"
#include "protocol/signing.hpp"
#include "server/config.hpp"
#include "tests/support/log_events.hpp"

#include <capnp/message.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

using namespace focal;
using namespace focal::protocol;
using crypto::Bytes;
namespace fs = std::filesystem;

namespace {

bool ok = true;

void writeFile(const fs::path& path, crypto::ByteView bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ok = static_cast<bool>(out) && ok;
}
void writeText(const fs::path& path, std::string_view text) { writeFile(path, crypto::asBytes(text)); }

template <class F>
F patterned(std::uint8_t seed) {
  F f;
  for (std::size_t i = 0; i < F::size; ++i) f.bytes[i] = static_cast<std::uint8_t>(seed + 7 * i);
  return f;
}

SealedBulletin seal(const BulletinDraft& d, const crypto::BulletinId& id, const crypto::ContentKey& key) {
  auto s = sealBulletin(d, fuzz::fixedSender(), key, fuzz::FixedNowMs, id);
  if (!s.ok()) {
    std::fprintf(stderr, "seal failed: %s\n", describe(s.error()));
    std::exit(1);
  }
  return std::move(s).value();
}

BulletinDraft draft(const std::vector<RecipientKey>& to, std::string body = "seed body") {
  BulletinDraft d;
  d.hubId = "focal-hub";  // the test hub (seal v2 binds its id)
  d.tlp = wire::Tlp::AMBER;
  d.category = wire::Category::TREND;
  d.title = "seed title";
  d.body = std::move(body);
  for (const auto& r : to) {
    d.addresses.push_back(r.memberId);
    d.recipients.push_back(r);
  }
  return d;
}

BulletinDraft fullDraft(const std::vector<RecipientKey>& to) {
  auto d = draft(to, std::string(600, 'x'));
  d.tlp = wire::Tlp::RED;
  d.handling = wire::Handling::H3;
  d.handlingText = "no onward sharing";
  d.sourceReliability = wire::SourceReliability::B;
  d.infoAccuracy = 2;
  d.priority = wire::Priority::URGENT;
  d.caseRef = "AWGC-2024-017";
  d.replyTo = patterned<crypto::BulletinId>(40);
  d.attackTechniques = {"T1566.001", "T1486"};
  d.stixBundle = R"({"type":"bundle","id":"bundle--1","objects":[]})";
  protocol::AttachmentDraft a;
  a.name = "evidence.pcap";
  a.mediaType = "application/vnd.tcpdump.pcap";
  a.plainSize = 1000;
  a.blobHash = patterned<crypto::Hash256>(50);
  a.blobSize = 1000 + 24 + 17;
  d.attachments.push_back(a);
  return d;
}

// bulletin_fuzz input: mode | u16 len | header | signature | tail
Bytes bulletinInput(std::uint8_t mode, const SealedBulletin& s, crypto::ByteView tail) {
  Bytes b{mode, static_cast<std::uint8_t>(s.header.size() >> 8), static_cast<std::uint8_t>(s.header.size())};
  b.insert(b.end(), s.header.begin(), s.header.end());
  b.insert(b.end(), s.signature.bytes.begin(), s.signature.bytes.end());
  b.insert(b.end(), tail.begin(), tail.end());
  return b;
}

// The Content plaintext of a sealed bulletin, as bytes (for the sender mode).
Bytes contentOf(const SealedBulletin& s, const crypto::MemberKeys& me) {
  auto o = openBulletin(s.header, s.signature, s.ciphertext, fuzz::fixedSender().identity.publicKey, me);
  if (!o.ok()) {
    std::fprintf(stderr, "open failed: %s\n", describe(o.error()));
    std::exit(1);
  }
  capnp::MallocMessageBuilder m;
  m.setRoot(o->content.root());
  return toBytes(m);
}

void bulletinSeeds(const fs::path& dir) {
  const auto bob = fuzz::fixedRecipient();
  const auto carol = fuzz::fixedOther();
  const RecipientKey bobNow{bob.memberId, bob.encryption.publicKey};
  const RecipientKey bobBefore{bob.memberId, bob.previousEncryption.at(0).publicKey};
  const RecipientKey carolKey{carol.memberId, carol.encryption.publicKey};

  struct Case {
    const char* name;
    BulletinDraft d;
  };
  std::vector<Case> cases;
  cases.push_back({"to-us-and-other", draft({bobNow, carolKey})});
  cases.push_back({"to-our-previous-key", draft({bobBefore})});
  cases.push_back({"all-fields-attachment", fullDraft({bobNow, carolKey})});
  cases.push_back({"not-for-us", draft({carolKey})});
  std::uint8_t n = 1;
  for (auto& c : cases) {
    const auto key = crypto::ContentKey::random();
    const auto s = seal(c.d, patterned<crypto::BulletinId>(n++), key);
    writeFile(dir / (std::string("relayed-") + c.name + ".bin"), bulletinInput(0, s, s.ciphertext));
    if (std::string_view(c.name) != "not-for-us") {
      writeFile(dir / (std::string("sender-") + c.name + ".bin"), bulletinInput(1, s, contentOf(s, bob)));
    }
  }
}

void keyfileSeeds(const fs::path& dir) {
  const auto alice = fuzz::fixedSender();
  const auto bob = fuzz::fixedRecipient();
  writeFile(dir / "file-alice.keyfile", crypto::encryptKeyFile(alice, fuzz::KeyFilePassphrase, crypto::KdfStrength::Interactive));
  writeFile(dir / "file-bob-rotated.keyfile", crypto::encryptKeyFile(bob, fuzz::KeyFilePassphrase, crypto::KdfStrength::Interactive));
  writeFile(dir / "payload-alice.bin", fuzz::keyFilePayload(alice));
  writeFile(dir / "payload-bob-rotated.bin", fuzz::keyFilePayload(bob));
  writeText(dir / "alice.pub", crypto::formatPublicKeys(alice.publicKeys()));
  writeText(dir / "bob.pub", crypto::formatPublicKeys(bob.publicKeys()));
}

void configSeeds(const fs::path& dir) {
  server::Config c;
  writeText(dir / "default.toml", server::renderConfig(c));
  c.hubId = "hub.aseanwgc";
  c.listenHost = "::1";
  c.listenPort = 0;
  c.database = "/var/lib/focal/focal.db";
  c.limits.maxFrameBytes = 64 * 1024;
  c.limits.writeBatch = 1;
  writeText(dir / "ipv6-small-limits.toml", server::renderConfig(c));
  writeText(dir / "minimal.toml",
            "[hub]\nid = \"hub-a\"\nlisten = \"127.0.0.1:7443\"\n\n[tls]\ncertificate = \"c.pem\"\nprivate_key = \"k.pem\"\n");
  writeText(dir / "literal-strings-comments.toml",
            "# comment\n[hub] # trailing\nid = 'hub-b'\nlisten = '[2001:db8::1]:443'\ndatabase = '''d b.db'''\n"
            "signing_key = \"keys/h\\u00e9.key\"\n[tls]\ncertificate = \"c.pem\"\nprivate_key = \"k.pem\"\n"
            "[limits]\nidle_timeout_ms = 1_000\nmax_attachment_bytes = 0x10\n");
  writeText(dir / "unknown-key.toml",
            "[hub]\nid = \"hub-a\"\nlisten = \"127.0.0.1:7443\"\nlisten_port = 1\n[tls]\ncertificate = \"c\"\nprivate_key = \"k\"\n");
  writeText(dir / "out-of-range.toml",
            "[hub]\nid = \"hub-a\"\nlisten = \"127.0.0.1:7443\"\n[tls]\ncertificate = \"c\"\nprivate_key = \"k\"\n"
            "[limits]\nmax_frame_bytes = 2097152\n");
  writeText(dir / "inline-tables.toml",
            "hub = { id = \"hub-a\", listen = \"h:1\" }\ntls = { certificate = \"c\", private_key = \"k\" }\n"
            "[limits]\nwrite_queue = 16\n");
}

// ---- handler_fuzz: ClientFrame bodies from fz-alice ---------------------------------

void handlerSeeds(const fs::path& dir) {
  const auto alice = fuzz::fixedSender();
  const auto bob = fuzz::fixedRecipient();
  const auto carol = fuzz::fixedOther();
  const RecipientKey bobKey{bob.memberId, bob.encryption.publicKey};
  const RecipientKey carolKey{carol.memberId, carol.encryption.publicKey};
  std::uint64_t nextId = 1;
  auto frame = [&](const std::string& name, const std::function<void(wire::ClientFrame::Builder)>& fill) {
    capnp::MallocMessageBuilder m;
    auto f = m.initRoot<wire::ClientFrame>();
    f.setId(nextId++);
    fill(f);
    writeFile(dir / (name + ".bin"), toBytes(m));
  };

  // The blob the harness uploaded at start (fuzz::fixedBlob()); these two
  // seeds upload it again (the hub answers with the existing upload).
  const Bytes blob = fuzz::fixedBlob();
  const auto blobHash = crypto::hash256(blob);
  frame("01-begin-upload", [&](auto f) {
    f.initBeginUpload().setSize(blob.size());
    f.getBeginUpload().setBlobHash(kjBytes(blobHash.view()));
  });
  frame("02-upload-chunk", [&](auto f) {
    auto c = f.initUploadChunk();
    c.setUploadId(1);
    c.setOffset(0);
    c.setData(kjBytes(blob));
  });

  const auto plain = draft({bobKey, carolKey});
  const auto sent = seal(plain, fuzz::fixedId(90), crypto::ContentKey::random());
  frame("03-send", [&](auto f) { toWire(sent, f.initSend().initBulletin()); });
  auto withBlob = draft({bobKey});
  withBlob.attachments.push_back(protocol::AttachmentDraft{"blob.bin", "application/octet-stream", 900, blobHash, blob.size()});
  withBlob.tlp = wire::Tlp::RED;
  const auto sentWithBlob = seal(withBlob, fuzz::fixedId(91), crypto::ContentKey::random());
  frame("04-send-attachment", [&](auto f) { toWire(sentWithBlob, f.initSend().initBulletin()); });
  frame("05-download", [&](auto f) {
    auto d = f.initDownload();
    d.setBulletinId(kjBytes(fuzz::fixedId(fuzz::HubBulletinWithBlob).view()));
    d.setBlobHash(kjBytes(blobHash.view()));
    d.setOffset(0);
    d.setLength(512);
  });
  frame("06-status", [&](auto f) { f.initStatus().setBulletinId(kjBytes(fuzz::fixedId(fuzz::HubBulletinWithBlob).view())); });
  frame("07-fetch", [&](auto f) {
    f.initFetch().setAfterSeq(0);
    f.getFetch().setLimit(16);
  });
  {
    capnp::MallocMessageBuilder m;
    auto body = m.initRoot<wire::AckBody>();
    body.setMemberId(protocol::asText(alice.memberId));
    auto ids = body.initBulletinIds(2);
    ids.set(0, kjBytes(fuzz::fixedId(fuzz::HubBulletinWithBlob).view()));  // addressed to fz-alice too
    ids.set(1, kjBytes(sent.id.view()));
    body.setAckedAtMs(fuzz::FixedNowMs);
    const auto bytes = toBytes(m);
    const auto sig = crypto::sign(context::Ack, bytes, alice.identity.secretKey);
    frame("08-ack", [&](auto f) {
      auto ack = f.initAck();
      ack.setBody(kjBytes(bytes));
      ack.setSignature(kjBytes(sig.view()));
    });
  }
  frame("09-directory", [](auto f) { f.initDirectory(); });
  frame("10-log", [](auto f) {
    f.initLog().setFrom(0);
    f.getLog().setLimit(100);
  });
  frame("11-subscribe", [](auto f) { f.setSubscribe(); });
  frame("12-ping", [](auto f) { f.setPing(); });
  {
    // Admin: fz-alice registers fz-erin, rotates fz-dave's encryption key
    // (the harness registered fz-dave at start).
    auto dave = fuzz::fixedMember("fz-erin", 5);
    auto pk = dave.publicKeys();
    const auto ev = test_support::events::registration({dave.memberId, "MY", wire::Institution::LAW_ENFORCEMENT, false}, pk,
                                                       alice.identity.secretKey, fuzz::FixedNowMs,
                                                       "Fuzz member fz-erin");
    frame("13-admin-register", [&](auto f) {
      f.initAdmin().setEvent(kjBytes(ev.event));
      f.getAdmin().setSignature(kjBytes(ev.signature.view()));
    });
  }
  {
    const auto dave = fuzz::fixedRotated();
    auto daveNext = fuzz::fixedRotated();
    daveNext.encryption = fuzz::fixedBox(44);
    auto pk = daveNext.publicKeys();
    capnp::MallocMessageBuilder m;
    auto e = m.initRoot<wire::LogEvent>();
    e.setIssuedAtMs(fuzz::FixedNowMs);
    auto r = e.initRotateEncryption();
    r.setMemberId(protocol::asText(daveNext.memberId));
    r.setPreviousKey(kjBytes(dave.encryption.publicKey.view()));
    auto k = r.initKeys();
    k.setIdentityKey(kjBytes(pk.identity.view()));
    k.setEncryptionKey(kjBytes(pk.encryption.view()));
    k.setEncKeyCreatedAtMs(pk.createdAtMs);
    k.setEncKeyCert(kjBytes(pk.encCert.view()));
    const auto ev = signLogEvent(m, alice.identity.secretKey);
    frame("14-admin-rotate", [&](auto f) {
      f.initAdmin().setEvent(kjBytes(ev.event));
      f.getAdmin().setSignature(kjBytes(ev.signature.view()));
    });
  }
  frame("15-authenticate-again", [&](auto f) {
    auto a = f.initAuthenticate();
    a.setVersion(1);
    a.setMemberId(protocol::asText(alice.memberId));
    a.setIdentityKey(kjBytes(alice.identity.publicKey.view()));
    a.setSignature(kjBytes(patterned<crypto::Signature>(3).view()));
  });
  frame("16-list-proposals", [](auto f) { f.setListProposals(); });
  frame("17-audit", [](auto f) {
    f.initAudit().setFrom(0);
    f.getAudit().setLimit(10);
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <tests/fuzz/corpus>\n", argv[0]);
    return 2;
  }
  crypto::initialize();
  const fs::path root = argv[1];
  for (const char* name : {"bulletin", "keyfile", "config", "handler"}) fs::create_directories(root / name);
  bulletinSeeds(root / "bulletin");
  keyfileSeeds(root / "keyfile");
  configSeeds(root / "config");
  handlerSeeds(root / "handler");
  if (!ok) {
    std::fprintf(stderr, "could not write every seed under %s\n", root.c_str());
    return 1;
  }
  return 0;
}

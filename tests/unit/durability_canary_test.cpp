// Canaries at rest: what a member encrypts never reaches the hub's disk or
// log in a readable form, and the hub's secrets are not readable by others.
//
// A real hub in process (tests/reliability/in_process_hub.hpp) with its log
// captured at trace level (more than focald prints by default). A member
// sends a bulletin whose title, body, STIX bundle, ATT&CK technique,
// attachment name and attachment content each carry a random canary; the
// attachment is encrypted and uploaded the way the client does it
// (crypto::StreamEncryptor under crypto::attachmentKey). The recipient
// fetches, downloads and acknowledges, and the sender asks for the status,
// so every code path that could log runs. Then every file under the hub's
// directory (focal.db, its -wal and -shm, keys, configuration) and the
// captured log are searched for each canary as raw bytes, as hex (both
// cases) and as base64 (all three alignments); once while the hub runs
// (data still in the WAL) and once after a clean stop (checkpointed).
//
// Positive controls prove the search can find things: a canary in the
// header's caseRef (signed but, by design, not encrypted: PROTOCOL.md §8)
// must be found in the database files, and the bulletin id, which the hub
// logs when it accepts a bulletin, must be found in the log.
//
// Also: the hub's private keys (hub.key, admin.key, tls/key.pem), its
// database with -wal and -shm, and its directory are not accessible to
// group or others; a member key file written by crypto::writeKeyFile is 0600.
#include "tests/reliability/canary_forms.hpp"
#include "tests/reliability/in_process_hub.hpp"

#include <catch2/catch.hpp>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <sstream>

using namespace focal;
using namespace focal::reliability;
namespace fs = std::filesystem;

namespace {

std::string canary(const char* tag) {
  crypto::Bytes r(12);
  crypto::randomFill(r);
  return std::string("CANARY-") + tag + "-" + crypto::toHex(r);
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Where each form of `secret` occurs: file names (or "log").
std::vector<std::string> findEverywhere(const std::string& secret, const fs::path& dir, const std::string& log) {
  std::vector<std::string> where;
  const auto variants = canaryForms(secret);
  const auto scan = [&](const std::string& name, const std::string& text) {
    for (const auto& v : variants) {
      if (text.find(v) != std::string::npos) {
        where.push_back(name + " (as '" + v + "')");
        return;
      }
    }
  };
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) scan(e.path().lexically_relative(dir).string(), readFile(e.path()));
  }
  scan("log", log);
  return where;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "; ";
  return s;
}

unsigned modeOf(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE_METHOD(HubWithAliceAndBob,
                 "canary: bulletin content never reaches the hub's disk or log readable", "[durability][canary][security]") {

  const std::map<std::string, std::string> secrets{
      {"title", canary("title")},           {"body", canary("body")},
      {"stix", canary("stix")},             {"technique", canary("technique")},
      {"attachment-name", canary("name")},  {"attachment-content", canary("content")}};
  const std::string clearControl = canary("caseref");

  // The attachment: 300 KB (two stream chunks) with the canary at the start,
  // across the chunk boundary, and at the end.
  const std::string& inAttachment = secrets.at("attachment-content");
  std::string plain(300 * 1024, '.');
  plain.replace(0, inAttachment.size(), inAttachment);
  plain.replace(crypto::AttachmentChunkPlainBytes - inAttachment.size() / 2, inAttachment.size(), inAttachment);
  plain.replace(plain.size() - inAttachment.size(), inAttachment.size(), inAttachment);
  auto contentKey = crypto::ContentKey::random();
  crypto::Bytes blob;
  {
    crypto::StreamEncryptor enc(crypto::attachmentKey(contentKey, 0));
    blob.assign(enc.header().begin(), enc.header().end());
    const auto bytes = crypto::asBytes(plain);
    for (std::size_t off = 0; off < bytes.size(); off += crypto::AttachmentChunkPlainBytes) {
      const std::size_t n = std::min(crypto::AttachmentChunkPlainBytes, bytes.size() - off);
      const auto c = enc.push(bytes.subspan(off, n), off + n == bytes.size());
      blob.insert(blob.end(), c.begin(), c.end());
    }
  }
  const auto blobHash = crypto::hash256(blob);

  RawClient a(h);
  a.authenticate("sg-alice", alice.identity);
  auto ready = a.call([&](wire::ClientFrame::Builder f) {
    f.initBeginUpload().setSize(blob.size());
    f.getBeginUpload().setBlobHash(protocol::kjBytes(blobHash.view()));
  });
  REQUIRE(ready.root().which() == wire::ServerFrame::UPLOAD_READY);
  const auto uploadId = ready.root().getUploadReady().getUploadId();
  for (std::size_t off = 0; off < blob.size(); off += 100 * 1024) {
    const std::size_t n = std::min<std::size_t>(100 * 1024, blob.size() - off);
    auto progress = a.call([&](wire::ClientFrame::Builder f) {
      auto c = f.initUploadChunk();
      c.setUploadId(uploadId);
      c.setOffset(off);
      c.setData(protocol::kjBytes(crypto::ByteView(blob).subspan(off, n)));
    });
    INFO(describe(progress));
    REQUIRE(progress.root().which() == wire::ServerFrame::UPLOAD_PROGRESS);
  }

  protocol::BulletinDraft d;
  d.hubId = "focal-hub";  // the test hub (seal v2 binds its id)
  d.tlp = wire::Tlp::AMBER;
  d.category = wire::Category::TREND;
  d.caseRef = clearControl;
  d.title = secrets.at("title");
  d.body = "Indicators follow. " + secrets.at("body") + " End.";
  d.stixBundle = R"({"type":"bundle","objects":[{"name":")" + secrets.at("stix") + R"("}]})";
  d.attackTechniques = {secrets.at("technique")};
  d.addresses.push_back(bob.memberId);
  d.recipients.push_back(protocol::RecipientKey{bob.memberId, bob.encryption.publicKey});
  d.attachments.push_back(protocol::AttachmentDraft{secrets.at("attachment-name") + ".pcap", "application/octet-stream",
                                                    plain.size(), blobHash, blob.size()});
  auto sealed = protocol::sealBulletin(d, alice, contentKey, h.clock.nowMs());
  REQUIRE(sealed.ok());
  auto accepted = a.call([&](wire::ClientFrame::Builder f) { protocol::toWire(*sealed, f.initSend().initBulletin()); });
  INFO(describe(accepted));
  REQUIRE(accepted.root().which() == wire::ServerFrame::ACCEPTED);

  // The recipient reads everything and acknowledges; the sender asks for the status.
  RawClient b(h);
  b.authenticate("th-bob", bob.identity);
  auto page = b.call([](wire::ClientFrame::Builder f) { f.initFetch().setAfterSeq(0); });
  REQUIRE(page.root().getDeliveries().getItems().size() == 1);
  {
    auto item = page.root().getDeliveries().getItems()[0].getBulletin();
    auto opened = protocol::openBulletin(protocol::view(item.getHeader()),
                                         *crypto::Signature::fromBytes(protocol::view(item.getSignature())),
                                         protocol::view(item.getCiphertext()), alice.identity.publicKey, bob);
    REQUIRE(opened.ok());
    CHECK(protocol::view(opened->content.root().getTitle()) == secrets.at("title"));  // the canary did travel
  }
  crypto::Bytes downloaded;
  while (downloaded.size() < blob.size()) {
    auto chunk = b.call([&](wire::ClientFrame::Builder f) {
      auto q = f.initDownload();
      q.setBulletinId(protocol::kjBytes(sealed->id.view()));
      q.setBlobHash(protocol::kjBytes(blobHash.view()));
      q.setOffset(downloaded.size());
      q.setLength(200 * 1024);
    });
    REQUIRE(chunk.root().which() == wire::ServerFrame::BLOB_CHUNK);
    const auto data = protocol::view(chunk.root().getBlobChunk().getData());
    REQUIRE_FALSE(data.empty());
    downloaded.insert(downloaded.end(), data.begin(), data.end());
  }
  CHECK(downloaded == blob);
  {
    capnp::MallocMessageBuilder m;
    auto body = m.initRoot<wire::AckBody>();
    body.setMemberId(protocol::asText(bob.memberId));
    body.initBulletinIds(1).set(0, protocol::kjBytes(sealed->id.view()));
    body.setAckedAtMs(h.clock.nowMs());
    const auto bytes = protocol::toBytes(m);
    const auto sig = crypto::sign(protocol::context::Ack, bytes, bob.identity.secretKey);
    auto acked = b.call([&](wire::ClientFrame::Builder f) {
      f.initAck().setBody(protocol::kjBytes(bytes));
      f.getAck().setSignature(protocol::kjBytes(sig.view()));
    });
    REQUIRE(acked.root().which() == wire::ServerFrame::ACKED);
  }
  REQUIRE(a.call([&](wire::ClientFrame::Builder f) {
             f.initStatus().setBulletinId(protocol::kjBytes(sealed->id.view()));
           }).root().which() == wire::ServerFrame::STATUS);

  const fs::path hubDir = h.hubDir();
  const auto check = [&](const char* when, const std::string& log) {
    INFO(when);
    REQUIRE(fs::exists(hubDir / "focal.db"));
    for (const auto& [field, secret] : secrets) {
      INFO("canary in " << field << ": " << secret);
      const auto found = findEverywhere(secret, hubDir, log);
      CHECK(found.empty());
      if (!found.empty()) FAIL_CHECK("found in: " << joined(found));
    }
    // Positive controls: the search does see the database and the log.
    const auto control = findEverywhere(clearControl, hubDir, "");
    CHECK_FALSE(control.empty());
    CHECK(log.find(crypto::toHex(sealed->id)) != std::string::npos);
  };
  REQUIRE(fs::exists(hubDir / "focal.db-wal"));
  check("while the hub runs (WAL not yet checkpointed)", h.log->text());

  // Secrets of the hub and the database: owner only.
  for (const fs::path& p : {fs::path(h.config.signingKey),
                            fs::path(h.config.tlsPrivateKey), hubDir / "focal.db", hubDir / "focal.db-wal",
                            hubDir / "focal.db-shm"}) {
    INFO(p << " mode " << std::oct << modeOf(p));
    CHECK((modeOf(p) & 077) == 0);
  }
  INFO("hub directory mode " << std::oct << modeOf(hubDir));
  CHECK((modeOf(hubDir) & 077) == 0);
  const auto memberKey = h.dir.path() / "member.key";
  REQUIRE(crypto::writeKeyFile(memberKey, alice, HubPassphrase, crypto::KdfStrength::Interactive).ok());
  CHECK(modeOf(memberKey) == 0600);

  h.stopAndClose();  // the last connection checkpoints the WAL into focal.db
  check("after a clean stop", h.log->text());
}

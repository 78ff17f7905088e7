// The local archive (client/archive.hpp, client/archive_file.hpp): a round
// trip through its sealed file; a wrong key, a tampered or a truncated file
// open nothing and say why; retraction and retention remove content from
// the database and its index; hostile search input is plain words; the key
// agent derives the same archive key as the key file.
#include "client/agent_protocol.hpp"
#include "client/archive.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>

using namespace focal;
using namespace focal::client;
using focal::test_support::TempDir;

namespace {

constexpr std::int64_t Day = 86'400'000;
constexpr std::int64_t Now = 1'800'000'000'000;  // a fixed clock

crypto::MemberKeys keysOf(const std::string& id) { return crypto::MemberKeys::generate(id, Now - 400 * Day); }

OpenedMessage bulletin(std::uint8_t n, wire::Tlp tlp, std::int64_t sentAtMs, std::string title, std::string body) {
  OpenedMessage m;
  crypto::Bytes id(16, n);
  m.id = *crypto::BulletinId::fromBytes(id);
  m.senderId = "sg-spf-cyber";
  m.senderName = "Singapore Police Force";
  m.senderFingerprint = "8a1f 3c2e";
  m.createdAtMs = sentAtMs;
  m.tlp = tlp;
  m.priority = wire::Priority::URGENT;
  m.category = wire::Category::ALERT;
  m.caseRef = "AWGC-2026-04";
  m.recipients = {"my-pdrm-cyber", "th-tcsd"};
  m.attackTechniques = {"T1566.002"};
  m.title = std::move(title);
  m.body = std::move(body);
  return m;
}

crypto::Bytes fileBytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return crypto::Bytes(std::istreambuf_iterator<char>(in), {});
}

void writeBytes(const std::filesystem::path& p, const crypto::Bytes& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

bool contains(const crypto::Bytes& hay, std::string_view needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

// The decrypted database image of the archive file (what a thief with the key would see).
crypto::Bytes imageOf(const std::filesystem::path& p, const crypto::Keyring& keys) {
  auto image = openArchive(keys, fileBytes(p));
  REQUIRE(image);
  return *image;
}

std::optional<ArchiveFileError> openError(const std::filesystem::path& p, crypto::Keyring keys) {
  try {
    (void)Archive::open(p, std::move(keys));
  } catch (const ArchiveError& e) {
    return e.code();
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("an archive saved and opened again keeps every field, encrypted at rest", "[archive]") {
  TempDir dir;
  const auto file = dir / "archive.bin";
  crypto::Keyring keys(keysOf("my-pdrm-cyber"));
  {
    auto a = Archive::open(file, keys);
    CHECK(a.history({}).empty());
    a.record(bulletin(1, wire::Tlp::AMBER, Now - Day, "Phishing kit zephyrcanary", "Indicators in the body"), Now);
    a.record(bulletin(2, wire::Tlp::GREEN, Now - 2 * Day, "Second", "nothing"), Now);
    a.markAcknowledged(bulletin(1, wire::Tlp::AMBER, 0, "", "").id);
    CHECK(a.save({}, Now));
    CHECK_FALSE(a.save({}, Now));  // nothing changed: nothing written
  }
  const auto raw = fileBytes(file);
  CHECK_FALSE(contains(raw, "zephyrcanary"));
  CHECK_FALSE(contains(raw, "Indicators"));
  CHECK_FALSE(contains(raw, "SQLite format"));
  auto a = Archive::open(file, keys);
  const auto rows = a.history({});
  REQUIRE(rows.size() == 2);
  const auto& r = rows[0];  // newest first
  CHECK(r.id == "01010101010101010101010101010101");
  CHECK(r.senderId == "sg-spf-cyber");
  CHECK(r.recipients == std::vector<std::string>{"my-pdrm-cyber", "th-tcsd"});
  CHECK(r.tlp == "AMBER");
  CHECK(r.category == "alert");
  CHECK(r.priority == "urgent");
  CHECK(r.caseRef == "AWGC-2026-04");
  CHECK(r.attack == std::vector<std::string>{"T1566.002"});
  CHECK(r.sentAtMs == Now - Day);
  CHECK(r.title == "Phishing kit zephyrcanary");
  CHECK(r.body == "Indicators in the body");
  CHECK(r.acknowledged);
  CHECK_FALSE(rows[1].acknowledged);
  CHECK(a.search("ZEPHYRCANARY", {}).size() == 1);
  CHECK(a.search("indicators body", {}).size() == 1);
  ArchiveFilter f;
  f.attack = {"T1566"};
  CHECK(a.history(f).size() == 2);
  f.tlp = "GREEN";
  CHECK(a.history(f).size() == 1);
  ArchiveFilter since;
  since.sinceMs = Now - Day - 1;
  CHECK(a.history(since).size() == 1);
}

TEST_CASE("an archive does not open with another key, and says which error", "[archive]") {
  TempDir dir;
  const auto file = dir / "archive.bin";
  {
    auto a = Archive::open(file, keysOf("my-pdrm-cyber"));
    a.record(bulletin(1, wire::Tlp::RED, Now, "t", "b"), Now);
    a.save({}, Now);
  }
  CHECK(openError(file, keysOf("my-pdrm-cyber")) == ArchiveFileError::WrongKey);
  CHECK(openError(file, keysOf("th-tcsd")) == ArchiveFileError::OtherMember);
}

TEST_CASE("a key file kept from before a rotation opens the archive and the next save uses the new key", "[archive]") {
  TempDir dir;
  const auto file = dir / "archive.bin";
  auto before = keysOf("my-pdrm-cyber");
  {
    auto a = Archive::open(file, before);
    a.record(bulletin(1, wire::Tlp::RED, Now, "t", "b"), Now);
    a.save({}, Now);
  }
  auto after = keysOf("my-pdrm-cyber");
  after.previousEncryption.push_back(crypto::BoxKeyPair{before.encryption.publicKey, before.encryption.secretKey.clone()});
  const auto newKey = after.encryption.publicKey;
  auto a = Archive::open(file, std::move(after));
  CHECK(a.history({}).size() == 1);
  a.record(bulletin(2, wire::Tlp::RED, Now, "t2", "b2"), Now);
  a.save({}, Now);
  auto header = parseArchiveHeader(fileBytes(file));
  REQUIRE(header);
  CHECK(header->keyOf == newKey);
}

TEST_CASE("a tampered or truncated archive file is refused", "[archive]") {
  TempDir dir;
  const auto file = dir / "archive.bin";
  crypto::Keyring keys(keysOf("my-pdrm-cyber"));
  {
    auto a = Archive::open(file, keys);
    a.record(bulletin(1, wire::Tlp::AMBER, Now, "title", "body"), Now);
    a.save({}, Now);
  }
  const auto good = fileBytes(file);
  const auto header = parseArchiveHeader(good);
  REQUIRE(header);
  SECTION("a flipped bit in the ciphertext") {
    auto bad = good;
    bad[header->size + 100] ^= 0x01;
    writeBytes(file, bad);
    CHECK(openError(file, keys) == ArchiveFileError::Damaged);
  }
  SECTION("a flipped bit in the nonce (authenticated header)") {
    auto bad = good;
    bad[header->size - 1] ^= 0x80;
    writeBytes(file, bad);
    CHECK(openError(file, keys) == ArchiveFileError::Damaged);
  }
  SECTION("another version") {
    auto bad = good;
    bad[8] = 2;
    writeBytes(file, bad);
    CHECK(openError(file, keys) == ArchiveFileError::Unsupported);
  }
  SECTION("the last byte cut") {
    writeBytes(file, crypto::Bytes(good.begin(), good.end() - 1));
    CHECK(openError(file, keys) == ArchiveFileError::Damaged);
  }
  SECTION("cut inside the header") {
    writeBytes(file, crypto::Bytes(good.begin(), good.begin() + 20));
    CHECK(openError(file, keys) == ArchiveFileError::NotAnArchive);
  }
  SECTION("empty") {
    writeBytes(file, {});
    CHECK(openError(file, keys) == ArchiveFileError::NotAnArchive);
  }
}

TEST_CASE("a verified retraction removes title and body from the archive and its index", "[archive]") {
  TempDir dir;
  const auto file = dir / "archive.bin";
  crypto::Keyring keys(keysOf("my-pdrm-cyber"));
  auto a = Archive::open(file, keys);
  auto m = bulletin(1, wire::Tlp::AMBER, Now - Day, "Wrong suspect quokkacanary", "Body wombatcanary");
  a.record(m, Now);
  a.save({}, Now);
  m.retraction = protocol::RetractionInfo{m.id, m.senderId, "wrong suspect", Now};
  a.record(m, Now);
  // Opened again later (focal read): the content stays removed.
  a.record(m, Now + 1);
  CHECK(a.search("quokkacanary", {}).empty());
  CHECK(a.search("wombatcanary", {}).empty());
  a.save({}, Now);
  const auto rows = a.history({});
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].retracted);
  CHECK(rows[0].retractionReason == "wrong suspect");
  CHECK(rows[0].contentRemoved == "retracted");
  CHECK(rows[0].title.empty());
  CHECK(rows[0].body.empty());
  const auto image = imageOf(file, keys);
  CHECK_FALSE(contains(image, "quokkacanary"));
  CHECK_FALSE(contains(image, "wombatcanary"));
}

TEST_CASE("retention removes the bodies of the TLPs it names once they are older than its limit", "[archive]") {
  TempDir dir;
  const auto file = dir / "archive.bin";
  crypto::Keyring keys(keysOf("my-pdrm-cyber"));
  auto a = Archive::open(file, keys);
  a.record(bulletin(1, wire::Tlp::RED, Now - 31 * Day, "Old red", "redbodycanary"), Now - 31 * Day);
  a.record(bulletin(2, wire::Tlp::RED, Now - 29 * Day, "Young red", "youngredbody"), Now - 29 * Day);
  a.record(bulletin(3, wire::Tlp::AMBER, Now - 31 * Day, "Old amber", "amberbodycanary"), Now - 31 * Day);
  const auto retention = parseArchiveRetention("red=30d");
  REQUIRE(retention);
  CHECK(a.save(*retention, Now));
  const auto rows = a.history({});
  REQUIRE(rows.size() == 3);
  std::map<std::string, ArchiveRow> byTitle;
  for (const auto& r : rows) byTitle[r.title] = r;
  CHECK(byTitle["Old red"].contentRemoved == "retention");
  CHECK(byTitle["Old red"].body.empty());
  CHECK(byTitle["Young red"].body == "youngredbody");
  CHECK(byTitle["Old amber"].body == "amberbodycanary");
  CHECK(a.search("redbodycanary", {}).empty());
  CHECK(a.search("Old red", {}).size() == 1);  // the title stays
  CHECK(a.bodyRemovedIds() == std::vector<std::string>{"01010101010101010101010101010101"});
  const auto image = imageOf(file, keys);
  CHECK_FALSE(contains(image, "redbodycanary"));
  CHECK(contains(image, "amberbodycanary"));
  // Opened again from the hub's queue: the body stays removed.
  a.record(bulletin(1, wire::Tlp::RED, Now - 31 * Day, "Old red", "redbodycanary"), Now);
  CHECK(a.get(bulletin(1, wire::Tlp::RED, 0, "", "").id)->body.empty());
}

TEST_CASE("archive-keep parses TLP=DURATION lists and refuses anything else", "[archive]") {
  auto r = parseArchiveRetention("red=30d,amber=90d,amber+strict=12h");
  REQUIRE(r);
  CHECK(r->at("RED") == 30 * Day);
  CHECK(r->at("AMBER") == 90 * Day);
  CHECK(r->at("AMBER+STRICT") == 12 * 3'600'000);
  CHECK(parseArchiveRetention("")->empty());
  std::string why;
  CHECK_FALSE(parseArchiveRetention("red", &why));
  CHECK_FALSE(parseArchiveRetention("purple=3d", &why));
  CHECK_FALSE(parseArchiveRetention("red=forever", &why));
  CHECK_FALSE(parseArchiveRetention("red=30d,", &why));
}

TEST_CASE("search takes hostile input as plain words and never errors", "[archive]") {
  TempDir dir;
  crypto::Keyring keys(keysOf("my-pdrm-cyber"));
  auto a = Archive::open(dir / "archive.bin", keys);
  a.record(bulletin(1, wire::Tlp::GREEN, Now, "NEAR the quote \"x\" star*", "body (paren) OR AND NOT"), Now);
  for (const char* q : {"\"", "*", "NEAR(", ")", "(", "\"\"", "a\"b", "NEAR(a b, 2)", "title:x", "^", "-", "OR", "AND NOT",
                        "body:*", "'; DROP TABLE bulletins; --", "\x01\x02", "{title body}: x", "x + y", "paren)"}) {
    INFO(q);
    CHECK_NOTHROW(a.search(q, {}));
  }
  CHECK(a.search("NEAR(", {}).size() == 1);  // the word NEAR, as text
  CHECK(a.search("OR", {}).size() == 1);
  CHECK(ftsWords("a \"b\"  c") == "\"a\" \"\"\"b\"\"\" \"c\"");
  CHECK(ftsWords("   ").empty());
  CHECK(a.history({}).size() == 1);  // the table is still there
}

TEST_CASE("the key agent derives the archive key the key file does, from a named or the current key", "[archive]") {
  crypto::initialize();
  auto keys = keysOf("my-pdrm-cyber");
  keys.previousEncryption.push_back(crypto::BoxKeyPair::generate());
  const auto previous = keys.previousEncryption[0].publicKey;
  crypto::LocalKeyOps ops(std::move(keys));
  agent::AgentInfo info;
  const auto local = ops.archiveKey(nullptr);
  REQUIRE(local);
  auto h = agent::handleRequest(agent::archiveKeyRequest(nullptr), ops, info);
  REQUIRE(h.response.size() == 1 + 32 + 32);
  CHECK(h.response[0] == 0);
  CHECK(std::equal(local->key.view().begin(), local->key.view().end(), h.response.begin() + 33));
  const auto old = ops.archiveKey(&previous);
  REQUIRE(old);
  CHECK_FALSE(old->key.equals(local->key));
  h = agent::handleRequest(agent::archiveKeyRequest(&previous), ops, info);
  CHECK(std::equal(old->key.view().begin(), old->key.view().end(), h.response.begin() + 33));
  // A key the member does not hold, and malformed requests.
  const auto stranger = crypto::BoxKeyPair::generate().publicKey;
  CHECK(static_cast<agent::Status>(agent::handleRequest(agent::archiveKeyRequest(&stranger), ops, info).response[0]) ==
        agent::Status::DecryptFailed);
  auto extra = agent::archiveKeyRequest(nullptr);
  extra.push_back(0);
  CHECK(static_cast<agent::Status>(agent::handleRequest(extra, ops, info).response[0]) == agent::Status::Malformed);
  CHECK(static_cast<agent::Status>(agent::handleRequest(crypto::Bytes{1, 5, 2}, ops, info).response[0]) ==
        agent::Status::Malformed);
  // Bound to the member: the same secret gives another member another key.
  const auto& sk = ops.keys().encryption.secretKey;
  CHECK_FALSE(crypto::deriveArchiveKey(sk, "my-pdrm-cyber").equals(crypto::deriveArchiveKey(sk, "th-tcsd")));
  CHECK(crypto::deriveArchiveKey(sk, "my-pdrm-cyber").equals(local->key));
}

TEST_CASE("the id list beside the archive names its rows and is ignored once it is not of that file", "[archive]") {
  TempDir dir;
  const auto file = dir / "archive.bin";
  crypto::Keyring keys(keysOf("my-pdrm-cyber"));
  CHECK_FALSE(Archive::knownIds(file));  // no archive yet
  auto m = bulletin(1, wire::Tlp::AMBER, Now, "t", "b");
  {
    auto a = Archive::open(file, keys);
    a.record(m, Now);
    a.record(bulletin(2, wire::Tlp::AMBER, Now, "t", "b"), Now);
    a.save({}, Now);
  }
  auto known = Archive::knownIds(file);
  REQUIRE(known);
  CHECK(known->retracted == std::map<std::string, bool>{{"01010101010101010101010101010101", false},
                                                        {"02020202020202020202020202020202", false}});
  CHECK(known->oldestBody == std::map<std::string, std::int64_t>{{"AMBER", Now}});
  CHECK_FALSE(known->retentionDue(*parseArchiveRetention("amber=1d"), Now + Day));
  CHECK(known->retentionDue(*parseArchiveRetention("amber=1d"), Now + Day + 1));
  CHECK_FALSE(known->retentionDue(*parseArchiveRetention("red=1d"), Now + 2 * Day));
  const auto listed = fileBytes(dir / "archive.bin.ids");
  {
    auto a = Archive::open(file, keys);
    m.retraction = protocol::RetractionInfo{m.id, m.senderId, "wrong", Now};
    a.record(m, Now);
    a.save({}, Now);
  }
  known = Archive::knownIds(file);
  REQUIRE(known);
  CHECK(known->retracted.at("01010101010101010101010101010101"));
  // An old list beside a newer archive (a crash between the two writes) is ignored.
  writeBytes(dir / "archive.bin.ids", listed);
  CHECK_FALSE(Archive::knownIds(file));
}

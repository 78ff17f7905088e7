// The client's directory-log verifier (client/log_verifier.hpp): what it
// accepts, and every way a hub could lie that it must name.
#include "client/bulletin_reader.hpp"
#include "client/key_directory.hpp"
#include "client/log_verifier.hpp"
#include "crypto/primitives.hpp"
#include "protocol/bulletin.hpp"
#include "protocol/consensus.hpp"
#include "protocol/distribution.hpp"
#include "protocol/signing.hpp"
#include "tests/support/log_events.hpp"

#include <capnp/any.h>
#include <capnp/message.h>
#include <catch2/catch.hpp>

using namespace focal;
using namespace focal::test_support::events;
using client::LogEntryRecord;
using client::LogVerifier;

namespace {

// A log as an honest hub would write it: entries with their hub times, the
// chain, and heads signed by the hub key.
struct TestLog {
  bool ready = (crypto::initialize(), true);  // libsodium before sodium_malloc
  crypto::SigningKeyPair hub = crypto::SigningKeyPair::generate();
  std::string hubId = "test-hub";
  std::vector<LogEntryRecord> entries;
  crypto::Hash256 root{};
  std::int64_t now = T0;

  // The entry that would come next (not appended).
  LogEntryRecord next(const std::string& authorId, const crypto::SigningPublicKey& authorKey,
                      const protocol::SignedEvent& e) const {
    LogEntryRecord r;
    r.index = entries.size();
    r.recordedAtMs = now + 1000;
    r.authorId = authorId;
    r.authorKey.assign(authorKey.view().begin(), authorKey.view().end());
    r.event = e.event;
    r.signature.assign(e.signature.view().begin(), e.signature.view().end());
    return r;
  }
  void add(const std::string& authorId, const crypto::SigningPublicKey& authorKey, const protocol::SignedEvent& e) {
    auto r = next(authorId, authorKey, e);
    now = r.recordedAtMs;
    root = protocol::logEntryHash(r.index, entries.empty() ? protocol::logGenesisPrev() : root, r.recordedAtMs, r.event,
                                  authorKey, e.signature);
    entries.push_back(std::move(r));
  }
  client::SignedHeadBytes head() const {
    auto h = protocol::signLogHead(hubId, entries.size(), root, now, hub.secretKey);
    return {h.head, crypto::Bytes(h.signature.view().begin(), h.signature.view().end())};
  }
};

struct World {
  TestLog log;
  crypto::MemberKeys admin = crypto::MemberKeys::generate("admin", T0);
  crypto::MemberKeys alice = crypto::MemberKeys::generate("sg-alice", T0);
  crypto::MemberKeys bob = crypto::MemberKeys::generate("my-bob", T0);
  World() {
    log.add(log.hubId, log.hub.publicKey, genesis(log.hubId, log.hub));
    log.add("admin", admin.identity.publicKey,
            registration({"admin", "SG", wire::Institution::SECRETARIAT, true}, admin.publicKeys(), admin.identity.secretKey));
    log.add("admin", admin.identity.publicKey, registration({"sg-alice"}, alice.publicKeys(), admin.identity.secretKey));
    log.add("admin", admin.identity.publicKey,
            registration({"my-bob", "MY"}, bob.publicKeys(), admin.identity.secretKey));
  }
};

Expected<Ok, std::string> replay(LogVerifier& v, const std::vector<LogEntryRecord>& entries) {
  for (const auto& e : entries) {
    if (auto ok = v.append(e); !ok) return ok;
  }
  return Ok{};
}

crypto::PublicKeys freshEncryption(const crypto::MemberKeys& m) {
  return withNewEncryption(m, T0 + 5).publicKeys();
}

}  // namespace

TEST_CASE("An honest log verifies, and the members and keys are the ones it establishes", "[client][log]") {
  World w;
  const auto bobNew = freshEncryption(w.bob);
  w.log.add("my-bob", w.bob.identity.publicKey,
            rotation(false, "my-bob", w.bob.encryption.publicKey.view(), bobNew, w.bob.identity.secretKey));
  w.log.add("admin", w.admin.identity.publicKey, revocation("sg-alice", {}, w.admin.identity.secretKey));
  LogVerifier v;
  REQUIRE(replay(v, w.log.entries));
  REQUIRE(v.checkHead(w.log.head()));
  CHECK(v.size() == 6);
  CHECK(v.root() == w.log.root);
  const auto* bob = v.find("my-bob");
  REQUIRE(bob != nullptr);
  CHECK(bob->encryptionKey == bobNew.encryption);
  CHECK(bob->previousEncryptionKeys.size() == 1);
  const auto* alice = v.find("sg-alice");
  REQUIRE(alice != nullptr);
  CHECK(alice->revokedAtMs == w.log.entries[5].recordedAtMs);
  const auto records = v.records();
  REQUIRE(records.size() == 3);
  for (const auto& r : records) CHECK(r.active == (r.id != "sg-alice"));
}

TEST_CASE("The verifier names an altered, missing or reordered entry", "[client][log]") {
  World w;
  LogVerifier v;
  SECTION("altered event bytes: the author's signature fails") {
    auto entries = w.log.entries;
    entries[3].event[entries[3].event.size() - 5] ^= 1;
    auto r = replay(v, entries);
    REQUIRE(!r);
    CHECK_THAT(r.error(), Catch::Contains("log entry 3") && Catch::Contains("does not verify"));
  }
  SECTION("a missing entry") {
    auto entries = w.log.entries;
    entries.erase(entries.begin() + 2);
    auto r = replay(v, entries);
    REQUIRE(!r);
    CHECK_THAT(r.error(), Catch::Contains("log entry 2 is missing"));
  }
  SECTION("a repeated entry") {
    auto entries = w.log.entries;
    entries.insert(entries.begin() + 3, entries[2]);
    auto r = replay(v, entries);
    REQUIRE(!r);
    CHECK_THAT(r.error(), Catch::Contains("reordered"));
  }
  SECTION("a head over other entries, or not signed by the hub") {
    REQUIRE(replay(v, w.log.entries));
    auto head = w.log.head();
    TestLog other;
    other.hubId = w.log.hubId;
    other.entries = w.log.entries;
    other.root = crypto::hash256(crypto::asBytes("another root"));
    auto r = v.checkHead(other.head());
    REQUIRE(!r);
    CHECK_THAT(r.error(), Catch::Contains("signature"));
    other.hub = crypto::SigningKeyPair::fromSecret(w.log.hub.secretKey.clone());
    r = v.checkHead(other.head());
    REQUIRE(!r);
    CHECK_THAT(r.error(), Catch::Contains("root hash"));
    head.signature[0] ^= 1;
    CHECK(!v.checkHead(head));
  }
}

TEST_CASE("The verifier enforces who may write each entry, from the log's own key state", "[client][log]") {
  World w;
  LogVerifier v;
  REQUIRE(replay(v, w.log.entries));
  const auto mallory = crypto::MemberKeys::generate("xx-mallory", T0);
  TestLog& log = w.log;
  auto tryAppend = [&](const std::string& author, const crypto::SigningKeyPair& key, const protocol::SignedEvent& e) {
    LogVerifier attempt = v;
    return attempt.append(log.next(author, key.publicKey, e));
  };
  SECTION("a non-admin may not register") {
    auto r = tryAppend("sg-alice", w.alice.identity, registration({"xx-mallory"}, mallory.publicKeys(), w.alice.identity.secretKey));
    REQUIRE(!r);
    CHECK_THAT(r.error(), Catch::Contains("not an admin"));
  }
  SECTION("a member may not rotate another member's key") {
    auto r = tryAppend("sg-alice", w.alice.identity,
                       rotation(false, "my-bob", w.bob.encryption.publicKey.view(), freshEncryption(w.bob),
                                w.alice.identity.secretKey));
    REQUIRE(!r);
    CHECK_THAT(r.error(), Catch::Contains("neither that member nor an admin"));
  }
  SECTION("the author key must be the author's current identity key") {
    auto r = tryAppend("admin", mallory.identity, revocation("my-bob", {}, mallory.identity.secretKey));
    REQUIRE(!r);
    CHECK_THAT(r.error(), Catch::Contains("current identity key"));
  }
  SECTION("a substituted encryption key without the member's certificate") {
    auto pk = freshEncryption(w.bob);
    pk.encryption = mallory.encryption.publicKey;  // certificate no longer matches
    auto r = tryAppend("admin", w.admin.identity,
                       rotation(false, "my-bob", w.bob.encryption.publicKey.view(), pk, w.admin.identity.secretKey));
    REQUIRE(!r);
    CHECK_THAT(r.error(), Catch::Contains("certificate"));
  }
  SECTION("a revoked member's old identity key cannot sign after the revocation") {
    log.add("admin", w.admin.identity.publicKey, revocation("sg-alice", {}, w.admin.identity.secretKey));
    REQUIRE(v.append(log.entries.back()));
    auto r = tryAppend("sg-alice", w.alice.identity,
                       rotation(false, "sg-alice", w.alice.encryption.publicKey.view(), freshEncryption(w.alice),
                                w.alice.identity.secretKey));
    REQUIRE(!r);
    CHECK_THAT(r.error(), Catch::Contains("not an active member"));
  }
  SECTION("the last admin cannot be revoked") {
    auto r = tryAppend("admin", w.admin.identity, revocation("admin", {}, w.admin.identity.secretKey));
    REQUIRE(!r);
    CHECK_THAT(r.error(), Catch::Contains("last active admin"));
  }
  SECTION("a genesis must be signed by the hub key it names") {
    TestLog fake;
    fake.add(fake.hubId, mallory.identity.publicKey, genesis(fake.hubId, fake.hub));
    LogVerifier fresh;
    auto r = fresh.append(fake.entries.front());
    REQUIRE(!r);
  }
}

TEST_CASE("Bulletins signed by a revoked key: refused after the revocation, marked before", "[client][log]") {
  World w;
  LogVerifier v;
  REQUIRE(replay(v, w.log.entries));
  // Alice signs one bulletin before her identity key is revoked, one after.
  const auto seal = [&](std::int64_t createdAt) {
    protocol::BulletinDraft d;
    d.hubId = "focal-hub";  // the test hub (seal v2 binds its id)
    d.tlp = wire::Tlp::GREEN;
    d.category = wire::Category::TREND;
    d.title = "t";
    d.body = "b";
    d.addresses.push_back("my-bob");
    d.recipients.push_back(protocol::RecipientKey{"my-bob", w.bob.encryption.publicKey});
    auto sealed = protocol::sealBulletin(d, w.alice, crypto::ContentKey::random(), createdAt);
    REQUIRE(sealed);
    client::RawBulletin raw;
    raw.header = sealed->header;
    raw.signature.assign(sealed->signature.view().begin(), sealed->signature.view().end());
    raw.ciphertext = sealed->ciphertext;
    return raw;
  };
  w.log.add("admin", w.admin.identity.publicKey,
            revocation("sg-alice", w.alice.identity.publicKey.view(), w.admin.identity.secretKey));
  REQUIRE(v.append(w.log.entries.back()));
  const std::int64_t revokedAt = w.log.entries.back().recordedAtMs;
  client::HubDirectory dir(v.records());

  auto before = client::openReceived(seal(revokedAt - 10), dir, w.bob);
  REQUIRE(before);
  CHECK(before->keyWarning == "signed by a key since revoked");
  auto after = client::openReceived(seal(revokedAt + 10), dir, w.bob);
  REQUIRE(!after);
  CHECK_THAT(after.error(), Catch::Contains("after that key was revoked"));
}

TEST_CASE("A verifier re-read from the trusted cache checks signatures again for new entries", "[client][log]") {
  World w;
  LogVerifier cached(LogVerifier::Options{.trustSignatures = true});
  REQUIRE(replay(cached, w.log.entries));
  cached.checkSignatures();
  const auto carol = crypto::MemberKeys::generate("th-carol", T0);
  w.log.add("admin", w.admin.identity.publicKey,
            registration({"th-carol", "TH"}, carol.publicKeys(), w.admin.identity.secretKey));
  auto tampered = w.log.entries.back();
  tampered.event[tampered.event.size() - 3] ^= 1;
  auto r = cached.append(tampered);
  REQUIRE(!r);
  CHECK_THAT(r.error(), Catch::Contains("does not verify"));
  CHECK(cached.append(w.log.entries.back()));
}

TEST_CASE("appendAll checks signatures on several threads and still names the first bad entry", "[client][log]") {
  World w;
  for (int i = 0; i < 100; ++i) {
    const auto m = crypto::MemberKeys::generate("m" + std::to_string(i), T0);
    w.log.add("admin", w.admin.identity.publicKey,
              registration({m.memberId}, m.publicKeys(), w.admin.identity.secretKey));
  }
  LogVerifier sequential;
  REQUIRE(replay(sequential, w.log.entries));
  LogVerifier parallel;
  REQUIRE(parallel.appendAll(w.log.entries, 2));
  CHECK(parallel.root() == sequential.root());
  CHECK(parallel.checkHead(w.log.head()));

  auto entries = w.log.entries;
  entries[70].signature[3] ^= 1;
  entries[90].event[entries[90].event.size() - 5] ^= 1;
  LogVerifier bad;
  auto r = bad.appendAll(entries, 2);
  REQUIRE(!r);
  CHECK_THAT(r.error(), Catch::Contains("log entry 70"));
  CHECK(bad.size() == 70);
}

TEST_CASE("A validly signed event with pointers of the wrong kind is an error, not a crash", "[client][log][hostile]") {
  World w;
  LogVerifier v;
  REQUIRE(replay(v, w.log.entries));
  // A Challenge laid over a LogEvent: its serverTimeMs sits where the union
  // discriminant is (register), its hubId text where the Register struct is.
  capnp::MallocMessageBuilder m;
  auto c = m.initRoot<wire::Challenge>();
  c.setServerTimeMs(static_cast<std::int64_t>(wire::LogEvent::REGISTER));
  c.setHubId("not a struct");
  protocol::SignedEvent e = protocol::signLogEvent(m, w.admin.identity.secretKey);
  auto entry = w.log.next("admin", w.admin.identity.publicKey, e);
  CHECK_FALSE(v.append(entry));
  std::vector<LogEntryRecord> many(w.log.entries);
  for (int i = 0; i < 70; ++i) many.push_back(w.log.entries[1]);  // forces the threaded path
  many[4] = entry;
  LogVerifier fresh;
  auto r = fresh.appendAll(many, 2);
  REQUIRE(!r);
  CHECK_THAT(r.error(), Catch::Contains("log entry 4"));
}

TEST_CASE("the log verifier accepts a hub-signed recordApproved and refuses one by anyone else",
          "[client][log][consensus]") {
  World w;
  w.log.add(w.log.hubId, w.log.hub.publicKey, recordApproved(w.log.hub.secretKey, {"my-bob", "sg-alice"}, {"my-bob"}));
  LogVerifier v;
  REQUIRE(replay(v, w.log.entries));
  REQUIRE(v.checkHead(w.log.head()));

  SECTION("signed by an admin") {
    World w2;
    w2.log.add("admin", w2.admin.identity.publicKey, recordApproved(w2.admin.identity.secretKey, {}));
    LogVerifier v2;
    auto r = replay(v2, w2.log.entries);
    REQUIRE_FALSE(r);
    CHECK(r.error().find("hub key") != std::string::npos);
  }
  SECTION("malformed lists") {
    World w3;
    w3.log.add(w3.log.hubId, w3.log.hub.publicKey, recordApproved(w3.log.hub.secretKey, {"sg-alice", "my-bob"}));
    LogVerifier v3;
    CHECK_FALSE(replay(v3, w3.log.entries));
  }
}

TEST_CASE("the log verifier re-verifies the approvals inside an admission", "[client][log][consensus]") {
  // World: admin (SG, secretariat: not a point of contact), sg-alice (SG
  // law enforcement), my-bob (MY law enforcement). Required: SG and MY.
  World w;
  crypto::MemberKeys sg2 = crypto::MemberKeys::generate("sg-carol", T0);
  w.log.add("admin", w.admin.identity.publicKey,
            registration({"sg-carol", "SG", wire::Institution::POLICY_SECURITY}, sg2.publicKeys(), w.admin.identity.secretKey));
  crypto::MemberKeys panel = crypto::MemberKeys::generate("acme-labs", T0);
  protocol::AdmissionDraft d;
  d.memberId = "acme-labs";
  d.name = "ACME";
  d.state = "";
  d.institution = wire::Institution::RESOURCE_PANEL;
  d.keys = panel.publicKeys();
  const auto proposal = protocol::makeAdmissionProposal(d, w.admin, T0, T0 + 86'400'000);
  const auto bySg = protocol::makeDecision(proposal.body, true, w.alice, T0);
  const auto bySg2 = protocol::makeDecision(proposal.body, true, sg2, T0);
  const auto byMy = protocol::makeDecision(proposal.body, true, w.bob, T0);
  const auto byAdmin = protocol::makeDecision(proposal.body, true, w.admin, T0);
  const auto myRejects = protocol::makeDecision(proposal.body, false, w.bob, T0);

  auto verdict = [&](const std::vector<protocol::SignedRecordBytes>& approvals) {
    auto entries = w.log.entries;
    entries.push_back(w.log.next(w.log.hubId, w.log.hub.publicKey, adoption(true, w.log.hub.secretKey, proposal, approvals)));
    LogVerifier v;
    return replay(v, entries);
  };
  SECTION("one approval per required state: admitted") {
    auto r = verdict({bySg, byMy});
    REQUIRE(r);
  }
  SECTION("two points of contact of one state are not two states") {
    auto r = verdict({bySg, bySg2});
    REQUIRE_FALSE(r);
    CHECK(r.error().find("approves twice") != std::string::npos);
  }
  SECTION("a missing state") {
    auto r = verdict({bySg});
    REQUIRE_FALSE(r);
    CHECK(r.error().find("MY has not approved") != std::string::npos);
  }
  SECTION("an approval by a member who is not a point of contact of a member state") {
    auto r = verdict({bySg, byMy, byAdmin});
    REQUIRE_FALSE(r);
    CHECK(r.error().find("not an active point of contact") != std::string::npos);
  }
  SECTION("a rejection passed off as an approval") {
    auto r = verdict({bySg, myRejects});
    REQUIRE_FALSE(r);
    CHECK(r.error().find("rejection") != std::string::npos);
  }
}

// ---- a resource-panel admission limited to named meetings (PROTOCOL.md §12.5) ----

namespace {

crypto::BulletinId meetingNo(std::uint8_t n) { return crypto::BulletinId::fromBytes(crypto::Bytes(16, n)).value(); }

// `proposal` with Proposal.meetings replaced by `ids` (raw bytes, any
// order or length), signed again by `signer`, or, with no signer, keeping
// the original signature: what a hub that edits the list would produce.
protocol::SignedRecordBytes withMeetings(const protocol::SignedRecordBytes& proposal, const std::vector<crypto::Bytes>& ids,
                                         const crypto::MemberKeys* signer) {
  auto parsed = protocol::decode<wire::Proposal>(proposal.body);
  REQUIRE(parsed);
  capnp::MallocMessageBuilder m;
  m.setRoot(parsed->root());
  auto list = m.getRoot<wire::Proposal>().initMeetings(static_cast<unsigned>(ids.size()));
  for (unsigned i = 0; i < ids.size(); ++i) list.set(i, protocol::kjBytes(ids[i]));
  if (signer != nullptr) return protocol::signRecord(protocol::context::Proposal, m, signer->identity.secretKey);
  return protocol::SignedRecordBytes{protocol::toBytes(m), proposal.signature};
}

struct PanelAdmission {
  World w;
  crypto::MemberKeys panel = crypto::MemberKeys::generate("acme-labs", T0);
  protocol::AdmissionDraft draft() const {
    protocol::AdmissionDraft d;
    d.memberId = "acme-labs";
    d.name = "ACME";
    d.institution = wire::Institution::RESOURCE_PANEL;
    d.keys = panel.publicKeys();
    return d;
  }
  // The log with the admission of `proposal`, approved by SG and MY.
  Expected<Ok, std::string> admit(const protocol::SignedRecordBytes& proposal, LogVerifier& v) {
    const auto bySg = protocol::makeDecision(proposal.body, true, w.alice, T0);
    const auto byMy = protocol::makeDecision(proposal.body, true, w.bob, T0);
    auto entries = w.log.entries;
    entries.push_back(w.log.next(w.log.hubId, w.log.hub.publicKey, adoption(true, w.log.hub.secretKey, proposal, {bySg, byMy})));
    return replay(v, entries);
  }
  static const client::MemberRecord* find(const std::vector<client::MemberRecord>& records, const std::string& id) {
    for (const auto& r : records) {
      if (r.id == id) return &r;
    }
    return nullptr;
  }
};

}  // namespace

TEST_CASE("An admission limited to named meetings puts the limit in every verifier's directory",
          "[client][log][consensus][meetings]") {
  PanelAdmission p;
  auto d = p.draft();
  d.meetings = {meetingNo(9), meetingNo(3), meetingNo(9)};  // signed sorted and unique
  const auto proposal = protocol::makeAdmissionProposal(d, p.w.admin, T0, T0 + 86'400'000);
  LogVerifier v;
  REQUIRE(p.admit(proposal, v));
  const auto records = v.records();
  const auto* acme = PanelAdmission::find(records, "acme-labs");
  REQUIRE(acme != nullptr);
  CHECK(acme->meetings == std::vector<crypto::BulletinId>{meetingNo(3), meetingNo(9)});
  CHECK(acme->admittedTo(meetingNo(9)));
  CHECK_FALSE(acme->admittedTo(meetingNo(4)));

  // Group addresses skip it; named, it is reached only by a paper of its meetings.
  std::vector<protocol::MemberView> views;
  for (const auto& r : records) {
    views.push_back({r.id, r.state, r.institution, false, r.meetings});
  }
  struct Views final : protocol::MemberSource {
    const std::vector<protocol::MemberView>& all;
    explicit Views(const std::vector<protocol::MemberView>& a) : all(a) {}
    void forEach(const std::function<void(const protocol::MemberView&)>& f) const override {
      for (const auto& m : all) f(m);
    }
    std::optional<protocol::MemberView> find(std::string_view id) const override {
      for (const auto& m : all) {
        if (m.id == id) return m;
      }
      return std::nullopt;
    }
  } source(views);
  for (const char* group : {"resource-panel", "all"}) {
    const std::vector<protocol::Address> a{*protocol::parseAddress(group)};
    const auto r = protocol::resolve(source, a, "my-bob");
    CHECK(r.reached.count("acme-labs") == 0);
    CHECK_FALSE(protocol::checkMeetingLimit(r, std::nullopt));
  }
  const std::vector<protocol::Address> named{*protocol::parseAddress("acme-labs")};
  const auto r = protocol::resolve(source, named, "my-bob");
  REQUIRE(r.reached.count("acme-labs") == 1);
  CHECK_FALSE(protocol::checkMeetingLimit(r, meetingNo(3)));
  const auto outside = protocol::checkMeetingLimit(r, meetingNo(4));
  REQUIRE(outside);
  CHECK_THAT(*outside, Catch::Contains("meeting limit rule") && Catch::Contains("'acme-labs'"));
  CHECK(protocol::checkMeetingLimit(r, std::nullopt));
}

TEST_CASE("A forged meetings list in an admission entry fails client verification",
          "[client][log][consensus][meetings][hostile]") {
  PanelAdmission p;
  auto d = p.draft();
  d.meetings = {meetingNo(3)};
  const auto honest = protocol::makeAdmissionProposal(d, p.w.admin, T0, T0 + 86'400'000);
  LogVerifier ok;
  REQUIRE(p.admit(honest, ok));

  SECTION("the hub widens the list and keeps the proposer's signature") {
    LogVerifier v;
    auto r = p.admit(withMeetings(honest, {crypto::Bytes(16, 3), crypto::Bytes(16, 4)}, nullptr), v);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains("admission") && Catch::Contains("does not verify"));
  }
  SECTION("the hub drops the list, so the member would be unlimited") {
    LogVerifier v;
    auto r = p.admit(withMeetings(honest, {}, nullptr), v);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains("does not verify"));
  }
  SECTION("the proposer signs another list than the states approved") {
    const auto other = withMeetings(honest, {crypto::Bytes(16, 4)}, &p.w.admin);
    const auto bySg = protocol::makeDecision(honest.body, true, p.w.alice, T0);
    const auto byMy = protocol::makeDecision(honest.body, true, p.w.bob, T0);
    auto entries = p.w.log.entries;
    entries.push_back(p.w.log.next(p.w.log.hubId, p.w.log.hub.publicKey,
                                   adoption(true, p.w.log.hub.secretKey, other, {bySg, byMy})));
    LogVerifier v;
    auto r = replay(v, entries);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains("for another proposal"));
  }
  SECTION("a list out of order, with a short id, or too long, even if signed and approved") {
    const std::vector<std::vector<crypto::Bytes>> bad{
        {crypto::Bytes(16, 4), crypto::Bytes(16, 3)},
        {crypto::Bytes(16, 3), crypto::Bytes(16, 3)},
        {crypto::Bytes(15, 3)},
        std::vector<crypto::Bytes>(protocol::MaxAdmissionMeetings + 1, crypto::Bytes(16, 3))};
    for (const auto& ids : bad) {
      LogVerifier v;
      auto r = p.admit(withMeetings(honest, ids, &p.w.admin), v);
      REQUIRE_FALSE(r);
      CHECK_THAT(r.error(), Catch::Contains("admission"));
    }
  }
  SECTION("meetings on an admission that is not of a resource-panel member") {
    auto partner = p.draft();
    partner.institution = wire::Institution::DIALOGUE_PARTNER;
    const auto plain = protocol::makeAdmissionProposal(partner, p.w.admin, T0, T0 + 86'400'000);
    LogVerifier v;
    auto r = p.admit(withMeetings(plain, {crypto::Bytes(16, 3)}, &p.w.admin), v);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains("only the admission of a resource-panel member names meetings"));
  }
}

// Proposal.meetings is a pointer appended after the existing ones; an
// admission proposal encoded before it existed has three pointers and no
// fourth. Its bytes (stored in the log as they were signed, never
// re-encoded) still verify, and the member reads as not limited.
TEST_CASE("An admission proposal encoded before Proposal.meetings existed still verifies",
          "[client][log][consensus][meetings]") {
  PanelAdmission p;
  const auto current = protocol::makeAdmissionProposal(p.draft(), p.w.admin, T0, T0 + 86'400'000);
  auto parsed = protocol::decode<wire::Proposal>(current.body);
  REQUIRE(parsed);
  // The canonical form drops the trailing null pointer: exactly the struct
  // the schema before the field wrote (three pointers: id, proposer, union).
  auto canonical = capnp::AnyStruct::Reader(parsed->root()).canonicalize();
  crypto::Bytes oldBody(8, 0);
  const auto words = static_cast<std::uint32_t>(canonical.size());
  for (int i = 0; i < 4; ++i) oldBody[4 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(words >> (8 * i));
  const auto raw = canonical.asBytes();
  oldBody.insert(oldBody.end(), raw.begin(), raw.end());
  auto old = protocol::decode<wire::Proposal>(oldBody);
  REQUIRE(old);
  CHECK(capnp::AnyStruct::Reader(old->root()).getPointerSection().size() == 3);
  CHECK(capnp::AnyStruct::Reader(parsed->root()).getPointerSection().size() == 4);
  CHECK_FALSE(old->root().hasMeetings());
  const protocol::SignedRecordBytes oldProposal{oldBody, crypto::sign(protocol::context::Proposal, oldBody, p.w.admin.identity.secretKey)};
  LogVerifier v;
  REQUIRE(p.admit(oldProposal, v));
  const auto records = v.records();
  const auto* acme = PanelAdmission::find(records, "acme-labs");
  REQUIRE(acme != nullptr);
  CHECK_FALSE(acme->meetingLimited());
}

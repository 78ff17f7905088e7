// The working group's rules (issue 5), end to end against a real focald:
// addresses checked against the directory, the TLP 2.0 first-send and
// forwarding table of DESIGN.md §8, H2 permissions, forged forward records
// (refused by the hub, and by the receiving client when a hub serves them
// anyway), retractions reaching every recipient, replies and threads,
// export refusals, and the law-enforcement markings on read.
//
// Every refusal is checked for its typed error code AND for a message that
// names the rule and the recipient or address concerned. (No semicolons in
// test names: catch_discover_tests splits on them.)
#include "hub_fixture.hpp"

#include "client/address_resolver.hpp"
#include "client/bulletin_reader.hpp"
#include "client/client_error.hpp"
#include "client/key_directory.hpp"
#include "crypto/primitives.hpp"
#include "protocol/records.hpp"
#include "protocol/signing.hpp"
#include "server/sqlite.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <functional>
#include <sstream>

using namespace focal;
using namespace focal::test;
using nlohmann::json;
using Catch::Matchers::Contains;
namespace sq = focal::server::sqlite;

namespace {

using Inst = wire::Institution;

// A hub with points of contact of two institutions of SG, one each of MY
// and TH, a dialogue partner and a resource-panel expert (all with key
// files, so the CLI can act as any of them). Admin: "admin", no state.
struct Group {
  // Default limits: each CLI command is one connection, released when it closes.
  Hub hub;
  TempDir home;
  TestMember sgLe = hub.createMember("sg-le", "SG", Inst::LAW_ENFORCEMENT, true);
  TestMember sgLe2 = hub.createMember("sg-le2", "SG", Inst::LAW_ENFORCEMENT, true);
  TestMember sgPs = hub.createMember("sg-ps", "SG", Inst::POLICY_SECURITY, true);
  TestMember myLe = hub.createMember("my-le", "MY", Inst::LAW_ENFORCEMENT, true);
  TestMember thLe = hub.createMember("th-le", "TH", Inst::LAW_ENFORCEMENT, true);
  TestMember partner = hub.createMember("us-partner", "", Inst::DIALOGUE_PARTNER, true);
  // Admitted by consensus, as the log requires of the resource panel.
  TestMember panel =
      hub.admitByConsensus("rp-expert", Inst::RESOURCE_PANEL, {&sgLe.keys, &myLe.keys, &thLe.keys}, true);

  // The CLI as `m`, --json; expects exit `expected`, returns the document.
  json cli(const TestMember& m, const std::vector<std::string>& args, int expected = 0,
           const std::optional<std::string>& stdinText = std::nullopt) {
    auto r = runCli(concat(concat(hub.cliGlobals(m.keyFile, home.path() / m.id()), {"--json"}), args), stdinText);
    INFO("focal " << args.front() << " as " << m.id() << " -> exit " << r.exitCode << "\nstdout: " << r.out
                  << "\nstderr: " << r.err);
    REQUIRE(r.exitCode == expected);
    json j;
    REQUIRE_NOTHROW(j = json::parse(r.out));
    return j;
  }
  // The CLI as `m` in text mode.
  ProcessResult text(const TestMember& m, const std::vector<std::string>& args) {
    return runCli(concat(hub.cliGlobals(m.keyFile, home.path() / m.id()), args));
  }
};

// A sealed bulletin and its content key (which a forwarder would hold after
// opening it).
struct Sealed {
  protocol::SealedBulletin bulletin;
  crypto::ContentKey key;
  std::string hexId() const { return crypto::toHex(bulletin.id); }
};

// `focal send` arguments: a bulletin of `category` to `to` (CLI addresses)
// at `tlp` (CLI spelling), titled `title`, then `more` options (markings).
std::vector<std::string> sendArgs(const std::string& to, const std::string& tlp, const std::string& title,
                                  const std::string& body = "b", const std::vector<std::string>& more = {},
                                  const std::string& category = "alert") {
  return concat({"send", "--to", to, "--tlp", tlp, "--category", category, "--title", title, "--body", body}, more);
}

// What the directory gives for `addresses`, as the CLI resolves it.
std::vector<protocol::RecipientKey> resolved(client::Connection& c, const std::vector<std::string>& addresses,
                                            const std::string& senderId) {
  auto dir = client::HubDirectory::fetch(c);
  auto r = client::resolveAddresses(dir, addresses, senderId);
  INFO((r ? std::string() : r.error()));
  REQUIRE(r);
  return std::move(r).value();
}

// Seals for exactly `recipients` under `addresses` (which need not match:
// the hub is the one that checks).
Sealed sealFor(const TestMember& from, const std::vector<std::string>& addresses,
               std::vector<protocol::RecipientKey> recipients, wire::Tlp tlp,
               const std::function<void(protocol::BulletinDraft&)>& tweak = {}) {
  protocol::BulletinDraft d;
  d.hubId = "focal-hub";  // the test hub (seal v2 binds its id)
  d.tlp = tlp;
  d.category = wire::Category::ALERT;
  d.title = "rules test";
  d.body = "the body";
  d.addresses = addresses;
  d.recipients = std::move(recipients);
  std::sort(d.recipients.begin(), d.recipients.end(),
            [](const auto& a, const auto& b) { return a.memberId < b.memberId; });
  if (tweak) tweak(d);
  Sealed s{{}, crypto::ContentKey::random()};
  auto sealed = protocol::sealBulletin(d, from.keys, s.key, nowMs());
  INFO((sealed ? "" : protocol::describe(sealed.error())));
  REQUIRE(sealed);
  s.bulletin = std::move(sealed).value();
  return s;
}

// Seals for what the directory gives for `addresses`.
Sealed sealTo(client::Connection& c, const TestMember& from, const std::vector<std::string>& addresses, wire::Tlp tlp,
              const std::function<void(protocol::BulletinDraft&)>& tweak = {}) {
  return sealFor(from, addresses, resolved(c, addresses, from.id()), tlp, tweak);
}

// Seals for what the directory gives for `addresses` and sends it over `c`.
Sealed sent(client::Connection& c, const TestMember& from, const std::vector<std::string>& addresses, wire::Tlp tlp) {
  auto s = sealTo(c, from, addresses, tlp);
  c.send(s.bulletin);
  return s;
}

// `f` must throw the hub's refusal `code` with a message containing every
// one of `parts`.
void refused(const std::function<void()>& f, wire::ErrorCode code, const std::vector<std::string>& parts) {
  try {
    f();
  } catch (const client::HubError& e) {
    INFO("refusal: " << e.codeName() << ": " << e.hubMessage());
    CHECK(e.code() == code);
    for (const auto& p : parts) CHECK_THAT(e.hubMessage(), Contains(p));
    return;
  }
  FAIL("the hub accepted what it should have refused");
}

// `s` sent over `c` must be refused with `code` and a message containing
// every one of `parts`.
void sendRefused(client::Connection& c, const Sealed& s, wire::ErrorCode code, const std::vector<std::string>& parts) {
  refused([&] { c.send(s.bulletin); }, code, parts);
}

// `from`'s first send to `addresses` at `tlp`, on a session of its own, must
// be refused by the first-send rule (policyDenied) with a message
// containing every one of `parts`.
void firstSendRefused(const Hub& hub, const TestMember& from, const std::vector<std::string>& addresses, wire::Tlp tlp,
                      const std::vector<std::string>& parts) {
  auto c = hub.connect(from.keys);
  sendRefused(*c, sealTo(*c, from, addresses, tlp), wire::ErrorCode::POLICY_DENIED, parts);
}

// A --json CLI refusal: error code and message parts.
void cliRefused(const json& j, const std::string& code, const std::vector<std::string>& parts) {
  INFO(j.dump());
  CHECK(j.at("error").at("code") == code);
  for (const auto& p : parts) CHECK_THAT(j.at("error").at("message").get<std::string>(), Contains(p));
}

// A forward record of `original` by `forwarder` for what `addresses`
// resolve to, built and signed as `focal forward` does.
protocol::SignedRecordBytes forwardOf(client::Connection& c, const Sealed& original, const TestMember& forwarder,
                                      const std::vector<std::string>& addresses) {
  protocol::ForwardDraft d;
  d.originalHeader = original.bulletin.header;
  d.contentKey = &original.key;
  d.addresses = addresses;
  d.recipients = resolved(c, addresses, forwarder.id());
  auto r = protocol::makeForward(d, forwarder.keys, nowMs());
  REQUIRE(r);
  return std::move(r).value();
}

// `record` with fields changed by `mutate`, re-signed with `signer`.
protocol::SignedRecordBytes reforged(const protocol::SignedRecordBytes& record, const crypto::SigningSecretKey& signer,
                                     const std::function<void(wire::ForwardRecord::Builder)>& mutate) {
  auto parsed = protocol::decode<wire::ForwardRecord>(record.body);
  REQUIRE(parsed);
  capnp::MallocMessageBuilder b;
  b.setRoot(parsed->root());
  mutate(b.getRoot<wire::ForwardRecord>());
  return protocol::signRecord(protocol::context::Forward, b, signer);
}

// my-le's bulletin `b` of `tlp` to sg-le and a second one, `other`, sent
// over `mc`; and sg-le's forward record of `b` to `to`, valid and not sent:
// what the forged-forward cases alter.
struct ForwardCase {
  Sealed b;
  Sealed other;
  protocol::SignedRecordBytes good;
};
ForwardCase forwardCase(const Group& g, client::Connection& mc, client::Connection& sc, wire::Tlp tlp,
                        const std::vector<std::string>& to) {
  auto b = sent(mc, g.myLe, {"sg-le"}, tlp);
  auto other = sent(mc, g.myLe, {"sg-le"}, tlp);
  auto good = forwardOf(sc, b, g.sgLe, to);
  return ForwardCase{std::move(b), std::move(other), std::move(good)};
}

// The queued delivery of `id` for the connection's member (the first one).
std::optional<client::Delivery> queued(client::Connection& c, const crypto::BulletinId& id, bool retraction = false) {
  for (auto& d : c.fetch(0).items) {
    auto claimed = d.bulletin.claimedId();
    if (claimed && *claimed == id && d.retraction.has_value() == retraction) return std::move(d);
  }
  return std::nullopt;
}

void withDatabase(const Hub& hub, const std::function<void(sq::Database&)>& f) {
  auto db = sq::Database::open(hub.database(), sq::Database::Mode::ReadWrite);
  f(db);
}

}  // namespace

// ---- first send: TLP and addresses ----------------------------------------------------------

TEST_CASE("RED to a member-state address is refused naming the rule and the address, RED to named members is accepted",
          "[integration][rules]") {
  Group g;
  firstSendRefused(g.hub, g.sgLe, {"state:MY"}, wire::Tlp::RED,
                   {"TLP:RED rule", "only individually named members", "'state:MY'"});
  // Mixed with a named member, the group address is still refused.
  firstSendRefused(g.hub, g.sgLe, {"th-le", "members"}, wire::Tlp::RED, {"TLP:RED rule", "'members'"});
  // The CLI shows the hub's refusal as it is (exit 2).
  auto cliState = g.cli(g.sgLe, sendArgs("state:MY", "red", "t"), 2);
  cliRefused(cliState, "policy-denied", {"TLP:RED rule", "'state:MY'"});

  // Named members: accepted, and readable by them as RED.
  auto named = g.cli(g.sgLe, sendArgs("my-le,th-le", "red", "named only"));
  CHECK(named.at("recipient_ids") == json::array({"my-le", "th-le"}));
  auto read = g.cli(g.myLe, {"read", named.at("bulletin_id")});
  CHECK(read.at("tlp") == "TLP:RED");
  CHECK(read.at("addresses") == json::array({"my-le", "th-le"}));
}

TEST_CASE("AMBER to a dialogue partner through 'all' or 'partners' is refused naming the partner, named individually "
          "it is accepted",
          "[integration][rules]") {
  Group g;
  auto c = g.hub.connect(g.myLe.keys);
  for (auto tlp : {wire::Tlp::AMBER, wire::Tlp::AMBER_STRICT}) {
    const std::string label = tlp == wire::Tlp::AMBER ? "TLP:AMBER rule" : "TLP:AMBER+STRICT rule";
    // Both outsiders are reached through 'all'; the refusal names the first
    // by member id (rp-expert), so the partner is checked through 'partners'.
    firstSendRefused(g.hub, g.myLe, {"all"}, tlp, {label, "only when named individually", "'rp-expert'", "'all'"});
    firstSendRefused(g.hub, g.myLe, {"partners"}, tlp, {label, "dialogue-partner member 'us-partner'", "'partners'"});
  }
  // 'all' plus both outsiders named: each is named, so allowed.
  auto allNamed = sealTo(*c, g.myLe, {"all", "us-partner", "rp-expert"}, wire::Tlp::AMBER);
  CHECK_NOTHROW(c->send(allNamed.bulletin));
  auto partnerNamed = g.cli(g.myLe, sendArgs("us-partner", "amber", "for the partner"));
  CHECK(partnerNamed.at("recipient_ids") == json::array({"us-partner"}));
  CHECK(g.cli(g.partner, {"read", partnerNamed.at("bulletin_id")}).at("tlp") == "TLP:AMBER");
  // GREEN through 'all' reaches the partner: the restriction is AMBER's.
  auto green = sealTo(*c, g.myLe, {"all"}, wire::Tlp::GREEN);
  CHECK_NOTHROW(c->send(green.bulletin));
  CHECK(queued(*g.hub.connect(g.partner.keys), green.bulletin.id).has_value());
}

TEST_CASE("AMBER to the resource panel as a group is refused naming the expert, named individually it is accepted",
          "[integration][rules]") {
  Group g;
  auto c = g.hub.connect(g.sgLe.keys);
  firstSendRefused(g.hub, g.sgLe, {"resource-panel"}, wire::Tlp::AMBER,
                   {"TLP:AMBER rule", "resource-panel member 'rp-expert'", "'resource-panel'"});
  auto cli = g.cli(g.sgLe, sendArgs("resource-panel", "amber+strict", "t"), 2);
  cliRefused(cli, "policy-denied", {"TLP:AMBER+STRICT rule", "'rp-expert'", "'resource-panel'"});
  // RED to the group falls to RED's own rule.
  firstSendRefused(g.hub, g.sgLe, {"resource-panel"}, wire::Tlp::RED, {"TLP:RED rule", "'resource-panel'"});

  auto named = sealTo(*c, g.sgLe, {"rp-expert"}, wire::Tlp::AMBER);
  CHECK_NOTHROW(c->send(named.bulletin));
  auto pc = g.hub.connect(g.panel.keys);
  auto d = queued(*pc, named.bulletin.id);
  REQUIRE(d);
  auto dir = client::HubDirectory::fetch(*pc);
  auto opened = client::openReceived(d->bulletin, dir, g.panel.keys);
  REQUIRE(opened);
  CHECK(opened->tlp == wire::Tlp::AMBER);
}

TEST_CASE("A recipient list that differs from what the directory gives for the addresses is refused naming the "
          "difference",
          "[integration][rules]") {
  Group g;
  auto c = g.hub.connect(g.myLe.keys);
  auto full = resolved(*c, {"state:SG"}, g.myLe.id());
  REQUIRE(full.size() == 3);  // sg-le, sg-le2, sg-ps

  // A recipient missing (sg-ps left out, as a client with a stale directory would).
  auto missing = full;
  missing.erase(std::remove_if(missing.begin(), missing.end(), [](const auto& r) { return r.memberId == "sg-ps"; }),
                missing.end());
  sendRefused(*c, sealFor(g.myLe, {"state:SG"}, missing, wire::Tlp::GREEN), wire::ErrorCode::POLICY_DENIED,
              {"do not match what the directory gives", "addressed but missing: sg-ps"});

  // An extra recipient nobody addressed.
  auto extra = full;
  extra.push_back(resolved(*c, {"th-le"}, g.myLe.id()).front());
  sendRefused(*c, sealFor(g.myLe, {"state:SG"}, extra, wire::Tlp::GREEN), wire::ErrorCode::POLICY_DENIED,
              {"listed but not addressed: th-le"});

  // Both at once.
  auto both = missing;
  both.push_back(resolved(*c, {"th-le"}, g.myLe.id()).front());
  sendRefused(*c, sealFor(g.myLe, {"state:SG"}, both, wire::Tlp::GREEN), wire::ErrorCode::POLICY_DENIED,
              {"addressed but missing: sg-ps", "listed but not addressed: th-le"});

  // Group addresses never include the sender: listing yourself under a group is extra.
  auto self = resolved(*c, {"state:MY", "th-le"}, g.myLe.id());
  REQUIRE(self.size() == 1);
  self.push_back(resolved(*c, {"my-le"}, g.myLe.id()).front());
  sendRefused(*c, sealFor(g.myLe, {"state:MY", "th-le"}, self, wire::Tlp::GREEN), wire::ErrorCode::POLICY_DENIED,
              {"listed but not addressed: my-le"});

  // Unknown member ids and non-canonical addresses are refused before matching.
  sendRefused(*c, sealFor(g.myLe, {"nobody-here"}, full, wire::Tlp::GREEN), wire::ErrorCode::UNKNOWN_RECIPIENT,
              {"nobody-here"});
  sendRefused(*c, sealFor(g.myLe, {"state:sg"}, full, wire::Tlp::GREEN), wire::ErrorCode::INVALID_REQUEST,
              {"'state:sg'"});

  // The exact resolution is accepted.
  auto ok = sealFor(g.myLe, {"state:SG"}, full, wire::Tlp::GREEN);
  CHECK_NOTHROW(c->send(ok.bulletin));
}

// ---- forwarding ---------------------------------------------------------------------------

TEST_CASE("AMBER is forwarded within the forwarder's own member state and refused outside it", "[integration][rules]") {
  Group g;
  const std::string id = g.cli(g.myLe, sendArgs("sg-le", "amber", "to forward", "forward me")).at("bulletin_id");

  // sg-le (SG) forwards to sg-ps (SG, another institution): accepted.
  auto fwd = g.cli(g.sgLe, {"forward", id, "--to", "sg-ps"});
  CHECK(fwd.at("recipient_ids") == json::array({"sg-ps"}));
  auto read = g.cli(g.sgPs, {"read", id});
  CHECK(read.at("verified") == true);
  CHECK(read.at("sender").at("member_id") == "my-le");  // the original signature, verified by the new recipient
  CHECK(read.at("forwarded_by_id") == "sg-le");
  CHECK(read.at("body") == "forward me");
  auto text = g.text(g.sgPs, {"read", id});
  CHECK_THAT(text.out, Contains("Forwarded: by sg-le"));

  // Outside SG: refused, naming the rule and the recipient.
  auto outside = g.cli(g.sgLe, {"forward", id, "--to", "th-le"}, 2);
  cliRefused(outside, "policy-denied", {"TLP:AMBER forwarding rule", "own member state (SG)", "'th-le'"});
  // A group that reaches outside SG: refused too (the first outsider is named).
  auto group = g.cli(g.sgLe, {"forward", id, "--to", "members"}, 2);
  cliRefused(group, "policy-denied", {"TLP:AMBER forwarding rule", "'my-le'"});
  // A partner with no member state cannot forward AMBER anywhere.
  auto pc = g.hub.connect(g.partner.keys);
  auto mc = g.hub.connect(g.myLe.keys);
  auto toPartner = sent(*mc, g.myLe, {"us-partner"}, wire::Tlp::AMBER);
  refused([&] { pc->forward(forwardOf(*pc, toPartner, g.partner, {"sg-le"})); }, wire::ErrorCode::POLICY_DENIED,
          {"TLP:AMBER forwarding rule", "'us-partner' has none", "'sg-le'"});
  // GREEN goes anywhere in the community.
  auto green = sent(*mc, g.myLe, {"sg-le"}, wire::Tlp::GREEN);
  auto sc = g.hub.connect(g.sgLe.keys);
  CHECK_NOTHROW(sc->forward(forwardOf(*sc, green, g.sgLe, {"us-partner", "th-le"})));
}

TEST_CASE("A forward to a group that overlaps the recipients reaches only the members who did not have it",
          "[integration][rules]") {
  Group g;
  const std::string id = g.cli(g.myLe, sendArgs("sg-le,sg-le2", "amber", "for SG")).at("bulletin_id");
  const auto bid = *crypto::BulletinId::fromBytes(*crypto::fromHex(id));
  // state:SG (for sg-le) resolves to sg-le2 and sg-ps; sg-le2 already has it.
  auto fwd = g.cli(g.sgLe, {"forward", id, "--to", "state:SG"});
  CHECK(fwd.at("recipient_ids") == json::array({"sg-le2", "sg-ps"}));
  CHECK(g.cli(g.sgPs, {"read", id}).at("forwarded_by_id") == "sg-le");
  // sg-le2 holds it once, as an original recipient.
  auto c2 = g.hub.connect(g.sgLe2.keys);
  std::size_t entries = 0;
  for (const auto& d : c2->fetch(0).items) {
    auto claimed = d.bulletin.claimedId();
    if (claimed && *claimed == bid) {
      ++entries;
      CHECK_FALSE(d.forward.has_value());
    }
  }
  CHECK(entries == 1);
  // Forwarding to the same group again reaches nobody new.
  cliRefused(g.cli(g.sgLe, {"forward", id, "--to", "state:SG"}, 2), "invalid-request", {"already received"});
}

TEST_CASE("AMBER+STRICT is forwarded within the forwarder's institution and refused outside it",
          "[integration][rules]") {
  Group g;
  auto mc = g.hub.connect(g.myLe.keys);
  auto sc = g.hub.connect(g.sgLe.keys);
  auto b = sent(*mc, g.myLe, {"sg-le"}, wire::Tlp::AMBER_STRICT);

  // Same state, other institution.
  refused([&] { sc->forward(forwardOf(*sc, b, g.sgLe, {"sg-ps"})); }, wire::ErrorCode::POLICY_DENIED,
          {"TLP:AMBER+STRICT forwarding rule", "own institution (SG law-enforcement)", "'sg-ps' is SG policy-security"});
  // Same institution kind, other state.
  refused([&] { sc->forward(forwardOf(*sc, b, g.sgLe, {"th-le"})); }, wire::ErrorCode::POLICY_DENIED,
          {"TLP:AMBER+STRICT forwarding rule", "'th-le' is TH law-enforcement"});
  // Same state and institution: accepted, through the CLI as well.
  auto ok = g.cli(g.sgLe, {"forward", b.hexId(), "--to", "sg-le2"});
  CHECK(ok.at("recipient_ids") == json::array({"sg-le2"}));
  CHECK(g.cli(g.sgLe2, {"read", b.hexId()}).at("tlp") == "TLP:AMBER+STRICT");
}

TEST_CASE("RED is never forwarded", "[integration][rules]") {
  Group g;
  auto mc = g.hub.connect(g.myLe.keys);
  auto sc = g.hub.connect(g.sgLe.keys);
  auto b = sent(*mc, g.myLe, {"sg-le"}, wire::Tlp::RED);
  refused([&] { sc->forward(forwardOf(*sc, b, g.sgLe, {"sg-le2"})); }, wire::ErrorCode::POLICY_DENIED,
          {"TLP:RED forwarding rule", "'sg-le2'"});
  auto cli = g.cli(g.sgLe, {"forward", b.hexId(), "--to", "sg-le2"}, 2);
  cliRefused(cli, "policy-denied", {"TLP:RED forwarding rule", "'sg-le2'"});
  CHECK_FALSE(queued(*g.hub.connect(g.sgLe2.keys), b.bulletin.id).has_value());
}

TEST_CASE("Forged forward records are refused by the hub", "[integration][rules]") {
  Group g;
  auto mc = g.hub.connect(g.myLe.keys);
  auto sc = g.hub.connect(g.sgLe.keys);
  const auto fw = forwardCase(g, *mc, *sc, wire::Tlp::GREEN, {"th-le"});

  // Signed by a key other than the session's.
  auto badSig = reforged(fw.good, g.sgLe2.keys.identity.secretKey, [](auto) {});
  refused([&] { sc->forward(badSig); }, wire::ErrorCode::BAD_SIGNATURE, {"forward record", "your identity key"});
  // A flipped byte in the signature.
  auto flipped = fw.good;
  flipped.signature.bytes[5] ^= 0x01;
  refused([&] { sc->forward(flipped); }, wire::ErrorCode::BAD_SIGNATURE, {"forward record"});
  // Naming another forwarder (signed with the session's key).
  auto otherForwarder = reforged(fw.good, g.sgLe.keys.identity.secretKey,
                                 [](wire::ForwardRecord::Builder f) { f.setForwarderId("sg-le2"); });
  refused([&] { sc->forward(otherForwarder); }, wire::ErrorCode::FORBIDDEN, {"names its forwarder"});
  // The header hash of another bulletin.
  auto wrongHash = reforged(fw.good, g.sgLe.keys.identity.secretKey, [&](wire::ForwardRecord::Builder f) {
    f.setHeaderHash(protocol::kjBytes(crypto::hash256(fw.other.bulletin.header).view()));
  });
  refused([&] { sc->forward(wrongHash); }, wire::ErrorCode::INVALID_REQUEST, {"headerHash"});
  // A forwarder who is not an original recipient learns nothing about the bulletin.
  auto ec = g.hub.connect(g.sgLe2.keys);
  refused([&] { ec->forward(forwardOf(*ec, fw.b, g.sgLe2, {"th-le"})); }, wire::ErrorCode::NOT_FOUND,
          {"no such bulletin addressed to you"});
  // A forward recipient may not forward again.
  CHECK_NOTHROW(sc->forward(fw.good));
  auto tc = g.hub.connect(g.thLe.keys);
  refused([&] { tc->forward(forwardOf(*tc, fw.b, g.thLe, {"sg-ps"})); }, wire::ErrorCode::POLICY_DENIED,
          {"only original recipients may forward", "my-le"});
  // A forward that reaches nobody new.
  refused([&] { sc->forward(forwardOf(*sc, fw.b, g.sgLe, {"th-le"})); }, wire::ErrorCode::INVALID_REQUEST,
          {"already received", "th-le"});
}

TEST_CASE("A forged forward record served by the hub is refused by the receiving client", "[integration][rules]") {
  Group g;
  auto mc = g.hub.connect(g.myLe.keys);
  auto sc = g.hub.connect(g.sgLe.keys);
  const auto fw = forwardCase(g, *mc, *sc, wire::Tlp::AMBER, {"sg-ps"});
  const auto forwardId = crypto::toHex(sc->forward(fw.good).id);
  // Records the hub itself would refuse, made before it stops.
  auto ec = g.hub.connect(g.sgLe2.keys);
  const auto byNonRecipient = forwardOf(*ec, fw.b, g.sgLe2, {"sg-ps"});
  const auto wrongHash = reforged(fw.good, g.sgLe.keys.identity.secretKey, [&](wire::ForwardRecord::Builder f) {
    f.setHeaderHash(protocol::kjBytes(crypto::hash256(fw.other.bulletin.header).view()));
  });
  auto badSig = fw.good;
  badSig.signature.bytes[0] ^= 0x80;
  // An AMBER forward from SG to TH, validly signed by an original recipient.
  const auto outOfState = forwardOf(*sc, fw.b, g.sgLe, {"th-le"});
  // The originator's own forward is judged by the first-send rule: AMBER
  // through the group address reaches the panel expert, who is not named.
  const auto originatorViaGroup = forwardOf(*mc, fw.b, g.myLe, {"resource-panel"});
  mc.reset();
  sc.reset();
  ec.reset();

  struct Case {
    const char* what;
    const protocol::SignedRecordBytes* record;
    const TestMember* reader;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases{
      {"bad signature", &badSig, &g.sgPs, {"forward record by 'sg-le' refused", "signature does not verify"}},
      {"not an original recipient", &byNonRecipient, &g.sgPs,
       {"forward record by 'sg-le2' refused", "not an original recipient"}},
      {"wrong header hash", &wrongHash, &g.sgPs, {"forward record by 'sg-le' refused", "another bulletin"}},
      {"AMBER outside the state", &outOfState, &g.thLe,
       {"forward record by 'sg-le' refused", "TLP:AMBER forwarding rule", "'th-le'"}},
      {"the originator's AMBER through a group address", &originatorViaGroup, &g.panel,
       {"forward record by 'my-le' refused", "TLP:AMBER rule", "'rp-expert'", "only when named individually"}},
  };
  for (const auto& cs : cases) {
    SECTION(cs.what) {
      g.hub.stop();
      withDatabase(g.hub, [&](sq::Database& db) {
        auto s = db.prepare("UPDATE forwards SET body = ?2, signature = ?3 WHERE id = ?1");
        s->bind(1, crypto::ByteView(*crypto::fromHex(forwardId)))
            .bind(2, crypto::ByteView(cs.record->body))
            .bind(3, cs.record->signature.view());
        s->run();
        if (cs.reader != &g.sgPs) {  // the queue entry moves to the forged record's recipient
          auto pk = cs.reader->keys.encryption.publicKey;
          auto u = db.prepare("UPDATE deliveries SET member_id = ?1, enc_key = ?2 WHERE forward_id = ?3");
          u->bind(1, cs.reader->id()).bind(2, pk.view()).bind(3, crypto::ByteView(*crypto::fromHex(forwardId)));
          u->run();
        }
      });
      g.hub.start();
      auto r = g.cli(*cs.reader, {"read", fw.b.hexId()}, 3);
      cliRefused(r, "verification-failed", cs.parts);
    }
  }
}

TEST_CASE("H2 is forwarded only with the originator's signed permission, and nobody else may permit",
          "[integration][rules]") {
  Group g;
  const std::string id =
      g.cli(g.myLe, sendArgs("sg-le,sg-le2", "amber", "no further dissemination", "b", {"--handling", "H2"}))
          .at("bulletin_id");

  auto without = g.cli(g.sgLe, {"forward", id, "--to", "sg-ps"}, 2);
  cliRefused(without, "policy-denied", {"handling code H2 rule", "my-le has not permitted sg-le"});

  // A recipient cannot permit (itself or anyone).
  auto selfPermit = g.cli(g.sgLe, {"permit", id, "--to", "sg-le"}, 2);
  cliRefused(selfPermit, "forbidden", {"only the originator (my-le)"});
  // Someone who never saw it learns nothing.
  auto stranger = g.cli(g.thLe, {"permit", id, "--to", "sg-le"}, 5);
  cliRefused(stranger, "not-found", {"no such bulletin"});
  // A permission signed by another key than the session's.
  auto sc = g.hub.connect(g.sgLe.keys);
  auto forgedPermission = protocol::makePermission(*crypto::BulletinId::fromBytes(*crypto::fromHex(id)), {"sg-le"},
                                                   g.myLe.keys, nowMs());
  refused([&] { sc->permit(forgedPermission); }, wire::ErrorCode::BAD_SIGNATURE, {"permission"});
  // The originator may permit only original recipients.
  auto notRecipient = g.cli(g.myLe, {"permit", id, "--to", "th-le"}, 2);
  cliRefused(notRecipient, "invalid-request", {"'th-le' is not an original recipient"});

  // The originator's permission for sg-le: sg-le may forward (within AMBER), sg-le2 still may not.
  auto permitted = g.cli(g.myLe, {"permit", id, "--to", "sg-le"});
  CHECK(permitted.at("permitted_ids") == json::array({"sg-le"}));
  auto fwd = g.cli(g.sgLe, {"forward", id, "--to", "sg-ps"});
  CHECK(fwd.at("recipient_ids") == json::array({"sg-ps"}));
  auto read = g.cli(g.sgPs, {"read", id});
  CHECK(read.at("handling") == "H2");
  CHECK(read.at("forwarded_by_id") == "sg-le");
  auto still = g.cli(g.sgLe2, {"forward", id, "--to", "sg-ps"}, 2);
  cliRefused(still, "policy-denied", {"handling code H2 rule", "sg-le2"});
  // The permission does not lift the TLP rule.
  auto outside = g.cli(g.sgLe, {"forward", id, "--to", "th-le"}, 2);
  cliRefused(outside, "policy-denied", {"TLP:AMBER forwarding rule", "'th-le'"});
}

// ---- retraction ---------------------------------------------------------------------------

TEST_CASE("A retraction by anyone but the sender is refused, and the sender's reaches every recipient, acknowledged or "
          "not, and every forward recipient",
          "[integration][rules]") {
  Group g;
  const std::string id = g.cli(g.myLe, sendArgs("sg-le,sg-le2", "amber", "false positive soon")).at("bulletin_id");
  const auto bid = *crypto::BulletinId::fromBytes(*crypto::fromHex(id));
  // sg-le reads and acknowledges it, then forwards it within SG.
  CHECK(g.cli(g.sgLe, {"read", id}).at("retracted") == false);
  g.cli(g.sgLe, {"forward", id, "--to", "sg-ps"});
  CHECK(g.cli(g.sgLe, {"ack", id}).at("removed") == 1);

  // Not the sender: a recipient, a forward recipient, a stranger.
  cliRefused(g.cli(g.sgLe, {"retract", id, "--reason", "mine now"}, 2), "forbidden",
             {"retraction rule", "only the original sender (my-le)"});
  cliRefused(g.cli(g.sgPs, {"retract", id, "--reason", "mine now"}, 2), "forbidden",
             {"retraction rule", "only the original sender (my-le)"});
  cliRefused(g.cli(g.thLe, {"retract", id, "--reason", "x"}, 5), "not-found", {"no such bulletin"});
  // A retraction naming the sender but signed on another member's session.
  auto sc = g.hub.connect(g.sgLe.keys);
  refused([&] { sc->retract(protocol::makeRetraction(bid, "forged", g.myLe.keys, nowMs())); },
          wire::ErrorCode::BAD_SIGNATURE, {"retraction"});
  // Recipients see no retraction yet.
  CHECK_FALSE(queued(*g.hub.connect(g.sgLe2.keys), bid, true).has_value());

  auto retracted = g.cli(g.myLe, {"retract", id, "--reason", "indicators were a test artefact"});
  CHECK(retracted.at("reason") == "indicators were a test artefact");
  // Retracting again with the same reason is idempotent... a different one is a duplicate.
  auto again = g.cli(g.myLe, {"retract", id, "--reason", "another reason"}, 2);
  CHECK(again.at("error").at("code") == "duplicate");

  // Every recipient: sg-le (acknowledged before), sg-le2 (acknowledges now,
  // without having looked: the ack reports the retraction and keeps it),
  // sg-ps (forward recipient).
  CHECK(queued(*g.hub.connect(g.sgLe2.keys), bid, true).has_value());
  auto ack = g.cli(g.sgLe2, {"ack", id});
  REQUIRE(ack.at("retracted").size() == 1);
  CHECK(ack.at("retracted")[0].at("bulletin_id") == id);
  CHECK(ack.at("retracted")[0].at("reason") == "indicators were a test artefact");
  CHECK_FALSE(queued(*g.hub.connect(g.sgLe2.keys), bid, true).has_value());
  for (const auto* m : {&g.sgLe, &g.sgLe2, &g.sgPs}) {
    INFO(m->id());
    if (m != &g.sgLe2) {
      auto c = g.hub.connect(m->keys);
      auto announcement = queued(*c, bid, true);
      REQUIRE(announcement.has_value());
      auto inbox = g.cli(*m, {"inbox"});
      bool marked = false;
      for (const auto& e : inbox) marked = marked || (e.at("bulletin_id") == id && e.value("retracted", false));
      CHECK(marked);
    }
    auto read = g.cli(*m, {"read", id});
    CHECK(read.at("retracted") == true);
    CHECK(read.at("retraction_reason") == "indicators were a test artefact");
    auto text = g.text(*m, {"read", id});
    CHECK_THAT(text.out, Contains("RETRACTED by my-le"));
    CHECK_THAT(text.out, Contains("indicators were a test artefact"));
  }
  // Not to members it never reached.
  CHECK_FALSE(queued(*g.hub.connect(g.thLe.keys), bid, true).has_value());
  // A retracted bulletin is not forwarded further.
  cliRefused(g.cli(g.sgLe2, {"forward", id, "--to", "sg-ps"}, 2), "policy-denied", {"retracted"});
}

TEST_CASE("A retraction and a forward made after their authors rotated their identity keys still verify",
          "[integration][rules]") {
  Group g;
  const std::string id = g.cli(g.myLe, sendArgs("sg-le", "amber", "before the rotations")).at("bulletin_id");
  // The sender and the recipient both replace their identity keys.
  const auto myNew = g.home.path() / "my-le-2.key";
  const auto sgNew = g.home.path() / "sg-le-2.key";
  g.cli(g.myLe, {"rotate-key", "--out", myNew.string(), "--identity", "--kdf", "interactive"});
  CHECK(g.cli(g.sgLe, {"read", id}).at("verified") == true);  // into sg-le's cache, by its old key file
  g.cli(g.sgLe, {"rotate-key", "--out", sgNew.string(), "--identity", "--kdf", "interactive"});
  TestMember myLe2{crypto::MemberKeys::generate("my-le", nowMs()), myNew};
  TestMember sgLe2{crypto::MemberKeys::generate("sg-le", nowMs()), sgNew};

  // The forward is signed with sg-le's new key; the bulletin with my-le's old one.
  g.cli(sgLe2, {"forward", id, "--to", "sg-ps"});
  auto fwd = g.cli(g.sgPs, {"read", id});
  CHECK(fwd.at("forwarded_by_id") == "sg-le");
  // The retraction is signed with my-le's new key (the hub takes it under the session's key).
  g.cli(myLe2, {"retract", id, "--reason", "withdrawn after rotation"});
  for (const auto* m : {&g.sgPs, &sgLe2}) {
    INFO(m->id());
    auto read = g.cli(*m, {"read", id});
    CHECK(read.at("retracted") == true);
    CHECK(read.at("retraction_reason") == "withdrawn after rotation");
    CHECK(read.at("sender").at("fingerprint") == crypto::fingerprint("my-le", g.myLe.keys.identity.publicKey));
  }
}

// ---- replies, threads, export ------------------------------------------------------------

TEST_CASE("Replies carry a signed reference and focal thread shows the thread", "[integration][rules]") {
  Group g;
  const std::string rootId =
      g.cli(g.myLe, sendArgs("sg-le", "green", "Ransomware trend", "seen in MY", {}, "trend")).at("bulletin_id");
  // The reply defaults to the original's sender, TLP and "Re:" title.
  auto reply = g.cli(g.sgLe, {"reply", rootId, "--body", "seen in SG too"});
  const std::string replyId = reply.at("bulletin_id");
  CHECK(reply.at("recipient_ids") == json::array({"my-le"}));
  auto read = g.cli(g.myLe, {"read", replyId});
  CHECK(read.at("reply_to_id") == rootId);
  CHECK(read.at("title") == "Re: Ransomware trend");
  CHECK(read.at("tlp") == "TLP:GREEN");
  // A reply to the reply, by the original sender.
  auto second = g.cli(g.myLe, {"reply", replyId, "--body", "thanks"});
  const std::string secondId = second.at("bulletin_id");

  for (const auto* m : {&g.myLe, &g.sgLe}) {
    INFO(m->id());
    auto thread = g.cli(*m, {"thread", secondId});
    REQUIRE(thread.size() == 3);
    CHECK(thread[0].at("bulletin_id") == rootId);
    CHECK(thread[0].at("depth") == 0);
    CHECK(thread[1].at("bulletin_id") == replyId);
    CHECK(thread[1].at("reply_to_id") == rootId);
    CHECK(thread[1].at("depth") == 1);
    CHECK(thread[2].at("bulletin_id") == secondId);
    CHECK(thread[2].at("reply_to_id") == replyId);
    CHECK(thread[2].at("depth") == 2);
  }
  auto text = g.text(g.sgLe, {"thread", rootId});
  CHECK(text.exitCode == 0);
  CHECK_THAT(text.out, Contains("* " + rootId));
  CHECK_THAT(text.out, Contains("  - " + replyId));
}

TEST_CASE("focal export refuses AMBER and RED without --i-understand-tlp", "[integration][rules]") {
  Group g;
  std::map<std::string, std::string> ids;
  for (const char* tlp : {"clear", "green", "amber", "amber+strict", "red"}) {
    auto sent = g.cli(g.myLe, sendArgs("sg-le", tlp, std::string("export ") + tlp, "b", {}, "trend"));
    ids[tlp] = sent.at("bulletin_id");
  }
  for (const char* tlp : {"amber", "amber+strict", "red"}) {
    INFO(tlp);
    const auto file = g.home.path() / (std::string(tlp) + ".json");
    auto r = g.cli(g.sgLe, {"export", ids[tlp], "--out", file.string()}, 1);
    cliRefused(r, "tlp-restricted", {"--i-understand-tlp", ids[tlp]});
    CHECK_FALSE(fs::exists(file));
    // To standard output as well.
    auto out = g.text(g.sgLe, {"export", ids[tlp]});
    CHECK(out.exitCode == 1);
    CHECK(out.out.find("\"body\"") == std::string::npos);
    // Told, it writes the file.
    auto ok = g.text(g.sgLe, {"export", ids[tlp], "--out", file.string(), "--i-understand-tlp"});
    CHECK(ok.exitCode == 0);
    auto j = json::parse(slurp(file));
    CHECK(j.at("bulletin_id") == ids[tlp]);
    CHECK(j.at("title") == std::string("export ") + tlp);
  }
  for (const char* tlp : {"clear", "green"}) {
    INFO(tlp);
    const auto file = g.home.path() / (std::string(tlp) + ".json");
    auto ok = g.text(g.sgLe, {"export", ids[tlp], "--out", file.string()});
    CHECK(ok.exitCode == 0);
    CHECK(json::parse(slurp(file)).at("body") == "b");
  }
}

// ---- law-enforcement markings ----------------------------------------------------------------

TEST_CASE("Handling code, evaluation, case reference and priority are signed and shown in the read banner and --json",
          "[integration][rules]") {
  Group g;
  const std::string id =
      g.cli(g.myLe,
            sendArgs("sg-le", "amber", "marked", "b",
                     {"--handling", "h1", "--evaluation", "b2", "--case", "AWGC-2026-04", "--priority", "urgent"}))
          .at("bulletin_id");
  auto j = g.cli(g.sgLe, {"read", id});
  CHECK(j.at("handling") == "H1");
  CHECK(j.at("handling_text").is_null());
  CHECK(j.at("evaluation") == "B2");
  CHECK(j.at("case") == "AWGC-2026-04");
  CHECK(j.at("priority") == "urgent");
  auto text = g.text(g.sgLe, {"read", id});
  CHECK(text.exitCode == 0);
  CHECK_THAT(text.out, Contains("=== TLP:AMBER ==="));
  CHECK_THAT(text.out, Contains("Handling:  H1 - not for use in court without the originator's permission"));
  CHECK_THAT(text.out, Contains("Evaluation: B2 (source mostly reliable"));
  CHECK_THAT(text.out, Contains("Case:      AWGC-2026-04"));
  CHECK_THAT(text.out, Contains("Priority:  URGENT"));
  // The banner comes before the content.
  CHECK(text.out.find("Handling:") < text.out.find("Title:"));

  // H3 carries its text.
  auto h3 = g.cli(g.myLe,
                  sendArgs("sg-le", "green", "h3", "b", {"--handling", "H3", "--handling-text", "not for the press"}));
  auto h3read = g.cli(g.sgLe, {"read", h3.at("bulletin_id")});
  CHECK(h3read.at("handling") == "H3");
  CHECK(h3read.at("handling_text") == "not for the press");
  CHECK_THAT(g.text(g.sgLe, {"read", h3.at("bulletin_id")}).out, Contains("Handling:  H3 - other restrictions: not for the press"));
}

TEST_CASE("H3 without its text is refused by the CLI and by the hub, malformed markings by the hub",
          "[integration][rules]") {
  Group g;
  auto cli = g.cli(g.myLe, sendArgs("sg-le", "green", "h3", "b", {"--handling", "H3"}), 1);
  cliRefused(cli, "bad-handling", {"H3", "--handling-text"});
  cliRefused(g.cli(g.myLe, sendArgs("sg-le", "green", "x", "b", {"--evaluation", "E9"}), 1), "bad-evaluation", {"B2"});

  // A client that signs H3 without text anyway (sealBulletin refuses to, so
  // the header is edited and re-signed).
  auto c = g.hub.connect(g.myLe.keys);
  auto b = sealTo(*c, g.myLe, {"sg-le"}, wire::Tlp::GREEN, [](protocol::BulletinDraft& d) {
    d.handling = wire::Handling::H3;
    d.handlingText = "placeholder";
  });
  auto noText = resignedHeader(b.bulletin, g.myLe.keys, [](wire::BulletinHeader::Builder h) { h.setHandlingText(""); });
  refused([&] { c->send(noText); }, wire::ErrorCode::INVALID_REQUEST, {"H3 requires handlingText"});
  auto b2 = sealTo(*c, g.myLe, {"sg-le"}, wire::Tlp::GREEN);
  auto textWithoutH3 =
      resignedHeader(b2.bulletin, g.myLe.keys, [](wire::BulletinHeader::Builder h) { h.setHandlingText("stray"); });
  refused([&] { c->send(textWithoutH3); }, wire::ErrorCode::INVALID_REQUEST, {"only for handling code H3"});
  auto b3 = sealTo(*c, g.myLe, {"sg-le"}, wire::Tlp::GREEN);
  auto halfEvaluation =
      resignedHeader(b3.bulletin, g.myLe.keys, [](wire::BulletinHeader::Builder h) { h.setInfoAccuracy(2); });
  refused([&] { c->send(halfEvaluation); }, wire::ErrorCode::INVALID_REQUEST, {"evaluation has both parts"});
}

// ---- the originator forwards its own bulletin ----------------------------------------------

TEST_CASE("The sender forwards its own bulletin to new recipients within the first-send rule, and they verify it",
          "[integration][rules]") {
  Group g;
  const std::string id = g.cli(g.myLe, sendArgs("sg-le", "amber", "seen in Malaysia")).at("bulletin_id");
  // Outside the sender's own state: a recipient could not forward AMBER
  // there, the originator can (it could have addressed Thailand itself).
  auto fwd = g.cli(g.myLe, {"forward", id, "--to", "th-le"});
  CHECK(fwd.at("bulletin_id") == id);
  auto read = g.cli(g.thLe, {"read", id});
  CHECK(read.at("verified") == true);
  CHECK(read.at("forwarded_by_id") == "my-le");
  // A recipient of that forward does not forward it again.
  cliRefused(g.cli(g.thLe, {"forward", id, "--to", "sg-le2"}, 2), "policy-denied", {"only original recipients"});
  // The first-send rule holds for the originator's forward: AMBER reaches
  // the resource panel only when it is named individually.
  cliRefused(g.cli(g.myLe, {"forward", id, "--to", "resource-panel"}, 2), "policy-denied",
             {"TLP:AMBER rule", "'rp-expert'", "named individually"});
  g.cli(g.myLe, {"forward", id, "--to", "rp-expert"});
  CHECK(g.cli(g.panel, {"read", id}).at("verified") == true);

  // RED: to named members only, never through a group address.
  const std::string redId = g.cli(g.myLe, sendArgs("sg-le", "red", "red one")).at("bulletin_id");
  cliRefused(g.cli(g.myLe, {"forward", redId, "--to", "state:TH"}, 2), "policy-denied", {"TLP:RED rule", "'state:TH'"});
  g.cli(g.myLe, {"forward", redId, "--to", "th-le"});
  CHECK(g.cli(g.thLe, {"read", redId}).at("verified") == true);

  // The originator's retraction reaches the members it forwarded to.
  g.cli(g.myLe, {"retract", id, "--reason", "superseded by a new alert"});
  for (const auto* m : {&g.thLe, &g.panel, &g.sgLe}) {
    INFO(m->id());
    auto r = g.cli(*m, {"read", id});
    CHECK(r.at("retracted") == true);
    CHECK(r.at("retraction_reason") == "superseded by a new alert");
  }
  // ... and a forward after the retraction is refused, naming the rule.
  cliRefused(g.cli(g.myLe, {"forward", id, "--to", "sg-ps"}, 2), "policy-denied", {"retraction rule", "retracted"});
}

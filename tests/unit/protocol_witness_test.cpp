// Witnesses (issue 26, PROTOCOL.md §11.6): the policy a genesis names is
// checked and kept by the log's rules, and a cosignature counts only when
// a named witness signed a head the hub signed, of exactly the client's
// size and root, recently, once per witness.
#include "protocol/directory_log.hpp"
#include "protocol/log.hpp"
#include "protocol/message.hpp"
#include "protocol/text.hpp"
#include "protocol/witness.hpp"

#include <capnp/message.h>
#include <algorithm>
#include <catch2/catch.hpp>

using namespace focal;

namespace {

constexpr std::int64_t Now = 1'800'000'000'000;
const std::string Hub = "hub-w";

struct Keys {
  bool ready = (crypto::initialize(), true);
  crypto::SigningKeyPair hub = crypto::SigningKeyPair::generate();
  crypto::SigningKeyPair w1 = crypto::SigningKeyPair::generate();
  crypto::SigningKeyPair w2 = crypto::SigningKeyPair::generate();
  crypto::SigningKeyPair other = crypto::SigningKeyPair::generate();
  protocol::WitnessPolicy policy{{{"wit-a", w1.publicKey}, {"wit-b", w2.publicKey}}, 2};
  crypto::Hash256 root = crypto::hash256("test", crypto::asBytes(std::string("root")));

  protocol::SignedHead head(std::uint64_t size, const crypto::Hash256& r, std::int64_t t = Now) const {
    return protocol::signLogHead(Hub, size, r, t, hub.secretKey);
  }
  protocol::CosignatureCount count(const std::vector<protocol::Cosignature>& cs, std::uint64_t size = 5,
                                   std::int64_t at = Now) const {
    return protocol::countCosignatures(policy, Hub, hub.publicKey, size, root, cs, at);
  }
};

protocol::Cosignature by(const std::string& id, const crypto::SigningKeyPair& k, const protocol::SignedHead& h,
                         std::int64_t at = Now) {
  return protocol::cosign(id, h.head, h.signature, at, k.secretKey);
}

// A genesis entry (as the log's rules see it) naming `policy`.
protocol::SignedEvent genesisWith(const Keys& k, const protocol::WitnessPolicy& policy) {
  capnp::MallocMessageBuilder m;
  auto e = m.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(Now);
  auto g = e.initGenesis();
  g.setHubId(protocol::asText(Hub));
  g.setHubKey(protocol::kjBytes(k.hub.publicKey.view()));
  g.setLogVersion(protocol::CurrentLogVersion);
  protocol::writeWitnessPolicy(g.initWitnesses(), policy);
  protocol::setLogPosition(e, protocol::LogPosition{Hub, 0, protocol::logGenesisPrev()});
  return protocol::signLogEvent(m, k.hub.secretKey);
}

Expected<Ok, protocol::LogRefusal> offerGenesis(protocol::DirectoryLog& log, const Keys& k,
                                                const protocol::SignedEvent& ev) {
  protocol::LogEntryView v{ev.event, ev.signature, k.hub.publicKey, Hub, 0, Now};
  auto ok = log.check(v, {});
  if (ok) log.apply(v, log.nextHash(v));
  return ok;
}

}  // namespace

TEST_CASE("two fresh cosignatures by distinct witnesses of the client's head meet k = 2", "[witness]") {
  Keys k;
  const auto h = k.head(5, k.root);
  auto c = k.count({by("wit-a", k.w1, h), by("wit-b", k.w2, h)});
  CHECK(c.count() == 2);
  CHECK(c.problems.empty());
  // The same witness twice counts once.
  CHECK(k.count({by("wit-a", k.w1, h), by("wit-a", k.w1, h, Now - 1000)}).count() == 1);
}

TEST_CASE("a later head of the same size and root carries an earlier head's cosignatures", "[witness]") {
  Keys k;
  const auto earlier = k.head(5, k.root, Now - 3'600'000);
  CHECK(k.count({by("wit-a", k.w1, earlier)}).count() == 1);
}

TEST_CASE("a cosignature does not count for another head, another signer, tampering or age", "[witness]") {
  Keys k;
  const auto h = k.head(5, k.root);
  SECTION("a head of another size or root") {
    CHECK(k.count({by("wit-a", k.w1, k.head(4, k.root))}).count() == 0);
    auto otherRoot = crypto::hash256("test", crypto::asBytes(std::string("fork")));
    auto c = k.count({by("wit-a", k.w1, k.head(5, otherRoot))});
    CHECK(c.count() == 0);
    CHECK(c.problems.size() == 1);
  }
  SECTION("a member the policy does not name, or a key not the policy's") {
    CHECK(k.count({by("wit-c", k.other, h)}).count() == 0);
    CHECK(k.count({by("wit-a", k.other, h)}).count() == 0);
  }
  SECTION("a tampered time, head or a head the hub did not sign") {
    auto c = by("wit-a", k.w1, h);
    c.cosignedAtMs += 1;
    CHECK(k.count({c}).count() == 0);
    auto forged = protocol::signLogHead(Hub, 5, k.root, Now, k.other.secretKey);
    CHECK(k.count({by("wit-a", k.w1, forged)}).count() == 0);
  }
  SECTION("older than the freshness window, or dated in the future") {
    CHECK(k.count({by("wit-a", k.w1, h, Now - protocol::CosignatureFreshnessMs - 1)}).count() == 0);
    CHECK(k.count({by("wit-a", k.w1, h, Now + protocol::CosignatureFutureMs + 1)}).count() == 0);
    CHECK(k.count({by("wit-a", k.w1, h, Now - protocol::CosignatureFreshnessMs + 1)}).count() == 1);
  }
}

TEST_CASE("cosignature wire form round-trips and the signed bytes are head then i64be time", "[witness]") {
  Keys k;
  const auto h = k.head(5, k.root);
  const auto c = by("wit-a", k.w1, h);
  capnp::MallocMessageBuilder m;
  protocol::writeCosignature(m.initRoot<wire::Cosignature>(), c);
  auto back = protocol::readCosignature(m.getRoot<wire::Cosignature>().asReader());
  REQUIRE(back);
  CHECK(back->head == c.head);
  CHECK(back->signature == c.signature);
  auto msg = protocol::cosignMessage(crypto::asBytes(std::string("ab")), 0x0102030405060708);
  CHECK(msg == crypto::Bytes{'a', 'b', 1, 2, 3, 4, 5, 6, 7, 8});
}

TEST_CASE("the genesis's witness policy is checked and kept by the log", "[witness]") {
  Keys k;
  protocol::DirectoryLog good;
  REQUIRE(offerGenesis(good, k, genesisWith(k, k.policy)));
  CHECK(good.witnessPolicy() == k.policy);

  auto refused = [&](protocol::WitnessPolicy p) {
    protocol::DirectoryLog log;
    auto ok = offerGenesis(log, k, genesisWith(k, p));
    REQUIRE_FALSE(ok);
    CHECK(ok.error().rule == protocol::LogRule::BadWitnessPolicy);
    return protocol::describe(ok.error());
  };
  CHECK_THAT(refused({k.policy.witnesses, 3}), Catch::Contains("more than the 2 witnesses"));
  CHECK_THAT(refused({k.policy.witnesses, 0}), Catch::Contains("at least 1"));
  CHECK_THAT(refused({{{"wit-a", k.w1.publicKey}, {"wit-a", k.w2.publicKey}}, 1}), Catch::Contains("named twice"));
  CHECK_THAT(refused({{{"wit-a", k.w1.publicKey}, {"wit-b", k.w1.publicKey}}, 1}), Catch::Contains("another witness"));

  protocol::DirectoryLog plain;  // no witnesses: k = 0, nothing required
  REQUIRE(offerGenesis(plain, k, genesisWith(k, {})));
  CHECK_FALSE(plain.witnessPolicy().active());
}

TEST_CASE("the cosignature test vector of PROTOCOL.md section 16", "[witness]") {
  crypto::initialize();
  // Ed25519 secret key = seed (32 x 0x44) || its public key.
  auto pk = crypto::fromHex("d759793bbc13a2819a827c76adb6fba8a49aee007f49f2d0992d99b825ad2c48");
  REQUIRE(pk);
  REQUIRE(pk->size() == 32);
  crypto::Bytes secret(64, 0x44);
  std::copy(pk->begin(), pk->end(), secret.begin() + 32);
  auto sk = crypto::SigningSecretKey::fromBytes(secret);
  REQUIRE(sk);
  const crypto::Bytes head{1, 2, 3};
  const auto c = protocol::cosign("wit-a", head, crypto::Signature{}, 1'700'000'000'000, *sk);
  CHECK(crypto::toHex(c.signature) ==
        "76468d0e2b2fcbc91f5150fbf1d5d05a1eb6130f55f9a2f56bf4f1b733deeb25"
        "5cc3690a89021e129d4384d1ee54cd802e6dca59db0ff2dff128a9c7d4bef702");
}

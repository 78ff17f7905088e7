// protocol/enrolment_bundle.hpp: the format both focald bundle and focal
// profile init use, and every refusal that needs no hub.
#include "protocol/enrolment_bundle.hpp"
#include "protocol/log.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace focal;
using protocol::BundleError;

namespace {

crypto::Hash256 hashOf(std::uint8_t fill) {
  crypto::Bytes b(32, fill);
  return *crypto::Hash256::fromBytes(b);
}

// A bundle whose head (size, root) the hub key `key` signed.
protocol::EnrolmentBundle signedBundle(const crypto::SigningKeyPair& key, std::uint64_t size, const crypto::Hash256& root,
                                       const crypto::Hash256& genesis) {
  protocol::EnrolmentBundle b;
  b.hubId = "asean-wgcc";
  b.hubAddress = "hub.example.org:7443";
  b.hubKey = key.publicKey;
  b.caPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  b.genesisHash = genesis;
  auto head = protocol::signLogHead(b.hubId, size, root, 1'700'000'000'000, key.secretKey);
  b.headBytes = head.head;
  b.headSignature = head.signature;
  b.headSize = size;
  b.headRoot = root;
  b.headTimeMs = 1'700'000'000'000;
  return b;
}

BundleError refusalOf(const std::string& text) {
  auto r = protocol::parseEnrolmentBundle(text);
  REQUIRE_FALSE(r);
  return r.error().code;
}

}  // namespace

TEST_CASE("An enrolment bundle round-trips and every field survives", "[protocol][bundle]") {
  crypto::initialize();
  const auto key = crypto::SigningKeyPair::generate();
  const auto b = signedBundle(key, 5, hashOf(7), hashOf(1));
  const auto text = protocol::renderEnrolmentBundle(b);
  auto p = protocol::parseEnrolmentBundle(text);
  REQUIRE(p);
  CHECK(p->hubId == b.hubId);
  CHECK(p->hubAddress == b.hubAddress);
  CHECK(p->hubKey == b.hubKey);
  CHECK(p->caPem == b.caPem);
  CHECK(p->genesisHash == b.genesisHash);
  CHECK(p->headSize == 5);
  CHECK(p->headRoot == b.headRoot);
  CHECK(p->headTimeMs == b.headTimeMs);
  CHECK(p->headBytes == b.headBytes);
  CHECK(p->version == protocol::EnrolmentBundleVersion);
  CHECK(p->witnesses.witnesses.empty());
  CHECK(p->headCosignatures.empty());
  CHECK(text.find("\"format\": \"focal-enrolment-bundle\"") != std::string::npos);
}

TEST_CASE("An enrolment bundle is refused for each check that needs no hub", "[protocol][bundle]") {
  crypto::initialize();
  const auto key = crypto::SigningKeyPair::generate();
  SECTION("a one-entry head must be the genesis") {
    CHECK(protocol::parseEnrolmentBundle(protocol::renderEnrolmentBundle(signedBundle(key, 1, hashOf(1), hashOf(1)))));
    CHECK(refusalOf(protocol::renderEnrolmentBundle(signedBundle(key, 1, hashOf(2), hashOf(1)))) ==
          BundleError::GenesisMismatch);
  }
  SECTION("a head signed by another key") {
    auto b = signedBundle(key, 3, hashOf(2), hashOf(1));
    b.hubKey = crypto::SigningKeyPair::generate().publicKey;
    CHECK(refusalOf(protocol::renderEnrolmentBundle(b)) == BundleError::BadHeadSignature);
  }
  SECTION("fields that disagree with the signed head") {
    auto b = signedBundle(key, 3, hashOf(2), hashOf(1));
    b.headTimeMs += 1;
    CHECK(refusalOf(protocol::renderEnrolmentBundle(b)) == BundleError::HeadMismatch);
    b = signedBundle(key, 3, hashOf(2), hashOf(1));
    b.hubId = "other-hub";
    CHECK(refusalOf(protocol::renderEnrolmentBundle(b)) == BundleError::HeadMismatch);
  }
  SECTION("a witness policy that breaks the genesis's rules") {
    auto b = signedBundle(key, 3, hashOf(2), hashOf(1));
    b.witnesses.threshold = 1;  // k = 1 with no witnesses
    CHECK(refusalOf(protocol::renderEnrolmentBundle(b)) == BundleError::Malformed);
  }
  SECTION("size, syntax and version") {
    const auto text = protocol::renderEnrolmentBundle(signedBundle(key, 3, hashOf(2), hashOf(1)));
    CHECK(refusalOf(text + std::string(protocol::MaxEnrolmentBundleBytes, ' ')) == BundleError::TooLarge);
    CHECK(refusalOf(text.substr(0, text.size() - 3)) == BundleError::Malformed);
    CHECK(refusalOf("[]") == BundleError::Malformed);
    std::string v3 = text;
    v3.replace(v3.find("\"version\": 2"), 12, "\"version\": 3");
    CHECK(refusalOf(v3) == BundleError::UnsupportedFormat);
    std::string badId = text;
    badId.replace(badId.find("\"asean-wgcc\""), 12, "\"../etc/pwd\"");
    CHECK(refusalOf(badId) == BundleError::Malformed);
    std::string shortKey = text;
    shortKey.replace(shortKey.find("\"hub_key\": \"") + 12, 2, "");
    CHECK(refusalOf(shortKey) == BundleError::Malformed);
  }
}

namespace {

// Version 1 as focal 0.x wrote it: no cosignatures, reserved witnesses.
std::string asVersion1(const std::string& v2) {
  auto j = nlohmann::json::parse(v2);
  j["version"] = 1;
  j["head"].erase("cosignatures");
  j["witnesses"] = {{"keys", nlohmann::json::array()}, {"threshold", 0}};
  return j.dump(2);
}

struct WitnessedBundle {
  crypto::SigningKeyPair hub = crypto::SigningKeyPair::generate();
  crypto::SigningKeyPair w1 = crypto::SigningKeyPair::generate();
  crypto::SigningKeyPair w2 = crypto::SigningKeyPair::generate();
  protocol::EnrolmentBundle b = signedBundle(hub, 4, hashOf(9), hashOf(1));

  WitnessedBundle() {
    b.witnesses.witnesses = {{"wit-sg", w1.publicKey}, {"wit-my", w2.publicKey}};
    b.witnesses.threshold = 2;
    // A later head of the same size and root (another time) also counts.
    auto later = protocol::signLogHead(b.hubId, 4, hashOf(9), b.headTimeMs + 3'600'000, hub.secretKey);
    b.headCosignatures.push_back(protocol::cosign("wit-sg", b.headBytes, b.headSignature, b.headTimeMs, w1.secretKey));
    b.headCosignatures.push_back(protocol::cosign("wit-my", later.head, later.signature, b.headTimeMs, w2.secretKey));
  }
};

}  // namespace

TEST_CASE("A bundle with a witness policy and cosignatures round-trips", "[protocol][bundle][witness]") {
  crypto::initialize();
  WitnessedBundle w;
  auto p = protocol::parseEnrolmentBundle(protocol::renderEnrolmentBundle(w.b));
  REQUIRE(p);
  CHECK(p->witnesses == w.b.witnesses);
  REQUIRE(p->headCosignatures.size() == 2);
  CHECK(p->headCosignatures[1].head == w.b.headCosignatures[1].head);
  CHECK(p->headCosignatures[1].signature == w.b.headCosignatures[1].signature);
  // Fewer than k cosignatures is still a bundle (focald bundle warns).
  w.b.headCosignatures.pop_back();
  CHECK(protocol::parseEnrolmentBundle(protocol::renderEnrolmentBundle(w.b)));
  // A version-1 bundle still reads, with no policy.
  auto old = protocol::parseEnrolmentBundle(asVersion1(protocol::renderEnrolmentBundle(signedBundle(w.hub, 4, hashOf(9), hashOf(1)))));
  REQUIRE(old);
  CHECK(old->version == 1);
  CHECK_FALSE(old->witnesses.active());
}

TEST_CASE("A bundle whose cosignature is forged or misplaced is refused", "[protocol][bundle][witness]") {
  crypto::initialize();
  WitnessedBundle w;
  SECTION("signed by another key than the policy's") {
    w.b.headCosignatures[0] =
        protocol::cosign("wit-sg", w.b.headBytes, w.b.headSignature, w.b.headTimeMs, w.w2.secretKey);
  }
  SECTION("the policy's key replaced") { w.b.witnesses.witnesses[0].key = crypto::SigningKeyPair::generate().publicKey; }
  SECTION("the signed time altered") { w.b.headCosignatures[0].cosignedAtMs += 1; }
  SECTION("by a member the policy does not name") { w.b.headCosignatures[0].witnessId = "sg-spf"; }
  SECTION("of another head the hub signed") {
    auto other = protocol::signLogHead(w.b.hubId, 3, hashOf(8), w.b.headTimeMs, w.hub.secretKey);
    w.b.headCosignatures[0] = protocol::cosign("wit-sg", other.head, other.signature, 1, w.w1.secretKey);
  }
  SECTION("twice by one witness") { w.b.headCosignatures[1] = w.b.headCosignatures[0]; }
  CHECK(refusalOf(protocol::renderEnrolmentBundle(w.b)) == BundleError::BadCosignature);
  CHECK(std::string(protocol::bundleErrorName(BundleError::BadCosignature)) == "bundle-bad-cosignature");
}

TEST_CASE("A version-1 bundle naming witnesses is refused", "[protocol][bundle]") {
  crypto::initialize();
  const auto key = crypto::SigningKeyPair::generate();
  auto j = nlohmann::json::parse(asVersion1(protocol::renderEnrolmentBundle(signedBundle(key, 3, hashOf(2), hashOf(1)))));
  j["witnesses"]["threshold"] = 1;
  CHECK(refusalOf(j.dump()) == BundleError::WitnessesUnsupported);
}

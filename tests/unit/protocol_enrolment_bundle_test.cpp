// protocol/enrolment_bundle.hpp: the format both focald bundle and focal
// profile init use, and every refusal that needs no hub.
#include "protocol/enrolment_bundle.hpp"
#include "protocol/log.hpp"

#include <catch2/catch.hpp>

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
  CHECK(p->witnessKeys.empty());
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
  SECTION("witnesses are reserved") {
    auto b = signedBundle(key, 3, hashOf(2), hashOf(1));
    b.witnessThreshold = 1;
    CHECK(refusalOf(protocol::renderEnrolmentBundle(b)) == BundleError::WitnessesUnsupported);
  }
  SECTION("size, syntax and version") {
    const auto text = protocol::renderEnrolmentBundle(signedBundle(key, 3, hashOf(2), hashOf(1)));
    CHECK(refusalOf(text + std::string(protocol::MaxEnrolmentBundleBytes, ' ')) == BundleError::TooLarge);
    CHECK(refusalOf(text.substr(0, text.size() - 3)) == BundleError::Malformed);
    CHECK(refusalOf("[]") == BundleError::Malformed);
    std::string v2 = text;
    v2.replace(v2.find("\"version\": 1"), 12, "\"version\": 2");
    CHECK(refusalOf(v2) == BundleError::UnsupportedFormat);
    std::string badId = text;
    badId.replace(badId.find("\"asean-wgcc\""), 12, "\"../etc/pwd\"");
    CHECK(refusalOf(badId) == BundleError::Malformed);
    std::string shortKey = text;
    shortKey.replace(shortKey.find("\"hub_key\": \"") + 12, 2, "");
    CHECK(refusalOf(shortKey) == BundleError::Malformed);
  }
}

// protocol/fork_proof.hpp: a fork proof holds exactly when the hub signed two
// heads that cannot both be true; everything else, and every malformed or
// oversize file, is "not a proof" (PROTOCOL.md §11.5).
#include "protocol/fork_proof.hpp"
#include "protocol/log.hpp"

#include <catch2/catch.hpp>

using namespace focal;

namespace {

constexpr const char* HubId = "asean-wgcc";

// A chain of `n` entries whose event bytes are `salt` and the index (the
// checker never parses events: the chain and the heads are the proof).
struct Chain {
  std::vector<protocol::ProofEntry> entries;
  std::vector<crypto::Hash256> hashes;
};
Chain chain(std::uint64_t n, std::uint8_t salt) {
  Chain c;
  crypto::Hash256 prev = protocol::logGenesisPrev();
  for (std::uint64_t i = 0; i < n; ++i) {
    protocol::ProofEntry e;
    e.index = i;
    e.recordedAtMs = 1'700'000'000'000 + static_cast<std::int64_t>(i);
    e.event = crypto::Bytes{salt, static_cast<std::uint8_t>(i), 1, 2, 3};
    prev = protocol::logEntryHash(i, prev, e.recordedAtMs, e.event, e.authorKey, e.signature);
    c.entries.push_back(e);
    c.hashes.push_back(prev);
  }
  return c;
}

struct Hub {
  crypto::SigningKeyPair key = crypto::SigningKeyPair::generate();
  protocol::SignedHead head(const Chain& c, std::uint64_t size, std::string_view hubId = HubId) const {
    return protocol::signLogHead(hubId, size, c.hashes[size - 1], 1'700'000'000'000, key.secretKey);
  }
};

// The proof that head `small` of chain `a` conflicts with head `large` of chain `b`.
protocol::ForkProof proofOf(const Hub& hub, const Chain& a, std::uint64_t small, const Chain& b, std::uint64_t large) {
  protocol::ForkProof p;
  p.hubId = HubId;
  p.hubKey = hub.key.publicKey;
  p.smaller = hub.head(a, small);
  p.larger = hub.head(b, large);
  p.largerHashAtSmallerSize = b.hashes[small - 1];
  p.entries.assign(b.entries.begin() + static_cast<std::ptrdiff_t>(small),
                   b.entries.begin() + static_cast<std::ptrdiff_t>(large));
  return p;
}

// Rendered and parsed again, then checked: what `focal verify-log --proof` does.
Expected<protocol::ForkFacts, std::string> checkText(const protocol::ForkProof& p) {
  auto parsed = protocol::parseForkProof(protocol::renderForkProof(p));
  if (!parsed) return unexpected(parsed.error());
  return protocol::checkForkProof(*parsed);
}

}  // namespace

TEST_CASE("Two hub-signed heads of one size with different roots are a fork proof", "[protocol][fork]") {
  crypto::initialize();
  const Hub hub;
  const auto a = chain(6, 1);
  const auto b = chain(6, 2);
  auto facts = checkText(proofOf(hub, a, 6, b, 6));
  REQUIRE(facts);
  CHECK(facts->smaller.size == 6);
  CHECK(facts->larger.size == 6);
  CHECK_FALSE(facts->smaller.root == facts->larger.root);
  // The same head twice is not.
  CHECK_THAT(checkText(proofOf(hub, a, 6, a, 6)).error(), Catch::Contains("consistent"));
}

TEST_CASE("A smaller head that is a prefix of the larger log is not a fork proof", "[protocol][fork]") {
  crypto::initialize();
  const Hub hub;
  const auto a = chain(9, 1);
  CHECK_THAT(checkText(proofOf(hub, a, 4, a, 9)).error(), Catch::Contains("consistent"));
}

TEST_CASE("A larger log that does not extend the smaller head is a fork proof", "[protocol][fork]") {
  crypto::initialize();
  const Hub hub;
  const auto a = chain(5, 1);
  // b shares a's first 4 entries and differs from entry 4 on (a revocation
  // there in one view, something else in the other).
  auto b = chain(4, 1);
  auto tail = chain(8, 3);
  crypto::Hash256 prev = b.hashes.back();
  for (std::uint64_t i = 4; i < 8; ++i) {
    auto e = tail.entries[i];
    prev = protocol::logEntryHash(i, prev, e.recordedAtMs, e.event, e.authorKey, e.signature);
    b.entries.push_back(e);
    b.hashes.push_back(prev);
  }
  auto facts = checkText(proofOf(hub, a, 5, b, 8));
  REQUIRE(facts);
  CHECK(facts->largerHashAtSmallerSize == b.hashes[4]);
  CHECK(facts->smaller.root == a.hashes[4]);
}

TEST_CASE("A fork proof whose entries do not chain to the larger root is refused", "[protocol][fork]") {
  crypto::initialize();
  const Hub hub;
  const auto a = chain(5, 1);
  const auto b = chain(8, 2);
  auto p = proofOf(hub, a, 5, b, 8);
  SECTION("an entry's bytes changed") { p.entries[1].event.push_back(0); }
  SECTION("an entry left out") { p.entries.pop_back(); }
  SECTION("entries renumbered") { p.entries[0].index = 4; }
  SECTION("another starting hash") { p.largerHashAtSmallerSize = a.hashes[4]; }
  const auto r = checkText(p);
  REQUIRE_FALSE(r);
}

TEST_CASE("A fork proof under another hub key or hub id is refused", "[protocol][fork]") {
  crypto::initialize();
  const Hub hub;
  const Hub other;
  const auto a = chain(3, 1);
  const auto b = chain(3, 2);
  SECTION("the proof names another key") {
    auto p = proofOf(hub, a, 3, b, 3);
    p.hubKey = other.key.publicKey;
    CHECK_THAT(checkText(p).error(), Catch::Contains("not signed by hub_key"));
  }
  SECTION("one head signed by another key") {
    auto p = proofOf(hub, a, 3, b, 3);
    p.larger = other.head(b, 3);
    CHECK_THAT(checkText(p).error(), Catch::Contains("larger head is not signed"));
  }
  SECTION("one head of another hub id") {
    auto p = proofOf(hub, a, 3, b, 3);
    p.smaller = hub.head(a, 3, "other-hub");
    CHECK_THAT(checkText(p).error(), Catch::Contains("another hub"));
  }
}

TEST_CASE("A truncated, oversize or unknown-field fork proof is not a proof", "[protocol][fork][hostile]") {
  crypto::initialize();
  const Hub hub;
  const auto text = protocol::renderForkProof(proofOf(hub, chain(4, 1), 4, chain(4, 2), 4));
  REQUIRE(protocol::parseForkProof(text));
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, text.size() / 2, text.size() - 3}) {
    CHECK_FALSE(protocol::parseForkProof(text.substr(0, cut)));
  }
  CHECK_THAT(protocol::parseForkProof(std::string(protocol::MaxForkProofBytes + 1, ' ')).error(),
             Catch::Contains("larger than"));
  auto extra = text;
  extra.insert(1, "\"witness\": 1,");
  CHECK_THAT(protocol::parseForkProof(extra).error(), Catch::Contains("unknown field"));
  CHECK_FALSE(protocol::parseForkProof("[]"));
  CHECK_FALSE(protocol::parseForkProof("{\"format\": \"focal-fork-proof\", \"version\": 2}"));
}

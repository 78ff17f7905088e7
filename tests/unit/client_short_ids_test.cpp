// Short ids (issue 20, client/short_ids.hpp): a unique prefix of at least
// six hex digits stands for the whole id; anything else is a typed error.
#include "client/short_ids.hpp"

#include <catch2/catch.hpp>

using focal::client::resolveIdPrefix;

namespace {

const std::vector<std::string> Known = {
    "46f8a1b2c3d4e5f60718293a4b5c6d7e", "46f8a1ffffffffffffffffffffffffff", "3f0c000000000000000000000000aaaa",
    "not-an-id"};

std::string resolved(const std::string& text) {
  auto r = resolveIdPrefix(text, Known, "bulletin");
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
  return *r;
}

std::string problem(const std::string& text) {
  auto r = resolveIdPrefix(text, Known, "bulletin");
  REQUIRE_FALSE(r);
  return r.error().code + ": " + r.error().message;
}

}  // namespace

TEST_CASE("short ids: a unique prefix of six or more hex digits resolves, in any case", "[client][short-ids]") {
  CHECK(resolved("3f0c00") == Known[2]);
  CHECK(resolved("46F8A1B") == Known[0]);
  // A whole id needs no lookup (it may be one this profile never saw).
  CHECK(resolved("ABCDEF0123456789ABCDEF0123456789") == "abcdef0123456789abcdef0123456789");
}

TEST_CASE("short ids: too short, not hex, unknown and ambiguous prefixes are refused with their code",
          "[client][short-ids]") {
  CHECK_THAT(problem("3f0c0"), Catch::StartsWith("bad-id: a bulletin id is 32 hex digits, or a unique first 6"));
  CHECK_THAT(problem("3f0c0g"), Catch::StartsWith("bad-id"));
  CHECK_THAT(problem("3f0c000000000000000000000000aaaa0"), Catch::StartsWith("bad-id"));  // 33 digits
  CHECK_THAT(problem("3f0c\x1b[2J"), Catch::StartsWith("bad-id") && !Catch::Contains("\x1b"));
  CHECK_THAT(problem("abcdef"), Catch::StartsWith("unknown-id: no bulletin this profile knows starts with abcdef"));
  CHECK_THAT(problem("46f8a1"), Catch::StartsWith("ambiguous-id: 46f8a1 is the start of 2 bulletin ids: " + Known[0] +
                                                  ", " + Known[1]));
  auto proposal = resolveIdPrefix("abcdef", Known, "proposal");
  REQUIRE_FALSE(proposal);
  CHECK_THAT(proposal.error().message, Catch::Contains("focal proposals"));
}

// Seal v2 with the real focald and focal (issue 27): what the CLI sends is
// key-committing and bound to its hub; the hub refuses a bulletin sealed for
// another hub, and seal v1 after its configured last day; a v1 bulletin sent
// before that still opens, marked. PROTOCOL.md §8.1-§8.3.
#include "hub_fixture.hpp"

#include "protocol/bulletin.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace focal;
using namespace focal::test;
using Catch::Matchers::Contains;

namespace {

struct SgAndMyFiles {
  explicit SgAndMyFiles(HubOptions options = {}) : hub(std::move(options)) {}
  Hub hub;
  TempDir home;
  TestMember sg = hub.createMember("sg-spf", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  TestMember my = hub.createMember("my-pdrm", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  std::vector<std::string> myArgs = hub.cliGlobals(my.keyFile, home.path() / "my");
};

protocol::SealedBulletin sealV1(const TestMember& from, const TestMember& to, const std::string& title) {
  auto draft = draftTo({&to.keys}, title);
  draft.suite = wire::CIPHER_SUITE;
  const auto key = crypto::ContentKey::random();
  return sealDraft(draft, from.keys, key);
}

}  // namespace

TEST_CASE("focal send seals v2 for its hub, and the recipient's read says so", "[integration][seal-v2]") {
  SgAndMyFiles f;
  const auto sgArgs = f.hub.cliGlobals(f.sg.keyFile, f.home.path() / "sg");
  const std::string id = runCliJson(concat(sgArgs, {"send", "--to", "my-pdrm", "--tlp", "green", "--category", "trend",
                                                    "--title", "v2 title", "--body", "v2 body"}))
                             .at("bulletin_id");
  const auto read = runCliJson(concat(f.myArgs, {"read", id}));
  CHECK(read.at("seal") == 2);
  CHECK(read.at("title") == "v2 title");
  const auto text = runCli(concat(f.myArgs, {"read", id}));
  CHECK(text.exitCode == 0);
  CHECK_THAT(text.out, !Contains("seal v1"));
}

TEST_CASE("The hub refuses a seal v2 bulletin sealed for another hub", "[integration][seal-v2]") {
  SgAndMyFiles f;
  auto draft = draftTo({&f.my.keys}, "elsewhere");
  draft.hubId = "other-hub";
  const auto key = crypto::ContentKey::random();
  const auto sealed = sealDraft(draft, f.sg.keys, key);
  auto c = f.hub.connect(f.sg.keys);
  const auto refused = hubRefusal([&] { c->send(sealed); });
  CHECK(refused.code() == wire::ErrorCode::INVALID_REQUEST);
  CHECK_THAT(refused.hubMessage(), Contains("other-hub") && Contains("focal-hub"));
}

TEST_CASE("A seal v1 bulletin is accepted during the transition and shown marked, and refused after its last day",
          "[integration][seal-v2]") {
  SECTION("default transition period: accepted, opened, marked") {
    SgAndMyFiles f;
    const auto sealed = sealV1(f.sg, f.my, "sent by an old client");
    auto c = f.hub.connect(f.sg.keys);
    REQUIRE_NOTHROW(c->send(sealed));
    const std::string id = crypto::toHex(sealed.id);
    const auto read = runCliJson(concat(f.myArgs, {"read", id}));
    CHECK(read.at("seal") == 1);
    CHECK(read.at("title") == "sent by an old client");
    const auto text = runCli(concat(f.myArgs, {"read", id}));
    CHECK_THAT(text.out, Contains("sealed with seal v1"));
    const auto inbox = runCli(concat(f.myArgs, {"inbox"}));
    CHECK_THAT(inbox.out, Contains("[seal v1]"));
  }
  SECTION("accept_seal_v1_until in the past: unsupportedVersion naming the day; a v2 bulletin still goes") {
    SgAndMyFiles f(HubOptions{.limits = {{"accept_seal_v1_until", "\"2020-01-31\""}}});
    auto c = f.hub.connect(f.sg.keys);
    const auto refused = hubRefusal([&] { c->send(sealV1(f.sg, f.my, "too late")); });
    CHECK(refused.code() == wire::ErrorCode::UNSUPPORTED_VERSION);
    CHECK_THAT(refused.hubMessage(), Contains("2020-01-31") && Contains("seal v1"));
    CHECK_NOTHROW(c->send(sealTo(f.sg.keys, {&f.my.keys}, "current client")));
  }
}

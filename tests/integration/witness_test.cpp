// Witnesses (issue 26, PROTOCOL.md §11.6): a hub whose genesis names two
// witnesses with k = 2. Clients seal nothing until both cosigned the head
// (`focal witness --follow --once`); a witness that cosigned one view of
// the log refuses a conflicting one (a copy of the hub that diverged by
// one entry), also in a later run from its state file alone; the hub
// refuses cosignatures from a member the policy does not name, or that do
// not verify.
#include "hub_fixture.hpp"

#include "crypto/keyfile.hpp"
#include "protocol/log.hpp"
#include "protocol/witness.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace focal;
using namespace focal::test;
using nlohmann::json;

namespace {

// Witness keys made before the hub, their FILE.pub handed to focald init.
struct WitnessKeys {
  TempDir dir;
  crypto::MemberKeys sg = crypto::MemberKeys::generate("wit-sg", nowMs());
  crypto::MemberKeys my = crypto::MemberKeys::generate("wit-my", nowMs());

  std::vector<std::string> initArgs() const {
    std::vector<std::string> out;
    for (const auto* k : {&sg, &my}) {
      const auto pub = dir.path() / (k->memberId + ".pub");
      std::ofstream(pub) << crypto::formatPublicKeys(k->publicKeys());
      out.insert(out.end(), {"--witness", pub.string()});
    }
    out.insert(out.end(), {"--witness-threshold", "2"});
    return out;
  }
};

struct Witnessed {
  WitnessKeys keys;
  Hub hub{HubOptions{{}, false, keys.initArgs()}};
  TestMember witSg = hub.registerKeys(std::move(keys.sg), "SG", wire::Institution::POLICY_SECURITY, true);
  TestMember witMy = hub.registerKeys(std::move(keys.my), "MY", wire::Institution::POLICY_SECURITY, true);
  TestMember a = hub.createMember("sg-spf", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  TestMember b = hub.createMember("my-pdrm", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  TempDir home;

  std::vector<std::string> as(const TestMember& m, const Hub& h) const {
    return h.cliGlobals(m.keyFile, home.path() / m.id());
  }
  std::vector<std::string> as(const TestMember& m) const { return as(m, hub); }
  json witness(const TestMember& w, const Hub& h, int exit = 0) const {
    return runCliJson(concat(as(w, h), {"witness", "--follow", "--once"}), exit);
  }
  json witness(const TestMember& w, int exit = 0) const { return witness(w, hub, exit); }
  json send(int exit = 0) const {
    return runCliJson(concat(as(a), {"send", "--to", "my-pdrm", "--tlp", "green", "--category", "trend", "--title",
                                     "witnessed", "--body", "hello"}),
                      exit);
  }
};

std::string errorText(const json& j) {
  return j.at("error").at("code").get<std::string>() + ": " + j.at("error").at("message").get<std::string>();
}

}  // namespace

TEST_CASE_METHOD(Witnessed, "A client seals nothing until k witnesses cosigned the head, then sends",
                 "[integration][witness]") {
  CHECK_THAT(errorText(send(3)), Catch::Contains("0 of the 2 fresh witness cosignatures"));

  const auto first = witness(witSg);
  CHECK(first.at("cosigned") == true);
  CHECK_THAT(errorText(send(3)), Catch::Contains("1 of the 2"));
  CHECK(witness(witMy).at("cosigned") == true);

  const auto sent = send();
  CHECK(sent.at("bulletin_id").get<std::string>().size() == 32);
  const auto read = runCliJson(concat(as(b), {"read", sent.at("bulletin_id")}));
  CHECK(read.at("verified") == true);
  // Nothing new: the head already carries this witness's cosignature.
  CHECK(witness(witSg).at("cosigned") == false);
  // A member the policy does not name is not a witness (exit 2, forbidden).
  CHECK_THAT(errorText(witness(a, 2)), Catch::Contains("not a witness"));
  // The directory and admin commands work before the witnesses cosign.
  CHECK(runCli(concat(as(b), {"directory"})).exitCode == 0);
}

TEST_CASE_METHOD(Witnessed, "A witness refuses a second view of the log, also in a later run from its state alone",
                 "[integration][witness]") {
  witness(witSg);
  hub.stop();
  auto fork = hub.copyStopped();
  hub.start();
  hub.createMember("th-tcsd", "TH");
  CHECK(witness(witSg).at("cosigned") == true);  // the head with th-tcsd

  fork->start();
  fork->createMember("vn-mps", "VN");  // the same size, another entry: the second view
  const auto refused = witness(witSg, *fork, 3);
  CHECK_THAT(errorText(refused), Catch::Contains("fork"));

  // Without the profile's verified log the witness state alone refuses it,
  // naming both heads.
  fs::remove_all(home.path() / witSg.id() / "log");
  const auto again = witness(witSg, *fork, 3);
  CHECK_THAT(errorText(again), Catch::Contains("refusing to cosign"));
  CHECK_THAT(errorText(again), Catch::Contains("conflicting view"));
  // The first hub's log still extends the head cosigned: the witness goes on.
  fs::remove_all(home.path() / witSg.id() / "log");
  CHECK(witness(witSg).at("cosigned") == false);
}

TEST_CASE_METHOD(Witnessed, "The hub refuses a cosignature from a non-witness or one that does not verify",
                 "[integration][witness]") {
  auto conn = hub.connect(a.keys);
  const auto head = conn->log(0, 1).head;
  const auto headSig = *crypto::Signature::fromBytes(head.signature);
  const auto byA = protocol::cosign(a.id(), head.head, headSig, nowMs(), a.keys.identity.secretKey);
  CHECK(hubRefusal([&] { conn->cosign(byA); }).code() == wire::ErrorCode::FORBIDDEN);

  auto w = hub.connect(witSg.keys);
  auto forged = protocol::cosign("wit-sg", head.head, headSig, nowMs(), a.keys.identity.secretKey);
  CHECK(hubRefusal([&] { w->cosign(forged); }).code() == wire::ErrorCode::BAD_SIGNATURE);
  auto forOther = protocol::cosign("wit-my", head.head, headSig, nowMs(), witSg.keys.identity.secretKey);
  CHECK(hubRefusal([&] { w->cosign(forOther); }).code() == wire::ErrorCode::FORBIDDEN);
  // A head the hub did not sign.
  auto fake = protocol::signLogHead(conn->session().hubId, 3, crypto::Hash256{}, nowMs(), a.keys.identity.secretKey);
  auto unsignedHead = protocol::cosign("wit-sg", fake.head, fake.signature, nowMs(), witSg.keys.identity.secretKey);
  CHECK(hubRefusal([&] { w->cosign(unsignedHead); }).code() == wire::ErrorCode::INVALID_REQUEST);

  // A good one is served with the head, to every client, after a restart too.
  const auto good = protocol::cosign("wit-sg", head.head, headSig, nowMs(), witSg.keys.identity.secretKey);
  w->cosign(good);
  hub.restart();
  auto again = hub.connect(b.keys);
  const auto served = again->log(0, 1).head.cosignatures;
  REQUIRE(served.size() == 1);
  CHECK(served[0].witnessId == "wit-sg");
  CHECK(served[0].signature == good.signature);
}

// Issue 26, "Enrolment pins the genesis" with witnesses: the bundle carries
// the policy and the cosignatures the hub holds; a profile enrolled from it
// pins the policy.
TEST_CASE_METHOD(Witnessed, "focald bundle carries the witness policy and cosignatures, and the policy is pinned",
                 "[integration][witness][bundle]") {
  witness(witSg);  // one of the two: the bundle is made, with a warning
  const auto made = runProcess({FOCALD_PATH, "bundle", hub.dir().string(), "--address", hub.address()});
  REQUIRE(made.exitCode == 0);
  CHECK_THAT(made.err, Catch::Contains("1 of the 2 witness cosignatures"));
  const json b = json::parse(made.out);
  CHECK(b.at("version") == 2);
  CHECK(b.at("witnesses").at("threshold") == 2);
  REQUIRE(b.at("witnesses").at("members").size() == 2);
  CHECK(b.at("witnesses").at("members")[0].at("key") == crypto::toHex(witSg.keys.identity.publicKey));
  REQUIRE(b.at("head").at("cosignatures").size() == 1);
  CHECK(b.at("head").at("cosignatures")[0].at("witness_id") == "wit-sg");

  const auto enrol = [&](const std::string& name, const json& bundle, int exit = 0) {
    const auto file = home.path() / (name + ".bundle.json");
    std::ofstream(file) << bundle.dump(2);
    return runCliJson({"--profile-dir", (home.path() / name).string(), "profile", "init", "--bundle", file.string(),
                       "--key", a.keyFile.string()},
                      exit);
  };
  const auto asProfile = [&](const std::string& name) {
    return std::vector<std::string>{"--profile-dir", (home.path() / name).string(), "--hub", hub.address()};
  };
  enrol("good", b);
  CHECK(runCliJson(concat(asProfile("good"), {"verify-log"})).at("bundle_pinned") == true);
  witness(witMy);
  runCliJson(concat(asProfile("good"), {"send", "--to", "my-pdrm", "--tlp", "green", "--category", "trend",
                                        "--title", "enrolled", "--body", "witnessed"}));

  // The key of the witness whose cosignature it carries replaced: its
  // cosignature no longer verifies, the bundle is refused on import.
  json forged = b;
  forged["witnesses"]["members"][0]["key"] = crypto::toHex(crypto::SigningKeyPair::generate().publicKey);
  CHECK(enrol("forged", forged, 1).at("error").at("code") == "bundle-bad-cosignature");

  // The other witness's key replaced: the bundle reads (nothing it carries
  // is signed by that key), but the log's genesis names another policy, so
  // the first connect fails with exit 3.
  json tampered = b;
  tampered["witnesses"]["members"][1]["key"] = crypto::toHex(crypto::SigningKeyPair::generate().publicKey);
  enrol("tampered", tampered);
  const auto e = runCliJson(concat(asProfile("tampered"), {"verify-log"}), 3);
  CHECK_THAT(errorText(e), Catch::StartsWith("verification-failed") && Catch::Contains("witness policy") &&
                               Catch::Contains("enrolment bundle"));
  // Another threshold is another policy too.
  json lower = b;
  lower["witnesses"]["threshold"] = 1;
  enrol("lower", lower);
  CHECK_THAT(errorText(runCliJson(concat(asProfile("lower"), {"inbox"}), 3)), Catch::Contains("witness policy"));
}

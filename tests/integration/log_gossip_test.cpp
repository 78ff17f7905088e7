// Gossip the hub cannot filter (issue 26, PROTOCOL.md §11.4, §11.5), end to
// end with the real focald and focal: every bulletin carries its sender's
// verified log head inside the encrypted content, and the receiver checks it
// against its own log. Two hubs made from one directory (same hub id, key,
// certificate and data) stand for one operator showing two views; the same
// bulletin bytes SG sealed are queued for MY in both, as one hub serving
// both views would. MY's client catches the fork on SG's first bulletin,
// records it, refuses to seal, and exports a proof anyone can check.
#include "hub_fixture.hpp"

#include "client/consensus_verifier.hpp"
#include "client/delivery_opener.hpp"
#include "client/log_gossip.hpp"
#include "client/verified_log.hpp"
#include "protocol/records.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace focal;
using namespace focal::test;
using nlohmann::json;

namespace {

std::string errorOf(const json& j) { return j.at("error").at("message").get<std::string>(); }

TestMember withKeyFile(Hub& hub, const std::string& id, const std::string& state) {
  return hub.createMember(id, state, wire::Institution::LAW_ENFORCEMENT, true);
}

// The bulletins queued for `to` at `from`, sent again by `sender` to `into`
// byte for byte (the hub cannot re-seal them: it only moves them).
void relayQueue(const Hub& from, const Hub& into, const TestMember& sender, const TestMember& to) {
  auto reader = from.connect(to.keys);
  auto writer = into.connect(sender.keys);
  for (const auto& d : reader->fetch(0).items) {
    protocol::SealedBulletin s;
    s.id = *d.bulletin.claimedId();
    s.header = d.bulletin.header;
    s.signature = *crypto::Signature::fromBytes(d.bulletin.signature);
    s.ciphertext = d.bulletin.ciphertext;
    writer->send(s);
  }
}

std::vector<std::string> sendArgs(const std::string& to) {
  return {"send", "--to", to, "--tlp", "green", "--category", "trend", "--title", "t", "--body", "b"};
}

// A library client of `me` whose verified log is at the hub's head now.
struct Receiver {
  std::unique_ptr<client::Connection> conn;
  std::unique_ptr<client::HubDirectory> dir;
  Receiver(const Hub& hub, const crypto::MemberKeys& me) : conn(hub.connect(me)) {
    dir = std::make_unique<client::HubDirectory>(client::HubDirectory::fetch(*conn));
  }
};

// A second hub copied from `a` (one operator's second view): then in A the
// admin revokes th-rtp-cyber, in B vn-mps-cyber is registered in that place.
std::unique_ptr<Hub> splitByOneRevocation(Hub& a, const TempDir& home) {
  a.stop();
  auto b = a.copyStopped();
  a.start();
  b->start();
  runCliJson(concat(a.cliGlobals(a.adminKeyFile(), home.path() / "admin-a"),
                    {"admin", "revoke", "th-rtp-cyber", "--reason", "laptop stolen"}));
  b->createMember("vn-mps-cyber", "VN");
  return b;
}

// SG, MY and TH, each with a key file, on hub `a` (which a test may split
// into two views, splitByOneRevocation).
struct ThreeStates {
  Hub a;
  TempDir home;
  TestMember sg = withKeyFile(a, "sg-spf-cyber", "SG");
  TestMember my = withKeyFile(a, "my-pdrm-cyber", "MY");
  TestMember th = withKeyFile(a, "th-rtp-cyber", "TH");
};

}  // namespace

TEST_CASE_METHOD(ThreeStates,
                 "A hub that shows SG and MY logs differing by one revocation is caught as a fork on SG's first bulletin",
                 "[integration][log][gossip][fork]") {
  // Entry 4 registered TH: the member whose key is stolen.
  const fs::path myProfile = home.path() / "my";
  runCliJson(concat(a.cliGlobals(my.keyFile, myProfile), {"verify-log"}));  // MY verified 5 entries
  // SG's view (hub A): the admin revokes TH's stolen key (entry 5). MY's view
  // (hub B): the revocation is not there; the admin's next entry, signed for
  // that place, is a registration.
  auto b = splitByOneRevocation(a, home);
  const auto sent = runCliJson(concat(a.cliGlobals(sg.keyFile, home.path() / "sg"), sendArgs("my-pdrm-cyber")));
  relayQueue(a, *b, sg, my);

  // MY's first read of SG's bulletin: a fork, recorded, loud, exit 3.
  const auto asMy = [&](const std::vector<std::string>& command, int exit) {
    return runCliJson(concat(b->cliGlobals(my.keyFile, myProfile), command), exit);
  };
  const auto alarm = errorOf(asMy({"inbox"}, 3));
  CHECK_THAT(alarm, Catch::Contains("FORK") && Catch::Contains("Head A: 6 entries") &&
                        Catch::Contains("Head B: 6 entries") && Catch::Contains("sg-spf-cyber") &&
                        Catch::Contains(sent.at("bulletin_id").get<std::string>()));
  // Recorded durably: every later command refuses, sending first of all.
  CHECK_THAT(errorOf(asMy(sendArgs("sg-spf-cyber"), 3)), Catch::Contains("FORK"));
  CHECK_THAT(errorOf(asMy({"directory"}, 3)), Catch::Contains("FORK"));

  // The proof: exported, and checked by anyone (a profile with no keys and no hub).
  const auto proofFile = home.path() / "fork-proof.json";
  const auto exported = asMy({"verify-log", "--proof-out", proofFile.string()}, 0);
  CHECK(exported.at("smaller").at("size") == 6);
  const auto anyone = [&](const fs::path& file, int exit) {
    return runCliJson({"--profile-dir", (home.path() / "anyone").string(), "verify-log", "--proof", file.string()}, exit);
  };
  const auto checked = anyone(proofFile, 0);
  CHECK(checked.at("proof_valid") == true);
  CHECK(checked.at("larger").at("size") == 6);
  CHECK(checked.at("hub_key_matches_profile").is_null());
  CHECK(asMy({"verify-log", "--proof", proofFile.string()}, 0).at("hub_key_matches_profile") == true);
  // A tampered proof is not one.
  auto tampered = slurp(proofFile);
  const auto at = tampered.find("\"larger_hash_at_smaller_size\": \"") + 32;
  tampered[at] = tampered[at] == '0' ? '1' : '0';
  std::ofstream(home.path() / "tampered.json") << tampered;
  CHECK_THAT(errorOf(anyone(home.path() / "tampered.json", 3)), Catch::Contains("not a fork proof"));
  std::ofstream(home.path() / "truncated.json") << slurp(proofFile).substr(0, 200);
  anyone(home.path() / "truncated.json", 3);

  // A person read the proof and clears the record: commands run again (and
  // the same bulletin, read again, raises the same alarm).
  CHECK(asMy({"verify-log", "--clear-fork"}, 0).at("cleared") == true);
  asMy({"verify-log"}, 0);
  asMy({"verify-log", "--proof-out", (home.path() / "again.json").string()}, 1);
  CHECK_THAT(errorOf(asMy({"inbox"}, 3)), Catch::Contains("FORK"));
}

TEST_CASE("Carried heads that agree with the receiver's log raise nothing: older, equal, and newer once served",
          "[integration][log][gossip]") {
  Hub hub;
  TempDir home;
  const auto sg = hub.createMember("sg-spf", "SG");
  const auto my = hub.createMember("my-pdrm", "MY");
  client::BulletinCache cache(home.path() / "cache");
  // SG's client carries the head it verified when it sealed.
  const auto sendWithHead = [&](const std::string& title) {
    Receiver sender(hub, sg.keys);
    auto draft = draftTo({&my.keys}, title);
    const auto& head = *sender.conn->verifiedLog()->head();
    draft.logHead = head.head;
    draft.logHeadSignature = head.signature;
    sender.conn->send(sealDraft(draft, sg.keys, crypto::ContentKey::random()));
  };
  const auto openAll = [&](Receiver& r) {
    std::vector<std::string> checks;
    for (const auto& d : client::fetchAll(*r.conn, 0)) {
      auto opened = client::openDelivery(*r.conn, r.dir, d, my.keys, cache);
      REQUIRE(opened);
      checks.push_back(opened->carriedHeadCheck);
    }
    return checks;
  };
  sendWithHead("equal");  // SG's head: 4 entries, MY's too
  {
    Receiver me(hub, my.keys);
    CHECK(openAll(me) == std::vector<std::string>{"consistent"});
  }
  hub.createMember("th-tcsd", "TH");  // 5 entries; SG's first bulletin still carries 4
  {
    Receiver me(hub, my.keys);
    CHECK(openAll(me) == std::vector<std::string>{"consistent"});  // an older prefix
  }
  Receiver me(hub, my.keys);          // MY's client verified 5 entries
  hub.createMember("vn-mps", "VN");   // 6
  sendWithHead("newer");              // carries 6: MY's client fetches and verifies up to it
  CHECK(openAll(me) == std::vector<std::string>{"consistent", "consistent"});
  CHECK(me.conn->verifiedLog()->size() == 6);
  // A head no hub signed is noted, not taken as evidence against the hub.
  auto draft = draftTo({&my.keys}, "forged head");
  draft.logHead = crypto::Bytes(40, 7);
  draft.logHeadSignature = crypto::Bytes(64, 1);
  hub.connect(sg.keys)->send(sealDraft(draft, sg.keys, crypto::ContentKey::random()));
  CHECK(openAll(me).back() == "invalid");
}

TEST_CASE("A carried head larger than the hub will serve is unconfirmed, not a fork", "[integration][log][gossip]") {
  Hub a;
  const auto sg = a.createMember("sg-spf", "SG");
  const auto my = a.createMember("my-pdrm", "MY");
  a.stop();
  auto b = a.copyStopped();
  a.start();
  b->start();
  a.createMember("th-tcsd", "TH");  // only SG's view grows
  Receiver sender(a, sg.keys);
  auto draft = draftTo({&my.keys}, "ahead");
  draft.logHead = sender.conn->verifiedLog()->head()->head;
  draft.logHeadSignature = sender.conn->verifiedLog()->head()->signature;
  b->connect(sg.keys)->send(sealDraft(draft, sg.keys, crypto::ContentKey::random()));
  TempDir home;
  client::BulletinCache cache(home.path() / "cache");
  Receiver me(*b, my.keys);
  const auto d = client::fetchAll(*me.conn, 0);
  REQUIRE(d.size() == 1);
  auto opened = client::openDelivery(*me.conn, me.dir, d[0], my.keys, cache);
  REQUIRE(opened);
  CHECK(opened->carriedHeadCheck == "unconfirmed");
  CHECK(me.conn->verifiedLog()->size() == 4);
}

// Comments carry their author's head too, sealed to the record's sender
// (PROTOCOL.md §11.4, §12.4): the secretariat's client, reading the comments
// on its record in its own view of the log, catches the fork.
TEST_CASE("A comment carrying a head of another view makes the record sender's client record a fork",
          "[integration][log][gossip][fork][comment]") {
  Hub a;
  TempDir home;
  const auto sec = a.createMember("sg-asean-sec", "SG", wire::Institution::SECRETARIAT, true);
  const auto my = withKeyFile(a, "my-pdrm-cyber", "MY");
  a.createMember("th-rtp-cyber", "TH");
  const auto secProfile = home.path() / "sec";
  const auto recordId =
      runCliJson(concat(a.cliGlobals(sec.keyFile, secProfile),
                        {"send", "--summary-record", "--to", "my-pdrm-cyber", "--tlp", "green", "--title",
                         "WG on CC summary record", "--body", "1. Opening.", "--comment-window", "1h"}))
          .at("bulletin_id")
          .get<std::string>();
  const auto record = *crypto::BulletinId::fromBytes(*crypto::fromHex(recordId));
  // MY's view (hub A): TH's key revoked. The secretariat's (hub B): not,
  // another registration in that place instead.
  auto b = splitByOneRevocation(a, home);

  // MY comments with the head it verified at A; the comment reaches the
  // secretariat through B (the hub moves it, it cannot open it).
  Receiver myClient(a, my.keys);
  const auto carried = client::headToCarry(*myClient.conn);
  REQUIRE(carried);
  b->connect(my.keys)->comment(protocol::makeComment(record, false, "Item 1: fine", sec.keys.publicKeys().encryption,
                                                     my.keys, nowMs(), carried));

  const auto asSec = [&](const std::vector<std::string>& command, int exit) {
    return runCliJson(concat(b->cliGlobals(sec.keyFile, secProfile), command), exit);
  };
  const auto alarm = errorOf(asSec({"record-status", recordId}, 3));
  CHECK_THAT(alarm, Catch::Contains("FORK") && Catch::Contains("the comment of my-pdrm-cyber") &&
                        Catch::Contains(recordId));
  CHECK_THAT(errorOf(asSec({"inbox"}, 3)), Catch::Contains("FORK"));  // recorded: every command refuses
  const auto proofFile = home.path() / "proof.json";
  CHECK(asSec({"verify-log", "--proof-out", proofFile.string()}, 0).at("smaller").at("size") == 6);

  // The same comment made by `focal comment` in the view MY verified: it
  // carries MY's head, and the secretariat reading it there sees no alarm.
  runCliJson(concat(a.cliGlobals(my.keyFile, home.path() / "my-a"), {"comment", recordId, "--text", "Item 1: fine"}));
  const auto inA = runCliJson(concat(a.cliGlobals(sec.keyFile, home.path() / "sec-a"), {"record-status", recordId}));
  REQUIRE(inA.at("comments").size() == 1);
  CHECK(inA.at("comments")[0].at("text") == "Item 1: fine");
  const auto status = a.connect(sec.keys)->recordStatus(record);
  REQUIRE(status.comments.size() == 1);
  const auto sig = crypto::Signature::fromBytes(status.comments[0].signature);
  REQUIRE(sig);
  const auto info = protocol::verifyComment(status.comments[0].body, *sig, my.keys.identity.publicKey);
  REQUIRE(info);
  const auto opened = protocol::openComment(info->sealedText, sec.keys.encryption);
  REQUIRE(opened);
  CHECK(opened->logHead.has_value());
}

// Acks carry their author's head beside them, signed for the bulletin and
// sealed to its sender (PROTOCOL.md §11.4): the hub stores and relays it in
// `status`, cannot read it, and cannot make one up or move it to another
// bulletin. SG, reading the status of its bulletin in its own view, catches
// MY's head of the other view.
TEST_CASE_METHOD(ThreeStates, "An ack carrying a head of another view makes the sender's status record a fork",
          "[integration][log][gossip][fork][ack]") {
  const auto sgProfile = home.path() / "sg";
  const auto first = runCliJson(concat(a.cliGlobals(sg.keyFile, sgProfile), sendArgs("my-pdrm-cyber")))
                         .at("bulletin_id")
                         .get<std::string>();
  const auto second = runCliJson(concat(a.cliGlobals(sg.keyFile, sgProfile), sendArgs("my-pdrm-cyber")))
                          .at("bulletin_id")
                          .get<std::string>();
  const auto idOf = [](const std::string& hex) { return *crypto::BulletinId::fromBytes(*crypto::fromHex(hex)); };

  // The same view: `focal ack` carries MY's head, and SG's status checks it.
  runCliJson(concat(a.cliGlobals(my.keyFile, home.path() / "my-a"), {"ack", first}));
  const auto agreed = runCliJson(concat(a.cliGlobals(sg.keyFile, sgProfile), {"status", first}));
  REQUIRE(agreed.at("recipients").size() == 1);
  CHECK(agreed.at("recipients")[0].at("state") == "acknowledged");
  CHECK(agreed.at("recipients")[0].at("ack_head") == "consistent");

  // MY's view (hub A): TH's key revoked. SG's (hub B): not.
  auto b = splitByOneRevocation(a, home);
  Receiver myClient(a, my.keys);
  const auto carried = client::headToCarry(*myClient.conn);
  REQUIRE(carried);
  const auto sealedFor = [&](const crypto::BulletinId& subject) {
    return protocol::sealCarriedHead(protocol::HeadCarrier::Ack, subject.view(), *carried,
                                     sg.keys.publicKeys().encryption, my.keys);
  };
  const std::vector<crypto::BulletinId> ids{idOf(second)};
  const auto asSg = [&](const std::vector<std::string>& command, int exit) {
    return runCliJson(concat(b->cliGlobals(sg.keyFile, sgProfile), command), exit);
  };
  // The head MY verified at A, acked through B (the hub moves it, it cannot open it).
  CHECK(b->connect(my.keys)->ack(ids, std::vector<crypto::Bytes>{sealedFor(idOf(second))}) == 1);
  const auto alarm = errorOf(asSg({"status", second}, 3));
  CHECK_THAT(alarm, Catch::Contains("FORK") && Catch::Contains("the ack of my-pdrm-cyber") && Catch::Contains(second));
  CHECK_THAT(errorOf(asSg({"inbox"}, 3)), Catch::Contains("FORK"));  // recorded: every command refuses
}

TEST_CASE("An ack's sealed head made for another bulletin or by another member is invalid, not a fork",
          "[integration][log][gossip][ack]") {
  Hub hub;
  TempDir home;
  const auto sg = withKeyFile(hub, "sg-spf-cyber", "SG");
  const auto my = withKeyFile(hub, "my-pdrm-cyber", "MY");
  const auto th = withKeyFile(hub, "th-rtp-cyber", "TH");
  const auto sgProfile = home.path() / "sg";
  std::vector<crypto::BulletinId> ids;
  for (int i = 0; i < 3; ++i) {
    const auto hex = runCliJson(concat(hub.cliGlobals(sg.keyFile, sgProfile), sendArgs("my-pdrm-cyber,th-rtp-cyber")))
                         .at("bulletin_id")
                         .get<std::string>();
    ids.push_back(*crypto::BulletinId::fromBytes(*crypto::fromHex(hex)));
  }
  Receiver myClient(hub, my.keys);
  const auto head = client::headToCarry(*myClient.conn);
  REQUIRE(head);
  const auto seal = [&](const crypto::BulletinId& subject, const crypto::Keyring& author) {
    return protocol::sealCarriedHead(protocol::HeadCarrier::Ack, subject.view(), *head, sg.keys.publicKeys().encryption,
                                     author);
  };
  // MY's ack of bulletin 0 carries the head MY signed for bulletin 1; MY's
  // ack of bulletin 1 carries one TH signed; bulletin 2's is bytes nobody sealed.
  const auto ack = [&](int i, crypto::Bytes sealed) {
    const std::vector<crypto::BulletinId> one{ids[i]};
    CHECK(myClient.conn->ack(one, std::vector<crypto::Bytes>{std::move(sealed)}) == 1);
  };
  ack(0, seal(ids[1], my.keys));
  ack(1, seal(ids[1], th.keys));
  ack(2, crypto::Bytes(300, 0x5a));
  for (const auto& id : ids) {
    const auto st = runCliJson(concat(hub.cliGlobals(sg.keyFile, sgProfile), {"status", crypto::toHex(id)}));
    for (const auto& r : st.at("recipients")) {
      CHECK(r.at("ack_head") == (r.at("member_id") == "my-pdrm-cyber" ? "invalid" : ""));
    }
  }
  // The hub refuses heads that do not match the ids, or are oversize.
  const std::vector<crypto::BulletinId> two{ids[0], ids[1]};
  CHECK_THROWS_AS(myClient.conn->ack(two, std::vector<crypto::Bytes>{crypto::Bytes(300, 1), crypto::Bytes()}),
                  client::HubError);
  CHECK_THROWS_AS(myClient.conn->ack(std::vector<crypto::BulletinId>{ids[0]},
                                     std::vector<crypto::Bytes>{crypto::Bytes(protocol::MaxSealedHeadBytes + 1, 1)}),
                  client::HubError);
}

// Decisions carry their author's head beside them, sealed to the proposer
// and kept out of the log (PROTOCOL.md §11.4): the proposer's client checks
// the heads of its open proposals when it lists them.
TEST_CASE_METHOD(ThreeStates, "A decision carrying a head of another view makes the proposer's listing record a fork",
          "[integration][log][gossip][fork][decision]") {
  const auto adminProfile = home.path() / "admin";
  const auto pid = runCliJson(concat(a.cliGlobals(a.adminKeyFile(), adminProfile),
                                     {"admin", "propose-amendment", "--text", "Para 10: ten days.", "--expires", "14d"}))
                       .at("proposal_id")
                       .get<std::string>();
  // The same view: `focal approve` carries SG's head; the admin's listing checks it.
  runCliJson(concat(a.cliGlobals(sg.keyFile, home.path() / "sg"), {"approve", pid}));
  const auto inA = runCliJson(concat(a.cliGlobals(a.adminKeyFile(), adminProfile), {"proposals"}));
  REQUIRE(inA.size() == 1);
  CHECK(inA[0].at("decision_heads") == json::parse(R"([{"member_id": "sg-spf-cyber", "head": "consistent"}])"));
  // Anyone else is not given the sealed heads.
  CHECK(runCliJson(concat(a.cliGlobals(sg.keyFile, home.path() / "sg"), {"proposals"}))[0].at("decision_heads") ==
        json::array());

  // MY's view (hub A) and the admin's (hub B) differ by one revocation; MY's
  // decision, with the head it verified at A, reaches the admin through B.
  auto b = splitByOneRevocation(a, home);
  Receiver myClient(a, my.keys);
  const auto listing = myClient.conn->listProposals();
  REQUIRE(listing.size() == 1);
  const auto v = client::verifyListing(listing[0], *myClient.dir);
  const auto sealed = client::decisionHead(*myClient.conn, *myClient.dir, v, my.keys);
  REQUIRE(sealed);
  b->connect(my.keys)->decide(protocol::makeDecision(v.proposalBody, true, my.keys, nowMs()), sealed);
  const auto asAdmin = [&](const std::vector<std::string>& command, int exit) {
    return runCliJson(concat(b->cliGlobals(b->adminKeyFile(), adminProfile), command), exit);
  };
  const auto alarm = errorOf(asAdmin({"proposals"}, 3));
  CHECK_THAT(alarm, Catch::Contains("FORK") && Catch::Contains("the decision of my-pdrm-cyber") && Catch::Contains(pid));

  // The hub refuses a sealed head that is empty or oversize (and records no
  // decision): TH, not revoked in B's view, tries.
  const auto record = protocol::makeDecision(v.proposalBody, true, th.keys, nowMs());
  for (const auto& bad : {crypto::Bytes(), crypto::Bytes(protocol::MaxSealedHeadBytes + 1, 1)}) {
    CHECK_THROWS_AS(b->connect(th.keys)->decide(record, bad), client::HubError);
  }
  CHECK(b->connect(th.keys)->listProposals()[0].decisions.size() == 2);  // SG's and MY's only
}

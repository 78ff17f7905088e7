// Issue 18, finding 2: text chosen by another party never reaches a terminal
// raw. A member (and the admin, for names and reasons) puts escape
// sequences, C1 controls, bidi overrides and newlines into every field it
// can; every command that shows them runs as a subprocess and the raw bytes
// it writes to stdout and stderr are checked. --json keeps exact values.
//
// Titles and bodies are content: only UTF-8 validity is enforced, so they
// stay hostile end to end. The single-line fields (case reference, handling
// text, ATT&CK ids, attachment name and media type, addresses) are refused by
// the sender's own client (sealBulletin: InvalidText), and the header ones by
// the hub too; both refusals are asserted. The ATT&CK ids and the attachment
// name and media type live inside the encrypted content, which the hub cannot
// check, so b1 carries hostile ones the way a modified client would send them
// (sealed benign, then the content rewritten and the header re-signed).
//
// Texts the hub stores in the clear (member names, revocation and retraction
// reasons, proposals) are sent through the client library. The hub refuses
// control and bidi characters in them (protocol/text.hpp), which is asserted;
// a field the hub did store would still be looked for, escaped, in the output
// (the WARN-and-skip branches), so the terminal defence does not silently
// depend on the hub's.
#include "hub_fixture.hpp"
#include "tests/support/log_events.hpp"
#include "client/client_error.hpp"
#include "client/safe_text.hpp"
#include "client/spooled_blob.hpp"
#include "crypto/primitives.hpp"
#include "protocol/bulletin.hpp"
#include "protocol/consensus.hpp"
#include "protocol/records.hpp"
#include "protocol/signing.hpp"

#include <catch2/catch.hpp>
#include <capnp/message.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace focal;
using namespace focal::test;
using nlohmann::json;

namespace {

// Cursor up 7, erase the line, then a fake sender line; a window title; a
// screen clear; the 8-bit CSI encoded as U+009B; an override and an isolate.
const std::string HostileTitle = "Quarterly\x1b]0;owned\x07\x1b[2J report \u202Etxt.exe\nFrom: fake";
const std::string HostileBody =
    "First line of the body.\n"
    "\x1b[7A\x1b[2KFrom:      evil-member (Evil)  [signature verified]\n"
    "           fingerprint 0000\xc2\x9b" "2J \u2066isolated\u2069 \rFrom: carriage\n"
    "last line";
const std::string HostileName = "Evil Corp\x1b[2J\nzz-fake-row            Fake Member\u202E";
const std::string HostileReason = "reason\x1b[1;31m red\nzz-fake-row \u202Eetc";
const std::string HostileFile = "invoice\u202Evsc.exe";
const std::string HostileCase = "CASE-1\x1b[8m hidden\nCase: fake";
const std::string HostileHandling = "no press\x1b]52;c;ZXZpbA==\x07";
const std::string HostileAttack = "T1566\x1b[2K";
const std::string HostileMediaType = "text/plain\x1b[2J";
// What b1's header carries instead: the sender's client and the hub refuse
// the hostile ones.
const std::string BenignCase = "CASE-1";
const std::string BenignHandling = "no press";
// What the hub lets an amendment hold: line breaks and tabs.
const std::string MultiLineAmendment = "Article 3.\nzz-fake-row  approved by every member state\n\tend";

std::string shown(const std::string& s) { return client::safeBlock(s); }

// The raw bytes a terminal would act on: none may appear.
void checkClean(const ProcessResult& r, const std::string& what) {
  INFO(what << " -> exit " << r.exitCode << "\nstdout (escaped here): " << shown(r.out)
            << "\nstderr (escaped here): " << shown(r.err));
  for (const auto* s : {&r.out, &r.err}) {
    CHECK(s->find('\x1b') == std::string::npos);
    CHECK(s->find('\x07') == std::string::npos);
    CHECK(s->find('\r') == std::string::npos);
    CHECK(s->find("\xc2\x9b") == std::string::npos);      // U+009B, CSI
    CHECK(s->find("\xe2\x80\xae") == std::string::npos);  // U+202E
    CHECK(s->find("\xe2\x81\xa6") == std::string::npos);  // U+2066
    CHECK(s->find("\xe2\x81\xa9") == std::string::npos);  // U+2069
  }
}

ProcessResult runClean(const std::vector<std::string>& args, int expectedExit = 0) {
  auto r = runCli(args);
  std::string line;
  for (const auto& a : args) line += " " + a;
  checkClean(r, "focal" + client::safeLine(line));
  INFO("focal" << client::safeLine(line) << "\nstdout: " << shown(r.out) << "\nstderr: " << shown(r.err));
  REQUIRE(r.exitCode == expectedExit);
  return r;
}

json runJsonClean(const std::vector<std::string>& args, int expectedExit = 0) {
  auto r = runClean(concat({"--json"}, args), expectedExit);
  json j;
  REQUIRE_NOTHROW(j = json::parse(r.out));
  return j;
}

// `focal listen` until it has printed its backlog (it says "Listening" on
// stderr once the backlog is drained), then SIGINT, as a user stops it: a
// condition with a deadline, not a fixed wait.
ProcessResult listenUntilBacklogShown(const std::vector<std::string>& args) {
  return runCli(args, std::nullopt, std::chrono::seconds(120), [](const ProcessResult& soFar) {
    return soFar.err.find("Listening for bulletins") != std::string::npos;
  });
}

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Sends an admin log event; false when the hub refuses it.
bool adminEvent(Hub& hub, const std::function<void(wire::LogEvent::Builder)>& build) {
  capnp::MallocMessageBuilder event;
  auto e = event.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(nowMs());
  build(e);
  try {
    hub.connect(hub.adminKeys())->admin(event);
    return true;
  } catch (const client::HubError& e) {
    WARN("the hub refused a hostile text (" << client::safeLine(e.what()) << "): not looked for in the output");
    return false;
  }
}

template <class F>
bool accepted(F&& f) {
  try {
    f();
    return true;
  } catch (const client::HubError& e) {
    WARN("the hub refused a hostile text (" << client::safeLine(e.what()) << "): not looked for in the output");
    return false;
  }
}

struct HostileWorld {
  Hub hub;
  TempDir home;
  TestMember sg = hub.createMember("sg-spf-cyber", "SG", wire::Institution::LAW_ENFORCEMENT, true);
  TestMember my = hub.createMember("my-pdrm-cyber", "MY", wire::Institution::LAW_ENFORCEMENT, true);
  TestMember sec = hub.createMember("sg-asean-sec", "SG", wire::Institution::SECRETARIAT, true);
  crypto::MemberKeys evil = crypto::MemberKeys::generate("th-evil", nowMs());
  crypto::MemberKeys gone = crypto::MemberKeys::generate("la-gone", nowMs());
  bool nameStored = false;
  bool revokeReasonStored = false;
  bool retractionStored = false;
  bool admissionStored = false;
  bool amendmentStored = false;
  std::string hostileId;    // b1: every bulletin field hostile, with an attachment
  std::string retractedId;  // b2: retracted with a hostile reason
  std::string recordId;     // a summary record with a hostile comment
  std::vector<std::string> args(const TestMember& m) const {
    return hub.cliGlobals(m.keyFile, home.path() / (m.id() + "-profile"));
  }

  HostileWorld() {
    auto registerMember = [&](const crypto::MemberKeys& k, const std::string& name, const std::string& state) {
      return adminEvent(hub, [&](wire::LogEvent::Builder e) {
        test_support::events::fillRegistration(e, {k.memberId, state, wire::Institution::LAW_ENFORCEMENT, false},
                                               k.publicKeys(), name);
      });
    };
    nameStored = registerMember(evil, HostileName, "TH");
    CHECK_FALSE(nameStored);  // the hub refuses a control or bidi character in a name
    if (!nameStored) REQUIRE(registerMember(evil, "Evil Corp", "TH"));
    REQUIRE(registerMember(gone, "Gone", "LA"));
    revokeReasonStored = adminEvent(hub, [&](wire::LogEvent::Builder e) {
      auto r = e.initRevoke();
      r.setMemberId("la-gone");
      r.setReason(HostileReason);
    });
    CHECK_FALSE(revokeReasonStored);

    // b1: SG to MY, one attachment. The sender's client refuses every
    // hostile single-line field; the title and body (content) stay hostile.
    auto conn = hub.connect(sg.keys);
    const auto file = home.path() / "plain.txt";
    std::ofstream(file) << "attachment content\n";
    auto contentKey = crypto::ContentKey::random();
    auto blob = client::SpooledBlob::encrypt(file, crypto::attachmentKey(contentKey, 0), home.path());
    conn->uploadBlob(blob.reader(), blob.size(), blob.hash());
    protocol::BulletinDraft d;
    d.hubId = "focal-hub";  // the test hub (seal v2 binds its id)
    d.tlp = wire::Tlp::GREEN;
    d.category = wire::Category::ALERT;
    d.title = HostileTitle;
    d.body = HostileBody;
    d.caseRef = BenignCase;
    d.handling = wire::Handling::H3;
    d.handlingText = BenignHandling;
    d.attackTechniques = {"T1566", "T1204.002"};
    d.addresses = {"my-pdrm-cyber"};
    d.recipients = {protocol::RecipientKey{"my-pdrm-cyber", my.keys.encryption.publicKey}};
    d.attachments.push_back(
        protocol::AttachmentDraft{"invoice.txt", "text/plain", blob.plainSize(), blob.hash(), blob.size()});
    auto refusedWith = [&](const std::function<void(protocol::BulletinDraft&)>& spoil) {
      auto bad = d;
      spoil(bad);
      auto r = protocol::sealBulletin(bad, sg.keys, contentKey, nowMs());
      return r ? std::optional<protocol::SealError>() : std::optional(r.error());
    };
    const auto invalidText = std::optional(protocol::SealError::InvalidText);
    CHECK(refusedWith([](auto& b) { b.caseRef = HostileCase; }) == invalidText);
    CHECK(refusedWith([](auto& b) { b.handlingText = HostileHandling; }) == invalidText);
    CHECK(refusedWith([](auto& b) { b.attackTechniques[0] = HostileAttack; }) == invalidText);
    CHECK(refusedWith([](auto& b) { b.attachments[0].name = HostileFile; }) == invalidText);
    CHECK(refusedWith([](auto& b) { b.attachments[0].mediaType = HostileMediaType; }) == invalidText);
    CHECK(refusedWith([](auto& b) { b.addresses = {"my-pdrm-cyber\x1b[2J"}; }) == invalidText);
    auto sealed = protocol::sealBulletin(d, sg.keys, contentKey, nowMs());
    REQUIRE(sealed);

    // A modified client re-signs a header with a hostile case reference or
    // handling text: the hub, which stores and relays the header, refuses it.
    auto hubRefusal = [&](const protocol::SealedBulletin& s) {
      try {
        conn->send(s);
      } catch (const client::HubError& e) {
        return std::string(e.what());
      }
      return std::string("accepted");
    };
    CHECK_THAT(hubRefusal(resignedHeader(*sealed, sg.keys,
                                            [](auto h) { h.setCaseRef(protocol::asText(HostileCase)); })),
               Catch::Contains("control character"));
    CHECK_THAT(hubRefusal(resignedHeader(*sealed, sg.keys,
                                            [](auto h) { h.setHandlingText(protocol::asText(HostileHandling)); })),
               Catch::Contains("control character"));

    // ... but the content is opaque to the hub: the ATT&CK id and the
    // attachment's name and media type arrive hostile.
    auto hostile = withContent(*sealed, contentKey, sg.keys, [](wire::Content::Builder c) {
      c.getAttackTechniques().set(0, protocol::asText(HostileAttack));
      c.getAttachments()[0].setName(protocol::asText(HostileFile));
      c.getAttachments()[0].setMediaType(protocol::asText(HostileMediaType));
    });
    conn->send(hostile);
    hostileId = crypto::toHex(hostile.id);

    // b2: retracted with a hostile reason.
    auto b2 = sealTo(sg.keys, {&my.keys}, "to be retracted", "b", wire::Tlp::GREEN);
    conn->send(b2);
    retractedId = crypto::toHex(b2.id);
    retractionStored = accepted([&] { conn->retract(protocol::makeRetraction(b2.id, HostileReason, sg.keys, nowMs())); });
    CHECK_FALSE(retractionStored);

    // A summary record from the secretariat; MY comments with a hostile text.
    protocol::BulletinDraft r;
    r.hubId = "focal-hub";  // the test hub (seal v2 binds its id)
    r.tlp = wire::Tlp::GREEN;
    r.category = wire::Category::SUMMARY_RECORD;
    r.kind = wire::BulletinKind::SUMMARY_RECORD;
    r.commentDeadlineMs = nowMs() + 3'600'000;
    r.title = "WG summary record";
    r.body = "1. Opening.";
    r.addresses = {"my-pdrm-cyber"};
    r.recipients = {protocol::RecipientKey{"my-pdrm-cyber", my.keys.encryption.publicKey}};
    auto record = protocol::sealBulletin(r, sec.keys, crypto::ContentKey::random(), nowMs());
    REQUIRE(record);
    hub.connect(sec.keys)->send(*record);
    recordId = crypto::toHex(record->id);
    hub.connect(my.keys)->comment(
        protocol::makeComment(record->id, true, HostileBody, sec.keys.encryption.publicKey, my.keys, nowMs()));

    // Proposals: an amendment with a hostile text, an admission with a hostile name.
    auto admin = hub.connect(hub.adminKeys());
    // Every point of contact is shown an amendment: the hub refuses controls
    // and bidi characters in it, but not line breaks and tabs, so a
    // multi-line amendment with a fake row is proposed too.
    amendmentStored = accepted([&] {
      admin->propose(protocol::makeAmendmentProposal(HostileBody, hub.adminKeys(), nowMs(), nowMs() + 86'400'000));
    });
    CHECK_FALSE(amendmentStored);
    admin->propose(protocol::makeAmendmentProposal(MultiLineAmendment, hub.adminKeys(), nowMs(), nowMs() + 86'400'000));
    protocol::AdmissionDraft adm;
    adm.memberId = "acme-labs";
    adm.name = HostileName;
    adm.keys = crypto::MemberKeys::generate("acme-labs", nowMs()).publicKeys();
    admissionStored = accepted([&] {
      admin->propose(protocol::makeAdmissionProposal(adm, hub.adminKeys(), nowMs(), nowMs() + 86'400'000));
    });
    CHECK_FALSE(admissionStored);
  }
};

}  // namespace

TEST_CASE_METHOD(HostileWorld, "read: hostile bulletin fields are escaped and cannot displace the sender lines",
                 "[integration][terminal]") {
  const auto saveDir = home.path() / "received";
  auto r = runClean(concat(args(my), {"read", hostileId, "--save-dir", saveDir.string()}));
  const auto lines = linesOf(r.out);
  // Exactly one line starts with "From:", the real one, before the body;
  // the body's fake one is visibly body.
  std::vector<std::string> fromLines;
  for (const auto& l : lines) {
    if (l.rfind("From:", 0) == 0) fromLines.push_back(l);
  }
  REQUIRE(fromLines.size() == 1);
  CHECK(fromLines[0].rfind("From:      sg-spf-cyber (Test member sg-spf-cyber)  [signature verified]", 0) == 0);
  CHECK_THAT(r.out, Catch::Contains("  | \\x1b[7A\\x1b[2KFrom:      evil-member (Evil)  [signature verified]"));
  CHECK_THAT(r.out, Catch::Contains("  | First line of the body."));
  CHECK_THAT(r.out, Catch::Contains("\\u009b2J \\u2066isolated\\u2069 \\rFrom: carriage"));
  // Single-line fields stay on their line.
  CHECK_THAT(r.out, Catch::Contains("Title:     Quarterly\\x1b]0;owned\\x07\\x1b[2J report \\u202etxt.exe\\nFrom: fake"));
  // The case reference and handling text are the benign ones (the hostile
  // ones were refused by the client and the hub: see HostileWorld).
  CHECK_THAT(r.out, Catch::Contains("Case:      CASE-1\n"));
  CHECK_THAT(r.out, Catch::Contains("other restrictions: no press"));
  CHECK_THAT(r.out, Catch::Contains("ATT&CK:    T1566\\x1b[2K, T1204.002"));
  CHECK_THAT(r.out, Catch::Contains("  invoice\\u202evsc.exe  19 bytes  text/plain\\x1b[2J  -> saved to "));
  // The attachment is saved under a name without the override.
  CHECK(slurp(saveDir / "invoicevsc.exe") == "attachment content\n");
  // The verified sender is the last word, after all the content.
  REQUIRE(!lines.empty());
  CHECK(lines.back().rfind("=== TLP:GREEN === from sg-spf-cyber (fingerprint ", 0) == 0);
  CHECK_THAT(lines.back(), Catch::EndsWith("), signature verified"));

  // --json keeps every value exactly.
  auto j = runJsonClean(concat(args(my), {"read", hostileId}));
  CHECK(j.at("title") == HostileTitle);
  CHECK(j.at("body") == HostileBody);
  CHECK(j.at("case") == BenignCase);
  CHECK(j.at("handling_text") == BenignHandling);
  CHECK(j.at("attack").at(0) == HostileAttack);
  CHECK(j.at("attachments").at(0).at("name") == HostileFile);
  CHECK(j.at("attachments").at(0).at("media_type") == HostileMediaType);
}

TEST_CASE_METHOD(HostileWorld, "inbox, listen, thread, ack and a retracted read show hostile titles and reasons escaped",
                 "[integration][terminal]") {
  auto inbox = runClean(concat(args(my), {"inbox"}));
  // One row per bulletin: no title or reason adds a row.
  CHECK_THAT(inbox.out, Catch::Contains("Quarterly\\x1b]0;owned\\x07\\x1b[2J report \\u202etxt.exe\\nFrom: fake"));
  for (const auto& l : linesOf(inbox.out)) CHECK(l.rfind("From:", 0) != 0);
  for (const auto& l : linesOf(inbox.out)) CHECK(l.rfind("zz-fake-row", 0) != 0);
  if (retractionStored) CHECK_THAT(inbox.out, Catch::Contains("[RETRACTED: reason\\x1b[1;31m red\\nzz-fake-row \\u202eetc]"));
  auto j = runJsonClean(concat(args(my), {"inbox"}));
  bool sawTitle = false;
  for (const auto& item : j) sawTitle = sawTitle || (item.contains("title") && item.at("title") == HostileTitle);
  CHECK(sawTitle);

  // listen prints the backlog, then waits for pushes until SIGINT.
  auto listen = listenUntilBacklogShown(concat(hub.cliGlobals(my.keyFile, home.path() / "listen-profile"),
                                               {"listen", "--all"}));
  checkClean(listen, "focal listen");
  CHECK(listen.exitCode == 0);
  CHECK_THAT(listen.out, Catch::Contains("\\u202etxt.exe\\nFrom: fake"));

  auto thread = runClean(concat(args(my), {"thread", hostileId}));
  CHECK_THAT(thread.out, Catch::Contains("* " + hostileId));
  CHECK(linesOf(thread.out).size() == 1);

  if (retractionStored) {
    auto read = runClean(concat(args(my), {"read", retractedId}));
    CHECK_THAT(read.out, Catch::Contains("RETRACTED by sg-spf-cyber at "));
    CHECK_THAT(read.out, Catch::Contains(": reason\\x1b[1;31m red\\nzz-fake-row \\u202eetc"));
    auto ack = runClean(concat(args(my), {"ack", retractedId}));
    CHECK_THAT(ack.out, Catch::Contains("RETRACTED by its sender: reason\\x1b[1;31m red\\nzz-fake-row"));
    CHECK(runJsonClean(concat(args(my), {"read", retractedId})).at("retraction_reason") == HostileReason);
  }
}

TEST_CASE_METHOD(HostileWorld, "directory, fingerprint, admin list and admin log: hostile names and reasons add no row",
                 "[integration][terminal]") {
  auto dir = runClean(concat(args(my), {"directory"}));
  for (const auto& l : linesOf(dir.out)) {
    // A row that mentions the fake row's text is th-evil's own row.
    if (l.find("zz-fake-row") != std::string::npos) CHECK(l.find("th-evil") != std::string::npos);
  }
  if (nameStored) {
    CHECK_THAT(dir.out, Catch::Contains("th-evil                Evil Corp\\x1b[2J\\nzz-fake-row            Fake Member\\u202e"));
    auto j = runJsonClean(concat(args(my), {"directory"}));
    bool exact = false;
    for (const auto& m : j) exact = exact || (m.at("member_id") == "th-evil" && m.at("name") == HostileName);
    CHECK(exact);
  }
  runClean(concat(args(my), {"fingerprint", "th-evil"}));
  auto list = runClean(concat(args(my), {"admin", "list"}));
  for (const auto& l : linesOf(list.out)) CHECK(l.rfind("zz-fake-row", 0) != 0);
  auto log = runClean(concat(args(my), {"admin", "log"}));
  for (const auto& l : linesOf(log.out)) CHECK(l.rfind("zz-fake-row", 0) != 0);
  if (revokeReasonStored) CHECK_THAT(log.out, Catch::Contains("reason: reason\\x1b[1;31m red\\nzz-fake-row \\u202eetc"));
  auto adminLog = runJsonClean(concat(args(my), {"admin", "log"}));
  if (revokeReasonStored) {
    bool exact = false;
    for (const auto& e : adminLog.at("entries")) exact = exact || (e.value("reason", std::string()) == HostileReason);
    CHECK(exact);
  }
  // The admin's own views: the audit trail and the log.
  const auto adminArgs = hub.cliGlobals(hub.adminKeyFile(), home.path() / "admin-profile");
  runClean(concat(adminArgs, {"admin", "audit"}));
}

TEST_CASE_METHOD(HostileWorld, "record-status, proposals and status render comments, amendments and names escaped",
                 "[integration][terminal]") {
  auto st = runClean(concat(args(sec), {"record-status", recordId}));
  CHECK_THAT(st.out, Catch::Contains("      | \\x1b[7A\\x1b[2KFrom:      evil-member (Evil)  [signature verified]"));
  for (const auto& l : linesOf(st.out)) CHECK(l.rfind("From:", 0) != 0);
  auto stj = runJsonClean(concat(args(sec), {"record-status", recordId}));
  CHECK(stj.at("comments").at(0).at("text") == HostileBody);

  auto props = runClean(concat(args(my), {"proposals"}));
  if (amendmentStored) CHECK_THAT(props.out, Catch::Contains("    | \\x1b[7A\\x1b[2KFrom:      evil-member"));
  // The multi-line amendment the hub accepts: each of its lines is quoted
  // as the amendment's, none passes for a row of its own.
  CHECK_THAT(props.out, Catch::Contains("    | Article 3.\n    | zz-fake-row  approved by every member state\n"));
  for (const auto& l : linesOf(props.out)) CHECK(l.rfind("zz-fake-row", 0) != 0);
  if (admissionStored) CHECK_THAT(props.out, Catch::Contains("admit acme-labs (Evil Corp\\x1b[2J\\nzz-fake-row"));

  auto status = runClean(concat(args(sg), {"status", hostileId}));
  CHECK_THAT(status.out, Catch::Contains("my-pdrm-cyber"));
  // The admin log's one-line preview of the amendment (not adopted: none);
  // export of the hostile bulletin into a file keeps the exact text.
  const auto out = home.path() / "b1.json";
  runClean(concat(args(my), {"export", hostileId, "--out", out.string()}));
  CHECK(json::parse(slurp(out)).at("title") == HostileTitle);
}

TEST_CASE("keygen refuses the group words of the address syntax and ids with control or bidi characters",
          "[integration][terminal][keygen]") {
  TempDir home;
  for (const std::string id : {"all", "members", "partners", "resource-panel", "state:SG", "ab\x1b[2J", "ab\ncd",
                               "ab\u202Ecd", "evil\u200F", "x"}) {
    const auto out = home.path() / "k.key";
    auto r = runCli({"--json", "keygen", "--member", id, "--out", out.string(), "--kdf", "interactive"});
    INFO(client::safeLine(id) << " -> " << shown(r.out) << shown(r.err));
    CHECK(r.exitCode == 1);
    CHECK(json::parse(r.out).at("error").at("code") == "bad-member-id");
    CHECK(!fs::exists(out));
    checkClean(r, "keygen");
  }
  auto ok = runCli({"--json", "keygen", "--member", "all-hands.sg", "--out", (home.path() / "ok.key").string(),
                    "--kdf", "interactive"});
  CHECK(ok.exitCode == 0);
}

// Text fields end to end (issue 18, finding 4, and the hub's refusal of
// control and bidi characters in what it stores): every text round-trips
// byte for byte through the real CLI and hub; NUL and invalid UTF-8 are
// refused with the field named, never cut at the first NUL; the hub refuses
// them in every field it can see, and control/bidi characters in the
// single-line fields it stores; a receiving client refuses content whose
// text fields are not valid text.
#include "hub_fixture.hpp"

#include "client/client_error.hpp"
#include "crypto/primitives.hpp"
#include "protocol/bulletin.hpp"
#include "protocol/consensus.hpp"
#include "protocol/records.hpp"
#include "protocol/signing.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace focal;
using namespace focal::test;
using nlohmann::json;

namespace {

// Exactly these bytes as a Cap'n Proto Text (no strlen).
capnp::Text::Reader bytesText(std::string_view s) { return capnp::Text::Reader(s.data(), s.size()); }

// One of each class of Unicode scalar value, and every byte 0x01..0x7F.
std::string everyScalarClass() {
  std::string s;
  for (int b = 0x01; b <= 0x7f; ++b) s.push_back(static_cast<char>(b));
  s += " | 2-byte: \xC2\x80 \xC2\xA9 \xC3\xA9 \xC3\x9F \xDF\xBF";                   // U+0080 (C1), ©, é, ß, U+07FF
  s += " | 3-byte: \xE0\xA0\x80 \xE2\x82\xAC \xED\x9F\xBF \xEE\x80\x80 \xEF\xBF\xBF";  // U+0800, €, U+D7FF, U+E000, U+FFFF
  s += " | CJK: \xE6\xBC\xA2\xE5\xAD\x97 \xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4";         // 漢字 한국어
  s += " | Thai: \xE0\xB8\xA0\xE0\xB8\xB2\xE0\xB8\xA9\xE0\xB8\xB2\xE0\xB9\x84\xE0\xB8\x97\xE0\xB8\xA2";  // ภาษาไทย
  s += " | Vietnamese: Vi\xE1\xBB\x87t";                                               // Việt
  s += " | combining: e\xCC\x81 a\xCC\x8A\xCC\xA3";                                     // e + U+0301, a + U+030A U+0323
  s += " | emoji: \xF0\x9F\x98\x80 \xF0\x9F\x87\xB8\xF0\x9F\x87\xAC \xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB";
  s += " | 4-byte: \xF0\x90\x80\x80 \xF4\x8F\xBF\xBF";                                 // U+10000, U+10FFFF
  s += " | replacement: \xEF\xBF\xBD";                                                 // U+FFFD
  s += "\n";
  return s;
}

void writeFile(const fs::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

struct Pair {
  Hub hub;
  TempDir home;
  TestMember sg;
  TestMember my;
  std::vector<std::string> sgArgs;
  std::vector<std::string> myArgs;
  Pair()
      : sg(hub.createMember("sg-text", "SG", wire::Institution::LAW_ENFORCEMENT, true)),
        my(hub.createMember("my-text", "MY", wire::Institution::LAW_ENFORCEMENT, true)),
        sgArgs(hub.cliGlobals(sg.keyFile, home.path() / "sg-profile")),
        myArgs(hub.cliGlobals(my.keyFile, home.path() / "my-profile")) {}

  // Nothing queued for my-text: a refused send left nothing behind.
  bool myQueueEmpty() { return hub.connect(my.keys)->fetch(0).items.empty(); }
};

std::vector<std::string> sendArgs(const Pair& p, std::vector<std::string> extra) {
  return concat(concat(concat({"--json"}, p.sgArgs), {"send", "--to", "my-text", "--tlp", "green", "--category", "trend"}),
                extra);
}

// The error message of a --json failure ("" if there is none).
std::string errorMessage(const ProcessResult& r) {
  try {
    return json::parse(r.out).at("error").at("message").get<std::string>();
  } catch (const std::exception&) {
    return r.out + r.err;
  }
}

// A bulletin from sg to my whose Content was rewritten by `mutate` after
// sealing: re-encrypted under the same key, the header's hash and size
// updated and re-signed, so only the text of the content is wrong.
// One row of a table of hostile inputs: a change to a message a test sends.
template <class Builder>
struct Mutation {
  std::string name;
  std::function<void(Builder)> mutate;
};

protocol::SealedBulletin sealWithContent(const TestMember& sender, const TestMember& recipient,
                                         const std::function<void(wire::Content::Builder)>& mutate) {
  auto d = draftTo({&recipient.keys}, "placeholder", wire::Tlp::GREEN);
  d.body = "placeholder";
  const auto key = crypto::ContentKey::random();
  return withContent(sealDraft(d, sender.keys, key), key, sender.keys, mutate);
}

// A register event for a fresh member named `name`.
void registerEvent(capnp::MallocMessageBuilder& event, const crypto::PublicKeys& pk, std::string_view name) {
  auto e = event.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(nowMs());
  auto m = e.initRegister().initMember();
  m.setId(bytesText(pk.memberId));
  m.setName(bytesText(name));
  m.setState("SG");
  m.setInstitution(wire::Institution::LAW_ENFORCEMENT);
  auto k = e.getRegister().initKeys();
  k.setIdentityKey(protocol::kjBytes(pk.identity.view()));
  k.setEncryptionKey(protocol::kjBytes(pk.encryption.view()));
  k.setEncKeyCreatedAtMs(pk.createdAtMs);
  k.setEncKeyCert(protocol::kjBytes(pk.encCert.view()));
}

// Single-line text a hostile member might try to store.
const std::vector<std::pair<std::string, std::string>> HostileSingleLine = {
    {"a line break", "SPF\nsg-evil  SG  law-enforcement"},
    {"a carriage return", "SPF\rFake"},
    {"a tab", "SPF\tCyber"},
    {"ESC (a terminal escape)", "SPF\x1b[2J"},
    {"DEL", "SPF\x7f"},
    {"a C1 control (8-bit CSI)", "SPF\xC2\x9B" "7A"},
    {"U+202E right-to-left override", "x\xE2\x80\xAEvsc.exe"},
    {"U+2066 left-to-right isolate", "SPF\xE2\x81\xA6x"},
    {"a NUL byte", std::string("SPF\0hidden", 10)},
    {"invalid UTF-8", "SPF \xff\xfe"},
};

}  // namespace

TEST_CASE("Every Unicode scalar class and every byte 0x01-0x7F round-trip exactly through focal send and focal read",
          "[integration][text]") {
  Pair p;
  const std::string body = everyScalarClass();
  const std::string title = "Title " + body;  // argv carries every byte but NUL
  const std::string caseRef = "AWGC-2026/\xE0\xB8\x97\xE0\xB8\xB5\xE0\xB9\x88 \xE6\xBC\xA2 \xF0\x9F\x98\x80 \xEF\xBF\xBD";
  const std::string handlingText = "Ch\xE1\xBB\x89 d\xC3\xB9ng n\xE1\xBB\x99i b\xE1\xBB\x99 \xF4\x8F\xBF\xBF";
  const auto file = p.home.path() / "body.txt";
  writeFile(file, body);

  auto sent = runCli(sendArgs(p, {"--title", title, "--body-file", file.string(), "--case", caseRef, "--handling", "H3",
                                  "--handling-text", handlingText}));
  INFO("stdout: " << sent.out << "\nstderr: " << sent.err);
  REQUIRE(sent.exitCode == 0);
  const auto id = json::parse(sent.out).at("bulletin_id").get<std::string>();

  auto read = runCli(concat(concat({"--json"}, p.myArgs), {"read", id}));
  INFO("read stdout: " << read.out << "\nstderr: " << read.err);
  REQUIRE(read.exitCode == 0);
  const auto j = json::parse(read.out);
  CHECK(j.at("title").get<std::string>() == title);
  CHECK(j.at("body").get<std::string>() == body);
  CHECK(j.at("body").get<std::string>().size() == body.size());
  CHECK(j.at("case").get<std::string>() == caseRef);
  CHECK(j.at("handling_text").get<std::string>() == handlingText);

  // The same body on standard input.
  auto piped = runCli(sendArgs(p, {"--title", "piped"}), body);
  REQUIRE(piped.exitCode == 0);
  auto readPiped = runCli(concat(concat({"--json"}, p.myArgs), {"read", json::parse(piped.out).at("bulletin_id").get<std::string>()}));
  REQUIRE(readPiped.exitCode == 0);
  CHECK(json::parse(readPiped.out).at("body").get<std::string>() == body);
}

TEST_CASE("focal send refuses a body file with NUL, UTF-16 or invalid UTF-8, naming --body-file and suggesting --attach",
          "[integration][text]") {
  Pair p;
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {"a NUL byte", std::string("first line\n\0second line\n", 24)},
      {"UTF-16LE with a BOM", std::string("\xff\xfeS\0e\0c\0r\0e\0t\0\n\0", 16)},
      {"UTF-16BE with a BOM", std::string("\xfe\xff\0S\0e\0c", 8)},
      {"Latin-1", "caf\xe9 cr\xe8me\n"},
      {"an overlong slash", "a\xC0\xAF" "b"},
      {"a surrogate", "a\xED\xA0\x80" "b"},
      {"a code point above U+10FFFF", "a\xF4\x90\x80\x80" "b"},
      {"a truncated sequence at the end", "ends in \xE2\x82"},
      {"a stray continuation byte", "a\x80" "b"},
  };
  for (const auto& [what, bytes] : bodies) {
    {
      INFO(what);
      const auto file = p.home.path() / "body.bin";
      writeFile(file, bytes);
      auto r = runCli(sendArgs(p, {"--title", "t", "--body-file", file.string()}));
      INFO("stdout: " << r.out << "\nstderr: " << r.err);
      CHECK(r.exitCode == 1);
      const auto message = errorMessage(r);
      CHECK(message.find("--body-file") != std::string::npos);
      CHECK(message.find("--attach") != std::string::npos);
      CHECK(p.myQueueEmpty());
    }
  }
  {
      INFO("a NUL byte on standard input");
    auto r = runCli(sendArgs(p, {"--title", "t"}), std::string("before\0after", 12));
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exitCode == 1);
    CHECK(errorMessage(r).find("standard input") != std::string::npos);
    CHECK(p.myQueueEmpty());
  }
}

TEST_CASE("focal send refuses invalid UTF-8 in each text option, and controls in the single-line ones, naming the option",
          "[integration][text]") {
  Pair p;
  struct Case {
    std::string option;
    std::vector<std::string> args;
  };
  const std::string bad = "x\xC3";  // a truncated 2-byte sequence
  const std::vector<Case> cases = {
      {"--title", {"--title", "T " + bad, "--body", "b"}},
      {"--body", {"--title", "t", "--body", "B " + bad}},
      {"--case", {"--title", "t", "--body", "b", "--case", "AWGC-" + bad}},
      {"--handling-text", {"--title", "t", "--body", "b", "--handling", "H3", "--handling-text", "only " + bad}},
      {"--attack", {"--title", "t", "--body", "b", "--attack", "T1566" + bad}},
      {"--case", {"--title", "t", "--body", "b", "--case", "AWGC\x1b[2J"}},
      {"--case", {"--title", "t", "--body", "b", "--case", "AWGC\n2"}},
      {"--case", {"--title", "t", "--body", "b", "--case", "AWGC\xE2\x80\xAE" "2"}},
      {"--handling-text", {"--title", "t", "--body", "b", "--handling", "H3", "--handling-text", "a\nb"}},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    {
      INFO(c.option << " #" << i);
      auto r = runCli(sendArgs(p, c.args));
      INFO("stdout: " << r.out << "\nstderr: " << r.err);
      CHECK(r.exitCode == 1);
      CHECK(errorMessage(r).find(c.option) != std::string::npos);
      CHECK(p.myQueueEmpty());
    }
  }
}

TEST_CASE("The hub refuses a bulletin header whose text fields are not valid text, with invalidRequest naming the field",
          "[integration][text]") {
  Pair p;
  auto c = p.hub.connect(p.sg.keys);
  const auto base = sealTo(p.sg.keys, {&p.my.keys}, "title");
  // Each named by the field the hub's refusal must name.
  const std::vector<Mutation<wire::BulletinHeader::Builder>> cases = {
      {"caseRef", [](auto h) { h.setCaseRef(bytesText(std::string_view("AWGC\0-17", 8))); }},
      {"caseRef", [](auto h) { h.setCaseRef(bytesText("AWGC \xff")); }},
      {"caseRef", [](auto h) { h.setCaseRef(bytesText("AWGC\x1b[2J")); }},
      {"caseRef", [](auto h) { h.setCaseRef(bytesText("AWGC\xE2\x80\xAE" "71")); }},
      {"handlingText", [](auto h) {
         h.setHandling(wire::Handling::H3);
         h.setHandlingText(bytesText(std::string_view("not\0shown", 9)));
       }},
      {"handlingText", [](auto h) {
         h.setHandling(wire::Handling::H3);
         h.setHandlingText(bytesText("line one\nline two"));
       }},
      {"addresses", [](auto h) { h.getAddresses().set(0, bytesText(std::string_view("my-text\0", 8))); }},
      {"addresses", [](auto h) { h.getAddresses().set(0, bytesText("my-text\xC0\x80")); }},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    {
      INFO(cases[i].name << " #" << i);
      const auto bad = resignedHeader(base, p.sg.keys, cases[i].mutate);
      const auto e = hubRefusal([&] { c->send(bad); });
      CHECK(e.code() == wire::ErrorCode::INVALID_REQUEST);
      INFO(e.hubMessage());
      CHECK(e.hubMessage().find(cases[i].name) != std::string::npos);
      CHECK(p.myQueueEmpty());
    }
  }
}

TEST_CASE("A receiving client refuses a bulletin whose content has a text field with NUL or invalid UTF-8",
          "[integration][text]") {
  Pair p;
  auto c = p.hub.connect(p.sg.keys);
  const std::vector<Mutation<wire::Content::Builder>> cases = {
      {"NUL in the body", [](auto x) { x.setBody(bytesText(std::string_view("shown\0hidden", 12))); }},
      {"invalid UTF-8 in the title", [](auto x) { x.setTitle(bytesText("t\xff")); }},
      {"a surrogate in an ATT&CK id", [](auto x) { x.initAttackTechniques(1).set(0, bytesText("T1566\xED\xB0\x80")); }},
      {"NUL in the STIX bundle", [](auto x) { x.setStixBundle(bytesText(std::string_view("{}\0", 3))); }},
  };
  for (const auto& k : cases) {
    {
      INFO(k.name);
      const auto bad = sealWithContent(p.sg, p.my, k.mutate);
      (void)c->send(bad);  // the hub cannot see content: accepted
      auto r = runCli(concat(concat({"--json"}, p.myArgs), {"read", crypto::toHex(bad.id)}));
      INFO("stdout: " << r.out << "\nstderr: " << r.err);
      CHECK(r.exitCode == 3);
      CHECK(r.out.find("hidden") == std::string::npos);
      CHECK(errorMessage(r).find("text field") != std::string::npos);  // the decoder names it
    }
  }
}

TEST_CASE("The hub refuses control, line-break and bidi characters in the member names, ids and reasons it stores",
          "[integration][text]") {
  Pair p;
  auto admin = p.hub.connect(p.hub.adminKeys());
  for (const auto& entry : HostileSingleLine) {
    // (Named copies, not a structured binding: clang 14 cannot capture one in a lambda.)
    const auto& what = entry.first;
    const auto& hostile = entry.second;
    {
      INFO("register: a member name with " << what);
      auto keys = crypto::MemberKeys::generate("sg-hostile", nowMs());
      capnp::MallocMessageBuilder event;
      registerEvent(event, keys.publicKeys(), hostile);
      const auto e = hubRefusal([&] { (void)admin->admin(event); });
      CHECK(e.code() == wire::ErrorCode::INVALID_REQUEST);
      INFO(e.hubMessage());
      CHECK(e.hubMessage().find("name") != std::string::npos);
      CHECK(p.hub.connect(p.my.keys)->directory().members.size() == 3);  // admin, sg, my: nothing stored
    }
    {
      INFO("revoke: a reason with " << what);
      capnp::MallocMessageBuilder event;
      auto e = event.initRoot<wire::LogEvent>();
      e.setIssuedAtMs(nowMs());
      auto r = e.initRevoke();
      r.setMemberId("my-text");
      r.setReason(bytesText(hostile));
      const auto err = hubRefusal([&] { (void)admin->admin(event); });
      CHECK(err.code() == wire::ErrorCode::INVALID_REQUEST);
      INFO(err.hubMessage());
      CHECK(err.hubMessage().find("reason") != std::string::npos);
    }
    {
      INFO("retract: a reason with " << what);
      auto sg = p.hub.connect(p.sg.keys);
      const auto b = sealTo(p.sg.keys, {&p.my.keys}, "to retract");
      (void)sg->send(b);
      const auto err =
          hubRefusal([&] { (void)sg->retract(protocol::makeRetraction(b.id, hostile, p.sg.keys, nowMs())); });
      CHECK(err.code() == wire::ErrorCode::INVALID_REQUEST);
      INFO(err.hubMessage());
      CHECK(err.hubMessage().find("reason") != std::string::npos);
    }
    {
      INFO("propose admission: a member name with " << what);
      auto keys = crypto::MemberKeys::generate("panel-hostile", nowMs());
      protocol::AdmissionDraft d{keys.memberId, hostile, "", wire::Institution::RESOURCE_PANEL, keys.publicKeys(), {}};
      const auto record = protocol::makeAdmissionProposal(d, p.hub.adminKeys(), nowMs(), nowMs() + 86'400'000);
      const auto err = hubRefusal([&] { (void)admin->propose(record); });
      CHECK(err.code() == wire::ErrorCode::INVALID_REQUEST);
      INFO(err.hubMessage());
      CHECK(err.hubMessage().find("name") != std::string::npos);
    }
  }
  {
      INFO("rotate-key and role change: a member id with a control character");
    for (const std::string& id : {std::string("my-text\n"), std::string("my-text\x1b"), std::string("my\xE2\x80\xAEtext")}) {
      capnp::MallocMessageBuilder rotate;
      auto e = rotate.initRoot<wire::LogEvent>();
      e.setIssuedAtMs(nowMs());
      auto r = e.initRotateEncryption();
      r.setMemberId(bytesText(id));
      r.setPreviousKey(protocol::kjBytes(p.my.keys.encryption.publicKey.view()));
      const auto err = hubRefusal([&] { (void)admin->admin(rotate); });
      CHECK(err.code() == wire::ErrorCode::INVALID_REQUEST);
      capnp::MallocMessageBuilder role;
      auto e2 = role.initRoot<wire::LogEvent>();
      e2.setIssuedAtMs(nowMs());
      e2.initRoleChange().setMemberId(bytesText(id));
      const auto err2 = hubRefusal([&] { (void)admin->admin(role); });
      CHECK(err2.code() == wire::ErrorCode::INVALID_REQUEST);
    }
  }
  {
      INFO("propose amendment: controls and bidi refused, line breaks and tabs allowed");
    for (const std::string& text : {std::string("Amend \x1b[2J the terms"), std::string("Amend \xE2\x80\xAE the terms"),
                                   std::string("Amend \xC2\x9B the terms"), std::string("Amend\0 hidden", 13)}) {
      const auto record = protocol::makeAmendmentProposal(text, p.hub.adminKeys(), nowMs(), nowMs() + 86'400'000);
      const auto err = hubRefusal([&] { (void)admin->propose(record); });
      CHECK(err.code() == wire::ErrorCode::INVALID_REQUEST);
      INFO(err.hubMessage());
      CHECK(err.hubMessage().find("amendment") != std::string::npos);
    }
    const auto ok = protocol::makeAmendmentProposal("Article 3:\n\tthe secretariat rotates yearly.", p.hub.adminKeys(),
                                                    nowMs(), nowMs() + 86'400'000);
    CHECK_NOTHROW(admin->propose(ok));
  }
}

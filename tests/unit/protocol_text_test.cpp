// protocol/text.hpp: the UTF-8 validator, the single-line predicate, and the
// decoder's refusal of any Text that is not valid text (issue 18, finding 4).
#include "client/file_names.hpp"
#include "crypto/primitives.hpp"
#include "protocol/bulletin.hpp"
#include "protocol/message.hpp"
#include "protocol/text.hpp"
#include "protocol_test_support.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace focal;
using protocol::TextProblem;

namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

}  // namespace

TEST_CASE("checkText accepts every class of Unicode scalar value and every byte 0x01-0x7F", "[protocol][text]") {
  std::string ascii;
  for (int b = 1; b <= 0x7f; ++b) ascii.push_back(static_cast<char>(b));
  CHECK(protocol::checkText(ascii) == TextProblem::None);
  CHECK(protocol::checkText("") == TextProblem::None);
  for (const char* s : {
           "\xC2\x80", "\xDF\xBF",                          // U+0080, U+07FF
           "\xE0\xA0\x80", "\xED\x9F\xBF", "\xEE\x80\x80",  // U+0800, U+D7FF, U+E000
           "\xEF\xBF\xBD", "\xEF\xBF\xBF",                  // U+FFFD, U+FFFF
           "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF",          // U+10000, U+10FFFF
           "\xE6\xBC\xA2\xE5\xAD\x97",                      // CJK
           "\xE0\xB8\xA0\xE0\xB8\xB2\xE0\xB8\xA9\xE0\xB8\xB2",  // Thai
           "e\xCC\x81",                                     // combining acute
           "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB",  // emoji ZWJ sequence
       }) {
    INFO(s);
    CHECK(protocol::checkText(s) == TextProblem::None);
  }
}

TEST_CASE("checkText refuses NUL, overlong forms, surrogates, code points above U+10FFFF and broken sequences",
          "[protocol][text]") {
  CHECK(protocol::checkText(std::string("a\0b", 3)) == TextProblem::Nul);
  CHECK(protocol::checkText(std::string(1, '\0')) == TextProblem::Nul);
  const std::vector<std::string> invalid = {
      bytes({0xC0, 0x80}),              // overlong NUL
      bytes({0xC1, 0xBF}),              // overlong 2-byte
      bytes({0xE0, 0x80, 0xAF}),        // overlong 3-byte
      bytes({0xE0, 0x9F, 0xBF}),        // overlong 3-byte (U+07FF)
      bytes({0xF0, 0x80, 0x80, 0xAF}),  // overlong 4-byte
      bytes({0xF0, 0x8F, 0xBF, 0xBF}),  // overlong 4-byte (U+FFFF)
      bytes({0xED, 0xA0, 0x80}),        // U+D800
      bytes({0xED, 0xBF, 0xBF}),        // U+DFFF
      bytes({0xF4, 0x90, 0x80, 0x80}),  // U+110000
      bytes({0xF5, 0x80, 0x80, 0x80}),  // lead byte F5
      bytes({0xFF}), bytes({0xFE}),     // never in UTF-8 (BOM bytes of UTF-16)
      bytes({0x80}),                    // stray continuation
      bytes({0xC3}),                    // truncated at the end
      bytes({0xE2, 0x82}),              // truncated 3-byte
      bytes({0xF0, 0x9F, 0x98}),        // truncated 4-byte
      bytes({0xC3, 0x41}),              // lead followed by ASCII
      bytes({0xE2, 0x28, 0xA1}),        // bad second byte
      bytes({0xF0, 0x9F, 0x98, 0x41}),  // bad fourth byte
  };
  for (const auto& s : invalid) {
    INFO("bytes of length " << s.size() << " starting " << static_cast<int>(static_cast<unsigned char>(s[0])));
    CHECK(protocol::checkText(s) == TextProblem::InvalidUtf8);
    CHECK(protocol::checkText("ok " + s + " ok") == TextProblem::InvalidUtf8);
    CHECK_FALSE(protocol::isSafeSingleLineText(s));
  }
}

TEST_CASE("isSafeSingleLineText refuses C0, DEL, C1, line breaks and bidi overrides and isolates", "[protocol][text]") {
  CHECK(protocol::isSafeSingleLineText("Cyber Security Agency of Singapore"));
  CHECK(protocol::isSafeSingleLineText("\xE0\xB8\xAA\xE0\xB8\x99\xE0\xB8\x87 \xE6\xBC\xA2 \xF0\x9F\x98\x80 \xEF\xBF\xBD"));
  CHECK(protocol::isSafeSingleLineText("U+200E is a mark, not an override: a\xE2\x80\x8E" "b"));
  CHECK(protocol::isSafeSingleLineText(""));
  for (int c = 0x01; c < 0x20; ++c) {
    const auto problem = protocol::checkSingleLineText("a" + std::string(1, static_cast<char>(c)) + "b");
    CHECK(problem == ((c == '\n' || c == '\r') ? TextProblem::Newline : TextProblem::Control));
  }
  CHECK(protocol::checkSingleLineText("a\x7f") == TextProblem::Control);
  for (int c = 0x80; c <= 0x9f; ++c) {
    CHECK(protocol::checkSingleLineText("a" + bytes({0xC2, c})) == TextProblem::Control);
  }
  for (int c : {0xAA, 0xAB, 0xAC, 0xAD, 0xAE}) {  // U+202A..U+202E
    CHECK(protocol::checkSingleLineText("a" + bytes({0xE2, 0x80, c})) == TextProblem::Bidi);
  }
  for (int c : {0xA6, 0xA7, 0xA8, 0xA9}) {  // U+2066..U+2069
    CHECK(protocol::checkSingleLineText("a" + bytes({0xE2, 0x81, c})) == TextProblem::Bidi);
  }
  CHECK(protocol::checkSingleLineText(std::string("a\0", 2)) == TextProblem::Nul);
}

TEST_CASE("checkMultiLineText allows line feeds and tabs but no other control or bidi override", "[protocol][text]") {
  CHECK(protocol::checkMultiLineText("Article 3:\n\tthe secretariat rotates yearly.\n") == TextProblem::None);
  CHECK(protocol::checkMultiLineText("a\r\nb") == TextProblem::Control);
  CHECK(protocol::checkMultiLineText("a\x1b[2Jb") == TextProblem::Control);
  CHECK(protocol::checkMultiLineText("a\xC2\x9B" "b") == TextProblem::Control);
  CHECK(protocol::checkMultiLineText("a\xE2\x80\xAE" "b") == TextProblem::Bidi);
}

TEST_CASE("asText keeps every byte, NUL included - utf8Prefix never cuts inside a sequence", "[protocol][text]") {
  const std::string s("a\0b", 3);
  CHECK(protocol::asText(s).size() == 3);
  CHECK(protocol::utf8Prefix("ab\xE2\x82\xAC" "cd", 3) == "ab");
  CHECK(protocol::utf8Prefix("ab\xE2\x82\xAC" "cd", 5) == "ab\xE2\x82\xAC");
  CHECK(protocol::utf8Prefix("abc", 10) == "abc");
}

TEST_CASE("The decoder refuses a message with a Text field that holds NUL or invalid UTF-8, naming the field",
          "[protocol][text]") {
  for (const std::string& bad : {std::string("shown\0hidden", 12), std::string("caf\xE9"), std::string("\xED\xA0\x80")}) {
    capnp::MallocMessageBuilder m;
    auto c = m.initRoot<wire::Content>();
    c.setTitle("fine");
    c.setBody(protocol::asText(bad));
    auto decoded = protocol::decode<wire::Content>(protocol::toBytes(m));
    REQUIRE_FALSE(decoded);
    CHECK(decoded.error().code == wire::ErrorCode::MALFORMED_FRAME);
    CHECK(decoded.error().message.find("body") != std::string::npos);
  }
  // In a list of Text, and in a nested struct.
  capnp::MallocMessageBuilder list;
  list.initRoot<wire::Content>().initAttackTechniques(2).set(1, protocol::asText("T1566\xFF"));
  auto d1 = protocol::decode<wire::Content>(protocol::toBytes(list));
  REQUIRE_FALSE(d1);
  CHECK(d1.error().message.find("attackTechniques") != std::string::npos);
  capnp::MallocMessageBuilder nested;
  nested.initRoot<wire::LogEvent>().initRegister().initMember().setName(protocol::asText(std::string("x\0y", 3)));
  auto d2 = protocol::decode<wire::LogEvent>(protocol::toBytes(nested));
  REQUIRE_FALSE(d2);
  CHECK(d2.error().message.find("name") != std::string::npos);
}

TEST_CASE("sealBulletin refuses a title, body or header text that is not valid text instead of cutting it",
          "[protocol][text]") {
  crypto::initialize();  // libsodium before sodium_malloc
  const auto sender = crypto::MemberKeys::generate("sg-a", 1);
  const auto recipient = crypto::MemberKeys::generate("my-b", 1);
  auto draft = [&] { return protocol::testing::draftTo(recipient); };
  const auto key = crypto::ContentKey::random();
  std::vector<std::function<void(protocol::BulletinDraft&)>> mutations = {
      [](auto& d) { d.body = std::string("\xff\xfeS\0e\0", 6); },
      [](auto& d) { d.title = "t\xC3"; },
      [](auto& d) { d.caseRef = std::string("A\0B", 3); },
      [](auto& d) { d.caseRef = "A\x1b[2J"; },
      [](auto& d) { d.attackTechniques = {"T1566\n"}; },
      [](auto& d) { d.stixBundle = "{\xED\xA0\x80}"; },
  };
  for (std::size_t i = 0; i < mutations.size(); ++i) {
    INFO("mutation " << i);
    auto d = draft();
    mutations[i](d);
    auto sealed = protocol::sealBulletin(d, sender, key, 1000);
    REQUIRE_FALSE(sealed);
    CHECK(sealed.error() == protocol::SealError::InvalidText);
  }
  // Controls in the title and body are content, kept exactly.
  auto d = draft();
  d.title = "T\x1b[7A\tx";
  d.body.clear();
  for (int b = 1; b <= 0x7f; ++b) d.body.push_back(static_cast<char>(b));
  auto sealed = protocol::sealBulletin(d, sender, key, 1000);
  REQUIRE(sealed);
  auto opened = protocol::openBulletin(sealed->header, sealed->signature, sealed->ciphertext,
                                       sender.identity.publicKey, recipient);
  REQUIRE(opened);
  CHECK(protocol::view(opened->content.root().getTitle()) == d.title);
  CHECK(protocol::view(opened->content.root().getBody()) == d.body);
}

TEST_CASE("An attachment name is made safe single-line text before it is sealed or saved: bidi and C1 dropped, "
          "bytes that are not UTF-8 replaced",
          "[protocol][text]") {
  // The display trick of U+202E is gone: the saved name reads as it sorts.
  CHECK(client::sanitizeFileName("x\xE2\x80\xAEtxt.exe", "attachment-1") == "xtxt.exe");
  CHECK(client::sanitizeFileName("caf\xE9.txt", "attachment-1") == "caf_.txt");
  CHECK(client::sanitizeFileName("a\xC2\x9B" "b.txt", "attachment-1") == "ab.txt");
  for (const char* hostile : {"x\xE2\x80\xAEtxt.exe", "caf\xE9.txt", "a\xC2\x9B" "b.txt", "\x1b[2J.txt", "a\nb"}) {
    CHECK(protocol::isSafeSingleLineText(client::sanitizeFileName(hostile, "attachment-1")));
  }
  CHECK(client::sanitizeFileName("\xE0\xB8\xA3\xE0\xB8\xB2\xE0\xB8\xA2\xE0\xB8\x87\xE0\xB8\xB2\xE0\xB8\x99.pdf", "x") ==
        "\xE0\xB8\xA3\xE0\xB8\xB2\xE0\xB8\xA2\xE0\xB8\x87\xE0\xB8\xB2\xE0\xB8\x99.pdf");
}

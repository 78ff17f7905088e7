// The one function that makes other parties' text safe for a terminal
// (client/safe_text.hpp): each class of dangerous character is shown as a
// visible escape and never emitted; every other valid UTF-8 passes through.
#include "client/file_names.hpp"
#include "client/safe_text.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <string>

using namespace focal::client;
using namespace std::string_literals;

namespace {

// No byte a terminal would act on: C0 (but \n and \t where allowed), DEL,
// raw 0x80..0xFF that are not part of valid UTF-8 are checked by decoding.
bool terminalClean(std::string_view s, TextShape shape) {
  for (std::size_t i = 0; i < s.size();) {
    const auto step = decodeUtf8(s, i);
    if (!step.valid || escapedOnTerminal(step.codePoint, shape)) return false;
    i += step.length;
  }
  return true;
}

}  // namespace

TEST_CASE("safe text: C0 controls, DEL and ESC sequences are shown as hex escapes", "[client][safe-text]") {
  CHECK(safeLine("a\x1b[7Ab") == "a\\x1b[7Ab");
  CHECK(safeLine("\x1b]0;owned\x07") == "\\x1b]0;owned\\x07");
  CHECK(safeLine("x\x1b[2Jy") == "x\\x1b[2Jy");
  CHECK(safeLine("nul\0here"s) == "nul\\x00here");
  CHECK(safeLine("del\x7f") == "del\\x7f");
  CHECK(safeLine("bs\x08\x08") == "bs\\x08\\x08");
  for (int c = 0; c < 0x20; ++c) {
    const std::string in(1, static_cast<char>(c));
    const auto line = safeLine(in);
    CHECK(line.front() == '\\');
    CHECK(terminalClean(line, TextShape::Line));
  }
}

TEST_CASE("safe text: a Line escapes newline, tab and CR, a Block keeps newline and tab", "[client][safe-text]") {
  CHECK(safeLine("two\nrows") == "two\\nrows");
  CHECK(safeLine("tab\there") == "tab\\there");
  CHECK(safeLine("cr\rover") == "cr\\rover");
  CHECK(safeBlock("line 1\nline 2\n\tindented") == "line 1\nline 2\n\tindented");
  // A lone CR would return to the start of the line and overwrite what the
  // CLI printed there; CR LF is a Windows line break.
  CHECK(safeBlock("fake\rFrom: x") == "fake\\rFrom: x");
  CHECK(safeBlock("windows\r\nbody\r\n") == "windows\nbody\n");
  CHECK(safeBlock("esc\x1b[7A\x1b[2Kx") == "esc\\x1b[7A\\x1b[2Kx");
  CHECK(safeBlock("vt\x0b ff\x0c") == "vt\\x0b ff\\x0c");
}

TEST_CASE("safe text: C1 controls, encoded or as raw bytes, never reach the terminal", "[client][safe-text]") {
  // U+009B (CSI) and U+0085 (NEL) encoded in UTF-8.
  CHECK(safeLine("a\xc2\x9b" "2Jb") == "a\\u009b2Jb");
  CHECK(safeBlock("nel\xc2\x85x") == "nel\\u0085x");
  for (char32_t c = 0x80; c <= 0x9F; ++c) {
    std::string in;
    in += static_cast<char>(0xC0 | (c >> 6));
    in += static_cast<char>(0x80 | (c & 0x3F));
    CHECK(safeBlock(in) == fmt::format("\\u{:04x}", static_cast<unsigned>(c)));
  }
  // The 8-bit CSI as a raw byte is not UTF-8.
  CHECK(safeLine("a\x9b" "2Jb") == "a\\x9b2Jb");
  CHECK(safeBlock("\x9b\x9d\x90") == "\\x9b\\x9d\\x90");
}

TEST_CASE("safe text: bidi overrides and isolates are escaped everywhere, marks in single lines",
          "[client][safe-text]") {
  CHECK(safeLine("x\u202Evsc.exe") == "x\\u202evsc.exe");
  CHECK(safeBlock("x\u202Evsc.exe") == "x\\u202evsc.exe");
  for (char32_t c : {0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069}) {
    CHECK(escapedOnTerminal(c, TextShape::Line));
    CHECK(escapedOnTerminal(c, TextShape::Block));
  }
  CHECK(safeLine("a\u2066b\u2069") == "a\\u2066b\\u2069");
  // Line and paragraph separators: escaped in both shapes.
  CHECK(safeBlock("a\u2028b\u2029c") == "a\\u2028b\\u2029c");
  // Marks: escaped in a name, kept in a body (right-to-left text uses them).
  CHECK(safeLine("name\u200F\u200E\u061C") == "name\\u200f\\u200e\\u061c");
  CHECK(safeBlock("\u05E9\u05DC\u05D5\u05DD\u200F!") == "\u05E9\u05DC\u05D5\u05DD\u200F!");
}

TEST_CASE("safe text: bytes that are not UTF-8 are shown as hex escapes, one per byte", "[client][safe-text]") {
  CHECK(safeLine("\xff") == "\\xff");
  CHECK(safeLine("ok\xfe\xff" "ok") == "ok\\xfe\\xffok");
  CHECK(safeLine("\xc0\xaf") == "\\xc0\\xaf");                  // overlong '/'
  CHECK(safeLine("\xe0\x80\xaf") == "\\xe0\\x80\\xaf");          // overlong, 3 bytes
  CHECK(safeLine("\xed\xa0\x80") == "\\xed\\xa0\\x80");          // a surrogate
  CHECK(safeLine("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  CHECK(safeLine("cut \xe2\x80") == "cut \\xe2\\x80");           // truncated sequence
  CHECK(safeLine("\x80lone") == "\\x80lone");                    // a lone continuation byte
  // UTF-16 (what a Windows editor may save) is NUL-laden, not passed raw.
  CHECK(safeBlock("\xff\xfeS\0"s) == "\\xff\\xfeS\\x00");
}

TEST_CASE("safe text: every other valid UTF-8 passes through unchanged", "[client][safe-text]") {
  const std::string samples[] = {
      "plain ASCII: !\"#$%&'()*+,-./0123456789:;<=>?@[\\]^_`{|}~",
      "\u65B0\u52A0\u5761 \u8B66\u5BDF \u30B5\u30A4\u30D0\u30FC \uD55C\uAD6D\uC5B4",  // CJK, kana, hangul
      "\u0E20\u0E32\u0E29\u0E32\u0E44\u0E17\u0E22",                                  // Thai, with vowel marks
      "Vi\u1EC7t Nam, Bahasa Melayu, Tagalog, \u1019\u103C\u1014\u103A\u1019\u102C",  // Vietnamese, Burmese
      "e\u0301 a\u0308 n\u0303",                                                     // combining marks
      "\U0001F6A8 \U0001F469\u200D\U0001F4BB \U0001F1F8\U0001F1EC \u2764\uFE0F",     // emoji, ZWJ, flags
      "\u00A0\u00E9\u00FF \u20AC \uFFFD \U0010FFFF",                                 // edges of the ranges
      "\u0645\u0631\u062D\u0628\u0627 \u05E9\u05DC\u05D5\u05DD",                     // Arabic, Hebrew letters
  };
  for (const auto& s : samples) {
    CHECK(safeLine(s) == s);
    CHECK(safeBlock(s) == s);
  }
  CHECK(safeBlock("para 1\n\npara 2\n") == "para 1\n\npara 2\n");
}

TEST_CASE("safe text: the output of either shape is clean and escaping it again changes nothing",
          "[client][safe-text]") {
  std::string hostile = "From: x [signature verified]\x1b[7A\x1b[2K\x1b]0;t\x07\xc2\x9b\x9b\xff\u202E\u2066\n\t\r";
  for (int b = 0; b < 256; ++b) hostile += static_cast<char>(b);
  for (auto shape : {TextShape::Line, TextShape::Block}) {
    const auto once = terminalSafe(hostile, shape);
    CHECK(terminalClean(once, shape));
    CHECK(terminalSafe(once, shape) == once);
    CHECK(safeBlock(once) == once);  // the output sink's pass is a no-op on rendered fields
  }
  CHECK(safeLine(hostile).find('\n') == std::string::npos);
}

TEST_CASE("safe text: a JSON dump keeps exact values and carries no terminal control raw",
          "[client][safe-text][json]") {
  const std::string value = "t\x1b[2J\u202Eexe.csv\xc2\x9b\u2028\u200F\x7f \u65B0\U0001F6A8 \u0E44\u0E17\u0E22";
  nlohmann::json j{{"title", value}, {"\u202Ekey", 1}};
  const auto dumped = jsonTerminalSafe(j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  CHECK(dumped.find("\x1b") == std::string::npos);
  CHECK(dumped.find("\xe2\x80\xae") == std::string::npos);  // U+202E
  CHECK(dumped.find("\xc2\x9b") == std::string::npos);
  CHECK(dumped.find("\x7f") == std::string::npos);
  CHECK(dumped.find("\\u202e") != std::string::npos);
  CHECK(dumped.find("\u65B0\U0001F6A8 \u0E44\u0E17\u0E22") != std::string::npos);  // readable as it is
  const auto parsed = nlohmann::json::parse(dumped);
  CHECK(parsed.at("title").get<std::string>() == value);
  CHECK(parsed.at("\u202Ekey") == 1);
  // Bytes that are not UTF-8 cannot be a JSON string: U+FFFD, never an exception.
  nlohmann::json bad{{"name", "caf\xe9"}};
  std::string out;
  REQUIRE_NOTHROW(out = jsonTerminalSafe(bad.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
  CHECK(nlohmann::json::parse(out).at("name") == "caf\uFFFD");
}

TEST_CASE("safe text: a preview never ends inside a UTF-8 sequence", "[client][safe-text]") {
  CHECK(utf8Prefix("abc", 10) == "abc");
  CHECK(utf8Prefix("abcdef", 3) == "abc");
  CHECK(utf8Prefix("ab\u65B0", 3) == "ab");
  CHECK(utf8Prefix("ab\u65B0", 4) == "ab");
  CHECK(utf8Prefix("ab\u65B0c", 5) == "ab\u65B0");
  CHECK(utf8Prefix("\U0001F6A8", 3).empty());
}

TEST_CASE("attachment file names lose terminal and bidi controls, and bytes that are not UTF-8",
          "[client][safe-text][attachment]") {
  // The true extension shows: an override cannot make .exe look like .csv.
  CHECK(sanitizeFileName("x\u202Evsc.exe", "f") == "xvsc.exe");
  CHECK(sanitizeFileName("a\u2066b\u2069.txt", "f") == "ab.txt");
  CHECK(sanitizeFileName("c1\xc2\x9b.txt", "f") == "c1.txt");
  CHECK(sanitizeFileName("mark\u200F.txt", "f") == "mark.txt");
  CHECK(sanitizeFileName("esc\x1b[2J.txt", "f") == "esc[2J.txt");
  CHECK(sanitizeFileName("caf\xe9.txt", "f") == "caf_.txt");
  CHECK(sanitizeFileName("\xff\xfe", "f") == "__");
  CHECK(sanitizeFileName("\u202E", "fallback") == "fallback");
  CHECK(sanitizeFileName("\u65B0\u52A0\u5761 \u0E44\u0E17\u0E22 \U0001F6A8.pdf", "f") ==
        "\u65B0\u52A0\u5761 \u0E44\u0E17\u0E22 \U0001F6A8.pdf");
}

TEST_CASE("attachments of the same name get distinct names, also when only the case differs",
          "[client][attachment]") {
  using V = std::vector<std::string>;
  CHECK(distinctFileNames(V{"report.txt", "report.txt"}) == V{"report.txt", "report (2).txt"});
  CHECK(distinctFileNames(V{"report.txt", "report.txt", "report (2).txt"}) ==
        V{"report.txt", "report (3).txt", "report (2).txt"});
  CHECK(distinctFileNames(V{"Report.TXT", "report.txt"}) == V{"Report.TXT", "report (2).txt"});
  CHECK(distinctFileNames(V{"README", "README", "README"}) == V{"README", "README (2)", "README (3)"});
  CHECK(distinctFileNames(V{"a.tar.gz", "a.tar.gz"}) == V{"a.tar.gz", "a.tar (2).gz"});
  CHECK(distinctFileNames(V{"a.txt", "b.txt"}) == V{"a.txt", "b.txt"});
  CHECK(distinctFileNames(V{}).empty());
}

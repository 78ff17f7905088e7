// Terminal-safe rendering of text that came from another party: the one
// place where titles, bodies, names, reasons, file names, hub messages and
// every other string a peer or the hub chose are made harmless before the
// CLI writes them to a terminal (SECURITY.md "Text on your terminal").
//
// SECURITY: a terminal executes what it is sent. ESC and CSI sequences move
// the cursor, erase lines, retitle the window, or (on some terminals) write
// to the clipboard; a bidi override reorders what is displayed
// ("x\u202Evsc.exe" shows as "xexe.csv"); a newline in a single-line field
// adds a row that looks like the CLI's own. So every character below is
// shown as a visible escape and never emitted:
//
//   C0 controls and DEL    \x1b, \x00, \x7f; in a Line also \n, \r, \t
//                          (a Block keeps \n and \t; CR LF becomes LF)
//   C1 controls            \u0080 .. \u009f (U+0080-U+009F, encoded)
//   bytes that are not     \xff, \x9b (the raw 8-bit CSI), \xc0, a
//     UTF-8                  truncated or overlong sequence, a surrogate
//   bidi embeddings,       \u202a .. \u202e, \u2066 .. \u2069
//     overrides, isolates
//   line/paragraph         \u2028, \u2029 (some renderers break lines on
//     separators             them)
//   bidi marks             \u200e, \u200f, \u061c: in a Line only. They
//                          cannot reorder letters, only the neutral
//                          characters around them, and right-to-left text
//                          in a body may need them; in a name or a file
//                          name they have no business.
//
// Everything else that is valid UTF-8 passes through unchanged (CJK, Thai,
// emoji and their joiners, combining marks). A literal backslash is not
// escaped: the form is for reading; `--json` gives the exact value.
// Look-alike and invisible characters (U+200B, homoglyphs) are not
// terminal control and are not escaped here: member ids are ASCII by
// syntax, and fingerprints, not names, identify a member.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace focal::client {

// Line: a single-line field (title, name, id, reason, file name, case
// reference, a message). Block: a multi-line text (a body, a comment, an
// amendment); its newlines and tabs are kept.
enum class TextShape { Line, Block };

[[nodiscard]] std::string terminalSafe(std::string_view text, TextShape shape);
[[nodiscard]] inline std::string safeLine(std::string_view text) { return terminalSafe(text, TextShape::Line); }
[[nodiscard]] inline std::string safeBlock(std::string_view text) { return terminalSafe(text, TextShape::Block); }
// safeBlock's lines, without their '\n' (and no empty last line for a text
// that ends with one): for a command that prefixes each line of a body so
// that none can pass for a line of its own.
[[nodiscard]] std::vector<std::string> safeBlockLines(std::string_view text);

// A JSON document as nlohmann dumped it (valid UTF-8: dumps use
// error_handler_t::replace) with every character terminalSafe escapes in a
// Line written as a \uXXXX escape instead (DEL and C1 controls, bidi
// controls and marks, U+2028/U+2029; nlohmann already escapes C0). Outside
// strings a JSON text is ASCII, so only string contents change, and a
// parser reads exactly the same values: --json keeps exact values and is
// still safe to print on a terminal.
[[nodiscard]] std::string jsonTerminalSafe(std::string_view json);

// The longest prefix of `text` of at most maxBytes that does not end inside
// a UTF-8 sequence (for previews; a cut sequence would render as \x..).
[[nodiscard]] std::string_view utf8Prefix(std::string_view text, std::size_t maxBytes);

// One step of strict UTF-8 decoding at text[at] (at < text.size()): a
// scalar value and its length, or valid = false and length 1 for a byte
// that does not start a well-formed sequence (RFC 3629: no overlong forms,
// no surrogates, nothing above U+10FFFF).
struct Utf8Step {
  char32_t codePoint = 0;
  std::size_t length = 1;
  bool valid = false;
};
[[nodiscard]] Utf8Step decodeUtf8(std::string_view text, std::size_t at);

// Whether terminalSafe escapes this scalar value in a text of this shape.
[[nodiscard]] bool escapedOnTerminal(char32_t codePoint, TextShape shape);

}  // namespace focal::client

// Text fields: the one definition of what a Text may hold, and the one way
// to put bytes into a Cap'n Proto Text.
//
// Every Text field of the protocol is valid UTF-8 (well-formed per Unicode
// §3.9: no overlong forms, no surrogates U+D800..U+DFFF, nothing above
// U+10FFFF) and contains no NUL. A Text with an interior NUL is not valid
// Cap'n Proto text, and any reader that takes it as a C string (strlen,
// kj::StringPtr::cStr, std::string(const char*)) silently cuts it there.
//
// Fields that name or label something (member ids and names, reasons, case
// references, handling text, addresses, ATT&CK ids) are single-line: on top
// of that they hold no control character (C0 including newline and tab, DEL,
// C1 U+0080..U+009F) and no bidi override or isolate (U+202A..U+202E,
// U+2066..U+2069), which would let a stored value rewrite or reorder what
// another member's terminal shows. PROTOCOL.md §3 lists the fields.
//
// No I/O, no allocation except in describe().
#pragma once

#include <capnp/blob.h>

#include <cstddef>
#include <string_view>

namespace focal::protocol {

// A Cap'n Proto Text over exactly these bytes. SECURITY: always use this (or
// a string literal) to set a Text field: the implicit conversions from
// std::string and const char* go through strlen and stop at the first NUL.
inline capnp::Text::Reader asText(std::string_view s) { return capnp::Text::Reader(s.data(), s.size()); }

enum class TextProblem {
  None,
  Nul,          // a 0x00 byte
  InvalidUtf8,  // not well-formed UTF-8
  Newline,      // LF or CR in a single-line field
  Control,      // another C0 control, DEL or a C1 control in a single-line field
  Bidi,         // U+202A..U+202E or U+2066..U+2069 in a single-line field
};

// The first problem of `s` as Text (NUL or invalid UTF-8), or None.
[[nodiscard]] TextProblem checkText(std::string_view s);
// The first problem of `s` as a single-line field, or None.
[[nodiscard]] TextProblem checkSingleLineText(std::string_view s);
// A multi-line free text a party other than its author may see (an amendment
// text): newline and tab allowed; other controls and bidi controls refused.
[[nodiscard]] TextProblem checkMultiLineText(std::string_view s);

[[nodiscard]] inline bool isValidText(std::string_view s) { return checkText(s) == TextProblem::None; }
[[nodiscard]] inline bool isSafeSingleLineText(std::string_view s) {
  return checkSingleLineText(s) == TextProblem::None;
}

// "contains a NUL byte" etc., to follow a field name in an error message.
const char* describe(TextProblem p);

// The longest prefix of `s` of at most `maxBytes` bytes that does not end
// inside a UTF-8 sequence (for quoting input in an error message).
[[nodiscard]] std::string_view utf8Prefix(std::string_view s, std::size_t maxBytes);

}  // namespace focal::protocol

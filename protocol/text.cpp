// Text validation (see text.hpp). A hand-written decoder of well-formed
// UTF-8 following Unicode 15 Table 3-7, which fixes the valid second byte
// for each lead byte and so excludes overlong forms, surrogates and code
// points above U+10FFFF in one place.
#include "protocol/text.hpp"

#include <cstdint>

namespace focal::protocol {

namespace {

// Decodes the scalar value starting at s[i]; advances i past it. False (i
// unchanged) if the bytes there are not a well-formed sequence.
bool decodeOne(std::string_view s, std::size_t& i, char32_t& cp) {
  const auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(s[k]); };
  const std::uint8_t b0 = byte(i);
  if (b0 < 0x80) {
    cp = b0;
    ++i;
    return true;
  }
  std::size_t len = 0;
  std::uint8_t lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 == 0xE0) {
    len = 3, lo = 0xA0;  // no overlong 3-byte forms
  } else if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) {
    len = 3;
  } else if (b0 == 0xED) {
    len = 3, hi = 0x9F;  // no surrogates U+D800..U+DFFF
  } else if (b0 == 0xF0) {
    len = 4, lo = 0x90;  // no overlong 4-byte forms
  } else if (b0 >= 0xF1 && b0 <= 0xF3) {
    len = 4;
  } else if (b0 == 0xF4) {
    len = 4, hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return false;  // 0x80..0xC1 (continuation or overlong 2-byte lead), 0xF5..0xFF
  }
  if (s.size() - i < len) return false;
  const std::uint8_t b1 = byte(i + 1);
  if (b1 < lo || b1 > hi) return false;
  char32_t value = (len == 2 ? b0 & 0x1F : len == 3 ? b0 & 0x0F : b0 & 0x07);
  value = (value << 6) | (b1 & 0x3F);
  for (std::size_t k = 2; k < len; ++k) {
    const std::uint8_t b = byte(i + k);
    if (b < 0x80 || b > 0xBF) return false;
    value = (value << 6) | (b & 0x3F);
  }
  cp = value;
  i += len;
  return true;
}

bool isBidiControl(char32_t cp) { return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069); }
bool isControl(char32_t cp) { return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F); }

enum class Lines { Any, Multi, Single };

TextProblem check(std::string_view s, Lines lines) {
  std::size_t i = 0;
  while (i < s.size()) {
    char32_t cp = 0;
    if (!decodeOne(s, i, cp)) return TextProblem::InvalidUtf8;
    if (cp == 0) return TextProblem::Nul;
    if (lines == Lines::Any) continue;
    if (cp == '\n' || cp == '\r') {
      if (lines == Lines::Single) return TextProblem::Newline;
      if (cp == '\r') return TextProblem::Control;
      continue;
    }
    if (cp == '\t' && lines == Lines::Multi) continue;
    if (isControl(cp)) return TextProblem::Control;
    if (isBidiControl(cp)) return TextProblem::Bidi;
  }
  return TextProblem::None;
}

}  // namespace

TextProblem checkText(std::string_view s) { return check(s, Lines::Any); }
TextProblem checkSingleLineText(std::string_view s) { return check(s, Lines::Single); }
TextProblem checkMultiLineText(std::string_view s) { return check(s, Lines::Multi); }

const char* describe(TextProblem p) {
  switch (p) {
    case TextProblem::None: return "is valid text";
    case TextProblem::Nul: return "contains a NUL byte";
    case TextProblem::InvalidUtf8: return "is not valid UTF-8";
    case TextProblem::Newline: return "contains a line break (it is a single-line field)";
    case TextProblem::Control: return "contains a control character";
    case TextProblem::Bidi: return "contains a bidirectional override or isolate (U+202A-U+202E, U+2066-U+2069)";
  }
  return "is not valid text";
}

std::string_view utf8Prefix(std::string_view s, std::size_t maxBytes) {
  if (s.size() <= maxBytes) return s;
  std::size_t cut = maxBytes;
  // Back up over continuation bytes to the start of the sequence that
  // crosses the cut, and drop it.
  while (cut > 0 && (static_cast<std::uint8_t>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut);
}

}  // namespace focal::protocol

#include "client/safe_text.hpp"

#include <fmt/format.h>

namespace focal::client {

namespace {

bool isBidiControl(char32_t c) { return (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069); }
bool isBidiMark(char32_t c) { return c == 0x200E || c == 0x200F || c == 0x061C; }
bool isLineSeparator(char32_t c) { return c == 0x2028 || c == 0x2029; }
bool isContinuation(unsigned char b) { return (b & 0xC0) == 0x80; }

void appendEscape(std::string& out, char32_t c) {
  switch (c) {
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    default: break;
  }
  if (c < 0x80) out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
  else out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
}

}  // namespace

Utf8Step decodeUtf8(std::string_view text, std::size_t at) {
  const auto b0 = static_cast<unsigned char>(text[at]);
  if (b0 < 0x80) return {b0, 1, true};
  std::size_t length = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2, cp = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3, cp = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return {};  // a continuation byte, 0xC0/0xC1 (always overlong) or 0xF5..0xFF
  }
  if (at + length > text.size()) return {};
  for (std::size_t i = 1; i < length; ++i) {
    const auto b = static_cast<unsigned char>(text[at + i]);
    if (!isContinuation(b)) return {};
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {};
  return {cp, length, true};
}

bool escapedOnTerminal(char32_t c, TextShape shape) {
  if (c < 0x20) return shape == TextShape::Line || (c != '\n' && c != '\t');
  if (c == 0x7F || (c >= 0x80 && c <= 0x9F)) return true;
  if (isBidiControl(c) || isLineSeparator(c)) return true;
  return shape == TextShape::Line && isBidiMark(c);
}

std::string terminalSafe(std::string_view text, TextShape shape) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto step = decodeUtf8(text, i);
    if (!step.valid) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[i]));
      ++i;
      continue;
    }
    // A Block's CR LF (a body written on Windows) is its line break.
    if (shape == TextShape::Block && step.codePoint == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++i;
      continue;
    }
    if (escapedOnTerminal(step.codePoint, shape)) appendEscape(out, step.codePoint);
    else out.append(text.substr(i, step.length));
    i += step.length;
  }
  return out;
}

std::vector<std::string> safeBlockLines(std::string_view text) {
  const auto safe = safeBlock(text);
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < safe.size();) {
    auto end = safe.find('\n', at);
    if (end == std::string::npos) end = safe.size();
    lines.push_back(safe.substr(at, end - at));
    at = end + 1;
  }
  return lines;
}

std::string jsonTerminalSafe(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  for (std::size_t i = 0; i < json.size();) {
    const auto step = decodeUtf8(json, i);
    // Only characters that a JSON dump may carry raw are rewritten; a dump
    // is valid UTF-8, so an invalid byte is copied as it is (never expected).
    if (step.valid && step.codePoint >= 0x7F && escapedOnTerminal(step.codePoint, TextShape::Line)) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(step.codePoint));
    } else {
      out.append(json.substr(i, step.length));
    }
    i += step.length;
  }
  return out;
}

std::string_view utf8Prefix(std::string_view text, std::size_t maxBytes) {
  if (text.size() <= maxBytes) return text;
  std::size_t cut = maxBytes;
  while (cut > 0 && isContinuation(static_cast<unsigned char>(text[cut]))) --cut;
  return text.substr(0, cut);
}

}  // namespace focal::client

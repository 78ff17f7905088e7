#include "client/file_names.hpp"

#include "client/safe_text.hpp"
#include "protocol/text.hpp"

#include <algorithm>
#include <array>
#include <set>
#include <cctype>
#include <utility>

namespace focal::client {

std::string sanitizeFileName(std::string_view name, std::string_view fallback) {
  const auto slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  std::string out;
  for (std::size_t i = 0; i < name.size();) {
    const auto step = decodeUtf8(name, i);
    if (!step.valid) {
      out.push_back('_');  // a byte that is not UTF-8 (a Latin-1 name): visible, harmless
    } else if (!escapedOnTerminal(step.codePoint, TextShape::Line)) {
      out.append(name.substr(i, step.length));
    }  // controls, bidi controls and marks, separators: dropped (see safe_text.hpp)
    i += step.length;
  }
  const auto firstNonDot = out.find_first_not_of('.');
  out.erase(0, firstNonDot == std::string::npos ? out.size() : firstNonDot);
  while (!out.empty() && (out.back() == ' ')) out.pop_back();
  if (out.size() > 200) {
    // Keep the extension when cutting; never cut inside a UTF-8 sequence.
    const auto dot = out.rfind('.');
    std::string ext = (dot != std::string::npos && out.size() - dot <= 16) ? out.substr(dot) : "";
    std::size_t cut = 200 - ext.size();
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out = out.substr(0, cut) + ext;
  }
  // An attachment name is a single-line text field (PROTOCOL.md §3, "Text fields"): a
  // name that is not UTF-8, or holds a C1 control or a bidi override (which
  // would make "x\u202Etxt.exe" display as "xexe.txt"), is replaced whole.
  if (out.empty() || !protocol::isSafeSingleLineText(out)) return std::string(fallback);
  return out;
}

namespace {
std::string foldAscii(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}
}  // namespace

std::vector<std::string> distinctFileNames(const std::vector<std::string>& sanitised) {
  std::set<std::string> taken;  // folded
  for (const auto& n : sanitised) taken.insert(foldAscii(n));
  std::set<std::string> used;  // folded names already given out
  std::vector<std::string> out;
  out.reserve(sanitised.size());
  for (const auto& name : sanitised) {
    if (used.insert(foldAscii(name)).second) {
      out.push_back(name);
      continue;
    }
    // "report.txt" -> "report (2).txt"; "archive.tar.gz" -> "archive (2).tar.gz"
    // would be nicer but the last extension is what programs go by.
    const auto dot = name.rfind('.');
    const std::string stem = dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
    const std::string ext = dot == std::string::npos || dot == 0 ? "" : name.substr(dot);
    for (std::size_t n = 2;; ++n) {
      std::string candidate = stem + " (" + std::to_string(n) + ")" + ext;
      const auto folded = foldAscii(candidate);
      if (taken.contains(folded) || used.contains(folded)) continue;
      used.insert(folded);
      out.push_back(std::move(candidate));
      break;
    }
  }
  return out;
}

std::string mediaTypeFor(const std::filesystem::path& file) {
  static const std::array<std::pair<const char*, const char*>, 16> types{{
      {".txt", "text/plain"},          {".md", "text/markdown"},       {".csv", "text/csv"},
      {".json", "application/json"},   {".pdf", "application/pdf"},    {".zip", "application/zip"},
      {".gz", "application/gzip"},     {".png", "image/png"},          {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},         {".xml", "application/xml"},    {".html", "text/html"},
      {".eml", "message/rfc822"},      {".pcap", "application/vnd.tcpdump.pcap"},
      {".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
      {".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
  }};
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const auto& [e, t] : types) {
    if (ext == e) return t;
  }
  return "application/octet-stream";
}

}  // namespace focal::client

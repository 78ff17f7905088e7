#include "client/text_input.hpp"

#include "client/cli_context.hpp"
#include "protocol/text.hpp"

#include <string>

namespace focal::client::cli {

namespace {

[[noreturn]] void refuseBadText(std::string_view option, protocol::TextProblem problem, std::string_view hint = {}) {
  std::string message = std::string(option) + " " + protocol::describe(problem);
  if (!hint.empty()) message += "; " + std::string(hint);
  throw UsageError("bad-text", message);
}

}  // namespace

void requireText(std::string_view value, std::string_view option) {
  if (auto p = protocol::checkText(value); p != protocol::TextProblem::None) {
    refuseBadText(option, p, "every text field must be UTF-8 without NUL bytes");
  }
}

void requireSingleLineText(std::string_view value, std::string_view option) {
  if (auto p = protocol::checkSingleLineText(value); p != protocol::TextProblem::None) {
    refuseBadText(option, p, "it must be one line of UTF-8 text without control or bidirectional-override characters");
  }
}

void requireMultiLineText(std::string_view value, std::string_view option) {
  if (auto p = protocol::checkMultiLineText(value); p != protocol::TextProblem::None) {
    refuseBadText(option, p, "it must be UTF-8 text without control characters other than line feed and tab");
  }
}

void requireBodyText(std::string_view body, std::string_view source) {
  const bool utf16Bom = body.size() >= 2 && ((body[0] == '\xff' && body[1] == '\xfe') ||
                                             (body[0] == '\xfe' && body[1] == '\xff'));
  const auto p = protocol::checkText(body);
  if (p == protocol::TextProblem::None && !utf16Bom) return;
  std::string what = utf16Bom ? "starts with a UTF-16 byte-order mark"
                              : protocol::describe(p);
  throw UsageError("bad-text", std::string(source) + " " + what +
                                   ": the body must be UTF-8 text without NUL bytes. It looks like a binary or "
                                   "UTF-16 file: send it with --attach FILE (and a short --body), or convert it "
                                   "to UTF-8 (iconv -f UTF-16 -t UTF-8).");
}

}  // namespace focal::client::cli

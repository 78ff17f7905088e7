// Text the user gives the CLI for a text field of the protocol: refused with
// the option named, before anything is sealed or sent, if it is not text
// (PROTOCOL.md §3, "Text fields"). Never cut, never "fixed" silently.
#pragma once

#include <string_view>

namespace focal::client::cli {

// Valid UTF-8 without NUL (a title, a body, an amendment's text), else
// UsageError "bad-text" naming `option` ("--title").
void requireText(std::string_view value, std::string_view option);
// And single-line, without control or bidi characters (a case reference,
// handling text, name, reason, ATT&CK id, address): protocol::
// isSafeSingleLineText; else UsageError "bad-text" naming `option`.
void requireSingleLineText(std::string_view value, std::string_view option);
// A multi-line text another party reads verbatim (an amendment): line feeds
// and tabs allowed, other controls and bidi characters refused.
void requireMultiLineText(std::string_view value, std::string_view option);
// A body read from `source` ("--body-file", "standard input"): as
// requireText, and for NUL bytes, a UTF-16 byte-order mark or invalid UTF-8
// the error says the file looks binary or UTF-16 and suggests --attach.
void requireBodyText(std::string_view body, std::string_view source);

}  // namespace focal::client::cli

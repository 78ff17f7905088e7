// Composing a bulletin's body in the user's editor, as `git commit` does:
// `focal send` (and reply) without --body or --body-file, on a terminal.
#pragma once

#include <filesystem>
#include <string>

namespace focal::client::cli {

// Opens $VISUAL, else $EDITOR (run by /bin/sh, so "code --wait" works) on a
// file holding `aboutLines` as comments, and returns what the user wrote:
// lines starting with '#' removed, trailing blank space trimmed. The file
// is made 0600 in $XDG_RUNTIME_DIR (memory, the user's own) or else in
// `fallbackDir`, and removed whatever happens. UsageError: no-editor,
// editor-failed (it exited non-zero: nothing is sent), empty-body.
std::string composeInEditor(const std::filesystem::path& fallbackDir, const std::string& aboutLines);

}  // namespace focal::client::cli

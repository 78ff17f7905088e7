// File-name hygiene for attachments: names come from other members (and, on
// the way, through the hub), so they are attacker-controlled.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace focal::client {

// SECURITY: returns a plain file name that cannot leave the save directory:
// the part after the last '/' or '\\', without leading dots (so never "",
// ".", ".." or a hidden file), at most 200 bytes, and without what
// terminalSafe would escape in a Line: control characters, bidi controls and
// marks, line separators are dropped (so "x\u202Evsc.exe" is saved, and
// listed by ls, as "xvsc.exe"); a byte that is not UTF-8 becomes '_'.
// Falls back to `fallback` when nothing usable remains.
std::string sanitizeFileName(std::string_view name, std::string_view fallback);

// The file names a bulletin's attachments are saved under, in order, from
// their sanitised names: pairwise distinct, also for a file system that
// folds ASCII case, so no attachment of a bulletin can replace another:
// the second "report.txt" becomes "report (2).txt" (the suffix goes before
// the extension; a name already taken by a later attachment is skipped).
std::vector<std::string> distinctFileNames(const std::vector<std::string>& sanitised);

// A media type guessed from the extension (application/octet-stream if unknown).
std::string mediaTypeFor(const std::filesystem::path& file);

}  // namespace focal::client

// File-name hygiene for attachments: names come from other members (and, on
// the way, through the hub), so they are attacker-controlled.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace focal::client {

// SECURITY: returns a plain file name that cannot leave the save directory:
// the part after the last '/' or '\\', without control characters and
// leading dots (so never "", ".", ".." or a hidden file), at most 200 bytes.
// Falls back to `fallback` when nothing usable remains.
std::string sanitizeFileName(std::string_view name, std::string_view fallback);

// A media type guessed from the extension (application/octet-stream if unknown).
std::string mediaTypeFor(const std::filesystem::path& file);

}  // namespace focal::client

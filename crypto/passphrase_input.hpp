// How Focal's programs read the passphrase of a key file: a prompt on the
// terminal with echo off, or the first line of a file or descriptor (a
// password manager's pipe). Shared by focal (client/cli_context.hpp, focal
// unlock) and focald (restore --decrypt-with), so it lives in the lowest layer.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

namespace focal::crypto {

// Prompts on /dev/tty with echo off. nullopt if there is no terminal.
std::optional<std::string> promptHidden(const std::string& prompt);

// A passphrase read from a file or descriptor: one line, at most this long.
inline constexpr std::size_t MaxPassphraseBytes = 4096;
// The first line of what `fd` gives, without its newline (nor a trailing
// CR). std::length_error when it is over MaxPassphraseBytes.
std::string readPassphraseFd(int fd);
// The first line of FILE, likewise. std::runtime_error when FILE cannot be
// read; std::length_error when the line is over MaxPassphraseBytes.
std::string readPassphraseFile(const std::filesystem::path& file);

}  // namespace focal::crypto

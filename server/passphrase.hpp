// The passphrase that encrypts the first admin's key file during `focald
// init`: from the environment variable FOCAL_PASSPHRASE (scripts, tests), or
// asked twice on the terminal with echo off. Never logged, never stored.
#pragma once

#include <string>
#include <string_view>

namespace focal::server {

// Throws std::runtime_error when there is no terminal, the two entries
// differ, or the passphrase is empty.
std::string obtainNewPassphrase(std::string_view prompt);

// Overwrites a string's bytes before it is freed.
void wipe(std::string& s);

}  // namespace focal::server

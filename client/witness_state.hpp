// What a witness remembers (PROTOCOL.md §11.6): the last head it cosigned
// for one hub, kept in PROFILE/witness/HUBID.json, and the rule that it
// cosigns a head only when the log behind it extends that head.
//
// SECURITY: the state is written (atomically, fsynced) BEFORE the
// cosignature leaves the process, so a crash between the two can only
// leave a state one head ahead of what the hub holds, never a cosignature
// the state does not know of: a witness restarted after any crash still
// refuses a head that conflicts with one it cosigned. A missing state
// file means "cosigned nothing yet"; a damaged one stops the witness
// (it is never silently replaced).
#pragma once

#include "client/log_verifier.hpp"
#include "protocol/witness.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace focal::client {

struct WitnessState {
  std::string hubId;
  std::uint64_t size = 0;
  crypto::Hash256 root;
  crypto::Bytes head;  // the LogHead bytes cosigned last
  std::int64_t cosignedAtMs = 0;
};

// "PROFILE/witness/HUBID.json" (the hub id is checked as an identifier).
std::filesystem::path witnessStatePath(const std::filesystem::path& profileDir, std::string_view hubId);

// nullopt when the file does not exist; throws VerifyError when it exists
// but does not read.
std::optional<WitnessState> loadWitnessState(const std::filesystem::path& file);
void saveWitnessState(const std::filesystem::path& file, const WitnessState& state);

// May a witness that cosigned `last` cosign the head of `log` (verified
// from entry 0)? Yes when the log is at least as long and its entry
// last.size - 1 has last.root: it extends the head cosigned. Error: the
// sentence naming both heads.
Expected<Ok, std::string> extendsCosigned(const WitnessState& last, const LogVerifier& log);

}  // namespace focal::client
